"""The EndpointSlices a Service should have, computed from the Service, its pods and the slices it has.

Pure functions, so the rules are table-tested without an apiserver. The shape follows Kubernetes'
EndpointSlice reconciler:

* pods are grouped by the ports they resolve to (a named targetPort may differ per pod); every group
  gets its own slices, since a slice has one port list for all its endpoints;
* within a group, endpoints stay in the slice that already holds them (consumers see small diffs),
  updated in place when their conditions change; new endpoints fill existing slices up to
  ``MAX_ENDPOINTS_PER_SLICE`` and then new slices;
* a slice whose content, labels and owner are already right is not written at all;
* a Service without endpoints keeps one empty placeholder slice, as Kubernetes does, so consumers can
  tell "no endpoints" from "not synced yet".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from skiff.api.core.v1 import references_pb2
from skiff.api.discovery.v1 import endpointslice_pb2 as es
from skiff.api.meta.v1 import meta_pb2

from skiff_controllers.endpoints import pods as podutil

MAX_ENDPOINTS_PER_SLICE = 100
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"

PortKey = tuple[tuple[str, str, int, str], ...]  # (name, protocol, port, appProtocol) per Service port


@dataclass
class Plan:
    """What to write: new slices (generateName set), changed slices (full objects) and names to delete."""

    create: list[es.EndpointSlice] = field(default_factory=list)
    update: list[es.EndpointSlice] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.create or self.update or self.delete)


def owner_reference(service: Any) -> meta_pb2.OwnerReference:
    return meta_pb2.OwnerReference(
        api_version="v1",
        kind="Service",
        name=service.metadata.name,
        uid=service.metadata.uid,
        controller=True,
        block_owner_deletion=True,
    )


def desired_labels(service: Any) -> dict[str, str]:
    """The Service's own labels plus the two that tie a slice to it (Kubernetes copies them too)."""
    out = dict(service.metadata.labels)
    out[SERVICE_NAME_LABEL] = service.metadata.name
    out[MANAGED_BY_LABEL] = CONTROLLER_NAME
    if service.spec.cluster_ip == "None":
        out["service.kubernetes.io/headless"] = ""
    return out


def pod_endpoint(pod: Any, service: Any) -> es.Endpoint:
    serving = podutil.is_ready(pod)
    terminating = podutil.is_terminating(pod)
    # Kubernetes: "ready" is never true for a terminating pod unless publishNotReadyAddresses.
    ready = service.spec.publish_not_ready_addresses or (serving and not terminating)
    ep = es.Endpoint(addresses=[pod.status.pod_ip])
    ep.conditions.ready = ready
    ep.conditions.serving = serving
    ep.conditions.terminating = terminating
    ep.target_ref.CopyFrom(
        references_pb2.ObjectReference(
            kind="Pod", namespace=pod.metadata.namespace, name=pod.metadata.name, uid=pod.metadata.uid
        )
    )
    if pod.spec.node_name:
        ep.node_name = pod.spec.node_name
    if podutil.should_set_hostname(pod, service):
        ep.hostname = pod.spec.hostname
    return ep


def pod_ports(pod: Any, service: Any) -> PortKey:
    out = []
    for sp in service.spec.ports:
        number = podutil.resolve_port(pod, sp)
        if number is not None:
            out.append((sp.name, sp.protocol or "TCP", number, sp.app_protocol if sp.HasField("app_protocol") else ""))
    return tuple(out)


def slice_ports(key: PortKey) -> list[es.EndpointPort]:
    out = []
    for name, protocol, port, app in key:
        p = es.EndpointPort(name=name, protocol=protocol, port=port)
        if app:
            p.app_protocol = app
        out.append(p)
    return out


def _slice_port_key(s: es.EndpointSlice) -> PortKey:
    return tuple((p.name, p.protocol or "TCP", p.port, p.app_protocol) for p in s.ports)


def endpoint_key(ep: es.Endpoint) -> str:
    ref = ep.target_ref
    return f"{ref.namespace}/{ref.name}" if ref.name else ",".join(ep.addresses)


def desired_endpoints(service: Any, pods: Sequence[Any]) -> dict[PortKey, dict[str, es.Endpoint]]:
    """Endpoints by port group, each keyed by its pod (namespace/name)."""
    groups: dict[PortKey, dict[str, es.Endpoint]] = {}
    for pod in pods:
        if not podutil.selects(service, pod) or not podutil.should_include(pod, include_terminating=True):
            continue
        ep = pod_endpoint(pod, service)
        groups.setdefault(pod_ports(pod, service), {})[endpoint_key(ep)] = ep
    return groups


def _fresh(service: Any, key: PortKey) -> es.EndpointSlice:
    s = es.EndpointSlice(api_version="discovery.k8s.io/v1", kind="EndpointSlice", address_type="IPv4")
    s.metadata.generate_name = f"{service.metadata.name}-"
    s.metadata.namespace = service.metadata.namespace
    s.ports.extend(slice_ports(key))
    return s


@dataclass(frozen=True)
class SliceMeta:
    """What every slice of one plan carries besides its endpoints: labels and the owner reference."""

    labels: dict[str, str]
    owner: meta_pb2.OwnerReference


def _finish(meta: SliceMeta, s: es.EndpointSlice, endpoints: list[es.Endpoint]) -> es.EndpointSlice:
    """Set endpoints (in a stable order), labels and the owner reference on a copy."""
    out = es.EndpointSlice()
    out.CopyFrom(s)
    del out.endpoints[:]
    out.endpoints.extend(sorted(endpoints, key=endpoint_key))
    out.metadata.labels.clear()
    out.metadata.labels.update(meta.labels)
    del out.metadata.owner_references[:]
    out.metadata.owner_references.append(meta.owner)
    return out


def _same(a: es.EndpointSlice, b: es.EndpointSlice) -> bool:
    return (
        list(a.endpoints) == list(b.endpoints)
        and list(a.ports) == list(b.ports)
        and dict(a.metadata.labels) == dict(b.metadata.labels)
        and list(a.metadata.owner_references) == list(b.metadata.owner_references)
    )


def plan(service: Any, pods: Sequence[Any], existing: Sequence[es.EndpointSlice]) -> Plan:
    """Compare what the Service should have with the slices it has (all managed by us)."""
    meta = SliceMeta(desired_labels(service), owner_reference(service))
    return plan_slices(service, desired_endpoints(service, pods), existing, meta)


def plan_slices(
    service: Any,
    wanted: dict[PortKey, dict[str, es.Endpoint]],
    existing: Sequence[es.EndpointSlice],
    meta: SliceMeta,
    *,
    placeholder: bool = True,
) -> Plan:
    """The writes that turn `existing` into slices holding `wanted` (endpoints by port group)."""
    out = Plan()
    by_group: dict[PortKey, list[es.EndpointSlice]] = {}
    for s in sorted(existing, key=lambda s: s.metadata.name):
        by_group.setdefault(_slice_port_key(s), []).append(s)
    if not wanted and not placeholder:
        out.delete = [s.metadata.name for s in existing]
        return out
    if not wanted:  # keep (or make) exactly one empty placeholder
        keep = next((s for s in existing if not s.ports), None) or (existing[0] if existing else None)
        target = _finish(meta, keep if keep is not None else _fresh(service, ()), [])
        del target.ports[:]
        if keep is None:
            out.create.append(target)
        elif not _same(keep, target):
            out.update.append(target)
        out.delete = [s.metadata.name for s in existing if s is not keep]
        return out
    for key in sorted(set(by_group) - set(wanted)):
        out.delete += [s.metadata.name for s in by_group[key]]
    for key in sorted(wanted):
        _plan_group(service, meta, key, wanted[key], by_group.get(key, []), out)
    return out


def _plan_group(
    service: Any,
    meta: SliceMeta,
    key: PortKey,
    wanted: dict[str, es.Endpoint],
    slices: list[es.EndpointSlice],
    out: Plan,
) -> None:
    placed: set[str] = set()
    kept: list[tuple[es.EndpointSlice, list[es.Endpoint]]] = []
    for s in slices:
        eps = []
        for ep in s.endpoints:
            k = endpoint_key(ep)
            if k in wanted and k not in placed:
                eps.append(wanted[k])
                placed.add(k)
        kept.append((s, eps))
    new = [wanted[k] for k in sorted(wanted) if k not in placed]
    for s, eps in kept:  # fill existing slices with room before making new ones
        while new and len(eps) < MAX_ENDPOINTS_PER_SLICE:
            eps.append(new.pop(0))
        if not eps:
            out.delete.append(s.metadata.name)
            continue
        target = _finish(meta, s, eps)
        if not _same(s, target):
            out.update.append(target)
    for i in range(0, len(new), MAX_ENDPOINTS_PER_SLICE):
        out.create.append(_finish(meta, _fresh(service, key), new[i : i + MAX_ENDPOINTS_PER_SLICE]))
