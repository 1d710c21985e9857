"""Resource lists in policy kinds (LimitRange, ResourceQuota): names and amounts, with Kubernetes'
field paths (``spec.hard[requests.cpu]``) and messages."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from skiff.api.meta.v1 import meta_pb2
from skiff_common.errors import FieldError

from skiff_apiserver.machinery import quantity, validation

# Kubernetes' standardQuotaResources (plus hugepages-<size>, extended resources through requests.<name>).
QUOTA_RESOURCES = frozenset(
    {
        "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.storage",
        "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods",
        "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
        "persistentvolumeclaims", "services.nodeports", "services.loadbalancers",
    }
)  # fmt: skip
# Counted resources take whole numbers (Kubernetes' integerResources).
INTEGER_RESOURCES = frozenset(
    {
        "pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
        "persistentvolumeclaims", "services.nodeports", "services.loadbalancers",
    }
)  # fmt: skip
CONTAINER_RESOURCES = frozenset({"cpu", "memory", "ephemeral-storage", "storage"})


def _hugepages(name: str) -> bool:
    return name.startswith("hugepages-") or name.startswith("requests.hugepages-")


def quota_name_errors(name: str, path: str) -> list[FieldError]:
    if "/" not in name:
        if name in QUOTA_RESOURCES or _hugepages(name):
            return []
        return [validation.invalid(path, name, "must be a standard resource for quota")]
    return [validation.invalid(path, name, m) for m in validation.qualified_name_problems(name)]


def limit_name_errors(name: str, path: str) -> list[FieldError]:
    if "/" not in name:
        if name in CONTAINER_RESOURCES or _hugepages(name):
            return []
        return [validation.invalid(path, name, "must be a standard limit type or fully qualified")]
    return [validation.invalid(path, name, m) for m in validation.qualified_name_problems(name)]


def amounts(
    values: Mapping[str, meta_pb2.Quantity], path: str, *, quota: bool = False
) -> tuple[dict[str, Decimal], list[FieldError]]:
    """The parsed amounts of a resource list and the errors of its names and values."""
    out: dict[str, Decimal] = {}
    errs: list[FieldError] = []
    for name in sorted(values):
        p = f"{path}[{name}]"
        errs += quota_name_errors(name, p) if quota else limit_name_errors(name, p)
        text = values[name].value
        value_errs = validation.validate_quantity(text, p)
        if value_errs:
            errs += value_errs
            continue
        value = quantity.parse_quantity(text)
        if quota and (name in INTEGER_RESOURCES or name.startswith("count/")) and value != int(value):
            errs.append(validation.invalid(p, text, "must be an integer"))
        out[name] = value
    return out, errs
