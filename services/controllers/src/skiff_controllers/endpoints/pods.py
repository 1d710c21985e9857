"""What a pod contributes to a Service's endpoints; shared by the Endpoints and EndpointSlice controllers.

Kubernetes' rules (pkg/controller/util/endpoint): a pod counts once it has an IP and is not finished
(Succeeded/Failed); a pod being deleted counts only where terminating endpoints are published
(EndpointSlices, with ``terminating: true``), never in Endpoints. A Service port whose targetPort is a
name is resolved per pod against that pod's container ports (same protocol), so pods of one Service may
listen on different numbers; a pod that has no such named port is left out for that port only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from skiff_client.store import NAMESPACE_INDEX


def selects(service: Any, pod: Any) -> bool:
    """True when the Service's (equality-based) selector matches the pod; an empty selector selects none."""
    sel = service.spec.selector
    if not sel or pod.metadata.namespace != service.metadata.namespace:
        return False
    have = pod.metadata.labels
    return all(k in have and have[k] == v for k, v in sel.items())


def is_ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


def is_terminating(pod: Any) -> bool:
    return bool(pod.metadata.HasField("deletion_timestamp"))


def should_include(pod: Any, *, include_terminating: bool) -> bool:
    if not pod.status.pod_ip:
        return False
    if pod.status.phase in ("Succeeded", "Failed"):
        return False
    return include_terminating or not is_terminating(pod)


def resolve_port(pod: Any, service_port: Any) -> int | None:
    """The pod's port number for one Service port: a number is taken as is, a name looked up among the
    pod's container ports with the same protocol; None when the pod does not have it."""
    target = service_port.target_port
    which = target.WhichOneof("value")
    if which == "str_val":
        protocol = service_port.protocol or "TCP"
        for c in pod.spec.containers:
            for p in c.ports:
                if p.name == target.str_val and (p.protocol or "TCP") == protocol:
                    return int(p.container_port)
        return None
    if which == "int_val" and target.int_val:
        return int(target.int_val)
    return int(service_port.port)


def should_set_hostname(pod: Any, service: Any) -> bool:
    """Kubernetes publishes a pod's hostname only for the Service named by its subdomain."""
    return (
        bool(pod.spec.hostname)
        and pod.spec.subdomain == service.metadata.name
        and (pod.metadata.namespace == service.metadata.namespace)
    )


def services_selecting(services: Iterable[Any], pod: Any) -> list[str]:
    """Keys (ns/name) of the Services whose selector matches the pod."""
    return [f"{s.metadata.namespace}/{s.metadata.name}" for s in services if selects(s, pod)]


def watch_pods(pods: Any, services: Any, enqueue: Callable[[str], None]) -> None:
    """Wake the Services that select a pod, before and after a change (a relabelled pod leaves one
    Service and joins another, so both must be reconciled)."""

    def mapped(pod: Any) -> None:
        for key in services_selecting(services.store.by_index(NAMESPACE_INDEX, pod.metadata.namespace), pod):
            enqueue(key)

    def on_update(old: Any, new: Any) -> None:
        mapped(new)
        if dict(old.metadata.labels) != dict(new.metadata.labels):
            mapped(old)

    pods.add_handler(on_add=mapped, on_update=on_update, on_delete=mapped)
