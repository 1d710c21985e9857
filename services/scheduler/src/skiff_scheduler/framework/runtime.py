"""Framework: one profile's plugins, run point by point for one pod.

Built from a profile (``skiff_scheduler.profile``): for each extension point the enabled plugins in
order, the Score weights and each plugin's args. One plugin instance serves every point it implements.
Filter and Score run once per node, so they are the hot loop: the per-plugin timing that feeds
``scheduler_plugin_execution_duration_seconds`` is taken only on the cycles sampled for it (10 %, as
kube-scheduler does), and a plugin whose PreFilter/PreScore said Skip is left out of the loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from skiff_common.observability import get_logger

from skiff_scheduler import metrics
from skiff_scheduler.framework.cycle_state import CycleState
from skiff_scheduler.framework.handle import Handle
from skiff_scheduler.framework.interfaces import (
    MAX_NODE_SCORE,
    BindPlugin,
    ClusterEventWithHint,
    EnqueueExtensions,
    FilterPlugin,
    NodeScore,
    NormalizeScorePlugin,
    PermitPlugin,
    PostBindPlugin,
    PostFilterPlugin,
    PreBindPlugin,
    PreFilterExtensions,
    PreFilterPlugin,
    PreFilterResult,
    PreScorePlugin,
    QueueSortPlugin,
    ReservePlugin,
    ScorePlugin,
)
from skiff_scheduler.framework.status import SUCCESS, Code, Status
from skiff_scheduler.framework.types import NodeInfo, PodInfo

log = get_logger(__name__)


@dataclass
class Framework:
    profile_name: str
    handle: Handle
    queue_sort: QueueSortPlugin
    pre_filter: list[PreFilterPlugin] = field(default_factory=list)
    filter: list[FilterPlugin] = field(default_factory=list)
    post_filter: list[PostFilterPlugin] = field(default_factory=list)
    pre_score: list[PreScorePlugin] = field(default_factory=list)
    score: list[tuple[ScorePlugin, int]] = field(default_factory=list)
    reserve: list[ReservePlugin] = field(default_factory=list)
    permit: list[PermitPlugin] = field(default_factory=list)
    pre_bind: list[PreBindPlugin] = field(default_factory=list)
    bind: list[BindPlugin] = field(default_factory=list)
    post_bind: list[PostBindPlugin] = field(default_factory=list)
    percentage_of_nodes_to_score: int = 0
    plugins: dict[str, Any] = field(default_factory=dict)
    waiting: dict[str, WaitingPod] = field(default_factory=dict)

    # -- events ----------------------------------------------------------------------------------------
    def events_by_plugin(self) -> dict[str, list[ClusterEventWithHint]]:
        return {n: p.events_to_register() for n, p in self.plugins.items() if isinstance(p, EnqueueExtensions)}

    # -- PreFilter / Filter ----------------------------------------------------------------------------
    def run_pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        result: PreFilterResult | None = None
        for p in self.pre_filter:
            t0 = time.perf_counter()
            r, status = p.pre_filter(state, pod, nodes)
            metrics.plugin_duration(p.name, "PreFilter", status, t0)
            if status.code is Code.SKIP:
                state.skip_filter.add(p.name)
                continue
            if not status.ok:
                return None, status.with_plugin(p.name)
            if r is not None:
                result = r if result is None else result.merge(r)
                if result.node_names is not None and not result.node_names:
                    return result, Status.unschedulable(
                        "node(s) didn't satisfy plugin(s) [" + p.name + "]", unresolvable=True
                    ).with_plugin(p.name)
        return result, SUCCESS

    def run_filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        skip = state.skip_filter
        if state.record_metrics:
            for p in self.filter:
                if p.name in skip:
                    continue
                t0 = time.perf_counter()
                status = p.filter(state, pod, node)
                metrics.plugin_duration(p.name, "Filter", status, t0)
                if not status.ok:
                    return status.with_plugin(p.name)
            return SUCCESS
        for name, fn in self.active_filters(state):
            st: Status = fn(state, pod, node)
            if st is not SUCCESS and st.code is not Code.SUCCESS and st.code is not Code.SKIP:
                return st.with_plugin(name)
        return SUCCESS

    def active_filters(self, state: CycleState) -> list[tuple[str, Any]]:
        """(name, bound filter) of the plugins this pod's PreFilter did not skip; computed once per cycle."""
        cached = state.get("__filters")
        if cached is None:
            cached = [(p.name, p.filter) for p in self.filter if p.name not in state.skip_filter]
            state.write("__filters", cached)
        return cached  # type: ignore[no-any-return]

    def run_filter_with_nominated(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        """Filter as if the pods nominated to this node with priority >= the pod's were already there
        (so a preemptor's freed room is not taken by others), then as it is (kube-scheduler does both)."""
        nominated = [
            n for n in self.handle.nominator.on_node(node.name) if n.uid != pod.uid and n.priority >= pod.priority
        ]
        if nominated:
            state2, node2 = state.clone(), node.clone()
            for n in nominated:
                node2.add_pod(n)
                self.run_pre_filter_add_pod(state2, pod, n, node2)
            status = self.run_filter(state2, pod, node2)
            if not status.ok:
                return status
        return self.run_filter(state, pod, node)

    def run_pre_filter_add_pod(self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo) -> None:
        for p in self.pre_filter:
            if p.name not in state.skip_filter and isinstance(p, PreFilterExtensions):
                p.add_pod(state, pod, added, node)

    def run_pre_filter_remove_pod(self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo) -> None:
        for p in self.pre_filter:
            if p.name not in state.skip_filter and isinstance(p, PreFilterExtensions):
                p.remove_pod(state, pod, removed, node)

    async def run_post_filter(
        self, state: CycleState, pod: PodInfo, statuses: dict[str, Status]
    ) -> tuple[str | None, Status]:
        last = Status.unschedulable()
        for p in self.post_filter:
            t0 = time.perf_counter()
            nominated, status = await p.post_filter(state, pod, statuses)
            metrics.plugin_duration(p.name, "PostFilter", status, t0)
            if status.ok:
                return nominated, status
            if status.code is Code.ERROR:
                return None, status.with_plugin(p.name)
            last = status.with_plugin(p.name)
        return None, last

    # -- Score -----------------------------------------------------------------------------------------
    def run_pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        for p in self.pre_score:
            t0 = time.perf_counter()
            status = p.pre_score(state, pod, nodes)
            metrics.plugin_duration(p.name, "PreScore", status, t0)
            if status.code is Code.SKIP:
                state.skip_score.add(p.name)
            elif not status.ok:
                return status.with_plugin(p.name)
        return SUCCESS

    def run_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[NodeScore]:
        totals = [0] * len(nodes)
        for p, weight in self.score:
            if p.name in state.skip_score:
                continue
            t0 = time.perf_counter()
            score = p.score
            raw = [score(state, pod, n) for n in nodes]
            if isinstance(p, NormalizeScorePlugin):
                wrapped = [NodeScore(n.name, s) for n, s in zip(nodes, raw, strict=True)]
                p.normalize_score(state, pod, wrapped)
                raw = [s.score for s in wrapped]
            metrics.plugin_duration(p.name, "Score", SUCCESS, t0)
            totals = [t + (s if 0 <= s <= MAX_NODE_SCORE else max(0, min(MAX_NODE_SCORE, s))) * weight
                      for t, s in zip(totals, raw, strict=True)]  # fmt: skip
        return [NodeScore(n.name, t) for n, t in zip(nodes, totals, strict=True)]

    # -- Reserve / Permit ------------------------------------------------------------------------------
    def run_reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        for p in self.reserve:
            status = p.reserve(state, pod, node_name)
            if not status.ok:
                return status.with_plugin(p.name)
        return SUCCESS

    def run_unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        for p in reversed(self.reserve):
            try:
                p.unreserve(state, pod, node_name)
            except Exception:
                log.exception("unreserve.failed", plugin=p.name, pod=pod.key)

    def run_permit(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        """Success, a rejection, or Wait: then the pod is parked in ``waiting`` until every plugin that
        asked to wait allows it, one rejects it, or its timeout passes (rejection)."""
        waits: dict[str, float] = {}
        for p in self.permit:
            status, timeout = p.permit(state, pod, node_name)
            if status.code is Code.WAIT:
                waits[p.name] = timeout
            elif not status.ok:
                return status.with_plugin(p.name)
        if waits:
            self.waiting[pod.uid] = WaitingPod(pod, waits)
            return Status.wait()
        return SUCCESS

    async def wait_on_permit(self, pod: PodInfo) -> Status:
        wp = self.waiting.get(pod.uid)
        if wp is None:
            return SUCCESS
        try:
            return await wp.wait()
        finally:
            self.waiting.pop(pod.uid, None)

    # -- binding cycle ---------------------------------------------------------------------------------
    async def run_pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        for p in self.pre_bind:
            status = await p.pre_bind(state, pod, node_name)
            if not status.ok:
                return status.with_plugin(p.name)
        return SUCCESS

    async def run_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        for p in self.bind:
            t0 = time.perf_counter()
            status = await p.bind(state, pod, node_name)
            metrics.plugin_duration(p.name, "Bind", status, t0)
            if status.code is Code.SKIP:
                continue
            return status.with_plugin(p.name)
        return Status.error("no bind plugin bound the pod")

    def run_post_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        for p in self.post_bind:
            p.post_bind(state, pod, node_name)


class WaitingPod:
    """A pod held at Permit; plugins call ``allow``/``reject`` through ``Framework.waiting``."""

    def __init__(self, pod: PodInfo, waits: dict[str, float]) -> None:
        self.pod = pod
        self.pending = dict(waits)
        self._result: asyncio.Future[Status] = asyncio.get_running_loop().create_future()

    def allow(self, plugin: str) -> None:
        self.pending.pop(plugin, None)
        if not self.pending and not self._result.done():
            self._result.set_result(SUCCESS)

    def reject(self, plugin: str, reason: str) -> None:
        if not self._result.done():
            self._result.set_result(Status.unschedulable(reason).with_plugin(plugin))

    async def wait(self) -> Status:
        timeout = min(self.pending.values()) if self.pending else 0.0
        try:
            return await asyncio.wait_for(asyncio.shield(self._result), timeout)
        except TimeoutError:
            plugin = min(self.pending, key=lambda k: self.pending[k])
            return Status.unschedulable(
                f"rejected due to timeout after waiting {timeout}s at plugin {plugin}"
            ).with_plugin(plugin)


def num_feasible_nodes_to_find(num_all: int, percentage: int) -> int:
    """kube-scheduler's numFeasibleNodesToFind: all nodes below 100; else ``percentage`` % of them (when
    0, adaptive: 50 % minus 1 % per 125 nodes, at least 5 %), but never fewer than 100."""
    if num_all < 100 or percentage >= 100:
        return num_all
    pct = percentage
    if pct <= 0:
        pct = max(5, 50 - num_all // 125)
    return max(100, num_all * pct // 100)


def select_plugins(plugins: Sequence[Any], kind: type) -> list[Any]:
    return [p for p in plugins if isinstance(p, kind)]
