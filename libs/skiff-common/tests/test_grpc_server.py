"""grpcutil end to end over 127.0.0.1: error mapping, streaming, access log and metrics."""

from __future__ import annotations

import asyncio

import grpc
import grpc.aio
import pytest
from prometheus_client import REGISTRY
from skiff_common.errors import Invalid, NotFound, from_rpc_error, raise_skiff_errors

from .conftest import SERVICE, Echo, LogCapture, server_settled


def handled(method: str, code: str, side: str = "server") -> float:
    value = REGISTRY.get_sample_value(
        f"skiff_grpc_{side}_handled_total", {"service": SERVICE, "method": method, "code": code}
    )
    return value or 0.0


async def test_unary_ok(echo: Echo) -> None:
    assert await echo.unary(b"hello") == b"hello"


async def test_skiff_error_maps_to_status_and_back(echo: Echo) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await echo.unary(b"notfound")
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    err = from_rpc_error(info.value)
    assert isinstance(err, NotFound)
    assert err.message == 'pods "web" not found'


async def test_raise_skiff_errors_on_the_client(echo: Echo) -> None:
    with pytest.raises(NotFound) as info, raise_skiff_errors():
        await echo.unary(b"notfound")
    assert isinstance(info.value.__cause__, grpc.aio.AioRpcError)
    with pytest.raises(NotFound), raise_skiff_errors():
        async for _ in echo.stream(b"notfound"):
            pass


async def test_invalid_field_errors_survive_the_wire(echo: Echo) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await echo.unary(b"invalid")
    err = from_rpc_error(info.value)
    assert isinstance(err, Invalid)
    assert [str(e) for e in err.errors] == ["spec.containers[0].image: Required value"]


async def test_unexpected_exception_is_internal_and_logged_not_leaked(echo: Echo, logs: LogCapture) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await echo.unary(b"boom")
    assert info.value.code() == grpc.StatusCode.INTERNAL
    assert info.value.details() == "internal error"
    await server_settled(lambda: any(line["event"] == "unhandled exception in RPC handler" for line in logs.lines()))
    crash = [line for line in logs.lines() if line["event"] == "unhandled exception in RPC handler"]
    assert len(crash) == 1
    assert "RuntimeError: /etc/secret-path leaked" in crash[0]["exception"]
    assert crash[0]["level"] == "error"


async def test_handler_abort_passes_through(echo: Echo) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await echo.unary(b"abort")
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert info.value.details() == "nope"


async def test_server_streaming_async_generator(echo: Echo) -> None:
    items = [item async for item in echo.stream(b"s")]
    assert [i.split(b"-")[:2] for i in items] == [[b"s", b"0"], [b"s", b"1"], [b"s", b"2"]]


async def test_server_streaming_error_after_first_item(echo: Echo) -> None:
    received: list[bytes] = []
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for item in echo.stream(b"notfound"):
            received.append(item)
    assert len(received) == 1
    assert isinstance(from_rpc_error(info.value), NotFound)

    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for _ in echo.stream(b"boom"):
            pass
    assert info.value.code() == grpc.StatusCode.INTERNAL


async def test_server_streaming_with_context_write(echo: Echo) -> None:
    assert [i async for i in echo.stream_write(b"ok")] == [b"w0", b"w1"]
    call = echo.stream_write(b"notfound")
    assert await call.read() == b"w0"
    assert await call.read() == b"w1"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call.read()
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_metrics_count_by_method_and_code(echo: Echo) -> None:
    before_ok, before_nf = handled("Unary", "OK"), handled("Unary", "NOT_FOUND")
    before_stream = handled("Stream", "OK")
    before_client = handled("Unary", "NOT_FOUND", side="client")
    await echo.unary(b"x")
    with pytest.raises(grpc.aio.AioRpcError):
        await echo.unary(b"notfound")
    _ = [i async for i in echo.stream(b"s")]
    await server_settled(lambda: handled("Unary", "NOT_FOUND") > before_nf)
    assert handled("Unary", "OK") == before_ok + 1
    assert handled("Unary", "NOT_FOUND") == before_nf + 1
    assert handled("Stream", "OK") == before_stream + 1
    assert handled("Unary", "NOT_FOUND", side="client") == before_client + 1
    count = REGISTRY.get_sample_value(
        "skiff_grpc_server_handling_seconds_count", {"service": SERVICE, "method": "Unary"}
    )
    assert count is not None and count >= 2


async def test_access_log_line_per_rpc(echo: Echo, logs: LogCapture) -> None:
    with pytest.raises(grpc.aio.AioRpcError):
        await echo.unary(b"notfound")
    await server_settled(lambda: any(line["event"] == "rpc finished" for line in logs.lines()))
    lines = [line for line in logs.lines() if line["event"] == "rpc finished"]
    assert len(lines) == 1
    line = lines[0]
    assert (line["grpc_service"], line["grpc_method"], line["grpc_code"]) == (SERVICE, "Unary", "NOT_FOUND")
    assert line["level"] == "info"
    assert line["logger"] == "skiff.grpc.access"
    assert line["service"] == "skiff-test"
    assert isinstance(line["duration_ms"], float)


async def test_client_cancelling_a_stream_counts_cancelled(echo: Echo) -> None:
    before = handled("Stream", "CANCELLED", side="client")
    call = echo.stream(b"s")
    async for _ in call:
        break
    assert call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call.read()
    for _ in range(10):  # done-callbacks run on later loop iterations
        await asyncio.sleep(0)
    assert handled("Stream", "CANCELLED", side="client") == before + 1


async def test_client_cancelling_a_watch_is_seen_by_the_server(echo: Echo, logs: LogCapture) -> None:
    before = handled("Watch", "CANCELLED")
    call = echo.watch(b"")
    assert await call.read() == b"ADDED"
    call.cancel()
    await server_settled(lambda: handled("Watch", "CANCELLED") > before)
    assert handled("Watch", "CANCELLED") == before + 1
    lines = [line for line in logs.lines() if line["event"] == "rpc finished" and line["grpc_method"] == "Watch"]
    assert [line["grpc_code"] for line in lines] == ["CANCELLED"]


async def test_deadline_exceeded_on_a_watch_is_recorded_as_such(echo: Echo) -> None:
    before = handled("Watch", "DEADLINE_EXCEEDED")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for _ in echo.watch(b"", timeout=0.2):
            pass
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    await server_settled(lambda: handled("Watch", "DEADLINE_EXCEEDED") > before)
    assert handled("Watch", "DEADLINE_EXCEEDED") == before + 1


async def test_unknown_method_is_unimplemented(echo: Echo) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await echo.channel.unary_unary(f"/{SERVICE}/Nope")(b"")
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
