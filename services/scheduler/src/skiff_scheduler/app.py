"""Assembly: informers (pending pods, assigned pods, nodes, namespaces) -> cache and queue; profiles ->
frameworks; leader election (optional) gates the scheduling loop, not the caches, so a new leader
starts with warm caches."""

from __future__ import annotations

import asyncio
import socket
import uuid

from skiff.api.core.v1 import namespace_pb2, node_pb2, pod_pb2
from skiff_client import ApiClient, EventRecorder, InformerFactory
from skiff_client.leader import LeaderElector
from skiff_common.observability import get_logger

from skiff_scheduler.cache import SchedulerCache
from skiff_scheduler.events import EventHandlers
from skiff_scheduler.framework.build import build_framework
from skiff_scheduler.framework.handle import Handle, Nominator, Snapshot
from skiff_scheduler.framework.interfaces import ClusterEventWithHint
from skiff_scheduler.framework.runtime import Framework
from skiff_scheduler.plugins import default_registry
from skiff_scheduler.profile import SchedulerConfiguration
from skiff_scheduler.queue import SchedulingQueue
from skiff_scheduler.scheduler import Scheduler

log = get_logger(__name__)
LEASE_NAME = "kube-scheduler"


class SchedulerApp:
    def __init__(
        self,
        api: ApiClient,
        config: SchedulerConfiguration | None = None,
        *,
        leader_elect: bool = False,
        identity: str = "",
    ) -> None:
        self.api = api
        config = config or SchedulerConfiguration()
        self.factory = InformerFactory(api)
        self.pending = self.factory.informer(pod_pb2.Pod, field_selector="spec.nodeName=")
        self.assigned = self.factory.informer(pod_pb2.Pod, field_selector="spec.nodeName!=")
        self.nodes = self.factory.informer(node_pb2.Node)
        self.ns_informer = self.factory.informer(namespace_pb2.Namespace)
        self.events = EventRecorder(api, "default-scheduler")
        self.cache = SchedulerCache()
        self.snapshot = Snapshot()
        self.nominator = Nominator()
        self.namespaces: dict[str, dict[str, str]] = {}
        registry = default_registry()
        self.frameworks: dict[str, Framework] = {}
        for prof in config.profiles:
            handle = Handle(api, self.snapshot, self.nominator, self.namespaces, events=self.events)
            fw = build_framework(prof, registry, handle, config.percentage_of_nodes_to_score)
            self.frameworks[prof.scheduler_name] = fw
        first = next(iter(self.frameworks.values()))
        events_by_plugin: dict[str, list[ClusterEventWithHint]] = {}
        for fw in self.frameworks.values():
            for name, regs in fw.events_by_plugin().items():
                events_by_plugin.setdefault(name, regs)
        self.queue = SchedulingQueue(first.queue_sort.less, events_by_plugin)
        self.scheduler = Scheduler(
            api, self.frameworks, self.cache, self.queue, self.snapshot, self.nominator, self.events
        )
        h = EventHandlers(self.cache, self.queue, self.nominator, self.namespaces, self.wants, self.scheduler.in_flight)
        self.pending.add_handler(h.pending_add, h.pending_update, h.pending_delete)
        self.assigned.add_handler(h.assigned_add, h.assigned_update, h.assigned_delete)
        self.nodes.add_handler(h.node_add, h.node_update, h.node_delete)
        self.ns_informer.add_handler(h.namespace_set, h.namespace_set, h.namespace_delete)
        self.elector = (
            LeaderElector(api, identity or f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}", name=LEASE_NAME)
            if leader_elect
            else None
        )
        self.is_leader = not leader_elect
        self._task: asyncio.Task[None] | None = None

    def wants(self, pod: pod_pb2.Pod) -> bool:
        return (
            not pod.spec.node_name
            and not pod.metadata.HasField("deletion_timestamp")
            and (pod.spec.scheduler_name or "default-scheduler") in self.frameworks
        )

    async def start(self) -> None:
        self.factory.start()
        self._task = asyncio.create_task(self._run(), name="scheduler")

    async def _run(self) -> None:
        await self.factory.wait_synced()
        flush = asyncio.create_task(self.queue.run_flushes(), name="scheduler-queue-flush")
        expire = asyncio.create_task(self._expire_assumed(), name="scheduler-cache-expiry")
        try:
            if self.elector is None:
                await self.scheduler.run()
                return
            while True:
                await self.elector.acquire()
                self.is_leader = True
                self._requeue_pending()  # pods popped by a cancelled loop are back in the queue
                loop = asyncio.create_task(self.scheduler.run(), name="scheduling-loop")
                await self.elector.hold()
                # Leadership lost: stop scheduling (a clean stop between cycles), wait for binds, campaign.
                log.error("scheduler.leadership_lost")
                self.is_leader = False
                loop.cancel()
                await asyncio.gather(loop, return_exceptions=True)
                await self.scheduler.drain()
        finally:
            flush.cancel()
            expire.cancel()

    def _requeue_pending(self) -> None:
        for pod in self.pending.store.list():
            if self.wants(pod) and pod.metadata.uid and not self.cache.is_assumed(pod.metadata.uid):
                key = f"{pod.metadata.namespace}/{pod.metadata.name}"
                if key not in self.queue and key not in self.scheduler.in_flight:
                    self.queue.add(pod)

    async def _expire_assumed(self) -> None:
        """Assumed pods whose binding finished but never showed up in the informer are dropped (TTL)."""
        while True:
            await asyncio.sleep(1.0)
            self.cache.cleanup_expired()

    async def stop(self) -> None:
        self.queue.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.scheduler.drain()
        await self.factory.stop()
        await self.events.flush()
