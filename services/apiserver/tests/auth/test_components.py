"""Control-plane components under RBAC with nothing but their namesake's default role: the real
skiff-scheduler process, holding a certificate for `system:kube-scheduler`, schedules and binds a pod
through a Node,RBAC apiserver, and is refused what its role does not give."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from rbac_helpers import attempt, create
from skiff.api.core.v1 import node_pb2, pod_pb2
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff_apiserver.machinery import kinds

BIN = Path(sys.executable).parent


def _node(name: str) -> node_pb2.Node:
    n = node_pb2.Node()
    n.metadata.name = name
    n.status.conditions.add(type="Ready", status="True")
    for k, v in (("cpu", "4"), ("memory", "8Gi"), ("pods", "110")):
        n.status.allocatable[k].value = v
        n.status.capacity[k].value = v
    return n


async def test_scheduler_works_with_its_default_role(secure, tmp_path: Path) -> None:
    admin = secure.as_user("kubernetes-admin", ("system:masters",))
    await create(admin, _node("n1"))
    tls = secure.cert("system:kube-scheduler")
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "skiff-scheduler"), "--apiserver", secure.target, "--tls-ca-file", tls.ca_file,
        "--tls-cert-file", tls.cert_file, "--tls-key-file", tls.key_file,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        p = pod_pb2.Pod()
        p.metadata.name, p.metadata.namespace = "web", "default"
        p.spec.containers.add(name="c", image="busybox")
        await create(admin, p)
        bound: Any = None
        for _ in range(600):
            got = await admin.Get(pb.GetRequest(resource="pods", namespace="default", name="web"))
            bound = kinds.unpack(got.object)
            if bound.spec.node_name:
                break
            await asyncio.sleep(0.1)
        if bound.spec.node_name != "n1":
            proc.terminate()
            out, _ = await proc.communicate()
            raise AssertionError(f"the pod was not bound; the scheduler said:\n{out.decode()[-2000:]}")
        # ... and nothing beyond its role: it reads no Secrets and writes no Nodes
        scheduler = secure.as_user("system:kube-scheduler")
        assert not (await attempt(scheduler.List(pb.ListRequest(resource="secrets"))))[0]
        assert not (await attempt(scheduler.Delete(pb.DeleteRequest(resource="nodes", name="n1"))))[0]
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.communicate()
