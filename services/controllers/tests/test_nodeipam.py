"""Node IPAM: the range allocator's rules (table), and the controller against a real apiserver: Nodes
without a podCIDR get distinct /24s from the cluster CIDR, existing ranges are respected (also after a
restart), a deleted Node's range is reused, and a full CIDR leaves a Node without one."""

from __future__ import annotations

import uuid

import pytest
from nodes_testlib import running
from skiff.api.core.v1 import node_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually
from skiff_controllers.nodeipam.allocator import CIDRAllocator
from skiff_controllers.nodeipam.controller import NodeIPAMController


def test_allocator_hands_out_lowest_free_ranges_once() -> None:
    a = CIDRAllocator("10.244.0.0/22", 24)
    assert a.capacity == 4
    assert a.occupy("10.244.1.0/24")
    assert not a.occupy("10.99.0.0/24") and not a.occupy("10.244.2.0/25") and not a.occupy("bogus")
    assert [a.allocate() for _ in range(4)] == ["10.244.0.0/24", "10.244.2.0/24", "10.244.3.0/24", None]
    a.release("10.244.2.0/24")
    assert a.allocate() == "10.244.2.0/24"


@pytest.mark.parametrize(
    ("cidr", "mask", "message"),
    [
        ("10.0.0.0/33", 24, "--cluster-cidr"),
        ("10.0.0.0/16", 8, "--node-cidr-mask-size"),
        ("10.0.0.0/16", 33, "--node-cidr-mask-size"),
    ],
)
def test_bad_flags_name_the_flag(cidr: str, mask: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CIDRAllocator(cidr, mask)


async def add_node(client: ApiClient, name: str, pod_cidr: str = "") -> None:
    node = node_pb2.Node(metadata=meta_pb2.ObjectMeta(name=name))
    if pod_cidr:
        node.spec.pod_cidr = pod_cidr
        node.spec.pod_cidrs.append(pod_cidr)
    await client.create(node)


async def cidr_of(client: ApiClient, name: str) -> str:
    return (await client.get(node_pb2.Node, name)).spec.pod_cidr


@pytest.mark.etcd
async def test_nodes_get_distinct_ranges_and_restarts_respect_them(client: ApiClient) -> None:
    base = f"10.{100 + uuid.uuid4().int % 100}"
    cidr = f"{base}.0.0/22"  # four /24s, its own per test run
    names = [f"ipam-{uuid.uuid4().hex[:6]}" for _ in range(5)]
    await add_node(client, names[0], f"{base}.0.0/24")  # already has one (e.g. from the kubelet)
    await add_node(client, names[1])
    make = lambda ctx: NodeIPAMController(ctx, cluster_cidr=cidr, mask_size=24)  # noqa: E731
    async with running(client, make):
        await eventually(lambda: cidr_of(client, names[1]), "a range for the second node")
    assert await cidr_of(client, names[1]) == f"{base}.1.0/24"
    # a restarted controller first learns what is taken, then allocates the next free range
    await add_node(client, names[2])
    await add_node(client, names[3])
    async with running(client, make):
        await eventually(lambda: cidr_of(client, names[2]), "a range for the third node")
        await eventually(lambda: cidr_of(client, names[3]), "a range for the fourth node")
        got = {await cidr_of(client, n) for n in names[:4]}
        assert got == {f"{base}.{i}.0/24" for i in range(4)}
        # full: the fifth waits; deleting a node frees its range for it
        await add_node(client, names[4])
        freed = await cidr_of(client, names[2])
        await client.delete(node_pb2.Node, names[2])
        assert await eventually(lambda: cidr_of(client, names[4]), "the freed range") == freed
    for n in (names[0], names[1], names[3], names[4]):
        await client.delete(node_pb2.Node, n)
