"""Access log layer: one structured line per completed RPC -- at a level that depends on the outcome.

Levels (the choice, and why):
* server-side failures (INTERNAL, UNKNOWN, DATA_LOSS, UNAVAILABLE): WARNING (the traceback of a bug is
  logged separately by the error-mapping layer);
* client errors (NOT_FOUND, ALREADY_EXISTS, INVALID_ARGUMENT, ...), cancellations and deadlines: INFO;
* streaming calls (watches: few, long-lived) and unary calls slower than `slow_seconds`: INFO;
* successful fast unary calls: DEBUG. They are the bulk of an apiserver's traffic; rendering a JSON line
  for each cost about a tenth of the server's CPU per request, and the metrics layer already counts them
  by service, method and code. `--log-level debug` brings every line back.
Health checks and other noisy methods can be silenced with `quiet_methods` (always DEBUG).

The level is decided first and the line is only built when the logger is enabled for it (a stdlib
`isEnabledFor`, cached by logging), so a suppressed line costs no structlog work at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import grpc
import grpc.aio

from skiff_common.grpcutil._wrapping import MethodInfo
from skiff_common.observability.logging import get_logger

LOGGER_NAME = "skiff.grpc.access"
log = get_logger(LOGGER_NAME)
_stdlib = logging.getLogger(LOGGER_NAME)

_SERVER_FAULTS = frozenset(
    {
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DATA_LOSS,
        grpc.StatusCode.UNAVAILABLE,
    }
)


class AccessLog:
    def __init__(self, quiet_methods: Iterable[str] = (), *, slow_seconds: float = 1.0) -> None:
        self._quiet = frozenset(quiet_methods)
        self.slow_seconds = slow_seconds

    def level(self, info: MethodInfo, code: grpc.StatusCode, seconds: float, streaming: bool) -> int:
        if info.full_method in self._quiet or info.method in self._quiet:
            return logging.DEBUG
        if code in _SERVER_FAULTS:
            return logging.WARNING
        if code is not grpc.StatusCode.OK or streaming or seconds >= self.slow_seconds:
            return logging.INFO
        return logging.DEBUG

    def record(
        self,
        info: MethodInfo,
        code: grpc.StatusCode,
        seconds: float,
        context: grpc.aio.ServicerContext[Any, Any],
        streaming: bool,
    ) -> None:
        level = self.level(info, code, seconds, streaming)
        if not _stdlib.isEnabledFor(level):
            return
        try:
            peer = context.peer()
        except Exception:  # a call torn down under us (cancelled) may no longer know its peer
            peer = "unknown"
        log.log(
            level,
            "rpc finished",
            grpc_service=info.service,
            grpc_method=info.method,
            grpc_code=code.name,
            duration_ms=round(seconds * 1000, 3),
            peer=peer,
        )
