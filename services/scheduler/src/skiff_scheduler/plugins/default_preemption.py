"""DefaultPreemption (PostFilter): when no node fits, make room by evicting lower-priority pods.

For each node that failed with a resolvable status (Unschedulable, not ...AndUnresolvable), simulate
removing every pod of lower priority (keeping PreFilter state right through add_pod/remove_pod) and
re-run the filters; if the pod then fits, give back ("reprieve") as many victims as possible, highest
priority first. Among the candidates pick, as kube-scheduler does, the node whose highest victim
priority is lowest, then the lowest sum of victim priorities, then the fewest victims. Then delete the
victims (a "Preempted" event on each), and set the preemptor's status.nominatedNodeName; the victims'
deletion events requeue it. ``preemptionPolicy: Never`` pods never preempt.

The message for the pod says why preemption could not help, per node, kube-scheduler's way:
"preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is
not helpful for scheduling."
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from skiff.api.core.v1 import pod_pb2
from skiff_common import errors
from skiff_common.observability import get_logger

from skiff_scheduler import metrics
from skiff_scheduler.framework.cycle_state import CycleState
from skiff_scheduler.framework.handle import Handle
from skiff_scheduler.framework.status import Code, Status
from skiff_scheduler.framework.types import NodeInfo, PodInfo

log = get_logger(__name__)
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
NEVER = "not eligible due to preemptionPolicy=Never."


@dataclass
class Candidate:
    node: str
    victims: list[PodInfo]


def preemption_message(total: int, reasons: Counter[str]) -> str:
    parts = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items()))
    return f"preemption: 0/{total} nodes are available: {parts}."


def _start(pi: PodInfo) -> float:
    st = pi.pod.status.start_time
    return st.seconds + st.nanos / 1e9 if pi.pod.status.HasField("start_time") else 0.0


class DefaultPreemption:
    name = "DefaultPreemption"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        args = args or {}
        self.handle = handle or Handle()
        self.min_pct = int(args.get("minCandidateNodesPercentage", 10))
        self.min_abs = int(args.get("minCandidateNodesAbsolute", 100))
        if not 0 <= self.min_pct <= 100 or self.min_abs < 0:
            raise ValueError("minCandidateNodesPercentage must be in 0..100, minCandidateNodesAbsolute >= 0")

    async def post_filter(
        self, state: CycleState, pod: PodInfo, statuses: dict[str, Status]
    ) -> tuple[str | None, Status]:
        metrics.PREEMPTION_ATTEMPTS.inc()
        if pod.pod.spec.preemption_policy == "Never":
            return None, Status.unschedulable(NEVER, unresolvable=True)
        if not self._eligible(pod):
            return None, Status.unschedulable("preemption: the pod's nominated node still has victims terminating")
        candidates, reasons = self.find_candidates(state, pod, statuses)
        total = len(self.handle.snapshot.nodes)
        if not candidates:
            return None, Status.unschedulable(preemption_message(total, reasons))
        best = self.select(candidates)
        await self.prepare(pod, best)
        return best.node, Status.success()

    def _eligible(self, pod: PodInfo) -> bool:
        nominated = pod.pod.status.nominated_node_name
        if not nominated:
            return True
        node = self.handle.snapshot.get(nominated)
        if node is None:
            return True
        return not any(p.priority < pod.priority and p.pod.metadata.HasField("deletion_timestamp") for p in node.pods)

    def find_candidates(
        self, state: CycleState, pod: PodInfo, statuses: dict[str, Status]
    ) -> tuple[list[Candidate], Counter[str]]:
        snap = self.handle.snapshot
        reasons: Counter[str] = Counter()
        potential = []
        for node in snap.nodes:
            st = statuses.get(node.name)
            if st is not None and st.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                reasons[NOT_HELPFUL] += 1
            else:
                potential.append(node)
        want = max(self.min_abs, len(potential) * self.min_pct // 100)
        offset = random.randrange(len(potential)) if potential else 0
        candidates: list[Candidate] = []
        for i in range(len(potential)):
            node = potential[(offset + i) % len(potential)]
            victims = self.select_victims(state, pod, node)
            if victims is None:
                reasons[NO_VICTIMS] += 1
                continue
            candidates.append(Candidate(node.name, victims))
            if len(candidates) >= want:
                break
        return candidates, reasons

    def select_victims(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> list[PodInfo] | None:
        fw = self.handle.framework
        assert fw is not None
        lower = [p for p in node.pods if p.priority < pod.priority]
        if not lower:
            return None
        sim_state, sim_node = state.clone(), node.clone()
        for p in lower:
            sim_node.remove_pod(p.uid)
            fw.run_pre_filter_remove_pod(sim_state, pod, p, sim_node)
        if not fw.run_filter_with_nominated(sim_state, pod, sim_node).ok:
            return None
        victims: list[PodInfo] = []
        for p in sorted(lower, key=lambda v: (-v.priority, _start(v))):
            sim_node.add_pod(p)
            fw.run_pre_filter_add_pod(sim_state, pod, p, sim_node)
            if not fw.run_filter_with_nominated(sim_state, pod, sim_node).ok:
                sim_node.remove_pod(p.uid)
                fw.run_pre_filter_remove_pod(sim_state, pod, p, sim_node)
                victims.append(p)
        return victims or None

    @staticmethod
    def select(candidates: list[Candidate]) -> Candidate:
        def key(c: Candidate) -> tuple[int, int, int, float]:
            prios = [v.priority for v in c.victims]
            top = max(prios)
            latest_top = -max((_start(v) for v in c.victims if v.priority == top), default=0.0)
            return (top, sum(prios), len(c.victims), latest_top)

        return min(candidates, key=key)

    async def prepare(self, pod: PodInfo, best: Candidate) -> None:
        client, events = self.handle.client, self.handle.events
        metrics.PREEMPTION_VICTIMS.observe(len(best.victims))
        for v in best.victims:
            meta = v.pod.metadata
            try:
                await client.delete(pod_pb2.Pod, meta.name, meta.namespace)
            except errors.NotFound:
                pass
            if events is not None:
                events.record(
                    v.pod, "Normal", "Preempted", f"Preempted by pod {pod.pod.metadata.uid} on node {best.node}"
                )
            log.info("preemption.victim", victim=v.key, preemptor=pod.key, node=best.node)
        # Lower-priority pods nominated to this node lose the nomination (kube: getLowerPriorityNominatedPods).
        for other in self.handle.nominator.on_node(best.node):
            if other.priority < pod.priority:
                self.handle.nominator.remove(other.uid)
