"""Printers of the workload kinds (apps/v1, batch/v1, autoscaling/v2) with Kubernetes' columns."""

from __future__ import annotations

import time
from typing import Any

from skiff_apiserver.rest.printers.common import (
    Printer,
    age,
    column,
    containers_and_images,
    human_duration,
    label_selector_text,
    since,
)


def _wide(template_spec: Any, selector: Any) -> list[Any]:
    containers, images = containers_and_images(template_spec)
    return [containers, images, label_selector_text(selector)]


def _wide_columns() -> list[dict[str, Any]]:
    return [
        column("Containers", wide=True, description="Names of each container in the template."),
        column("Images", wide=True, description="Images referenced by each container in the template."),
        column("Selector", wide=True, description="Label selector for pods."),
    ]


def _replicas(spec: Any) -> int:
    return spec.replicas if spec.HasField("replicas") else 1


def deployment_cells(d: Any) -> list[Any]:
    st = d.status
    return [
        d.metadata.name,
        f"{st.ready_replicas}/{_replicas(d.spec)}",
        st.updated_replicas,
        st.available_replicas,
        age(d.metadata),
        *_wide(d.spec.template.spec, d.spec.selector),
    ]


def replicaset_cells(rs: Any) -> list[Any]:
    st = rs.status
    return [
        rs.metadata.name,
        _replicas(rs.spec),
        st.replicas,
        st.ready_replicas,
        age(rs.metadata),
        *_wide(rs.spec.template.spec, rs.spec.selector),
    ]


def daemonset_cells(ds: Any) -> list[Any]:
    st = ds.status
    selector = ",".join(f"{k}={v}" for k, v in sorted(ds.spec.template.spec.node_selector.items())) or "<none>"
    return [
        ds.metadata.name,
        st.desired_number_scheduled,
        st.current_number_scheduled,
        st.number_ready,
        st.updated_number_scheduled,
        st.number_available,
        selector,
        age(ds.metadata),
        *_wide(ds.spec.template.spec, ds.spec.selector),
    ]


def _job_status(job: Any) -> str:
    """The STATUS column of kubectl >= 1.30: the job's terminal or notable condition."""
    conditions = {c.type: c.status for c in job.status.conditions}
    for cond, text in (
        ("Failed", "Failed"),
        ("Complete", "Complete"),
        ("Suspended", "Suspended"),
        ("FailureTarget", "FailureTarget"),
        ("SuccessCriteriaMet", "SuccessCriteriaMet"),
    ):
        if conditions.get(cond) == "True":
            return text
    if job.metadata.HasField("deletion_timestamp"):
        return "Terminating"
    return "Running"


def job_cells(job: Any) -> list[Any]:
    spec, st = job.spec, job.status
    if spec.HasField("completions"):
        completions = f"{st.succeeded}/{spec.completions}"
    else:
        parallelism = spec.parallelism if spec.HasField("parallelism") else 1
        completions = f"{st.succeeded}/1 of {parallelism}" if parallelism > 1 else f"{st.succeeded}/1"
    duration = ""
    if st.start_time.seconds:
        end = st.completion_time.seconds or int(time.time())
        duration = human_duration(end - st.start_time.seconds)
    return [
        job.metadata.name,
        _job_status(job),
        completions,
        duration,
        age(job.metadata),
        *_wide(spec.template.spec, spec.selector),
    ]


def cronjob_cells(cj: Any) -> list[Any]:
    spec, st = cj.spec, cj.status
    last = f"{since(st.last_schedule_time)}" if st.last_schedule_time.seconds else "<none>"
    template = spec.job_template.spec
    containers, images = containers_and_images(template.template.spec)
    return [
        cj.metadata.name,
        spec.schedule,
        spec.time_zone if spec.HasField("time_zone") else "<none>",
        "True" if spec.HasField("suspend") and spec.suspend else "False",
        len(st.active),
        last,
        age(cj.metadata),
        containers,
        images,
        label_selector_text(template.selector),
    ]


def hpa_cells(hpa: Any) -> list[Any]:
    spec, st = hpa.spec, hpa.status
    ref = spec.scale_target_ref
    return [
        hpa.metadata.name,
        f"{ref.kind}/{ref.name}",
        "<unknown>" if spec.metrics else "<none>",
        spec.min_replicas if spec.HasField("min_replicas") else 1,
        spec.max_replicas,
        st.current_replicas,
        age(hpa.metadata),
    ]


PRINTERS = {
    "Deployment": Printer(
        [
            column("Name", "name"),
            column("Ready", description="Number of the pod with ready state"),
            column("Up-to-date", kind="integer", description="Total number of non-terminated pods targeted"),
            column("Available", kind="integer", description="Total number of available pods"),
            column("Age"),
            *_wide_columns(),
        ],
        deployment_cells,
    ),
    "ReplicaSet": Printer(
        [
            column("Name", "name"),
            column("Desired", kind="integer"),
            column("Current", kind="integer"),
            column("Ready", kind="integer"),
            column("Age"),
            *_wide_columns(),
        ],
        replicaset_cells,
    ),
    "DaemonSet": Printer(
        [
            column("Name", "name"),
            column("Desired", kind="integer"),
            column("Current", kind="integer"),
            column("Ready", kind="integer"),
            column("Up-to-date", kind="integer"),
            column("Available", kind="integer"),
            column("Node Selector"),
            column("Age"),
            *_wide_columns(),
        ],
        daemonset_cells,
    ),
    "Job": Printer(
        [
            column("Name", "name"),
            column("Status"),
            column("Completions"),
            column("Duration"),
            column("Age"),
            *_wide_columns(),
        ],
        job_cells,
    ),
    "CronJob": Printer(
        [
            column("Name", "name"),
            column("Schedule"),
            column("Timezone"),
            column("Suspend", kind="boolean"),
            column("Active", kind="integer"),
            column("Last Schedule"),
            column("Age"),
            *_wide_columns(),
        ],
        cronjob_cells,
    ),
    "HorizontalPodAutoscaler": Printer(
        [
            column("Name", "name"),
            column("Reference"),
            column("Targets"),
            column("MinPods", kind="integer"),
            column("MaxPods", kind="integer"),
            column("Replicas", kind="integer"),
            column("Age"),
        ],
        hpa_cells,
    ),
}
