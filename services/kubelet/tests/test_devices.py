"""Device plugins on real parts: the sample `example.com/gpu` plugin runs as its own process and speaks
deviceplugin v1beta1 over unix sockets to the kubelet's device manager: registration, capacity and
allocatable (healthy only), one device per container, health changes, freeing when a pod ends, the
checkpoint across a kubelet restart with the plugin registering again; then a whole kubelet with the real
runtime gives a pod its device (env and device node) and keeps a pod asking for too many waiting."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from skiff.api.core.v1 import container_pb2, node_pb2, pod_pb2
from skiff.deviceplugin.v1beta1 import api_pb2 as dp
from skiff.deviceplugin.v1beta1 import api_pb2_grpc as dp_grpc
from skiff.kubelet.v1 import kubelet_pb2 as kpb
from skiff.kubelet.v1 import kubelet_pb2_grpc
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually
from skiff_kubelet.app import Kubelet
from skiff_kubelet.devices.manager import AllocationError, DeviceManager, is_extended_resource
from test_e2e import busybox_pod, kubelet_config

PLUGIN = Path(__file__).resolve().parents[3] / "examples" / "device-plugin" / "fake_gpu_plugin.py"
GPU = "example.com/gpu"


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    return tmp_path / "device-plugins"


def start_plugin(plugin_dir: Path, devices: int) -> subprocess.Popen[bytes]:
    plugin_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, str(PLUGIN), "--plugin-dir", str(plugin_dir), "--devices", str(devices)])


@pytest.fixture
def plugin(plugin_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = start_plugin(plugin_dir, 2)
    yield proc
    proc.terminate()
    proc.wait(10)


def pod(name: str, gpus: int) -> tuple[pod_pb2.Pod, container_pb2.Container]:
    p = pod_pb2.Pod()
    p.metadata.name, p.metadata.namespace, p.metadata.uid = name, "default", f"uid-{name}"
    p.status.phase = "Running"
    c = p.spec.containers.add(name="main")
    c.resources.limits[GPU].value = str(gpus)
    return p, c


@pytest.mark.parametrize(
    ("name", "ok"),
    [("example.com/gpu", True), ("nvidia.com/gpu", True), ("cpu", False), ("kubernetes.io/gpu", False),
     ("x.kubernetes.io/gpu", False), ("requests.example.com/gpu", False)],
)  # fmt: skip
def test_extended_resource_names(name: str, ok: bool) -> None:
    assert is_extended_resource(name) is ok


async def test_device_manager_with_the_sample_plugin(plugin_dir: Path, plugin: Any) -> None:
    active: list[pod_pb2.Pod] = []
    manager = DeviceManager(str(plugin_dir), active_pods=lambda: active)
    await manager.start()
    try:

        async def capacity(want: tuple[int, int]) -> bool:
            return manager.capacity().get(GPU) == want

        await eventually(lambda: capacity((2, 2)), "the plugin's two devices in capacity and allocatable")
        a, ca = pod("a", 1)
        active.append(a)
        (answer,) = await manager.allocate(a, ca)
        assert answer.envs["EXAMPLE_GPU_DEVICES"] == "gpu-0"
        assert [m.container_path for m in answer.mounts] == ["/dev/example-gpu0"]
        assert (await manager.allocate(a, ca))[0].envs["EXAMPLE_GPU_DEVICES"] == "gpu-0"  # same container: same device
        b, cb = pod("b", 2)
        active.append(b)
        with pytest.raises(AllocationError, match=r"unavailable for example.com/gpu. Requested: 2, Available: 1"):
            await manager.allocate(b, cb)

        (plugin_dir / "example-gpu" / "unhealthy").write_text("gpu-1\n")
        await eventually(lambda: capacity((2, 1)), "an unhealthy device leaves allocatable, not capacity")
    finally:
        await manager.stop()

    # The kubelet restarts: capacity is zero until the plugin (watching kubelet.sock) registers again;
    # the checkpoint keeps pod a's device, so it is neither lost nor given away.
    manager = DeviceManager(str(plugin_dir), active_pods=lambda: active)
    await manager.start()
    try:
        assert manager.capacity().get(GPU) == (0, 0)
        await eventually(lambda: capacity((2, 1)), "the plugin registers with the restarted kubelet")
        assert (await manager.allocate(a, ca))[0].envs["EXAMPLE_GPU_DEVICES"] == "gpu-0"
        c, cc = pod("c", 1)
        active.append(c)
        with pytest.raises(AllocationError, match="Available: 0"):  # gpu-1 is unhealthy
            await manager.allocate(c, cc)
        (plugin_dir / "example-gpu" / "unhealthy").write_text("")
        await eventually(lambda: capacity((2, 2)), "the device is healthy again")
        assert (await manager.allocate(c, cc))[0].envs["EXAMPLE_GPU_DEVICES"] == "gpu-1"
        active.remove(a)  # pod a ended: its device is free for the next container
        d, cd = pod("d", 1)
        active.append(d)
        assert (await manager.allocate(d, cd))[0].envs["EXAMPLE_GPU_DEVICES"] == "gpu-0"

        async with grpc.aio.insecure_channel(f"unix://{plugin_dir / 'kubelet.sock'}") as channel:
            stub = dp_grpc.RegistrationStub(channel)  # type: ignore[no-untyped-call]
            for bad in (
                dp.RegisterRequest(version="v1alpha", endpoint="x.sock", resource_name=GPU),
                dp.RegisterRequest(version="v1beta1", endpoint="x.sock", resource_name="cpu"),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await stub.Register(bad)
                assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        await manager.stop()


async def _capacity_of(client: ApiClient, node: str) -> tuple[str, str] | None:
    n = await client.get(node_pb2.Node, node)
    if GPU not in n.status.capacity:
        return None
    return n.status.capacity[GPU].value, n.status.allocatable[GPU].value


@pytest.mark.root
@pytest.mark.etcd
async def test_pod_gets_a_device(client: ApiClient, apiserver: Any, runtime: Any, tmp_path: Path) -> None:
    cfg = kubelet_config(apiserver, runtime, tmp_path)
    kubelet = Kubelet(cfg)
    await kubelet.start()
    proc = start_plugin(Path(cfg.root_dir) / "device-plugins", 2)
    try:
        got = await eventually(lambda: _capacity_of(client, cfg.node_name), "example.com/gpu in the node's capacity")
        assert got == ("2", "2")
        name = f"gpu-{uuid.uuid4().hex[:6]}"
        p = busybox_pod(name, "echo devices=$EXAMPLE_GPU_DEVICES; cat /dev/example-gpu*; exec sleep 300")
        p.spec.node_name = cfg.node_name
        p.spec.containers[0].resources.limits[GPU].value = "1"
        await client.create(p)
        greedy = busybox_pod(f"greedy-{uuid.uuid4().hex[:6]}", "exec sleep 300")
        greedy.spec.node_name = cfg.node_name
        greedy.spec.containers[0].resources.limits[GPU].value = "2"

        async def running() -> pod_pb2.Pod | None:
            got = await client.get(pod_pb2.Pod, name, "default")
            return got if got.status.phase == "Running" else None

        await eventually(running, "the GPU pod Running")
        async with grpc.aio.insecure_channel(f"127.0.0.1:{kubelet.port}") as ch:
            stub = kubelet_pb2_grpc.KubeletStub(ch)

            async def logs() -> list[bytes]:
                lines = [
                    r.line async for r in stub.ContainerLogs(kpb.ContainerLogsRequest(namespace="default", pod=name))
                ]
                return lines if len(lines) >= 2 else []

            lines = await eventually(logs, "the GPU pod's output")
        assert lines[0] == b"devices=gpu-0" and lines[1] == b"fake device gpu-0"

        await client.create(greedy)

        async def refused() -> str | None:
            got = await client.get(pod_pb2.Pod, greedy.metadata.name, "default")
            waiting = [s.state.waiting for s in got.status.container_statuses if s.state.HasField("waiting")]
            return waiting[0].message if waiting and waiting[0].reason == "UnexpectedAdmissionError" else None

        message = await eventually(refused, "the pod asking for 2 GPUs with 1 free kept waiting")
        assert "Requested: 2, Available: 1" in message
        for n in (name, greedy.metadata.name):
            await client.delete(pod_pb2.Pod, n, "default")
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 10)
        await kubelet.stop()
