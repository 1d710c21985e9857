"""The Kubernetes documentation's scheduling examples schedule as documented, on a hollow cluster:
real apiserver and etcd, this scheduler, and hollow nodes (bench/hollow) that register, renew their
Leases and run pods' lifecycle without containers.

Examples, from kubernetes.io/docs/concepts/scheduling-eviction/:
  * taint-and-toleration: ``kubectl taint nodes node1 key1=value1:NoSchedule``; only a pod with the
    matching toleration may land on node1;
  * assign-pod-node (node affinity): zone In [antarctica-east1, antarctica-west1] required,
    another-node-label-key=another-node-label-value preferred;
  * assign-pod-node (inter-pod affinity): the redis-cache / web-server example, 3 replicas each,
    every web server next to a cache and no two of a kind on one node;
  * topology-spread-constraints: 4 nodes in zoneA/zoneB holding 2+1 ``foo=bar`` pods; with maxSkew 1
    the new pod can only go to zoneB.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from skiff.api.coordination.v1 import lease_pb2
from skiff.api.core.v1 import pod_pb2
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually
from skiff_common.apimachinery.convert import from_dict
from skiff_scheduler.app import SchedulerApp

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench" / "hollow"))
from hollow_nodes import LEASE_NS, HollowNodes, NodeShape
from hollow_pods import HollowPods

pytestmark = pytest.mark.etcd


class Hollow:
    def __init__(self, api: ApiClient) -> None:
        self.api = api
        self.groups: list[HollowNodes] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.pods: HollowPods | None = None

    async def add(self, prefix: str, count: int, **shape: Any) -> list[str]:
        group = HollowNodes(self.api, count, prefix=prefix, shape=NodeShape(zones=0, **shape), lease_period=2.0)
        await group.register()
        self.groups.append(group)
        self.tasks.append(asyncio.create_task(group.run_leases()))
        return group.names

    def start_pods(self) -> None:
        names = frozenset(n for g in self.groups for n in g.names)
        self.pods = HollowPods(self.api, names)
        self.tasks.append(asyncio.create_task(self.pods.run()))

    async def close(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.pods is not None:
            await self.pods.stop()
        for g in self.groups:
            await g.delete_all()


@pytest.fixture
async def cluster(client: ApiClient) -> AsyncIterator[Hollow]:
    app = SchedulerApp(client)
    await app.start()
    hollow = Hollow(client)
    try:
        yield hollow
    finally:
        await hollow.close()
        await app.stop()


def pod(name: str, spec: dict[str, Any], labels: dict[str, str] | None = None, ns: str = "default") -> pod_pb2.Pod:
    body = {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}], **spec}
    meta = {"name": name, "namespace": ns, "labels": labels or {}}
    return from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": body}, pod_pb2.Pod)


async def running_on(client: ApiClient, name: str, ns: str = "default") -> str:
    p = await client.get(pod_pb2.Pod, name, ns)
    ready = any(c.type == "Ready" and c.status == "True" for c in p.status.conditions)
    return p.spec.node_name if p.status.phase == "Running" and ready else ""


def u(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:4]}"


async def test_hollow_nodes_keep_leases_and_run_pods(client: ApiClient, cluster: Hollow) -> None:
    names = await cluster.add(u("hl"), 3)
    cluster.start_pods()
    lease = await client.get(lease_pb2.Lease, names[0], LEASE_NS)
    first = lease.spec.renew_time.seconds

    async def renewed() -> bool:
        again = await client.get(lease_pb2.Lease, names[0], LEASE_NS)
        return again.spec.renew_time.seconds > first

    await eventually(renewed, "lease renewed")
    await client.create(pod("lifecycle", {"nodeSelector": {"kubernetes.io/hostname": names[1]}}))
    assert await eventually(lambda: running_on(client, "lifecycle"), "Running/Ready") == names[1]
    await client.delete(pod_pb2.Pod, "lifecycle", "default")

    async def gone() -> bool:
        try:
            await client.get(pod_pb2.Pod, "lifecycle", "default")
        except Exception:
            return True
        return False

    await eventually(gone, "deletion confirmed by the hollow node")


async def test_taint_and_toleration_example(client: ApiClient, cluster: Hollow) -> None:
    tainted = await cluster.add(u("taint"), 1, taints=[("key1", "value1", "NoSchedule")], taint_every=1)
    cluster.start_pods()
    tolerating = {
        "tolerations": [{"key": "key1", "operator": "Equal", "value": "value1", "effect": "NoSchedule"}],
        "nodeSelector": {"kubernetes.io/hostname": tainted[0]},
    }
    await client.create(pod("tolerates", tolerating))
    assert await eventually(lambda: running_on(client, "tolerates"), "tolerating pod runs") == tainted[0]
    exists = dict(tolerating, tolerations=[{"key": "key1", "operator": "Exists", "effect": "NoSchedule"}])
    await client.create(pod("tolerates-exists", exists))
    assert await eventually(lambda: running_on(client, "tolerates-exists"), "Exists toleration") == tainted[0]
    await client.create(pod("intolerant", {"nodeSelector": {"kubernetes.io/hostname": tainted[0]}}))

    async def refused() -> str:
        p = await client.get(pod_pb2.Pod, "intolerant", "default")
        return next((c.message for c in p.status.conditions if c.type == "PodScheduled" and c.status == "False"), "")

    message = await eventually(refused, "intolerant pod refused")
    assert "1 node(s) had untolerated taint {key1: value1}" in message


ZONE = "topology.kubernetes.io/zone"


async def test_node_affinity_example(client: ApiClient, cluster: Hollow) -> None:
    tag = u("na")
    await cluster.add(f"{tag}-e", 1, labels={ZONE: "antarctica-east1", "grp": tag})
    preferred = await cluster.add(
        f"{tag}-w",
        1,
        labels={ZONE: "antarctica-west1", "another-node-label-key": "another-node-label-value", "grp": tag},
    )
    await cluster.add(f"{tag}-o", 2, labels={ZONE: "elsewhere", "grp": tag})
    cluster.start_pods()
    spec = {
        "nodeSelector": {"grp": tag},
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": ZONE, "operator": "In", "values": ["antarctica-east1", "antarctica-west1"]}
                            ]
                        }
                    ]
                },
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 1,
                        "preference": {
                            "matchExpressions": [
                                {
                                    "key": "another-node-label-key",
                                    "operator": "In",
                                    "values": ["another-node-label-value"],
                                }
                            ]
                        },
                    }
                ],
            }
        },
    }
    await client.create(pod("with-node-affinity", spec))
    assert await eventually(lambda: running_on(client, "with-node-affinity"), "scheduled") == preferred[0]


async def test_pod_affinity_and_anti_affinity_example(client: ApiClient, cluster: Hollow) -> None:
    tag = u("pa")
    nodes = await cluster.add(tag, 4, labels={"grp": tag})
    cluster.start_pods()
    host = "kubernetes.io/hostname"
    anti_store = {
        "labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["store"]}]},
        "topologyKey": host,
    }
    cache_spec = {
        "nodeSelector": {"grp": tag},
        "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [anti_store]}},
    }
    for i in range(3):
        await client.create(pod(f"redis-cache-{i}", cache_spec, {"app": "store"}))
    web_spec = {
        "nodeSelector": {"grp": tag},
        "affinity": {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "labelSelector": {
                            "matchExpressions": [{"key": "app", "operator": "In", "values": ["web-store"]}]
                        },
                        "topologyKey": host,
                    }
                ]
            },
            "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [anti_store]},
        },
    }
    for i in range(3):
        await client.create(pod(f"web-server-{i}", web_spec, {"app": "web-store"}))
    caches = [await eventually(lambda i=i: running_on(client, f"redis-cache-{i}"), "cache runs") for i in range(3)]
    webs = [await eventually(lambda i=i: running_on(client, f"web-server-{i}"), "web runs") for i in range(3)]
    assert len(set(caches)) == 3 and len(set(webs)) == 3  # one of a kind per node
    assert set(webs) == set(caches)  # every web server next to a cache
    assert set(caches) <= set(nodes)


async def test_topology_spread_example(client: ApiClient, cluster: Hollow) -> None:
    tag = u("ts")
    zone_a = await cluster.add(f"{tag}-a", 2, labels={"zone": "zoneA", "grp": tag})
    zone_b = await cluster.add(f"{tag}-b", 2, labels={"zone": "zoneB", "grp": tag})
    cluster.start_pods()
    for name, node in (("p1", zone_a[0]), ("p2", zone_a[1]), ("p3", zone_b[0])):
        await client.create(pod(f"{tag}-{name}", {"nodeSelector": {"kubernetes.io/hostname": node}}, {"foo": "bar"}))
        assert await eventually(lambda n=name: running_on(client, f"{tag}-{n}"), "placed") == node
    spec = {
        "nodeSelector": {"grp": tag},
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"foo": "bar"}},
            }
        ],
    }
    await client.create(pod(f"{tag}-mypod", spec, {"foo": "bar"}))
    assert await eventually(lambda: running_on(client, f"{tag}-mypod"), "mypod runs") in zone_b
