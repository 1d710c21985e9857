"""`skiff join`'s discovery, as kubeadm's token discovery:

1. read kube-public/cluster-info from the address given, without trusting the server yet (anyone can
   answer on that address);
2. find the JWS signature of our token id in it: none means the token is unknown or expired (the
   bootstrap signer signs only with valid tokens), or made a moment ago and not yet signed, so, as
   kubeadm's join does, this step is retried until the discovery timeout;
3. check the signature with the token secret: a mismatch means whoever answered does not hold our token;
4. check that the CA in it has a pinned public-key hash (--discovery-token-ca-cert-hash);
5. read cluster-info again, now verifying the server's certificate against that CA: a server that
   does not chain to the pinned CA is refused.

Each refusal raises DiscoveryError with a message that names the mismatch. Only 127.0.0.1 and cluster
addresses are ever dialled: the address is the user's, and joins go to the cluster's own bridge.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from skiff_common.bootstrap import clusterinfo, jws, token
from skiff_common.pki import ca_cert_hash


class DiscoveryError(Exception):
    pass


@dataclass(frozen=True)
class Discovered:
    server: str  # https://host:port, from the address given
    ca_pem: bytes
    grpc_server: str  # Skiff's gRPC API, from the signed cluster-info
    token_id: str
    token_secret: str


def _fetch(address: str, context: ssl.SSLContext, timeout: float) -> dict[str, str]:
    url = f"https://{address}{clusterinfo.REST_PATH}"
    try:
        with urllib.request.urlopen(url, context=context, timeout=timeout) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise DiscoveryError(f"could not read cluster-info from {address}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ssl.SSLCertVerificationError):
            raise DiscoveryError(
                f"the server at {address} does not present a certificate that chains to the pinned CA "
                f"(or does not name {address.rsplit(':', 1)[0]}): {reason.verify_message}"
            ) from None
        raise DiscoveryError(f"could not reach {address}: {reason}") from None
    except ValueError:
        raise DiscoveryError(f"{address} did not answer with a cluster-info ConfigMap") from None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise DiscoveryError(f"{address} did not answer with a cluster-info ConfigMap")
    return {str(k): str(v) for k, v in data.items()}


DEFAULT_WAIT = 60.0  # seconds for the bootstrap signer to sign a new token (kubeadm waits up to 5 min)


def discover(
    address: str, token_value: str, ca_hashes: list[str], *, timeout: float = 10.0, wait: float = DEFAULT_WAIT
) -> Discovered:
    """Discovery, retrying while cluster-info is not yet signed for the token, for up to `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return _discover_once(address, token_value, ca_hashes, timeout)
        except _Unsigned as exc:
            if time.monotonic() >= deadline:
                raise DiscoveryError(str(exc)) from None
            time.sleep(0.5)


class _Unsigned(DiscoveryError):
    pass


def _discover_once(address: str, token_value: str, ca_hashes: list[str], timeout: float) -> Discovered:
    token_id, token_secret = token.parse(token_value)
    for pin in ca_hashes:
        if not pin.startswith("sha256:") or len(pin) != len("sha256:") + 64:
            raise DiscoveryError(f"--discovery-token-ca-cert-hash: {pin!r} is not of the form sha256:<64 hex digits>")
    if not ca_hashes:
        raise DiscoveryError("--discovery-token-ca-cert-hash is required: the CA must be pinned")
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE  # nothing is trusted from this read until it is verified below
    data = _fetch(address, insecure, timeout)
    content = data.get(clusterinfo.KUBECONFIG_KEY)
    if content is None:
        raise DiscoveryError(f"the cluster-info ConfigMap at {address} has no {clusterinfo.KUBECONFIG_KEY}")
    signature = data.get(clusterinfo.JWS_PREFIX + token_id)
    if signature is None:
        raise _Unsigned(
            f'token id "{token_id}" is unknown or has expired: cluster-info carries no JWS signature for it'
        )
    if not jws.verify_detached(signature, content, token_id, token_secret):
        raise DiscoveryError(
            "failed to verify the JWS signature of cluster-info with the token secret: "
            "the server does not hold this token, can't trust it"
        )
    try:
        info = clusterinfo.parse_kubeconfig(content)
        actual = ca_cert_hash(info.ca_pem)
    except ValueError as exc:
        raise DiscoveryError(f"cluster-info's CA is unusable: {exc}") from None
    if actual not in ca_hashes:
        raise DiscoveryError(
            f'the cluster CA found in cluster-info has public key hash "{actual}", '
            f"which is not pinned (--discovery-token-ca-cert-hash {', '.join(ca_hashes)})"
        )
    pinned = ssl.create_default_context(cadata=info.ca_pem.decode())
    _fetch(address, pinned, timeout)  # the server itself must chain to the pinned CA
    return Discovered(
        server=f"https://{address}",
        ca_pem=info.ca_pem,
        grpc_server=info.grpc_server,
        token_id=token_id,
        token_secret=token_secret,
    )
