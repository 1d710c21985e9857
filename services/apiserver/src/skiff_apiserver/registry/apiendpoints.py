"""What the `kubernetes` Service's Endpoints and EndpointSlices say for a set of live apiservers (pure).

Kubernetes' apiservers all serve on one port, so its `kubernetes` Endpoints is one subset (every live
address, the one port) and the EndpointSlice `kubernetes` mirrors it. Skiff's control-plane members on one
machine advertise the same address (the node bridge's host address, or the pod gateway) on different
REST ports, which one subset cannot express: a subset pairs *every* address with *every* port. So
members are grouped by port:

* Endpoints: one subset per port, holding the addresses served on that port (the shape Kubernetes'
  subset repacking gives: addresses with the same ports share a subset). Subsets are ordered by port,
  addresses by IP.
* EndpointSlices: one slice per port, since a slice also has one port list for all its endpoints. The
  lowest port's slice is named `kubernetes` (the only one when all members share a port, as in
  Kubernetes); the others `kubernetes-<port>`. The node proxy joins slices by the service-name label and
  takes each slice's own port number, so its DNAT for the ClusterIP balances over every member.

The Endpoints carry `endpointslice.kubernetes.io/skip-mirror: "true"`, as Kubernetes marks them: the
apiserver writes the slices itself, and the EndpointSliceMirroring controller must not add its own.
Addresses are IPv4 or IPv6; each family's slices carry their addressType (the proxy reads IPv4 ones).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from itertools import groupby
from typing import Any

from skiff.api.core.v1 import service_pb2
from skiff.api.discovery.v1 import endpointslice_pb2 as es

from skiff_apiserver.registry.masterleases import Master

NAME, NAMESPACE, PORT_NAME = "kubernetes", "default", "https"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"


def _by_port(masters: Sequence[Master]) -> list[tuple[int, list[str]]]:
    def order(m: Master) -> tuple[int, int, int]:
        ip = ipaddress.ip_address(m.ip)
        return m.port, ip.version, int(ip)

    ordered = sorted(set(masters), key=order)
    return [(port, [m.ip for m in group]) for port, group in groupby(ordered, key=lambda m: m.port)]


def desired_endpoints(masters: Sequence[Master]) -> service_pb2.Endpoints:
    ep = service_pb2.Endpoints(api_version="v1", kind="Endpoints")
    ep.metadata.name, ep.metadata.namespace = NAME, NAMESPACE
    ep.metadata.labels[SKIP_MIRROR_LABEL] = "true"
    for port, ips in _by_port(masters):
        subset = ep.subsets.add()
        for ip in ips:
            subset.addresses.add(ip=ip)
        subset.ports.add(name=PORT_NAME, port=port, protocol="TCP")
    return ep


def slice_name(index: int, port: int) -> str:
    return NAME if index == 0 else f"{NAME}-{port}"


def desired_slices(masters: Sequence[Master]) -> list[es.EndpointSlice]:
    out = []
    for index, (port, ips) in enumerate(_by_port(masters)):
        for family, address_type in ((4, "IPv4"), (6, "IPv6")):
            mine = [ip for ip in ips if ipaddress.ip_address(ip).version == family]
            if not mine:
                continue
            s = es.EndpointSlice(api_version="discovery.k8s.io/v1", kind="EndpointSlice", address_type=address_type)
            s.metadata.name = slice_name(index, port) + ("" if family == 4 else "-ipv6")
            s.metadata.namespace = NAMESPACE
            s.metadata.labels[SERVICE_NAME_LABEL] = NAME
            s.ports.add(name=PORT_NAME, port=port, protocol="TCP")
            for ip in mine:
                s.endpoints.add(addresses=[ip]).conditions.ready = True
            out.append(s)
    return out


def endpoints_match(current: Any, want: Any) -> bool:
    return bool(
        list(current.subsets) == list(want.subsets)
        and current.metadata.labels.get(SKIP_MIRROR_LABEL) == want.metadata.labels.get(SKIP_MIRROR_LABEL)
    )


def slice_matches(current: Any, want: Any) -> bool:
    return bool(
        current.address_type == want.address_type
        and [(p.name, p.port, p.protocol) for p in current.ports] == [(p.name, p.port, p.protocol) for p in want.ports]
        and [(list(e.addresses), e.conditions.ready) for e in current.endpoints]
        == [(list(e.addresses), e.conditions.ready) for e in want.endpoints]
        and current.metadata.labels.get(SERVICE_NAME_LABEL) == NAME
    )


def is_ours(s: Any) -> bool:
    """A slice of the `kubernetes` Service this apiserver writes (not one a controller manages)."""
    return bool(
        s.metadata.namespace == NAMESPACE
        and s.metadata.labels.get(SERVICE_NAME_LABEL) == NAME
        and MANAGED_BY_LABEL not in s.metadata.labels
    )
