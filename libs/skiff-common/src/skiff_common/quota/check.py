"""One quota against one new object: Kubernetes' ResourceQuota admission decision as a pure function.

``charge(quota, resource, group, obj)`` answers with the quota's new ``status.used`` (the object's cost
added), ``None`` when the quota does not track the object or it costs nothing that is limited, or raises
``QuotaExceeded`` with Kubernetes' text (the caller prefixes ``pods "x" is forbidden: ``):

* ``status unknown for quota: <name>, resources: <names>``: the controller has not yet computed usage;
* ``failed quota: <name>: must specify limits.cpu for: c1,c2; requests.memory for: c1``: a quota on cpu or
  memory needs every container to state that request or limit (Kubernetes keeps this for compatibility);
* ``exceeded quota: <name>, requested: a=1, used: a=2, limited: a=2``: masked to the resources exceeded.

Only resources the object increases can be exceeded, so an over-used quota (hard lowered below usage)
still admits objects that do not add to what is over.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from skiff_common.apimachinery.quantity import format_quantity, parse_quantity
from skiff_common.quota import scopes, usage

# Kubernetes' validationSet: quota on these makes every container state them.
_CONSTRAINED = ("cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory")


class QuotaExceeded(Exception):
    """The object does not fit the quota; the message is Kubernetes' (without the ``forbidden`` prefix)."""


def tracked_names(quota: Any, resource: str, group: str, obj: Any) -> list[str]:
    """The quota's hard resources charged by this object, [] when the quota does not apply to it."""
    if scopes.is_scoped(quota):
        if group or resource != "pods" or not scopes.pod_matches(quota, obj):
            return []
    return sorted(n for n in quota.status.hard if usage.tracks(n, resource, group))


def _missing(pod: Any, required: set[str]) -> str:
    missing: dict[str, set[str]] = {}
    for c in [*pod.spec.containers, *pod.spec.init_containers]:
        have = usage.compute_usage(usage.container_requests(c), usage.container_limits(c))
        for name in required - set(have):
            missing.setdefault(name, set()).add(c.name)
    return "; ".join(f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing))


def _pretty(amounts: dict[str, str]) -> str:
    return ",".join(f"{name}={amounts[name]}" for name in sorted(amounts))


def charge(
    quota: Any, resource: str, group: str, obj: Any, now: float | None = None, *, old: Any = None
) -> dict[str, str] | None:
    """`old`: an update, charged what the object costs beyond what `old` cost (never less than nothing)."""
    names = tracked_names(quota, resource, group, obj)
    if not names:
        return None
    name = quota.metadata.name
    hard, used = quota.status.hard, quota.status.used
    if not group and resource == "pods":
        failed = _missing(obj, set(names) & set(_CONSTRAINED))
        if failed:
            raise QuotaExceeded(f"failed quota: {name}: must specify {failed}")
    unknown = [n for n in names if n not in used]
    if unknown:
        raise QuotaExceeded(f"status unknown for quota: {name}, resources: {','.join(names)}")
    delta = usage.mask(usage.object_usage(resource, group, obj, now), names)
    if old is not None:
        before = usage.mask(usage.object_usage(resource, group, old, now), names)
        delta = {n: max(delta[n] - before[n], Decimal(0)) for n in names}
    if not any(delta.values()):
        return None
    new = {n: parse_quantity(used[n].value) + delta[n] for n in names}
    exceeded = [n for n in names if delta[n] > 0 and new[n] > parse_quantity(hard[n].value)]
    if exceeded:
        requested = {n: format_quantity(delta[n], like=hard[n].value) for n in exceeded}
        raise QuotaExceeded(
            f"exceeded quota: {name}, requested: {_pretty(requested)}, "
            f"used: {_pretty({n: used[n].value for n in exceeded})}, "
            f"limited: {_pretty({n: hard[n].value for n in exceeded})}"
        )
    out = {n: q.value for n, q in used.items()}
    out.update({n: usage.format_amount(new[n], like=hard[n].value) for n in names if delta[n] != Decimal(0)})
    return out
