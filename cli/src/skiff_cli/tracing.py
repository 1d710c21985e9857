"""One trace per command: `skiff apply` is the root span of everything it causes in the apiserver and
etcd (the gRPC channel propagates the context), exported when the standard OTEL_* variables ask for it.

Without OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_TRACES_EXPORTER the command still carries a trace id (the
apiserver's log lines for it share one), but nothing is recorded or sent, and start-up stays cheap."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from opentelemetry import trace
from skiff_common.observability.tracing import CachedTracer, setup_tracing

_tracer = CachedTracer("skiff_cli")


@contextlib.contextmanager
def command_span(argv: Sequence[str]) -> Iterator[None]:
    """The root span `skiff <verb>`; spans are flushed before the process exits."""
    provider = setup_tracing("cli")
    verb = next((a for a in argv if not a.startswith("-")), "")
    span = _tracer.get().start_span(f"skiff {verb}".strip(), attributes={"skiff.command": " ".join(argv)[:512]})
    try:
        with trace.use_span(span, end_on_exit=True, record_exception=True):
            yield
    finally:
        provider.force_flush(timeout_millis=5000)
