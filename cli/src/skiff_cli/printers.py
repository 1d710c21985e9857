"""Tables like kubectl's: the columns a Kubernetes user expects for each kind.

Each kind has one function from object to row; anything without its own columns gets NAME and AGE.
`-o wide` adds the extra columns kubectl adds (pod IP and node for pods, addresses for nodes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from google.protobuf.message import Message

Row = list[str]


def age(obj: Message) -> str:
    created = obj.metadata.creation_timestamp.seconds  # type: ignore[attr-defined]
    if not created:
        return "<unknown>"
    seconds = max(0, int(time.time()) - created)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit != "m" else 1):
            whole, rest = divmod(seconds, size)
            if unit == "m" and whole < 10 and rest:
                return f"{whole}m{rest}s"
            return f"{whole}{unit}"
    return f"{seconds}s"


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


def deployment_row(obj: Message, wide: bool) -> Row:
    spec, status = obj.spec, obj.status  # type: ignore[attr-defined]
    desired = spec.replicas if spec.HasField("replicas") else 1
    return [
        obj.metadata.name,
        f"{status.ready_replicas}/{desired}",
        str(status.updated_replicas),  # type: ignore[attr-defined]
        str(status.available_replicas),
        age(obj),
    ]


def replicaset_row(obj: Message, wide: bool) -> Row:
    spec, status = obj.spec, obj.status  # type: ignore[attr-defined]
    desired = spec.replicas if spec.HasField("replicas") else 1
    return [obj.metadata.name, str(desired), str(status.replicas), str(status.ready_replicas), age(obj)]  # type: ignore[attr-defined]


def daemonset_row(obj: Message, wide: bool) -> Row:
    spec, st = obj.spec, obj.status  # type: ignore[attr-defined]
    selector = ",".join(f"{k}={v}" for k, v in sorted(spec.template.spec.node_selector.items())) or "<none>"
    row = [
        obj.metadata.name,  # type: ignore[attr-defined]
        str(st.desired_number_scheduled),
        str(st.current_number_scheduled),
        str(st.number_ready),
        str(st.updated_number_scheduled),
        str(st.number_available),
        selector,
        age(obj),
    ]
    if wide:
        containers = spec.template.spec.containers
        labels = ",".join(f"{k}={v}" for k, v in sorted(spec.selector.match_labels.items())) or "<none>"
        row += [",".join(c.name for c in containers), ",".join(c.image for c in containers), labels]
    return row


def service_row(obj: Message, wide: bool) -> Row:
    spec = obj.spec  # type: ignore[attr-defined]
    ports = ",".join(f"{p.port}/{p.protocol or 'TCP'}" for p in spec.ports) or "<none>"
    external = ",".join(spec.external_ips) or "<none>"
    return [obj.metadata.name, spec.type or "ClusterIP", spec.cluster_ip or "<none>", external, ports, age(obj)]  # type: ignore[attr-defined]


def namespace_row(obj: Message, wide: bool) -> Row:
    return [obj.metadata.name, obj.status.phase or "Active", age(obj)]  # type: ignore[attr-defined]


def generic_row(obj: Message, wide: bool) -> Row:
    return [obj.metadata.name, age(obj)]  # type: ignore[attr-defined]


COLUMNS: dict[str, tuple[list[str], list[str], Callable[[Message, bool], Row]]] = {
    "Pod": (["NAME", "READY", "STATUS", "RESTARTS", "AGE"], ["IP", "NODE"], pod_row),
    "Node": (
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        ["INTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"],
        node_row,
    ),
    "Deployment": (["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], [], deployment_row),
    "ReplicaSet": (["NAME", "DESIRED", "CURRENT", "READY", "AGE"], [], replicaset_row),
    "DaemonSet": (
        ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"],
        ["CONTAINERS", "IMAGES", "SELECTOR"],
        daemonset_row,
    ),
    "Service": (["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], [], service_row),
    "Namespace": (["NAME", "STATUS", "AGE"], [], namespace_row),
}


def table(kind: str, objects: Sequence[Message], *, wide: bool = False, with_namespace: bool = False) -> str:
    headers, wide_headers, row_of = COLUMNS.get(kind, (["NAME", "AGE"], [], generic_row))
    headers = headers + (wide_headers if wide else [])
    rows = [row_of(obj, wide) for obj in objects]
    if with_namespace:
        headers = ["NAMESPACE", *headers]
        rows = [[obj.metadata.namespace, *row] for obj, row in zip(objects, rows, strict=True)]  # type: ignore[attr-defined]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = [
        "   ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in [headers, *rows]
    ]
    return "\n".join(lines)
