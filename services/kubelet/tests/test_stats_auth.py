"""The kubelet's stats port over HTTPS with Kubernetes' kubelet authentication and authorization: a real
apiserver (Node,RBAC on real etcd) answers the kubelet's TokenReviews and SubjectAccessReviews; callers
present certificates with Kubernetes' identities or ServiceAccount tokens. The runtime is absent on
purpose: /metrics (the kubelet's own series) needs none, so an allowed caller gets 200 there."""

from __future__ import annotations

import asyncio
import ssl
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from skiff.api.authentication.v1 import authentication_pb2 as an
from skiff.api.core.v1 import serviceaccount_pb2
from skiff_common.grpcutil import TLSConfig
from skiff_common.tls import ensure_cluster_pki
from skiff_kubelet.app import Kubelet
from skiff_kubelet.config import KubeletConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "apiserver" / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "apiserver" / "tests" / "auth"))

from authz_testlib import SecureCluster, start_secure
from rbac_helpers import binding, create, create_seen, role, rule

pytestmark = pytest.mark.etcd
MASTERS = ("system:masters",)
SA_GROUPS = ("system:serviceaccounts", "system:serviceaccounts:kube-system")


def _kubelet(cluster: SecureCluster, tmp: Path, node: str) -> Kubelet:
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
        metrics_address="127.0.0.1:0",
        healthz_address="127.0.0.1:0",
        root_dir=str(tmp / "k"),
        pod_log_dir=str(tmp / "logs"),
        authorization_mode="Webhook",
    )
    return Kubelet(cfg)


async def _get(port: int, path: str, ca: str, tls: TLSConfig | None = None, token: str = "") -> tuple[int, str]:
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False  # the test's serving certificate names "kubelet", dialled at 127.0.0.1
    if tls is not None:
        ctx.load_cert_chain(tls.cert_file, tls.key_file)
    req = urllib.request.Request(f"https://127.0.0.1:{port}{path}")
    if token:
        req.add_header("Authorization", f"Bearer {token}")

    def send() -> tuple[int, str]:
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    return await asyncio.to_thread(send)


async def _token(admin: object, name: str) -> str:
    sa = serviceaccount_pb2.ServiceAccount()
    sa.metadata.name, sa.metadata.namespace = name, "kube-system"
    await create(admin, sa)
    req = an.TokenRequest()
    req.metadata.name, req.metadata.namespace = name, "kube-system"
    return str((await create(admin, req)).status.token)


async def test_stats_port_authenticates_and_authorizes_each_caller(etcd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cluster = await start_secure(etcd.endpoint, tmp_path)
    node = f"stats-{uuid.uuid4().hex[:6]}"
    kubelet = _kubelet(cluster, tmp_path, node)
    try:
        await kubelet.start()
        port, ca = kubelet.stats_server.port, str(cluster.pki / "ca.crt")
        admin = cluster.as_user("kubernetes-admin", MASTERS)

        # no identity: only the health endpoints answer
        assert (await _get(port, "/metrics", ca))[0] == 401
        assert (await _get(port, "/stats/summary", ca))[0] == 401
        # (/healthz/ping: the process-wide checks may hold failing ones other tests in this process left)
        assert (await _get(port, "/healthz/ping", ca))[0] == 200
        # plain HTTP is not spoken there any more; the healthz port speaks it, and serves nothing else
        with pytest.raises(OSError):
            await asyncio.to_thread(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5))
        healthz = f"http://127.0.0.1:{kubelet.healthz_server.port}"
        ping = f"{healthz}/healthz/ping"
        assert await asyncio.to_thread(lambda: urllib.request.urlopen(ping, timeout=5).status) == 200
        with pytest.raises(urllib.error.HTTPError, match="404"):
            await asyncio.to_thread(lambda: urllib.request.urlopen(f"{healthz}/metrics", timeout=5))

        # a certificate without a grant: the kubelet's own words, nodes/metrics and nodes/stats
        scheduler = cluster.cert("system:kube-scheduler")
        assert await _get(port, "/metrics", ca, scheduler) == (
            403,
            "Forbidden (user=system:kube-scheduler, verb=get, resource=nodes, subresource=metrics)",
        )
        assert await _get(port, "/stats/summary", ca, scheduler) == (
            403,
            "Forbidden (user=system:kube-scheduler, verb=get, resource=nodes, subresource=stats)",
        )
        # metrics-server's default role (system:metrics-server) reads nodes/metrics, not nodes/stats
        metrics_server = cluster.cert("system:serviceaccount:kube-system:metrics-server", SA_GROUPS)
        status, body = await _get(port, "/metrics", ca, metrics_server)
        assert status == 200 and "kubelet_running_pods" in body
        assert (await _get(port, "/stats/summary", ca, metrics_server))[0] == 403
        # the apiserver's kubelet client (kubeadm binds it to system:kubelet-api-admin) reads everything
        apiserver_client = cluster.cert("kube-apiserver-kubelet-client")
        assert (await _get(port, "/metrics", ca, apiserver_client))[0] == 200

        # bearer tokens by TokenReview: a ServiceAccount bound to nodes/metrics gets in, a bad token not
        await create(admin, role("stats-reader-test", "", rule(["get"], [""], ["nodes/metrics"]), cluster=True))
        await create_seen(
            cluster,
            admin,
            binding(
                "prom-metrics", "", "ClusterRole", "stats-reader-test", ("ServiceAccount", "kube-system/prom"),
                cluster=True,
            ),
        )  # fmt: skip
        token = await _token(admin, "prom")
        assert (await _get(port, "/metrics", ca, token=token))[0] == 200
        assert (await _get(port, "/metrics/cadvisor", ca, token="not-a-token"))[0] == 401
        unbound = await _token(admin, "unbound")
        assert (await _get(port, "/metrics", ca, token=unbound)) == (
            403,
            "Forbidden (user=system:serviceaccount:kube-system:unbound, verb=get, resource=nodes, subresource=metrics)",
        )
    finally:
        await kubelet.stop()
        await cluster.close()
