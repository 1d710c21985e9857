"""Local ephemeral storage limits as tables (Kubernetes' order and messages), `du` on a real directory,
then on real parts (etcd, apiserver, kubelet, skiff-runtime) a pod writing past its emptyDir sizeLimit
and one writing past its container's ephemeral-storage limit are evicted with Kubernetes' messages."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from skiff.api.core.v1 import pod_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually
from skiff_kubelet import labels as L
from skiff_kubelet.app import Kubelet
from skiff_kubelet.eviction.local_storage import PodStorage, du, has_limits, verdict
from test_e2e import busybox_pod, kubelet_config

MI = 1 << 20


def _pod(*, size_limit: str = "", limits: tuple[str, ...] = (), medium: str = "") -> pod_pb2.Pod:
    pod = pod_pb2.Pod()
    vol = pod.spec.volumes.add(name="scratch")
    vol.empty_dir.medium = medium
    if size_limit:
        vol.empty_dir.size_limit.value = size_limit
    for i, limit in enumerate(limits or ("",)):
        c = pod.spec.containers.add(name=f"c{i}")
        if limit:
            c.resources.limits["ephemeral-storage"].value = limit
    return pod


@pytest.mark.parametrize(
    ("pod", "usage", "want"),
    [
        (_pod(), PodStorage(volumes={"scratch": 10 * MI}), None),
        (_pod(size_limit="1Mi"), PodStorage(volumes={"scratch": MI}), None),  # at the limit: kept
        (
            _pod(size_limit="1Mi"),
            PodStorage(volumes={"scratch": 2 * MI}),
            'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". ',
        ),
        (
            _pod(size_limit="1024Ki"),
            PodStorage(volumes={"scratch": 2 * MI}),
            'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". ',
        ),
        (
            _pod(limits=("1Mi",)),
            PodStorage(rootfs={"c0": MI // 2}, logs={"c0": MI // 2 + 1}),
            "Pod ephemeral local storage usage exceeds the total limit of containers 1Mi. ",
        ),
        (  # the emptyDir counts toward the pod's total
            _pod(limits=("1Mi",)),
            PodStorage(volumes={"scratch": MI}, rootfs={"c0": 1}),
            "Pod ephemeral local storage usage exceeds the total limit of containers 1Mi. ",
        ),
        (  # pod total under the sum (2Mi), one container over its own 1Mi
            _pod(limits=("1Mi", "1Mi")),
            PodStorage(rootfs={"c0": MI + MI // 2}),
            'Container c0 exceeded its local ephemeral storage limit "1Mi". ',
        ),
        (  # the sizeLimit is checked first
            _pod(size_limit="1Mi", limits=("1Mi",)),
            PodStorage(volumes={"scratch": 2 * MI}),
            'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". ',
        ),
        (_pod(limits=("2Mi",)), PodStorage(rootfs={"c0": MI}), None),
        (  # medium Memory: its sizeLimit holds, but it is not ephemeral storage of the pod
            _pod(size_limit="1Mi", medium="Memory"),
            PodStorage(memory_volumes={"scratch": 2 * MI}),
            'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". ',
        ),
        (_pod(medium="Memory", limits=("1Mi",)), PodStorage(memory_volumes={"scratch": 2 * MI}), None),
    ],
)
def test_verdict_is_kubernetes_order_and_message(pod: pod_pb2.Pod, usage: PodStorage, want: str | None) -> None:
    assert verdict(pod, usage) == want


def test_only_pods_with_limits_are_measured() -> None:
    assert not has_limits(_pod())
    assert has_limits(_pod(size_limit="1Mi"))
    assert has_limits(_pod(limits=("", "1Gi")))


def test_du_counts_allocated_blocks_once(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "data").write_bytes(os.urandom(2 * MI))
    os.link(tmp_path / "d" / "data", tmp_path / "d" / "again")  # a hard link is not counted twice
    (tmp_path / "d" / "sparse").open("wb").truncate(100 * MI)  # a hole takes no space
    used = du(tmp_path / "d")
    assert 2 * MI <= used < 2 * MI + 64 * 1024
    assert du(tmp_path / "missing") == 0


@pytest.mark.root
@pytest.mark.etcd
async def test_pods_over_their_storage_limits_are_evicted(
    client: ApiClient, apiserver: Any, runtime: Any, tmp_path: Path
) -> None:
    cfg = kubelet_config(apiserver, runtime, tmp_path, eviction_monitoring_interval="0.5s")
    kubelet = Kubelet(cfg)
    await kubelet.start()
    try:
        suffix = uuid.uuid4().hex[:6]
        scratch = busybox_pod(
            f"scratch-{suffix}", "dd if=/dev/zero of=/scratch/fill bs=1024 count=2048 && exec sleep 300"
        )
        vol = scratch.spec.volumes.add(name="cache")
        vol.empty_dir.size_limit.value = "1Mi"
        scratch.spec.containers[0].volume_mounts.add(name="cache", mount_path="/scratch")
        rootfs = busybox_pod(f"rootfs-{suffix}", "dd if=/dev/zero of=/fill bs=1024 count=2048 && exec sleep 300")
        rootfs.spec.containers[0].resources.limits["ephemeral-storage"].value = "1Mi"
        calm = busybox_pod(f"calm-{suffix}", "exec sleep 300")
        calm.spec.containers[0].resources.limits["ephemeral-storage"].value = "1Mi"
        for pod in (scratch, rootfs, calm):
            pod.spec.node_name = cfg.node_name
            await client.create(pod)

        async def evicted(name: str) -> pod_pb2.Pod | None:
            got = await client.get(pod_pb2.Pod, name, "default")
            return got if got.status.reason == "Evicted" else None

        got = await eventually(lambda: evicted(scratch.metadata.name), "the emptyDir pod evicted")
        assert got.status.phase == "Failed"
        assert got.status.message == 'Usage of EmptyDir volume "cache" exceeds the limit "1Mi". '
        got = await eventually(lambda: evicted(rootfs.metadata.name), "the writable-layer pod evicted")
        assert got.status.phase == "Failed"
        assert got.status.message == "Pod ephemeral local storage usage exceeds the total limit of containers 1Mi. "

        async def stopped() -> bool:
            resp = await kubelet.cri.runtime.ListContainers(cri.ListContainersRequest())
            mine = [c for c in resp.containers if c.labels.get(L.POD_UID) == got.metadata.uid]
            return bool(mine) and all(c.state != cri.CONTAINER_RUNNING for c in mine)

        await eventually(stopped, "the evicted pod's containers stopped")

        async def calm_running() -> bool:
            return (await client.get(pod_pb2.Pod, calm.metadata.name, "default")).status.phase == "Running"

        await eventually(calm_running, "the pod under its limit running")
        await kubelet.eviction.synchronize()  # one more round: the pod under its limit stays
        assert await calm_running()
        for pod in (scratch, rootfs, calm):
            await client.delete(pod_pb2.Pod, pod.metadata.name, "default")
    finally:
        await kubelet.stop()
