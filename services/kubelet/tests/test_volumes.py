"""Volume materialisation on disk (temporary root dir)."""

# ruff: noqa: ASYNC240 - blocking checks of tiny temp files are fine in a test

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_kubelet.env import ConfigError
from skiff_kubelet.volumes import setup_volumes, teardown


class Lookup:
    async def secret(self, namespace: str, name: str) -> dict[str, bytes] | None:
        return {"user": b"admin", "pass": b"pw"} if name == "creds" else None

    async def config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        return {"app.conf": "x=1"} if name == "conf" else None


def make_pod() -> pod_pb2.Pod:
    return pod_pb2.Pod(metadata=meta_pb2.ObjectMeta(name="p", namespace="ns", uid="uid-vol-test"))


async def test_all_volume_kinds(tmp_path: Path) -> None:
    pod = make_pod()
    pod.spec.volumes.add(name="scratch").empty_dir.SetInParent()
    hp = pod.spec.volumes.add(name="host").host_path
    hp.path, hp.type = str(tmp_path / "hostdir"), "DirectoryOrCreate"
    sec = pod.spec.volumes.add(name="sec").secret
    sec.secret_name, sec.default_mode = "creds", 0o400
    cm = pod.spec.volumes.add(name="cm").config_map
    cm.name = "conf"
    cm.items.add(key="app.conf", path="sub/app.conf", mode=0o600)
    root = str(tmp_path / "root")
    paths = await setup_volumes(pod, root, Lookup())
    assert Path(paths["scratch"]).is_dir()
    assert Path(paths["host"]) == tmp_path / "hostdir" and Path(paths["host"]).is_dir()
    assert (Path(paths["sec"]) / "pass").read_bytes() == b"pw"
    assert stat.S_IMODE((Path(paths["sec"]) / "user").stat().st_mode) == 0o400
    conf = Path(paths["cm"]) / "sub" / "app.conf"
    assert conf.read_text() == "x=1" and stat.S_IMODE(conf.stat().st_mode) == 0o600
    teardown(root, "uid-vol-test")
    assert not (Path(root) / "pods" / "uid-vol-test").exists()


async def test_missing_secret_and_escaping_item(tmp_path: Path) -> None:
    pod = make_pod()
    pod.spec.volumes.add(name="sec").secret.secret_name = "nope"
    with pytest.raises(ConfigError, match='secret "nope" not found'):
        await setup_volumes(pod, str(tmp_path), Lookup())
    pod2 = make_pod()
    cm = pod2.spec.volumes.add(name="cm").config_map
    cm.name = "conf"
    cm.items.add(key="app.conf", path="../../escape")
    with pytest.raises(ConfigError, match="escapes"):
        await setup_volumes(pod2, str(tmp_path), Lookup())
    optional = make_pod()
    s = optional.spec.volumes.add(name="sec").secret
    s.secret_name, s.optional = "nope", True
    assert Path((await setup_volumes(optional, str(tmp_path), Lookup()))["sec"]).is_dir()


async def test_fs_group_owns_volumes_but_not_host_paths(tmp_path: Path) -> None:
    pod = make_pod()
    pod.spec.security_context.fs_group = 2345
    pod.spec.volumes.add(name="scratch").empty_dir.SetInParent()
    sec = pod.spec.volumes.add(name="sec").secret
    sec.secret_name, sec.default_mode = "creds", 0o400
    hp = pod.spec.volumes.add(name="host").host_path
    hp.path, hp.type = str(tmp_path / "hostdir"), "DirectoryOrCreate"
    root = str(tmp_path / "root")
    paths = await setup_volumes(pod, root, Lookup())
    scratch = Path(paths["scratch"]).stat()
    assert scratch.st_gid == 2345 and scratch.st_mode & stat.S_ISGID and scratch.st_mode & 0o070 == 0o070
    user = (Path(paths["sec"]) / "user").stat()
    assert user.st_gid == 2345 and stat.S_IMODE(user.st_mode) == 0o440  # group may read, not write
    assert (tmp_path / "hostdir").stat().st_gid != 2345
    teardown(root, "uid-vol-test")
