"""Spans: every request has a span (skiff_common's server span, tagged with verb and resource by the
apiserver) and each etcd call is a child span of it."""

from __future__ import annotations

from apiserver_testlib import create, pod, uniq
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def _exporter() -> InMemorySpanExporter:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
        provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


async def test_etcd_calls_are_child_spans_of_the_request(api) -> None:
    exporter = _exporter()
    name = uniq("traced")
    await create(api.stub, pod(name))
    spans = exporter.get_finished_spans()
    etcd = [s for s in spans if s.name == "etcd.create"]
    assert etcd, [s.name for s in spans]
    parents = {s.context.span_id: s for s in spans}
    parent = parents.get(etcd[-1].parent.span_id) if etcd[-1].parent else None
    assert parent is not None and parent.attributes.get("skiff.verb") == "create"
    assert parent.attributes.get("skiff.resource") == "pods"
