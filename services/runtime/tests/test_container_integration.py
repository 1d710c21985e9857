"""The whole CRI flow over the socket: a busybox pod on the real executor, from run to nothing left."""

# These tests inspect host state (mounts, /proc, ip) with quick blocking calls between RPCs, on purpose.
# ruff: noqa: ASYNC221, ASYNC240

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from pathlib import Path

import grpc
import pytest
from criharness import cri_server, iptables_lines
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_runtime.runtime import Runtime
from skiff_runtime.sandbox import cgroups

pytestmark = pytest.mark.root
CRI_LINE = re.compile(r"^\S+ (stdout|stderr) [FP] (.*)$")


def pod_config(tmp: Path) -> cri.PodSandboxConfig:
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name="bb", namespace="default", uid=f"uid-bb-{os.getpid()}"),
        hostname="bb",
        log_directory=str(tmp / "logs"),
        labels={"app": "bb"},
    )


def container_config(command: list[str], name: str = "main") -> cri.ContainerConfig:
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name=name),
        image=cri.ImageSpec(image="busybox"),
        command=command,
        envs=[cri.KeyValue(key="GREETING", value="hello")],
        log_path=f"{name}/0.log",
        labels={"c": name},
        # kubelet always sends CONTAINER for pid (the CRI default, POD, means shareProcessNamespace)
        linux=cri.LinuxContainerConfig(
            security_context=cri.LinuxContainerSecurityContext(namespace_options=cri.NamespaceOption(pid=cri.CONTAINER))
        ),
    )


async def _eventually(check, what: str, attempts: int = 200):  # type: ignore[no-untyped-def]
    for _ in range(attempts):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# crun is left out: it refuses hybrid cgroup hosts like this one ("cgroups in hybrid mode not supported")
@pytest.mark.parametrize("executor", ["skiff", "runc"])
async def test_busybox_pod_end_to_end(tmp_path: Path, busybox_layout: Path, executor: str) -> None:
    if executor != "skiff" and not shutil.which(executor):
        pytest.skip(f"{executor} is not installed")
    async with cri_server(tmp_path, busybox_layout, executor=executor) as h:
        rs, ims = h.runtime_stub, h.image_stub
        image = (await ims.ImageStatus(cri.ImageStatusRequest(image=cri.ImageSpec(image="busybox")))).image
        assert image.repo_tags == ["docker.io/library/busybox:latest"]
        pulled = await ims.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image="busybox:latest")))
        assert pulled.image_ref == image.id

        sandbox_cfg = pod_config(tmp_path)
        sid = (await rs.RunPodSandbox(cri.RunPodSandboxRequest(config=sandbox_cfg))).pod_sandbox_id
        sandbox = h.runtime.sandboxes.store.get(sid)
        cid = (
            await rs.CreateContainer(
                cri.CreateContainerRequest(
                    pod_sandbox_id=sid,
                    sandbox_config=sandbox_cfg,
                    config=container_config(["sh", "-c", "echo $GREETING; echo oops >&2; sleep 30"]),
                )
            )
        ).container_id
        status = (await rs.ContainerStatus(cri.ContainerStatusRequest(container_id=cid))).status
        assert status.state == cri.CONTAINER_CREATED and status.image_id == image.id
        record = h.runtime.containers.store.get(cid)
        rootfs = record.rootfs
        assert os.path.ismount(rootfs)

        await rs.StartContainer(cri.StartContainerRequest(container_id=cid))
        log_path = tmp_path / "logs" / "main" / "0.log"

        async def logged() -> list[tuple[str, str]]:
            if not log_path.exists():
                return []
            lines = [CRI_LINE.match(line) for line in log_path.read_text().splitlines()]
            got = [(m.group(1), m.group(2)) for m in lines if m]
            return got if ("stdout", "hello") in got and ("stderr", "oops") in got else []

        await _eventually(logged, "the CRI log lines")
        status = (await rs.ContainerStatus(cri.ContainerStatusRequest(container_id=cid, verbose=True))).status
        assert status.state == cri.CONTAINER_RUNNING and status.started_at > 0
        assert status.log_path == str(log_path)
        pid = h.runtime.containers.store.get(cid).pid
        assert pid > 0 and os.path.exists(f"/proc/{pid}")
        # the container runs in the pod's network namespace, which has the pod IP on the bridge network
        pod_ip = (await rs.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=sid))).status.network.ip
        assert os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(sandbox.netns_path).st_ino
        bridge_addr = subprocess.run(
            ["ip", "-4", "addr", "show", h.config.bridge], capture_output=True, text=True, check=True
        ).stdout
        assert h.config.pod_cidr.rsplit(".", 1)[0] in bridge_addr

        code = await rs.ExecSync(
            cri.ExecSyncRequest(container_id=cid, cmd=["sh", "-c", "hostname; ip addr || ifconfig"], timeout=10)
        )
        assert code.exit_code == 0
        assert b"bb" in code.stdout and pod_ip.encode() in code.stdout
        listed = await rs.ListContainers(
            cri.ListContainersRequest(
                filter=cri.ContainerFilter(
                    state=cri.ContainerStateValue(state=cri.CONTAINER_RUNNING), label_selector={"c": "main"}
                )
            )
        )
        assert [c.id for c in listed.containers] == [cid]
        stats = (await rs.ContainerStats(cri.ContainerStatsRequest(container_id=cid))).stats
        assert stats.attributes.id == cid and stats.memory.usage_bytes.value > 0
        pod_stats = (await rs.PodSandboxStats(cri.PodSandboxStatsRequest(pod_sandbox_id=sid))).stats
        assert [c.attributes.id for c in pod_stats.linux.containers] == [cid]
        assert pod_stats.linux.memory.usage_bytes.value == sum(
            c.memory.usage_bytes.value for c in pod_stats.linux.containers
        )
        assert pod_stats.linux.memory.usage_bytes.value > 0
        listed_stats = await rs.ListContainerStats(cri.ListContainerStatsRequest())
        assert [s.attributes.id for s in listed_stats.stats] == [cid]
        fs = (await ims.ImageFsInfo(cri.ImageFsInfoRequest())).image_filesystems[0]
        assert fs.used_bytes.value > 1_000_000 and fs.inodes_used.value > 100  # busybox + its applet links

        # the image is in use: it cannot be removed
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await ims.RemoveImage(cri.RemoveImageRequest(image=cri.ImageSpec(image="busybox")))
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

        # sh is PID 1 of its PID namespace and has no SIGTERM handler, so the kernel ignores SIGTERM:
        # the grace period runs out and SIGKILL follows (137)
        await rs.StopContainer(cri.StopContainerRequest(container_id=cid, timeout=1))
        status = (await rs.ContainerStatus(cri.ContainerStatusRequest(container_id=cid))).status
        assert status.state == cri.CONTAINER_EXITED and status.finished_at >= status.started_at > 0
        assert (status.exit_code, status.reason) == (137, "Error")
        assert not os.path.exists(f"/proc/{pid}")
        await rs.RemoveContainer(cri.RemoveContainerRequest(container_id=cid))
        await rs.RemoveContainer(cri.RemoveContainerRequest(container_id=cid))  # idempotent
        assert not os.path.ismount(rootfs) and not os.path.exists(Path(rootfs).parent)
        assert not cgroups.exists(record.cgroups_path)

        await rs.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sid))
        await rs.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))
        assert (await rs.ListContainers(cri.ListContainersRequest())).containers == []
        assert not os.path.exists(sandbox.netns_path)
        assert not cgroups.exists(sandbox.cgroup_parent)
        ipam = Path(h.config.state_root) / "cni" / "networks" / "skiff"
        assert not (ipam / pod_ip).exists()
        assert iptables_lines(sid) == []
        assert not any(rootfs in line for line in Path("/proc/self/mountinfo").read_text().splitlines())

        # no longer in use: now it can go, and its layers with it
        await ims.RemoveImage(cri.RemoveImageRequest(image=cri.ImageSpec(image="busybox")))
        assert (await ims.ListImages(cri.ListImagesRequest())).images == []
        assert h.runtime.snapshots.layer_ids() == []


async def test_completed_container_and_exit_code(tmp_path: Path, busybox_layout: Path) -> None:
    async with cri_server(tmp_path, busybox_layout) as h:
        rs = h.runtime_stub
        sandbox_cfg = pod_config(tmp_path)
        sid = (await rs.RunPodSandbox(cri.RunPodSandboxRequest(config=sandbox_cfg))).pod_sandbox_id
        try:
            ok = (
                await rs.CreateContainer(
                    cri.CreateContainerRequest(
                        pod_sandbox_id=sid,
                        sandbox_config=sandbox_cfg,
                        config=container_config(["true"], "ok"),
                    )
                )
            ).container_id
            bad = (
                await rs.CreateContainer(
                    cri.CreateContainerRequest(
                        pod_sandbox_id=sid,
                        sandbox_config=sandbox_cfg,
                        config=container_config(["sh", "-c", "exit 3"], "bad"),
                    )
                )
            ).container_id
            trap = (
                await rs.CreateContainer(
                    cri.CreateContainerRequest(
                        pod_sandbox_id=sid,
                        sandbox_config=sandbox_cfg,
                        config=container_config(
                            ["sh", "-c", "trap 'exit 7' TERM; echo armed; while true; do sleep 0.1; done"], "trap"
                        ),
                    )
                )
            ).container_id
            for cid in (ok, bad, trap):
                await rs.StartContainer(cri.StartContainerRequest(container_id=cid))

            async def exited(cid: str) -> cri.ContainerStatus | None:
                st = (await rs.ContainerStatus(cri.ContainerStatusRequest(container_id=cid))).status
                return st if st.state == cri.CONTAINER_EXITED else None

            ok_status = await _eventually(lambda: exited(ok), "ok to exit")
            bad_status = await _eventually(lambda: exited(bad), "bad to exit")
            assert (ok_status.exit_code, ok_status.reason) == (0, "Completed")
            assert (bad_status.exit_code, bad_status.reason) == (3, "Error")
            # sh is PID 1 of its namespace: before its trap is set, it ignores SIGTERM (no default action)
            trap_log = tmp_path / "logs" / "trap" / "0.log"

            async def armed() -> bool:
                return trap_log.exists() and "armed" in trap_log.read_text()

            await _eventually(armed, "the trap to be set")
            await rs.StopContainer(cri.StopContainerRequest(container_id=trap, timeout=30))
            trap_status = (await rs.ContainerStatus(cri.ContainerStatusRequest(container_id=trap))).status
            assert (trap_status.state, trap_status.exit_code) == (
                cri.CONTAINER_EXITED,
                7,
            )  # SIGTERM was delivered
            # a container that never started can be stopped (it becomes EXITED) and removed
            idle = (
                await rs.CreateContainer(
                    cri.CreateContainerRequest(
                        pod_sandbox_id=sid,
                        sandbox_config=sandbox_cfg,
                        config=container_config(["true"], "idle"),
                    )
                )
            ).container_id
            await rs.StopContainer(cri.StopContainerRequest(container_id=idle, timeout=10))
            idle_status = (await rs.ContainerStatus(cri.ContainerStatusRequest(container_id=idle))).status
            assert idle_status.state == cri.CONTAINER_EXITED
            await rs.RemoveContainer(cri.RemoveContainerRequest(container_id=idle))
            # an unknown image is NOT_FOUND with a clear message, and leaves nothing behind
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await rs.CreateContainer(
                    cri.CreateContainerRequest(
                        pod_sandbox_id=sid,
                        sandbox_config=sandbox_cfg,
                        config=cri.ContainerConfig(
                            metadata=cri.ContainerMetadata(name="x"), image=cri.ImageSpec(image="nginx:1.25")
                        ),
                    )
                )
            assert err.value.code() == grpc.StatusCode.NOT_FOUND and "nginx" in (err.value.details() or "")
            # a failure after the rootfs was mounted rolls the mount and the bundle back
            before = sorted(os.listdir(h.runtime.snapshots.active))
            broken = container_config(["true"], "broken")
            broken.mounts.add(container_path="/data", host_path=str(tmp_path / "does-not-exist"))
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await rs.CreateContainer(
                    cri.CreateContainerRequest(pod_sandbox_id=sid, sandbox_config=sandbox_cfg, config=broken)
                )
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "config.mounts[0].host_path" in (err.value.details() or "")
            assert sorted(os.listdir(h.runtime.snapshots.active)) == before
            assert sorted(os.listdir(Path(h.config.state_root) / "containers")) == before
        finally:
            await rs.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))
        assert (await rs.ListContainers(cri.ListContainersRequest())).containers == []
        assert os.listdir(h.runtime.snapshots.active) == []


async def test_restarted_runtime_reports_the_truth(tmp_path: Path, busybox_layout: Path) -> None:
    async with cri_server(tmp_path, busybox_layout) as h:
        rs = h.runtime_stub
        sandbox_cfg = pod_config(tmp_path)
        sid = (await rs.RunPodSandbox(cri.RunPodSandboxRequest(config=sandbox_cfg))).pod_sandbox_id
        cid = (
            await rs.CreateContainer(
                cri.CreateContainerRequest(
                    pod_sandbox_id=sid, sandbox_config=sandbox_cfg, config=container_config(["sleep", "30"])
                )
            )
        ).container_id
        await rs.StartContainer(cri.StartContainerRequest(container_id=cid))
        pid = h.runtime.containers.store.get(cid).pid

        # a second runtime over the same state directories, as after a restart of the service
        restarted = Runtime.build(h.config)
        await restarted.start()
        assert restarted.sandboxes.store.get(sid).state == "ready"
        record = await restarted.containers.get(cid)
        assert (record.state, record.pid) == ("running", pid)
        os.kill(pid, 9)
        record = await _eventually(lambda: _exited(restarted, cid), "the killed container to be seen as exited")
        assert (record.exit_code, record.reason) == (137, "Error")
        await restarted.sandboxes.remove(sid)
        assert restarted.containers.store.list() == [] and restarted.sandboxes.store.list() == []
        h.runtime = restarted  # the harness cleans up through the runtime that knows the truth


async def _exited(runtime: Runtime, cid: str):  # type: ignore[no-untyped-def]
    record = await runtime.containers.get(cid)
    return record if record.state == "exited" else None


async def test_restart_collects_a_crashed_create(tmp_path: Path, busybox_layout: Path) -> None:
    async with cri_server(tmp_path, busybox_layout) as h:
        image = h.runtime.images.resolve("busybox")
        assert image is not None
        orphan = "0" * 64  # a create that crashed after mounting the rootfs, before writing its record
        rootfs = Path(h.config.state_root) / "containers" / orphan / "bundle" / "rootfs"
        h.runtime.snapshots.mount_rootfs(orphan, image.chain_ids, rootfs)
        restarted = Runtime.build(h.config)
        await restarted.start()
        assert not os.path.ismount(rootfs) and not rootfs.parent.parent.exists()
        assert not (restarted.snapshots.active / orphan).exists()


async def test_reopen_container_log(tmp_path: Path, busybox_layout: Path) -> None:
    async with cri_server(tmp_path, busybox_layout) as h:
        rs = h.runtime_stub
        sandbox_cfg = pod_config(tmp_path)
        sid = (await rs.RunPodSandbox(cri.RunPodSandboxRequest(config=sandbox_cfg))).pod_sandbox_id
        cid = (
            await rs.CreateContainer(
                cri.CreateContainerRequest(
                    pod_sandbox_id=sid,
                    sandbox_config=sandbox_cfg,
                    config=container_config(["sh", "-c", "while true; do echo tick; sleep 0.1; done"]),
                )
            )
        ).container_id
        await rs.StartContainer(cri.StartContainerRequest(container_id=cid))
        log_path = tmp_path / "logs" / "main" / "0.log"

        async def has_tick() -> bool:
            return log_path.exists() and "stdout F tick" in log_path.read_text()

        await _eventually(has_tick, "a first log line")
        log_path.rename(log_path.with_suffix(".log.1"))  # what kubelet's log rotation does
        await rs.ReopenContainerLog(cri.ReopenContainerLogRequest(container_id=cid))
        await _eventually(has_tick, "a line in the reopened log")
        await rs.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await rs.ReopenContainerLog(cri.ReopenContainerLogRequest(container_id=cid))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_shared_pid_namespace(tmp_path: Path, busybox_layout: Path) -> None:
    async with cri_server(tmp_path, busybox_layout) as h:
        rs = h.runtime_stub
        sandbox_cfg = pod_config(tmp_path)  # PID mode POD: the CRI default, kubelet's shareProcessNamespace
        sid = (await rs.RunPodSandbox(cri.RunPodSandboxRequest(config=sandbox_cfg))).pod_sandbox_id
        sandbox = h.runtime.sandboxes.store.get(sid)
        assert sandbox.pause_pid > 0 and os.path.exists(f"/proc/{sandbox.pause_pid}")
        ids = []
        for name, command in (("a", ["sleep", "31"]), ("b", ["sleep", "32"])):
            config = container_config(command, name)
            config.linux.security_context.namespace_options.pid = cri.POD
            cid = (
                await rs.CreateContainer(
                    cri.CreateContainerRequest(pod_sandbox_id=sid, sandbox_config=sandbox_cfg, config=config)
                )
            ).container_id
            await rs.StartContainer(cri.StartContainerRequest(container_id=cid))
            ids.append(cid)
        pids = [h.runtime.containers.store.get(cid).pid for cid in ids]
        pause_ns = os.stat(f"/proc/{sandbox.pause_pid}/ns/pid").st_ino
        assert all(os.stat(f"/proc/{pid}/ns/pid").st_ino == pause_ns for pid in pids)
        # each container sees the other's process (ps reads the container's own /proc)
        seen = await rs.ExecSync(cri.ExecSyncRequest(container_id=ids[0], cmd=["ps"], timeout=10))
        assert b"sleep 32" in seen.stdout and b"sleep 31" in seen.stdout
        await rs.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sid))
        assert not os.path.exists(f"/proc/{sandbox.pause_pid}") or pidns_dead(sandbox.pause_pid)
        await rs.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))


def pidns_dead(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except FileNotFoundError:
        return True
