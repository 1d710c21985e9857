"""Services: defaults and validation as Kubernetes' (pkg/apis/core/validation ValidateService), and the
cluster IP and node ports they hold (service_alloc.py), through the strategy's storage hooks.

Defaults: type ClusterIP, sessionAffinity None (ClientIP: timeout 10800 s), protocol TCP, targetPort =
port, internalTrafficPolicy Cluster, externalTrafficPolicy Cluster for NodePort and LoadBalancer,
allocateLoadBalancerNodePorts true for LoadBalancer, clusterIP from clusterIPs and back. An update keeps
what the stored object was given (cluster IP, node ports) when the client leaves it out, and drops what
the new type no longer uses when the client left it unchanged (Kubernetes' patchAllocatedValues /
dropTypeDependentFields).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from skiff_common.errors import FieldError

from skiff_apiserver.machinery import KindInfo, validation
from skiff_apiserver.registry.ipalloc import ClusterIPAllocator
from skiff_apiserver.registry.portalloc import NodePortAllocator
from skiff_apiserver.registry.strategies.service_alloc import (
    ServiceAllocations,
    held_ip,
    held_ports,
    needs_cluster_ip,
    needs_node_ports,
    uses_node_ports,
)
from skiff_apiserver.registry.strategy import StorageEnv, Strategy, immutable

TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
PROTOCOLS = ("SCTP", "TCP", "UDP")
AFFINITIES = ("ClientIP", "None")
POLICIES = ("Cluster", "Local")
DEFAULT_AFFINITY_TIMEOUT = 10800  # 3 hours, Kubernetes' DefaultClientIPServiceAffinitySeconds
MAX_AFFINITY_TIMEOUT = 86400
_IANA_CHARS = re.compile(r"[-a-z0-9]+")


def _unsupported(path: str, value: str, allowed: tuple[str, ...]) -> FieldError:
    shown = ", ".join(f'"{a}"' for a in allowed)
    return FieldError(path, "Unsupported value", f'"{value}": supported values: {shown}')


def iana_svc_name_problems(name: str) -> list[str]:
    """apimachinery's IsValidPortName: what a named port (IANA_SVC_NAME) must be."""
    out = []
    if len(name) > 15:
        out.append("must be no more than 15 characters")
    if not _IANA_CHARS.fullmatch(name):
        out.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in name:
        out.append("must not contain consecutive hyphens")
    if not re.search("[a-z]", name):
        out.append("must contain at least one letter (a-z)")
    if name.startswith("-") or name.endswith("-"):
        out.append("must not begin or end with a hyphen")
    return out


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def external(svc: Any) -> bool:
    return bool(svc.spec.type in ("NodePort", "LoadBalancer"))


class ServiceStrategy(Strategy):
    def __init__(self, info: KindInfo, env: StorageEnv | None = None) -> None:
        super().__init__(info, env)
        ips = ClusterIPAllocator(env.client, env.prefix, env.service_cidr) if env and env.service_cidr else None
        ports = NodePortAllocator(env.client, env.prefix, env.node_port_range) if env else None
        self.allocations = ServiceAllocations(ips, ports)

    def name_errors(self, name: str, path: str) -> list[FieldError]:
        return validation.validate_dns1035_label(name, path)

    # -- defaults --------------------------------------------------------------------------------------
    def default(self, obj: Any) -> None:
        spec = obj.spec
        spec.type = spec.type or "ClusterIP"
        spec.session_affinity = spec.session_affinity or "None"
        if spec.session_affinity == "ClientIP":
            cip = spec.session_affinity_config.client_ip
            if not cip.HasField("timeout_seconds"):
                cip.timeout_seconds = DEFAULT_AFFINITY_TIMEOUT
        if not spec.cluster_ip and spec.cluster_ips:
            spec.cluster_ip = spec.cluster_ips[0]
        if spec.cluster_ip and not spec.cluster_ips:
            spec.cluster_ips.append(spec.cluster_ip)
        for p in spec.ports:
            p.protocol = p.protocol or "TCP"
            if not p.HasField("target_port") or p.target_port.WhichOneof("value") is None:
                p.target_port.int_val = p.port
        if spec.type != "ExternalName" and not spec.HasField("internal_traffic_policy"):
            spec.internal_traffic_policy = "Cluster"
        if external(obj) and not spec.external_traffic_policy:
            spec.external_traffic_policy = "Cluster"
        if spec.type == "LoadBalancer" and not spec.HasField("allocate_load_balancer_node_ports"):
            spec.allocate_load_balancer_node_ports = True

    # -- validation ------------------------------------------------------------------------------------
    def validate(self, obj: Any) -> list[FieldError]:
        spec = obj.spec
        errs: list[FieldError] = []
        if spec.type not in TYPES:
            errs.append(_unsupported("spec.type", spec.type, TYPES))
        errs += self._validate_cluster_ip(obj)
        errs += self._validate_ports(obj)
        errs += validation.validate_labels(spec.selector, "spec.selector")
        errs += self._validate_affinity(spec)
        if spec.type == "ExternalName":
            if not spec.external_name:
                errs.append(FieldError("spec.externalName", "Required value"))
            else:
                errs += validation.validate_dns1123_subdomain(spec.external_name.rstrip("."), "spec.externalName")
        for i, ip in enumerate(spec.external_ips):
            if not _is_ip(ip):
                errs.append(validation.invalid(f"spec.externalIPs[{i}]", ip, "must be a valid IP address"))
        if spec.HasField("internal_traffic_policy") and spec.internal_traffic_policy not in POLICIES:
            errs.append(_unsupported("spec.internalTrafficPolicy", spec.internal_traffic_policy, POLICIES))
        if spec.external_traffic_policy:
            if not external(obj):
                errs.append(
                    validation.invalid(
                        "spec.externalTrafficPolicy",
                        spec.external_traffic_policy,
                        "may only be set for externally-accessible services",
                    )
                )
            elif spec.external_traffic_policy not in POLICIES:
                errs.append(_unsupported("spec.externalTrafficPolicy", spec.external_traffic_policy, POLICIES))
        if spec.HasField("allocate_load_balancer_node_ports") and spec.type != "LoadBalancer":
            errs.append(
                FieldError(
                    "spec.allocateLoadBalancerNodePorts", "Forbidden", "may only be used when `type` is 'LoadBalancer'"
                )
            )
        return errs

    @staticmethod
    def _validate_cluster_ip(obj: Any) -> list[FieldError]:
        spec = obj.spec
        errs: list[FieldError] = []
        if spec.type == "ExternalName":
            if spec.cluster_ip or spec.cluster_ips:
                errs.append(FieldError("spec.clusterIP", "Forbidden", "may not be set for ExternalName services"))
            return errs
        if spec.cluster_ip == "None":
            if external(obj):
                errs.append(
                    validation.invalid("spec.clusterIP", "None", f"may not be set to 'None' for {spec.type} services")
                )
        elif spec.cluster_ip:
            if not _is_ip(spec.cluster_ip):
                errs.append(
                    validation.invalid(
                        "spec.clusterIP", spec.cluster_ip, "must be a valid IP address (e.g. 10.9.8.7), or None"
                    )
                )
        if len(spec.cluster_ips) > 1:
            errs.append(
                validation.invalid("spec.clusterIPs", list(spec.cluster_ips), "may hold only one value (single-stack)")
            )
        elif spec.cluster_ips and spec.cluster_ips[0] != spec.cluster_ip:
            errs.append(validation.invalid("spec.clusterIPs[0]", spec.cluster_ips[0], "must match `clusterIP`"))
        return errs

    @staticmethod
    def _validate_ports(obj: Any) -> list[FieldError]:
        spec = obj.spec
        errs: list[FieldError] = []
        if spec.type != "ExternalName" and not spec.ports and spec.cluster_ip != "None":
            errs.append(FieldError("spec.ports", "Required value"))
        names: set[str] = set()
        pairs: set[tuple[int, str]] = set()
        node_ports: set[tuple[int, str]] = set()
        for i, p in enumerate(spec.ports):
            path = f"spec.ports[{i}]"
            if len(spec.ports) > 1 and not p.name:
                errs.append(FieldError(f"{path}.name", "Required value"))
            elif p.name:
                errs += validation.validate_dns1123_label(p.name, f"{path}.name")
                if p.name in names:
                    errs.append(FieldError(f"{path}.name", "Duplicate value", f'"{p.name}"'))
                names.add(p.name)
            errs += validation.validate_port(p.port, f"{path}.port")
            if p.protocol not in PROTOCOLS:
                errs.append(_unsupported(f"{path}.protocol", p.protocol, PROTOCOLS))
            if (p.port, p.protocol) in pairs:
                errs.append(FieldError(path, "Duplicate value", f'{{"port": {p.port}, "protocol": "{p.protocol}"}}'))
            pairs.add((p.port, p.protocol))
            kind = p.target_port.WhichOneof("value")
            if kind == "int_val":
                errs += validation.validate_port(p.target_port.int_val, f"{path}.targetPort")
            elif kind == "str_val":
                for problem in iana_svc_name_problems(p.target_port.str_val):
                    errs.append(validation.invalid(f"{path}.targetPort", p.target_port.str_val, problem))
            if p.node_port:
                if not uses_node_ports(obj):
                    why = f"may not be used when `type` is '{spec.type}'"
                    errs.append(FieldError(f"{path}.nodePort", "Forbidden", why))
                elif (p.node_port, p.protocol) in node_ports:
                    errs.append(FieldError(f"{path}.nodePort", "Duplicate value", str(p.node_port)))
                node_ports.add((p.node_port, p.protocol))
        return errs

    @staticmethod
    def _validate_affinity(spec: Any) -> list[FieldError]:
        if spec.session_affinity not in AFFINITIES:
            return [_unsupported("spec.sessionAffinity", spec.session_affinity, AFFINITIES)]
        if spec.session_affinity == "None":
            if spec.HasField("session_affinity_config"):
                return [
                    FieldError(
                        "spec.sessionAffinityConfig", "Forbidden", "must not be set when `sessionAffinity` is None"
                    )
                ]
            return []
        timeout = spec.session_affinity_config.client_ip.timeout_seconds
        if not 0 < timeout <= MAX_AFFINITY_TIMEOUT:
            return [
                validation.invalid(
                    "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                    timeout,
                    f"must be greater than 0 and less than {MAX_AFFINITY_TIMEOUT}",
                )
            ]
        return []

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        errs = self.validate(new)
        # The cluster IP is fixed for life, except when the type moves to or from ExternalName.
        if "ExternalName" not in (new.spec.type, old.spec.type) and old.spec.cluster_ip:
            errs += immutable("spec.clusterIP", new.spec.cluster_ip, old.spec.cluster_ip)
        return errs

    # -- update ----------------------------------------------------------------------------------------
    def merge_for_update(self, new: Any, old: Any) -> None:
        super().merge_for_update(new, old)
        spec, ospec = new.spec, old.spec
        if needs_cluster_ip(new) and not spec.cluster_ip and not spec.cluster_ips and held_ip(old):
            spec.cluster_ip = ospec.cluster_ip  # an update that omits the IP keeps it
            spec.cluster_ips[:] = ospec.cluster_ips
        if spec.type == "ExternalName" and needs_cluster_ip(old) and spec.cluster_ip == ospec.cluster_ip:
            spec.cluster_ip = ""  # the type no longer uses it and the client left it as it was
            del spec.cluster_ips[:]
        if needs_node_ports(new) and needs_node_ports(old):
            by_port = {(p.port, p.protocol or "TCP"): p.node_port for p in ospec.ports if p.node_port}
            for p in spec.ports:
                if not p.node_port:
                    p.node_port = by_port.get((p.port, p.protocol or "TCP"), 0)
        elif uses_node_ports(old) and not uses_node_ports(new):
            if held_ports(new) <= held_ports(old):
                for p in spec.ports:
                    p.node_port = 0
        if spec.type != "LoadBalancer" and ospec.type == "LoadBalancer":
            if spec.HasField("allocate_load_balancer_node_ports") and spec.allocate_load_balancer_node_ports == (
                ospec.allocate_load_balancer_node_ports
            ):
                spec.ClearField("allocate_load_balancer_node_ports")
        if not external(new) and external(old) and spec.external_traffic_policy == ospec.external_traffic_policy:
            spec.external_traffic_policy = ""

    # -- what a Service holds beside its object ---------------------------------------------------------
    async def before_create(self, obj: Any, *, dry_run: bool = False) -> bool:
        return await self.allocations.take(obj, None, dry_run=dry_run)

    async def after_create_failed(self, obj: Any) -> None:
        await self.allocations.give_back(obj)

    async def before_update(self, new: Any, old: Any, *, dry_run: bool = False) -> bool:
        return await self.allocations.take(new, old, dry_run=dry_run)

    async def after_update_failed(self, new: Any, old: Any) -> None:
        await self.allocations.give_back(new, keep=old)

    async def after_update(self, new: Any, old: Any) -> None:
        await self.allocations.give_back(old, keep=new)

    async def after_delete(self, obj: Any) -> None:
        await self.allocations.give_back(obj)
