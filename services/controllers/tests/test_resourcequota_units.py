"""The resourcequota controller's status computation as tables (no apiserver)."""

from __future__ import annotations

from typing import Any

import pytest
from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import pod_pb2, quota_pb2, service_pb2
from skiff_controllers.resourcequota import usage


def _quota(hard: dict[str, str], scopes: tuple[str, ...] = ()) -> Any:
    q = quota_pb2.ResourceQuota()
    for k, v in hard.items():
        q.spec.hard[k].value = v
    q.spec.scopes.extend(scopes)
    return q


def _pod(cpu: str = "", memory: str = "", phase: str = "Running", deadline: int | None = None) -> Any:
    p = pod_pb2.Pod()
    c = p.spec.containers.add(name="c", image="busybox")
    if cpu:
        c.resources.requests["cpu"].value = cpu
        c.resources.limits["cpu"].value = cpu
    if memory:
        c.resources.requests["memory"].value = memory
    p.status.phase = phase
    if deadline is not None:
        p.spec.active_deadline_seconds = deadline
    return p


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("pods", ("pods", "")),
        ("requests.cpu", ("pods", "")),
        ("limits.memory", ("pods", "")),
        ("services.nodeports", ("services", "")),
        ("configmaps", ("configmaps", "")),
        ("count/deployments.apps", ("deployments", "apps")),
        ("count/secrets", ("secrets", "")),
        ("count/widgets.example.com", ("widgets", "example.com")),
    ],
)
def test_source_of(name: str, source: tuple[str, str]) -> None:
    assert usage.source_of(name) == source


def test_status_sums_running_pods_in_the_hard_format() -> None:
    quota = _quota({"pods": "10", "requests.cpu": "2", "requests.memory": "1Gi", "limits.cpu": "4"})
    pods = [_pod("500m", "256Mi"), _pod("250m", "256Mi"), _pod("1", "1Gi", phase="Succeeded"), _pod()]
    hard, used = usage.status(quota, {("pods", ""): pods})
    assert hard == {"pods": "10", "requests.cpu": "2", "requests.memory": "1Gi", "limits.cpu": "4"}
    assert used == {"pods": "3", "requests.cpu": "750m", "requests.memory": "512Mi", "limits.cpu": "750m"}


def test_every_hard_resource_gets_a_used_entry() -> None:
    _, used = usage.status(_quota({"pods": "1", "services": "2", "count/deployments.apps": "3"}), {})
    assert used == {"pods": "0", "services": "0", "count/deployments.apps": "0"}


def test_a_scoped_quota_counts_only_matching_pods() -> None:
    quota = _quota({"pods": "10"}, scopes=("Terminating",))
    objects = {("pods", ""): [_pod(deadline=30), _pod(), _pod(deadline=5)], ("services", ""): [service_pb2.Service()]}
    assert usage.status(quota, objects)[1] == {"pods": "2"}


def test_object_counts() -> None:
    quota = _quota({"count/deployments.apps": "5", "services.loadbalancers": "1", "services": "4"})
    lb = service_pb2.Service()
    lb.spec.type = "LoadBalancer"
    objects = {
        ("deployments", "apps"): [apps_pb2.Deployment(), apps_pb2.Deployment()],
        ("services", ""): [lb, service_pb2.Service()],
    }
    assert usage.status(quota, objects)[1] == {
        "count/deployments.apps": "2",
        "services.loadbalancers": "1",
        "services": "2",
    }


def test_a_pod_stuck_terminating_is_released_when_its_grace_runs_out() -> None:
    quota = _quota({"pods": "5"})
    stuck = _pod()
    stuck.metadata.deletion_timestamp.seconds = 1000
    stuck.metadata.deletion_grace_period_seconds = 30
    objects = {("pods", ""): [stuck, _pod()]}
    assert usage.status(quota, objects, now=1010)[1] == {"pods": "2"}
    assert usage.next_release(objects[("pods", "")], now=1010) == 1030
    assert usage.status(quota, objects, now=1031)[1] == {"pods": "1"}
    assert usage.next_release(objects[("pods", "")], now=1031) is None
