"""Container hardening through the whole CRI flow, on the native executor and on runc: a privileged
container in a privileged sandbox (every capability, host devices, writable /sys, no seccomp even if
asked), RuntimeDefault seccomp against CAP_SYS_ADMIN, and OOMKilled when a worker process is killed."""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path

import pytest
from criharness import cri_server
from skiff.cri.runtime.v1 import api_pb2 as cri

pytestmark = pytest.mark.root
CRI_LINE = re.compile(r"^\S+ (stdout|stderr) [FP] (.*)$")
RUNTIME_DEFAULT = cri.SecurityProfile(profile_type=cri.SecurityProfile.RuntimeDefault)
if os.geteuid() != 0:  # pragma: no cover
    pytest.skip("needs root", allow_module_level=True)


def _host_device() -> str:
    """A host character device no unprivileged container has (e.g. /dev/kmsg)."""
    for name in ("kmsg", "loop-control", "mem", "fuse", "cpu_dma_latency"):
        path = f"/dev/{name}"
        if os.path.exists(path) and stat.S_ISCHR(os.stat(path).st_mode):
            return path
    pytest.skip("no suitable host device")


def _held_caps() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1], 16) for line in f if line.startswith("CapEff:"))


def _pod(tmp: Path, privileged: bool) -> cri.PodSandboxConfig:
    cfg = cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name="hard", namespace="default", uid=f"uid-hard-{os.getpid()}"),
        hostname="hard",
        log_directory=str(tmp / "logs"),
    )
    cfg.linux.security_context.privileged = privileged
    return cfg


def _container(name: str, script: str, **sc: object) -> cri.ContainerConfig:
    config = cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name=name),
        image=cri.ImageSpec(image="busybox"),
        command=["sh", "-c", script],
        log_path=f"{name}/0.log",
    )
    config.linux.security_context.namespace_options.pid = cri.CONTAINER
    config.linux.security_context.seccomp.CopyFrom(RUNTIME_DEFAULT)
    for key, value in sc.items():
        setattr(config.linux.security_context, key, value)
    return config


async def _run(rs, sid: str, sandbox: cri.PodSandboxConfig, config: cri.ContainerConfig, tmp: Path):  # type: ignore[no-untyped-def]
    cid = (
        await rs.CreateContainer(cri.CreateContainerRequest(pod_sandbox_id=sid, sandbox_config=sandbox, config=config))
    ).container_id
    await rs.StartContainer(cri.StartContainerRequest(container_id=cid))
    for _ in range(600):
        st = (await rs.ContainerStatus(cri.ContainerStatusRequest(container_id=cid))).status
        if st.state == cri.CONTAINER_EXITED:
            break
        import asyncio

        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"{config.metadata.name} did not exit")
    log = tmp / "logs" / config.metadata.name / "0.log"
    lines = [m.group(2) for m in map(CRI_LINE.match, log.read_text().splitlines()) if m and m.group(1) == "stdout"]
    return st, lines


@pytest.mark.parametrize("executor", ["skiff", "runc"])
async def test_privileged_and_seccomp(tmp_path: Path, busybox_layout: Path, executor: str) -> None:
    if executor != "skiff" and not shutil.which(executor):
        pytest.skip(f"{executor} is not installed")
    device = _host_device()
    script = (
        f"grep CapEff /proc/self/status; test -c {device} && echo has-device || echo no-device; "
        "grep ' /sys ' /proc/mounts | grep -q ' rw,' && echo sys-rw || echo sys-ro; "
        "mkdir -p /mnt && mount -t tmpfs t /mnt && echo mount-ok || echo mount-denied"
    )
    async with cri_server(tmp_path, busybox_layout, executor=executor) as h:
        rs = h.runtime_stub
        sandbox = _pod(tmp_path, privileged=True)
        sid = (await rs.RunPodSandbox(cri.RunPodSandboxRequest(config=sandbox))).pod_sandbox_id
        try:
            st, out = await _run(rs, sid, sandbox, _container("priv", script, privileged=True), tmp_path)
            assert st.exit_code == 0, out
            assert int(out[0].split()[1], 16) == _held_caps()  # every capability the node's root holds
            assert out[1:] == ["has-device", "sys-rw", "mount-ok"]  # RuntimeDefault asked, but privileged
            plain = _container("plain", script)
            plain.linux.security_context.capabilities.add_capabilities.append("SYS_ADMIN")
            st, out = await _run(rs, sid, sandbox, plain, tmp_path)
            assert out[1:] == ["no-device", "sys-ro", "mount-denied"], out
        finally:
            await rs.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))
        assert (await rs.ListContainers(cri.ListContainersRequest())).containers == []


async def test_privileged_container_needs_a_privileged_sandbox(tmp_path: Path, busybox_layout: Path) -> None:
    import grpc

    async with cri_server(tmp_path, busybox_layout) as h:
        rs = h.runtime_stub
        sandbox = _pod(tmp_path, privileged=False)
        sid = (await rs.RunPodSandbox(cri.RunPodSandboxRequest(config=sandbox))).pod_sandbox_id
        try:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                request = cri.CreateContainerRequest(
                    pod_sandbox_id=sid, sandbox_config=sandbox, config=_container("p", "true", privileged=True)
                )
                await rs.CreateContainer(request)
            assert "config.linux.security_context.privileged" in (err.value.details() or "")
        finally:
            await rs.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))


async def test_oom_killed_worker_makes_the_container_oomkilled(tmp_path: Path, busybox_layout: Path) -> None:
    async with cri_server(tmp_path, busybox_layout) as h:
        rs = h.runtime_stub
        sandbox = _pod(tmp_path, privileged=False)
        sid = (await rs.RunPodSandbox(cri.RunPodSandboxRequest(config=sandbox))).pod_sandbox_id
        try:
            config = _container("hog", "tail /dev/zero; exit 1")
            config.linux.resources.memory_limit_in_bytes = 16 * 1024 * 1024
            st, _ = await _run(rs, sid, sandbox, config, tmp_path)
            assert (st.reason, st.exit_code) == ("OOMKilled", 1)
        finally:
            await rs.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))


async def test_user_groups_readonly_rootfs_no_new_privs_and_dropped_caps(tmp_path: Path, busybox_layout: Path) -> None:
    script = (
        "id -u; id -g; id -G; grep NoNewPrivs /proc/self/status; grep CapEff /proc/self/status; "
        "touch /probe 2>/dev/null && echo root-rw || echo root-ro"
    )
    async with cri_server(tmp_path, busybox_layout) as h:
        rs = h.runtime_stub
        sandbox = _pod(tmp_path, privileged=False)
        sid = (await rs.RunPodSandbox(cri.RunPodSandboxRequest(config=sandbox))).pod_sandbox_id
        try:
            config = _container("user", script, readonly_rootfs=True, no_new_privs=True)
            sc = config.linux.security_context
            sc.run_as_user.value, sc.run_as_group.value = 1000, 3000
            sc.supplemental_groups.extend([4000])
            sc.capabilities.drop_capabilities.append("ALL")
            st, out = await _run(rs, sid, sandbox, config, tmp_path)
            assert st.exit_code == 0, out
            assert out[0:2] == ["1000", "3000"]
            assert "4000" in out[2].split()
            assert out[3].split() == ["NoNewPrivs:", "1"]
            assert int(out[4].split()[1], 16) == 0
            assert out[5] == "root-ro"
        finally:
            await rs.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))
