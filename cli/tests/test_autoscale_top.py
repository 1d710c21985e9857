"""`skiff autoscale` builds the HPA kubectl autoscale builds; `skiff top` renders kubectl top's units."""

from __future__ import annotations

import argparse

import pytest
from skiff_cli.commands import autoscale, top


def args(**kw: object) -> argparse.Namespace:
    base: dict[str, object] = {"min": -1, "max": 10, "cpu_percent": -1, "hpa_name": ""}
    return argparse.Namespace(**(base | kw))


def test_autoscale_builds_an_autoscaling_v2_hpa() -> None:
    hpa = autoscale.build(args(min=1, cpu_percent=50), "Deployment", "apps/v1", "web", "default")
    assert (hpa.api_version, hpa.metadata.name, hpa.metadata.namespace) == ("autoscaling/v2", "web", "default")
    ref = hpa.spec.scale_target_ref
    assert (ref.api_version, ref.kind, ref.name) == ("apps/v1", "Deployment", "web")
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (1, 10)
    (m,) = hpa.spec.metrics
    assert (m.type, m.resource.name, m.resource.target.type, m.resource.target.average_utilization) == (
        "Resource", "cpu", "Utilization", 50,
    )  # fmt: skip


def test_autoscale_without_cpu_percent_leaves_the_default_to_the_server() -> None:
    hpa = autoscale.build(args(), "Deployment", "apps/v1", "web", "default")
    assert not hpa.spec.metrics and not hpa.spec.HasField("min_replicas")


@pytest.mark.parametrize(("kw", "error"), [({"max": 0}, "--max=MAXPODS"), ({"min": 5, "max": 2}, "--max=2 must be")])
def test_autoscale_bad_limits(kw: dict[str, int], error: str) -> None:
    with pytest.raises(SystemExit, match=error):
        autoscale.build(args(**kw), "Deployment", "apps/v1", "web", "default")


@pytest.mark.parametrize(
    ("cpu", "memory", "expected"),
    [("250000000n", "10240Ki", ("250m", "10Mi")), ("1", "1Gi", ("1000m", "1024Mi")), ("1500m", "0", ("1500m", "0Mi"))],
)
def test_top_units(cpu: str, memory: str, expected: tuple[str, str]) -> None:
    assert (top.cpu_text(cpu), top.memory_text(memory)) == expected


def test_top_table_is_kubectls() -> None:
    out = top.render(["NAME", "CPU(cores)"], [["web-1", "5m"], ["a", "250m"]], no_headers=False)
    assert out.splitlines() == ["NAME    CPU(cores)", "web-1   5m", "a       250m"]
