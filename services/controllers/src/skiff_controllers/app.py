"""The controller manager: one ApiClient, one InformerFactory shared by every controller.

With ``credentials`` (--use-service-account-credentials) each controller gets its own context whose
client and event recorder act as the controller's ServiceAccount (credentials.py); the informer factory
stays shared and reads as the manager itself.

Constructing the controllers registers their informers and handlers; ``start`` starts the factory once
and every controller's WorkLoop (each waits for the caches to sync). ``stop`` undoes all of it, so a
leader that loses its Lease can stop and later start a fresh manager in the same process.
"""

from __future__ import annotations

import asyncio
from typing import Any

from skiff_client import ApiClient, EventRecorder, InformerFactory
from skiff_client.controller import WorkLoop
from skiff_common.observability import get_logger

from skiff_controllers.base import ControllerContext, loop_of
from skiff_controllers.config import ControllersConfig
from skiff_controllers.credentials import ServiceAccountCredentials
from skiff_controllers.registry import CONTROLLERS, SERVICE_ACCOUNTS
from skiff_controllers.statemetrics import StateMetrics

log = get_logger(__name__)


class ControllerManager:
    def __init__(
        self,
        api: ApiClient,
        names: list[str],
        *,
        component: str = "controller-manager",
        config: ControllersConfig | None = None,
        state_metrics: bool = False,
        credentials: ServiceAccountCredentials | None = None,
    ) -> None:
        self.ctx = ControllerContext(
            api=api,
            factory=InformerFactory(api),
            events=EventRecorder(api, component),
            config=config or ControllersConfig(),
        )
        self.credentials = credentials
        self._recorders: list[EventRecorder] = []
        self.controllers: dict[str, Any] = {n: CONTROLLERS[n](self._context(n, component)) for n in names}
        self.loops: dict[str, WorkLoop] = {n: loop_of(c) for n, c in self.controllers.items()}
        self._tasks: list[asyncio.Task[None]] = []
        # kube-state-metrics' object series from the same caches (only the process's leading manager).
        self.state_metrics = StateMetrics(self.ctx.factory) if state_metrics else None

    def _context(self, name: str, component: str) -> ControllerContext:
        if self.credentials is None:
            return self.ctx
        client = self.credentials.client(SERVICE_ACCOUNTS[name])
        events = EventRecorder(client, component)
        self._recorders.append(events)
        return ControllerContext(
            api=client,
            factory=self.ctx.factory,
            events=events,
            config=self.ctx.config,
            bearer_token=self.credentials.token(SERVICE_ACCOUNTS[name]),
        )

    async def start(self) -> None:
        if self.credentials is not None:
            await self.credentials.prepare()
        self.ctx.factory.start()
        if self.state_metrics is not None:
            self.state_metrics.register()
        self._tasks = [asyncio.create_task(loop.run(), name=f"controller-{n}") for n, loop in self.loops.items()]
        log.info("controllers.started", controllers=list(self.loops))

    async def stop(self) -> None:
        if self.state_metrics is not None:
            self.state_metrics.unregister()
        for loop in self.loops.values():
            loop.shutdown()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.ctx.factory.stop()
        for recorder in (self.ctx.events, *self._recorders):
            await recorder.flush()
        if self.credentials is not None:
            await self.credentials.stop()
