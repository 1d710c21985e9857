"""Node health: when did we last hear from the kubelet, and what does silence mean.

The controller never trusts the kubelet's clock: like Kubernetes' nodeHealthData it keeps, per node,
the controller's own (monotonic) time at which it last *saw* something change -- the Ready condition's
lastHeartbeatTime, any condition, or the node's Lease in kube-node-lease (renewTime). A node silent for
longer than the grace period has every kubelet-owned condition set to Unknown (reason
NodeStatusUnknown, "Kubelet stopped posting node status."; NodeStatusNeverUpdated when the kubelet never
posted one). Time starts at the controller's first sight, so a restarted controller gives every node a
full grace period again, as Kubernetes does.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import timestamp_pb2
from skiff.api.coordination.v1 import lease_pb2
from skiff.api.core.v1 import node_pb2
from skiff.api.meta.v1 import meta_pb2

KUBELET_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")


def heartbeat_signature(node: node_pb2.Node) -> bytes:
    """What changes whenever the kubelet posts status: the newest condition heartbeat. The controller's
    own writes never move it (they keep heartbeats, or use the node's creation time), so marking a node
    Unknown does not count as hearing from it."""
    beats = [(c.last_heartbeat_time.seconds, c.last_heartbeat_time.nanos) for c in node.status.conditions]
    newest = max(beats, default=(0, 0))
    return f"{newest[0]}.{newest[1]}".encode()


def lease_signature(lease: lease_pb2.Lease) -> bytes:
    rt = lease.spec.renew_time
    return f"{lease.spec.holder_identity}@{rt.seconds}.{rt.nanos}".encode()


@dataclass
class _Seen:
    status: bytes
    lease: bytes
    at: float


class HealthTracker:
    """Per node: the last heartbeat signatures and when (monotonic) one last changed."""

    def __init__(self) -> None:
        self._nodes: dict[str, _Seen] = {}

    def observe(self, name: str, *, now: float, status: bytes | None = None, lease: bytes | None = None) -> float:
        """Record what is visible now; returns the probe time (last change seen)."""
        seen = self._nodes.get(name)
        if seen is None:
            seen = self._nodes[name] = _Seen(status or b"", lease or b"", now)
            return seen.at
        if status is not None and status != seen.status:
            seen.status, seen.at = status, now
        if lease is not None and lease != seen.lease:
            seen.lease, seen.at = lease, now
        return seen.at

    def probe_time(self, name: str) -> float | None:
        seen = self._nodes.get(name)
        return seen.at if seen is not None else None

    def forget(self, name: str) -> None:
        self._nodes.pop(name, None)


def mark_unknown(node: node_pb2.Node, now: timestamp_pb2.Timestamp) -> bool:
    """Set the kubelet's conditions to Unknown on `node` (in place); True if anything changed."""
    changed = False
    for type_ in KUBELET_CONDITIONS:
        cond = next((c for c in node.status.conditions if c.type == type_), None)
        if cond is None:
            node.status.conditions.append(
                meta_pb2.Condition(
                    type=type_,
                    status="Unknown",
                    reason="NodeStatusNeverUpdated",
                    message="Kubelet never posted node status.",
                    last_heartbeat_time=node.metadata.creation_timestamp,
                    last_transition_time=now,
                )
            )
            changed = True
        elif cond.status != "Unknown":
            cond.status = "Unknown"
            cond.reason = "NodeStatusUnknown"
            cond.message = "Kubelet stopped posting node status."
            cond.last_transition_time.CopyFrom(now)
            changed = True
    return changed
