"""Printers of the core/v1 kinds and Lease, with the columns of Kubernetes' printers
(pkg/printers/internalversion): pods, nodes, namespaces, services, endpoints, configmaps, secrets, events."""

from __future__ import annotations

import time
from typing import Any

from skiff.api.core.v1 import pod_pb2
from skiff_apiserver.rest.printers.common import (
    Printer,
    age,
    column,
    human_duration,
    join_or_none,
    selector_text,
    since,
)

NONE = "<none>"
# Our PodSpec may not carry readinessGates yet; the column is then always <none>, as for a pod without any.
_READINESS_GATES = "readiness_gates" in pod_pb2.PodSpec.DESCRIPTOR.fields_by_name


def _pod_reason(pod: Any) -> str:
    """printPod's STATUS: init containers first, then the last container with a reason; Terminating.
    Runs once per pod per `kubectl get pods`: containers are only walked when the pod reports any."""
    status = pod.status
    reason = status.reason or status.phase or "Pending"
    inits = status.init_container_statuses
    if inits:
        init_total = len(pod.spec.init_containers)
        for i, cs in enumerate(inits):
            term, wait = cs.state.terminated, cs.state.waiting
            if cs.state.HasField("terminated") and term.exit_code == 0:
                continue
            if cs.state.HasField("terminated"):
                if term.reason:
                    reason = f"Init:{term.reason}"
                elif term.signal:
                    reason = f"Init:Signal:{term.signal}"
                else:
                    reason = f"Init:ExitCode:{term.exit_code}"
            elif cs.state.HasField("waiting") and wait.reason and wait.reason != "PodInitializing":
                reason = f"Init:{wait.reason}"
            else:
                reason = f"Init:{i}/{init_total}"
            return reason
    has_running = False
    statuses = status.container_statuses
    for cs in reversed(statuses) if statuses else ():
        st = cs.state
        if st.HasField("waiting") and st.waiting.reason:
            reason = st.waiting.reason
        elif st.HasField("terminated") and st.terminated.reason:
            reason = st.terminated.reason
        elif st.HasField("terminated"):
            t = st.terminated
            reason = f"Signal:{t.signal}" if t.signal else f"ExitCode:{t.exit_code}"
        elif st.HasField("running") and cs.ready:
            has_running = True
    if reason == "Completed" and has_running:
        ready = any(c.type == "Ready" and c.status == "True" for c in status.conditions)
        reason = "Running" if ready else "NotReady"
    if pod.metadata.HasField("deletion_timestamp"):
        reason = "Unknown" if status.reason == "NodeLost" else "Terminating"
    return reason


def _restarts(statuses: Any, now: float) -> str:
    count, last = 0, 0
    for cs in statuses:
        count += cs.restart_count
        if cs.last_state.HasField("terminated"):
            last = max(last, cs.last_state.terminated.finished_at.seconds)
    return f"{count} ({human_duration(now - last)} ago)" if count and last else str(count)


def pod_cells(pod: Any) -> list[Any]:
    """One row of `kubectl get pods`: the clock is read once per row, containers walked only when any
    report a status (a list of 10,000 pods spends most of its Table time here and in the metadata)."""
    status, spec, meta = pod.status, pod.spec, pod.metadata
    statuses = status.container_statuses
    now = time.time()
    gate_text = NONE
    if _READINESS_GATES and spec.readiness_gates:
        gates = spec.readiness_gates
        true = {c.type for c in status.conditions if c.status == "True"}
        gate_text = f"{sum(1 for g in gates if g.condition_type in true)}/{len(gates)}"
    return [
        meta.name,
        f"{sum(1 for cs in statuses if cs.ready) if statuses else 0}/{len(spec.containers)}",
        _pod_reason(pod),
        _restarts(statuses, now) if statuses else "0",
        since(meta.creation_timestamp, now),
        status.pod_ip or NONE,
        spec.node_name or NONE,
        status.nominated_node_name or NONE,
        gate_text,
    ]


def node_cells(node: Any) -> list[Any]:
    ready = next((c.status for c in node.status.conditions if c.type == "Ready"), "")
    state = {"True": "Ready", "False": "NotReady"}.get(ready, "Unknown")
    if node.spec.unschedulable:
        state += ",SchedulingDisabled"
    roles = sorted(
        {k.partition("/")[2] for k in node.metadata.labels if k.startswith("node-role.kubernetes.io/")}
        | ({node.metadata.labels["kubernetes.io/role"]} if "kubernetes.io/role" in node.metadata.labels else set())
    )
    info = node.status.node_info

    def address(kind: str) -> str:
        return next((a.address for a in node.status.addresses if a.type == kind), NONE)

    return [
        node.metadata.name,
        state,
        join_or_none(r for r in roles if r),
        age(node.metadata),
        info.kubelet_version,
        address("InternalIP"),
        address("ExternalIP"),
        info.os_image or "<unknown>",
        info.kernel_version or "<unknown>",
        info.container_runtime_version or "<unknown>",
    ]


def _service_ports(spec: Any) -> str:
    out = []
    for p in spec.ports:
        proto = p.protocol or "TCP"
        out.append(f"{p.port}:{p.node_port}/{proto}" if p.node_port else f"{p.port}/{proto}")
    return ",".join(out) or NONE


def service_cells(svc: Any) -> list[Any]:
    spec = svc.spec
    kind = spec.type or "ClusterIP"
    external = list(spec.external_ips)
    if kind == "LoadBalancer":
        external += [i.ip or i.hostname for i in svc.status.load_balancer.ingress]
        external_text = ",".join(external) or "<pending>"
    elif kind == "ExternalName":
        external_text = spec.external_name
    else:
        external_text = ",".join(external) or NONE
    return [
        svc.metadata.name,
        kind,
        spec.cluster_ip or NONE,
        external_text,
        _service_ports(spec),
        age(svc.metadata),
        selector_text(spec.selector),
    ]


def endpoints_cells(ep: Any) -> list[Any]:
    addrs = []
    for subset in ep.subsets:
        for a in subset.addresses:
            for p in subset.ports or [None]:
                addrs.append(f"{a.ip}:{p.port}" if p is not None else a.ip)
    text = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [ep.metadata.name, text or NONE, age(ep.metadata)]


def _more(items: list[str], total: int) -> str:
    """listWithMoreString: the first three, "+ N more...", "<unset>" when empty."""
    text = ",".join(items[:3])
    if total > 3:
        return f"{text} + {total - 3} more..."
    return text or "<unset>"


def endpointslice_cells(es: Any) -> list[Any]:
    ports = [str(p.port) if p.HasField("port") else (p.name if p.HasField("name") else "*") for p in es.ports]
    addresses = [a for e in es.endpoints for a in e.addresses]
    return [
        es.metadata.name,
        es.address_type,
        _more(ports, len(ports)),
        _more(addresses, len(addresses)),
        age(es.metadata),
    ]


def event_cells(ev: Any) -> list[Any]:
    obj = ev.involved_object
    first = ev.first_timestamp if ev.first_timestamp.seconds else ev.event_time
    last = ev.last_timestamp if ev.last_timestamp.seconds else first
    source = ev.source.component or ev.reporting_component
    if ev.source.host:
        source = f"{source}, {ev.source.host}"
    return [
        since(last) if last.seconds else "<unknown>",
        ev.type,
        ev.reason,
        f"{obj.kind.lower()}/{obj.name}",
        ev.message.strip(),
        obj.field_path,
        source,
        since(first) if first.seconds else "<unknown>",
        ev.count or 1,
        ev.metadata.name,
    ]


def _name_col() -> dict[str, Any]:
    return column("Name", "name")


PRINTERS = {
    "Pod": Printer(
        [
            _name_col(),
            column("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
            column("Status", description="The aggregate status of the containers in this pod."),
            column("Restarts", description="The number of times the containers in this pod have been restarted."),
            column("Age"),
            column("IP", wide=True, description="IP address allocated to the pod."),
            column("Node", wide=True, description="Name of the node the pod is assigned to."),
            column("Nominated Node", wide=True, description="Name of the node the pod may be preempted to."),
            column("Readiness Gates", wide=True, description="Pod readiness gates."),
        ],
        pod_cells,
    ),
    "Node": Printer(
        [
            _name_col(),
            column("Status"),
            column("Roles"),
            column("Age"),
            column("Version"),
            column("Internal-IP", wide=True),
            column("External-IP", wide=True),
            column("OS-Image", wide=True),
            column("Kernel-Version", wide=True),
            column("Container-Runtime", wide=True),
        ],
        node_cells,
    ),
    "Namespace": Printer(
        [_name_col(), column("Status"), column("Age")],
        lambda ns: [ns.metadata.name, ns.status.phase or "Active", age(ns.metadata)],  # type: ignore[attr-defined]
    ),
    "Service": Printer(
        [
            _name_col(),
            column("Type"),
            column("Cluster-IP"),
            column("External-IP"),
            column("Port(s)"),
            column("Age"),
            column("Selector", wide=True),
        ],
        service_cells,
    ),
    "Endpoints": Printer([_name_col(), column("Endpoints"), column("Age")], endpoints_cells),
    "ConfigMap": Printer(
        [_name_col(), column("Data", kind="integer"), column("Age")],
        lambda cm: [cm.metadata.name, len(cm.data) + len(cm.binary_data), age(cm.metadata)],  # type: ignore[attr-defined]
    ),
    "Secret": Printer(
        [_name_col(), column("Type"), column("Data", kind="integer"), column("Age")],
        lambda s: [s.metadata.name, s.type or "Opaque", len(s.data), age(s.metadata)],  # type: ignore[attr-defined]
    ),
    "Event": Printer(
        [
            column("Last Seen"),
            column("Type"),
            column("Reason"),
            column("Object"),
            column("Message"),
            column("Subobject", wide=True),
            column("Source", wide=True),
            column("First Seen", wide=True),
            column("Count", kind="integer", wide=True),
            column("Name", wide=True),
        ],
        event_cells,
    ),
    "EndpointSlice": Printer(
        [_name_col(), column("AddressType"), column("Ports"), column("Endpoints"), column("Age")],
        endpointslice_cells,
    ),
    "Lease": Printer(
        [_name_col(), column("Holder"), column("Age")],
        lambda le: [le.metadata.name, le.spec.holder_identity, age(le.metadata)],  # type: ignore[attr-defined]
    ),
}
