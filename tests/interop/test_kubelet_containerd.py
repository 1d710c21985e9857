"""Our kubelet against containerd's CRI (Debian containerd 1.6 + runc), not against skiff-runtime.

Real parts only: etcd and the apiserver in-process (skiff-client's shared fixtures), the kubelet
in-process, containerd as its own process with a private config (``containerd.py``). The pod is bound
to the node directly (spec.nodeName), so no scheduler is involved: what is tested is the kubelet's CRI
usage. Skipped when containerd is not installed.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from cgroup_tree import cgroup_hierarchies
from containerd import Containerd
from skiff.api.core.v1 import node_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff.cri.runtime.v1 import api_pb2_grpc
from skiff.kubelet.v1 import kubelet_pb2 as kpb
from skiff.kubelet.v1 import kubelet_pb2_grpc
from skiff_client import ApiClient
from skiff_cluster_fixture import apiserver, client, etcd, eventually, gone  # noqa: F401 - fixtures
from skiff_kubelet.app import Kubelet
from skiff_kubelet.config import KubeletConfig

pytestmark = [pytest.mark.root, pytest.mark.etcd]


@pytest.fixture
async def kubelet(
    client: ApiClient,  # noqa: F811 - fixture
    apiserver: Any,  # noqa: F811 - fixture
    containerd: Containerd,
    cgroup_root: str,
    tmp_path: Path,
) -> AsyncIterator[Kubelet]:
    cfg = KubeletConfig(
        node_name=f"interop-{uuid.uuid4().hex[:6]}",
        apiserver=apiserver.target,
        runtime_endpoint=containerd.endpoint,
        pod_cidr=containerd.subnet,
        cgroup_root=cgroup_root,
        listen="127.0.0.1:0",
        root_dir=str(tmp_path / "kubelet"),
        pod_log_dir=str(tmp_path / "pods"),
        node_status_interval="1s",
        relist_period="0.3s",
        sync_frequency="5s",
    )
    k = Kubelet(cfg)
    await k.start()
    try:
        yield k
    finally:
        await k.stop()


async def test_kubelet_runs_a_pod_on_containerd(
    client: ApiClient,  # noqa: F811 - fixture
    kubelet: Kubelet,
    containerd: Containerd,
    cgroup_root: str,
) -> None:
    node_name = kubelet.cfg.node_name

    async def node_ready() -> node_pb2.Node | None:
        node = await client.get(node_pb2.Node, node_name)
        ready = {c.type: c.status for c in node.status.conditions}.get("Ready")
        return node if ready == "True" else None

    node = await eventually(node_ready, "node Ready on containerd")
    assert "containerd" in node.status.node_info.container_runtime_version

    name = f"hello-{uuid.uuid4().hex[:6]}"
    pod = pod_pb2.Pod(api_version="v1", kind="Pod", metadata=meta_pb2.ObjectMeta(name=name, namespace="default"))
    pod.spec.node_name = node_name
    pod.spec.termination_grace_period_seconds = 1
    c = pod.spec.containers.add(
        name="main", image="busybox:latest", command=["sh", "-c", 'echo "$GREETING from $HOSTNAME"; exec sleep 300']
    )
    c.image_pull_policy = "IfNotPresent"  # the image is imported; containerd has no registry to pull from
    c.env.add(name="GREETING", value="hello")
    await client.create(pod)

    async def running() -> pod_pb2.Pod | None:
        p = await client.get(pod_pb2.Pod, name, "default")
        return p if p.status.phase == "Running" and p.status.pod_ip else None

    pod = await eventually(running, "pod Running on containerd")
    assert ipaddress.ip_address(pod.status.pod_ip) in ipaddress.ip_network(containerd.subnet)
    status = pod.status.container_statuses[0]
    assert status.ready and status.state.running.started_at.seconds

    async with grpc.aio.insecure_channel(f"127.0.0.1:{kubelet.port}") as ch:
        stub = kubelet_pb2_grpc.KubeletStub(ch)

        async def logs() -> list[bytes]:
            request = kpb.ContainerLogsRequest(namespace="default", pod=name)
            return [r.line async for r in stub.ContainerLogs(request)]

        lines = await eventually(logs, "the pod's log")
        assert lines == [f"hello from {name}".encode()]
        out = await stub.Exec(kpb.ExecRequest(namespace="default", pod=name, command=["hostname"], timeout_seconds=10))
        assert (out.exit_code, out.stdout) == (0, f"{name}\n".encode())

    # containerd sees the same pod: one ready sandbox with the pod's IP, one running container.
    async with grpc.aio.insecure_channel(containerd.endpoint) as ch:
        crictl = api_pb2_grpc.RuntimeServiceStub(ch)
        sandboxes = (await crictl.ListPodSandbox(cri.ListPodSandboxRequest())).items
        assert [(s.metadata.name, s.state) for s in sandboxes] == [(name, cri.SANDBOX_READY)]
        sb = await crictl.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=sandboxes[0].id))
        assert sb.status.network.ip == pod.status.pod_ip
        containers = (await crictl.ListContainers(cri.ListContainersRequest())).containers
        assert [(x.metadata.name, x.state) for x in containers] == [("main", cri.CONTAINER_RUNNING)]
        # As Kubernetes writes it: the runtime's CRI runtime_name, then containerd's own id.
        assert status.container_id == f"containerd://{containers[0].id}"

        await client.delete(pod_pb2.Pod, name, "default")

        await gone(client, pod_pb2.Pod, name)

        async def no_sandbox_left() -> bool:
            left = (await crictl.ListPodSandbox(cri.ListPodSandboxRequest())).items
            return not left and not (await crictl.ListContainers(cri.ListContainersRequest())).containers

        await eventually(no_sandbox_left, "containerd to have no sandbox and no container left")

    # containerd removed the container cgroups; the pod's own cgroup is the kubelet's to remove.
    async def no_pod_cgroup_left() -> bool:
        return not [d for h in cgroup_hierarchies() for d in (h / cgroup_root).glob(f"pod{pod.metadata.uid}")]

    await eventually(no_pod_cgroup_left, "the kubelet to remove the pod's cgroup")
