"""skiff-controllers entry point: config -> observability -> (leader election) -> controllers."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

from skiff_client import ApiClient
from skiff_common.config import describe_config, load_config
from skiff_common.observability import get_logger, setup_observability

from skiff_controllers.app import ControllerManager
from skiff_controllers.config import ControllersConfig
from skiff_controllers.leader import LeaderElector
from skiff_controllers.registry import select

log = get_logger("skiff_controllers")


async def _run(cfg: ControllersConfig, names: list[str]) -> int:
    api = ApiClient.connect(cfg.apiserver, tls=cfg.tls(), wait_for_ready=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    elector = LeaderElector(api, cfg.leader_identity) if cfg.leader_elect else None
    code = 0
    if elector is not None:
        acquire = asyncio.create_task(elector.acquire())
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait({acquire, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            acquire.cancel()
            await api.close()
            return 0
        waiter.cancel()
    manager = ControllerManager(api, names, config=cfg)
    await manager.start()
    waits: set[asyncio.Task[Any]] = {asyncio.create_task(stop.wait())}
    if elector is not None:
        waits.add(asyncio.create_task(elector.hold()))
    _done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    if not stop.is_set():
        code = 1  # leadership lost: exit so a supervisor restarts us as a candidate
    for t in pending:
        t.cancel()
    log.info("controllers.stopping")
    await manager.stop()
    await api.close()
    return code


def main(argv: list[str] | None = None) -> None:
    cfg = load_config(ControllersConfig, argv)
    try:
        cfg.tls()
        names = select(cfg.controllers)
    except ValueError as exc:
        print(f"skiff-controllers: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    setup_observability("controllers", log_level=cfg.log_level, metrics_address=cfg.metrics_address or None)
    log.info("controllers.config", **describe_config(cfg))
    raise SystemExit(asyncio.run(_run(cfg, names)))


if __name__ == "__main__":
    main()
