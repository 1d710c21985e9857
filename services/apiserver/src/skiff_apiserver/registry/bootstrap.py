"""The `kubernetes` Service in `default` and its Endpoints, as kube-apiserver's bootstrap controller keeps
them: ClusterIP = the first address of --service-cluster-ip-range, one port 443 named https whose
targetPort is this apiserver's API port (the REST port where it is served, else gRPC), and Endpoints naming
--advertise-address at that port. Pods find the API through them (KUBERNETES_SERVICE_HOST, kubernetes.default.svc).

Kubernetes' apiserver also writes the `kubernetes` EndpointSlice and marks these Endpoints skip-mirror;
Skiff has no EndpointSlice kind in the apiserver yet, so the Endpoints are left for an EndpointSlice
mirroring controller to follow.

Run at every start-up: created when absent, repaired when they drifted (someone edited or deleted them),
left alone when they are right, so restarts and several replicas are harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from skiff.api.core.v1 import service_pb2
from skiff_common import errors

from skiff_apiserver.logs import log
from skiff_apiserver.machinery import kinds
from skiff_apiserver.registry.api import Registry
from skiff_apiserver.registry.ipalloc import ClusterIPAllocator

NAME, NAMESPACE, PORT_NAME, PORT = "kubernetes", "default", "https", 443


def desired_service(cluster_ip: str, target_port: int) -> service_pb2.Service:
    svc = service_pb2.Service(api_version="v1", kind="Service")
    svc.metadata.name, svc.metadata.namespace = NAME, NAMESPACE
    svc.metadata.labels.update({"component": "apiserver", "provider": "kubernetes"})
    svc.spec.type = "ClusterIP"
    svc.spec.session_affinity = "None"
    svc.spec.cluster_ip = cluster_ip
    svc.spec.cluster_ips.append(cluster_ip)
    port = svc.spec.ports.add(name=PORT_NAME, protocol="TCP", port=PORT)
    port.target_port.int_val = target_port
    return svc


def desired_endpoints(address: str, port: int) -> service_pb2.Endpoints:
    ep = service_pb2.Endpoints(api_version="v1", kind="Endpoints")
    ep.metadata.name, ep.metadata.namespace = NAME, NAMESPACE
    subset = ep.subsets.add()
    subset.addresses.add(ip=address)
    subset.ports.add(name=PORT_NAME, port=port, protocol="TCP")
    return ep


async def ensure_kubernetes_service(registry: Registry, cidr: str, address: str, port: int) -> None:
    if not cidr:
        return  # no Service IPs in this cluster: nothing to point at the API
    first = ClusterIPAllocator.first_address(cidr)
    try:
        await _ensure(registry, desired_service(first, port), _service_matches, replace=_ip_differs)
        await _ensure(registry, desired_endpoints(address, port), _endpoints_match)
    except errors.SkiffError as exc:  # e.g. another Service holds the first address: report, keep serving
        log.error("bootstrap_failed", name=NAME, error=str(exc))


def _service_matches(current: Any, want: Any) -> bool:
    return bool(
        current.spec.cluster_ip == want.spec.cluster_ip
        and current.spec.type == want.spec.type
        and list(current.spec.ports) == list(want.spec.ports)
        and not current.spec.selector
    )


def _ip_differs(current: Any, want: Any) -> bool:
    return bool(current.spec.cluster_ip != want.spec.cluster_ip)


def _endpoints_match(current: Any, want: Any) -> bool:
    return list(current.subsets) == list(want.subsets)


Check = Callable[[Any, Any], bool]


async def _ensure(registry: Registry, want: Any, matches: Check, replace: Check | None = None) -> None:
    """Create `want`, or bring the stored object to it: updated in place, or deleted and created again
    when `replace` says an immutable field differs."""
    info = kinds.kind_of(want)
    for _ in range(5):
        try:
            current: Any = await registry.get(info, NAMESPACE, NAME)
        except errors.NotFound:
            try:
                await registry.create(want)
                log.info("bootstrap_created", resource=info.resource, name=NAME)
                return
            except errors.AlreadyExists:
                continue  # another replica made it first: check what it made
        if matches(current, want):
            return
        if replace is not None and replace(current, want):
            await registry.delete(info, NAMESPACE, NAME, uid=current.metadata.uid)
            continue
        fixed: Any = type(want)()
        fixed.CopyFrom(want)
        fixed.metadata.CopyFrom(current.metadata)
        try:
            await registry.update(fixed)
            log.info("bootstrap_repaired", resource=info.resource, name=NAME)
            return
        except (errors.Conflict, errors.NotFound):
            continue
    log.warning("bootstrap_gave_up", name=NAME)
