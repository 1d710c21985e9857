"""What a hand-made Endpoints object becomes as EndpointSlices (Kubernetes' EndpointSliceMirroring).

Consumers of endpoints (the node proxy, DNS) read slices only, so a Service without a selector, whose
Endpoints a user writes by hand, needs its Endpoints mirrored into slices to receive traffic. Each
subset's ports become one port group; ``addresses`` are ready endpoints, ``notReadyAddresses`` not
ready; only IPv4 addresses are mirrored (the slices are IPv4). Slices carry the Endpoints' labels plus
the service-name and ``managed-by: endpointslicemirroring-controller.k8s.io`` labels, and are owned by
the Endpoints. An Endpoints with no address gets no slice (no placeholder, as in Kubernetes).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from skiff.api.discovery.v1 import endpointslice_pb2 as es
from skiff.api.meta.v1 import meta_pb2

from skiff_controllers.endpointslice import desired

CONTROLLER_NAME = "endpointslicemirroring-controller.k8s.io"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"


def should_mirror(service: Any | None, endpoints: Any | None) -> bool:
    return (
        service is not None
        and endpoints is not None
        and not service.spec.selector
        and endpoints.metadata.labels.get(SKIP_MIRROR_LABEL) != "true"
    )


def slice_meta(endpoints: Any) -> desired.SliceMeta:
    labels = dict(endpoints.metadata.labels)
    labels[desired.SERVICE_NAME_LABEL] = endpoints.metadata.name
    labels[desired.MANAGED_BY_LABEL] = CONTROLLER_NAME
    owner = meta_pb2.OwnerReference(
        api_version="v1",
        kind="Endpoints",
        name=endpoints.metadata.name,
        uid=endpoints.metadata.uid,
        controller=True,
        block_owner_deletion=True,
    )
    return desired.SliceMeta(labels, owner)


def _is_ipv4(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).version == 4
    except ValueError:
        return False


def _endpoint(addr: Any, ready: bool) -> es.Endpoint:
    ep = es.Endpoint(addresses=[addr.ip])
    ep.conditions.ready = ready
    ep.conditions.serving = ready
    ep.conditions.terminating = False
    if addr.hostname:
        ep.hostname = addr.hostname
    if addr.HasField("node_name"):
        ep.node_name = addr.node_name
    if addr.HasField("target_ref"):
        ep.target_ref.CopyFrom(addr.target_ref)
    return ep


def wanted_endpoints(endpoints: Any) -> dict[desired.PortKey, dict[str, es.Endpoint]]:
    groups: dict[desired.PortKey, dict[str, es.Endpoint]] = {}
    for subset in endpoints.subsets:
        key: desired.PortKey = tuple(
            (p.name, p.protocol or "TCP", int(p.port), p.app_protocol if p.HasField("app_protocol") else "")
            for p in subset.ports
        )
        for addresses, ready in ((subset.addresses, True), (subset.not_ready_addresses, False)):
            for addr in addresses:
                if _is_ipv4(addr.ip):
                    ep = _endpoint(addr, ready)
                    groups.setdefault(key, {})[f"{addr.ip}/{desired.endpoint_key(ep)}"] = ep
    return groups
