# ruff: noqa: E501 - one upstream case per table row
"""Scaling behavior cases from Kubernetes' horizontal_test.go (TestConvertDesiredReplicasWithRules,
TestScalingWithRules, TestNormalizeDesiredReplicasWithBehavior, TestStoreScaleEvents), translated."""

from __future__ import annotations

import pytest
from skiff.api.autoscaling.v2 import hpa_pb2
from skiff_controllers.horizontalpodautoscaler import behavior as B

NOW = 10_000.0


def rules(select: str = "Max", window: int | None = None, **policies: tuple[int, int]) -> hpa_pb2.HPAScalingRules:
    r = hpa_pb2.HPAScalingRules(select_policy=select)
    if window is not None:
        r.stabilization_window_seconds = window
    for kind, (value, period) in policies.items():
        r.policies.add(type=kind.rstrip("_"), value=value, period_seconds=period)
    return r


def behavior(
    up: hpa_pb2.HPAScalingRules | None = None, down: hpa_pb2.HPAScalingRules | None = None
) -> hpa_pb2.HorizontalPodAutoscalerBehavior:
    spec = hpa_pb2.HorizontalPodAutoscalerSpec()
    spec.behavior.SetInParent()
    if up is not None:
        spec.behavior.scale_up.CopyFrom(up)
    if down is not None:
        spec.behavior.scale_down.CopyFrom(down)
    b = B.default_behavior(spec)
    assert b is not None
    return b


@pytest.mark.parametrize(
    ("current", "desired", "lo", "hi", "expected", "reason"),
    [
        (5, 7, 3, 8, 7, "DesiredWithinRange"),
        (3, 1, 2, 8, 2, "TooFewReplicas"),
        (1, 5, 1, 8, 4, "ScaleUpLimit"),  # max(2 x 1, 4)
        (20, 1000, 1, 10, 10, "TooManyReplicas"),
        (3, 100, 1, 10, 6, "ScaleUpLimit"),
    ],
)
def test_convert_desired_replicas_with_rules(
    current: int, desired: int, lo: int, hi: int, expected: int, reason: str
) -> None:
    assert B.limit_legacy(current, desired, lo, hi)[:2] == (expected, reason)


def ev(change: int, ago: float) -> B.Event:
    return B.Event(change, NOW - ago)


@pytest.mark.parametrize(
    ("name", "current", "desired", "lo", "hi", "b", "up", "down", "expected", "reason"),
    [
        ("scaleUp default", 5, 15, 1, 100, behavior(), [], [], 10, "ScaleUpLimit"),
        ("scaleUp pods policy larger", 5, 15, 1, 100, behavior(rules(Pods=(100, 60), Percent=(100, 60))), [], [], 15, "DesiredWithinRange"),
        ("scaleUp maxReplicas with large pod policy", 1, 200, 1, 10, behavior(rules(Pods=(100, 60))), [], [], 10, "TooManyReplicas"),
        ("scaleUp previous events eat the period", 6, 20, 1, 100, behavior(rules(Pods=(4, 60))), [ev(4, 30)], [], 6, "ScaleUpLimit"),
        ("scaleUp Min policy", 10, 100, 1, 100, behavior(rules("Min", Pods=(4, 60), Percent=(100, 60))), [], [], 14, "ScaleUpLimit"),
        ("scaleUp disabled", 10, 100, 1, 100, behavior(rules("Disabled")), [], [], 10, "ScaleUpLimit"),
        ("scaleDown default", 10, 2, 1, 100, behavior(), [], [], 2, "DesiredWithinRange"),
        ("scaleDown minReplicas", 10, 2, 5, 100, behavior(), [], [], 5, "TooFewReplicas"),
        ("scaleDown pods policy, earlier scale-down", 10, 1, 1, 100, behavior(down=rules(Pods=(5, 60))), [], [ev(1, 30)], 6, "ScaleDownLimit"),
        ("scaleDown Min policy", 100, 1, 1, 100, behavior(down=rules("Min", Pods=(10, 60), Percent=(50, 60))), [], [], 90, "ScaleDownLimit"),
        ("scaleDown percent", 10, 1, 1, 100, behavior(down=rules(Percent=(30, 60))), [], [], 7, "ScaleDownLimit"),
        ("scaleDown disabled", 10, 1, 1, 100, behavior(down=rules("Disabled")), [], [], 10, "ScaleDownLimit"),
        ("old events do not count", 10, 1, 1, 100, behavior(down=rules(Pods=(5, 60))), [], [ev(3, 120)], 5, "ScaleDownLimit"),
    ],
)  # fmt: skip
def test_scaling_with_rules(
    name: str, current: int, desired: int, lo: int, hi: int, b: hpa_pb2.HorizontalPodAutoscalerBehavior,
    up: list[B.Event], down: list[B.Event], expected: int, reason: str,
) -> None:  # fmt: skip
    history = B.History(up=up, down=down)
    assert B.limit_rate(history, current, desired, lo, hi, b, NOW)[:2] == (expected, reason)


@pytest.mark.parametrize(
    ("current", "desired", "recs", "b", "expected", "reason"),
    [
        # scale-down held by the highest recommendation within the (default 300 s) window
        (5, 3, [(4, 10), (5, 20)], behavior(), 5, "ScaleDownStabilized"),
        (5, 3, [(4, 10), (5, 400)], behavior(), 4, "ScaleDownStabilized"),
        (5, 3, [(4, 10), (5, 20)], behavior(down=rules(window=0, Percent=(100, 15))), 3, "ScaleDownStabilized"),
        # scale-up held by the lowest recommendation within its window
        (1, 5, [(1, 10), (2, 20)], behavior(up=rules(window=60, Pods=(4, 15))), 1, "ScaleUpStabilized"),
        (1, 5, [(3, 10), (4, 20)], behavior(up=rules(window=60, Pods=(4, 15))), 3, "ScaleUpStabilized"),
        (1, 5, [(1, 10)], behavior(), 5, "ScaleUpStabilized"),  # default scale-up window: 0
    ],
)
def test_stabilization(current: int, desired: int, recs: list[tuple[int, float]], b: hpa_pb2.HorizontalPodAutoscalerBehavior,
                       expected: int, reason: str) -> None:  # fmt: skip
    history = B.History(recommendations=[(r, NOW - ago) for r, ago in recs])
    assert B.stabilize(history, current, desired, b, NOW)[:2] == (expected, reason)
    assert (desired, NOW) in history.recommendations


def test_legacy_stabilization_keeps_the_highest_recent() -> None:
    history = B.History()
    assert B.stabilize_legacy(history, 5, NOW - 100, 300) == 5
    assert B.stabilize_legacy(history, 2, NOW, 300) == 5
    assert B.stabilize_legacy(history, 2, NOW + 250, 300) == 2  # the 5 has aged out and is replaced


def test_store_scale_events_reuses_outdated_slots() -> None:
    b = behavior(up=rules(Pods=(4, 60)))
    history = B.History(up=[ev(1, 100), ev(2, 10)])
    B.store_event(history, b, 3, 7, NOW)
    assert [(e.change, e.at) for e in history.up] == [(4, NOW), (2, NOW - 10)]
    B.store_event(history, b, 7, 5, NOW)
    assert [(e.change, e.at) for e in history.down] == [(2, NOW)]
    B.store_event(history, None, 5, 9, NOW)  # without behavior nothing is recorded
    assert len(history.up) == 2


def test_defaults() -> None:
    assert B.default_behavior(hpa_pb2.HorizontalPodAutoscalerSpec()) is None
    b = behavior()
    assert b.scale_up.stabilization_window_seconds == 0 and b.scale_up.select_policy == "Max"
    assert [(p.type, p.value, p.period_seconds) for p in b.scale_up.policies] == [("Pods", 4, 15), ("Percent", 100, 15)]
    assert not b.scale_down.HasField("stabilization_window_seconds")  # the controller's 300 s applies
    assert [(p.type, p.value, p.period_seconds) for p in b.scale_down.policies] == [("Percent", 100, 15)]
