"""Service environment variables, formatted as Kubernetes' envvars package (tables)."""

from __future__ import annotations

import pytest
from skiff.api.core.v1 import container_pb2, pod_pb2, service_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_kubelet.env import resolve_env
from skiff_kubelet.service_env import pod_service_env, service_env


def svc(name: str, ip: str, *ports: tuple[str, int, str], ns: str = "web") -> service_pb2.Service:
    s = service_pb2.Service(metadata=meta_pb2.ObjectMeta(name=name, namespace=ns))
    s.spec.cluster_ip = ip
    for port_name, port, proto in ports:
        s.spec.ports.add(name=port_name, port=port, protocol=proto)
    return s


def test_one_unnamed_port() -> None:
    assert service_env([svc("my-nginx", "10.96.0.7", ("", 80, "TCP"))]) == [
        ("MY_NGINX_SERVICE_HOST", "10.96.0.7"),
        ("MY_NGINX_SERVICE_PORT", "80"),
        ("MY_NGINX_PORT", "tcp://10.96.0.7:80"),
        ("MY_NGINX_PORT_80_TCP", "tcp://10.96.0.7:80"),
        ("MY_NGINX_PORT_80_TCP_PROTO", "tcp"),
        ("MY_NGINX_PORT_80_TCP_PORT", "80"),
        ("MY_NGINX_PORT_80_TCP_ADDR", "10.96.0.7"),
    ]


def test_named_ports_protocols_and_ipv6() -> None:
    env = dict(service_env([svc("dns-x", "fd00::a", ("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("m", 9153, ""))]))
    assert env == {
        "DNS_X_SERVICE_HOST": "fd00::a",
        "DNS_X_SERVICE_PORT": "53",
        "DNS_X_SERVICE_PORT_DNS": "53",
        "DNS_X_SERVICE_PORT_DNS_TCP": "53",
        "DNS_X_SERVICE_PORT_M": "9153",
        "DNS_X_PORT": "udp://[fd00::a]:53",
        "DNS_X_PORT_53_UDP": "udp://[fd00::a]:53",
        "DNS_X_PORT_53_UDP_PROTO": "udp",
        "DNS_X_PORT_53_UDP_PORT": "53",
        "DNS_X_PORT_53_UDP_ADDR": "fd00::a",
        "DNS_X_PORT_53_TCP": "tcp://[fd00::a]:53",
        "DNS_X_PORT_53_TCP_PROTO": "tcp",
        "DNS_X_PORT_53_TCP_PORT": "53",
        "DNS_X_PORT_53_TCP_ADDR": "fd00::a",
        "DNS_X_PORT_9153_TCP": "tcp://[fd00::a]:9153",
        "DNS_X_PORT_9153_TCP_PROTO": "tcp",
        "DNS_X_PORT_9153_TCP_PORT": "9153",
        "DNS_X_PORT_9153_TCP_ADDR": "fd00::a",
    }


KUBERNETES = svc("kubernetes", "10.96.0.1", ("https", 443, "TCP"), ns="default")
SERVICES = [
    KUBERNETES,
    svc("a", "10.96.0.2", ("", 80, "TCP")),
    svc("headless", "None", ("", 80, "TCP")),
    svc("pending", "", ("", 80, "TCP")),
    svc("other-ns", "10.96.0.3", ("", 80, "TCP"), ns="elsewhere"),
    svc("a", "10.96.0.9", ("", 81, "TCP"), ns="default"),
]


@pytest.mark.parametrize(
    ("namespace", "links", "expected_hosts"),
    [
        ("web", None, {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "A_SERVICE_HOST": "10.96.0.2"}),
        ("web", True, {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "A_SERVICE_HOST": "10.96.0.2"}),
        ("web", False, {"KUBERNETES_SERVICE_HOST": "10.96.0.1"}),  # the master service stays
        ("default", None, {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "A_SERVICE_HOST": "10.96.0.9"}),
        ("empty", None, {"KUBERNETES_SERVICE_HOST": "10.96.0.1"}),
    ],
    ids=["default-on", "links-on", "links-off", "in-default", "no-own-services"],
)
def test_which_services(namespace: str, links: bool | None, expected_hosts: dict[str, str]) -> None:
    pod = pod_pb2.Pod(metadata=meta_pb2.ObjectMeta(name="p", namespace=namespace))
    if links is not None:
        pod.spec.enable_service_links = links
    env = pod_service_env(pod, SERVICES)
    assert {k: v for k, v in env.items() if k.endswith("_SERVICE_HOST")} == expected_hosts


class NoLookup:
    async def secret(self, namespace: str, name: str) -> dict[str, bytes] | None:
        return None

    async def config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        return None


async def test_service_vars_come_last_lose_to_the_containers_own_and_expand() -> None:
    pod = pod_pb2.Pod(metadata=meta_pb2.ObjectMeta(name="p", namespace="web"))
    c = container_pb2.Container(name="c")
    c.env.add(name="A_SERVICE_PORT", value="8080")
    c.env.add(name="URL", value="http://$(A_SERVICE_HOST):$(A_SERVICE_PORT)/")
    env = await resolve_env(pod, c, NoLookup(), pod_service_env(pod, SERVICES))
    names = [k for k, _ in env]
    assert names[:2] == ["A_SERVICE_PORT", "URL"]
    values = dict(env)
    assert values["A_SERVICE_PORT"] == "8080" and values["A_SERVICE_HOST"] == "10.96.0.2"
    assert values["URL"] == "http://10.96.0.2:8080/"
    assert values["KUBERNETES_PORT_443_TCP"] == "tcp://10.96.0.1:443"
