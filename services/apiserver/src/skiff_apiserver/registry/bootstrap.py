"""The `kubernetes` Service in `default`, as kube-apiserver's bootstrap controller keeps it: ClusterIP = the
first address of --service-cluster-ip-range, one port 443 named https whose targetPort is this apiserver's
API port (the REST port where it is served, else gRPC). Pods find the API through it
(KUBERNETES_SERVICE_HOST, kubernetes.default.svc). Its Endpoints and EndpointSlices name every live
apiserver and are kept by the lease endpoint reconciler (endpointreconciler.py), which uses `ensure` below.

Run at every start-up: created when absent, repaired when it drifted (someone edited or deleted it), left
alone when it is right, so restarts and several replicas are harmless. The targetPort is not compared:
members of one control plane may serve on different ports (one machine, see apiendpoints.py), the
Service has no selector, and the proxy takes each endpoint's port from the EndpointSlices, so members
restarting in turn must not rewrite it back and forth.
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


async def ensure_kubernetes_service(registry: Registry, cidr: str, port: int) -> None:
    if not cidr:
        return  # no Service IPs in this cluster: nothing to point at the API
    first = ClusterIPAllocator.first_address(cidr)
    try:
        await ensure(registry, desired_service(first, port), _service_matches, replace=_ip_differs)
    except errors.SkiffError as exc:  # e.g. another Service holds the first address: report, keep serving
        log.error("bootstrap_failed", name=NAME, error=str(exc))


def _service_matches(current: Any, want: Any) -> bool:
    return bool(
        current.spec.cluster_ip == want.spec.cluster_ip
        and current.spec.type == want.spec.type
        and _ports(current) == _ports(want)
        and not current.spec.selector
    )


def _ports(svc: Any) -> list[tuple[str, str, int]]:
    return [(p.name, p.protocol, p.port) for p in svc.spec.ports]


def _ip_differs(current: Any, want: Any) -> bool:
    return bool(current.spec.cluster_ip != want.spec.cluster_ip)


Check = Callable[[Any, Any], bool]


async def ensure(registry: Registry, want: Any, matches: Check, replace: Check | None = None) -> bool:
    """Create `want`, or bring the stored object to it: updated in place, or deleted and created again
    when `replace` says an immutable field differs. True when something was written."""
    info = kinds.kind_of(want)
    namespace, name = want.metadata.namespace, want.metadata.name
    for _ in range(5):
        try:
            current: Any = await registry.get(info, namespace, name)
        except errors.NotFound:
            try:
                await registry.create(want)
                log.info("bootstrap_created", resource=info.resource, name=name)
                return True
            except errors.AlreadyExists:
                continue  # another replica made it first: check what it made
        if matches(current, want):
            return False
        if replace is not None and replace(current, want):
            await registry.delete(info, namespace, name, uid=current.metadata.uid)
            continue
        fixed: Any = type(want)()
        fixed.CopyFrom(want)
        fixed.metadata.CopyFrom(current.metadata)
        fixed.metadata.labels.update(want.metadata.labels)
        try:
            await registry.update(fixed)
            log.info("bootstrap_repaired", resource=info.resource, name=name)
            return True
        except (errors.Conflict, errors.NotFound):
            continue
    raise errors.Conflict(f"{info.resource} {namespace}/{name} kept changing under five attempts to write it")
