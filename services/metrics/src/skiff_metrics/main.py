"""skiff-metrics entry point: config -> observability -> MetricsServer -> wait for SIGTERM -> stop."""

from __future__ import annotations

import asyncio
import signal
import sys

from skiff_client import ApiClient
from skiff_common.config import describe_config, load_config
from skiff_common.observability import get_logger, setup_observability

from skiff_metrics.app import MetricsServer
from skiff_metrics.config import MetricsConfig


async def _run(cfg: MetricsConfig) -> None:
    log = get_logger("skiff_metrics")
    api = ApiClient.connect(cfg.apiserver, tls=cfg.tls(), wait_for_ready=True)
    server = MetricsServer(api, cfg)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    await stop.wait()
    log.info("metrics.stopping")
    await server.stop()
    await api.close()


def main(argv: list[str] | None = None) -> None:
    cfg = load_config(MetricsConfig, argv)
    try:
        cfg.validate()
    except ValueError as exc:
        print(f"skiff-metrics: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    setup_observability("metrics", log_level=cfg.log_level, metrics_address=cfg.metrics_address or None)
    get_logger("skiff_metrics").info("metrics.config", **describe_config(cfg))
    asyncio.run(_run(cfg))


if __name__ == "__main__":
    main()
