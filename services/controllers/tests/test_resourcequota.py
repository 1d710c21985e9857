"""The resourcequota controller with ResourceQuota admission, against a real apiserver on real etcd: status
computed from what the namespace holds (before and after the quota), charges by admission kept, usage
released when pods finish or go, spec changes followed, and a restarted controller recomputing from
scratch (level-triggered)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import namespace_pb2, pod_pb2, quota_pb2
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually
from skiff_common import errors
from skiff_controllers.app import ControllerManager

pytestmark = pytest.mark.etcd


@pytest.fixture
async def manager(client: ApiClient) -> AsyncIterator[ControllerManager]:
    m = ControllerManager(client, ["resourcequota"])
    await m.start()
    try:
        yield m
    finally:
        await m.stop()


async def _namespace(client: ApiClient) -> str:
    ns = namespace_pb2.Namespace(api_version="v1", kind="Namespace")
    ns.metadata.name = f"rq-{uuid.uuid4().hex[:6]}"
    await client.create(ns)
    return ns.metadata.name


def _pod(name: str, ns: str, cpu: str, memory: str) -> pod_pb2.Pod:
    p = pod_pb2.Pod(api_version="v1", kind="Pod")
    p.metadata.name, p.metadata.namespace = name, ns
    c = p.spec.containers.add(name="c", image="busybox")
    for part in (c.resources.requests, c.resources.limits):
        part["cpu"].value, part["memory"].value = cpu, memory
    return p


def _quota(ns: str, hard: dict[str, str]) -> quota_pb2.ResourceQuota:
    q = quota_pb2.ResourceQuota(api_version="v1", kind="ResourceQuota")
    q.metadata.name, q.metadata.namespace = "compute", ns
    for k, v in hard.items():
        q.spec.hard[k].value = v
    return q


def _used_is(client: ApiClient, ns: str, expected: dict[str, str]) -> Any:
    async def check() -> Any:
        q = await client.get(quota_pb2.ResourceQuota, "compute", ns)
        used = {k: v.value for k, v in q.status.used.items()}
        return q if used == expected and dict(q.status.hard) == dict(q.spec.hard) else None

    return check


async def test_usage_is_computed_charged_and_released(client: ApiClient, manager) -> None:
    ns = await _namespace(client)
    await client.create(_pod("before", ns, "250m", "64Mi"))  # exists before the quota: counted at its first sync
    await client.create(_quota(ns, {"pods": "3", "requests.cpu": "1", "limits.memory": "256Mi"}))
    await eventually(_used_is(client, ns, {"pods": "1", "requests.cpu": "250m", "limits.memory": "64Mi"}), "first sync")

    await client.create(_pod("second", ns, "500m", "128Mi"))  # charged by admission
    await eventually(_used_is(client, ns, {"pods": "2", "requests.cpu": "750m", "limits.memory": "192Mi"}), "charge")
    with pytest.raises(errors.Forbidden) as refused:
        await client.create(_pod("third", ns, "500m", "16Mi"))
    assert str(refused.value) == (
        'pods "third" is forbidden: exceeded quota: compute, requested: requests.cpu=500m, used: requests.cpu=750m, '
        "limited: requests.cpu=1"
    )

    done = await client.get(pod_pb2.Pod, "before", ns)
    done.status.phase = "Succeeded"
    await client.update_status(done)  # a finished pod holds no compute quota
    await eventually(_used_is(client, ns, {"pods": "1", "requests.cpu": "500m", "limits.memory": "128Mi"}), "finish")
    await client.delete(pod_pb2.Pod, "second", ns, grace_period_seconds=0)
    await eventually(_used_is(client, ns, {"pods": "0", "requests.cpu": "0", "limits.memory": "0"}), "delete")
    await client.create(_pod("third", ns, "500m", "16Mi"))  # now it fits


async def test_spec_changes_and_object_counts_are_followed(client: ApiClient, manager) -> None:
    ns = await _namespace(client)
    await client.create(_quota(ns, {"pods": "5"}))
    await eventually(_used_is(client, ns, {"pods": "0"}), "first sync")
    dep = apps_pb2.Deployment(api_version="apps/v1", kind="Deployment")
    dep.metadata.name, dep.metadata.namespace = "d", ns
    dep.spec.selector.match_labels["app"] = "d"
    dep.spec.template.metadata.labels["app"] = "d"
    dep.spec.template.spec.containers.add(name="c", image="busybox")
    await client.create(dep)
    q = await client.get(quota_pb2.ResourceQuota, "compute", ns)
    q.spec.hard["count/deployments.apps"].value = "1"
    await client.update(q)
    await eventually(_used_is(client, ns, {"pods": "0", "count/deployments.apps": "1"}), "a count of deployments")
    dep.metadata.name = "e"
    with pytest.raises(errors.Forbidden, match=r"exceeded quota: compute, requested: count/deployments\.apps=1"):
        await client.create(dep)


async def test_a_restarted_controller_recomputes(client: ApiClient) -> None:
    ns = await _namespace(client)
    first = ControllerManager(client, ["resourcequota"])
    await first.start()
    try:
        await client.create(_quota(ns, {"pods": "5"}))
        await eventually(_used_is(client, ns, {"pods": "0"}), "first sync")
        await client.create(_pod("a", ns, "10m", "1Mi"))
        await eventually(_used_is(client, ns, {"pods": "1"}), "charge")
    finally:
        await first.stop()
    await client.delete(pod_pb2.Pod, "a", ns, grace_period_seconds=0)  # while no controller runs
    second = ControllerManager(client, ["resourcequota"])
    await second.start()
    try:
        await eventually(_used_is(client, ns, {"pods": "0"}), "usage recomputed after the restart")
    finally:
        await second.stop()
