"""Server metrics layer: one counter increment and one histogram observation per completed RPC.

`labels()` on a prometheus_client metric takes a lock, validates and joins the label values on every
call; the children are cached here per (service, method[, code]) instead (bounded: the key space is the
server's methods times the 17 status codes).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from skiff_common.grpcutil._wrapping import MethodInfo
from skiff_common.grpcutil.metrics import SERVER_HANDLED, SERVER_HANDLING_SECONDS
from skiff_common.observability.metrics import LabelCache

_handled: LabelCache[Counter] = LabelCache(SERVER_HANDLED)
_seconds: LabelCache[Histogram] = LabelCache(SERVER_HANDLING_SECONDS)


def record(info: MethodInfo, code_name: str, seconds: float) -> None:
    _handled.get(info.service, info.method, code_name).inc()
    _seconds.get(info.service, info.method).observe(seconds)
