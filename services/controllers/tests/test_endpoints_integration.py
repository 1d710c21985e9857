"""Endpoints and EndpointSlice controllers against a real apiserver on real etcd."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from skiff.api.core.v1 import pod_pb2, service_pb2
from skiff.api.discovery.v1 import endpointslice_pb2 as es
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually
from skiff_controllers.app import ControllerManager

pytestmark = pytest.mark.etcd
NAMES = ["endpoints", "endpointslice"]


@pytest.fixture
async def manager(client: ApiClient) -> AsyncIterator[ControllerManager]:
    m = ControllerManager(client, NAMES)
    await m.start()
    try:
        yield m
    finally:
        await m.stop()


def make_service(name: str, *, selector: bool = True) -> service_pb2.Service:
    s = service_pb2.Service(api_version="v1", kind="Service")
    s.metadata.name, s.metadata.namespace = name, "default"
    if selector:
        s.spec.selector["app"] = name
    p = s.spec.ports.add(name="http", port=80, protocol="TCP")
    p.target_port.str_val = "web"
    return s


async def make_pod(client: ApiClient, name: str, app: str, ip: str, *, ready: bool) -> pod_pb2.Pod:
    p = pod_pb2.Pod(api_version="v1", kind="Pod")
    p.metadata.name, p.metadata.namespace = name, "default"
    p.metadata.labels["app"] = app
    p.spec.node_name = "node-1"  # bound, so a graceful delete leaves it terminating for a while
    c = p.spec.containers.add(name="c", image="busybox")
    c.ports.add(name="web", container_port=8080, protocol="TCP")
    made = await client.create(p)
    return await set_ready(client, made, ip, ready)


async def set_ready(client: ApiClient, pod: Any, ip: str, ready: bool) -> pod_pb2.Pod:
    fresh = await client.get(pod_pb2.Pod, pod.metadata.name, "default")
    fresh.status.phase = "Running"
    fresh.status.pod_ip = ip
    del fresh.status.conditions[:]
    fresh.status.conditions.add(type="Ready", status="True" if ready else "False")
    return await client.update_status(fresh)


async def slices_of(client: ApiClient, name: str) -> list[es.EndpointSlice]:
    return list(
        (await client.list(es.EndpointSlice, "default", label_selector=f"kubernetes.io/service-name={name}")).items
    )


async def test_endpoints_and_slices_follow_pod_readiness(client: ApiClient, manager: ControllerManager) -> None:
    name = f"svc-{uuid.uuid4().hex[:6]}"
    svc = await client.create(make_service(name))
    a = await make_pod(client, f"{name}-a", name, "10.244.1.2", ready=True)
    await make_pod(client, f"{name}-b", name, "10.244.1.3", ready=False)
    await make_pod(client, f"{name}-other", "other", "10.244.1.9", ready=True)

    async def endpoints_split() -> bool:
        ep = await client.get(service_pb2.Endpoints, name, "default")
        subset = ep.subsets[0] if ep.subsets else None
        return bool(subset) and (
            [x.ip for x in subset.addresses] == ["10.244.1.2"]
            and [x.ip for x in subset.not_ready_addresses] == ["10.244.1.3"]
            and subset.ports[0].port == 8080  # the named targetPort, resolved on the pod
        )

    await eventually(endpoints_split, "Endpoints with one ready and one not-ready address")

    async def one_slice_with_both() -> Any:
        slices = await slices_of(client, name)
        return slices if len(slices) == 1 and len(slices[0].endpoints) == 2 else None

    [s] = await eventually(one_slice_with_both, "one slice with both pods")
    assert s.metadata.labels["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
    ref = s.metadata.owner_references[0]
    assert (ref.kind, ref.name, ref.uid, ref.controller) == ("Service", name, svc.metadata.uid, True)
    ready = {e.addresses[0]: e.conditions.ready for e in s.endpoints}
    assert ready == {"10.244.1.2": True, "10.244.1.3": False} and s.ports[0].port == 8080

    # readiness lost: a leaves rotation in both objects
    await set_ready(client, a, "10.244.1.2", False)

    async def none_ready() -> bool:
        ep = await client.get(service_pb2.Endpoints, name, "default")
        slices = await slices_of(client, name)
        return not ep.subsets[0].addresses and not any(e.conditions.ready for e in slices[0].endpoints)

    await eventually(none_ready, "no ready address left")

    # a terminating pod stays in the slice as terminating, and leaves Endpoints
    await set_ready(client, a, "10.244.1.2", True)
    await eventually(endpoints_split, "a ready again")
    await client.delete(pod_pb2.Pod, a.metadata.name, "default", grace_period_seconds=30)

    async def terminating() -> bool:
        slices = await slices_of(client, name)
        conds = {e.addresses[0]: e.conditions for e in slices[0].endpoints}
        ep = await client.get(service_pb2.Endpoints, name, "default")
        return (
            "10.244.1.2" in conds
            and conds["10.244.1.2"].terminating
            and conds["10.244.1.2"].serving
            and not conds["10.244.1.2"].ready
            and all(x.ip != "10.244.1.2" for x in ep.subsets[0].addresses)
        )

    await eventually(terminating, "a terminating endpoint")


async def test_no_writes_after_a_restart_when_nothing_changed(client: ApiClient) -> None:
    name = f"svc-{uuid.uuid4().hex[:6]}"
    await client.create(make_service(name))
    await make_pod(client, f"{name}-a", name, "10.244.2.2", ready=True)
    first = ControllerManager(client, NAMES)
    await first.start()
    try:

        async def written() -> Any:
            slices = await slices_of(client, name)
            ep = await client.get(service_pb2.Endpoints, name, "default")
            return (ep, slices) if slices and slices[0].endpoints and ep.subsets else None

        ep, slices = await eventually(written, "Endpoints and slice")
    finally:
        await first.stop()
    second = ControllerManager(client, NAMES)
    await second.start()
    try:
        loops = second.loops.values()

        async def resynced() -> bool:  # every key of the fresh caches has been reconciled once
            return all(loop.reconciles >= 1 and len(loop.queue) == 0 for loop in loops)

        await eventually(resynced, "a full resync")
        again = await client.get(service_pb2.Endpoints, name, "default")
        assert again.metadata.resource_version == ep.metadata.resource_version
        assert [s.metadata.resource_version for s in await slices_of(client, name)] == [
            s.metadata.resource_version for s in slices
        ]
    finally:
        await second.stop()


async def test_selectorless_service_keeps_hand_made_endpoints_and_deletion_cleans_up(
    client: ApiClient, manager: ControllerManager
) -> None:
    name = f"ext-{uuid.uuid4().hex[:6]}"
    await client.create(make_service(name, selector=False))
    ep = service_pb2.Endpoints(api_version="v1", kind="Endpoints")
    ep.metadata.name, ep.metadata.namespace = name, "default"
    sub = ep.subsets.add()
    sub.addresses.add(ip="192.0.2.10")
    sub.ports.add(name="http", port=9000, protocol="TCP")
    made = await client.create(ep)
    managed = f"svc-{uuid.uuid4().hex[:6]}"
    await client.create(make_service(managed))
    await eventually(lambda: slices_of(client, managed), "placeholder slice of the managed Service")
    kept = await client.get(service_pb2.Endpoints, name, "default")
    assert kept.metadata.resource_version == made.metadata.resource_version and not await slices_of(client, name)
    # deleting the managed Service removes its Endpoints and slices; the hand-made ones stay
    await client.delete(service_pb2.Service, managed, "default")

    async def gone() -> bool:
        eps = (await client.list(service_pb2.Endpoints, "default")).items
        return not await slices_of(client, managed) and all(e.metadata.name != managed for e in eps)

    await eventually(gone, "managed Endpoints and slices removed")
    assert (await client.get(service_pb2.Endpoints, name, "default")).subsets[0].addresses[0].ip == "192.0.2.10"


async def test_selectorless_services_get_their_endpoints_mirrored(client: ApiClient) -> None:
    m = ControllerManager(client, [*NAMES, "endpointslicemirroring"])
    await m.start()
    try:
        name = f"ext-{uuid.uuid4().hex[:6]}"
        await client.create(make_service(name, selector=False))
        ep = service_pb2.Endpoints(api_version="v1", kind="Endpoints")
        ep.metadata.name, ep.metadata.namespace = name, "default"
        sub = ep.subsets.add()
        sub.addresses.add(ip="192.0.2.10")
        sub.ports.add(name="http", port=9000, protocol="TCP")
        await client.create(ep)

        async def mirrored() -> Any:
            slices = await slices_of(client, name)
            return slices if len(slices) == 1 and slices[0].endpoints else None

        [s] = await eventually(mirrored, "a mirrored slice")
        assert s.endpoints[0].addresses[0] == "192.0.2.10" and s.ports[0].port == 9000
        assert s.metadata.labels["endpointslice.kubernetes.io/managed-by"] == "endpointslicemirroring-controller.k8s.io"
        # the controller-managed Endpoints of a Service with a selector are never mirrored
        managed = f"svc-{uuid.uuid4().hex[:6]}"
        await client.create(make_service(managed))
        await make_pod(client, f"{managed}-a", managed, "10.244.3.2", ready=True)

        async def only_endpointslice_controller() -> bool:
            slices = await slices_of(client, managed)
            owners = {x.metadata.labels["endpointslice.kubernetes.io/managed-by"] for x in slices}
            return bool(slices) and owners == {"endpointslice-controller.k8s.io"} and bool(slices[0].endpoints)

        await eventually(only_endpointslice_controller, "slices of the managed Service from one controller")
        await client.delete(service_pb2.Endpoints, name, "default")
        await eventually(lambda: _none(slices_of(client, name)), "mirrored slice removed with its Endpoints")
    finally:
        await m.stop()


async def _none(coro: Any) -> bool:
    return not await coro
