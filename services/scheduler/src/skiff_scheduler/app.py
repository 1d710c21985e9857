"""Assembly: one informer factory (pending pods, bound pods, nodes), the framework, the loop."""

from __future__ import annotations

import asyncio

from skiff.api.core.v1 import node_pb2, pod_pb2
from skiff_client import ApiClient, EventRecorder, InformerFactory

from skiff_scheduler.cache import SchedulerCache
from skiff_scheduler.framework import Framework
from skiff_scheduler.plugins import default_registry
from skiff_scheduler.scheduler import Scheduler


class SchedulerApp:
    def __init__(self, api: ApiClient, plugins: list[str] | None = None) -> None:
        self.api = api
        self.factory = InformerFactory(api)
        pending = self.factory.informer(pod_pb2.Pod, field_selector="spec.nodeName=")
        assigned = self.factory.informer(pod_pb2.Pod, field_selector="spec.nodeName!=")
        nodes = self.factory.informer(node_pb2.Node)
        self.cache = SchedulerCache(nodes, assigned)
        framework = Framework.from_plugins(default_registry().build(plugins or None))
        self.events = EventRecorder(api, "default-scheduler")
        self.scheduler = Scheduler(api, framework, pending, self.cache, self.events)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.factory.start()
        self._task = asyncio.create_task(self.scheduler.run(), name="scheduling-loop")

    async def stop(self) -> None:
        self.scheduler.queue.shutdown()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.factory.stop()
        await self.events.flush()
