"""What the `kubernetes` Service's Endpoints and EndpointSlices say for a set of live apiservers (pure
rules; the reconciler that writes them runs against etcd in test_kubernetes_endpoints.py)."""

from __future__ import annotations

import pytest
from skiff_apiserver.registry.apiendpoints import desired_endpoints, desired_slices, is_ours
from skiff_apiserver.registry.masterleases import Master, parse_master

M = Master


@pytest.mark.parametrize(
    ("masters", "subsets"),
    [
        # Kubernetes' case: every apiserver on one port -> one subset, addresses sorted numerically
        ([M("10.0.0.10", 6443), M("10.0.0.9", 6443)], [(["10.0.0.9", "10.0.0.10"], 6443)]),
        # one machine: one address, a port per member -> a subset per port, ordered by port
        ([M("10.244.0.1", 7002), M("10.244.0.1", 7001)], [(["10.244.0.1"], 7001), (["10.244.0.1"], 7002)]),
        # both: addresses sharing a port share its subset
        (
            [M("10.0.0.2", 443), M("10.0.0.1", 8443), M("10.0.0.1", 443)],
            [(["10.0.0.1", "10.0.0.2"], 443), (["10.0.0.1"], 8443)],
        ),
        ([M("10.0.0.1", 443), M("10.0.0.1", 443)], [(["10.0.0.1"], 443)]),  # duplicates collapse
    ],
)
def test_endpoints_have_a_subset_per_port(masters: list[Master], subsets: list[tuple[list[str], int]]) -> None:
    ep = desired_endpoints(masters)
    assert (ep.metadata.namespace, ep.metadata.name) == ("default", "kubernetes")
    assert ep.metadata.labels["endpointslice.kubernetes.io/skip-mirror"] == "true"
    got = [([a.ip for a in s.addresses], [(p.name, p.port, p.protocol) for p in s.ports]) for s in ep.subsets]
    assert got == [(ips, [("https", port, "TCP")]) for ips, port in subsets]


@pytest.mark.parametrize(
    ("masters", "slices"),
    [
        ([M("10.0.0.2", 6443), M("10.0.0.1", 6443)], [("kubernetes", "IPv4", 6443, ["10.0.0.1", "10.0.0.2"])]),
        (
            [M("10.244.0.1", 7002), M("10.244.0.1", 7001), M("10.244.0.1", 7003)],
            [
                ("kubernetes", "IPv4", 7001, ["10.244.0.1"]),
                ("kubernetes-7002", "IPv4", 7002, ["10.244.0.1"]),
                ("kubernetes-7003", "IPv4", 7003, ["10.244.0.1"]),
            ],
        ),
        (
            [M("fd00::1", 443), M("10.0.0.1", 443)],
            [("kubernetes", "IPv4", 443, ["10.0.0.1"]), ("kubernetes-ipv6", "IPv6", 443, ["fd00::1"])],
        ),
    ],
)
def test_slices_have_one_port_each(masters: list[Master], slices: list[tuple[str, str, int, list[str]]]) -> None:
    made = desired_slices(masters)
    got = [(s.metadata.name, s.address_type, s.ports[0].port, [e.addresses[0] for e in s.endpoints]) for s in made]
    assert got == slices
    for s in made:
        assert s.metadata.labels["kubernetes.io/service-name"] == "kubernetes" and is_ours(s)
        assert all(e.conditions.ready for e in s.endpoints)
        assert [(p.name, p.protocol) for p in s.ports] == [("https", "TCP")]


def test_a_mirrored_slice_is_not_ours() -> None:
    (s,) = desired_slices([M("10.0.0.1", 443)])
    s.metadata.labels["endpointslice.kubernetes.io/managed-by"] = "endpointslicemirroring-controller.k8s.io"
    assert not is_ours(s)


@pytest.mark.parametrize(
    ("raw", "master"),
    [
        (b'{"ip": "10.0.0.1", "port": 6443}', M("10.0.0.1", 6443)),
        (b'{"ip": "fd00::1", "port": 443}', M("fd00::1", 443)),
        (b'{"ip": "not-an-ip", "port": 443}', None),
        (b'{"ip": "10.0.0.1", "port": 0}', None),
        (b'{"ip": "10.0.0.1"}', None),
        (b"garbage", None),
        (b"[1, 2]", None),
    ],
)
def test_a_lease_value_that_does_not_parse_is_skipped(raw: bytes, master: Master | None) -> None:
    assert parse_master(raw) == master
