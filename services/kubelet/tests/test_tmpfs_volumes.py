"""Memory-backed volumes on the real kernel (run as root): secret and projected volumes and emptyDirs of
medium Memory are a tmpfs at the volume's folder; teardown leaves no mount. The lookup is a dict
standing in for the apiserver (the path through a real kubelet and runtime is test_e2e.py)."""

# ruff: noqa: ASYNC240 - blocking checks of tiny temp files are fine in a test

from __future__ import annotations

import ctypes
import errno
import os
import stat
import subprocess
from pathlib import Path

import pytest
from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_kubelet import projected, tmpfs
from skiff_kubelet.atomic_writer import DATA_DIR
from skiff_kubelet.env import ConfigError
from skiff_kubelet.volume_refresh import VolumeRefresher
from skiff_kubelet.volumes import setup_volumes, teardown

pytestmark = pytest.mark.root
UID = "uid-tmpfs-test"


class Lookup:
    def __init__(self) -> None:
        self.secrets = {"creds": {"user": b"admin", "pass": b"pw"}}

    async def secret(self, namespace: str, name: str) -> dict[str, bytes] | None:
        return self.secrets.get(name)

    async def config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        return {"ca.crt": "CA"} if name == "kube-root-ca.crt" else None

    async def service_account_token(self, *args: object) -> tuple[str, float]:
        return "a.jwt.token", 1e12


def make_pod() -> pod_pb2.Pod:
    pod = pod_pb2.Pod(metadata=meta_pb2.ObjectMeta(name="p", namespace="ns", uid=UID))
    pod.spec.containers.add(name="main")
    sec = pod.spec.volumes.add(name="sec").secret
    sec.secret_name, sec.default_mode = "creds", 0o400
    sources = pod.spec.volumes.add(name="kube-api-access").projected.sources
    sources.add().service_account_token.path = "token"
    sources.add().config_map.name = "kube-root-ca.crt"
    pod.spec.volumes.add(name="cm").config_map.name = "kube-root-ca.crt"
    pod.spec.volumes.add(name="scratch").empty_dir.SetInParent()
    return pod


def fs_name(path: Path) -> str:
    """What ``stat -f -c %T`` says (statfs(2)'s f_type by name), as a user would check."""
    out = subprocess.run(["stat", "-f", "-c", "%T", str(path)], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def mounts_at(path: Path) -> int:
    return sum(1 for point, _ in tmpfs.mount_points() if point == os.path.realpath(path))


def mounts_below(folder: Path) -> list[str]:
    prefix = os.path.realpath(folder)
    return [p for p, _ in tmpfs.mount_points() if p == prefix or p.startswith(prefix + "/")]


async def test_secret_and_projected_volumes_are_tmpfs_and_teardown_unmounts(tmp_path: Path) -> None:
    pod, lookup = make_pod(), Lookup()
    paths = {k: Path(v) for k, v in (await setup_volumes(pod, str(tmp_path), lookup)).items()}
    assert fs_name(paths["sec"]) == "tmpfs" and fs_name(paths["kube-api-access"]) == "tmpfs"
    assert fs_name(paths["cm"]) != "tmpfs" and fs_name(paths["scratch"]) != "tmpfs"  # on the node's disk
    root = paths["sec"].stat()
    assert (stat.S_IMODE(root.st_mode), root.st_uid) == (0o755, 0)
    # the atomic writer's layout, inside the tmpfs
    assert os.readlink(paths["sec"] / "pass") == f"{DATA_DIR}/pass"
    assert (paths["sec"] / "pass").read_bytes() == b"pw"
    assert stat.S_IMODE((paths["sec"] / "user").stat().st_mode) == 0o400
    assert (paths["kube-api-access"] / "token").read_text() == "a.jwt.token"
    assert os.stat(paths["sec"] / DATA_DIR).st_dev == os.stat(paths["sec"]).st_dev  # not below on disk

    teardown(str(tmp_path), UID)
    assert mounts_below(tmp_path) == []
    assert not (tmp_path / "pods" / UID).exists()


async def test_refresh_swaps_inside_the_same_tmpfs(tmp_path: Path) -> None:
    pod, lookup = make_pod(), Lookup()
    paths = {k: Path(v) for k, v in (await setup_volumes(pod, str(tmp_path), lookup)).items()}
    device = os.stat(paths["sec"]).st_dev
    lookup.secrets["creds"] = {"user": b"admin", "pass": b"rotated"}
    refresher = VolumeRefresher(
        str(tmp_path), lookup, projected.TokenManager(lookup.service_account_token), dict, period=0.0
    )
    assert await refresher.refresh(pod) == ["sec"]
    assert (paths["sec"] / "pass").read_bytes() == b"rotated"
    assert os.stat(paths["sec"]).st_dev == device and mounts_at(paths["sec"]) == 1
    assert os.stat(paths["sec"] / DATA_DIR).st_dev == device
    teardown(str(tmp_path), UID)
    assert mounts_below(tmp_path) == []


async def test_a_restarted_kubelet_finds_its_tmpfs_and_stacks_none(tmp_path: Path) -> None:
    """A kubelet killed and started again sets the volumes up anew (a container restart): the tmpfs
    that running containers are bound to is reused, never hidden under a second one."""
    pod, lookup = make_pod(), Lookup()
    first = Path((await setup_volumes(pod, str(tmp_path), lookup))["sec"])
    device = os.stat(first).st_dev
    (first / "marker").write_text("still here")  # something only the first tmpfs holds
    again = Path((await setup_volumes(pod, str(tmp_path), lookup))["sec"])
    assert again == first and mounts_at(first) == 1 and os.stat(first).st_dev == device
    assert (first / "marker").read_text() == "still here"  # the first tmpfs, not a fresh one on top
    teardown(str(tmp_path), UID)
    assert mounts_below(tmp_path) == []


async def test_fs_group_reaches_the_tmpfs_root(tmp_path: Path) -> None:
    pod = make_pod()
    pod.spec.security_context.fs_group = 2345
    paths = await setup_volumes(pod, str(tmp_path), Lookup())
    root = Path(paths["sec"]).stat()
    assert root.st_gid == 2345 and root.st_mode & stat.S_ISGID and fs_name(Path(paths["sec"])) == "tmpfs"
    assert (Path(paths["sec"]) / "user").stat().st_gid == 2345
    teardown(str(tmp_path), UID)


async def test_memory_empty_dir_is_a_tmpfs_of_its_size_limit(tmp_path: Path) -> None:
    pod = make_pod()
    mem = pod.spec.volumes.add(name="cache").empty_dir
    mem.medium = "Memory"
    mem.size_limit.value = "1Mi"
    path = Path((await setup_volumes(pod, str(tmp_path), Lookup()))["cache"])
    assert fs_name(path) == "tmpfs" and stat.S_IMODE(path.stat().st_mode) == 0o777
    vfs = os.statvfs(path)
    assert vfs.f_blocks * vfs.f_frsize == 1024 * 1024
    with pytest.raises(OSError) as info:  # the kernel holds the limit
        (path / "big").write_bytes(b"x" * (2 * 1024 * 1024))
    assert info.value.errno == errno.ENOSPC
    teardown(str(tmp_path), UID)
    assert mounts_below(tmp_path) == []


def _pod_with(limits: list[str | None], init: list[str | None], size_limit: str = "") -> tuple[pod_pb2.Pod, object]:
    pod = pod_pb2.Pod()
    for i, value in enumerate(limits):
        c = pod.spec.containers.add(name=f"c{i}")
        if value:
            c.resources.limits["memory"].value = value
    for i, value in enumerate(init):
        c = pod.spec.init_containers.add(name=f"i{i}")
        if value:
            c.resources.limits["memory"].value = value
    vol = pod.spec.volumes.add(name="v")
    if size_limit:
        vol.empty_dir.medium, vol.empty_dir.size_limit.value = "Memory", size_limit
    else:
        vol.secret.secret_name = "s"
    return pod, vol


@pytest.mark.parametrize(
    ("limits", "init", "size_limit", "expected"),
    [
        ([None], [], "", 8 << 30),  # no limit: the node's allocatable memory
        (["64Mi", "32Mi"], [], "", 96 << 20),  # the pod's limit: its containers' summed
        (["64Mi", None], [], "", 64 << 20),  # those that set one (Kubernetes' PodLimits)
        (["64Mi"], ["256Mi"], "", 256 << 20),  # an init container's larger limit
        (["64Mi"], [], "1Mi", 1 << 20),  # sizeLimit below the pod's limit
        (["1Mi"], [], "64Mi", 1 << 20),  # the pod's limit below sizeLimit
        (["64Gi"], [], "", 8 << 30),  # never more than the node has
    ],
)
def test_tmpfs_size(limits: list[str | None], init: list[str | None], size_limit: str, expected: int) -> None:
    pod, vol = _pod_with(limits, init, size_limit)
    assert tmpfs.size_bytes(pod, vol, {"memory": "8Gi"}) == expected  # type: ignore[arg-type]


def test_mountinfo_points_are_unescaped() -> None:
    line = r"36 35 98:0 / /var/lib/skiff/pods/u/volumes/secret/a\040b rw - tmpfs tmpfs rw,size=65536k"
    assert tmpfs.mount_points(line) == [("/var/lib/skiff/pods/u/volumes/secret/a b", "tmpfs")]


async def test_a_tmpfs_that_cannot_be_mounted_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without CAP_SYS_ADMIN mount(2) says EPERM: the pod's sync reports the volume and the reason."""

    class NoMount:
        def mount(self, *args: object) -> int:
            ctypes.set_errno(errno.EPERM)
            return -1

    monkeypatch.setattr(tmpfs, "_libc", NoMount())
    with pytest.raises(ConfigError, match=r'volume "sec": cannot mount a tmpfs .*Operation not permitted'):
        await setup_volumes(make_pod(), str(tmp_path), Lookup())
