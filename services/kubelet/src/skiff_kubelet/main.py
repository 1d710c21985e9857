"""skiff-kubelet entry point: config -> observability -> Kubelet -> wait for SIGTERM -> stop."""

from __future__ import annotations

import asyncio
import signal
import sys

from skiff_common.config import describe_config, load_config
from skiff_common.observability import get_logger, setup_observability

from skiff_kubelet.app import Kubelet
from skiff_kubelet.config import KubeletConfig


async def _run(cfg: KubeletConfig) -> None:
    log = get_logger("skiff_kubelet")
    if cfg.bootstrap_kubeconfig:  # TLS bootstrap before anything dials the apiserver
        # imported only here: it brings yaml (kubeconfig) and aiohttp's client, ~40 ms CPU at every start
        from skiff_kubelet.certbootstrap import bootstrap_certificates

        await bootstrap_certificates(cfg)
    kubelet = Kubelet(cfg)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await kubelet.start()
    await stop.wait()
    log.info("kubelet.stopping")
    await kubelet.stop()


def main(argv: list[str] | None = None) -> None:
    cfg = load_config(KubeletConfig, argv)
    try:
        cfg.validate()
    except ValueError as exc:
        print(f"skiff-kubelet: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    # /metrics is served by the kubelet's stats endpoint on --metrics-address (stats/http.py), beside
    # /metrics/resource, /stats/summary and the health endpoints, so no separate metrics server here.
    setup_observability("kubelet", log_level=cfg.log_level, attributes={"k8s.node.name": cfg.node_name})
    get_logger("skiff_kubelet").info("kubelet.config", **describe_config(cfg))
    asyncio.run(_run(cfg))


if __name__ == "__main__":
    main()
