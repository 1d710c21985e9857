"""skiff_common.pki: one certificate per job, Kubernetes' identities, and TLS that enforces both.

The round trips are real gRPC over 127.0.0.1 with BoringSSL doing the verification: a certificate made
for a client cannot serve, a serving certificate cannot be a client, and a node's serving certificate
does not answer for the apiserver's address.
"""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from skiff_common.grpcutil import TLSConfig, add_listen, create_channel, create_server
from skiff_common.pki import (
    CertProfile,
    ClusterPKI,
    Identity,
    ca_cert_hash,
    control_plane_profiles,
    identity_of,
    kubelet_profiles,
    peer_identity,
)
from skiff_common.pki.expiry import check_expiration, renew

from .conftest import Echo, echo_handler

SERVER, CLIENT = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, TLSConfig]:
    profiles = [
        *control_plane_profiles("cp", ["10.77.0.1"]),
        *kubelet_profiles("cp"),
        *kubelet_profiles("n2", ["10.77.0.2"]),
    ]
    return ClusterPKI(tmp_path / "pki").ensure(profiles)


def cert(tls: TLSConfig) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(tls.cert_file).read_bytes())


def usages(tls: TLSConfig) -> set[x509.ObjectIdentifier]:
    return set(cert(tls).extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def sans(tls: TLSConfig) -> set[str]:
    value = cert(tls).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in value.get_values_for_type(x509.IPAddress)} | set(value.get_values_for_type(x509.DNSName))


@pytest.mark.parametrize(
    ("name", "user", "groups", "eku"),
    [
        ("apiserver", "kube-apiserver", (), {SERVER}),
        ("admin", "kubernetes-admin", ("system:masters",), {CLIENT}),
        ("scheduler", "system:kube-scheduler", (), {CLIENT}),
        ("controllers", "system:kube-controller-manager", (), {CLIENT}),
        ("proxy", "system:kube-proxy", (), {CLIENT}),
        (
            "dns",
            "system:serviceaccount:kube-system:coredns",
            ("system:serviceaccounts", "system:serviceaccounts:kube-system"),
            {CLIENT},
        ),
        ("apiserver-kubelet-client", "kube-apiserver-kubelet-client", ("system:masters",), {CLIENT}),
        ("nodes/n2/kubelet-client", "system:node:n2", ("system:nodes",), {CLIENT}),
        ("nodes/n2/kubelet", "system:node:n2", ("system:nodes",), {SERVER}),
        ("etcd/server", "cp", (), {SERVER}),
        ("etcd/peer", "cp", (), {SERVER, CLIENT}),
        ("etcd/healthcheck-client", "kube-etcd-healthcheck-client", (), {CLIENT}),
        ("etcd/apiserver-client", "kube-apiserver-etcd-client", (), {CLIENT}),
    ],
)
def test_each_certificate_has_kubeadms_identity_and_one_job(
    pki: dict[str, TLSConfig], name: str, user: str, groups: tuple[str, ...], eku: set[x509.ObjectIdentifier]
) -> None:
    assert identity_of(cert(pki[name])) == Identity(user, groups)
    assert usages(pki[name]) == eku
    assert stat.S_IMODE(Path(pki[name].key_file).stat().st_mode) == 0o600
    expected_ca = "etcd/ca.crt" if name.startswith("etcd/") else "ca.crt"
    assert pki[name].ca_file.endswith(expected_ca)


def test_serving_names_are_each_servers_own(pki: dict[str, TLSConfig]) -> None:
    assert {
        "10.96.0.1",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "127.0.0.1",
        "cp",
        "10.77.0.1",
    } <= sans(pki["apiserver"])
    assert sans(pki["nodes/n2/kubelet"]) == {"n2", "10.77.0.2"}
    # client certificates name no host at all
    with pytest.raises(x509.ExtensionNotFound):
        cert(pki["admin"]).extensions.get_extension_for_class(x509.SubjectAlternativeName)


def test_ensure_is_idempotent_and_repairs_a_wrong_certificate(tmp_path: Path) -> None:
    store = ClusterPKI(tmp_path)
    profiles = kubelet_profiles("n1", ["10.77.0.5"])
    store.ensure(profiles)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.crt")}
    store.ensure(profiles)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.crt")} == before
    # a node address that changed re-issues the serving certificate only
    store.ensure(kubelet_profiles("n1", ["10.77.0.6"]))
    changed = {p.name for p in before if p.read_bytes() != before[p]}
    assert changed == {"kubelet.crt"}


async def _whoami(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    who = peer_identity(context.auth_context())
    assert who is not None
    return ",".join([who.user, *who.groups]).encode()


async def _serve(tls: TLSConfig) -> tuple[grpc.aio.Server, int]:
    server = create_server("pki-test", tls=tls)
    server.add_generic_rpc_handlers(
        (
            echo_handler(),
            grpc.method_handlers_generic_handler(
                "skiff.test.v1.WhoAmI", {"Get": grpc.unary_unary_rpc_method_handler(_whoami)}
            ),
        )
    )
    port = add_listen(server, "127.0.0.1:0")
    await server.start()
    return server, port


async def _call(port: int, tls: TLSConfig, server_name: str | None = None) -> bytes:
    async with create_channel(f"127.0.0.1:{port}", tls=tls, server_name=server_name) as channel:
        result: bytes = await channel.unary_unary("/skiff.test.v1.WhoAmI/Get")(b"", timeout=10)
        return result


async def test_the_apiserver_sees_each_callers_identity(pki: dict[str, TLSConfig]) -> None:
    server, port = await _serve(pki["apiserver"])
    try:
        assert await _call(port, pki["admin"]) == b"kubernetes-admin,system:masters"
        # a node is a node: its identity is system:node:<name> in system:nodes, never the admin
        assert await _call(port, pki["nodes/n2/kubelet-client"]) == b"system:node:n2,system:nodes"
        assert await _call(port, pki["proxy"], server_name="kubernetes.default.svc") == b"system:kube-proxy"
    finally:
        await server.stop(None)


@pytest.mark.parametrize(
    ("impostor", "why"),
    [
        ("nodes/n2/kubelet-client", "a client certificate (clientAuth only) cannot serve"),
        ("nodes/n2/kubelet", "another node's serving certificate does not name 127.0.0.1"),
        ("etcd/server", "etcd's CA is not the cluster CA"),
    ],
)
async def test_a_kubelet_certificate_cannot_serve_as_the_apiserver(
    pki: dict[str, TLSConfig], impostor: str, why: str
) -> None:
    # the impostor server accepts clients of the cluster CA; the client trusts the cluster CA
    served = TLSConfig(
        ca_file=pki["apiserver"].ca_file, cert_file=pki[impostor].cert_file, key_file=pki[impostor].key_file
    )
    server, port = await _serve(served)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _call(port, pki["admin"])
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE, why
    finally:
        await server.stop(None)


async def test_client_usage_alone_cannot_serve_even_with_the_right_name(tmp_path: Path) -> None:
    """The extended key usage itself is checked, not just the names: a clientAuth certificate that
    does name 127.0.0.1 is still refused as a server."""
    store = ClusterPKI(tmp_path / "pki")
    made = store.ensure(
        [CertProfile("named-client", "system:node:n2", "client", hosts=("127.0.0.1",)), *kubelet_profiles("cp")]
    )
    server, port = await _serve(made["named-client"])
    try:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _call(port, made["nodes/cp/kubelet-client"])
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop(None)


async def test_a_serving_certificate_cannot_be_a_client(pki: dict[str, TLSConfig]) -> None:
    server, port = await _serve(pki["apiserver"])
    try:
        for serving in ("apiserver", "nodes/n2/kubelet"):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await _call(port, pki[serving])
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE, serving
    finally:
        await server.stop(None)


async def test_echo_over_the_node_address_name(pki: dict[str, TLSConfig]) -> None:
    server, port = await _serve(pki["nodes/cp/kubelet"])
    try:
        async with create_channel(f"127.0.0.1:{port}", tls=pki["apiserver-kubelet-client"]) as channel:
            assert await Echo(channel).unary(b"logs", timeout=10) == b"logs"
    finally:
        await server.stop(None)


def test_check_expiration_and_renew(tmp_path: Path, pki: dict[str, TLSConfig]) -> None:
    store = ClusterPKI(tmp_path / "pki")
    statuses = {s.name: s for s in check_expiration(store)}
    assert statuses["ca"].is_ca and statuses["etcd/ca"].is_ca
    assert statuses["apiserver"].authority == "ca"
    assert statuses["etcd/peer"].authority == "etcd/ca"
    assert not statuses["apiserver"].needs_renewal
    old = cert(pki["apiserver"])
    assert renew(store, ["apiserver"], validity=dt.timedelta(days=10)) == ["apiserver"]
    new = cert(pki["apiserver"])
    assert new.subject == old.subject and new.public_key() == old.public_key()
    assert sans(pki["apiserver"]) >= {"10.96.0.1", "kubernetes.default.svc"}
    assert usages(pki["apiserver"]) == {SERVER}
    assert {s.name: s for s in check_expiration(store)}["apiserver"].needs_renewal  # 10 days < 30
    with pytest.raises(ValueError, match="'nope' is not a certificate"):
        renew(store, ["nope"])
    assert len(renew(store)) == len([s for s in statuses.values() if not s.is_ca])


def test_ca_cert_hash_is_kubeadms_pin(pki: dict[str, TLSConfig]) -> None:
    digest = ca_cert_hash(Path(pki["apiserver"].ca_file).read_bytes())
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64
    assert digest != ca_cert_hash(Path(pki["etcd/server"].ca_file).read_bytes())


def test_a_node_certificate_is_not_the_admin(pki: dict[str, TLSConfig]) -> None:
    node = identity_of(cert(pki["nodes/n2/kubelet-client"]))
    admin = identity_of(cert(pki["admin"]))
    assert node.user != admin.user and "system:masters" not in node.groups
    assert admin.groups == ("system:masters",)
