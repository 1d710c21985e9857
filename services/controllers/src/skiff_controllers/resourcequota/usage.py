"""A quota's status computed from the objects of its namespace: pure, so it is tested as tables.

``sources(hard)`` names the (resource, group) pairs whose objects the quota's hard resources count;
``status(quota, objects)`` sums their usage (pods filtered by the quota's scopes; terminal pods and pods
past their deletion grace hold no compute, as in admission) and prints every amount in the format of its
hard value. Every hard resource gets a used entry, 0 when nothing uses it, so admission never finds the
status unknown once the controller has been through.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from skiff_common.quota import scopes, usage

Source = tuple[str, str]  # (resource, group)


def source_of(name: str) -> Source | None:
    """The kind a hard resource counts: ``count/deployments.apps`` -> (deployments, apps)."""
    if name.startswith("count/"):
        resource, _, group = name[len("count/") :].partition(".")
        return resource, group
    if usage.is_pod_compute(name):
        return "pods", ""
    if name in usage.SERVICE_NAMES:
        return "services", ""
    if name in usage.LEGACY_COUNTED:
        return name, ""
    return None


def sources(hard: Iterable[str]) -> set[Source]:
    return {s for s in (source_of(n) for n in hard) if s is not None}


def used(quota: Any, objects: Mapping[Source, list[Any]], now: float | None = None) -> dict[str, Decimal]:
    hard = list(quota.spec.hard)
    totals = dict.fromkeys(hard, Decimal(0))
    scoped = scopes.is_scoped(quota)
    for (resource, group), items in objects.items():
        names = [n for n in hard if usage.tracks(n, resource, group)]
        if not names:
            continue
        if scoped and (group or resource != "pods"):
            continue  # a scoped quota tracks pods only
        for obj in items:
            if scoped and not scopes.pod_matches(quota, obj):
                continue
            cost = usage.object_usage(resource, group, obj, now)
            for n in names:
                totals[n] += cost.get(n, Decimal(0))
    return totals


def status(
    quota: Any, objects: Mapping[Source, list[Any]], now: float | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """(status.hard, status.used) as the controller writes them."""
    hard = {n: q.value for n, q in quota.spec.hard.items()}
    return hard, {n: usage.format_amount(v, like=hard[n]) for n, v in used(quota, objects, now).items()}


def next_release(pods: Iterable[Any], now: float) -> float | None:
    """When the next pod still counted stops counting because its deletion grace runs out (a pod stuck
    terminating on a lost node), so the quota can be looked at again then; None: no such pod."""
    times = [
        p.metadata.deletion_timestamp.seconds + p.metadata.deletion_grace_period_seconds
        for p in pods
        if p.metadata.HasField("deletion_timestamp")
        and p.metadata.HasField("deletion_grace_period_seconds")
        and usage.pod_counts(p, now)
    ]
    return min(times) if times else None
