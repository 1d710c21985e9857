"""Scaling behavior: Kubernetes' defaults, stabilization windows and rate policies, as pure functions.

    desired (from metrics) -> stabilize: up = min of recommendations within scaleUp's window,
                                         down = max of those within scaleDown's window,
                                         result = current clamped into [up, down]
                           -> rate limit: the policies' allowed change since the start of each policy's
                              period (Max: the most permissive policy, Min: the least, Disabled: none),
                              then min/maxReplicas
Without `spec.behavior` the older rules hold (Kubernetes' normalizeDesiredReplicas): scale-down
stabilization over --horizontal-pod-autoscaler-downscale-stabilization (5 min) and a scale-up of at most
max(2 x current, 4). Recommendations and scale events live in memory per HPA, as in Kubernetes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from skiff.api.autoscaling.v2 import hpa_pb2

DOWNSCALE_STABILIZATION = 300.0
MAX_INT32, MIN_INT32 = 2**31 - 1, -(2**31)


def default_behavior(spec: hpa_pb2.HorizontalPodAutoscalerSpec) -> hpa_pb2.HorizontalPodAutoscalerBehavior | None:
    """autoscaling/v2's defaulting of a given behavior: scaleUp 0 s window, Max of (4 pods, 100 %) per 15 s;
    scaleDown Max of 100 % per 15 s (its window, when unset, is the controller's flag)."""
    if not spec.HasField("behavior"):
        return None
    b = hpa_pb2.HorizontalPodAutoscalerBehavior()
    b.CopyFrom(spec.behavior)
    if not b.scale_up.HasField("stabilization_window_seconds"):
        b.scale_up.stabilization_window_seconds = 0
    if not b.scale_up.HasField("select_policy"):
        b.scale_up.select_policy = "Max"
    if not b.scale_up.policies:
        b.scale_up.policies.add(type="Pods", value=4, period_seconds=15)
        b.scale_up.policies.add(type="Percent", value=100, period_seconds=15)
    if not b.scale_down.HasField("select_policy"):
        b.scale_down.select_policy = "Max"
    if not b.scale_down.policies:
        b.scale_down.policies.add(type="Percent", value=100, period_seconds=15)
    return b


@dataclass
class Event:
    change: int
    at: float
    outdated: bool = False


@dataclass
class History:
    """What Kubernetes keeps per HPA key: recent recommendations and scale events."""

    recommendations: list[tuple[int, float]] = field(default_factory=list)
    up: list[Event] = field(default_factory=list)
    down: list[Event] = field(default_factory=list)


def _record(history: History, desired: int, now: float, found_old: int | None) -> None:
    if found_old is not None:
        history.recommendations[found_old] = (desired, now)
    else:
        history.recommendations.append((desired, now))


def stabilize_legacy(history: History, desired: int, now: float, window: float) -> int:
    best, old = desired, None
    for i, (rec, at) in enumerate(history.recommendations):
        if at < now - window:
            old = i
        elif rec > best:
            best = rec
    _record(history, desired, now, old)
    return best


def limit_legacy(current: int, desired: int, min_replicas: int, max_replicas: int) -> tuple[int, str, str]:
    """convertDesiredReplicasWithRules: (replicas, ScalingLimited reason, message)."""
    scale_up_limit = int(max(2.0 * current, 4.0))
    if max_replicas > scale_up_limit:
        maximum, reason, message = (
            scale_up_limit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
        )  # fmt: skip
    else:
        maximum, reason, message = (
            max_replicas, "TooManyReplicas", "the desired replica count is more than the maximum replica count"
        )  # fmt: skip
    if desired < min_replicas:
        return min_replicas, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
    if desired > maximum:
        return maximum, reason, message
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


def stabilize(
    history: History, current: int, desired: int, behavior: hpa_pb2.HorizontalPodAutoscalerBehavior, now: float,
    default_down_window: float = DOWNSCALE_STABILIZATION,
) -> tuple[int, str, str]:  # fmt: skip
    """stabilizeRecommendationWithBehaviors: (replicas, AbleToScale reason, message)."""
    up_cutoff = now - behavior.scale_up.stabilization_window_seconds
    down_window = (
        behavior.scale_down.stabilization_window_seconds
        if behavior.scale_down.HasField("stabilization_window_seconds")
        else default_down_window
    )
    down_cutoff = now - down_window
    up, down, old = desired, desired, None
    for i, (rec, at) in enumerate(history.recommendations):
        if at > up_cutoff:
            up = min(rec, up)
        if at > down_cutoff:
            down = max(rec, down)
        if at < up_cutoff and at < down_cutoff:
            old = i
    recommendation = max(current, up)
    recommendation = min(recommendation, down)
    _record(history, desired, now, old)
    if desired >= current:
        return (
            recommendation,
            "ScaleUpStabilized",
            ("recent recommendations were lower than current one, applying the lowest recent recommendation"),
        )
    return (
        recommendation,
        "ScaleDownStabilized",
        ("recent recommendations were higher than current one, applying the highest recent recommendation"),
    )


def _changed_in_period(period: int, events: list[Event], now: float) -> int:
    return sum(e.change for e in events if e.at > now - period)


def scale_up_limit(current: int, history: History, rules: hpa_pb2.HPAScalingRules, now: float) -> int:
    if rules.select_policy == "Disabled":
        return current
    pick, result = (min, MAX_INT32) if rules.select_policy == "Min" else (max, MIN_INT32)
    for policy in rules.policies:
        start = (
            current
            - _changed_in_period(policy.period_seconds, history.up, now)
            + _changed_in_period(policy.period_seconds, history.down, now)
        )
        proposed = start + policy.value if policy.type == "Pods" else math.ceil(start * (1 + policy.value / 100))
        result = pick(result, proposed)
    return result


def scale_down_limit(current: int, history: History, rules: hpa_pb2.HPAScalingRules, now: float) -> int:
    if rules.select_policy == "Disabled":
        return current
    pick, result = (max, MIN_INT32) if rules.select_policy == "Min" else (min, MAX_INT32)
    for policy in rules.policies:
        start = (
            current
            - _changed_in_period(policy.period_seconds, history.up, now)
            + _changed_in_period(policy.period_seconds, history.down, now)
        )
        proposed = start - policy.value if policy.type == "Pods" else int(start * (1 - policy.value / 100))
        result = pick(result, proposed)
    return result


def limit_rate(
    history: History, current: int, desired: int, min_replicas: int, max_replicas: int,
    behavior: hpa_pb2.HorizontalPodAutoscalerBehavior, now: float,
) -> tuple[int, str, str]:  # fmt: skip
    """convertDesiredReplicasWithBehaviorRate: (replicas, ScalingLimited reason, message)."""
    if desired > current:
        limit = max(scale_up_limit(current, history, behavior.scale_up, now), current)
        if max_replicas > limit:
            maximum, reason, message = (
                limit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
            )  # fmt: skip
        else:
            maximum, reason, message = (
                max_replicas, "TooManyReplicas", "the desired replica count is more than the maximum replica count"
            )  # fmt: skip
        if desired > maximum:
            return maximum, reason, message
    elif desired < current:
        limit = min(scale_down_limit(current, history, behavior.scale_down, now), current)
        if min_replicas < limit:
            minimum, reason, message = (
                limit, "ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate"
            )  # fmt: skip
        else:
            minimum, reason, message = (
                min_replicas, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
            )  # fmt: skip
        if desired < minimum:
            return minimum, reason, message
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


def _longest_period(rules: hpa_pb2.HPAScalingRules) -> int:
    return max((p.period_seconds for p in rules.policies), default=0)


def store_event(
    history: History, behavior: hpa_pb2.HorizontalPodAutoscalerBehavior | None, before: int, after: int, now: float
) -> None:
    """storeScaleEvent: events older than the longest policy period are overwritten first."""
    if behavior is None:
        return
    if after > before:
        events, rules, change = history.up, behavior.scale_up, after - before
    else:
        events, rules, change = history.down, behavior.scale_down, before - after
    period = _longest_period(rules)
    for e in events:
        if e.at <= now - period:
            e.outdated = True
    for i, e in enumerate(events):
        if e.outdated:
            events[i] = Event(change, now)
            return
    events.append(Event(change, now))
