"""What every controller of the manager shares: the ControllerContext, and a thin class-style layer
over the kit's WorkLoop for controllers written as a class with a ``reconcile`` method.

New controllers use ``skiff_client.controller`` directly (a ``ControllerBuilder`` ... ``.complete``)
and expose ``new_<name>(ctx) -> WorkLoop`` or an object with ``.loop``; see docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from skiff_client import ApiClient, EventRecorder, InformerFactory, RateLimitingQueue
from skiff_client.controller import PodControl, Result, TerminalError, WorkLoop

from skiff_controllers.config import ControllersConfig

__all__ = ["Controller", "ControllerContext", "Result", "TerminalError", "loop_of"]


@dataclass
class ControllerContext:
    api: ApiClient
    factory: InformerFactory
    events: EventRecorder
    config: ControllersConfig = field(default_factory=ControllersConfig)  # flags controllers read
    # The bearer token `api` acts with (--use-service-account-credentials), for a controller that also
    # calls the apiserver's REST port (the HPA's metrics client); None: the manager's own certificate.
    bearer_token: Callable[[], str] | None = None
    pod_control: PodControl = field(init=False)

    def __post_init__(self) -> None:
        self.pod_control = PodControl(self.api, self.events)


class Controller:
    """A controller as a class: subclasses set ``name``, register handlers that call
    ``self.queue.add(key)``, and implement ``reconcile``. Runs on a kit WorkLoop (``self.loop``)."""

    name: ClassVar[str] = "controller"
    workers: ClassVar[int] = 2

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx
        self.api = ctx.api
        self.loop = WorkLoop(self.name, self.reconcile, workers=self.workers, wait_synced=ctx.factory.wait_synced)
        self.queue: RateLimitingQueue[str] = self.loop.queue

    async def reconcile(self, key: str) -> Result | None:
        raise NotImplementedError

    async def run(self) -> None:
        await self.loop.run()


def loop_of(controller: Any) -> WorkLoop:
    """A registry entry's product as a WorkLoop: a WorkLoop itself, or anything with ``.loop``."""
    if isinstance(controller, WorkLoop):
        return controller
    loop = getattr(controller, "loop", None)
    if not isinstance(loop, WorkLoop):
        raise TypeError(f"controller constructor returned {type(controller).__name__}, which has no WorkLoop")
    return loop
