"""Server construction, listening and graceful shutdown.

`create_server` installs the one interceptor stack every Skiff server has, outermost first:

    [tracing -> metrics -> access log -> error mapping] -> caller's interceptors -> handler

The four layers in brackets are one fused, per-method cached wrapper (server_observe.py explains why).
Tracing is outermost so every later layer logs inside the server span (trace_id in each line); error
mapping is innermost of ours so it also maps SkiffErrors raised by the caller's interceptors (e.g.
authentication), and the outer layers all read the final status from the same place.

Listening: "host:port" (port 0 = pick a free one; the bound port is returned) or "unix:///path"
(a stale socket file from a crashed predecessor is removed first). SO_REUSEPORT is switched off so a
second server on a taken port fails loudly instead of silently sharing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Final

import grpc
import grpc.aio

from skiff_common.grpcutil.credentials import TLSConfig, server_credentials
from skiff_common.grpcutil.server_observe import ObservabilityInterceptor
from skiff_common.observability.logging import get_logger

log = get_logger("skiff.grpc.server")


class _Unset:
    pass


_UNSET: Final = _Unset()
# grpc.aio.Server is a plain Python object; remembering these on it keeps add_listen's signature short.
_TLS_ATTR = "_skiff_tls"
_SERVICE_ATTR = "_skiff_service"


def create_server(
    service: str,
    *,
    tls: TLSConfig | None = None,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    max_message_bytes: int = 4 * 1024 * 1024,
    quiet_methods: Sequence[str] = (),
    slow_rpc_seconds: float = 1.0,
    options: Sequence[tuple[str, str | int]] = (),
) -> grpc.aio.Server:
    """A grpc.aio server with Skiff's interceptor stack. `tls` becomes the default for `add_listen`.

    `quiet_methods` (method names like "Check" or full "/pkg.Svc/Method") are access-logged at DEBUG;
    successful unary calls faster than `slow_rpc_seconds` too (server_logging.py has the level rules).
    `options` are extra grpc channel arguments (they override the defaults below).
    """
    merged: dict[str, str | int] = {
        "grpc.max_receive_message_length": max_message_bytes,
        "grpc.max_send_message_length": max_message_bytes,
        "grpc.so_reuseport": 0,
        # Clients keep long watches alive with pings; accept them instead of answering GOAWAY.
        "grpc.keepalive_permit_without_calls": 1,
        "grpc.http2.min_recv_ping_interval_without_data_ms": 10_000,
        "grpc.http2.max_ping_strikes": 0,
    }
    merged.update(options)  # grpc honours the FIRST occurrence of a key: override, never append
    server = grpc.aio.server(
        interceptors=[
            ObservabilityInterceptor(quiet_methods, slow_seconds=slow_rpc_seconds),
            *interceptors,
        ],
        options=list(merged.items()),
    )
    setattr(server, _TLS_ATTR, tls)
    setattr(server, _SERVICE_ATTR, service)
    return server


def add_listen(server: grpc.aio.Server, address: str, tls: TLSConfig | _Unset | None = _UNSET) -> int:
    """Listen on `address`; returns the bound TCP port (0 for unix sockets).

    `tls` defaults to the TLSConfig given to `create_server`; pass None explicitly for plaintext.
    """
    if isinstance(tls, _Unset):
        tls = getattr(server, _TLS_ATTR, None)
    if address.startswith("unix:"):
        path = address.removeprefix("unix://") if address.startswith("unix://") else address.removeprefix("unix:")
        if not path:
            raise ValueError(f"listen address: empty unix socket path in {address!r}")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    elif ":" not in address:
        raise ValueError(f"listen address: expected host:port or unix:///path, got {address!r}")
    try:
        if tls is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, server_credentials(tls))
    except RuntimeError as exc:  # grpc reports bind failures as a bare RuntimeError
        raise OSError(f"cannot listen on {address}: {exc}") from exc
    if address.startswith("unix:"):
        return 0
    if port == 0:
        raise OSError(f"cannot listen on {address}: address in use or not available")
    return int(port)


async def serve_until_signal(
    server: grpc.aio.Server,
    *,
    grace: float = 5.0,
    on_shutdown: Sequence[Callable[[], Awaitable[None]]] = (),
    stop_event: asyncio.Event | None = None,
) -> None:
    """Start `server`, wait for SIGTERM/SIGINT (or `stop_event`), stop gracefully, then run the hooks.

    In-flight RPCs get `grace` seconds to finish; after that they are cancelled. Each hook runs even if
    an earlier one failed (failures are logged), so one broken hook cannot leak the others' resources.
    """
    loop = asyncio.get_running_loop()
    stop = stop_event or asyncio.Event()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, _on_signal, stop, sig)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread: rely on stop_event
            pass
    component = getattr(server, _SERVICE_ATTR, "grpc")
    try:
        await server.start()
        log.info("grpc server started", component=component)
        await stop.wait()
        log.info("grpc server stopping", component=component, grace_seconds=grace)
        await server.stop(grace)
        for hook in on_shutdown:
            try:
                await hook()
            except Exception:
                log.exception("shutdown hook failed", hook=getattr(hook, "__qualname__", repr(hook)))
        log.info("grpc server stopped", component=component)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _on_signal(stop: asyncio.Event, sig: Any) -> None:
    log.info("signal received", signal=signal.Signals(sig).name)
    stop.set()
