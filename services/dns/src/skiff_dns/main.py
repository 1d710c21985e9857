"""skiff-dns entry point: config -> observability -> informers + DNS listeners -> graceful SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys

from skiff_client import ApiClient
from skiff_common.config import describe_config, load_config
from skiff_common.observability import get_logger, setup_observability

from skiff_dns.app import DnsApp
from skiff_dns.config import DnsConfig
from skiff_dns.source import detect_source


async def _run(cfg: DnsConfig) -> None:
    log = get_logger("skiff_dns")
    api = ApiClient.connect(cfg.apiserver, tls=cfg.tls(), wait_for_ready=True)
    source = cfg.endpoint_source if cfg.endpoint_source != "auto" else await detect_source(api)
    log.info("dns.endpoint_source", source=source)
    try:
        app = DnsApp(api, cfg, source)
    except ValueError as exc:
        log.error("dns.bad_endpoint_source", error=str(exc))
        await api.close()
        raise SystemExit(2) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await app.start()
    except OSError as exc:
        log.error("dns.bind_failed", error=str(exc))
        await api.close()
        raise SystemExit(1) from None
    synced = asyncio.create_task(app.wait_synced(), name="wait-synced")
    synced.add_done_callback(lambda _t: log.info("dns.caches_synced"))
    await stop.wait()
    log.info("dns.stopping")
    synced.cancel()
    await app.stop()
    await api.close()


def main(argv: list[str] | None = None) -> None:
    cfg = load_config(DnsConfig, argv)
    try:
        cfg.tls()
        cfg.validate()
    except ValueError as exc:
        print(f"skiff-dns: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    setup_observability("dns", log_level=cfg.log_level, metrics_address=cfg.metrics_address or None)
    get_logger("skiff_dns").info("dns.config", **describe_config(cfg))
    asyncio.run(_run(cfg))


if __name__ == "__main__":
    main()
