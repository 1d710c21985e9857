"""The detached JWS kubeadm's discovery uses: HS256 over the cluster-info kubeconfig, keyed by the
token secret, with the token id as `kid` (header {"alg":"HS256","kid":<id>}); the payload segment is
left out ("header..signature"), since the payload is the ConfigMap's own `kubeconfig` value. PyJWT
does the signing and the constant-time verification; nothing here is hand-written crypto.

The token secret is 16 characters, below the 32 bytes RFC 7518 recommends for HS256; that is
Kubernetes' format (the signature only has to outlive the token's TTL), so PyJWT's warning is silenced.
"""

from __future__ import annotations

import base64
import warnings
from typing import Any

import jwt
from jwt.api_jws import PyJWS
from jwt.warnings import InsecureKeyLengthWarning

_JWS = PyJWS(algorithms=["HS256"])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_detached(content: str, token_id: str, token_secret: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        full = _JWS.encode(content.encode(), token_secret, algorithm="HS256", headers={"kid": token_id, "typ": None})
    header, _payload, signature = full.split(".")
    return f"{header}..{signature}"


def verify_detached(signature: str, content: str, token_id: str, token_secret: str) -> bool:
    """True only for a detached HS256 JWS over exactly `content` made with this token."""
    parts = signature.split(".")
    if len(parts) != 3 or parts[1]:
        return False
    attached = f"{parts[0]}.{_b64(content.encode())}.{parts[2]}"
    try:
        header: dict[str, Any] = _JWS.get_unverified_header(attached)
        if header.get("kid") != token_id or header.get("alg") != "HS256":
            return False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)
            decoded = _JWS.decode_complete(attached, token_secret, algorithms=["HS256"])
    except jwt.PyJWTError:
        return False
    return bool(decoded["payload"] == content.encode())
