"""skiff-runtime driven by an independent CRI client, step by step as crictl would do it.

The client is nothing but the generated ``runtime.v1`` stubs over the runtime's unix socket (no
skiff_kubelet, no skiff_client, no skiff_runtime import): version, info (Status), images, runp,
create, start, ps, inspect, logs, exec, stats, stop, rm, stopp, rmp, plus the errors a CRI client
relies on (NOT_FOUND for unknown ids, INVALID_ARGUMENT naming the field). The runtime is a separate
process; the same lifecycle runs with our executor and with crun (hybrid-cgroup workaround included).
"""

from __future__ import annotations

import ipaddress
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff.cri.runtime.v1 import api_pb2_grpc
from skiff_process import SkiffRuntime

BUSYBOX = "docker.io/library/busybox:latest"


class Crictl:
    """The few crictl verbs we need, as raw RPCs with a deadline each."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.rt = api_pb2_grpc.RuntimeServiceStub(channel)
        self.img = api_pb2_grpc.ImageServiceStub(channel)


@pytest.fixture
def crictl(skiff: SkiffRuntime) -> Iterator[Crictl]:
    with grpc.insecure_channel(skiff.endpoint) as channel:
        yield Crictl(channel)


def code_of(call: Any, request: object) -> tuple[grpc.StatusCode, str]:
    """The status code and details of a call that must fail."""
    with pytest.raises(grpc.RpcError) as info:
        call(request, timeout=30)
    error: Any = info.value  # grpc.RpcError has no typed accessors; the raised object is a grpc.Call
    return error.code(), error.details() or ""


def _is_process(pid: int, cmdline: bytes) -> bool:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes() == cmdline
    except OSError:
        return False


def sandbox_config(name: str, log_dir: Path, cgroup_root: str) -> cri.PodSandboxConfig:
    uid = uuid.uuid4().hex
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name=name, uid=uid, namespace="interop", attempt=0),
        hostname=name,
        log_directory=str(log_dir),
        dns_config=cri.DNSConfig(servers=["10.96.0.10"], searches=["interop.svc"], options=["ndots:2"]),
        labels={"app": "crictl", "io.kubernetes.pod.uid": uid},
        annotations={"note": "independent client"},
        linux=cri.LinuxPodSandboxConfig(
            cgroup_parent=f"/{cgroup_root}/pod{uid}",
            security_context=cri.LinuxSandboxSecurityContext(
                namespace_options=cri.NamespaceOption(network=cri.POD, pid=cri.CONTAINER, ipc=cri.POD)
            ),
        ),
    )


def test_version_status_and_images(crictl: Crictl, skiff: SkiffRuntime) -> None:
    version = crictl.rt.Version(cri.VersionRequest(version="v1"), timeout=10)
    assert (version.runtime_name, version.runtime_api_version) == ("skiff", "v1")
    assert version.runtime_version
    status = crictl.rt.Status(cri.StatusRequest(verbose=True), timeout=10)
    assert {c.type: c.status for c in status.status.conditions} == {"RuntimeReady": True, "NetworkReady": True}

    images = crictl.img.ListImages(cri.ListImagesRequest(), timeout=10).images
    busybox = [i for i in images if BUSYBOX in i.repo_tags]
    assert len(busybox) == 1 and busybox[0].id.startswith("sha256:") and busybox[0].size > 500_000
    # crictl normalises nothing itself: the runtime must accept short names as Docker does.
    for name in ("busybox", "busybox:latest", BUSYBOX, busybox[0].id):
        st = crictl.img.ImageStatus(cri.ImageStatusRequest(image=cri.ImageSpec(image=name)), timeout=10)
        assert st.image.id == busybox[0].id, name
    missing = crictl.img.ImageStatus(cri.ImageStatusRequest(image=cri.ImageSpec(image="nope:1")), timeout=10)
    assert not missing.HasField("image")  # absent is an empty answer, not an error (CRI)
    filtered = crictl.img.ListImages(
        cri.ListImagesRequest(filter=cri.ImageFilter(image=cri.ImageSpec(image="busybox"))), timeout=10
    )
    assert [i.id for i in filtered.images] == [busybox[0].id]
    # Present locally: PullImage answers from the store, no registry contacted (there is none).
    pulled = crictl.img.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image="busybox")), timeout=30)
    assert pulled.image_ref == busybox[0].id
    fs = crictl.img.ImageFsInfo(cri.ImageFsInfoRequest(), timeout=10)
    assert fs.image_filesystems and fs.image_filesystems[0].used_bytes.value > 0


@pytest.mark.parametrize("skiff", ["skiff", "crun"], indirect=True)
def test_pod_lifecycle_like_crictl(crictl: Crictl, skiff: SkiffRuntime, tmp_path: Path, cgroup_root: str) -> None:
    rt = crictl.rt
    log_dir = tmp_path / "pod-logs"
    config = sandbox_config("web", log_dir, cgroup_root)

    # crictl runp
    pod_id = rt.RunPodSandbox(cri.RunPodSandboxRequest(config=config), timeout=60).pod_sandbox_id
    st = rt.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=pod_id, verbose=True), timeout=10)
    assert st.status.state == cri.SANDBOX_READY and st.status.metadata == config.metadata
    assert st.status.labels["app"] == "crictl" and st.status.annotations["note"] == "independent client"
    pod_ip = ipaddress.ip_address(st.status.network.ip)
    network = ipaddress.ip_network(skiff.pod_cidr)
    assert pod_ip in network and pod_ip != next(network.hosts())  # .1 is the bridge (gateway)
    assert json.loads(st.info["info"])  # crictl inspectp -o json shows it
    # crictl pods --label app=crictl --state ready
    pods = rt.ListPodSandbox(
        cri.ListPodSandboxRequest(
            filter=cri.PodSandboxFilter(
                label_selector={"app": "crictl"}, state=cri.PodSandboxStateValue(state=cri.SANDBOX_READY)
            )
        ),
        timeout=10,
    ).items
    assert [p.id for p in pods] == [pod_id]

    # crictl create + start
    cconfig = cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name="main", attempt=0),
        image=cri.ImageSpec(image="busybox"),
        command=["sh", "-c"],
        args=['echo "hello $WHO"; cat /etc/hostname /etc/resolv.conf; echo oops >&2; exec sleep 1000'],
        envs=[cri.KeyValue(key="WHO", value="crictl")],
        labels={"tier": "main"},
        log_path="main/0.log",
        linux=cri.LinuxContainerConfig(
            resources=cri.LinuxContainerResources(memory_limit_in_bytes=64 << 20),
            # Must match the sandbox's: the field's zero value is POD, which skiff refuses for a sandbox
            # made with pid CONTAINER (containerd would silently join the pause container's namespace).
            security_context=cri.LinuxContainerSecurityContext(
                namespace_options=cri.NamespaceOption(network=cri.POD, pid=cri.CONTAINER, ipc=cri.POD)
            ),
        ),
    )
    cid = rt.CreateContainer(
        cri.CreateContainerRequest(pod_sandbox_id=pod_id, config=cconfig, sandbox_config=config), timeout=60
    ).container_id
    created = rt.ContainerStatus(cri.ContainerStatusRequest(container_id=cid), timeout=10).status
    assert created.state == cri.CONTAINER_CREATED and created.started_at == 0
    rt.StartContainer(cri.StartContainerRequest(container_id=cid), timeout=60)

    # crictl ps --pod <id> / crictl inspect
    listed = rt.ListContainers(
        cri.ListContainersRequest(filter=cri.ContainerFilter(pod_sandbox_id=pod_id)), timeout=10
    ).containers
    assert [(c.id, c.metadata.name, c.state) for c in listed] == [(cid, "main", cri.CONTAINER_RUNNING)]
    assert listed[0].labels["tier"] == "main" and "sha256:" in listed[0].image_ref
    inspect = rt.ContainerStatus(cri.ContainerStatusRequest(container_id=cid, verbose=True), timeout=10)
    status = inspect.status
    assert status.state == cri.CONTAINER_RUNNING and status.started_at >= status.created_at > 0
    assert status.log_path == str(log_dir / "main" / "0.log") and status.image.image
    pid = json.loads(inspect.info["info"])["pid"]
    # The info's pid is the container's init: the shell, which echoes and cats before it execs sleep
    # (started is not "reached its last command", so wait for it, as for the log below).
    deadline = time.monotonic() + 20
    while not _is_process(pid, b"sleep\x001000\x00") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _is_process(pid, b"sleep\x001000\x00")

    # crictl logs: the CRI log format at the path we asked for
    log = log_dir / "main" / "0.log"
    deadline = time.monotonic() + 20
    while (not log.exists() or "oops" not in log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    records = [line.split(" ", 3) for line in log.read_text().splitlines()]
    assert all(len(r) == 4 and r[1] in ("stdout", "stderr") and r[2] in ("F", "P") for r in records)
    assert ["stdout", "hello crictl"] in [[r[1], r[3]] for r in records]
    assert ["stdout", "web"] in [[r[1], r[3]] for r in records]  # /etc/hostname
    assert ["stdout", "nameserver 10.96.0.10"] in [[r[1], r[3]] for r in records]
    assert ["stderr", "oops"] in [[r[1], r[3]] for r in records]

    # crictl exec -s (ExecSync): exit code, both streams, container env, its own network namespace
    script = "echo $WHO; ip -4 addr show eth0; echo e >&2; exit 3"
    res = rt.ExecSync(cri.ExecSyncRequest(container_id=cid, cmd=["sh", "-c", script], timeout=10), timeout=30)
    assert res.exit_code == 3 and res.stderr == b"e\n"
    assert res.stdout.startswith(b"crictl\n") and f"inet {pod_ip}/".encode() in res.stdout

    # crictl stats
    stats = rt.ContainerStats(cri.ContainerStatsRequest(container_id=cid), timeout=10).stats
    assert stats.attributes.id == cid and stats.memory.working_set_bytes.value > 0

    # crictl stop -t 1: sleep is pid 1 of its namespace and ignores SIGTERM, so SIGKILL after 1s
    rt.StopContainer(cri.StopContainerRequest(container_id=cid, timeout=1), timeout=30)
    stopped = rt.ContainerStatus(cri.ContainerStatusRequest(container_id=cid), timeout=10).status
    assert stopped.state == cri.CONTAINER_EXITED and stopped.exit_code == 137 and stopped.finished_at > 0
    assert not _is_process(pid, b"sleep\x001000\x00")
    rt.StopContainer(cri.StopContainerRequest(container_id=cid, timeout=1), timeout=30)  # idempotent

    # crictl rm
    rt.RemoveContainer(cri.RemoveContainerRequest(container_id=cid), timeout=30)
    assert code_of(rt.ContainerStatus, cri.ContainerStatusRequest(container_id=cid))[0] == grpc.StatusCode.NOT_FOUND
    assert not rt.ListContainers(cri.ListContainersRequest(), timeout=10).containers

    # crictl stopp + rmp (both idempotent)
    rt.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)
    st = rt.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=pod_id), timeout=10)
    assert st.status.state == cri.SANDBOX_NOTREADY
    rt.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)
    rt.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)
    rt.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)
    assert not rt.ListPodSandbox(cri.ListPodSandboxRequest(), timeout=10).items
    status_code, _ = code_of(rt.PodSandboxStatus, cri.PodSandboxStatusRequest(pod_sandbox_id=pod_id))
    assert status_code == grpc.StatusCode.NOT_FOUND
    # the runtime removed the pod cgroup it was asked to create
    hierarchies = [p for p in Path("/sys/fs/cgroup").iterdir() if p.is_dir() and not p.is_symlink()]
    assert not [h for h in hierarchies if (h / cgroup_root / f"pod{config.metadata.uid}").exists()]


def test_errors_a_client_relies_on(crictl: Crictl, tmp_path: Path, cgroup_root: str) -> None:
    rt = crictl.rt
    for call, request in (
        (rt.ContainerStatus, cri.ContainerStatusRequest(container_id="0" * 64)),
        (rt.PodSandboxStatus, cri.PodSandboxStatusRequest(pod_sandbox_id="0" * 64)),
        (rt.StartContainer, cri.StartContainerRequest(container_id="0" * 64)),
    ):
        assert code_of(call, request)[0] == grpc.StatusCode.NOT_FOUND
    code, details = code_of(rt.RunPodSandbox, cri.RunPodSandboxRequest(config=cri.PodSandboxConfig()))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "metadata" in details
    config = sandbox_config("bad", tmp_path / "logs", cgroup_root)
    pod_id = rt.RunPodSandbox(cri.RunPodSandboxRequest(config=config), timeout=60).pod_sandbox_id
    bad = cri.ContainerConfig(metadata=cri.ContainerMetadata(name="x"), image=cri.ImageSpec(image="absent:1"))
    code, details = code_of(
        rt.CreateContainer, cri.CreateContainerRequest(pod_sandbox_id=pod_id, config=bad, sandbox_config=config)
    )
    assert code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT)
    assert "absent" in details
    assert not rt.ListContainers(cri.ListContainersRequest(), timeout=10).containers  # nothing half-made
