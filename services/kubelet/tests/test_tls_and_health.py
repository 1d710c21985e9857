"""Mutual TLS end to end (apiserver + kubelet service over the cluster PKI) and runtime health."""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
import pytest
from skiff.api.core.v1 import node_pb2
from skiff.kubelet.v1 import kubelet_pb2 as kpb
from skiff.kubelet.v1 import kubelet_pb2_grpc
from skiff_client import ApiClient, CriClient
from skiff_cluster_fixture import Etcd
from skiff_common import errors
from skiff_common.grpcutil import create_channel
from skiff_common.tls import ensure_cluster_pki
from skiff_kubelet.app import Kubelet
from skiff_kubelet.config import KubeletConfig
from skiff_kubelet.node_status import runtime_health

pytestmark = pytest.mark.etcd


async def test_runtime_unreachable_is_not_ready(tmp_path: Path) -> None:
    cri_client = CriClient.connect(f"unix://{tmp_path}/nothing.sock")
    try:
        health = await runtime_health(cri_client)
    finally:
        await cri_client.close()
    assert not health.ready and health.reason == "RuntimeUnreachable"


async def test_mutual_tls_everywhere(etcd: Etcd, tmp_path: Path) -> None:
    from skiff_apiserver.app import ApiServerApp
    from skiff_apiserver.config import ApiServerConfig

    pki = ensure_cluster_pki(tmp_path / "pki", components=["apiserver", "kubelet", "cli"])
    srv = pki["apiserver"]
    app = ApiServerApp(
        ApiServerConfig(
            listen="127.0.0.1:0",
            etcd_endpoints=[etcd.endpoint],
            tls_cert_file=srv.cert_file,
            tls_key_file=srv.key_file,
            client_ca_file=srv.ca_file,
        )
    )
    port = await app.start()
    kt = pki["kubelet"]
    # The runtime is unreachable on purpose: registration and the TLS service must still work, the
    # node just reports Ready=False with the reason.
    cfg = KubeletConfig(
        node_name=f"tls-{uuid.uuid4().hex[:6]}",
        apiserver=f"127.0.0.1:{port}",
        tls_ca_file=kt.ca_file,
        tls_cert_file=kt.cert_file,
        tls_key_file=kt.key_file,
        runtime_endpoint=f"unix://{tmp_path}/none.sock",
        listen="127.0.0.1:0",
        root_dir=str(tmp_path / "k"),
        pod_log_dir=str(tmp_path / "logs"),
    )
    kubelet = Kubelet(cfg)
    try:
        await kubelet.start()
        cli = ApiClient.connect(f"127.0.0.1:{port}", tls=pki["cli"])
        try:
            node = await cli.get(node_pb2.Node, cfg.node_name)
            ready = {c.type: c for c in node.status.conditions}["Ready"]
            assert (ready.status, ready.reason) == ("False", "RuntimeUnreachable")
        finally:
            await cli.close()
        async with create_channel(f"127.0.0.1:{kubelet.port}", tls=pki["cli"]) as ch:
            stub = kubelet_pb2_grpc.KubeletStub(ch)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.Exec(kpb.ExecRequest(namespace="default", pod="nope", command=["true"]))
            assert info.value.code() == grpc.StatusCode.NOT_FOUND  # TLS handshake passed, pod unknown
        plain = ApiClient.connect(f"127.0.0.1:{port}")  # no client certificate: refused
        try:
            with pytest.raises(errors.SkiffError):
                await plain.get(node_pb2.Node, cfg.node_name)
        finally:
            await plain.close()
    finally:
        await kubelet.stop()
        await app.stop(0)
