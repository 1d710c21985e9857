"""Stopping pods: containers first (in parallel, each with the grace period), then sandboxes.

Used for graceful deletion, terminal pods, replaced sandboxes and orphans. NotFound is success here:
whatever we wanted gone is gone, and another worker (or the runtime) may have been faster.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from skiff.api.core.v1 import pod_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_client import CriClient
from skiff_client.cri import call
from skiff_common import errors

from skiff_kubelet import volumes
from skiff_kubelet.pod_cgroups import remove_pod_cgroup
from skiff_kubelet.runtime_state import PodRuntime

DEFAULT_GRACE = 30


def grace_seconds(pod: pod_pb2.Pod) -> int:
    if pod.metadata.HasField("deletion_grace_period_seconds"):
        return pod.metadata.deletion_grace_period_seconds
    if pod.spec.HasField("termination_grace_period_seconds"):
        return pod.spec.termination_grace_period_seconds
    return DEFAULT_GRACE


async def kill_sandboxes(cri_client: CriClient, rt: PodRuntime, grace: int, *, remove: bool = True) -> None:
    """Stop every running container (in parallel, each with the grace period), then every sandbox;
    ``remove`` also removes the sandboxes (and with them the containers). A finished pod is only
    stopped, so its exited containers (and their logs) stay until the pod is deleted."""
    running = [
        s.id
        for items in rt.containers.values()
        for s in items
        if s.state in (cri.CONTAINER_RUNNING, cri.CONTAINER_CREATED)
    ]

    async def stop(cid: str) -> None:
        try:
            await call(cri_client.runtime.StopContainer(cri.StopContainerRequest(container_id=cid, timeout=grace)))
        except errors.NotFound:
            pass

    await asyncio.gather(*(stop(cid) for cid in running))
    for sb in rt.sandboxes:
        try:
            if sb.state == cri.SANDBOX_READY or remove:
                await call(cri_client.runtime.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sb.id)))
            if remove:
                await call(cri_client.runtime.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sb.id)))
        except errors.NotFound:
            pass


def remove_pod_files(root_dir: str, pod_log_dir: str, rt: PodRuntime, uid: str, cgroup_root: str) -> None:
    """Volumes, log directories and the pod cgroup of a pod that is gone for good."""
    volumes.teardown(root_dir, uid)
    remove_pod_cgroup(cgroup_root, uid)
    for sb in rt.sandboxes:
        m = sb.metadata
        shutil.rmtree(Path(pod_log_dir) / f"{m.namespace}_{m.name}_{m.uid}", ignore_errors=True)
