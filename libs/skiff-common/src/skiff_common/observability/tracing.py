"""OpenTelemetry tracing set-up.

Spans are always created (so every log line carries trace_id/span_id and traceparent propagates across
components), but they are only *exported* when the operator asks for it with the standard variables:
OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_TRACES_EXPORTER=otlp. Exporting to nowhere by default would make
every process retry a dead collector.

The global TracerProvider can be set only once per process; a second `setup_tracing` (tests, embedded
components in `skiff up`) reuses the existing SDK provider instead of fighting over it.
"""

from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def _otlp_requested() -> bool:
    exporters = {e.strip().lower() for e in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",")}
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")) or "otlp" in exporters


def setup_tracing(service: str) -> TracerProvider:
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if _otlp_requested():
        # Imported lazily: the exporter pulls in its own grpc channel machinery.
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def get_tracer(name: str) -> trace.Tracer:
    """A tracer from the global provider (a no-op tracer until setup_tracing has run)."""
    return trace.get_tracer(name)


class CachedTracer:
    """A tracer looked up once per TracerProvider instead of once per use.

    `trace.get_tracer` builds a new Tracer (with its InstrumentationScope) every time; on a hot path
    (one span per RPC, one per etcd call) that is measurable. The provider is re-read on every `get`
    (a global read), so a provider installed after the first use is still picked up."""

    __slots__ = ("_provider", "_tracer", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._provider: object = None
        self._tracer: trace.Tracer | None = None

    def get(self) -> trace.Tracer:
        provider = trace.get_tracer_provider()
        if provider is not self._provider or self._tracer is None:
            self._tracer = provider.get_tracer(self.name)
            self._provider = provider
        return self._tracer
