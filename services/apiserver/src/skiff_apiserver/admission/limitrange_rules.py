"""LimitRanger's rules as pure functions of (LimitRanges, pod): Kubernetes' defaults and bounds.

Defaults (mutating): every Container item's ``default`` fills a container's missing limits and its
``defaultRequest`` the missing requests, for app and init containers alike; the first LimitRange that names
a resource wins. What was set is recorded as Kubernetes does, in the pod annotation
``kubernetes.io/limit-ranger`` (``LimitRanger plugin set: cpu, memory request for container app; cpu limit
for container app``). Before that, a container that states a limit but no request requests its limit:
Kubernetes' pod defaulting does this before admission, so a LimitRange's defaultRequest never undercuts an
explicit limit.

Bounds (validating): per Container item, each container's request and limit against ``min``, ``max`` and
``maxLimitRequestRatio``; per Pod item, the pod's total (sum of containers, at least its largest init
container). Errors carry Kubernetes' text (``maximum cpu usage per Container is 2, but limit is 3``) and
are joined as its error aggregate joins them (one message, or ``[a, b]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from skiff.api.meta.v1 import meta_pb2
from skiff_common.apimachinery.quantity import canonical_quantity, milli_value

ANNOTATION = "kubernetes.io/limit-ranger"
Quantities = Mapping[str, meta_pb2.Quantity]


def _containers(pod: Any) -> list[tuple[Any, str]]:
    return [(c, "container") for c in pod.spec.containers] + [(c, "init container") for c in pod.spec.init_containers]


def apply_defaults(limit_ranges: list[Any], pod: Any) -> None:
    """Fill each container's missing requests and limits from the Container items' defaults."""
    requests: dict[str, meta_pb2.Quantity] = {}
    limits: dict[str, meta_pb2.Quantity] = {}
    for lr in limit_ranges:
        for item in lr.spec.limits:
            if item.type == "Container":
                requests.update(item.default_request)
                limits.update(item.default)
    notes: list[str] = []
    for c, label in _containers(pod):
        res = c.resources
        for name, q in res.limits.items():
            if name not in res.requests:
                res.requests[name].CopyFrom(q)
        set_limits = [n for n in sorted(limits) if n not in res.limits]
        set_requests = [n for n in sorted(requests) if n not in res.requests]
        for n in set_limits:
            res.limits[n].CopyFrom(limits[n])
        for n in set_requests:
            res.requests[n].CopyFrom(requests[n])
        if set_requests:
            notes.append(f"{', '.join(set_requests)} request for {label} {c.name}")
        if set_limits:
            notes.append(f"{', '.join(set_limits)} limit for {label} {c.name}")
    if notes:
        pod.metadata.annotations[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)


def _milli(q: meta_pb2.Quantity | None) -> int:
    return milli_value(q.value) if q is not None else 0


def _text(q: meta_pb2.Quantity) -> str:
    return canonical_quantity(q.value)


def min_error(kind: str, name: str, enforced: meta_pb2.Quantity, req: Quantities, lim: Quantities) -> str:
    r, limit = req.get(name), lim.get(name)
    if r is None:
        return f"minimum {name} usage per {kind} is {_text(enforced)}.  No request is specified"
    if _milli(r) < _milli(enforced):
        return f"minimum {name} usage per {kind} is {_text(enforced)}, but request is {_text(r)}"
    if limit is not None and _milli(limit) < _milli(enforced):
        return f"minimum {name} usage per {kind} is {_text(enforced)}, but limit is {_text(limit)}"
    return ""


def max_error(kind: str, name: str, enforced: meta_pb2.Quantity, req: Quantities, lim: Quantities) -> str:
    r, limit = req.get(name), lim.get(name)
    if limit is None:
        return f"maximum {name} usage per {kind} is {_text(enforced)}.  No limit is specified"
    if _milli(limit) > _milli(enforced):
        return f"maximum {name} usage per {kind} is {_text(enforced)}, but limit is {_text(limit)}"
    if r is not None and _milli(r) > _milli(enforced):
        return f"maximum {name} usage per {kind} is {_text(enforced)}, but request is {_text(r)}"
    return ""


def ratio_error(kind: str, name: str, enforced: meta_pb2.Quantity, req: Quantities, lim: Quantities) -> str:
    r, limit = _milli(req.get(name)), _milli(lim.get(name))
    head = f"{name} max limit to request ratio per {kind} is {_text(enforced)}"
    if r == 0:
        return f"{head}, but no request is specified or request is 0"
    if limit == 0:
        return f"{head}, but no limit is specified or limit is 0"
    observed = Decimal(limit) / Decimal(r)
    if observed * 1000 > _milli(enforced):
        return f"{head}, but provided ratio is {float(observed):f}"
    return ""


def _check(kind: str, item: Any, req: Quantities, lim: Quantities) -> list[str]:
    out = [min_error(kind, n, item.min[n], req, lim) for n in sorted(item.min)]
    out += [max_error(kind, n, item.max[n], req, lim) for n in sorted(item.max)]
    out += [
        ratio_error(kind, n, item.max_limit_request_ratio[n], req, lim) for n in sorted(item.max_limit_request_ratio)
    ]
    return [e for e in out if e]


def _pod_total(pod: Any, part: str) -> dict[str, meta_pb2.Quantity]:
    total: dict[str, int] = {}
    for c in pod.spec.containers:
        for n, q in getattr(c.resources, part).items():
            total[n] = total.get(n, 0) + milli_value(q.value)
    for c in pod.spec.init_containers:
        for n, q in getattr(c.resources, part).items():
            total[n] = max(total.get(n, 0), milli_value(q.value))
    return {n: meta_pb2.Quantity(value=canonical_quantity(Decimal(v) / 1000)) for n, v in total.items()}


def violations(limit_ranges: list[Any], pod: Any) -> list[str]:
    """Kubernetes' messages for every bound the pod breaks, duplicates folded, in order."""
    errs: list[str] = []
    for lr in limit_ranges:
        for item in lr.spec.limits:
            if item.type == "Container":
                for c, _ in _containers(pod):
                    errs += _check("Container", item, c.resources.requests, c.resources.limits)
            elif item.type == "Pod":
                errs += _check("Pod", item, _pod_total(pod, "requests"), _pod_total(pod, "limits"))
    return list(dict.fromkeys(errs))


def aggregate(messages: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message alone, several in brackets."""
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
