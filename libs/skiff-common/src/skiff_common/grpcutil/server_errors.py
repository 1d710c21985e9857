"""Error mapping: the ONLY place a Skiff exception becomes a gRPC status.

* `SkiffError` -> its code, its message and rich details (`errors.to_grpc_status`).
* `context.abort(...)` by the handler itself and cancellation pass through untouched.
* Anything else is a bug: the traceback is logged here (inside the server span, so the log line carries
  the trace id) and the client gets INTERNAL "internal error" -- never the exception text, which may
  hold paths, keys or object contents.

This layer sits innermost in the server stack so the outer layers (tracing, logging, metrics) observe
the final status via `context.code()`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import grpc.aio

from skiff_common.errors import SkiffError, to_grpc_status
from skiff_common.grpcutil._wrapping import HandlerInterceptor, MethodInfo
from skiff_common.observability.logging import get_logger

log = get_logger("skiff.grpc.server")


class ErrorMappingInterceptor(HandlerInterceptor):
    @asynccontextmanager
    async def around(
        self, info: MethodInfo, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        try:
            yield
        except SkiffError as err:
            status = to_grpc_status(err)
            await context.abort(status.code, status.details, status.trailing_metadata)
        except (grpc.aio.AbortError, asyncio.CancelledError):
            raise
        except Exception:
            log.exception(
                "unhandled exception in RPC handler", grpc_service=info.service, grpc_method=info.method
            )
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")
