"""Which nodes a DaemonSet runs on, and the pod it puts there.

Kubernetes' rules (``NodeShouldRunDaemonPod``), for the template with the daemon tolerations added:

    template spec.nodeName set to another node        -> neither run nor keep running
    nodeSelector / required node affinity mismatch    -> neither
    a NoSchedule or NoExecute taint not tolerated     -> do not start one here,
       ... but keep a running pod unless a NoExecute taint is untolerated

Daemon pods tolerate what Kubernetes adds to them automatically: not-ready and unreachable NoExecute
with no tolerationSeconds (never evicted for a sick node), memory/disk/pid-pressure and unschedulable
NoSchedule, and network-unavailable NoSchedule for hostNetwork pods (they make the network).

A daemon pod is placed by the scheduler, as in Kubernetes today: the controller leaves spec.nodeName
empty and pins the pod with required node affinity ``metadata.name In [node]`` (replacing the template's
terms, which the controller has already checked against the node).
"""

from __future__ import annotations

from collections.abc import Mapping

from skiff.api.core.v1 import node_pb2, pod_pb2, scheduling_pb2

from skiff_controllers.nodelifecycle import taints as t

T = scheduling_pb2.Toleration
_ALWAYS = (
    T(key=t.NOT_READY, operator="Exists", effect="NoExecute"),
    T(key=t.UNREACHABLE, operator="Exists", effect="NoExecute"),
    T(key=t.DISK_PRESSURE, operator="Exists", effect="NoSchedule"),
    T(key=t.MEMORY_PRESSURE, operator="Exists", effect="NoSchedule"),
    T(key=t.PID_PRESSURE, operator="Exists", effect="NoSchedule"),
    T(key=t.UNSCHEDULABLE, operator="Exists", effect="NoSchedule"),
)
_HOST_NETWORK = (T(key=t.NETWORK_UNAVAILABLE, operator="Exists", effect="NoSchedule"),)


def add_daemon_tolerations(spec: pod_pb2.PodSpec) -> None:
    """Add (in place) the daemon tolerations; one with the same key and effect is replaced, as
    Kubernetes' AddOrUpdateTolerationInPodSpec does."""
    wanted = list(_ALWAYS) + (list(_HOST_NETWORK) if spec.host_network else [])
    for tol in wanted:
        kept = [x for x in spec.tolerations if not (x.key == tol.key and x.effect == tol.effect)]
        del spec.tolerations[:]
        spec.tolerations.extend(kept)
        spec.tolerations.append(tol)


def _requirement_matches(req: scheduling_pb2.NodeSelectorRequirement, values: Mapping[str, str]) -> bool:
    present, value = req.key in values, values.get(req.key, "")
    op = req.operator
    if op == "In":
        return present and value in req.values
    if op == "NotIn":
        return not present or value not in req.values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and len(req.values) == 1:
        try:
            left, right = int(value), int(req.values[0])
        except ValueError:
            return False
        return left > right if op == "Gt" else left < right
    return False


def matches_node(spec: pod_pb2.PodSpec, node: node_pb2.Node) -> bool:
    """nodeSelector and required node affinity (terms ORed, expressions ANDed; an empty term matches
    nothing), as the scheduler's NodeAffinity filter decides."""
    labels = node.metadata.labels
    if any(labels.get(k) != v for k, v in spec.node_selector.items()):
        return False
    terms = spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_terms
    if not terms:
        return True
    fields = {"metadata.name": node.metadata.name}
    return any(
        (term.match_expressions or term.match_fields)
        and all(_requirement_matches(r, labels) for r in term.match_expressions)
        and all(_requirement_matches(r, fields) for r in term.match_fields)
        for term in terms
    )


def should_run(spec: pod_pb2.PodSpec, node: node_pb2.Node) -> tuple[bool, bool]:
    """(should run a new pod here, should keep a running one) for a spec with daemon tolerations."""
    if spec.node_name and spec.node_name != node.metadata.name:
        return False, False
    if not matches_node(spec, node):
        return False, False
    run = keep = True
    for taint in node.spec.taints:
        if taint.effect not in ("NoSchedule", "NoExecute") or t.tolerated(spec.tolerations, taint):
            continue
        run = False
        if taint.effect == "NoExecute":
            keep = False
    return run, keep


def pin_to_node(spec: pod_pb2.PodSpec, node_name: str) -> None:
    """Required node affinity metadata.name In [node], replacing the template's required terms."""
    required = spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
    del required.node_selector_terms[:]
    term = required.node_selector_terms.add()
    term.match_fields.add(key="metadata.name", operator="In", values=[node_name])


def target_node(pod: pod_pb2.Pod) -> str:
    """The node a daemon pod is for: spec.nodeName once bound, else the node its affinity pins."""
    if pod.spec.node_name:
        return pod.spec.node_name
    terms = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_terms
    for term in terms:
        for req in term.match_fields:
            if req.key == "metadata.name" and req.operator == "In" and len(req.values) == 1:
                return req.values[0]
    return ""
