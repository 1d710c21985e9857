"""LimitRanges: Kubernetes' defaulting (SetDefaults_LimitRangeItem) and ValidateLimitRange.

Per item: a supported, unique type; resource names and non-negative amounts; no default/defaultRequest on
a Pod item; min <= defaultRequest <= default <= max; maxLimitRequestRatio >= 1 and no larger than max/min;
a PersistentVolumeClaim item bounds storage. The messages are Kubernetes' (``spec.limits[0].default[cpu]:
Invalid value: "3": default value 3 is greater than max value 2``), so the LimitRanger admission plugin
can trust what it reads.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from skiff_common.errors import FieldError

from skiff_apiserver.machinery import quantity, validation
from skiff_apiserver.registry.strategies.resources import amounts
from skiff_apiserver.registry.strategy import Strategy

TYPES = ("Pod", "Container", "PersistentVolumeClaim")


# (lower field, its label, upper field, its label, the field the error sits on): Kubernetes' order checks.
_ORDER = (
    ("min", "min", "max", "max", "min"),
    ("min", "min", "defaultRequest", "default request", "defaultRequest"),
    ("defaultRequest", "default request", "max", "max", "defaultRequest"),
    ("defaultRequest", "default request", "default", "default limit", "defaultRequest"),
    ("min", "min", "default", "default", "default"),
    ("default", "default", "max", "max", "default"),
)


def _q(text: str) -> str:
    return quantity.canonical_quantity(text)


def _order_errors(path: str, texts: dict[str, Any], values: dict[str, dict[str, Decimal]]) -> list[FieldError]:
    errs = []
    for low, low_label, high, high_label, at in _ORDER:
        for name in sorted(set(values[low]) & set(values[high])):
            if values[low][name] > values[high][name]:
                detail = (
                    f"{low_label} value {_q(texts[low][name].value)} is greater than "
                    f"{high_label} value {_q(texts[high][name].value)}"
                )
                errs.append(validation.invalid(f"{path}.{at}[{name}]", texts[at][name].value, detail))
    return errs


def validate_item(item: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not item.type:
        errs.append(FieldError(f"{path}.type", "Required value"))
    elif item.type not in TYPES:
        supported = ", ".join(f'"{t}"' for t in TYPES)
        errs.append(FieldError(f"{path}.type", "Unsupported value", f'"{item.type}": supported values: {supported}'))
    mx, e1 = amounts(item.max, f"{path}.max")
    mn, e2 = amounts(item.min, f"{path}.min")
    default, e3 = amounts(item.default, f"{path}.default")
    request, e4 = amounts(item.default_request, f"{path}.defaultRequest")
    ratio, e5 = amounts(item.max_limit_request_ratio, f"{path}.maxLimitRequestRatio")
    errs += e1 + e2 + e3 + e4 + e5
    if item.type == "Pod":
        if item.default:
            errs.append(FieldError(f"{path}.default", "Forbidden", "may not be specified when `type` is 'Pod'"))
        if item.default_request:
            errs.append(FieldError(f"{path}.defaultRequest", "Forbidden", "may not be specified when `type` is 'Pod'"))
    if item.type == "PersistentVolumeClaim" and "storage" not in item.min and "storage" not in item.max:
        errs.append(
            FieldError(
                f"{path}.limits",
                "Required value",
                "either minimum or maximum storage value is required, but neither was provided",
            )
        )
    texts = {"min": item.min, "max": item.max, "default": item.default, "defaultRequest": item.default_request}
    values = {"min": mn, "max": mx, "default": default, "defaultRequest": request}
    errs += _order_errors(path, texts, values)
    for name in sorted(ratio):
        p, text = f"{path}.maxLimitRequestRatio[{name}]", item.max_limit_request_ratio[name].value
        if ratio[name] < 1:
            errs.append(validation.invalid(p, text, "ratio must be greater than or equal to 1"))
        elif name in mx and name in mn and mn[name] > 0 and ratio[name] > mx[name] / mn[name]:
            errs.append(
                validation.invalid(
                    p,
                    text,
                    f"ratio {_q(text)} is greater than max/min = {float(mx[name] / mn[name]):f}",
                )
            )
    return errs


def default_item(item: Any) -> None:
    """Kubernetes' SetDefaults_LimitRangeItem, for Container items: the default limit falls back to max,
    the default request to the default limit, then to min."""
    if item.type != "Container":
        return
    for name, q in item.max.items():
        if name not in item.default:
            item.default[name].CopyFrom(q)
    for source in (item.default, item.min):
        for name, q in source.items():
            if name not in item.default_request:
                item.default_request[name].CopyFrom(q)


class LimitRangeStrategy(Strategy):
    def default(self, obj: Any) -> None:
        for item in obj.spec.limits:
            default_item(item)

    def validate(self, obj: Any) -> list[FieldError]:
        errs: list[FieldError] = []
        seen: set[str] = set()
        for i, item in enumerate(obj.spec.limits):
            path = f"spec.limits[{i}]"
            if item.type and item.type in seen:
                errs.append(FieldError(f"{path}.type", "Duplicate value", f'"{item.type}"'))
            seen.add(item.type)
            errs += validate_item(item, path)
        return errs
