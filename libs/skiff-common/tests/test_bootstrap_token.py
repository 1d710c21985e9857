"""Bootstrap tokens and their JWS: Kubernetes' formats, and clear errors naming the field."""

from __future__ import annotations

import datetime as dt

import pytest
from skiff_common.bootstrap import clusterinfo, jws, token


def test_round_trip_through_the_secret() -> None:
    made = token.generate(dt.timedelta(hours=1), description="d")
    secret = made.to_secret()
    assert secret.type == "bootstrap.kubernetes.io/token"
    assert secret.metadata.name == f"bootstrap-token-{made.id}" and secret.metadata.namespace == "kube-system"
    assert secret.data["usage-bootstrap-authentication"] == b"true"
    assert secret.data["auth-extra-groups"] == b"system:bootstrappers:kubeadm:default-node-token"
    assert token.from_secret(secret) == made
    assert not made.expired() and made.expired(made.expiration)
    assert token.generate(None).expiration is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("token-secret", b"short", "must be of the form"),
        ("expiration", b"tomorrow", "expiration: 'tomorrow' is not an RFC 3339 time"),
        ("auth-extra-groups", b"system:masters", "must start with system:bootstrappers:"),
    ],
)
def test_malformed_token_secrets_name_the_field(field: str, value: bytes, message: str) -> None:
    secret = token.generate().to_secret()
    secret.data[field] = value
    with pytest.raises(token.TokenError, match=message):
        token.from_secret(secret)


@pytest.mark.parametrize("value", ["abcdef0123456789abcdef", "ABCDEF.0123456789abcdef", "abcdef.0123"])
def test_token_format(value: str) -> None:
    with pytest.raises(token.TokenError, match=r"\[a-z0-9\]\{6\}"):
        token.parse(value)


def test_detached_jws_is_kubeadms_shape_and_binds_content_and_token() -> None:
    content = clusterinfo.kubeconfig(clusterinfo.ClusterInfo("https://127.0.0.1:6444", b"CA"))
    signature = jws.sign_detached(content, "abcdef", "0123456789abcdef")
    _header, payload, _sig = signature.split(".")
    assert payload == ""  # detached
    assert jws.verify_detached(signature, content, "abcdef", "0123456789abcdef")
    assert not jws.verify_detached(signature, content + " ", "abcdef", "0123456789abcdef")
    assert not jws.verify_detached(signature, content, "abcdef", "0123456789abcdeX")
    assert not jws.verify_detached(signature, content, "ghijkl", "0123456789abcdef")
    assert clusterinfo.parse_kubeconfig(content).ca_pem == b"CA"


def test_cluster_info_carries_the_grpc_address_in_the_signed_content() -> None:
    info = clusterinfo.ClusterInfo("https://127.0.0.1:6444", b"CA", grpc_server="127.0.0.1:6443")
    assert clusterinfo.parse_kubeconfig(clusterinfo.kubeconfig(info)) == info
