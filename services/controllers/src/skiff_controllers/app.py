"""The controller manager: one ApiClient, one InformerFactory shared by every controller."""

from __future__ import annotations

import asyncio

from skiff_client import ApiClient, EventRecorder, InformerFactory
from skiff_common.observability import get_logger

from skiff_controllers.base import Controller, ControllerContext
from skiff_controllers.registry import CONTROLLERS

log = get_logger(__name__)


class ControllerManager:
    def __init__(self, api: ApiClient, names: list[str]) -> None:
        self.ctx = ControllerContext(
            api=api, factory=InformerFactory(api), events=EventRecorder(api, "controller-manager")
        )
        # Constructing registers informers and handlers; start() then starts the factory once.
        self.controllers: list[Controller] = [CONTROLLERS[n](self.ctx) for n in names]
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.ctx.factory.start()
        self._tasks = [asyncio.create_task(c.run(), name=f"controller-{c.name}") for c in self.controllers]
        log.info("controllers.started", controllers=[c.name for c in self.controllers])

    async def stop(self) -> None:
        for c in self.controllers:
            c.queue.shutdown()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.ctx.factory.stop()
        await self.ctx.events.flush()
