"""skiff-apiserver: `skiff-apiserver --listen 127.0.0.1:6443 --etcd-endpoints 127.0.0.1:2379`."""

from __future__ import annotations

import asyncio
import sys

from skiff_apiserver.app import ApiServerApp
from skiff_apiserver.config import ApiServerConfig, load


async def run(cfg: ApiServerConfig) -> None:
    from skiff_common.grpcutil import serve_until_signal

    app = ApiServerApp(cfg)
    await app.start(serve=False)
    assert app.server is not None

    async def close() -> None:
        await app.stop(0)

    await serve_until_signal(app.server, on_shutdown=[close])


def main(argv: list[str] | None = None) -> None:
    cfg = load(argv if argv is not None else sys.argv[1:])
    from skiff_common.observability import setup_observability

    setup_observability("apiserver", log_level=cfg.log_level, metrics_address=cfg.metrics_address)
    try:
        from skiff_common.config import describe_config

        from skiff_apiserver.logs import log

        log.info("config", **describe_config(cfg))
    except ImportError:
        pass
    try:
        asyncio.run(run(cfg))
    except KeyboardInterrupt:
        pass
    except (ValueError, OSError) as exc:  # bad flags, taken port: one clear line, no traceback
        print(f"skiff-apiserver: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
