"""Projected volumes on disk (temporary root dir) and the token manager's refresh rule.

The token requester is a stand-in for TokenRequest (pure bookkeeping: which token, when); the real
path through the apiserver and the Node authorizer is tests/e2e/test_serviceaccount_token.py."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_kubelet import projected
from skiff_kubelet.env import ConfigError
from skiff_kubelet.volume_refresh import VolumeRefresher
from skiff_kubelet.volumes import setup_volumes


class Lookup:
    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.issued: list[tuple[str, str, str, str, str, int]] = []

    async def secret(self, namespace: str, name: str) -> dict[str, bytes] | None:
        return {"user": b"admin"} if name == "creds" else None

    async def config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        return {"ca.crt": "PEM", "other": "x"} if name == "kube-root-ca.crt" else None

    async def service_account_token(
        self, namespace: str, service_account: str, pod_name: str, pod_uid: str, audience: str, seconds: int
    ) -> tuple[str, float]:
        self.issued.append((namespace, service_account, pod_name, pod_uid, audience, seconds))
        return f"token-{len(self.issued)}", self.now + seconds


def api_access_pod() -> pod_pb2.Pod:
    pod = pod_pb2.Pod(metadata=meta_pb2.ObjectMeta(name="p", namespace="ns", uid="uid-proj-test"))
    pod.spec.service_account_name = "default"
    proj = pod.spec.volumes.add(name="kube-api-access-abcde").projected
    proj.default_mode = 0o644
    sat = proj.sources.add().service_account_token
    sat.path, sat.expiration_seconds = "token", 3607
    cm = proj.sources.add().config_map
    cm.name = "kube-root-ca.crt"
    cm.items.add(key="ca.crt", path="ca.crt")
    item = proj.sources.add().downward_api.items.add(path="namespace")
    item.field_ref.field_path = "metadata.namespace"
    sec = proj.sources.add().secret
    sec.name = "creds"
    sec.items.add(key="user", path="sub/user", mode=0o400)
    return pod


def visible_files(vol: Path) -> list[str]:
    """What a container sees: the names beside ``..data`` and, through them, the nested files."""
    out = []
    for top in vol.iterdir():
        if top.name.startswith(".."):
            continue
        assert top.is_symlink()  # key -> ..data/key
        out += [str(p.relative_to(vol)) for p in [top, *top.rglob("*")] if p.is_file()]
    return sorted(out)


async def test_the_api_access_volume_on_disk(tmp_path: Path) -> None:
    lookup = Lookup()
    paths = await setup_volumes(api_access_pod(), str(tmp_path), lookup)
    vol = Path(paths["kube-api-access-abcde"])
    assert visible_files(vol) == [
        "ca.crt",
        "namespace",
        "sub/user",
        "token",
    ]
    assert (vol / "token").read_text() == "token-1"
    assert (vol / "ca.crt").read_text() == "PEM"
    assert (vol / "namespace").read_text() == "ns"
    assert stat.S_IMODE((vol / "token").stat().st_mode) == 0o644
    assert stat.S_IMODE((vol / "sub/user").stat().st_mode) == 0o400
    # bound to the pod, for its ServiceAccount, the apiserver's audience, the source's lifetime
    assert lookup.issued == [("ns", "default", "p", "uid-proj-test", "", 3607)]


async def test_run_as_user_owns_the_token_alone(tmp_path: Path) -> None:
    pod = api_access_pod()
    pod.spec.security_context.run_as_user = os.getuid()
    paths = await setup_volumes(pod, str(tmp_path), Lookup())
    token = Path(paths["kube-api-access-abcde"]) / "token"
    assert (stat.S_IMODE(token.stat().st_mode), token.stat().st_uid) == (0o600, os.getuid())


async def test_a_missing_configmap_is_a_config_error(tmp_path: Path) -> None:
    pod = api_access_pod()
    pod.spec.volumes[0].projected.sources[1].config_map.name = "absent"
    with pytest.raises(ConfigError, match='configmap "absent" not found'):
        await setup_volumes(pod, str(tmp_path), Lookup())


@pytest.mark.parametrize(
    ("age", "lifetime", "refresh"),
    [(0, 3607, False), (2885, 3607, False), (2886, 3607, True), (3600, 3607, True), (24 * 3600 + 1, 10**6, True)],
)
def test_refresh_after_80_percent_or_a_day(age: float, lifetime: float, refresh: bool) -> None:
    assert projected.needs_refresh(0.0, lifetime, age) is refresh


async def test_tokens_are_cached_then_refreshed_in_place(tmp_path: Path) -> None:
    lookup = Lookup()
    tokens = projected.TokenManager(lookup.service_account_token, clock=lambda: lookup.now)
    pod = api_access_pod()
    paths = await setup_volumes(pod, str(tmp_path), lookup, tokens)
    token = Path(paths["kube-api-access-abcde"]) / "token"
    refresher = VolumeRefresher(str(tmp_path), lookup, tokens, dict, period=0)
    assert await refresher.refresh(pod) == []
    assert (token.read_text(), len(lookup.issued)) == ("token-1", 1)  # still fresh: no new request
    lookup.now += 3000  # past 80 % of 3607 s
    assert await refresher.refresh(pod) == ["kube-api-access-abcde"]
    assert (token.read_text(), len(lookup.issued)) == ("token-2", 2)
    tokens.forget(pod.metadata.uid)
    await refresher.refresh(pod)
    assert len(lookup.issued) == 3
