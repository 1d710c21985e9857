"""What an object costs against a ResourceQuota, as Kubernetes' quota evaluators compute it.

Usage is a ``dict[str, Decimal]`` from resource name (``requests.cpu``, ``pods``, ``count/deployments.apps``)
to amount. Quantities are kept exact (``Decimal``) and formatted back only when written to
``status.used``, in the format of the quota's hard value (so 600Mi of requests against ``1Gi`` prints as
``600Mi``, not as bytes, as Kubernetes shows it).

Pods: ``count/pods`` always; the compute resources and ``pods`` only while the pod is not terminal and not
stuck past its deletion grace (Kubernetes' ``QuotaV1Pod``). A pod's request is the larger of the sum of its
containers and its largest init container, plus its overhead. A container that names a limit but no
request for cpu, memory or ephemeral-storage requests its limit: Kubernetes' pod defaulting sets that
before quota ever sees the pod, and Skiff's pod defaulting does not, so the evaluator does it here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from skiff.api.meta.v1 import meta_pb2

from skiff_common.apimachinery.quantity import format_quantity, parse_quantity

Usage = dict[str, Decimal]

STANDARD = ("cpu", "memory", "ephemeral-storage")
# The resources Kubernetes counts by their bare name (besides count/<resource>).
LEGACY_COUNTED = frozenset(
    {"pods", "services", "configmaps", "secrets", "replicationcontrollers", "resourcequotas", "persistentvolumeclaims"}
)
SERVICE_NAMES = frozenset({"services", "services.loadbalancers", "services.nodeports", "count/services"})


def count_name(resource: str, group: str) -> str:
    """``count/pods``, ``count/deployments.apps``."""
    return f"count/{resource}.{group}" if group else f"count/{resource}"


def is_pod_compute(name: str) -> bool:
    """Resource names the pod evaluator tracks besides counts (``pods`` is tied to the pod's life, so it
    counts as compute: it is released when the pod finishes)."""
    if name in ("pods", *STANDARD) or name.startswith("hugepages-"):
        return True
    return name.startswith("requests.") or name.startswith("limits.")


def tracks(name: str, resource: str, group: str) -> bool:
    """True when quota resource ``name`` is charged by objects of ``resource``/``group``."""
    if name == count_name(resource, group):
        return True
    if not group and resource == "pods":
        return is_pod_compute(name)
    if not group and resource == "services":
        return name in SERVICE_NAMES
    return not group and name == resource and resource in LEGACY_COUNTED


def _add(total: Usage, name: str, value: Decimal) -> None:
    total[name] = total.get(name, Decimal(0)) + value


def _amounts(quantities: Mapping[str, meta_pb2.Quantity]) -> dict[str, Decimal]:
    return {name: parse_quantity(q.value) for name, q in quantities.items()}


def container_requests(container: Any) -> dict[str, Decimal]:
    """Requests, with a limit standing in for a missing cpu/memory/ephemeral-storage request."""
    requests = _amounts(container.resources.requests)
    for name, value in _amounts(container.resources.limits).items():
        if name in STANDARD and name not in requests:
            requests[name] = value
    return requests


def container_limits(container: Any) -> dict[str, Decimal]:
    return _amounts(container.resources.limits)


def _pod_total(spec: Any, per_container: Any) -> dict[str, Decimal]:
    total: dict[str, Decimal] = {}
    for c in spec.containers:
        for name, value in per_container(c).items():
            _add(total, name, value)
    for c in spec.init_containers:
        for name, value in per_container(c).items():
            total[name] = max(total.get(name, Decimal(0)), value)
    return total


def pod_requests(spec: Any) -> dict[str, Decimal]:
    total = _pod_total(spec, container_requests)
    for name, value in _amounts(spec.overhead).items():
        _add(total, name, value)
    return total


def pod_limits(spec: Any) -> dict[str, Decimal]:
    total = _pod_total(spec, container_limits)
    if total:
        for name, value in _amounts(spec.overhead).items():
            if name in total:
                _add(total, name, value)
    return total


def compute_usage(requests: Mapping[str, Decimal], limits: Mapping[str, Decimal]) -> Usage:
    """Kubernetes' podComputeUsageHelper: ``pods`` plus the request/limit names quota knows."""
    out: Usage = {"pods": Decimal(1)}
    for name, value in requests.items():
        if name in STANDARD:
            out[name] = value
            out[f"requests.{name}"] = value
        elif name.startswith("hugepages-") or "/" in name:
            out[f"requests.{name}"] = value
    for name, value in limits.items():
        if name in STANDARD:
            out[f"limits.{name}"] = value
    return out


def pod_counts(pod: Any, now: float | None = None) -> bool:
    """Kubernetes' QuotaV1Pod: a terminal pod, or one deleted longer ago than its grace period (a lost
    node), no longer holds compute quota."""
    if pod.status.phase in ("Succeeded", "Failed"):
        return False
    m = pod.metadata
    if m.HasField("deletion_timestamp") and m.HasField("deletion_grace_period_seconds"):
        now = time.time() if now is None else now
        if now > m.deletion_timestamp.seconds + m.deletion_grace_period_seconds:
            return False
    return True


def pod_usage(pod: Any, now: float | None = None) -> Usage:
    out: Usage = {"count/pods": Decimal(1)}
    if pod_counts(pod, now):
        out |= compute_usage(pod_requests(pod.spec), pod_limits(pod.spec))
    return out


def service_usage(svc: Any) -> Usage:
    out: Usage = {"services": Decimal(1), "count/services": Decimal(1)}
    kind = svc.spec.type or "ClusterIP"
    if kind == "LoadBalancer":
        out["services.loadbalancers"] = Decimal(1)
    if kind in ("NodePort", "LoadBalancer"):
        out["services.nodeports"] = Decimal(len(svc.spec.ports))
    return out


def object_usage(resource: str, group: str, obj: Any, now: float | None = None) -> Usage:
    """Everything an object of ``resource``/``group`` costs (callers mask it to a quota's hard names)."""
    if not group and resource == "pods":
        return pod_usage(obj, now)
    if not group and resource == "services":
        return service_usage(obj)
    out: Usage = {count_name(resource, group): Decimal(1)}
    if not group and resource in LEGACY_COUNTED:
        out[resource] = Decimal(1)
    return out


def mask(usage: Mapping[str, Decimal], names: Iterable[str]) -> Usage:
    """Usage restricted to ``names``; names the object does not use count 0."""
    return {n: usage.get(n, Decimal(0)) for n in names}


def format_amount(value: Decimal, like: str = "") -> str:
    """An amount for status.used, in the format of ``like`` (the quota's hard value for that resource):
    600Mi of a ``1Gi`` quota prints ``600Mi``, 0.4 cpu of a ``"1"`` quota ``400m``."""
    return format_quantity(value, like=like)
