"""A secret volume's tmpfs across a kubelet killed with SIGKILL, on real parts: etcd + apiserver, the real
skiff-runtime, and the kubelet as its own process (so it can be killed as a crash kills it).

The running container is bound to the tmpfs the first kubelet mounted. The second kubelet must find
that tmpfs (``/proc/self/mountinfo``) and refresh the secret inside it, so the container, never
restarted, reads the new value; deleting the pod then leaves no mount below the kubelet's root."""

# ruff: noqa: ASYNC240 - blocking checks of tiny local files and mountinfo are fine in a test

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from skiff.api.core.v1 import config_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually, gone
from skiff_common import errors
from skiff_kubelet import tmpfs
from skiff_kubelet.app import Kubelet
from test_e2e import busybox_pod, kubelet_config

pytestmark = [pytest.mark.root, pytest.mark.etcd]

# Prints what it reads; exits once on the refreshed value, so the new kubelet starts a new container
# (setting the volumes up again: the tmpfs it finds must be reused, not stacked).
SCRIPT = """while true; do
  t=$(cat /secret/token); echo "token=$t fs=$(stat -f -c %T /secret)"
  if [ "$t" = two ] && [ ! -e /scratch/exited ]; then touch /scratch/exited; exit 1; fi
  sleep 0.3
done"""


def start_kubelet(apiserver: Any, runtime: Any, tmp_path: Path, node: str) -> subprocess.Popen[bytes]:
    flags = {
        "node-name": node,
        "apiserver": apiserver.target,
        "runtime-endpoint": runtime.endpoint,
        "pod-cidr": runtime.pod_cidr,
        "cgroup-root": runtime.cgroup_root,
        "listen": "127.0.0.1:0",
        "metrics-address": "127.0.0.1:0",
        "healthz-address": "127.0.0.1:0",
        "root-dir": str(tmp_path / "kubelet"),
        "pod-log-dir": str(tmp_path / "pods"),
        "node-status-interval": "1s",
        "sync-frequency": "1s",
        "relist-period": "0.3s",
        "crash-loop-backoff": "1s",
    }
    log = (tmp_path / "kubelet.log").open("ab")
    argv = [sys.executable, "-m", "skiff_kubelet.main", *(f"--{k}={v}" for k, v in flags.items())]
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)


async def _delete_quietly(client: ApiClient, name: str) -> None:
    """A failed test still removes its pod (the kubelet tears it down while it runs)."""
    try:
        await client.delete(pod_pb2.Pod, name, "default", grace_period_seconds=0)
    except errors.NotFound:
        pass


def _mounts_below(folder: Path) -> list[str]:
    return [p for p, _ in tmpfs.mount_points() if p.startswith(os.path.realpath(folder) + "/")]


async def _unmounted(folder: Path) -> bool:
    return not _mounts_below(folder)


async def _pod_with_secret(client: ApiClient, prefix: str, script: str, **spec: Any) -> pod_pb2.Pod:
    """A Secret `sec-<suffix>` (token=one) and a busybox pod `<prefix>-<suffix>` mounting it at /secret
    (not created yet: the caller may add to it)."""
    suffix = uuid.uuid4().hex[:6]
    meta = meta_pb2.ObjectMeta(name=f"sec-{suffix}", namespace="default")
    await client.create(config_pb2.Secret(api_version="v1", kind="Secret", data={"token": b"one"}, metadata=meta))
    pod = busybox_pod(f"{prefix}-{suffix}", script, **spec)
    pod.spec.volumes.add(name="sec").secret.secret_name = meta.name
    pod.spec.containers[0].volume_mounts.add(name="sec", mount_path="/secret", read_only=True)
    return pod


async def test_a_killed_kubelet_refreshes_the_secret_in_the_tmpfs_it_finds(
    client: ApiClient, apiserver: Any, runtime: Any, tmp_path: Path
) -> None:
    node = f"node-{uuid.uuid4().hex[:6]}"
    pod = await _pod_with_secret(client, "tmpfs", SCRIPT, node_name=node)
    name, secret = pod.metadata.name, pod.spec.volumes[0].secret.secret_name
    pod.spec.volumes.add(name="scratch").empty_dir.SetInParent()
    pod.spec.containers[0].volume_mounts.add(name="scratch", mount_path="/scratch")
    root = tmp_path / "kubelet"
    kubelet = start_kubelet(apiserver, runtime, tmp_path, node)
    try:
        created = await client.create(pod)
        volume = root / "pods" / created.metadata.uid / "volumes" / "secret" / "sec"
        logs = tmp_path / "pods" / f"default_{name}_{created.metadata.uid}" / "main"

        def said(text: str) -> bool:
            return any(text in f.read_text() for f in logs.glob("*.log")) if logs.is_dir() else False

        async def first_value() -> bool:
            return said("token=one fs=tmpfs")

        await eventually(first_value, "the container reads the secret from a tmpfs", within=60)
        kubelet.send_signal(signal.SIGKILL)  # a crash: nothing is unmounted
        kubelet.wait()
        assert tmpfs.fs_type(volume) == "tmpfs"

        kubelet = start_kubelet(apiserver, runtime, tmp_path, node)
        current = await client.get(config_pb2.Secret, secret, "default")
        current.data["token"] = b"two"
        await client.update(current)

        async def refreshed() -> bool:
            return said("token=two fs=tmpfs")

        await eventually(refreshed, "the running container reads the refreshed secret", within=90)

        async def restarted() -> bool:
            st = (await client.get(pod_pb2.Pod, name, "default")).status.container_statuses
            return bool(st) and st[0].restart_count == 1 and st[0].state.HasField("running")

        await eventually(restarted, "the container started again by the new kubelet", within=90)

        async def new_container_reads() -> bool:
            first_log = logs / "1.log"
            return first_log.exists() and "token=two fs=tmpfs" in first_log.read_text()

        await eventually(new_container_reads, "the new container reads the secret from the tmpfs")
        assert sum(1 for p, _ in tmpfs.mount_points() if p == os.path.realpath(volume)) == 1  # none stacked
        assert (volume / "token").read_bytes() == b"two"

        await client.delete(pod_pb2.Pod, name, "default")

        await gone(client, pod_pb2.Pod, name)
        await eventually(lambda: _unmounted(root), "its tmpfs unmounted")
    finally:
        await _delete_quietly(client, name)
        await client.delete(config_pb2.Secret, secret, "default")
        kubelet.terminate()
        await asyncio.to_thread(kubelet.wait)
    assert _mounts_below(root) == []


async def test_housekeeping_unmounts_the_folders_of_pods_gone_while_it_was_down(
    client: ApiClient, apiserver: Any, runtime: Any, tmp_path: Path
) -> None:
    """A pod deleted while its kubelet was down (its sandbox gone too) left its folder and tmpfs behind:
    housekeeping removes them, and keeps the folder of a pod that still runs."""
    cfg = kubelet_config(apiserver, runtime, tmp_path, sync_frequency="1s")
    root = Path(cfg.root_dir)
    orphan = root / "pods" / f"gone-{uuid.uuid4().hex[:6]}" / "volumes" / "secret" / "sec"
    tmpfs.ensure(orphan, 1 << 20)
    (orphan / "token").write_text("left behind")
    k = Kubelet(cfg)
    await k.start()
    pod = await _pod_with_secret(client, "live", "exec sleep 300", node_name=cfg.node_name)
    name, secret = pod.metadata.name, pod.spec.volumes[0].secret.secret_name
    try:
        created = await client.create(pod)
        live = root / "pods" / created.metadata.uid / "volumes" / "secret" / "sec"

        async def running() -> bool:
            return (await client.get(pod_pb2.Pod, name, "default")).status.phase == "Running"

        await eventually(running, "the live pod Running")
        await k.workers.housekeeping_once()
        assert not orphan.parents[2].exists() and _mounts_below(orphan.parents[2]) == []
        assert tmpfs.fs_type(live) == "tmpfs" and (live / "token").read_text() == "one"
        await client.delete(pod_pb2.Pod, name, "default")

        await gone(client, pod_pb2.Pod, name)
        await eventually(lambda: _unmounted(root), "its tmpfs unmounted")
    finally:
        await _delete_quietly(client, name)
        await k.stop()
        await client.delete(config_pb2.Secret, secret, "default")


async def test_a_finished_pods_secret_leaves_memory_before_the_pod_is_deleted(
    client: ApiClient, apiserver: Any, runtime: Any, tmp_path: Path
) -> None:
    """Kubernetes tears a terminated pod's volumes down without waiting for its deletion:
    the tmpfs goes when the containers stop, the pod and its logs stay until deletion."""
    cfg = kubelet_config(apiserver, runtime, tmp_path, sync_frequency="1s")
    root = Path(cfg.root_dir)
    k = Kubelet(cfg)
    await k.start()
    script = 'echo "fs=$(stat -f -c %T /secret)"'
    pod = await _pod_with_secret(client, "done", script, node_name=cfg.node_name, restart_policy="Never")
    name, secret = pod.metadata.name, pod.spec.volumes[0].secret.secret_name
    try:
        created = await client.create(pod)
        logs = tmp_path / "pods" / f"default_{name}_{created.metadata.uid}" / "main" / "0.log"

        async def released() -> bool:
            p = await client.get(pod_pb2.Pod, name, "default")
            return p.status.phase == "Succeeded" and not _mounts_below(root)

        await eventually(released, "the pod Succeeded and its tmpfs released")
        assert "fs=tmpfs" in logs.read_text()  # it did run on a tmpfs, and its log is kept
        assert not (root / "pods" / created.metadata.uid / "volumes" / "secret" / "sec").exists()
    finally:
        await _delete_quietly(client, name)
        await k.stop()
        await client.delete(config_pb2.Secret, secret, "default")
