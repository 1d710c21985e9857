"""skiff-proxy entry point: config -> observability -> (cleanup | informers + sync loop) -> SIGTERM.

On SIGTERM the rules stay in place (as kube-proxy's do): established and new connections keep working
until the next proxy takes over and rebuilds the table. ``--cleanup`` removes the table and exits.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from skiff_client import ApiClient
from skiff_common.config import describe_config, load_config
from skiff_common.observability import get_logger, setup_observability

from skiff_proxy.app import ProxyApp, options_from
from skiff_proxy.config import ProxyConfig
from skiff_proxy.kernel import ApplyError
from skiff_proxy.modes import mode_named


async def _cleanup(cfg: ProxyConfig) -> None:
    mode = mode_named(cfg.proxy_mode)
    await mode.remove(options_from(cfg))
    get_logger("skiff_proxy").info("proxy.cleaned_up", table=cfg.table, mode=mode.name)


async def _run(cfg: ProxyConfig) -> None:
    api = ApiClient.connect(cfg.apiserver, tls=cfg.tls(), wait_for_ready=True)
    app = ProxyApp(api, cfg)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await app.start()
    await stop.wait()
    get_logger("skiff_proxy").info("proxy.stopping")
    await app.stop()
    await api.close()


def main(argv: list[str] | None = None) -> None:
    cfg = load_config(ProxyConfig, argv)
    try:
        cfg.validate()
        cfg.tls()
        mode_named(cfg.proxy_mode)
    except ValueError as exc:
        print(f"skiff-proxy: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    setup_observability("proxy", log_level=cfg.log_level, metrics_address=cfg.metrics_address or None)
    get_logger("skiff_proxy").info("proxy.config", **describe_config(cfg))
    try:
        asyncio.run(_cleanup(cfg) if cfg.cleanup else _run(cfg))
    except ApplyError as exc:  # e.g. nft missing, or no CAP_NET_ADMIN: one clear line, not a traceback
        print(f"skiff-proxy: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
