"""The Endpoints object a Service with a selector should have (Kubernetes' endpoints controller).

Ready pods go to ``addresses``, the others to ``notReadyAddresses`` (all to ``addresses`` when the
Service publishes not-ready addresses); terminating pods are left out. Pods are grouped into one subset
per distinct port list, as Kubernetes' RepackSubsets does, and addresses are sorted so that the same
pods always give the same bytes and an unchanged Endpoints is never rewritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from skiff.api.core.v1 import references_pb2, service_pb2

from skiff_controllers.endpoints import pods as podutil

HEADLESS_LABEL = "service.kubernetes.io/headless"


def desired_labels(service: Any) -> dict[str, str]:
    out = dict(service.metadata.labels)
    if service.spec.cluster_ip == "None":
        out[HEADLESS_LABEL] = ""
    return out


def _address(pod: Any, service: Any) -> service_pb2.EndpointAddress:
    a = service_pb2.EndpointAddress(ip=pod.status.pod_ip)
    if pod.spec.node_name:
        a.node_name = pod.spec.node_name
    if podutil.should_set_hostname(pod, service):
        a.hostname = pod.spec.hostname
    a.target_ref.CopyFrom(
        references_pb2.ObjectReference(
            kind="Pod", namespace=pod.metadata.namespace, name=pod.metadata.name, uid=pod.metadata.uid
        )
    )
    return a


def desired_subsets(service: Any, pods: Sequence[Any]) -> list[service_pb2.EndpointSubset]:
    groups: dict[tuple[tuple[str, int, str], ...], tuple[list[Any], list[Any]]] = {}
    for pod in pods:
        if not podutil.selects(service, pod) or not podutil.should_include(pod, include_terminating=False):
            continue
        ports = []
        for sp in service.spec.ports:
            number = podutil.resolve_port(pod, sp)
            if number is not None:
                ports.append((sp.name, number, sp.protocol or "TCP"))
        ready, not_ready = groups.setdefault(tuple(ports), ([], []))
        if podutil.is_ready(pod) or service.spec.publish_not_ready_addresses:
            ready.append(_address(pod, service))
        else:
            not_ready.append(_address(pod, service))
    out = []
    for ports_key in sorted(groups):
        ready, not_ready = groups[ports_key]
        subset = service_pb2.EndpointSubset()
        subset.addresses.extend(sorted(ready, key=lambda a: (a.ip, a.target_ref.name)))
        subset.not_ready_addresses.extend(sorted(not_ready, key=lambda a: (a.ip, a.target_ref.name)))
        for name, number, protocol in ports_key:
            subset.ports.add(name=name, port=number, protocol=protocol)
        out.append(subset)
    return out


def desired_endpoints(service: Any, pods: Sequence[Any]) -> service_pb2.Endpoints:
    ep = service_pb2.Endpoints(api_version="v1", kind="Endpoints")
    ep.metadata.name = service.metadata.name
    ep.metadata.namespace = service.metadata.namespace
    ep.metadata.labels.update(desired_labels(service))
    ep.subsets.extend(desired_subsets(service, pods))
    return ep


def needs_write(current: Any | None, desired: service_pb2.Endpoints) -> bool:
    if current is None:
        return True
    return list(current.subsets) != list(desired.subsets) or dict(current.metadata.labels) != dict(
        desired.metadata.labels
    )
