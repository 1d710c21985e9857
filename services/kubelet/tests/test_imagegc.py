"""Image garbage collection: the policy flags as a table (Kubernetes' validation), then on real parts
(etcd, apiserver, kubelet, skiff-runtime) a kubelet whose thresholds are set from the image filesystem's
real measured usage, so that collection must run, removes the unused image, keeps the images a running
and a stopped container use, and reports FreeDiskSpaceFailed when the unused images are not enough."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from runtime_fixture import BIN, REPO
from skiff.api.core.v1 import event_pb2, pod_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually
from skiff_kubelet.app import Kubelet
from skiff_kubelet.config import KubeletConfig
from skiff_kubelet.imagegc.manager import ImageRecord, eviction_order
from skiff_kubelet.imagegc.policy import ImageGCPolicy
from test_e2e import busybox_pod, kubelet_config


def test_defaults_are_the_kubelets() -> None:
    cfg = KubeletConfig()
    assert cfg.image_gc_policy() == ImageGCPolicy(85, 80, 120.0, 0.0)


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"image_gc_high_threshold": 101}, "--image-gc-high-threshold: 101 must be between 0 and 100"),
        ({"image_gc_low_threshold": -1}, "--image-gc-low-threshold: -1 must be between 0 and 100"),
        ({"image_gc_low_threshold": 85}, "--image-gc-low-threshold: 85 must be less than --image-gc-high-threshold"),
        ({"image_minimum_gc_age": "soon"}, "--image-minimum-gc-age: invalid duration"),
        (
            {"image_maximum_gc_age": "1m"},
            "--image-maximum-gc-age: 60s must be greater than --image-minimum-gc-age (120s)",
        ),
    ],
)
def test_bad_flags_name_the_flag(settings: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match="^" + error.replace("(", r"\(").replace(")", r"\)")):
        KubeletConfig(**settings).validate()


def test_eviction_order_is_least_recently_used_then_first_detected() -> None:
    images = {
        "in-use": ImageRecord(first_detected=1, last_used=50),
        "used-late": ImageRecord(first_detected=1, last_used=40),
        "used-early": ImageRecord(first_detected=5, last_used=10),
        "never-new": ImageRecord(first_detected=9),
        "never-old": ImageRecord(first_detected=2),
    }
    order = [i for i, _ in eviction_order(images, {"in-use"})]
    assert order == ["never-old", "never-new", "used-early", "used-late"]


def _import_variant(runtime: Any, tmp_path: Path, ref: str, epoch: int) -> None:
    """A distinct busybox image (other timestamps, so other digests) imported into the running runtime."""
    layout = tmp_path / f"layout-{epoch}"
    build = REPO / "scripts" / "images" / "build-busybox-image.py"
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}
    subprocess.run([sys.executable, str(build), str(layout)], check=True, capture_output=True, env=env)
    state = str(runtime.tmp / "rt-state")
    cmd = [str(BIN / "skiff-runtime"), "import", "--state-root", state, "--ref", ref, str(layout)]
    subprocess.run(cmd, check=True, capture_output=True)


def _collected() -> float:
    return REGISTRY.get_sample_value("kubelet_image_garbage_collected_total", {"reason": "space"}) or 0.0


async def _tags(kubelet: Kubelet) -> set[str]:
    images = (await kubelet.cri.images.ListImages(cri.ListImagesRequest())).images
    return {t for i in images for t in i.repo_tags}


@pytest.mark.root
@pytest.mark.etcd
async def test_gc_removes_the_unused_image_and_keeps_used_ones(
    client: ApiClient, apiserver: Any, runtime: Any, tmp_path: Path
) -> None:
    _import_variant(runtime, tmp_path, "unused:1", 1)
    _import_variant(runtime, tmp_path, "stopped:1", 2)
    base = kubelet_config(apiserver, runtime, tmp_path, image_gc_high_threshold=100)  # type: ignore[arg-type]
    first = Kubelet(base)  # runs the pods; image GC off (high threshold 100)
    await first.start()
    suffix = uuid.uuid4().hex[:6]
    running = busybox_pod(f"running-{suffix}", "exec sleep 300")
    stopped = busybox_pod(f"stopped-{suffix}", "true", restart_policy="Never")
    stopped.spec.containers[0].image = "stopped:1"
    try:
        for pod in (running, stopped):
            pod.spec.node_name = base.node_name
            await client.create(pod)

        async def phases() -> bool:
            got = [(await client.get(pod_pb2.Pod, p.metadata.name, "default")).status.phase for p in (running, stopped)]
            return got == ["Running", "Succeeded"]

        await eventually(phases, "one pod running, one succeeded")
    finally:
        await first.stop()

    # Thresholds from the real usage of the runtime's image filesystem: usage is above high, so GC must run.
    st = os.statvfs(runtime.tmp / "rt-state")
    usage = 100 - st.f_bavail * 100 // st.f_blocks
    high = max(int(usage) - 2, 1)
    removed_before = _collected()
    cfg = kubelet_config(
        apiserver, runtime, tmp_path, node_name=base.node_name, image_gc_high_threshold=high,
        image_gc_low_threshold=high - 1, image_minimum_gc_age="0s", image_gc_period="0.5s",
    )  # type: ignore[arg-type]  # fmt: skip
    second = Kubelet(cfg)
    await second.start()
    try:

        async def collected() -> set[str] | None:
            tags = await _tags(second)
            return tags if "docker.io/library/unused:1" not in tags else None

        tags = await eventually(collected, "the unused image removed")
        assert {"docker.io/library/busybox:latest", "docker.io/library/stopped:1"} <= tags
        assert _collected() >= removed_before + 1
        # Kept by the kubelet's own bookkeeping, not only by the runtime refusing to remove them: both are
        # in use (never GC candidates), the one of the stopped container included.
        images = (await second.cri.images.ListImages(cri.ListImagesRequest())).images
        in_use = await second.image_gc.detect(time.time())
        assert {i.id for i in images} == in_use

        async def failed_event() -> event_pb2.Event | None:
            for e in (await client.list(event_pb2.Event)).items:
                if e.involved_object.name == cfg.node_name and e.reason == "FreeDiskSpaceFailed":
                    return e
            return None

        event = await eventually(failed_event, "FreeDiskSpaceFailed on the node")  # a few MiB freed, not ~1 %
        assert event.message.startswith("Failed to garbage collect required amount of images. Attempted to free")
        assert event.involved_object.kind == "Node"
        for pod in (running, stopped):
            await client.delete(pod_pb2.Pod, pod.metadata.name, "default")
    finally:
        await second.stop()


@pytest.mark.root
@pytest.mark.etcd
async def test_disk_pressure_reclaims_images_before_evicting(
    client: ApiClient, apiserver: Any, runtime: Any, tmp_path: Path
) -> None:
    _import_variant(runtime, tmp_path, "unused:1", 1)
    base = kubelet_config(apiserver, runtime, tmp_path)
    first = Kubelet(base)  # runs the pod, so that its image is in use before any pressure
    await first.start()
    pod = busybox_pod(f"victim-{uuid.uuid4().hex[:6]}", "exec sleep 300")
    try:
        pod.spec.node_name = base.node_name
        await client.create(pod)

        async def running() -> bool:
            return (await client.get(pod_pb2.Pod, pod.metadata.name, "default")).status.phase == "Running"

        await eventually(running, "the pod running")
    finally:
        await first.stop()
    st = os.statvfs(tmp_path)
    available = st.f_bavail * st.f_frsize
    cfg = kubelet_config(
        apiserver, runtime, tmp_path, node_name=base.node_name,
        eviction_hard=f"nodefs.available<{available + (1 << 30)}",  # the real free space plus 1Gi: always met
        eviction_monitoring_interval="0.5s", image_gc_high_threshold=100, image_minimum_gc_age="0s",
    )  # type: ignore[arg-type]  # fmt: skip
    kubelet = Kubelet(cfg)
    await kubelet.start()
    try:

        async def evicted() -> pod_pb2.Pod | None:
            got = await client.get(pod_pb2.Pod, pod.metadata.name, "default")
            return got if got.status.reason == "Evicted" else None

        got = await eventually(evicted, "the pod evicted under DiskPressure")
        assert got.status.message.startswith("The node was low on resource: ephemeral-storage.")
        tags = await _tags(kubelet)  # reclaimed in the rounds before the eviction; the pod's image kept
        assert "docker.io/library/unused:1" not in tags
        assert "docker.io/library/busybox:latest" in tags
        await client.delete(pod_pb2.Pod, pod.metadata.name, "default")
    finally:
        await kubelet.stop()
