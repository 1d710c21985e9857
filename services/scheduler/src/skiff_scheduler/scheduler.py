"""The scheduling loop: one pod at a time, Filter -> Score -> Bind.

Serial on purpose: with one worker the cache cannot be raced by a second cycle (kube-scheduler also
schedules one pod at a time; only binding is asynchronous there). Pods that fit nowhere get
PodScheduled=False (reason Unschedulable, a "0/N nodes are available: ..." message), a
FailedScheduling Event, and are retried with per-pod backoff (1 s doubling to 10 s) -- and at once
when a node is added or changes, since that may be what they wait for.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter as TallyCounter

from prometheus_client import Counter, Histogram
from skiff.api.core.v1 import node_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient, EventRecorder, Informer, RateLimitingQueue, ShutDown, object_key
from skiff_client.events import now_timestamp
from skiff_client.workqueue import ItemExponentialLimiter, MaxOfLimiter
from skiff_common import errors
from skiff_common.observability import get_logger

from skiff_scheduler.cache import SchedulerCache
from skiff_scheduler.framework import Code, Framework, NodeInfo

log = get_logger(__name__)

ATTEMPTS = Counter("skiff_scheduler_schedule_attempts_total", "Scheduling attempts by result", ["result"])
LATENCY = Histogram("skiff_scheduler_scheduling_duration_seconds", "One scheduling cycle")
SCHEDULER_NAMES = ("", "default-scheduler", "skiff-scheduler")


class Unschedulable(Exception):
    pass


def failure_message(total: int, reasons: TallyCounter[str]) -> str:
    parts = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items()))
    return f"0/{total} nodes are available: {parts}." if parts else f"0/{total} nodes are available."


class Scheduler:
    def __init__(
        self,
        api: ApiClient,
        framework: Framework,
        pending: Informer[pod_pb2.Pod],
        cache: SchedulerCache,
        events: EventRecorder,
    ) -> None:
        self.api = api
        self.framework = framework
        self.pending = pending
        self.cache = cache
        self.events = events
        self.queue: RateLimitingQueue[str] = RateLimitingQueue(
            MaxOfLimiter(ItemExponentialLimiter(base=1.0, cap=10.0)), name="scheduling"
        )
        pending.add_handler(on_add=self._enqueue, on_update=lambda _o, n: self._enqueue(n))
        cache.nodes.add_handler(on_add=lambda _n: self._retry_all(), on_update=self._node_changed)

    def _enqueue(self, pod: pod_pb2.Pod) -> None:
        if self._wants(pod):
            self.queue.add(object_key(pod))

    @staticmethod
    def _wants(pod: pod_pb2.Pod) -> bool:
        return (
            not pod.spec.node_name
            and not pod.metadata.HasField("deletion_timestamp")
            and pod.spec.scheduler_name in SCHEDULER_NAMES
        )

    def _node_changed(self, old: node_pb2.Node, new: node_pb2.Node) -> None:
        # Heartbeats change only timestamps; retry waiting pods only on changes that can matter.
        if (
            old.spec != new.spec
            or old.metadata.labels != new.metadata.labels
            or old.status.allocatable != new.status.allocatable
            or [(c.type, c.status) for c in old.status.conditions]
            != [(c.type, c.status) for c in new.status.conditions]
        ):
            self._retry_all()

    def _retry_all(self) -> None:
        for pod in self.pending.store.list():
            self._enqueue(pod)

    async def run(self) -> None:
        await asyncio.gather(
            self.pending.wait_synced(), self.cache.nodes.wait_synced(), self.cache.assigned.wait_synced()
        )
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            try:
                await self.schedule_key(key)
                self.queue.forget(key)
            except Unschedulable:
                self.queue.add_rate_limited(key)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                ATTEMPTS.labels("error").inc()
                log.warning("schedule.error", pod=key, error=str(exc), exc_info=True)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)

    def select_node(self, pod: pod_pb2.Pod, nodes: list[NodeInfo]) -> tuple[NodeInfo | None, TallyCounter[str]]:
        reasons: TallyCounter[str] = TallyCounter()
        feasible: list[NodeInfo] = []
        for info in nodes:
            status = self.framework.run_filters(pod, info)
            if status.ok:
                feasible.append(info)
            else:
                for r in status.reasons or (status.code.value,):
                    reasons[r] += 1
                if status.code == Code.ERROR:
                    log.warning("schedule.plugin_error", plugin=status.plugin, reasons=status.reasons)
        if not feasible:
            return None, reasons
        scored = [(self.framework.run_scores(pod, info), info) for info in feasible]
        best = max(s for s, _ in scored)
        return random.choice([info for s, info in scored if s == best]), reasons

    async def schedule_key(self, key: str) -> None:
        pod = self.pending.store.get(key)
        if pod is None or not self._wants(pod):
            return
        with LATENCY.time():
            nodes = self.cache.node_infos()
            chosen, reasons = self.select_node(pod, nodes)
        if chosen is None:
            ATTEMPTS.labels("unschedulable").inc()
            message = failure_message(len(nodes), reasons)
            await self._mark_unschedulable(pod, message)
            raise Unschedulable(message)
        self.cache.assume(pod, chosen.name)
        try:
            await self.api.bind(pod.metadata.name, pod.metadata.namespace, chosen.name)
        except (errors.NotFound, errors.Conflict):
            self.cache.forget(pod)  # deleted or already bound meanwhile: nothing to do
            return
        except Exception:
            self.cache.forget(pod)
            raise
        ATTEMPTS.labels("scheduled").inc()
        self.events.record(
            pod,
            "Normal",
            "Scheduled",
            f"Successfully assigned {pod.metadata.namespace}/{pod.metadata.name} to {chosen.name}",
        )
        log.info("pod.scheduled", pod=key, node=chosen.name)

    async def _mark_unschedulable(self, pod: pod_pb2.Pod, message: str) -> None:
        self.events.record(pod, "Warning", "FailedScheduling", message)
        for cond in pod.status.conditions:
            if cond.type == "PodScheduled" and cond.status == "False" and cond.message == message:
                return  # already says so: no write
        conds = [c for c in pod.status.conditions if c.type != "PodScheduled"]
        conds.append(
            meta_pb2.Condition(
                type="PodScheduled",
                status="False",
                reason="Unschedulable",
                message=message,
                last_transition_time=now_timestamp(),
            )
        )
        updated = pod_pb2.Pod()
        updated.CopyFrom(pod)
        del updated.status.conditions[:]
        updated.status.conditions.extend(conds)
        if not updated.status.phase:
            updated.status.phase = "Pending"
        try:
            await self.api.update_status(updated)
        except (errors.Conflict, errors.NotFound):
            pass  # a newer version will come through the informer and be retried
