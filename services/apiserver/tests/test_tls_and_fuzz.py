"""Mutual TLS, and fuzzing: arbitrary patches and objects never crash the server or reach etcd invalid."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
from apiserver_etcd import EtcdMember, free_port, make_config, start_server
from apiserver_testlib import create, pod, uniq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff.apiserver.v1 import apiserver_pb2_grpc
from skiff_apiserver.machinery import convert, kinds
from skiff_apiserver.storage.etcd import EtcdClient
from skiff_common import errors
from skiff_common.grpcutil import create_channel
from skiff_common.tls import ensure_cluster_pki


async def test_mutual_tls(etcd, tmp_path: Path) -> None:
    pki = ensure_cluster_pki(tmp_path / "pki", components=["apiserver", "tester"])
    srv_tls = pki["apiserver"]
    srv = await start_server(
        make_config(
            [etcd.endpoint],
            tls_cert_file=srv_tls.cert_file,
            tls_key_file=srv_tls.key_file,
            client_ca_file=srv_tls.ca_file,
        )
    )
    try:
        async with create_channel(f"127.0.0.1:{srv.app.port}", tls=pki["tester"]) as chan:
            stub = apiserver_pb2_grpc.ApiServerStub(chan)
            resp = await stub.ListResources(pb.ListResourcesRequest())
            assert resp.resources
        async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.app.port}") as plain:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await apiserver_pb2_grpc.ApiServerStub(plain).ListResources(pb.ListResourcesRequest(), timeout=5)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await srv.channel.close()
        await srv.app.stop(0)


async def test_etcd_over_mutual_tls(tmp_path: Path) -> None:
    """etcd with its own CA and client-certificate auth: the apiserver with --etcd-* files works; a client
    without a certificate from etcd's CA is turned away."""
    etcd_pki = ensure_cluster_pki(tmp_path / "etcd-pki", components=["server", "apiserver-client"])
    other_pki = ensure_cluster_pki(tmp_path / "other-pki", components=["intruder"])
    member = EtcdMember("tls", tmp_path / "data", free_port(), free_port(), tls=etcd_pki["server"])
    member.start()
    client_tls = etcd_pki["apiserver-client"]
    try:
        srv = await start_server(
            make_config(
                [member.endpoint],
                etcd_cafile=client_tls.ca_file,
                etcd_certfile=client_tls.cert_file,
                etcd_keyfile=client_tls.key_file,
            )
        )
        try:
            created = await create(srv.stub, pod(uniq("tls")))
            got = await srv.stub.Get(pb.GetRequest(resource="pods", namespace="default", name=created.metadata.name))
            assert got.object.Is(created.DESCRIPTOR)
        finally:
            await srv.channel.close()
            await srv.app.stop(0)
        for tls in (None, other_pki["intruder"]):
            stranger = EtcdClient([member.endpoint], timeout=2.0, tls=tls)
            try:
                with pytest.raises(errors.SkiffError):
                    await stranger.get(b"/registry/namespaces/default")
            finally:
                await stranger.close()
    finally:
        member.kill()


def test_partial_etcd_tls_flags_are_refused() -> None:
    from skiff_apiserver.app import etcd_tls_config

    cfg = make_config(["127.0.0.1:1"], etcd_cafile="/ca.crt")
    with pytest.raises(ValueError, match="--etcd-certfile"):
        etcd_tls_config(cfg)


def test_partial_tls_flags_are_refused() -> None:
    from skiff_apiserver.app import tls_config

    cfg = make_config(["127.0.0.1:1"], tls_cert_file="/x.crt")
    with pytest.raises(ValueError, match="--client-ca-file"):
        tls_config(cfg)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=12,
)
paths = st.sampled_from(
    [
        "metadata",
        "spec",
        "status",
        "spec.containers",
        "metadata.labels",
        "spec.replicas",
        "spec.containers.0",
        "spec.restartPolicy",
        "metadata.name",
        "spec.nodeName",
    ]
)


def nest(path: str, value: object) -> object:
    for part in reversed(path.split(".")):
        value = [value] if part.isdigit() else {part: value}
    return value


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(patches=st.lists(st.tuples(paths, json_values), min_size=1, max_size=3))
async def test_fuzzed_merge_patches_never_crash(api, patches) -> None:
    name = "fuzz-target"
    try:
        await create(api.stub, pod(name))
    except grpc.aio.AioRpcError:
        pass
    for path, value in patches:
        body = json.dumps(nest(path, value)).encode()
        try:
            resp = await api.stub.Patch(
                pb.PatchRequest(
                    resource="pods",
                    namespace="default",
                    name=name,
                    patch_type="application/merge-patch+json",
                    patch=body,
                )
            )
        except grpc.aio.AioRpcError as exc:
            assert exc.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.ABORTED), exc.details()
            continue
        stored = kinds.unpack(resp.object)
        assert stored.spec.containers and all(c.image for c in stored.spec.containers)  # still valid


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    doc=st.dictionaries(
        st.sampled_from(["metadata", "spec", "status", "kind", "apiVersion", "bogus"]),
        json_values,
        max_size=4,
    )
)
async def test_fuzzed_objects_are_rejected_cleanly(api, doc) -> None:
    doc = {**doc, "apiVersion": "v1", "kind": "Pod"}
    try:
        obj = convert.from_dict(doc)
    except errors.SkiffError:
        return  # refused before it could reach the server
    meta = obj.metadata  # type: ignore[attr-defined]
    meta.name = meta.name or uniq("f")
    try:
        await create(api.stub, obj)
    except grpc.aio.AioRpcError as exc:
        assert exc.code() in (
            grpc.StatusCode.INVALID_ARGUMENT,
            grpc.StatusCode.NOT_FOUND,
            grpc.StatusCode.ALREADY_EXISTS,
        ), exc.details()
