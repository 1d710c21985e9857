"""Rule generation as pure functions: Services + EndpointSlices -> ServicePorts -> nftables text."""

from __future__ import annotations

from typing import Any

import pytest
from skiff.api.core.v1 import service_pb2
from skiff.api.discovery.v1 import endpointslice_pb2 as es
from skiff_proxy import model, nftables
from skiff_proxy.model import Backend, ServicePort


def service(name: str = "web", *, ip: str = "10.96.0.10", type_: str = "ClusterIP", affinity: str = "None") -> Any:
    s = service_pb2.Service()
    s.metadata.name, s.metadata.namespace = name, "default"
    s.spec.cluster_ip, s.spec.type, s.spec.session_affinity = ip, type_, affinity
    s.spec.ports.add(name="http", port=80, protocol="TCP", node_port=30080)
    return s


def endpoint_slice(
    service_name: str, *eps: tuple[str, bool | None, bool, bool], port: int = 8080, address_type: str = "IPv4"
) -> Any:
    s = es.EndpointSlice(address_type=address_type)
    s.metadata.name, s.metadata.namespace = f"{service_name}-x", "default"
    s.metadata.labels[model.SERVICE_NAME_LABEL] = service_name
    s.ports.add(name="http", protocol="TCP", port=port)
    for ip, ready, serving, terminating in eps:
        e = s.endpoints.add(addresses=[ip])
        if ready is not None:
            e.conditions.ready = ready
        e.conditions.serving, e.conditions.terminating = serving, terminating
    return s


@pytest.mark.parametrize(
    ("eps", "expected"),
    [
        ([("10.244.0.3", True, True, False), ("10.244.0.2", True, True, False)], ["10.244.0.2", "10.244.0.3"]),
        ([("10.244.0.2", True, True, False), ("10.244.0.3", False, False, False)], ["10.244.0.2"]),
        ([("10.244.0.2", None, False, False)], ["10.244.0.2"]),  # unknown readiness counts as ready
        # none ready: fall back to endpoints still serving while terminating
        ([("10.244.0.2", False, True, True), ("10.244.0.3", False, False, True)], ["10.244.0.2"]),
        ([("10.244.0.2", False, True, True), ("10.244.0.3", True, True, False)], ["10.244.0.3"]),
    ],
)
def test_endpoint_selection(eps: list[Any], expected: list[str]) -> None:
    [sp] = model.build([service()], [endpoint_slice("web", *eps)])
    assert [b.ip for b in sp.endpoints] == expected and all(b.port == 8080 for b in sp.endpoints)


def test_build_skips_headless_externalname_other_services_slices_and_non_ipv4() -> None:
    services = [service(), service("headless", ip="None"), service("ext", ip="", type_="ExternalName")]
    slices = [endpoint_slice("other", ("10.244.0.9", True, True, False)), endpoint_slice("web", address_type="FQDN")]
    [sp] = model.build(services, slices)
    assert sp.key == "default/web/tcp/http" and sp.endpoints == () and sp.node_port == 0


def test_build_node_port_and_affinity() -> None:
    [sp] = model.build([service(type_="NodePort", affinity="ClientIP")], [])
    assert sp.node_port == 30080 and sp.affinity_seconds == model.DEFAULT_AFFINITY_SECONDS


OPTS = nftables.Options(cluster_cidr="10.244.0.0/16", service_cidr="10.96.0.0/16", nodeport_addresses=("10.88.0.1",))
WEB = ServicePort("default", "web", "http", "tcp", "10.96.0.10", 80, 0, 0, (Backend("10.244.0.2", 8080),))


@pytest.mark.parametrize(
    ("ports", "present", "absent"),
    [
        (
            [WEB],
            [
                "10.96.0.10 . tcp . 80 : goto service-",
                "numgen random mod 1 vmap { 0 : goto endpoint-",
                "ip saddr 10.244.0.2 jump mark-for-masquerade",  # hairpin
                "ip daddr 10.96.0.10 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
                "meta l4proto tcp dnat to 10.244.0.2:8080",
                "ip daddr 10.96.0.0/16 drop",
            ],
            ["goto reject-chain }", "affinity-", "external-"],
        ),
        (
            [ServicePort("default", "empty", "", "tcp", "10.96.0.11", 80, 30081)],
            ["10.96.0.11 . tcp . 80 : goto reject-chain", "tcp . 30081 : goto reject-chain"],
            ["goto service-", "numgen"],
        ),
        (
            [ServicePort("default", "np", "", "udp", "10.96.0.12", 53, 30053, 0, (Backend("10.244.0.3", 5353),))],
            ["udp . 30053 : goto external-", "meta l4proto udp dnat to 10.244.0.3:5353", "ip daddr @nodeport-ips"],
            [],
        ),
        (
            [
                ServicePort(
                    "default",
                    "s",
                    "",
                    "tcp",
                    "10.96.0.13",
                    80,
                    0,
                    60,
                    (Backend("10.1.0.2", 80), Backend("10.1.0.3", 80)),
                )
            ],
            ["timeout 60s", "flags dynamic,timeout", "update @affinity-", "numgen random mod 2 vmap { 0 : goto"],
            [],
        ),
    ],
)
def test_ruleset_text(ports: list[ServicePort], present: list[str], absent: list[str]) -> None:
    text = nftables.render(ports, OPTS)
    assert text.startswith("table ip skiff-proxy\ndelete table ip skiff-proxy\ntable ip skiff-proxy {\n")
    for fragment in present:
        assert fragment in text, fragment
    for fragment in absent:
        assert fragment not in text, fragment


def test_ruleset_is_deterministic_and_touches_only_its_table() -> None:
    one = nftables.render([WEB], OPTS)
    assert one == nftables.render([WEB], OPTS)
    tables = [line for line in one.splitlines() if line.startswith(("table", "delete"))]
    assert tables and all(line.split(" {")[0].endswith("table ip skiff-proxy") for line in tables)
    assert nftables.cleanup("skiff-proxy") == "table ip skiff-proxy\ndelete table ip skiff-proxy\n"


def test_no_cidrs_no_masquerade_rule_for_outside_traffic() -> None:
    text = nftables.render([WEB], nftables.Options())
    assert (
        "ip saddr !=" not in text and "drop" not in text and "@service-nodeports" not in text.split("chain services")[1]
    )


def test_model_cache_recomputes_only_changed_services() -> None:
    svc = service()
    svc.metadata.resource_version = "1"
    s = endpoint_slice("web", ("10.244.0.2", True, True, False))
    s.metadata.resource_version = "2"
    cache = model.ModelCache()
    first = cache.build([svc], [s])
    assert cache.build([svc], [s])[0] is first[0]  # same versions: the same object, not recomputed
    s.endpoints[0].addresses[0] = "10.244.0.9"
    s.metadata.resource_version = "3"
    [changed] = cache.build([svc], [s])
    assert [b.ip for b in changed.endpoints] == ["10.244.0.9"] and cache.build([svc], [s]) == model.build([svc], [s])
