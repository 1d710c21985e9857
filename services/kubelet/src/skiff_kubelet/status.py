"""PodStatus from the pod spec and a runtime snapshot (pure: no I/O, clock passed in).

Phase follows the kubelet's getPhase:

* any init container not yet succeeded                    -> Pending (Failed if it failed and
                                                              restartPolicy is Never)
* an app container waiting that never ran                   -> Pending
* at least one running                                      -> Running
* all terminated: restartPolicy Always                      -> Running (they are being restarted)
                  all exit 0                                -> Succeeded
                  some failed, OnFailure                    -> Running (restarting)
                  some failed, Never                        -> Failed

Timestamps that did not change (conditions' lastTransitionTime, startTime) are carried over from the
previous status so an unchanged pod produces an identical status and no write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from google.protobuf import timestamp_pb2
from skiff.api.core.v1 import container_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri

from skiff_kubelet.runtime_state import PodRuntime

# containerID is "<runtime name>://<id>", as the runtime names itself in CRI Version ("containerd://...").
DEFAULT_RUNTIME_NAME = "skiff"
TERMINAL_PHASES = ("Succeeded", "Failed")


def ns_to_timestamp(ns: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=ns // 1_000_000_000)


def _terminated(st: cri.ContainerStatus, runtime_name: str) -> pod_pb2.ContainerStateTerminated:
    reason = st.reason or ("Completed" if st.exit_code == 0 else "Error")
    return pod_pb2.ContainerStateTerminated(
        exit_code=st.exit_code,
        reason=reason,
        message=st.message,
        started_at=ns_to_timestamp(st.started_at) if st.started_at else None,
        finished_at=ns_to_timestamp(st.finished_at) if st.finished_at else None,
        container_id=f"{runtime_name}://{st.id}",
    )


ReadyFn = Callable[[container_pb2.Container, str], bool]


def container_status(
    c: container_pb2.Container,
    rt: PodRuntime,
    waiting: Mapping[str, tuple[str, str]],
    default_reason: str,
    ready_fn: ReadyFn | None = None,
    runtime_name: str = DEFAULT_RUNTIME_NAME,
) -> pod_pb2.ContainerStatus:
    latest = rt.latest(c.name)
    out = pod_pb2.ContainerStatus(name=c.name, image=c.image, ready=False, restart_count=0)
    if latest is None:
        reason, message = waiting.get(c.name, (default_reason, ""))
        out.state.waiting.reason, out.state.waiting.message = reason, message
        out.started = False
        return out
    out.restart_count = latest.metadata.attempt
    out.container_id = f"{runtime_name}://{latest.id}"
    out.image_id = latest.image_ref or latest.image_id
    prev = rt.previous(c.name)
    if prev is not None and prev.state == cri.CONTAINER_EXITED:
        out.last_state.terminated.CopyFrom(_terminated(prev, runtime_name))
    if c.name in waiting:
        # e.g. CrashLoopBackOff: the latest run is history, the container waits for a restart
        reason, message = waiting[c.name]
        out.state.waiting.reason, out.state.waiting.message = reason, message
        if latest.state == cri.CONTAINER_EXITED:
            out.last_state.terminated.CopyFrom(_terminated(latest, runtime_name))
    elif latest.state == cri.CONTAINER_RUNNING:
        out.state.running.started_at.CopyFrom(ns_to_timestamp(latest.started_at))
    elif latest.state == cri.CONTAINER_EXITED:
        out.state.terminated.CopyFrom(_terminated(latest, runtime_name))
    else:
        out.state.waiting.reason = "ContainerCreating"
    running = out.state.HasField("running")
    # Readiness probes (if any) gate readiness; without one a running container is ready.
    out.ready = running and (ready_fn is None or ready_fn(c, latest.id))
    out.started = running
    return out


def _phase(pod: pod_pb2.Pod, inits: list[pod_pb2.ContainerStatus], apps: list[pod_pb2.ContainerStatus]) -> str:
    policy = pod.spec.restart_policy or "Always"
    for st in inits:
        if st.state.HasField("terminated") and st.state.terminated.exit_code == 0:
            continue
        failed = st.state.HasField("terminated") or st.last_state.HasField("terminated")
        if failed and policy == "Never":
            return "Failed"
        return "Pending"
    running = sum(1 for s in apps if s.state.HasField("running"))
    waiting_new = sum(1 for s in apps if s.state.HasField("waiting") and not s.last_state.HasField("terminated"))
    terminated = [
        s.state.terminated if s.state.HasField("terminated") else s.last_state.terminated
        for s in apps
        if not s.state.HasField("running") and (s.state.HasField("terminated") or s.last_state.HasField("terminated"))
    ]
    if waiting_new:
        return "Pending"
    if running:
        return "Running"
    if not apps:
        return "Pending"
    if policy == "Always":
        return "Running"
    if all(t.exit_code == 0 for t in terminated) and len(terminated) == len(apps):
        return "Succeeded"
    if policy == "OnFailure":
        return "Running"
    return "Failed" if len(terminated) == len(apps) else "Running"


def qos_class(pod: pod_pb2.Pod) -> str:
    reqs_any = False
    guaranteed = True
    for c in list(pod.spec.containers) + list(pod.spec.init_containers):
        lim, req = c.resources.limits, c.resources.requests
        if lim or req:
            reqs_any = True
        for res in ("cpu", "memory"):
            if res not in lim or (res in req and req[res].value != lim[res].value):
                guaranteed = False
    if not reqs_any:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _condition(
    old: Mapping[str, meta_pb2.Condition],
    type_: str,
    ok: bool,
    now: timestamp_pb2.Timestamp,
    reason: str = "",
) -> meta_pb2.Condition:
    status = "True" if ok else "False"
    prev = old.get(type_)
    cond = meta_pb2.Condition(type=type_, status=status, reason="" if ok else reason)
    if prev is not None and prev.status == status:
        cond.last_transition_time.CopyFrom(prev.last_transition_time)
    else:
        cond.last_transition_time.CopyFrom(now)
    return cond


def compute_status(
    pod: pod_pb2.Pod,
    rt: PodRuntime,
    *,
    host_ip: str,
    now: timestamp_pb2.Timestamp,
    waiting: Mapping[str, tuple[str, str]] | None = None,
    ready_fn: ReadyFn | None = None,
    runtime_name: str = DEFAULT_RUNTIME_NAME,
) -> pod_pb2.PodStatus:
    waiting = waiting or {}
    old = pod.status
    inits = [
        container_status(c, rt, waiting, "PodInitializing", runtime_name=runtime_name) for c in pod.spec.init_containers
    ]
    init_done = all(s.state.HasField("terminated") and s.state.terminated.exit_code == 0 for s in inits)
    apps = [
        container_status(
            c, rt, waiting, "ContainerCreating" if init_done else "PodInitializing", ready_fn, runtime_name
        )
        for c in pod.spec.containers
    ]
    status = pod_pb2.PodStatus(
        phase=old.phase if old.phase in TERMINAL_PHASES else _phase(pod, inits, apps),
        host_ip=host_ip,
        qos_class=qos_class(pod),
    )
    status.host_ips.add(ip=host_ip)
    ips = [host_ip] if pod.spec.host_network else rt.pod_ips()
    if ips:
        status.pod_ip = ips[0]
        for ip in ips:
            status.pod_ips.add(ip=ip)
    elif old.pod_ip:
        status.pod_ip = old.pod_ip  # sandbox gone (terminal pod): keep reporting the last IP
        status.pod_ips.extend(old.pod_ips)
    if old.HasField("start_time"):
        status.start_time.CopyFrom(old.start_time)
    else:
        status.start_time.CopyFrom(now)
    status.init_container_statuses.extend(inits)
    status.container_statuses.extend(apps)
    old_conds = {c.type: c for c in old.conditions}
    ready = bool(apps) and all(s.ready for s in apps)
    conds = [
        _condition(old_conds, "Initialized", init_done, now, "ContainersNotInitialized"),
        _condition(old_conds, "ContainersReady", ready, now, "ContainersNotReady"),
        _condition(old_conds, "Ready", ready, now, "ContainersNotReady"),
    ]
    if status.phase in TERMINAL_PHASES:
        conds[1].reason = conds[2].reason = "PodCompleted"
    sched = old_conds.get("PodScheduled")
    # The scheduler may have left PodScheduled=False from failed attempts before binding succeeded.
    conds.insert(
        0,
        sched if sched is not None and sched.status == "True" else _condition(old_conds, "PodScheduled", True, now),
    )
    status.conditions.extend(conds)
    for cond in old.conditions:  # keep conditions others own (e.g. readiness gates)
        if cond.type not in {c.type for c in conds}:
            status.conditions.append(cond)
    status.message, status.reason, status.nominated_node_name = (
        old.message,
        old.reason,
        old.nominated_node_name,
    )
    return status
