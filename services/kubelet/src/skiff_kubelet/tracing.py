"""The pod-start trace: one span per sync that changes something on the node, linked to the request
that created the pod.

A pod is created by one request (a user's `skiff apply`, or a ReplicaSet controller's reconcile) and
started by the kubelet seconds later, in another process. The kubelet's span for that work is the root
of its own trace (so each start is one readable trace: sandbox, image pulls, containers, down to the
runtime's server spans) and carries a span link to the creating request, whose trace context the
apiserver keeps in the pod's `trace.skiff.io/traceparent` annotation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from opentelemetry import context as otel_context
from opentelemetry import trace
from skiff.api.core.v1 import pod_pb2
from skiff_common.observability.tracing import TRACEPARENT_ANNOTATION, CachedTracer, link_to

from skiff_kubelet.plan import PodActions

_tracer = CachedTracer("skiff_kubelet")


@contextlib.contextmanager
def pod_work_span(pod: pod_pb2.Pod, plan: PodActions) -> Iterator[None]:
    """`StartPod` when the plan creates the sandbox, `SyncPod` when it starts or kills containers;
    nothing for a sync with nothing to do (most syncs: status and probes only)."""
    if not (plan.create_sandbox or plan.start or plan.kill):
        yield
        return
    name = "kubelet.StartPod" if plan.create_sandbox else "kubelet.SyncPod"
    meta = pod.metadata
    span = _tracer.get().start_span(
        name,
        context=otel_context.Context(),  # a new trace: the creating request is linked, not the parent
        kind=trace.SpanKind.INTERNAL,
        links=link_to(meta.annotations.get(TRACEPARENT_ANNOTATION)),
        attributes={
            "k8s.namespace.name": meta.namespace,
            "k8s.pod.name": meta.name,
            "k8s.pod.uid": meta.uid,
            "k8s.node.name": pod.spec.node_name,
        },
    )
    with trace.use_span(span, end_on_exit=True, record_exception=True):
        yield
