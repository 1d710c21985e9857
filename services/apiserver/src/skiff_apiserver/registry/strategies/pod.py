"""Pods: defaulting, validation, the (mostly) immutable spec, graceful deletion and QoS class."""

from __future__ import annotations

from google.protobuf.message import Message
from skiff.api.core.v1 import pod_pb2
from skiff_common.errors import FieldError

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

    def default(self, obj: Message) -> None:
        default_pod_spec(obj.spec)  # type: ignore[attr-defined]

    def prepare_for_create(self, obj: Message) -> None:
        pod: pod_pb2.Pod = obj  # type: ignore[assignment]
        pod.ClearField("status")
        pod.status.phase = "Pending"
        pod.status.qos_class = qos_class(pod.spec)

    def validate(self, obj: Message) -> list[FieldError]:
        return validate_pod_spec(obj.spec, "spec")  # type: ignore[attr-defined]

    def validate_update(self, new: Message, old: Message) -> list[FieldError]:
        errs = self.validate(new)
        # Like Kubernetes: only images, activeDeadlineSeconds and tolerations may change; nodeName only
        # through the binding subresource.
        a, b = copy(new.spec), copy(old.spec)  # type: ignore[attr-defined]
        for spec in (a, b):
            for c in [*spec.init_containers, *spec.containers]:  # type: ignore[attr-defined]
                c.image = ""
            spec.ClearField("active_deadline_seconds")  # type: ignore[attr-defined]
            spec.ClearField("tolerations")  # type: ignore[attr-defined]
        if a != b:
            errs.append(FieldError("spec", "Forbidden", "pod updates may not change fields other than "
                                   "`spec.containers[*].image`, `spec.initContainers[*].image`, "
                                   "`spec.activeDeadlineSeconds` or `spec.tolerations` (only additions)"))
        return errs
