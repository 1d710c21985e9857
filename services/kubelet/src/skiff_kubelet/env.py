"""Container environment: env, envFrom, valueFrom (secretKeyRef, configMapKeyRef, fieldRef,
resourceFieldRef), with Kubernetes' precedence: envFrom first, then env (later entries win) and
``$(VAR)`` references expanded against variables defined earlier (or a Service's variable); the
Service variables themselves come last, where the container does not define the name.

fieldRef and resourceFieldRef values come from ``downward.py``, shared with downwardAPI volumes.
Secrets and ConfigMaps are read through a small ``Lookup`` protocol so this module is testable with a
dict; the kubelet passes one backed by the ApiClient. A missing non-optional source is a
``ConfigError`` whose message becomes the container's waiting reason CreateContainerConfigError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Protocol

from skiff.api.core.v1 import container_pb2, pod_pb2

from skiff_kubelet.downward import ConfigError, field_ref, resource_field_ref

__all__ = ["ConfigError", "Lookup", "expand", "resolve_env"]


class Lookup(Protocol):
    async def secret(self, namespace: str, name: str) -> dict[str, bytes] | None: ...
    async def config_map(self, namespace: str, name: str) -> dict[str, str] | None: ...
    async def service_account_token(
        self, namespace: str, service_account: str, pod_name: str, pod_uid: str, audience: str, seconds: int
    ) -> tuple[str, float]: ...


_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$")


def expand(value: str, env: Mapping[str, str], fallback: Mapping[str, str] | None = None) -> str:
    """Kubernetes $(VAR) expansion: unknown references stay as written; $$ escapes a dollar.
    ``fallback`` (the service variables) answers what ``env`` does not define."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        if name in env:
            return env[name]
        return (fallback or {}).get(name, m.group(0))

    return _REF.sub(sub, value)


async def resolve_env(
    pod: pod_pb2.Pod,
    container: container_pb2.Container,
    lookup: Lookup,
    service_env: Mapping[str, str] | None = None,
    allocatable: Mapping[str, str] | None = None,
) -> list[tuple[str, str]]:
    """The container's variables in order; ``service_env`` (``service_env.py``) comes last and only
    where the container does not define the name itself. ``allocatable`` (the node's) stands in for
    a limit the container does not set (``downward.resource_field_ref``)."""
    ns = pod.metadata.namespace
    env: dict[str, str] = {}
    for src in container.env_from:
        if src.HasField("config_map_ref"):
            data_s = await lookup.config_map(ns, src.config_map_ref.name)
            if data_s is None:
                if src.config_map_ref.optional:
                    continue
                raise ConfigError(f'configmap "{src.config_map_ref.name}" not found')
            for k, v in data_s.items():
                env[src.prefix + k] = v
        elif src.HasField("secret_ref"):
            data_b = await lookup.secret(ns, src.secret_ref.name)
            if data_b is None:
                if src.secret_ref.optional:
                    continue
                raise ConfigError(f'secret "{src.secret_ref.name}" not found')
            for k, b in data_b.items():
                env[src.prefix + k] = b.decode("utf-8", "replace")
    for var in container.env:
        if not var.HasField("value_from"):
            env[var.name] = expand(var.value, env, service_env)
            continue
        vf = var.value_from
        if vf.HasField("field_ref"):
            env[var.name] = field_ref(pod, vf.field_ref.field_path)
        elif vf.HasField("resource_field_ref"):
            env[var.name] = resource_field_ref(pod, container, vf.resource_field_ref, allocatable or {})
        elif vf.HasField("config_map_key_ref"):
            ref = vf.config_map_key_ref
            cm = await lookup.config_map(ns, ref.name)
            if cm is None or ref.key not in cm:
                if ref.optional:
                    continue
                what = f'configmap "{ref.name}"' if cm is None else f'key "{ref.key}" in configmap "{ref.name}"'
                raise ConfigError(f"{what} not found")
            env[var.name] = cm[ref.key]
        elif vf.HasField("secret_key_ref"):
            sref = vf.secret_key_ref
            sec = await lookup.secret(ns, sref.name)
            if sec is None or sref.key not in sec:
                if sref.optional:
                    continue
                what = f'secret "{sref.name}"' if sec is None else f'key "{sref.key}" in secret "{sref.name}"'
                raise ConfigError(f"{what} not found")
            env[var.name] = sec[sref.key].decode("utf-8", "replace")
    for name, value in (service_env or {}).items():
        env.setdefault(name, value)
    return list(env.items())
