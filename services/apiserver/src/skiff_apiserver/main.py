"""skiff-apiserver: `skiff-apiserver --listen 127.0.0.1:6443 --etcd-endpoints 127.0.0.1:2379`.

Event loop: uvloop by default (`--event-loop asyncio` for the standard loop). Measured on the Create
path: ~15-20 % less CPU per request with grpc.aio on uvloop (services/apiserver/BENCHMARKS.md).

Workers (`--workers N`): one Python process saturates one core at a few hundred writes/s, so N
processes serve the same port with SO_REUSEPORT (the kernel spreads connections over them). This is
the "several replicas against one etcd" deployment on one machine: every worker is a full apiserver
(own etcd channel, own watch caches, own allocation repair), and nothing one worker knows is needed by
another -- all state is in etcd. Trade-offs: watch caches and their etcd watches are per worker, a
client's requests stick to the worker its connection landed on, and `--metrics-address host:P` serves
worker i's metrics on port P+i. Workers are started with multiprocessing's "spawn" (grpc does not
survive fork), get SIGTERM when the first process dies (PR_SET_PDEATHSIG), and are stopped with it.
"""

from __future__ import annotations

import asyncio
import ctypes
import dataclasses
import multiprocessing
import signal
import socket
import sys
from collections.abc import Coroutine
from typing import Any

from skiff_apiserver.app import ApiServerApp
from skiff_apiserver.config import ApiServerConfig, load

_PR_SET_PDEATHSIG = 1


async def run(cfg: ApiServerConfig) -> None:
    from skiff_common.grpcutil import serve_until_signal

    app = ApiServerApp(cfg)
    await app.start(serve=False)
    assert app.server is not None

    async def close() -> None:
        await app.stop(0)

    await serve_until_signal(app.server, on_shutdown=[close])


def run_loop(cfg: ApiServerConfig, coro: Coroutine[Any, Any, None]) -> None:
    if cfg.event_loop == "uvloop":
        import uvloop

        uvloop.run(coro)
    elif cfg.event_loop == "asyncio":
        asyncio.run(coro)
    else:
        coro.close()
        raise ValueError(f"--event-loop: unsupported value {cfg.event_loop!r} (use uvloop or asyncio)")


def worker_config(cfg: ApiServerConfig, index: int) -> ApiServerConfig:
    """Worker `index`'s settings: the shared (already resolved) listen port, its own metrics port."""
    metrics = cfg.metrics_address
    if metrics and index:
        host, _, port = metrics.rpartition(":")
        metrics = f"{host}:{int(port) + index}"
    return dataclasses.replace(cfg, workers=1, reuse_port=True, metrics_address=metrics)


def resolve_listen(listen: str) -> str:
    """`host:0` -> `host:<free port>`: every worker must bind the same port."""
    host, sep, port = listen.rpartition(":")
    if listen.startswith("unix:") or not sep:
        raise ValueError(f"--workers: needs a host:port listen address, got {listen!r}")
    if port != "0":
        return listen
    with socket.socket(socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET) as s:
        s.bind((host.strip("[]"), 0))
        return f"{host}:{s.getsockname()[1]}"


def _worker(cfg: ApiServerConfig) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)  # do not outlive the first process
    _serve(cfg)


def _serve(cfg: ApiServerConfig) -> None:
    from skiff_common.observability import setup_observability

    setup_observability("apiserver", log_level=cfg.log_level, metrics_address=cfg.metrics_address)
    try:
        run_loop(cfg, run(cfg))
    except KeyboardInterrupt:
        pass


def main(argv: list[str] | None = None) -> None:
    cfg = load(argv if argv is not None else sys.argv[1:])
    children: list[multiprocessing.process.BaseProcess] = []
    try:
        if cfg.workers < 1:
            raise ValueError(f"--workers: must be at least 1, got {cfg.workers}")
        if cfg.workers > 1:
            cfg = dataclasses.replace(cfg, listen=resolve_listen(cfg.listen))
            if cfg.secure_port == 0:  # the REST port too: every worker must bind the same one
                host = cfg.listen.rpartition(":")[0]
                cfg = dataclasses.replace(cfg, secure_port=int(resolve_listen(f"{host}:0").rpartition(":")[2]))
            ctx = multiprocessing.get_context("spawn")
            for i in range(1, cfg.workers):
                proc = ctx.Process(target=_worker, args=(worker_config(cfg, i),), name=f"apiserver-worker-{i}")
                proc.start()
                children.append(proc)
            cfg = worker_config(cfg, 0)
        from skiff_common.observability import setup_observability

        setup_observability("apiserver", log_level=cfg.log_level, metrics_address=cfg.metrics_address)
        try:
            from skiff_common.config import describe_config

            from skiff_apiserver.logs import log

            log.info("config", **describe_config(cfg))
        except ImportError:
            pass
        run_loop(cfg, run(cfg))
    except KeyboardInterrupt:
        pass
    except (ValueError, OSError) as exc:  # bad flags, taken port: one clear line, no traceback
        print(f"skiff-apiserver: {exc}", file=sys.stderr)
        sys.exit(2)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.join(10)


if __name__ == "__main__":
    main()
