"""Service validation and defaults as Kubernetes' ValidateService: a table of bad specs, each with the
field path and reason it must produce (pure logic on the strategy, no server)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from skiff.api.core.v1 import service_pb2
from skiff_apiserver.machinery import convert, kinds
from skiff_apiserver.registry.strategies.service import ServiceStrategy

STRATEGY = ServiceStrategy(kinds.lookup_resource("services"))


def svc(**spec: Any) -> service_pb2.Service:
    doc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"}}
    doc["spec"] = {"ports": [{"port": 80}], "selector": {"app": "web"}, **spec}
    obj = convert.from_dict(doc, service_pb2.Service)
    STRATEGY.default(obj)
    return obj  # type: ignore[return-value]


def errors_of(obj: service_pb2.Service) -> set[tuple[str, str]]:
    return {(e.path, e.reason) for e in STRATEGY.validate(obj) + STRATEGY.validate_meta(obj)}


TWO_PORTS = [{"port": 80}, {"port": 443}]

CASES: list[tuple[str, dict[str, Any], tuple[str, str]]] = [
    ("names required with several ports", {"ports": TWO_PORTS}, ("spec.ports[0].name", "Required value")),
    (
        "port name not a DNS label",
        {"ports": [{"name": "Web_HTTP", "port": 80}]},
        ("spec.ports[0].name", "Invalid value"),
    ),
    (
        "duplicate port names",
        {"ports": [{"name": "a", "port": 80}, {"name": "a", "port": 81}]},
        ("spec.ports[1].name", "Duplicate value"),
    ),
    (
        "duplicate port/protocol",
        {"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]},
        ("spec.ports[1]", "Duplicate value"),
    ),
    ("protocol", {"ports": [{"port": 80, "protocol": "ICMP"}]}, ("spec.ports[0].protocol", "Unsupported value")),
    ("port out of range", {"ports": [{"port": 70000}]}, ("spec.ports[0].port", "Invalid value")),
    (
        "targetPort number",
        {"ports": [{"port": 80, "targetPort": 65536}]},
        ("spec.ports[0].targetPort", "Invalid value"),
    ),
    (
        "targetPort name too long",
        {"ports": [{"port": 80, "targetPort": "a-very-long-port-name"}]},
        ("spec.ports[0].targetPort", "Invalid value"),
    ),
    (
        "targetPort name without a letter",
        {"ports": [{"port": 80, "targetPort": "8080-80"}]},
        ("spec.ports[0].targetPort", "Invalid value"),
    ),
    ("type", {"type": "Magic"}, ("spec.type", "Unsupported value")),
    ("selector label", {"selector": {"app": "not valid!"}}, ("spec.selector", "Invalid value")),
    ("sessionAffinity", {"sessionAffinity": "Cookie"}, ("spec.sessionAffinity", "Unsupported value")),
    (
        "affinity timeout too long",
        {"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 86401}}},
        ("spec.sessionAffinityConfig.clientIP.timeoutSeconds", "Invalid value"),
    ),
    (
        "affinity config without ClientIP",
        {"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}},
        ("spec.sessionAffinityConfig", "Forbidden"),
    ),
    ("externalName required", {"type": "ExternalName", "ports": []}, ("spec.externalName", "Required value")),
    (
        "externalName not a DNS name",
        {"type": "ExternalName", "externalName": "not a name"},
        ("spec.externalName", "Invalid value"),
    ),
    (
        "ExternalName with a clusterIP",
        {"type": "ExternalName", "externalName": "db.example.com", "clusterIP": "10.96.0.5"},
        ("spec.clusterIP", "Forbidden"),
    ),
    ("clusterIP not an IP", {"clusterIP": "10.96.0"}, ("spec.clusterIP", "Invalid value")),
    (
        "clusterIPs disagree",
        {"clusterIP": "10.96.0.5", "clusterIPs": ["10.96.0.6"]},
        ("spec.clusterIPs[0]", "Invalid value"),
    ),
    ("headless NodePort", {"type": "NodePort", "clusterIP": "None"}, ("spec.clusterIP", "Invalid value")),
    ("nodePort on ClusterIP", {"ports": [{"port": 80, "nodePort": 30080}]}, ("spec.ports[0].nodePort", "Forbidden")),
    (
        "internalTrafficPolicy",
        {"internalTrafficPolicy": "Nearby"},
        ("spec.internalTrafficPolicy", "Unsupported value"),
    ),
    (
        "externalTrafficPolicy on ClusterIP",
        {"externalTrafficPolicy": "Local"},
        ("spec.externalTrafficPolicy", "Invalid value"),
    ),
    (
        "externalTrafficPolicy value",
        {"type": "NodePort", "externalTrafficPolicy": "Nearby"},
        ("spec.externalTrafficPolicy", "Unsupported value"),
    ),
    ("ports required", {"ports": []}, ("spec.ports", "Required value")),
    ("externalIPs", {"externalIPs": ["1.2.3"]}, ("spec.externalIPs[0]", "Invalid value")),
]


@pytest.mark.parametrize(("spec", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_bad_service_gives_field_error(spec: dict[str, Any], expected: tuple[str, str]) -> None:
    assert expected in errors_of(svc(**spec))


def test_service_name_must_be_dns1035_label() -> None:
    obj = svc()
    obj.metadata.name = "1web"
    assert ("metadata.name", "Invalid value") in errors_of(obj)


VALID: list[tuple[str, dict[str, Any], Callable[[Any], bool]]] = [
    ("defaults", {}, lambda s: s.spec.type == "ClusterIP" and s.spec.ports[0].target_port.int_val == 80),
    ("protocol TCP", {}, lambda s: s.spec.ports[0].protocol == "TCP" and s.spec.session_affinity == "None"),
    ("internal policy", {}, lambda s: s.spec.internal_traffic_policy == "Cluster"),
    (
        "ClientIP timeout",
        {"sessionAffinity": "ClientIP"},
        lambda s: s.spec.session_affinity_config.client_ip.timeout_seconds == 10800,
    ),
    ("external policy", {"type": "NodePort"}, lambda s: s.spec.external_traffic_policy == "Cluster"),
    ("no external policy on ClusterIP", {}, lambda s: s.spec.external_traffic_policy == ""),
    (
        "named targetPort",
        {
            "ports": [
                {"name": "http", "port": 80, "targetPort": "http-web"},
                {"name": "dns", "port": 53, "protocol": "UDP"},
            ]
        },
        lambda s: s.spec.ports[0].target_port.str_val == "http-web",
    ),
    (
        "same port, two protocols",
        {"ports": [{"name": "t", "port": 53}, {"name": "u", "port": 53, "protocol": "UDP"}]},
        bool,
    ),
    ("headless without ports", {"clusterIP": "None", "ports": []}, lambda s: list(s.spec.cluster_ips) == ["None"]),
    ("ExternalName", {"type": "ExternalName", "externalName": "db.example.com.", "ports": []}, bool),
    ("publishNotReadyAddresses", {"publishNotReadyAddresses": True}, lambda s: s.spec.publish_not_ready_addresses),
    ("clusterIPs only", {"clusterIPs": ["10.96.0.9"]}, lambda s: s.spec.cluster_ip == "10.96.0.9"),
]


@pytest.mark.parametrize(("spec", "check"), [(c[1], c[2]) for c in VALID], ids=[c[0] for c in VALID])
def test_valid_service_defaults(spec: dict[str, Any], check: Callable[[Any], bool]) -> None:
    obj = svc(**spec)
    assert errors_of(obj) == set()
    assert check(obj)
