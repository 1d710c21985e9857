"""Tables like kubectl's: the columns a Kubernetes user expects for each kind.

Each kind has one function from object to row; anything without its own columns gets NAME and AGE.
`-o wide` adds the extra columns kubectl adds (pod IP and node for pods, addresses for nodes, containers,
images and selector for workloads). Durations and ages use kubectl's HumanDuration rounding.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from google.protobuf.message import Message

Row = list[str]


def human_duration(seconds: float) -> str:
    """kubectl's duration.HumanDuration: 2m5s, 12m, 3h20m, 2d5h, 1y30d -- precise when recent."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def since(ts: Any) -> str:
    """Time since a Timestamp, as kubectl prints it ("<unknown>" when unset)."""
    if not ts.seconds:
        return "<unknown>"
    return human_duration(time.time() - ts.seconds)


def age(obj: Message) -> str:
    return since(obj.metadata.creation_timestamp)  # type: ignore[attr-defined]


def pod_status(pod: Message) -> str:
    """The STATUS column: a waiting or terminated reason beats the phase, as kubectl shows it."""
    if pod.metadata.HasField("deletion_timestamp"):  # type: ignore[attr-defined]
        return "Terminating"
    status = pod.status  # type: ignore[attr-defined]
    reason = status.reason or status.phase or "Pending"
    for cs in status.container_statuses:
        if cs.state.HasField("waiting") and cs.state.waiting.reason:
            reason = cs.state.waiting.reason
        elif cs.state.HasField("terminated") and cs.state.terminated.reason:
            reason = cs.state.terminated.reason
    return reason


def pod_row(pod: Message, wide: bool) -> Row:
    statuses = pod.status.container_statuses  # type: ignore[attr-defined]
    total = len(pod.spec.containers)  # type: ignore[attr-defined]
    ready = sum(1 for cs in statuses if cs.ready)
    restarts = sum(cs.restart_count for cs in statuses)
    row = [pod.metadata.name, f"{ready}/{total}", pod_status(pod), str(restarts), age(pod)]  # type: ignore[attr-defined]
    if wide:
        row += [pod.status.pod_ip or "<none>", pod.spec.node_name or "<none>"]  # type: ignore[attr-defined]
    return row


def node_row(node: Message, wide: bool) -> Row:
    ready = next((c.status for c in node.status.conditions if c.type == "Ready"), "Unknown")  # type: ignore[attr-defined]
    status = {"True": "Ready", "False": "NotReady"}.get(ready, "Unknown")
    if node.spec.unschedulable:  # type: ignore[attr-defined]
        status += ",SchedulingDisabled"
    row = [node.metadata.name, status, "<none>", age(node), node.status.node_info.kubelet_version]  # type: ignore[attr-defined]
    if wide:
        internal = next((a.address for a in node.status.addresses if a.type == "InternalIP"), "<none>")  # type: ignore[attr-defined]
        info = node.status.node_info  # type: ignore[attr-defined]
        row += [internal, info.os_image or "<unknown>", info.kernel_version, info.container_runtime_version]
    return row


def selector_text(sel: Any) -> str:
    """metav1.FormatLabelSelector: "app=web,tier in (a,b)", or "<none>"."""
    parts = [f"{k}={v}" for k, v in sorted(sel.match_labels.items())]
    for req in sel.match_expressions:
        op = {"In": "in", "NotIn": "notin"}.get(req.operator)
        if op is not None:
            parts.append(f"{req.key} {op} ({','.join(req.values)})")
        elif req.operator == "Exists":
            parts.append(req.key)
        elif req.operator == "DoesNotExist":
            parts.append(f"!{req.key}")
    return ",".join(parts) or "<none>"


def _containers_images_selector(template: Any, selector: Any) -> Row:
    containers = template.spec.containers
    return [",".join(c.name for c in containers), ",".join(c.image for c in containers), selector_text(selector)]


def deployment_row(obj: Message, wide: bool) -> Row:
    spec, status = obj.spec, obj.status  # type: ignore[attr-defined]
    desired = spec.replicas if spec.HasField("replicas") else 1
    row = [
        obj.metadata.name,  # type: ignore[attr-defined]
        f"{status.ready_replicas}/{desired}",
        str(status.updated_replicas),
        str(status.available_replicas),
        age(obj),
    ]
    return row + (_containers_images_selector(spec.template, spec.selector) if wide else [])


def replicaset_row(obj: Message, wide: bool) -> Row:
    spec, status = obj.spec, obj.status  # type: ignore[attr-defined]
    desired = spec.replicas if spec.HasField("replicas") else 1
    row = [obj.metadata.name, str(desired), str(status.replicas), str(status.ready_replicas), age(obj)]  # type: ignore[attr-defined]
    return row + (_containers_images_selector(spec.template, spec.selector) if wide else [])


def daemonset_row(obj: Message, wide: bool) -> Row:
    spec, st = obj.spec, obj.status  # type: ignore[attr-defined]
    node_selector = ",".join(f"{k}={v}" for k, v in sorted(spec.template.spec.node_selector.items())) or "<none>"
    row = [
        obj.metadata.name,  # type: ignore[attr-defined]
        str(st.desired_number_scheduled),
        str(st.current_number_scheduled),
        str(st.number_ready),
        str(st.updated_number_scheduled),
        str(st.number_available),
        node_selector,
        age(obj),
    ]
    return row + (_containers_images_selector(spec.template, spec.selector) if wide else [])


def _condition_true(conditions: Any, type_: str) -> bool:
    return any(c.type == type_ and c.status == "True" for c in conditions)


def job_status(job: Any) -> str:
    """kubectl 1.33's Job STATUS column."""
    conds = job.status.conditions
    if _condition_true(conds, "Complete"):
        return "Complete"
    if _condition_true(conds, "Failed"):
        return "Failed"
    if job.metadata.HasField("deletion_timestamp"):
        return "Terminating"
    for type_ in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if _condition_true(conds, type_):
            return type_
    return "Running"


def job_row(obj: Message, wide: bool) -> Row:
    spec, st = obj.spec, obj.status  # type: ignore[attr-defined]
    if spec.HasField("completions"):
        completions = f"{st.succeeded}/{spec.completions}"
    elif spec.HasField("parallelism") and spec.parallelism > 1:
        completions = f"{st.succeeded}/1 of {spec.parallelism}"
    else:
        completions = f"{st.succeeded}/1"
    duration = ""
    if st.HasField("start_time") and st.start_time.seconds:
        end = st.completion_time.seconds if st.HasField("completion_time") else time.time()
        duration = human_duration(end - st.start_time.seconds)
    row = [obj.metadata.name, job_status(obj), completions, duration, age(obj)]  # type: ignore[attr-defined]
    return row + (_containers_images_selector(spec.template, spec.selector) if wide else [])


def cronjob_row(obj: Message, wide: bool) -> Row:
    spec, st = obj.spec, obj.status  # type: ignore[attr-defined]
    suspend = ("True" if spec.suspend else "False") if spec.HasField("suspend") else "<unset>"
    last = since(st.last_schedule_time) if st.HasField("last_schedule_time") else "<none>"
    row = [
        obj.metadata.name,  # type: ignore[attr-defined]
        spec.schedule,
        spec.time_zone if spec.HasField("time_zone") else "<none>",
        suspend,
        str(len(st.active)),
        last,
        age(obj),
    ]
    if wide:
        tmpl = spec.job_template.spec
        row += _containers_images_selector(tmpl.template, tmpl.selector)
    return row


def event_row(obj: Message, wide: bool) -> Row:
    """kubectl's event table: LAST SEEN falls back to FIRST SEEN, OBJECT is kind/name in lower case."""
    ev: Any = obj
    first = since(ev.first_timestamp) if ev.first_timestamp.seconds else since(ev.event_time)
    last = since(ev.last_timestamp) if ev.last_timestamp.seconds else first
    kind = ev.involved_object.kind.lower()
    target = f"{kind}/{ev.involved_object.name}" if ev.involved_object.name else kind
    if not wide:
        return [last, ev.type, ev.reason, target, ev.message.strip()]
    source = ev.source.component or ev.reporting_component
    host = ev.source.host or ev.reporting_instance
    source_text = f"{source}, {host}" if host else source
    return [
        last,
        ev.type,
        ev.reason,
        target,
        ev.involved_object.field_path,
        source_text,
        ev.message.strip(),
        first,
        str(ev.count or 1),
        ev.metadata.name,
    ]


def service_row(obj: Message, wide: bool) -> Row:
    spec = obj.spec  # type: ignore[attr-defined]
    ports = ",".join(f"{p.port}/{p.protocol or 'TCP'}" for p in spec.ports) or "<none>"
    external = ",".join(spec.external_ips) or "<none>"
    return [obj.metadata.name, spec.type or "ClusterIP", spec.cluster_ip or "<none>", external, ports, age(obj)]  # type: ignore[attr-defined]


def namespace_row(obj: Message, wide: bool) -> Row:
    return [obj.metadata.name, obj.status.phase or "Active", age(obj)]  # type: ignore[attr-defined]


def generic_row(obj: Message, wide: bool) -> Row:
    return [obj.metadata.name, age(obj)]  # type: ignore[attr-defined]


WORKLOAD_WIDE = ["CONTAINERS", "IMAGES", "SELECTOR"]
# Events in wide form replace the normal columns (kubectl's order), so they are special-cased in table().
EVENT_WIDE = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE", "MESSAGE", "FIRST SEEN", "COUNT", "NAME"]

COLUMNS: dict[str, tuple[list[str], list[str], Callable[[Message, bool], Row]]] = {
    "Pod": (["NAME", "READY", "STATUS", "RESTARTS", "AGE"], ["IP", "NODE"], pod_row),
    "Node": (
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        ["INTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"],
        node_row,
    ),
    "Deployment": (["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], WORKLOAD_WIDE, deployment_row),
    "ReplicaSet": (["NAME", "DESIRED", "CURRENT", "READY", "AGE"], WORKLOAD_WIDE, replicaset_row),
    "DaemonSet": (
        ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"],
        WORKLOAD_WIDE,
        daemonset_row,
    ),
    "Job": (["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"], WORKLOAD_WIDE, job_row),
    "CronJob": (
        ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"],
        WORKLOAD_WIDE,
        cronjob_row,
    ),
    "Event": (["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], [], event_row),
    "Service": (["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], [], service_row),
    "Namespace": (["NAME", "STATUS", "AGE"], [], namespace_row),
}


def table(kind: str, objects: Sequence[Message], *, wide: bool = False, with_namespace: bool = False) -> str:
    headers, wide_headers, row_of = COLUMNS.get(kind, (["NAME", "AGE"], [], generic_row))
    headers = EVENT_WIDE if (kind == "Event" and wide) else headers + (wide_headers if wide else [])
    rows = [row_of(obj, wide) for obj in objects]
    if with_namespace:
        headers = ["NAMESPACE", *headers]
        rows = [[obj.metadata.namespace, *row] for obj, row in zip(objects, rows, strict=True)]  # type: ignore[attr-defined]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = [
        "   ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in [headers, *rows]
    ]
    return "\n".join(lines)
