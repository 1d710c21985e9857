"""Projected volumes: several sources in one directory, and the kubelet's ServiceAccount token manager.

A projected volume gathers files from secrets, configMaps, the downward API and ServiceAccount tokens
(the `kube-api-access-*` volume ServiceAccount admission adds is one: token, ca.crt, namespace). Each
file is written to a temporary name and renamed over the old one, so a reader never sees half a
token; mode is the item's own or the volume's defaultMode (0644).

Tokens come from TokenRequest (`create serviceaccounts/token`) for the pod's ServiceAccount, bound to
the pod (deleting the pod revokes them) with the audience the source names (none: the apiserver's).
The token manager caches them per (namespace, ServiceAccount, audience, lifetime, pod) and asks for a
new one once 80 % of its lifetime has passed or it is older than 24 h, as Kubernetes' token manager
does. The pod worker's periodic sync calls ``refresh_tokens`` for running pods, so the file is
rewritten well before the old token expires; a process that re-reads the file gets the fresh one.

Ownership: when the pod sets runAsUser and no fsGroup, the token file belongs to that user with mode
0600 (only it can read it), as Kubernetes does; otherwise fsGroup handling in volumes.py applies.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from skiff.api.core.v1 import pod_pb2, volume_pb2
from skiff_common.observability import get_logger

from skiff_kubelet.env import ConfigError, Lookup, field_ref

log = get_logger(__name__)

DEFAULT_MODE = 0o644
DEFAULT_TOKEN_SECONDS = 3600
MAX_TOKEN_AGE = 24 * 3600.0
REFRESH_FRACTION = 0.8

# (namespace, serviceaccount, pod name, pod uid, audience, seconds) -> (token, expiry as Unix time)
TokenRequester = Callable[[str, str, str, str, str, int], Awaitable[tuple[str, float]]]


@dataclass
class _Token:
    value: str
    issued: float
    expires: float


def needs_refresh(issued: float, expires: float, now: float) -> bool:
    """80 % of the lifetime gone, or older than 24 h."""
    return now >= issued + (expires - issued) * REFRESH_FRACTION or now - issued > MAX_TOKEN_AGE


class TokenManager:
    def __init__(self, request: TokenRequester, clock: Callable[[], float] = time.time) -> None:
        self.request = request
        self.clock = clock
        self._tokens: dict[tuple[str, str, str, int, str], _Token] = {}

    async def get(self, pod: pod_pb2.Pod, src: volume_pb2.ServiceAccountTokenProjection) -> str:
        m = pod.metadata
        seconds = src.expiration_seconds if src.HasField("expiration_seconds") else DEFAULT_TOKEN_SECONDS
        key = (m.namespace, pod.spec.service_account_name, src.audience, seconds, m.uid)
        now = self.clock()
        cached = self._tokens.get(key)
        if cached is not None and not needs_refresh(cached.issued, cached.expires, now):
            return cached.value
        value, expires = await self.request(
            m.namespace, pod.spec.service_account_name, m.name, m.uid, src.audience, seconds
        )
        self._tokens[key] = _Token(value, now, expires)
        return value

    def forget(self, uid: str) -> None:
        """Drop the tokens of a pod that is gone."""
        for key in [k for k in self._tokens if k[4] == uid]:
            del self._tokens[key]


def _keyed(data: dict[str, bytes], items: list[volume_pb2.KeyToPath], what: str) -> list[tuple[str, bytes, int | None]]:
    if not items:
        return [(k, v, None) for k, v in data.items()]
    out: list[tuple[str, bytes, int | None]] = []
    for item in items:
        if item.key not in data:
            raise ConfigError(f'{what}: key "{item.key}" not found')
        out.append((item.path, data[item.key], item.mode if item.HasField("mode") else None))
    return out


async def _files(
    pod: pod_pb2.Pod, vol: volume_pb2.Volume, lookup: Lookup, tokens: TokenManager, *, tokens_only: bool = False
) -> list[tuple[str, bytes, int | None, bool]]:
    """(relative path, content, mode or None for defaultMode, is a token) of every file the volume holds."""
    ns, what = pod.metadata.namespace, f'projected volume "{vol.name}"'
    out: list[tuple[str, bytes, int | None, bool]] = []
    for src in vol.projected.sources:
        if src.HasField("service_account_token"):
            sat = src.service_account_token
            out.append((sat.path, (await tokens.get(pod, sat)).encode(), None, True))
        elif tokens_only:
            continue
        elif src.HasField("secret"):
            sec = await lookup.secret(ns, src.secret.name)
            if sec is None and not src.secret.optional:
                raise ConfigError(f'{what}: secret "{src.secret.name}" not found')
            out += [(p, v, mode, False) for p, v, mode in _keyed(sec or {}, list(src.secret.items), what)]
        elif src.HasField("config_map"):
            cm = await lookup.config_map(ns, src.config_map.name)
            if cm is None and not src.config_map.optional:
                raise ConfigError(f'{what}: configmap "{src.config_map.name}" not found')
            data = {k: v.encode() for k, v in (cm or {}).items()}
            out += [(p, v, mode, False) for p, v, mode in _keyed(data, list(src.config_map.items), what)]
        elif src.HasField("downward_api"):
            for item in src.downward_api.items:
                if not item.HasField("field_ref"):
                    raise ConfigError(f"{what}: downwardAPI item {item.path!r}: only fieldRef is supported")
                value = field_ref(pod, item.field_ref.field_path).encode()
                out.append((item.path, value, item.mode if item.HasField("mode") else None, False))
    return out


def _write(dest: Path, rel: str, content: bytes, mode: int, owner: int | None) -> None:
    path = (dest / rel).resolve()
    if rel.startswith("/") or not str(path).startswith(str(dest.resolve()) + os.sep):
        raise ConfigError(f"projected volume: path {rel!r} escapes the volume")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if path.read_bytes() == content and (path.stat().st_mode & 0o7777) == mode:
            return
    except OSError:
        pass
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(content)
    os.chmod(tmp, mode)
    if owner is not None:
        os.chown(tmp, owner, -1)
    os.replace(tmp, path)  # atomic: a reader never sees half a file


def _token_owner(pod: pod_pb2.Pod) -> int | None:
    psc = pod.spec.security_context
    if psc.HasField("run_as_user") and not psc.HasField("fs_group"):
        return psc.run_as_user
    return None


async def project(
    pod: pod_pb2.Pod, vol: volume_pb2.Volume, dest: Path, lookup: Lookup, tokens: TokenManager,
    *, tokens_only: bool = False,
) -> None:  # fmt: skip
    """Write the volume's files under ``dest`` (only the tokens with ``tokens_only``)."""
    default = vol.projected.default_mode if vol.projected.HasField("default_mode") else DEFAULT_MODE
    owner = _token_owner(pod)
    _write_all(dest, await _files(pod, vol, lookup, tokens, tokens_only=tokens_only), default, owner)


def _write_all(dest: Path, files: list[tuple[str, bytes, int | None, bool]], default: int, owner: int | None) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for rel, content, mode, is_token in files:
        if is_token and owner is not None:
            _write(dest, rel, content, 0o600, owner)
        else:
            _write(dest, rel, content, default if mode is None else mode, None)


async def refresh_tokens(pod: pod_pb2.Pod, base: Path, lookup: Lookup, tokens: TokenManager) -> None:
    """Rewrite the token files of a running pod's projected volumes (cached tokens cost nothing)."""
    for vol in pod.spec.volumes:
        dest = base / "projected" / vol.name
        if vol.HasField("projected") and dest.is_dir():
            try:
                await project(pod, vol, dest, lookup, tokens, tokens_only=True)
            except Exception as exc:  # a failed refresh keeps the old token; the next sync tries again
                log.warning("projected.token_refresh_failed", pod=pod.metadata.name, volume=vol.name, error=str(exc))
