"""The scheduling loop: one pod at a time through the scheduling cycle; binding runs asynchronously.

    pop (activeQ) -> snapshot -> PreFilter -> Filter (until enough feasible nodes) -> [PostFilter]
                  -> PreScore -> Score -> pick -> assume in cache -> Reserve -> Permit
                  -> binding task: wait Permit -> PreBind -> Bind -> PostBind   (next pod already popped)
    binding failed -> Unreserve, forget the assumed pod, back to the queue with backoff

The scheduling cycle is serial on purpose: it reads one snapshot and assumes its choice before the next
pod is looked at, so two pods can never both take the last free room. Filtering stops after
``num_feasible_nodes_to_find`` feasible nodes (percentageOfNodesToScore) and the next pod starts where
this one stopped, so all nodes get their turn.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from skiff.api.core.v1 import pod_pb2
from skiff_client import ApiClient, EventRecorder
from skiff_common.observability import get_logger

from skiff_scheduler import metrics
from skiff_scheduler.cache import SchedulerCache
from skiff_scheduler.failure import fit_message, report_failure
from skiff_scheduler.framework.cycle_state import CycleState
from skiff_scheduler.framework.handle import Nominator, Snapshot
from skiff_scheduler.framework.interfaces import NodeScore
from skiff_scheduler.framework.runtime import Framework, num_feasible_nodes_to_find
from skiff_scheduler.framework.status import Code, Status
from skiff_scheduler.framework.types import NodeInfo, PodInfo
from skiff_scheduler.queue import QueuedPodInfo, SchedulingQueue

log = get_logger(__name__)
PLUGIN_METRICS_SAMPLE = 0.1
MAX_IN_FLIGHT_BINDINGS = 32


@dataclass
class ScheduleResult:
    node: str = ""
    evaluated: int = 0
    feasible: int = 0
    statuses: dict[str, Status] = field(default_factory=dict)
    excluded: Counter[str] = field(default_factory=Counter)
    status: Status = field(default_factory=Status)


class Scheduler:
    def __init__(
        self,
        api: ApiClient,
        frameworks: dict[str, Framework],
        cache: SchedulerCache,
        queue: SchedulingQueue,
        snapshot: Snapshot,
        nominator: Nominator,
        events: EventRecorder,
    ) -> None:
        self.api = api
        self.frameworks = frameworks
        self.cache = cache
        self.queue = queue
        self.snapshot = snapshot
        self.nominator = nominator
        self.events = events
        self.next_start = 0
        self.in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.scheduled = 0
        self._bind_slots = asyncio.Semaphore(MAX_IN_FLIGHT_BINDINGS)

    def framework_for(self, pod: pod_pb2.Pod) -> Framework | None:
        return self.frameworks.get(pod.spec.scheduler_name or "default-scheduler")

    async def run(self) -> None:
        while True:
            qpi = await self.queue.pop()
            if qpi is None:
                return
            try:
                await self.schedule_one(qpi)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not stop scheduling
                log.exception("schedule.crashed", pod=qpi.key)
                self._fail(qpi, Status.error(str(exc)), self.queue.scheduling_cycle, None)
            # A cycle that succeeds awaits nothing: yield, so binding tasks and informers run between cycles,
            # and hold back while too many bindings are in flight (their pods are assumed in the cache).
            await asyncio.sleep(0)
            await self._bind_slots.acquire()
            self._bind_slots.release()

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- scheduling cycle ------------------------------------------------------------------------------
    async def schedule_one(self, qpi: QueuedPodInfo) -> None:
        pi = qpi.info
        fw = self.framework_for(pi.pod)
        if fw is None or pi.pod.metadata.HasField("deletion_timestamp") or self.cache.is_assumed(pi.uid):
            return
        cycle = self.queue.scheduling_cycle
        t0 = time.perf_counter()
        self.cache.update_snapshot(self.snapshot)
        state = CycleState()
        state.record_metrics = random.random() < PLUGIN_METRICS_SAMPLE
        result = self.schedule_pod(fw, state, pi)
        if not result.node:
            nominated: str | None = None
            status = result.status
            message = status.message()
            if status.rejected:
                message = fit_message(len(self.snapshot.nodes), result.statuses, result.excluded)
                if fw.post_filter and any(s.code is Code.UNSCHEDULABLE for s in result.statuses.values()):
                    node, pf = await fw.run_post_filter(state, pi, result.statuses)
                    if node:
                        nominated = node
                        self.nominator.add(pi, node)
                    elif pf.reasons and pf.reasons[0].startswith("preemption:"):
                        message += " " + pf.reasons[0]
                    elif pf.reasons and pf.code is not Code.UNSCHEDULABLE:
                        message += " preemption: " + pf.message()
                elif fw.post_filter:
                    message += f" preemption: 0/{len(self.snapshot.nodes)} nodes are available: " + (
                        f"{len(self.snapshot.nodes)} Preemption is not helpful for scheduling."
                    )
            metrics.SCHEDULE_ATTEMPTS.labels(_result(status), fw.profile_name).inc()
            metrics.ATTEMPT_DURATION.labels(_result(status), fw.profile_name).observe(time.perf_counter() - t0)
            qpi.unschedulable_plugins = {s.plugin for s in result.statuses.values() if s.plugin} | (
                {status.plugin} if status.plugin else set()
            )
            self._fail(qpi, Status(status.code, (message,), status.plugin), cycle, nominated)
            return
        node = result.node
        self.cache.assume(pi, node)
        status = fw.run_reserve(state, pi, node)
        if status.ok:
            status = fw.run_permit(state, pi, node)
        if not status.ok and status.code is not Code.WAIT:
            fw.run_unreserve(state, pi, node)
            self.cache.forget(pi)
            qpi.unschedulable_plugins = {status.plugin}
            self._fail(qpi, status, cycle, None)
            return
        self.in_flight.add(pi.key)
        await self._bind_slots.acquire()
        task = asyncio.create_task(self.binding_cycle(fw, state, qpi, node, t0), name=f"bind-{pi.key}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def schedule_pod(self, fw: Framework, state: CycleState, pi: PodInfo) -> ScheduleResult:
        snap = self.snapshot
        res = ScheduleResult()
        if not snap.nodes:
            res.status = Status.unschedulable("no nodes available to schedule pods")
            return res
        pre, status = fw.run_pre_filter(state, pi, snap.nodes)
        if not status.ok:
            # PreFilter rejected the pod: every node carries the same status.
            res.statuses = {n.name: status for n in snap.nodes} if status.rejected else {}
            res.status = status
            return res
        nodes = snap.nodes
        if pre is not None and pre.node_names is not None:
            nodes = [snap.by_name[n] for n in sorted(pre.node_names) if n in snap.by_name]
            left_out = len(snap.nodes) - len(nodes)
            if left_out:
                res.excluded["node(s) didn't satisfy plugin(s) [NodeAffinity]"] = left_out
            to_find = len(nodes)
        else:
            to_find = num_feasible_nodes_to_find(len(nodes), fw.percentage_of_nodes_to_score)
        feasible = self.find_feasible(fw, state, pi, nodes, to_find, res)
        if not feasible:
            res.status = Status.unschedulable()
            return res
        res.feasible = len(feasible)
        if len(feasible) == 1:
            res.node = feasible[0].name
            return res
        status = fw.run_pre_score(state, pi, feasible)
        if not status.ok:
            res.status = status
            return res
        scores = fw.run_score(state, pi, feasible)
        res.node = select_host(scores)
        return res

    def find_feasible(
        self, fw: Framework, state: CycleState, pi: PodInfo, nodes: list[NodeInfo], to_find: int, res: ScheduleResult
    ) -> list[NodeInfo]:
        n = len(nodes)
        start = self.next_start % n if n else 0
        feasible: list[NodeInfo] = []
        statuses = res.statuses
        nominated_any = bool(self.nominator)
        check = fw.run_filter_with_nominated if nominated_any else fw.run_filter
        processed = 0
        for i in range(n):
            node = nodes[(start + i) % n]
            processed += 1
            st = check(state, pi, node)
            if st.ok:
                feasible.append(node)
                if len(feasible) >= to_find:
                    break
            else:
                statuses[node.name] = st
        res.evaluated = processed
        if nodes is self.snapshot.nodes:
            self.next_start = (start + processed) % n
        return feasible

    def _fail(self, qpi: QueuedPodInfo, status: Status, cycle: int, nominated: str | None) -> None:
        pod = qpi.info.pod
        self.queue.add_unschedulable(qpi, cycle)
        reason = "SchedulerError" if status.code is Code.ERROR else "Unschedulable"
        message = status.message() or "0/0 nodes are available."
        if status.code is Code.ERROR:
            log.warning("schedule.error", pod=qpi.key, error=message)
        task = asyncio.create_task(report_failure(self.api, self.events, pod, reason, message, nominated))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- binding cycle ---------------------------------------------------------------------------------
    async def binding_cycle(self, fw: Framework, state: CycleState, qpi: QueuedPodInfo, node: str, t0: float) -> None:
        pi = qpi.info
        try:
            status = await fw.wait_on_permit(pi)
            if status.ok:
                status = await fw.run_pre_bind(state, pi, node)
            if status.ok:
                try:
                    status = await fw.run_bind(state, pi, node)
                except Exception as exc:
                    status = Status.error(f"binding failed: {exc}")
            if not status.ok:
                fw.run_unreserve(state, pi, node)
                self.cache.forget(pi)
                metrics.SCHEDULE_ATTEMPTS.labels(_result(status), fw.profile_name).inc()
                qpi.unschedulable_plugins = {status.plugin} if status.rejected and status.plugin else set()
                self._fail(qpi, status, self.queue.scheduling_cycle, None)
                return
            self.cache.finish_binding(pi)
            self.nominator.remove(pi.uid)
            fw.run_post_bind(state, pi, node)
            self.scheduled += 1
            metrics.SCHEDULE_ATTEMPTS.labels("scheduled", fw.profile_name).inc()
            metrics.ATTEMPT_DURATION.labels("scheduled", fw.profile_name).observe(time.perf_counter() - t0)
            if qpi.initial_attempt is not None:
                metrics.POD_SLI_DURATION.labels(str(min(qpi.attempts, 15))).observe(
                    time.monotonic() - qpi.initial_attempt
                )
            meta = pi.pod.metadata
            self.events.record(
                pi.pod, "Normal", "Scheduled", f"Successfully assigned {meta.namespace}/{meta.name} to {node}"
            )
        finally:
            self.in_flight.discard(pi.key)
            self._bind_slots.release()


def select_host(scores: Sequence[NodeScore]) -> str:
    """Highest total score; ties broken uniformly at random (as kube-scheduler's reservoir sampling)."""
    if not scores:
        return ""
    best = max(ns.score for ns in scores)
    return random.choice([ns.name for ns in scores if ns.score == best])


def _result(status: Status) -> str:
    return "error" if status.code is Code.ERROR else "unschedulable"
