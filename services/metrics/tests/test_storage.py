"""The metrics window (tables): rates from the kubelet's own sample times, restarts and repeats dropped,
a pod only when every container has a rate; and the /metrics/resource decoder on the kubelet's format."""

from __future__ import annotations

import pytest
from skiff_metrics.scraper import decode
from skiff_metrics.storage import Batch, Point, Storage, Usage, rate

RESOURCE = """# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="web",namespace="default",pod="a"} 10.5 1000000
container_memory_working_set_bytes{container="web",namespace="default",pod="a"} 4096 1000000
node_cpu_usage_seconds_total 100 1000000
node_memory_working_set_bytes 8192 1000000
resource_scrape_error 0
"""


@pytest.mark.parametrize(
    ("previous", "latest", "expected"),
    [
        (Point(1.0, 10, 100.0), Point(2.0, 20, 110.0), Usage(100_000_000, 20, 110.0, 10.0)),
        (Point(1.0, 10, 100.0), Point(1.0, 20, 110.0), Usage(0, 20, 110.0, 10.0)),
        (None, Point(2.0, 20, 110.0), None),  # one point: no rate yet
        (Point(5.0, 10, 100.0), Point(1.0, 20, 110.0), None),  # restarted: counter went back
        (Point(1.0, 10, 110.0), Point(2.0, 20, 110.0), None),  # same sample twice
    ],
)
def test_rate(previous: Point | None, latest: Point, expected: Usage | None) -> None:
    assert rate(previous, latest) == expected


def test_decode_uses_the_kubelet_timestamps() -> None:
    batch = decode(RESOURCE, fallback_at=5.0)
    assert batch.node == Point(100.0, 8192, 1000.0)
    assert batch.containers == {("default", "a"): {"web": Point(10.5, 4096, 1000.0)}}


def test_pod_needs_every_container() -> None:
    s = Storage()
    s.store("n", Batch(Point(0, 0, 1), {("d", "p"): {"a": Point(1, 1, 1), "b": Point(1, 1, 1)}}))
    s.store("n", Batch(Point(1, 0, 2), {("d", "p"): {"a": Point(2, 5, 2), "b": Point(1, 6, 2)}}))
    assert s.pod_usage(("d", "p")) == [("a", Usage(10**9, 5, 2, 1)), ("b", Usage(0, 6, 2, 1))]
    s.store("n", Batch(Point(2, 0, 3), {("d", "p"): {"a": Point(3, 5, 3), "c": Point(1, 1, 3)}}))
    assert s.pod_usage(("d", "p")) is None  # c has one point only
    assert s.node_usage("n") == Usage(10**9, 0, 3, 1)
    s.store("n", Batch(Point(2, 0, 3), {}))  # same kubelet snapshot again: ignored
    assert s.node_usage("n") == Usage(10**9, 0, 3, 1)
    s.forget_except(set())
    assert s.node_usage("n") is None
