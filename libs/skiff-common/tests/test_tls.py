"""tls.py: the PKI is idempotent and private, and a mutual-TLS round trip works over 127.0.0.1."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from cryptography import x509
from skiff_common.grpcutil import TLSConfig, add_listen, create_channel, create_server
from skiff_common.tls import ensure_cluster_pki, peer_common_name

from .conftest import SERVICE, Echo, echo_handler


def test_creates_ca_and_component_certs_with_private_keys(tmp_path: Path) -> None:
    pki = ensure_cluster_pki(tmp_path / "pki", components=["apiserver", "kubelet"])
    assert set(pki) == {"apiserver", "kubelet"}
    for name in ("ca", "apiserver", "kubelet"):
        key = tmp_path / "pki" / f"{name}.key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(Path(pki["kubelet"].cert_file).read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert {o.dotted_string for o in eku} == {"1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"}


def test_idempotent_and_reissues_only_what_changed(tmp_path: Path) -> None:
    ensure_cluster_pki(tmp_path, components=["apiserver", "scheduler"])
    before = {p.name: p.read_bytes() for p in tmp_path.glob("*.crt")}
    ensure_cluster_pki(tmp_path, components=["apiserver", "scheduler"])
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.crt")} == before

    # A new host re-issues the component certs but keeps the CA.
    ensure_cluster_pki(tmp_path, components=["apiserver", "scheduler"], hosts=["127.0.0.1", "localhost", "node1"])
    assert (tmp_path / "ca.crt").read_bytes() == before["ca.crt"]
    assert (tmp_path / "apiserver.crt").read_bytes() != before["apiserver.crt"]

    # Losing the CA key re-issues everything under a new CA.
    (tmp_path / "ca.key").unlink()
    ensure_cluster_pki(tmp_path, components=["apiserver"])
    assert (tmp_path / "ca.crt").read_bytes() != before["ca.crt"]
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    x509.load_pem_x509_certificate((tmp_path / "apiserver.crt").read_bytes()).verify_directly_issued_by(ca)


@pytest.mark.parametrize("bad", ["Upper", "has space", "../etc", "ca", ""])
def test_rejects_bad_component_names(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="components: invalid component name"):
        ensure_cluster_pki(tmp_path, components=[bad])


async def _whoami(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    return (peer_common_name(context.auth_context()) or "").encode()


async def test_mutual_tls_round_trip(tmp_path: Path) -> None:
    pki = ensure_cluster_pki(tmp_path / "a", components=["apiserver", "kubelet"])
    other = ensure_cluster_pki(tmp_path / "b", components=["intruder"])
    server = create_server("tls-test", tls=pki["apiserver"])
    server.add_generic_rpc_handlers(
        (
            echo_handler(),
            grpc.method_handlers_generic_handler(
                "skiff.test.v1.WhoAmI", {"Get": grpc.unary_unary_rpc_method_handler(_whoami)}
            ),
        )
    )
    port = add_listen(server, "127.0.0.1:0")  # TLS taken from create_server
    await server.start()
    try:
        async with create_channel(f"127.0.0.1:{port}", tls=pki["kubelet"]) as channel:
            assert await Echo(channel).unary(b"over tls", timeout=10) == b"over tls"
            assert await channel.unary_unary("/skiff.test.v1.WhoAmI/Get")(b"", timeout=10) == b"kubelet"
        # Verifying the server by name instead of IP: covered by the localhost SAN.
        async with create_channel(f"127.0.0.1:{port}", tls=pki["kubelet"], server_name="localhost") as channel:
            assert await Echo(channel).unary(b"by name", timeout=10) == b"by name"
        # A certificate from another CA and a plaintext client are both refused.
        for bad in (
            create_channel(f"127.0.0.1:{port}", tls=other["intruder"], server_name="localhost"),
            create_channel(f"127.0.0.1:{port}"),
        ):
            async with bad:
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await bad.unary_unary(f"/{SERVICE}/Unary")(b"x", timeout=10)
                assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop(None)


def test_missing_tls_file_names_the_field(tmp_path: Path) -> None:
    cfg = TLSConfig(ca_file=str(tmp_path / "nope.crt"), cert_file="x", key_file="y")
    with pytest.raises(FileNotFoundError, match="TLS ca_file: no such file"):
        create_channel("127.0.0.1:1", tls=cfg)


def test_certificates_in_use_report_their_expiry(tmp_path: Path) -> None:
    """Each process exports when its CA and its own certificate expire (the certificate-expiry alert's input)."""
    from cryptography import x509
    from prometheus_client import REGISTRY

    pki = ensure_cluster_pki(tmp_path, components=["kubelet"])
    tls = pki["kubelet"]
    tls.read()
    leaf = x509.load_pem_x509_certificate(Path(tls.cert_file).read_bytes())
    seen = REGISTRY.get_sample_value(
        "skiff_certificate_expiration_timestamp_seconds", {"certificate": tls.cert_file, "role": "leaf"}
    )
    assert seen == leaf.not_valid_after_utc.timestamp()
    ca = REGISTRY.get_sample_value(
        "skiff_certificate_expiration_timestamp_seconds", {"certificate": tls.ca_file, "role": "ca"}
    )
    assert ca is not None and ca >= seen
