"""User namespaces (CRI ``userns_options`` mode POD, ``hostUsers: false``) through the whole CRI flow.

A container of a pod with its own user namespace runs as root inside and as the pod's range base on the
host: its rootfs (idmapped image layers, upper owned by the base) and idmapped volumes are its own, while
a plain bind mount of a root-owned host file (a hostPath: never idmapped) shows it as nobody and refuses
writes. /proc, /sys (the pod's netns is owned by its user namespace) and exec work inside.

Every test here also checks the host's /dev is left as it was (``host_dev_untouched``): crun without
its 2025 fix (crun#1847) fchowns the container's stdio to the container's user, and with the host's
/dev/null as stdin that made the host's /dev/null the pod's (crun#1845); containers and runtimes now get
an empty pipe as stdin (``oci/stdio.py``), which the container's stdin shows.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from criharness import cri_server
from skiff.cri.runtime.v1 import api_pb2 as cri

pytestmark = pytest.mark.root
CRI_LINE = re.compile(r"^\S+ (stdout|stderr) [FP] (.*)$")
if os.geteuid() != 0:  # pragma: no cover
    pytest.skip("needs root", allow_module_level=True)


_HOST_DEV = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")


def _dev_state() -> dict[str, tuple[int, int, int, int, int]]:
    """(inode, mode with file type, uid, gid, rdev) of the host device nodes a container's /dev copies."""
    out = {}
    for path in _HOST_DEV:
        st = os.lstat(path)
        out[path] = (st.st_ino, st.st_mode, st.st_uid, st.st_gid, st.st_rdev)
    return out


@pytest.fixture(autouse=True)
def host_dev_untouched() -> Iterator[None]:
    """Fails a test that created, replaced, chmod-ed or chown-ed a host /dev node (and puts the owner
    and mode back first, so one failure does not leave the shared host broken)."""
    before = _dev_state()
    assert all(stat.S_ISCHR(mode) for _, mode, *_ in before.values()), before
    yield
    after = _dev_state()
    for path, (ino, mode, uid, gid, _) in before.items():
        if after[path] != before[path] and after[path][0] == ino:
            os.chown(path, uid, gid)
            os.chmod(path, stat.S_IMODE(mode))
    assert after == before, "the host's /dev was changed"


def _base() -> int:
    return 65536 * (100 + secrets.randbelow(1000))


def _pod(tmp: Path, base: int) -> cri.PodSandboxConfig:
    cfg = cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name="uns", namespace="default", uid=f"uid-uns-{os.getpid()}"),
        hostname="uns",
        log_directory=str(tmp / "logs"),
    )
    u = cfg.linux.security_context.namespace_options.userns_options
    u.mode = cri.POD
    u.uids.append(cri.IDMapping(host_id=base, container_id=0, length=65536))
    u.gids.append(cri.IDMapping(host_id=base, container_id=0, length=65536))
    return cfg


def _mount(container_path: str, host: Path, base: int | None) -> cri.Mount:
    m = cri.Mount(container_path=container_path, host_path=str(host))
    if base is not None:
        m.uidMappings.append(cri.IDMapping(host_id=base, container_id=0, length=65536))
        m.gidMappings.append(cri.IDMapping(host_id=base, container_id=0, length=65536))
    return m


SCRIPT = (
    "echo uidmap $(cat /proc/self/uid_map); echo id $(id -u) $(id -g); echo stdin $(readlink /proc/self/fd/0); "
    "echo rootfs > /made-in-rootfs && echo rootfs-rw; "
    "echo x >> /host/owned 2>/dev/null && echo host-written || echo host-denied; "
    "echo owner $(stat -c %u /host/owned); "
    "touch /vol/new && echo vol-rw; echo volowner $(stat -c %u /vol/seed); "
    "touch /plain/made && echo plain-rw; "
    "ls /sys/class/net | grep -q lo && echo sys-ok; "
    "sleep 30"
)


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A state folder the pod's root may traverse (pytest's tmp root is 0700): runc and crun join the user
    namespace before they mount, so they walk the bundle path as the container's root."""
    path = Path(tempfile.mkdtemp(prefix="skiff-userns-"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("executor", ["skiff", "crun", "runc"])
async def test_container_root_is_the_pods_unprivileged_host_user(
    open_tmp: Path, busybox_layout: Path, executor: str
) -> None:
    if executor != "skiff" and not shutil.which(executor):
        pytest.skip(f"{executor} is not installed")
    tmp_path = open_tmp
    base = _base()
    host = tmp_path / "host"  # a hostPath: root's, not idmapped
    host.mkdir()
    (host / "owned").write_text("root's\n")
    os.chmod(host / "owned", 0o644)
    vol = tmp_path / "vol"  # an emptyDir-like volume: idmapped
    vol.mkdir()
    (vol / "seed").write_text("")
    plain = tmp_path / "plain"  # world-writable, not idmapped: shows the process's host uid
    plain.mkdir()
    os.chmod(plain, 0o1777)
    async with cri_server(tmp_path, busybox_layout, executor=executor) as h:
        rs = h.runtime_stub
        sandbox = _pod(tmp_path, base)
        sid = (await rs.RunPodSandbox(cri.RunPodSandboxRequest(config=sandbox))).pod_sandbox_id
        try:
            config = cri.ContainerConfig(
                metadata=cri.ContainerMetadata(name="c"),
                image=cri.ImageSpec(image="busybox"),
                command=["sh", "-c", SCRIPT],
                log_path="c/0.log",
                mounts=[_mount("/host", host, None), _mount("/vol", vol, base), _mount("/plain", plain, None)],
            )
            config.linux.security_context.namespace_options.pid = cri.CONTAINER
            if not h.runtime.executor.user_namespaces:  # an old runc: refused, never a silent plain bind
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await rs.CreateContainer(
                        cri.CreateContainerRequest(pod_sandbox_id=sid, sandbox_config=sandbox, config=config)
                    )
                assert "cannot make idmapped mounts" in (err.value.details() or "")
                return
            cid = (
                await rs.CreateContainer(
                    cri.CreateContainerRequest(pod_sandbox_id=sid, sandbox_config=sandbox, config=config)
                )
            ).container_id
            await rs.StartContainer(cri.StartContainerRequest(container_id=cid))
            log = tmp_path / "logs" / "c" / "0.log"
            for _ in range(200):
                if log.exists() and "sys-ok" in log.read_text():
                    break
                await asyncio.sleep(0.05)
            out = [m.group(2) for m in map(CRI_LINE.match, log.read_text().splitlines()) if m]
            assert out[0].split() == ["uidmap", "0", str(base), "65536"], out
            assert "id 0 0" in out
            assert "rootfs-rw" in out
            assert "host-denied" in out and "owner 65534" in out
            assert (host / "owned").read_text() == "root's\n"
            assert "vol-rw" in out and "volowner 0" in out
            assert os.stat(vol / "new").st_uid == 0  # an idmapped volume stores the container's ids
            assert "plain-rw" in out and os.stat(plain / "made").st_uid == base  # the process's host uid
            assert "sys-ok" in out
            assert next(line for line in out if line.startswith("stdin ")).startswith("stdin pipe:"), out
            cmd = ["sh", "-c", "id -u; cat /made-in-rootfs; readlink /proc/self/fd/0"]
            ex = await rs.ExecSync(cri.ExecSyncRequest(container_id=cid, cmd=cmd))
            assert ex.exit_code == 0 and ex.stdout.decode().split()[:2] == ["0", "rootfs"], ex
            assert ex.stdout.decode().split()[2].startswith("pipe:"), ex  # not the host's /dev/null
        finally:
            await rs.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))
        assert not list((tmp_path / "run" / "userns").iterdir())  # the pinned user namespace is gone


async def test_bad_userns_options_are_refused_with_the_field(tmp_path: Path) -> None:
    async with cri_server(tmp_path) as h:
        status = await h.runtime_stub.Status(cri.StatusRequest())
        assert all(handler.features.user_namespaces for handler in status.runtime_handlers)
        sandbox = _pod(tmp_path, 0)  # host id 0: would map the host's root
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await h.runtime_stub.RunPodSandbox(cri.RunPodSandboxRequest(config=sandbox))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "userns_options.uids[0].host_id" in (err.value.details() or "")
