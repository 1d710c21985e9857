"""Quota evaluation as pure tables: what objects cost, which quotas track them, Kubernetes' refusals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from skiff.api.core.v1 import pod_pb2, quota_pb2, service_pb2
from skiff_common.quota import check, scopes, usage


def _pod(*containers: dict[str, dict[str, str]], init: list[dict[str, dict[str, str]]] | None = None) -> pod_pb2.Pod:
    p = pod_pb2.Pod()
    p.metadata.name, p.metadata.namespace = "p", "ns"
    for i, res in enumerate(containers):
        c = p.spec.containers.add(name=f"c{i}", image="busybox")
        for kind in ("requests", "limits"):
            for name, value in res.get(kind, {}).items():
                getattr(c.resources, kind)[name].value = value
    for i, res in enumerate(init or []):
        c = p.spec.init_containers.add(name=f"i{i}", image="busybox")
        for kind in ("requests", "limits"):
            for name, value in res.get(kind, {}).items():
                getattr(c.resources, kind)[name].value = value
    return p


def _quota(hard: dict[str, str], used: dict[str, str] | None = None, scopes_: tuple[str, ...] = ()) -> Any:
    q = quota_pb2.ResourceQuota()
    q.metadata.name, q.metadata.namespace = "q", "ns"
    for name, value in hard.items():
        q.spec.hard[name].value = value
        q.status.hard[name].value = value
    for name, value in (used if used is not None else {n: "0" for n in hard}).items():
        q.status.used[name].value = value
    q.spec.scopes.extend(scopes_)
    return q


DEMO = {"requests": {"cpu": "400m", "memory": "600Mi"}, "limits": {"cpu": "800m", "memory": "800Mi"}}


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        (_pod(DEMO), {"pods": "1", "count/pods": "1", "cpu": "0.4", "requests.cpu": "0.4",
                      "memory": str(600 * 2**20), "requests.memory": str(600 * 2**20),
                      "limits.cpu": "0.8", "limits.memory": str(800 * 2**20)}),
        # a limit without a request requests the limit (Kubernetes' pod defaulting)
        (_pod({"limits": {"cpu": "1"}}),
         {"pods": "1", "count/pods": "1", "cpu": "1", "requests.cpu": "1", "limits.cpu": "1"}),
        # containers add up; the largest init container is a floor
        (_pod({"requests": {"cpu": "100m"}}, {"requests": {"cpu": "200m"}}, init=[{"requests": {"cpu": "250m"}}]),
         {"pods": "1", "count/pods": "1", "cpu": "0.3", "requests.cpu": "0.3"}),
        (_pod({"requests": {"cpu": "100m"}}, init=[{"requests": {"cpu": "2"}}]),
         {"pods": "1", "count/pods": "1", "cpu": "2", "requests.cpu": "2"}),
        # extended resources are quota'd by their request only
        (_pod({"requests": {"example.com/gpu": "1"}, "limits": {"example.com/gpu": "1"}}),
         {"pods": "1", "count/pods": "1", "requests.example.com/gpu": "1"}),
    ],
)  # fmt: skip
def test_pod_usage(pod: pod_pb2.Pod, expected: dict[str, str]) -> None:
    assert usage.pod_usage(pod) == {k: Decimal(v) for k, v in expected.items()}


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_a_finished_pod_holds_only_its_object_count(phase: str) -> None:
    p = _pod(DEMO)
    p.status.phase = phase
    assert usage.pod_usage(p) == {"count/pods": Decimal(1)}


def test_a_pod_deleted_longer_ago_than_its_grace_is_released() -> None:
    p = _pod(DEMO)
    p.metadata.deletion_timestamp.seconds = 1000
    p.metadata.deletion_grace_period_seconds = 30
    assert "pods" in usage.pod_usage(p, now=1029)
    assert usage.pod_usage(p, now=1031) == {"count/pods": Decimal(1)}


@pytest.mark.parametrize(
    ("svc_type", "ports", "expected"),
    [
        ("", 1, {"services": 1, "count/services": 1}),
        ("NodePort", 2, {"services": 1, "count/services": 1, "services.nodeports": 2}),
        ("LoadBalancer", 1, {"services": 1, "count/services": 1, "services.loadbalancers": 1, "services.nodeports": 1}),
    ],
)
def test_service_usage(svc_type: str, ports: int, expected: dict[str, int]) -> None:
    svc = service_pb2.Service()
    svc.spec.type = svc_type
    for i in range(ports):
        svc.spec.ports.add(port=80 + i)
    assert usage.service_usage(svc) == {k: Decimal(v) for k, v in expected.items()}


@pytest.mark.parametrize(
    ("name", "resource", "group", "tracked"),
    [
        ("pods", "pods", "", True),
        ("requests.cpu", "pods", "", True),
        ("limits.memory", "pods", "", True),
        ("count/pods", "pods", "", True),
        ("services", "pods", "", False),
        ("configmaps", "configmaps", "", True),
        ("count/configmaps", "configmaps", "", True),
        ("count/deployments.apps", "deployments", "apps", True),
        ("deployments", "deployments", "apps", False),
        ("count/deployments.apps", "replicasets", "apps", False),
        ("services.nodeports", "services", "", True),
        ("requests.cpu", "services", "", False),
    ],
)
def test_which_resources_an_object_charges(name: str, resource: str, group: str, tracked: bool) -> None:
    assert usage.tracks(name, resource, group) is tracked


@pytest.mark.parametrize(
    ("scope", "pod", "matches"),
    [
        ("BestEffort", _pod({}), True),
        ("BestEffort", _pod(DEMO), False),
        ("NotBestEffort", _pod(DEMO), True),
        ("Terminating", _pod(DEMO), False),
        ("NotTerminating", _pod(DEMO), True),
    ],
)
def test_scopes(scope: str, pod: pod_pb2.Pod, matches: bool) -> None:
    assert scopes.pod_matches(_quota({"pods": "5"}, scopes_=(scope,)), pod) is matches


def test_terminating_is_an_active_deadline() -> None:
    p = _pod(DEMO)
    p.spec.active_deadline_seconds = 60
    assert scopes.pod_matches(_quota({"pods": "5"}, scopes_=("Terminating",)), p)


@pytest.mark.parametrize(
    ("operator", "values", "class_name", "matches"),
    [
        ("In", ["high"], "high", True),
        ("In", ["high"], "low", False),
        ("NotIn", ["high"], "low", True),
        ("NotIn", ["high"], "", False),
        ("Exists", [], "low", True),
        ("DoesNotExist", [], "", True),
        ("DoesNotExist", [], "low", False),
    ],
)
def test_priority_class_scope_selector(operator: str, values: list[str], class_name: str, matches: bool) -> None:
    q = _quota({"pods": "5"})
    q.spec.scope_selector.match_expressions.add(scope_name="PriorityClass", operator=operator, values=values)
    p = _pod(DEMO)
    p.spec.priority_class_name = class_name
    assert scopes.pod_matches(q, p) is matches


def test_a_scoped_quota_tracks_no_other_kind() -> None:
    q = _quota({"count/configmaps": "1"}, scopes_=("NotTerminating",))
    assert check.tracked_names(q, "configmaps", "", object()) == []


MEM_CPU = {"requests.cpu": "1", "requests.memory": "1Gi", "limits.cpu": "2", "limits.memory": "2Gi"}


def test_the_docs_first_pod_is_charged_in_the_quotas_formats() -> None:
    used = check.charge(_quota(MEM_CPU), "pods", "", _pod(DEMO))
    assert used == {"requests.cpu": "400m", "requests.memory": "600Mi", "limits.cpu": "800m", "limits.memory": "800Mi"}


def test_the_docs_second_pod_exceeds_the_memory_request_quota() -> None:
    used = {"requests.cpu": "400m", "requests.memory": "600Mi", "limits.cpu": "800m", "limits.memory": "800Mi"}
    second = _pod({"requests": {"cpu": "400m", "memory": "700Mi"}, "limits": {"cpu": "800m", "memory": "1Gi"}})
    with pytest.raises(check.QuotaExceeded) as info:
        check.charge(_quota(MEM_CPU, used), "pods", "", second)
    assert str(info.value) == (
        "exceeded quota: q, requested: requests.memory=700Mi, used: requests.memory=600Mi, limited: requests.memory=1Gi"
    )


def test_several_exceeded_resources_are_listed_sorted() -> None:
    q = _quota({"pods": "1", "requests.cpu": "1"}, {"pods": "1", "requests.cpu": "1"})
    with pytest.raises(
        check.QuotaExceeded, match=r"requested: pods=1,requests.cpu=500m, used: pods=1,requests.cpu=1, "
    ):
        check.charge(q, "pods", "", _pod({"requests": {"cpu": "500m"}}))


def test_quota_on_cpu_and_memory_needs_every_container_to_state_them() -> None:
    p = _pod({"requests": {"cpu": "100m", "memory": "1Mi"}}, {})
    with pytest.raises(check.QuotaExceeded) as info:
        check.charge(_quota(MEM_CPU), "pods", "", p)
    assert str(info.value) == (
        "failed quota: q: must specify limits.cpu for: c0,c1; limits.memory for: c0,c1; requests.cpu for: c1; "
        "requests.memory for: c1"
    )


def test_usage_not_yet_computed_is_status_unknown() -> None:
    with pytest.raises(check.QuotaExceeded, match="status unknown for quota: q, resources: pods"):
        check.charge(_quota({"pods": "2"}, used={}), "pods", "", _pod({}))


def test_what_the_object_does_not_use_is_not_charged_or_refused() -> None:
    gpu = "requests.example.com/gpu"
    q = _quota({"pods": "5", gpu: "1"}, {"pods": "0", gpu: "2"})  # over since hard was lowered
    assert check.charge(q, "pods", "", _pod({"requests": {"memory": "1Mi"}})) == {"pods": "1", gpu: "2"}
    assert check.charge(q, "configmaps", "", object()) is None


def test_object_counts() -> None:
    q = _quota({"count/deployments.apps": "1", "configmaps": "2"}, {"count/deployments.apps": "1", "configmaps": "1"})
    assert check.charge(q, "configmaps", "", object()) == {"count/deployments.apps": "1", "configmaps": "2"}
    with pytest.raises(
        check.QuotaExceeded, match=r"requested: count/deployments.apps=1, used: count/deployments.apps=1"
    ):
        check.charge(q, "deployments", "apps", object())
