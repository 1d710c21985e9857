"""skiff-controllers entry point: config -> observability -> (leader election) -> controllers.

The process never exits because the apiserver went away or the Lease was lost::

    loop until SIGTERM:
        campaign for the Lease (retrying while the apiserver is down)
        start a fresh ControllerManager (informers + work loops)
        renew the Lease; when renewing fails for renew_deadline -> stop every controller, campaign again

Stopping the controllers before campaigning again keeps Kubernetes' guarantee (only the Lease holder
acts) without a process restart; a new manager starts from fresh caches and fresh expectations.
"""

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
from skiff_controllers.credentials import ServiceAccountCredentials
from skiff_controllers.leader import LeaderElector
from skiff_controllers.registry import select

log = get_logger("skiff_controllers")
LEASE_NAME = "kube-controller-manager"


async def _until(stop: asyncio.Event, coro: Any) -> bool:
    """Run ``coro`` until it finishes or ``stop`` is set; True if it finished first."""
    work = asyncio.ensure_future(coro)
    waiter = asyncio.ensure_future(stop.wait())
    await asyncio.wait({work, waiter}, return_when=asyncio.FIRST_COMPLETED)
    for t in (work, waiter):
        if not t.done():
            t.cancel()
    await asyncio.gather(work, waiter, return_exceptions=True)
    return work.done() and not work.cancelled() and not stop.is_set()


async def run_manager(
    api: ApiClient,
    names: list[str],
    elector: LeaderElector | None,
    stop: asyncio.Event,
    config: ControllersConfig | None = None,
) -> None:
    """Lead (or just run, without election) until ``stop``; leadership lost means campaign again."""
    while not stop.is_set():
        if elector is not None and not await _until(stop, elector.acquire()):
            return
        credentials = ServiceAccountCredentials(api) if config and config.use_service_account_credentials else None
        manager = ControllerManager(api, names, config=config, state_metrics=True, credentials=credentials)
        await manager.start()
        try:
            if elector is None:
                await stop.wait()
            elif await _until(stop, elector.hold()):
                log.warning("controllers.leadership_lost", action="stopping controllers, campaigning again")
        finally:
            log.info("controllers.stopping")
            await manager.stop()


async def _run(cfg: ControllersConfig, names: list[str]) -> int:
    api = ApiClient.connect(cfg.apiserver, tls=cfg.tls(), wait_for_ready=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # kube-controller-manager's Lease: the one its bootstrap role may get and update.
    elector = LeaderElector(api, cfg.leader_identity, name=LEASE_NAME) if cfg.leader_elect else None
    try:
        await run_manager(api, names, elector, stop, config=cfg)
    finally:
        await api.close()
    return 0


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
