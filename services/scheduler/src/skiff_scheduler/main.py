"""skiff-scheduler entry point: config -> observability -> scheduling loop -> graceful SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys

from skiff_client import ApiClient
from skiff_common.config import describe_config, load_config
from skiff_common.observability import get_logger, setup_observability

from skiff_scheduler.app import SchedulerApp
from skiff_scheduler.config import SchedulerConfig
from skiff_scheduler.plugins import default_registry


async def _run(cfg: SchedulerConfig) -> None:
    api = ApiClient.connect(cfg.apiserver, tls=cfg.tls(), wait_for_ready=True)
    app = SchedulerApp(api, cfg.plugins)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await app.start()
    await stop.wait()
    get_logger("skiff_scheduler").info("scheduler.stopping")
    await app.stop()
    await api.close()


def main(argv: list[str] | None = None) -> None:
    cfg = load_config(SchedulerConfig, argv)
    try:
        cfg.tls()
        default_registry().build(cfg.plugins or None)
    except ValueError as exc:
        print(f"skiff-scheduler: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    setup_observability("scheduler", log_level=cfg.log_level, metrics_address=cfg.metrics_address or None)
    get_logger("skiff_scheduler").info("scheduler.config", **describe_config(cfg))
    asyncio.run(_run(cfg))


if __name__ == "__main__":
    main()
