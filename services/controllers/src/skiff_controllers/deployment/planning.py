"""The rollout arithmetic, as pure functions: ReplicaSets in, ``{name: new size}`` out.

Kubernetes' deployment controller (``rolling.go``, ``sync.go``) mixes these decisions with API writes;
here they are planned first and applied by the controller, so every rule has a table-driven test.

Rolling update, one step per reconcile::

    new RS:  scale up to min(replicas - new, replicas + maxSurge - sum(spec))          (never past surge)
    old RSs: maxScaledDown = sum(spec) - (replicas - maxUnavailable) - unavailable(new)
             first drop unhealthy old pods (spec - available, oldest RS first), then scale old RSs
             down by available(all) - minAvailable                               (never below minAvailable)

A scaling event (``spec.replicas`` changed mid-rollout) resizes every active ReplicaSet in proportion
to its size (``proportional_scale``), leftovers going to the largest.
"""

from __future__ import annotations

from collections.abc import Sequence

from skiff.api.apps.v1 import apps_pb2

from skiff_controllers.deployment.util import (
    MAX_REPLICAS,
    available,
    available_total,
    by_creation,
    desired,
    is_rolling,
    max_surge,
    max_unavailable,
    pods_total,
    replicas,
    spec_total,
)

Plan = dict[str, int]
RS = apps_pb2.ReplicaSet


def new_rs_replicas(d: apps_pb2.Deployment, all_rss: Sequence[RS | None], new: RS | None) -> int:
    """How big the new ReplicaSet may be now (Kubernetes' NewRSNewReplicas)."""
    want = desired(d)
    if not is_rolling(d):
        return want
    current = pods_total(all_rss)
    max_total = want + max_surge(d)
    if current >= max_total:
        return replicas(new)
    return replicas(new) + min(max_total - current, want - replicas(new))


def plan_new(d: apps_pb2.Deployment, all_rss: Sequence[RS | None], new: RS) -> Plan:
    want = desired(d)
    if replicas(new) == want:
        return {}
    if replicas(new) > want:
        return {new.metadata.name: want}
    target = new_rs_replicas(d, all_rss, new)
    return {new.metadata.name: target} if target != replicas(new) else {}


def plan_old(d: apps_pb2.Deployment, old_rss: Sequence[RS], new: RS | None) -> Plan:
    """Scale-downs of old ReplicaSets that keep at least replicas - maxUnavailable pods available."""
    old_active = [rs for rs in old_rss if replicas(rs) > 0]
    if spec_total(old_active) == 0:
        return {}
    size = {rs.metadata.name: replicas(rs) for rs in old_active}
    all_count = spec_total(old_active) + replicas(new)
    min_available = desired(d) - max_unavailable(d)
    new_unavailable = replicas(new) - (available(new) if new is not None else 0)
    max_scaled_down = all_count - min_available - new_unavailable
    if max_scaled_down <= 0:
        return {}
    # 1. Unhealthy old pods first: they are not available anyway and would block the rollout.
    cleaned = 0
    for rs in by_creation(old_active):
        if cleaned >= max_scaled_down:
            break
        unhealthy = size[rs.metadata.name] - available(rs)
        if unhealthy <= 0:
            continue
        n = min(max_scaled_down - cleaned, unhealthy)
        size[rs.metadata.name] -= n
        cleaned += n
    # 2. Then healthy ones, as far as availability allows.
    avail = available_total(old_active) + (available(new) if new is not None else 0)
    budget = avail - min_available
    if budget > 0:
        scaled = 0
        for rs in by_creation(old_active):
            if scaled >= budget:
                break
            current = size[rs.metadata.name]
            if current == 0:
                continue
            n = min(current, budget - scaled)
            size[rs.metadata.name] = current - n
            scaled += n
    return {name: n for name, n in size.items() if n != replicas(_by_name(old_active, name))}


def _by_name(rss: Sequence[RS], name: str) -> RS:
    return next(rs for rs in rss if rs.metadata.name == name)


def is_saturated(d: apps_pb2.Deployment, rs: RS | None) -> bool:
    if rs is None:
        return False
    want = desired(d)
    desired_ann = rs.metadata.annotations.get("deployment.kubernetes.io/desired-replicas", "")
    return desired_ann == str(want) and replicas(rs) == want and rs.status.available_replicas == want


def is_scaling_event(d: apps_pb2.Deployment, rss: Sequence[RS | None]) -> bool:
    """An active ReplicaSet was sized for a different ``spec.replicas`` than the Deployment has now."""
    for rs in rss:
        if rs is None or replicas(rs) == 0:
            continue
        ann = rs.metadata.annotations.get("deployment.kubernetes.io/desired-replicas")
        if ann is not None and ann != str(desired(d)):
            return True
    return False


def _fraction(rs: RS, d: apps_pb2.Deployment) -> int:
    if desired(d) == 0:
        return -replicas(rs)
    total = desired(d) + max_surge(d)
    try:
        annotated = int(rs.metadata.annotations.get(MAX_REPLICAS, ""))
    except ValueError:
        annotated = d.status.replicas
    if annotated == 0:
        return 0
    exact = replicas(rs) * total / annotated
    rounded = int(exact + 0.5) if exact >= 0 else -int(-exact + 0.5)  # Go's math.Round
    return rounded - replicas(rs)


def _proportion(rs: RS, d: apps_pb2.Deployment, to_add: int, added: int) -> int:
    if replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = _fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def plan_scale(d: apps_pb2.Deployment, new: RS | None, old_rss: Sequence[RS]) -> Plan:
    """Kubernetes' ``scale``: resize for a changed ``spec.replicas`` (also used while paused)."""
    want = desired(d)
    actives = [rs for rs in [new, *old_rss] if rs is not None and replicas(rs) > 0]
    # One active (or none: the newest) ReplicaSet simply gets the full count.
    if len(actives) <= 1:
        target = actives[0] if actives else _latest(new, old_rss)
        if target is None or replicas(target) == want:
            return {}
        return {target.metadata.name: want}
    if is_saturated(d, new):
        return {rs.metadata.name: 0 for rs in old_rss if replicas(rs) > 0}
    if not is_rolling(d):
        return {}
    allowed = want + max_surge(d) if want > 0 else 0
    to_add = allowed - spec_total(actives)
    if to_add > 0:  # bigger first, newer first among equals
        actives.sort(key=lambda rs: (-replicas(rs), _neg_created(rs)))
    elif to_add < 0:  # bigger first, older first among equals
        actives.sort(key=lambda rs: (-replicas(rs), _created(rs)))
    sizes: dict[str, int] = {}
    added = 0
    for rs in actives:
        if to_add != 0:
            p = _proportion(rs, d, to_add, added)
            sizes[rs.metadata.name] = replicas(rs) + p
            added += p
        else:
            sizes[rs.metadata.name] = replicas(rs)
    if to_add != 0 and actives:
        first = actives[0].metadata.name
        sizes[first] = max(0, sizes[first] + to_add - added)
    return sizes


def _created(rs: RS) -> tuple[int, int]:
    return (rs.metadata.creation_timestamp.seconds, rs.metadata.creation_timestamp.nanos)


def _neg_created(rs: RS) -> tuple[int, int]:
    s, n = _created(rs)
    return (-s, -n)


def _latest(new: RS | None, old_rss: Sequence[RS]) -> RS | None:
    if new is not None:
        return new
    ordered = by_creation(old_rss)
    return ordered[-1] if ordered else None
