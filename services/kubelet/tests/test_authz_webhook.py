"""--authorization-mode=Webhook end to end: a real apiserver (Node,RBAC on real etcd) answers the
kubelet's SubjectAccessReviews, sent with the kubelet's own system:node certificate; callers of the
kubelet API present certificates with Kubernetes' identities. The runtime is absent on purpose: an
allowed caller gets past authorization to the pod lookup (NOT_FOUND), a refused one never gets there
(PERMISSION_DENIED)."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import grpc
import pytest
from skiff.kubelet.v1 import kubelet_pb2 as kpb
from skiff.kubelet.v1 import kubelet_pb2_grpc
from skiff_common.grpcutil import TLSConfig, create_channel
from skiff_common.tls import ensure_cluster_pki
from skiff_kubelet.app import Kubelet
from skiff_kubelet.config import KubeletConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "apiserver" / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "apiserver" / "tests" / "auth"))

from authz_testlib import SecureCluster, start_secure
from rbac_helpers import binding, create, create_seen, role, rule

pytestmark = pytest.mark.etcd
MASTERS = ("system:masters",)


async def _code(kubelet_port: int, tls: TLSConfig, call: str = "Exec") -> tuple[grpc.StatusCode, str]:
    async with create_channel(f"127.0.0.1:{kubelet_port}", tls=tls) as ch:
        stub = kubelet_pb2_grpc.KubeletStub(ch)
        try:
            if call == "Exec":
                await stub.Exec(kpb.ExecRequest(namespace="default", pod="nope", command=["true"]))
            else:
                async for _ in stub.ContainerLogs(kpb.ContainerLogsRequest(namespace="default", pod="nope")):
                    pass
        except grpc.aio.AioRpcError as err:
            return err.code(), err.details() or ""
    return grpc.StatusCode.OK, ""


def _kubelet(cluster: SecureCluster, tmp: Path, node: str, **overrides: str) -> Kubelet:
    client = cluster.cert(f"system:node:{node}", ("system:nodes",))
    serving = ensure_cluster_pki(cluster.pki, components=["kubelet"])["kubelet"]
    cfg = KubeletConfig(
        node_name=node,
        apiserver=cluster.target,
        tls_ca_file=client.ca_file,
        tls_cert_file=client.cert_file,
        tls_key_file=client.key_file,
        tls_serving_cert_file=serving.cert_file,
        tls_serving_key_file=serving.key_file,
        runtime_endpoint=f"unix://{tmp}/none.sock",
        listen="127.0.0.1:0",
        root_dir=str(tmp / "k"),
        pod_log_dir=str(tmp / "logs"),
        authorization_mode="Webhook",
        **overrides,
    )
    return Kubelet(cfg)


async def test_webhook_mode_asks_the_apiserver_about_each_caller(etcd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cluster = await start_secure(etcd.endpoint, tmp_path)
    node = f"authz-{uuid.uuid4().hex[:6]}"
    kubelet = _kubelet(cluster, tmp_path, node)
    try:
        await kubelet.start()
        admin = cluster.as_user("kubernetes-admin", MASTERS)
        # alice may proxy to nodes (exec, logs...); bob may only read their metrics
        await create(admin, role("node-proxier-test", "", rule(["*"], [""], ["nodes/proxy"]), cluster=True))
        await create_seen(
            cluster,
            admin,
            binding("alice-proxy", "", "ClusterRole", "node-proxier-test", ("User", "alice"), cluster=True),
        )
        await create(admin, role("node-metrics-test", "", rule(["get"], [""], ["nodes/metrics"]), cluster=True))
        await create_seen(
            cluster,
            admin,
            binding("bob-metrics", "", "ClusterRole", "node-metrics-test", ("User", "bob"), cluster=True),
        )

        scheduler = cluster.cert("system:kube-scheduler")
        code, details = await _code(kubelet.port, scheduler)
        assert code == grpc.StatusCode.PERMISSION_DENIED
        assert details == "Forbidden (user=system:kube-scheduler, verb=create, resource=nodes, subresource=proxy)"
        code, details = await _code(kubelet.port, scheduler, "ContainerLogs")
        assert (code, details) == (
            grpc.StatusCode.PERMISSION_DENIED,
            "Forbidden (user=system:kube-scheduler, verb=get, resource=nodes, subresource=proxy)",
        )
        # another node's kubelet may not exec into this node's pods either
        other = cluster.cert("system:node:elsewhere", ("system:nodes",))
        assert (await _code(kubelet.port, other))[0] == grpc.StatusCode.PERMISSION_DENIED
        assert (await _code(kubelet.port, cluster.cert("bob")))[0] == grpc.StatusCode.PERMISSION_DENIED
        # metrics-server's role reads nodes/metrics, never nodes/proxy
        metrics_server = cluster.cert(
            "system:serviceaccount:kube-system:metrics-server",
            ("system:serviceaccounts", "system:serviceaccounts:kube-system"),
        )
        assert (await _code(kubelet.port, metrics_server))[0] == grpc.StatusCode.PERMISSION_DENIED

        # the apiserver's kubelet client (skiff exec/logs/port-forward) and alice get through to the lookup
        # (with system:masters as Skiff's PKI issues it, and without, by kubeadm's kubelet-api-admin binding)
        apiserver_client = cluster.cert("kube-apiserver-kubelet-client", MASTERS)
        apiserver_client_rbac = cluster.cert("kube-apiserver-kubelet-client")
        for tls in (apiserver_client, apiserver_client_rbac, cluster.cert("alice")):
            assert (await _code(kubelet.port, tls))[0] == grpc.StatusCode.NOT_FOUND
            assert (await _code(kubelet.port, tls, "ContainerLogs"))[0] == grpc.StatusCode.NOT_FOUND
    finally:
        await kubelet.stop()
        await cluster.close()


async def test_apiserver_gone_fails_closed(etcd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cluster = await start_secure(etcd.endpoint, tmp_path)
    kubelet = _kubelet(cluster, tmp_path, f"authz-{uuid.uuid4().hex[:6]}")
    try:
        await kubelet.start()
        admin_tls = cluster.cert("kubernetes-admin", MASTERS)
        await cluster.close()  # the apiserver stops: no review can be answered
        code, details = await _code(kubelet.port, admin_tls)
        assert code == grpc.StatusCode.UNAVAILABLE
        assert details.startswith("Authorization error (user=kubernetes-admin, verb=create")
    finally:
        await kubelet.stop()
