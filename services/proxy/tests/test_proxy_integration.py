"""skiff-proxy end to end below the cluster: a real apiserver on real etcd, the proxy's informers and sync
loop, and its rules applied in a test network namespace, checked with real TCP connections."""

from __future__ import annotations

import asyncio
import os
import shutil
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from netlab import GATEWAY, NetLab
from skiff.api.core.v1 import service_pb2
from skiff.api.discovery.v1 import endpointslice_pb2 as es
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually, free_port
from skiff_proxy import kernel
from skiff_proxy.app import ProxyApp
from skiff_proxy.config import ProxyConfig

pytestmark = [
    pytest.mark.root,
    pytest.mark.etcd,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="needs root and nft"),
]
A, B, CLIENT = "10.244.0.2", "10.244.0.3", "10.244.0.4"


@pytest.fixture
def lab() -> Iterator[NetLab]:
    lab = NetLab()
    try:
        lab.pods = {n: lab.add_pod(n, ip) for n, ip in (("a", A), ("b", B), ("client", CLIENT))}  # type: ignore[attr-defined]
        lab.serve(lab.pods["a"], "pod-a", 8080)  # type: ignore[attr-defined]
        lab.serve(lab.pods["b"], "pod-b", 8080)  # type: ignore[attr-defined]
        yield lab
    finally:
        lab.close()


@pytest.fixture
async def proxy(client: ApiClient, lab: NetLab) -> AsyncIterator[ProxyApp]:
    cfg = ProxyConfig(
        cluster_cidr="10.244.0.0/16",
        service_cidr="10.96.0.0/12",
        nodeport_addresses=[GATEWAY],
        healthz_address=f"127.0.0.1:{free_port()}",
        min_sync_period=0.05,
        pod_bridge="br0",
    )
    app = ProxyApp(client, cfg, prefix=lab.prefix)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()
        await app.cleanup()


def endpoint_slice(service: str, *ips: str) -> es.EndpointSlice:
    s = es.EndpointSlice(api_version="discovery.k8s.io/v1", kind="EndpointSlice", address_type="IPv4")
    s.metadata.name, s.metadata.namespace = f"{service}-1", "default"
    s.metadata.labels["kubernetes.io/service-name"] = service
    s.ports.add(name="http", protocol="TCP", port=8080)
    for ip in ips:
        s.endpoints.add(addresses=[ip]).conditions.ready = True
    return s


async def test_proxy_follows_services_and_slices(client: ApiClient, lab: NetLab, proxy: ProxyApp) -> None:
    name = f"web-{uuid.uuid4().hex[:6]}"
    svc = service_pb2.Service(api_version="v1", kind="Service")
    svc.metadata.name, svc.metadata.namespace = name, "default"
    svc.spec.ports.add(name="http", port=80, protocol="TCP")
    made = await client.create(svc)
    ip = made.spec.cluster_ip
    pods: Any = lab.pods  # type: ignore[attr-defined]

    async def answers(expected: set[str], n: int = 1) -> bool:
        return set(await asyncio.to_thread(lab.connect, pods["client"], ip, 80, n)) == expected

    await eventually(lambda: answers({"ECONNREFUSED"}), "no endpoints: refused")
    slice_ = await client.create(endpoint_slice(name, A))
    await eventually(lambda: answers({"pod-a"}), "traffic reaches pod a")
    slice_.endpoints.add(addresses=[B]).conditions.ready = True
    slice_ = await client.update(slice_)
    await eventually(lambda: answers({"pod-a", "pod-b"}, n=30), "traffic balanced over a and b")
    slice_.endpoints[0].conditions.ready = False  # a fails readiness: out of rotation
    await client.update(slice_)
    await eventually(lambda: answers({"pod-b"}, n=10), "only b")
    status = await asyncio.to_thread(
        lambda: urllib.request.urlopen(f"http://{proxy.cfg.healthz_address}/healthz").status
    )
    assert status == 200
    await client.delete(service_pb2.Service, name, "default")
    # a deleted Service's address is unallocated: dropped (as kube-proxy does), never routed off the node
    await eventually(lambda: answers({"TimeoutError"}), "deleted service: dropped")


async def test_cleanup_removes_only_our_table(client: ApiClient, lab: NetLab, proxy: ProxyApp) -> None:
    await kernel.nft_apply("table ip someone-else\n", prefix=lab.prefix)
    assert await kernel.nft_list_table("skiff-proxy", prefix=lab.prefix)
    await proxy.cleanup()
    assert await kernel.nft_list_table("skiff-proxy", prefix=lab.prefix) == ""
    assert await kernel.nft_list_table("someone-else", prefix=lab.prefix)


async def test_a_proxy_restart_keeps_established_connections(client: ApiClient, lab: NetLab, proxy: ProxyApp) -> None:
    name = f"keep-{uuid.uuid4().hex[:6]}"
    svc = service_pb2.Service(api_version="v1", kind="Service")
    svc.metadata.name, svc.metadata.namespace = name, "default"
    svc.spec.ports.add(name="http", port=80, protocol="TCP")
    ip = (await client.create(svc)).spec.cluster_ip
    await client.create(endpoint_slice(name, A))
    pods: Any = lab.pods  # type: ignore[attr-defined]

    async def reaches_a() -> bool:
        return await asyncio.to_thread(lab.connect, pods["client"], ip, 80, 1) == ["pod-a"]

    await eventually(reaches_a, "traffic reaches pod a")
    held = lab.hold(pods["client"], ip, 80)
    assert held.stdout is not None and held.stdin is not None
    assert (await asyncio.to_thread(held.stdout.readline)).strip() == "pod-a"
    await proxy.stop()  # the rules stay in place while no proxy runs, as with kube-proxy
    second = ProxyApp(client, proxy.cfg, prefix=lab.prefix)
    await second.start()  # informers sync, then a whole-table rebuild
    try:
        assert second.syncer.full_syncs == 1
        held.stdin.write("after-restart\n")
        held.stdin.flush()
        assert (await asyncio.to_thread(held.stdout.readline)).strip() == "after-restart"
        assert await reaches_a()
    finally:
        await second.stop()
