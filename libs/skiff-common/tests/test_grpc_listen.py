"""Listening: unix sockets, port conflicts, and graceful shutdown on SIGTERM in a real subprocess."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest
from skiff_common.grpcutil import add_listen, create_channel, create_server

from .conftest import Echo, echo_handler


async def test_unix_socket_round_trip_and_stale_socket(tmp_path: Path) -> None:
    sock = tmp_path / "run" / "echo.sock"
    sock.parent.mkdir()
    sock.write_text("stale")  # left over from a crashed predecessor
    server = create_server("unix-test")
    server.add_generic_rpc_handlers((echo_handler(),))
    assert add_listen(server, f"unix://{sock}", None) == 0
    await server.start()
    try:
        async with create_channel(f"unix://{sock}") as channel:
            assert await Echo(channel).unary(b"via unix", timeout=10) == b"via unix"
    finally:
        await server.stop(None)


async def test_port_in_use_fails_loudly() -> None:
    first = create_server("port-test")
    port = add_listen(first, "127.0.0.1:0", None)
    await first.start()
    try:
        second = create_server("port-test")
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            add_listen(second, f"127.0.0.1:{port}", None)
    finally:
        await first.stop(None)


async def test_bad_address_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="listen address"):
        add_listen(create_server("x"), "nonsense", None)


SERVER_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    import grpc
    from skiff_common.grpcutil import add_listen, create_server, serve_until_signal
    from skiff_common.observability import setup_observability

    async def slow(request, context):
        print("slow-started", flush=True)
        await asyncio.sleep(float(request.decode()))
        return b"finished"

    async def hook():
        print("hook-ran", flush=True)

    async def main():
        setup_observability("sig-test")  # logs go to stderr; stdout carries only the test protocol
        server = create_server("sig-test")
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            "skiff.test.v1.Slow", {"Call": grpc.unary_unary_rpc_method_handler(slow)}),))
        port = add_listen(server, "127.0.0.1:0", None)
        print(f"port={port}", flush=True)
        await serve_until_signal(server, grace=10, on_shutdown=[hook])
        print("exited-cleanly", flush=True)

    asyncio.run(main())
    """
)


async def test_serve_until_signal_drains_in_flight_rpc_on_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVER_SCRIPT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
        assert line.startswith("port="), line
        port = int(line.removeprefix("port="))
        async with create_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary("/skiff.test.v1.Slow/Call")(b"0.5", timeout=30)
            assert (await asyncio.wait_for(proc.stdout.readline(), 30)).strip() == b"slow-started"
            os.kill(proc.pid, signal.SIGTERM)
            assert await call == b"finished"  # the in-flight RPC was allowed to complete
        rest = (await asyncio.wait_for(proc.stdout.read(), 30)).decode().split()
        assert rest == ["hook-ran", "exited-cleanly"]
        assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
