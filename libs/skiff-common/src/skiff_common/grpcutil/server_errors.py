"""Error mapping: the ONLY place a Skiff exception becomes a gRPC status.

* `SkiffError` -> its code, its message and rich details (`errors.to_grpc_status`).
* `context.abort(...)` by the handler itself and cancellation pass through untouched.
* Anything else is a bug: the traceback is logged here (inside the server span, so the log line carries
  the trace id) and the client gets INTERNAL "internal error" -- never the exception text, which may
  hold paths, keys or object contents.

It runs innermost of the server layers (server_observe.py) so the outer ones (tracing, logging,
metrics) observe the final status via `context.code()`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import grpc.aio

from skiff_common.errors import SkiffError, to_grpc_status
from skiff_common.grpcutil._wrapping import MethodInfo
from skiff_common.observability.logging import get_logger

log = get_logger("skiff.grpc.server")


async def map_exception(exc: BaseException, info: MethodInfo, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    """Turn `exc` (raised by a handler) into the call's status; always raises (AbortError or `exc`)."""
    if isinstance(exc, SkiffError):
        status = to_grpc_status(exc)
        await context.abort(status.code, status.details, status.trailing_metadata)
    if isinstance(exc, grpc.aio.AbortError | asyncio.CancelledError) or not isinstance(exc, Exception):
        raise exc
    log.error(
        "unhandled exception in RPC handler",
        grpc_service=info.service,
        grpc_method=info.method,
        exc_info=exc,
    )
    await context.abort(grpc.StatusCode.INTERNAL, "internal error")
