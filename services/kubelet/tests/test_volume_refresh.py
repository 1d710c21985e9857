"""Refreshing a running pod's volumes in place (real files in a temporary root dir; the lookup is a dict
standing in for the apiserver -- the path through a real cluster is tests/e2e/test_volume_refresh.py)."""

from __future__ import annotations

import os
from pathlib import Path

from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_kubelet import projected
from skiff_kubelet.volume_refresh import VolumeRefresher
from skiff_kubelet.volumes import setup_volumes


class Lookup:
    """Objects by name; counts reads; ``immutable`` names the objects marked immutable."""

    def __init__(self) -> None:
        self.config_maps: dict[str, dict[str, str]] = {"game-config": {"ui.properties": "color.good=purple"}}
        self.secrets: dict[str, dict[str, bytes]] = {"creds": {"password": b"39528$vdg7Jb"}}
        self.immutable: set[str] = set()
        self.reads = 0

    async def secret(self, namespace: str, name: str) -> dict[str, bytes] | None:
        self.reads += 1
        return self.secrets.get(name)

    async def config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        self.reads += 1
        return self.config_maps.get(name)

    async def service_account_token(self, *args: object) -> tuple[str, float]:
        raise AssertionError("no token source in these pods")

    def is_immutable(self, kind: str, namespace: str, name: str) -> bool:
        return name in self.immutable


def make_pod() -> pod_pb2.Pod:
    pod = pod_pb2.Pod(metadata=meta_pb2.ObjectMeta(name="p", namespace="ns", uid="uid-refresh"))
    pod.metadata.labels["tier"] = "a"
    pod.spec.volumes.add(name="config").config_map.name = "game-config"
    pod.spec.volumes.add(name="secret").secret.secret_name = "creds"
    item = pod.spec.volumes.add(name="podinfo").downward_api.items.add(path="labels")
    item.field_ref.field_path = "metadata.labels"
    return pod


async def started(tmp_path: Path, lookup: Lookup) -> tuple[pod_pb2.Pod, dict[str, Path], VolumeRefresher]:
    pod = make_pod()
    paths = {k: Path(v) for k, v in (await setup_volumes(pod, str(tmp_path), lookup)).items()}
    tokens = projected.TokenManager(lookup.service_account_token)
    return pod, paths, VolumeRefresher(str(tmp_path), lookup, tokens, dict, period=0.0)  # every call refreshes


async def test_a_changed_config_map_is_swapped_in(tmp_path: Path) -> None:
    lookup = Lookup()
    pod, paths, refresher = await started(tmp_path, lookup)
    conf = paths["config"] / "ui.properties"
    before = os.readlink(paths["config"] / "..data")
    assert await refresher.refresh(pod) == []  # nothing changed: nothing rewritten
    assert os.readlink(paths["config"] / "..data") == before
    lookup.config_maps["game-config"] = {"ui.properties": "color.good=green", "new.key": "1"}
    lookup.secrets["creds"] = {"password": b"rotated"}
    assert await refresher.refresh(pod) == ["config", "secret"]
    assert conf.read_text() == "color.good=green" and (paths["config"] / "new.key").read_text() == "1"
    assert (paths["secret"] / "password").read_bytes() == b"rotated"
    assert os.readlink(paths["config"] / "..data") != before and not (paths["config"] / before).exists()


async def test_labels_of_the_pod_reach_the_downward_api_volume(tmp_path: Path) -> None:
    pod, paths, refresher = await started(tmp_path, Lookup())
    assert (paths["podinfo"] / "labels").read_text() == 'tier="a"'
    pod.metadata.labels["tier"] = "b"
    assert await refresher.refresh(pod) == ["podinfo"]
    assert (paths["podinfo"] / "labels").read_text() == 'tier="b"'


async def test_immutable_objects_are_read_once(tmp_path: Path) -> None:
    lookup = Lookup()
    lookup.immutable = {"game-config", "creds"}
    pod, _paths, refresher = await started(tmp_path, lookup)
    await refresher.refresh(pod)
    reads = lookup.reads
    lookup.config_maps["game-config"] = {"ui.properties": "changed"}  # cannot happen to an immutable one
    assert await refresher.refresh(pod) == []
    assert lookup.reads == reads  # not read again
    refresher.forget(pod.metadata.uid)
    assert await refresher.refresh(pod) == ["config"]  # a new pod reads it afresh


async def test_at_most_once_per_period_and_failures_keep_the_files(tmp_path: Path) -> None:
    lookup = Lookup()
    pod = make_pod()
    paths = {k: Path(v) for k, v in (await setup_volumes(pod, str(tmp_path), lookup)).items()}
    now = [100.0]
    refresher = VolumeRefresher(
        str(tmp_path), lookup, projected.TokenManager(lookup.service_account_token), dict, period=10.0,
        clock=lambda: now[0],
    )  # fmt: skip
    await refresher.refresh(pod)
    lookup.config_maps["game-config"] = {"ui.properties": "v2"}
    now[0] += 5
    assert await refresher.refresh(pod) == []  # within the period: not even read
    now[0] += 5
    del lookup.config_maps["game-config"]  # deleted: the refresh fails, the old files stay
    assert await refresher.refresh(pod) == []
    assert (paths["config"] / "ui.properties").read_text() == "color.good=purple"


async def test_volumes_not_set_up_yet_are_left_alone(tmp_path: Path) -> None:
    lookup = Lookup()
    refresher = VolumeRefresher(str(tmp_path), lookup, projected.TokenManager(lookup.service_account_token), dict)
    assert await refresher.refresh(make_pod()) == []
    assert not (tmp_path / "pods").exists() and lookup.reads == 0


async def test_pods_share_their_reads_for_a_period(tmp_path: Path) -> None:
    lookup = Lookup()
    now = [0.0]
    refresher = VolumeRefresher(
        str(tmp_path), lookup, projected.TokenManager(lookup.service_account_token), dict, period=10.0,
        clock=lambda: now[0],
    )  # fmt: skip
    pods = []
    for uid in ("uid-a", "uid-b"):
        pod = make_pod()
        pod.metadata.uid = uid
        await setup_volumes(pod, str(tmp_path), lookup)
        pods.append(pod)
    reads = lookup.reads
    await refresher.refresh(pods[0])
    assert lookup.reads == reads + 2  # the configMap and the secret
    lookup.config_maps["game-config"] = {"ui.properties": "v2"}
    now[0] += 1
    assert await refresher.refresh(pods[1]) == []  # the other pod's read of a second ago: no GET
    assert lookup.reads == reads + 2
    now[0] += 10
    assert await refresher.refresh(pods[1]) == ["config"]  # a period later: read again, and swapped in
    assert lookup.reads == reads + 4
