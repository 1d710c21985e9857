"""EndpointSlices (discovery.k8s.io/v1): Kubernetes' validation, so a hand-written slice is as safe for the
node proxy to program as one the EndpointSlice controller wrote.

addressType is one of IPv4/IPv6/FQDN and immutable; every address must be of that type (the proxy turns
them into DNAT targets, so a malformed one must never reach it); at most 1000 endpoints of 1-100
addresses and 100 ports, port names unique DNS labels, protocols TCP/UDP/SCTP (TCP by default).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from skiff_common.errors import FieldError

from skiff_apiserver.machinery import validation
from skiff_apiserver.registry.strategy import Strategy, immutable

ADDRESS_TYPES = ("IPv4", "IPv6", "FQDN")
PROTOCOLS = ("TCP", "UDP", "SCTP")
MAX_ENDPOINTS = 1000
MAX_ADDRESSES = 100
MAX_PORTS = 100


def _address_errors(address_type: str, value: str, path: str) -> list[FieldError]:
    if address_type == "FQDN":
        return validation.validate_dns1123_subdomain(value, path)
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return [FieldError(path, "Invalid value", f"{value!r}: must be a valid IP address")]
    if address_type == "IPv4" and ip.version != 4:
        return [FieldError(path, "Invalid value", f"{value!r}: must be a valid IPv4 address")]
    if address_type == "IPv6" and ip.version != 6:
        return [FieldError(path, "Invalid value", f"{value!r}: must be a valid IPv6 address")]
    return []


def _endpoint_errors(ep: Any, address_type: str, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not ep.addresses:
        errs.append(FieldError(f"{path}.addresses", "Required value", "must contain at least 1 address"))
    elif len(ep.addresses) > MAX_ADDRESSES:
        errs.append(FieldError(f"{path}.addresses", "Too many", f"must have at most {MAX_ADDRESSES} items"))
    for j, a in enumerate(ep.addresses):
        errs += _address_errors(address_type, a, f"{path}.addresses[{j}]")
    if ep.HasField("hostname"):
        errs += validation.validate_dns1123_label(ep.hostname, f"{path}.hostname")
    if ep.HasField("node_name"):
        errs += validation.validate_dns1123_subdomain(ep.node_name, f"{path}.nodeName")
    return errs


def _port_errors(ports: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    if len(ports) > MAX_PORTS:
        errs.append(FieldError("ports", "Too many", f"must have at most {MAX_PORTS} items"))
    names: set[str] = set()
    for i, p in enumerate(ports):
        path = f"ports[{i}]"
        if p.name:
            errs += validation.validate_dns1123_label(p.name, f"{path}.name")
        if p.name in names:
            errs.append(FieldError(f"{path}.name", "Duplicate value", repr(p.name)))
        names.add(p.name)
        if p.protocol not in PROTOCOLS:
            errs.append(
                FieldError(f"{path}.protocol", "Unsupported value", f"{p.protocol!r}: supported values: TCP, SCTP, UDP")
            )
        if p.HasField("port"):
            errs += validation.validate_port(p.port, f"{path}.port")
        if p.HasField("app_protocol"):
            for problem in validation.qualified_name_problems(p.app_protocol):
                errs.append(FieldError(f"{path}.appProtocol", "Invalid value", f"{p.app_protocol!r}: {problem}"))
    return errs


class EndpointSliceStrategy(Strategy):
    def default(self, obj: Any) -> None:
        for p in obj.ports:
            if not p.HasField("protocol") or not p.protocol:
                p.protocol = "TCP"
            if not p.HasField("name"):
                p.name = ""

    def validate(self, obj: Any) -> list[FieldError]:
        errs: list[FieldError] = []
        if not obj.address_type:
            errs.append(FieldError("addressType", "Required value"))
        elif obj.address_type not in ADDRESS_TYPES:
            detail = f"{obj.address_type!r}: supported values: FQDN, IPv4, IPv6"
            errs.append(FieldError("addressType", "Unsupported value", detail))
            return errs  # addresses cannot be checked against an unknown type
        if len(obj.endpoints) > MAX_ENDPOINTS:
            errs.append(FieldError("endpoints", "Too many", f"must have at most {MAX_ENDPOINTS} items"))
        for i, ep in enumerate(obj.endpoints):
            errs += _endpoint_errors(ep, obj.address_type, f"endpoints[{i}]")
        errs += _port_errors(obj.ports)
        return errs

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return self.validate(new) + immutable("addressType", new.address_type, old.address_type)
