"""skiff-scheduler entry point: config -> observability -> (leader election) -> scheduling loop -> SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys

from skiff_client import ApiClient
from skiff_common.config import describe_config, load_config
from skiff_common.observability import get_logger, setup_observability

from skiff_scheduler.app import SchedulerApp
from skiff_scheduler.config import SchedulerConfig
from skiff_scheduler.framework.build import build_framework
from skiff_scheduler.framework.handle import Handle
from skiff_scheduler.plugins import default_registry
from skiff_scheduler.profile import ConfigError, SchedulerConfiguration, load_configuration


def check_configuration(sc: SchedulerConfiguration) -> None:
    """Build every profile once without a client, so a bad config fails at start with its field named."""
    for prof in sc.profiles:
        build_framework(prof, default_registry(), Handle(), sc.percentage_of_nodes_to_score)


async def _run(cfg: SchedulerConfig, sc: SchedulerConfiguration) -> None:
    api = ApiClient.connect(cfg.apiserver, tls=cfg.tls(), wait_for_ready=True)
    app = SchedulerApp(api, sc, leader_elect=cfg.leader_elect, identity=cfg.leader_identity)
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
        sc = load_configuration(cfg.scheduler_config)
        check_configuration(sc)
    except (ValueError, ConfigError) as exc:
        print(f"skiff-scheduler: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    setup_observability("scheduler", log_level=cfg.log_level, metrics_address=cfg.metrics_address or None)
    get_logger("skiff_scheduler").info("scheduler.config", **describe_config(cfg))
    asyncio.run(_run(cfg, sc))


if __name__ == "__main__":
    main()
