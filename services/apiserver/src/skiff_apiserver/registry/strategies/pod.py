"""Pods: defaulting, validation, the (mostly) immutable spec, graceful deletion and QoS class."""

from __future__ import annotations

from typing import Any

from skiff.api.core.v1 import pod_pb2
from skiff_common.errors import FieldError
from skiff_common.observability.tracing import TRACEPARENT_ANNOTATION, current_traceparent

from skiff_apiserver.registry.strategies.podspec import default_pod_spec, validate_pod_spec
from skiff_apiserver.registry.strategy import Strategy, copy


def qos_class(spec: pod_pb2.PodSpec) -> str:
    containers = [*spec.init_containers, *spec.containers]
    if not any(c.resources.requests or c.resources.limits for c in containers):
        return "BestEffort"
    for c in containers:
        lim, req = c.resources.limits, c.resources.requests
        for res in ("cpu", "memory"):
            if res not in lim or (res in req and req[res].value != lim[res].value):
                return "Burstable"
    return "Guaranteed"


class PodStrategy(Strategy):
    graceful_delete = True

    def deletion_grace(self, obj: Any, requested: int | None) -> int:
        """The request's grace, else spec.terminationGracePeriodSeconds (30); 0 for a pod that was never
        scheduled or has finished: no kubelet will confirm its end."""
        spec = obj.spec
        if not spec.node_name or obj.status.phase in ("Succeeded", "Failed"):
            return 0
        if requested is not None:
            return requested
        return spec.termination_grace_period_seconds if spec.HasField("termination_grace_period_seconds") else 30

    def default(self, obj: Any) -> None:
        default_pod_spec(obj.spec)

    def prepare_for_create(self, obj: Any) -> None:
        pod: pod_pb2.Pod = obj
        pod.ClearField("status")
        pod.status.phase = "Pending"
        pod.status.qos_class = qos_class(pod.spec)
        # The kubelet's pod-start trace links back to this request (only while traces are exported).
        traceparent = current_traceparent()
        if traceparent:
            pod.metadata.annotations[TRACEPARENT_ANNOTATION] = traceparent

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_pod_spec(obj.spec, "spec")

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        errs = self.validate(new)
        # Like Kubernetes: only images, activeDeadlineSeconds and tolerations may change; nodeName only
        # through the binding subresource.
        a: Any = copy(new.spec)
        b: Any = copy(old.spec)
        for spec in (a, b):
            for c in [*spec.init_containers, *spec.containers]:
                c.image = ""
            spec.ClearField("active_deadline_seconds")
            spec.ClearField("tolerations")
        if a != b:
            errs.append(
                FieldError(
                    "spec",
                    "Forbidden",
                    "pod updates may not change fields other than "
                    "`spec.containers[*].image`, `spec.initContainers[*].image`, "
                    "`spec.activeDeadlineSeconds` or `spec.tolerations` (only additions)",
                )
            )
        return errs
