"""What a secret, configMap, downwardAPI or projected volume holds: its payload, then one atomic write.

The kubelet's volume plugins do it in two steps, and so do we: build the payload (relative path ->
bytes + mode, Kubernetes' ``MakePayload``) from the API objects and the pod, then hand it to the
atomic writer (``atomic_writer.py``), which swaps the whole volume at once. The same two steps make
the volume when the pod starts (``volumes.setup_volumes``) and refresh it while the pod runs
(``volume_refresh.py``), so a refreshed volume is exactly what a restart would have made.

Rules, as Kubernetes': no ``items`` -> one file per key; ``items`` -> only those keys, at their paths,
with their mode or the volume's defaultMode (0644); a missing object or key is an error unless the
source is ``optional`` (then it is left out); a projected ServiceAccount token belongs to runAsUser
with mode 0600 when the pod has runAsUser and no fsGroup (only that user may read it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from skiff.api.core.v1 import pod_pb2, volume_pb2

from skiff_kubelet import downward
from skiff_kubelet.atomic_writer import AtomicWriter, FileProjection, PayloadError
from skiff_kubelet.env import ConfigError, Lookup
from skiff_kubelet.projected import TokenManager

DEFAULT_MODE = 0o644
# volume source field -> the plugin folder under <pod>/volumes/ (Kubernetes: kubernetes.io~secret ...)
PLUGIN_DIRS = {"secret": "secret", "config_map": "configmap", "downward_api": "downward-api", "projected": "projected"}

Payload = dict[str, FileProjection]


def source_kind(vol: volume_pb2.Volume) -> str | None:
    """The volume's source if the atomic writer makes it (secret, config_map, downward_api, projected)."""
    return next((fd.name for fd, _ in vol.ListFields() if fd.name in PLUGIN_DIRS), None)


def _keyed(
    out: Payload, data: Mapping[str, bytes], items: list[volume_pb2.KeyToPath], mode: int, what: str, optional: bool
) -> None:
    if not items:
        out.update((k, FileProjection(v, mode)) for k, v in data.items())
        return
    for item in items:
        if item.key not in data:
            if optional:
                continue
            raise ConfigError(f'{what}: key "{item.key}" not found')
        out[item.path] = FileProjection(data[item.key], item.mode if item.HasField("mode") else mode)


def _downward(
    out: Payload,
    pod: pod_pb2.Pod,
    items: list[volume_pb2.DownwardAPIVolumeFile],
    mode: int,
    allocatable: Mapping[str, str],
) -> None:
    for item in items:
        if item.HasField("field_ref") and item.field_ref.field_path:
            value = downward.field_ref(pod, item.field_ref.field_path, volume=True)
        elif item.HasField("resource_field_ref"):
            value = downward.resource_field_ref(pod, None, item.resource_field_ref, allocatable)
        else:
            raise ConfigError(f"downwardAPI item {item.path!r}: one of fieldRef or resourceFieldRef is required")
        out[item.path] = FileProjection(value.encode(), item.mode if item.HasField("mode") else mode)


async def _secret(lookup: Lookup, ns: str, name: str, optional: bool, what: str) -> dict[str, bytes]:
    data = await lookup.secret(ns, name)
    if data is None and not optional:
        raise ConfigError(f'{what}: secret "{name}" not found' if what else f'secret "{name}" not found')
    return data or {}


async def _config_map(lookup: Lookup, ns: str, name: str, optional: bool, what: str) -> dict[str, bytes]:
    data = await lookup.config_map(ns, name)
    if data is None and not optional:
        raise ConfigError(f'{what}: configmap "{name}" not found' if what else f'configmap "{name}" not found')
    return {k: v.encode() for k, v in (data or {}).items()}


def _token_owner(pod: pod_pb2.Pod) -> int | None:
    psc = pod.spec.security_context
    if psc.HasField("run_as_user") and not psc.HasField("fs_group"):
        return psc.run_as_user
    return None


async def _projected(
    pod: pod_pb2.Pod, vol: volume_pb2.Volume, lookup: Lookup, tokens: TokenManager, allocatable: Mapping[str, str]
) -> Payload:
    ns, what = pod.metadata.namespace, f'projected volume "{vol.name}"'
    src_all = vol.projected
    mode = src_all.default_mode if src_all.HasField("default_mode") else DEFAULT_MODE
    out: Payload = {}
    for src in src_all.sources:
        if src.HasField("service_account_token"):
            sat, owner = src.service_account_token, _token_owner(pod)
            token = (await tokens.get(pod, sat)).encode()
            out[sat.path] = FileProjection(token, 0o600, owner) if owner is not None else FileProjection(token, mode)
        elif src.HasField("secret"):
            s = src.secret
            data = await _secret(lookup, ns, s.name, s.optional, what)
            _keyed(out, data, list(s.items), mode, what, s.optional)
        elif src.HasField("config_map"):
            c = src.config_map
            cm = await _config_map(lookup, ns, c.name, c.optional, what)
            _keyed(out, cm, list(c.items), mode, what, c.optional)
        elif src.HasField("downward_api"):
            _downward(out, pod, list(src.downward_api.items), mode, allocatable)
    return out


async def payload(
    pod: pod_pb2.Pod, vol: volume_pb2.Volume, lookup: Lookup, tokens: TokenManager, allocatable: Mapping[str, str]
) -> Payload:
    """Every file the volume should hold now (reads the API objects it names)."""
    ns, out = pod.metadata.namespace, Payload()
    if vol.HasField("secret"):
        s = vol.secret
        mode = s.default_mode if s.HasField("default_mode") else DEFAULT_MODE
        data = await _secret(lookup, ns, s.secret_name, s.optional, "")
        _keyed(out, data, list(s.items), mode, f'secret volume "{vol.name}"', s.optional)
    elif vol.HasField("config_map"):
        c = vol.config_map
        mode = c.default_mode if c.HasField("default_mode") else DEFAULT_MODE
        cm = await _config_map(lookup, ns, c.name, c.optional, "")
        _keyed(out, cm, list(c.items), mode, f'configMap volume "{vol.name}"', c.optional)
    elif vol.HasField("downward_api"):
        d = vol.downward_api
        mode = d.default_mode if d.HasField("default_mode") else DEFAULT_MODE
        _downward(out, pod, list(d.items), mode, allocatable)
    elif vol.HasField("projected"):
        out = await _projected(pod, vol, lookup, tokens, allocatable)
    return out


async def write(
    pod: pod_pb2.Pod,
    vol: volume_pb2.Volume,
    dest: Path,
    lookup: Lookup,
    tokens: TokenManager,
    allocatable: Mapping[str, str],
    set_perms: Callable[[Path], None] | None = None,
) -> bool:
    """Build the volume's payload and swap it in; True when the files changed."""
    files = await payload(pod, vol, lookup, tokens, allocatable)
    try:
        return AtomicWriter(dest).write(files, set_perms)
    except PayloadError as exc:
        raise ConfigError(f'volume "{vol.name}": {exc}') from None
