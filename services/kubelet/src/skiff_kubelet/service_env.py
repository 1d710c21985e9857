"""Service environment variables (``enableServiceLinks``), formatted exactly as Kubernetes'
``pkg/kubelet/envvars``.

Which Services: every Service of the pod's namespace when ``enableServiceLinks`` is true (the default),
and always the ``kubernetes`` Service of ``default`` (the kubelet adds the master service even when
links are off). A Service without a ClusterIP (headless ``None``, ExternalName, not yet allocated) is
skipped. For a Service ``my-nginx`` at 10.96.0.7 with port ``http`` 80/TCP::

    MY_NGINX_SERVICE_HOST=10.96.0.7
    MY_NGINX_SERVICE_PORT=80
    MY_NGINX_SERVICE_PORT_HTTP=80
    MY_NGINX_PORT=tcp://10.96.0.7:80
    MY_NGINX_PORT_80_TCP=tcp://10.96.0.7:80
    MY_NGINX_PORT_80_TCP_PROTO=tcp
    MY_NGINX_PORT_80_TCP_PORT=80
    MY_NGINX_PORT_80_TCP_ADDR=10.96.0.7

They have the lowest precedence: a variable the container defines itself wins, and ``$(VAR)`` in the
container's env may refer to them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from skiff.api.core.v1 import pod_pb2, service_pb2

MASTER_NAMESPACE = "default"
MASTER_SERVICES = frozenset({"kubernetes"})


def _ip_set(svc: service_pb2.Service) -> bool:
    return svc.spec.cluster_ip not in ("", "None")


def env_name(name: str) -> str:
    return name.replace("-", "_").upper()


def _join_host_port(ip: str, port: int) -> str:
    try:
        v6 = ipaddress.ip_address(ip).version == 6
    except ValueError:
        v6 = False
    return f"[{ip}]:{port}" if v6 else f"{ip}:{port}"


def services_for_pod(pod: pod_pb2.Pod, services: Iterable[service_pb2.Service]) -> list[service_pb2.Service]:
    """The Services whose variables the pod gets, by name (one per name: the pod's own namespace wins)."""
    ns = pod.metadata.namespace
    links = pod.spec.enable_service_links if pod.spec.HasField("enable_service_links") else True
    chosen: dict[str, service_pb2.Service] = {}
    for svc in services:
        if not _ip_set(svc):
            continue
        name = svc.metadata.name
        if svc.metadata.namespace == MASTER_NAMESPACE and name in MASTER_SERVICES:
            chosen.setdefault(name, svc)
        elif svc.metadata.namespace == ns and links:
            chosen[name] = svc
    return [chosen[name] for name in sorted(chosen)]


def service_env(services: Iterable[service_pb2.Service]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for svc in services:
        if not _ip_set(svc) or not svc.spec.ports:
            continue
        prefix = env_name(svc.metadata.name)
        ip = svc.spec.cluster_ip
        out.append((f"{prefix}_SERVICE_HOST", ip))
        out.append((f"{prefix}_SERVICE_PORT", str(svc.spec.ports[0].port)))
        for sp in svc.spec.ports:
            if sp.name:
                out.append((f"{prefix}_SERVICE_PORT_{env_name(sp.name)}", str(sp.port)))
        for i, sp in enumerate(svc.spec.ports):
            proto = (sp.protocol or "TCP").lower()
            url = f"{proto}://{_join_host_port(ip, sp.port)}"
            if i == 0:
                out.append((f"{prefix}_PORT", url))  # docker links special-case the first port
            port_prefix = f"{prefix}_PORT_{sp.port}_{proto.upper()}"
            out += [
                (port_prefix, url),
                (f"{port_prefix}_PROTO", proto),
                (f"{port_prefix}_PORT", str(sp.port)),
                (f"{port_prefix}_ADDR", ip),
            ]
    return out


def pod_service_env(pod: pod_pb2.Pod, services: Iterable[service_pb2.Service]) -> dict[str, str]:
    return dict(service_env(services_for_pod(pod, services)))
