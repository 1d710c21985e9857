"""Restart safety: kill -9 the controller-manager (a real subprocess) in the middle of a 20-replica
rolling update; after it comes back the rollout finishes, and a watcher that saw every pod event
throughout confirms there were never more than replicas + maxSurge pods nor fewer than
replicas - maxUnavailable ready ones."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pod_readiness import is_ready, readiness
from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient
from skiff_cluster_fixture import Cluster, eventually
from skiff_common import errors
from skiff_common.apimachinery.intstr import int_or_string

pytestmark = pytest.mark.etcd
NS = "default"
REPLICAS, SURGE, UNAVAILABLE = 20, 5, 5  # 25% / 25% of 20


class ControllerProcess:
    """skiff-controllers as a real process; ``kill9`` and ``start`` again."""

    def __init__(self, target: str, log: Path) -> None:
        self.target = target
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = open(self.log, "ab")  # handed to the child
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "skiff_controllers.main",
                "--apiserver",
                self.target,
                "--leader-elect",
                "false",
                "--controllers",
                "replicaset,deployment",
            ],
            stdout=out,
            stderr=out,
            env={k: v for k, v in os.environ.items() if not k.startswith("SKIFF_")},
        )
        out.close()

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def controllers(apiserver: Cluster, tmp_path: Path) -> Iterator[ControllerProcess]:
    proc = ControllerProcess(apiserver.target, tmp_path / "controllers.log")
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


class Bounds:
    """Follows every pod event of the Deployment and records the extremes."""

    def __init__(self) -> None:
        self.pods: dict[str, pod_pb2.Pod] = {}
        self.max_pods = 0
        self.min_ready = REPLICAS

    def observe(self) -> None:
        live = [p for p in self.pods.values() if not p.metadata.HasField("deletion_timestamp")]
        self.max_pods = max(self.max_pods, len(live))
        self.min_ready = min(self.min_ready, sum(1 for p in live if is_ready(p)))

    async def follow(self, client: ApiClient, app: str) -> None:
        page = await client.list(pod_pb2.Pod, NS, label_selector=f"app={app}")
        self.pods = {p.metadata.name: p for p in page.items}
        self.observe()
        async for ev in client.watch(
            pod_pb2.Pod, NS, label_selector=f"app={app}", resource_version=page.resource_version
        ):
            pod = ev.object
            if ev.type == "DELETED":
                self.pods.pop(pod.metadata.name, None)
            elif ev.type in ("ADDED", "MODIFIED"):
                self.pods[pod.metadata.name] = pod
            self.observe()


async def test_rolling_update_survives_kill_9_of_the_controller_manager(
    client: ApiClient, controllers: ControllerProcess
) -> None:
    app = f"roll-{uuid.uuid4().hex[:6]}"
    d = apps_pb2.Deployment(
        api_version="apps/v1", kind="Deployment", metadata=meta_pb2.ObjectMeta(name=app, namespace=NS)
    )
    d.spec.replicas = REPLICAS
    d.spec.selector.match_labels["app"] = app
    d.spec.template.metadata.labels["app"] = app
    d.spec.template.spec.containers.add(name="c", image="busybox")
    d.spec.strategy.rolling_update.max_surge.CopyFrom(int_or_string("25%"))
    d.spec.strategy.rolling_update.max_unavailable.CopyFrom(int_or_string("25%"))

    async def images_ready(image: str) -> bool:
        pods = (await client.list(pod_pb2.Pod, NS, label_selector=f"app={app}")).items
        live = [p for p in pods if not p.metadata.HasField("deletion_timestamp")]
        return len(live) == REPLICAS and all(is_ready(p) and p.spec.containers[0].image == image for p in live)

    async with readiness(client, per_pass=2, interval=0.2):
        await client.create(d)
        await eventually(lambda: images_ready("busybox"), "20 ready pods", within=120)

        bounds = Bounds()
        follower = asyncio.create_task(bounds.follow(client, app))
        await asyncio.sleep(0.3)
        for _ in range(20):  # the controller writes status concurrently: retry on Conflict
            fresh = await client.get(apps_pb2.Deployment, app, NS)
            fresh.spec.template.spec.containers[0].image = "busybox:1.36"
            try:
                await client.update(fresh)
                break
            except errors.Conflict:
                await asyncio.sleep(0.05)

        async def mid_rollout() -> bool:
            pods = [p for p in bounds.pods.values() if p.spec.containers[0].image == "busybox:1.36"]
            return sum(1 for p in pods if is_ready(p)) >= 4

        await eventually(mid_rollout, "the rollout under way", within=120)
        controllers.kill9()
        await asyncio.sleep(1.0)
        controllers.start()
        await eventually(lambda: images_ready("busybox:1.36"), "rollout finished after the restart", within=180)
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower

    assert bounds.max_pods <= REPLICAS + SURGE, bounds.max_pods
    assert bounds.min_ready >= REPLICAS - UNAVAILABLE, bounds.min_ready
    status = (await client.get(apps_pb2.Deployment, app, NS)).status
    assert status.updated_replicas == REPLICAS
