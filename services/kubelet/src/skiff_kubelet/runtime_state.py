"""A snapshot of what the runtime runs for one pod, read from the CRI and tied to it by the pod-uid label.

The kubelet keeps no state of its own about containers: the PLEG (``pleg.py``) rebuilds these snapshots
from the runtime, so a restarted kubelet simply "adopts" whatever the runtime still runs (and a
container that died while the kubelet was down is noticed on the first relist).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_client.cri import CriClient, call
from skiff_common import errors

from skiff_kubelet import labels as L


@dataclass
class PodRuntime:
    sandboxes: list[cri.PodSandbox] = field(default_factory=list)  # newest first
    sandbox: cri.PodSandboxStatus | None = None  # status of the newest READY sandbox
    # container name -> statuses, newest attempt first (across all sandboxes of the pod)
    containers: dict[str, list[cri.ContainerStatus]] = field(default_factory=dict)

    def latest(self, name: str) -> cri.ContainerStatus | None:
        items = self.containers.get(name)
        return items[0] if items else None

    def previous(self, name: str) -> cri.ContainerStatus | None:
        items = self.containers.get(name)
        return items[1] if items and len(items) > 1 else None

    @property
    def sandbox_id(self) -> str:
        return self.sandbox.id if self.sandbox is not None else ""

    def pod_ips(self) -> list[str]:
        if self.sandbox is None or not self.sandbox.network.ip:
            return []
        return [self.sandbox.network.ip] + [ip.ip for ip in self.sandbox.network.additional_ips]

    def all_container_ids(self) -> list[str]:
        return [s.id for items in self.containers.values() for s in items]


async def pod_runtime(client: CriClient, uid: str) -> PodRuntime:
    """Read one pod's runtime state straight from the CRI (for on-demand requests such as logs; pod
    syncs read the PLEG's cache instead)."""
    sb_resp = await call(
        client.runtime.ListPodSandbox(
            cri.ListPodSandboxRequest(filter=cri.PodSandboxFilter(label_selector={L.POD_UID: uid}))
        )
    )
    c_resp = await call(
        client.runtime.ListContainers(
            cri.ListContainersRequest(filter=cri.ContainerFilter(label_selector={L.POD_UID: uid}))
        )
    )
    return await inspect_pod(client, list(sb_resp.items), list(c_resp.containers))


async def inspect_pod(
    client: CriClient, sandboxes: Sequence[cri.PodSandbox], containers: Sequence[cri.Container]
) -> PodRuntime:
    """The full status of one pod's listed sandboxes and containers: PodSandboxStatus of the newest
    READY sandbox (for its IPs) and ContainerStatus of each container (exit codes, times, reasons)."""
    rt = PodRuntime()
    rt.sandboxes = sorted(sandboxes, key=lambda s: (s.metadata.attempt, s.created_at), reverse=True)
    ready = [s for s in rt.sandboxes if s.state == cri.SANDBOX_READY]
    if ready:
        try:
            resp = await call(client.runtime.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=ready[0].id)))
            rt.sandbox = resp.status
        except errors.NotFound:
            rt.sandbox = None

    async def status(cid: str) -> cri.ContainerStatus | None:
        try:
            resp = await call(client.runtime.ContainerStatus(cri.ContainerStatusRequest(container_id=cid)))
        except errors.NotFound:
            return None  # removed between list and status
        st: cri.ContainerStatus = resp.status
        return st

    statuses = await asyncio.gather(*(status(c.id) for c in containers))
    for st in statuses:
        if st is None:
            continue
        rt.containers.setdefault(st.metadata.name, []).append(st)
    for items in rt.containers.values():
        items.sort(key=lambda s: (s.metadata.attempt, s.created_at), reverse=True)
    return rt
