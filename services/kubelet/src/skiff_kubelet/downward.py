"""The downward API: a pod's own fields and its containers' resources, as env values or volume files.

One function per selector kind, shared by env vars (``env.py``) and downwardAPI volume files
(``volumes.py``, projected ``downwardAPI`` sources), so both read a field the same way. What differs is
only which fieldPaths each place accepts, as in Kubernetes:

* volumes: ``metadata.name``, ``metadata.namespace``, ``metadata.uid``, ``metadata.labels``,
  ``metadata.annotations`` (the whole maps, one ``key="value"`` per line, sorted) and one
  ``metadata.labels['k']`` / ``metadata.annotations['k']``;
* env vars: those (except the whole maps) plus ``spec.nodeName``, ``spec.serviceAccountName``,
  ``status.hostIP(s)`` and ``status.podIP(s)``, which can change or are not known when a volume is made.

resourceFieldRef: ``limits.cpu``, ``limits.memory``, ``limits.ephemeral-storage`` and the same three
``requests.*``. A limit the container does not set is the node's allocatable (the kubelet's
MergeContainerResourceLimits), so an app sizing itself from ``limits.memory`` never reads 0. The
value is divided by the divisor (default 1) and rounded up: cpu in millicores (``250m`` with divisor
``1`` -> ``1``, with ``1m`` -> ``250``), memory and storage in bytes (``64Mi`` / ``1Mi`` -> ``64``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from skiff.api.core.v1 import container_pb2, pod_pb2
from skiff_common.apimachinery import quantity
from skiff_common.apimachinery.downward import RESOURCES, SUBSCRIPT


class ConfigError(Exception):
    """The container cannot be configured yet (missing secret, key, bad fieldRef)."""


def format_map(values: Mapping[str, str]) -> str:
    """Kubernetes' fieldpath.FormatMap: ``key="value"`` lines in key order (values quoted as Go's %q)."""
    return "\n".join(f"{k}={json.dumps(values[k], ensure_ascii=False)}" for k in sorted(values))


def field_ref(pod: pod_pb2.Pod, path: str, *, volume: bool = False) -> str:
    """The value of a fieldRef; ``volume`` selects the volume's set of fieldPaths (see module doc)."""
    m = pod.metadata
    common = {"metadata.name": m.name, "metadata.namespace": m.namespace, "metadata.uid": m.uid}
    if path in common:
        return common[path]
    match = SUBSCRIPT.fullmatch(path)
    if match:
        source = m.labels if match.group(1) == "labels" else m.annotations
        return source.get(match.group(2), "")
    if volume:
        if path in ("metadata.labels", "metadata.annotations"):
            return format_map(m.labels if path == "metadata.labels" else m.annotations)
        raise ConfigError(f"fieldRef: unsupported fieldPath {path!r} in a downwardAPI volume")
    env_only = {
        "spec.nodeName": pod.spec.node_name,
        "spec.serviceAccountName": pod.spec.service_account_name,
        "status.hostIP": pod.status.host_ip,
        "status.podIP": pod.status.pod_ip,
        "status.podIPs": ",".join(ip.ip for ip in pod.status.pod_ips) or pod.status.pod_ip,
        "status.hostIPs": ",".join(ip.ip for ip in pod.status.host_ips) or pod.status.host_ip,
    }
    if path in env_only:
        return env_only[path]
    raise ConfigError(f"fieldRef: unsupported fieldPath {path!r}")


def resource_field_ref(
    pod: pod_pb2.Pod,
    container: container_pb2.Container | None,
    sel: container_pb2.ResourceFieldSelector,
    allocatable: Mapping[str, str],
) -> str:
    """A container's resource value; ``container`` is the env var's own (None in a volume, where
    containerName is required)."""
    target = container
    if sel.container_name:
        target = next(
            (c for c in [*pod.spec.containers, *pod.spec.init_containers] if c.name == sel.container_name), None
        )
        if target is None:
            raise ConfigError(f"resourceFieldRef: no container named {sel.container_name!r}")
    if target is None:
        raise ConfigError("resourceFieldRef: containerName is required in a downwardAPI volume")
    if sel.resource not in RESOURCES:
        raise ConfigError(f"resourceFieldRef: unsupported resource {sel.resource!r}")
    kind, _, name = sel.resource.partition(".")
    source = target.resources.limits if kind == "limits" else target.resources.requests
    raw = source[name].value if name in source and source[name].value else ""
    if not raw and kind == "limits":
        raw = allocatable.get(name, "0")  # no limit: the node's allocatable, as the kubelet does
    try:
        # Kubernetes divides millicores for cpu (1 cpu / divisor 1m -> 1000), bytes otherwise.
        scale = quantity.milli_value if name == "cpu" else quantity.int_value
        value, divisor = scale(raw or "0"), scale(sel.divisor.value or "1")
    except ValueError as exc:
        raise ConfigError(f"resourceFieldRef {sel.resource}: {exc}") from None
    if divisor <= 0:
        raise ConfigError(f"resourceFieldRef: divisor {sel.divisor.value!r} must be positive")
    return str(-(-value // divisor))  # rounded up
