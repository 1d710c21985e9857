"""ServiceAccount tokens: signed JWTs with Kubernetes' claims, issued by TokenRequest and accepted as
bearer tokens on both ports.

A token says who (`sub: system:serviceaccount:<ns>:<name>`, with the ServiceAccount's uid), for whom
(`aud`), by whom (`iss`, `--service-account-issuer`), until when (`exp`, from the request's
expirationSeconds, at least 10 minutes) and optionally for which Pod (`kubernetes.io.pod`): the claims
of Kubernetes' bound service account tokens. It is signed ES256 with `--service-account-signing-key-file`
(a key generated at start when none is given: tokens then die with the process). The `kid` header is
the SHA-256 of the public key, as Kubernetes derives it.

Verifying checks the signature, issuer, audience and expiry, and then that the ServiceAccount (and
the bound Pod) still exist with the uids the token names, read from the watch caches: deleting either
revokes its tokens at once, as Kubernetes does.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from skiff_common import errors

from skiff_apiserver.auth import user as users
from skiff_apiserver.machinery import kinds
from skiff_apiserver.storage import codec
from skiff_apiserver.storage.watch_cache import WatchCache

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
MIN_SECONDS, DEFAULT_SECONDS, MAX_SECONDS = 600, 3600, 2**32


def _kid(public: ec.EllipticCurvePublicKey) -> str:
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


class TokenIssuer:
    def __init__(
        self,
        caches: dict[str, WatchCache],
        prefix: str,
        *,
        key_file: str | None = None,
        issuer: str = DEFAULT_ISSUER,
        audiences: tuple[str, ...] = (),
    ) -> None:
        if key_file:
            loaded = serialization.load_pem_private_key(Path(key_file).read_bytes(), None)
            if not isinstance(loaded, ec.EllipticCurvePrivateKey):
                raise ValueError(f"--service-account-signing-key-file: {key_file} is not an EC (P-256) private key")
            self.key = loaded
        else:
            self.key = ec.generate_private_key(ec.SECP256R1())
        self.public = self.key.public_key()
        self.kid = _kid(self.public)
        self.issuer = issuer
        self.audiences = audiences or (issuer,)
        self.caches = caches
        self.prefix = prefix

    def issue(
        self, sa: Any, audiences: list[str], seconds: int, pod: Any | None = None, now: float | None = None
    ) -> tuple[str, int]:
        """(token, expiry as a Unix time)."""
        now = int(now if now is not None else time.time())
        ns, name = sa.metadata.namespace, sa.metadata.name
        k8s: dict[str, Any] = {"namespace": ns, "serviceaccount": {"name": name, "uid": sa.metadata.uid}}
        if pod is not None:
            k8s["pod"] = {"name": pod.metadata.name, "uid": pod.metadata.uid}
            if pod.spec.node_name:
                k8s["node"] = {"name": pod.spec.node_name}
        claims = {
            "aud": audiences or list(self.audiences),
            "exp": now + seconds,
            "iat": now,
            "nbf": now,
            "iss": self.issuer,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": k8s,
            "sub": f"{users.SERVICEACCOUNT_PREFIX}{ns}:{name}",
        }
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": self.kid}), now + seconds

    def _exists(self, resource: str, namespace: str, name: str, uid: str) -> bool:
        info = kinds.lookup_resource(resource)
        obj: Any = self.caches[resource].get(codec.object_key(self.prefix, info, namespace, name))
        return obj is not None and obj.metadata.uid == uid

    def authenticate(self, token: str, audiences: tuple[str, ...] = ()) -> users.UserInfo:
        """The ServiceAccount user of a valid token; Unauthenticated otherwise."""
        try:
            claims = jwt.decode(
                token, self.public, algorithms=["ES256"], audience=list(audiences or self.audiences),
                issuer=self.issuer, options={"require": ["exp", "iat", "sub", "iss", "aud"]}, leeway=5,
            )  # fmt: skip
        except jwt.PyJWTError as exc:
            raise errors.Unauthenticated(f"Unauthorized: invalid bearer token: {exc}") from None
        k8s = claims.get("kubernetes.io") or {}
        ns, sa = k8s.get("namespace", ""), k8s.get("serviceaccount") or {}
        if not self._exists("serviceaccounts", ns, sa.get("name", ""), sa.get("uid", "")):
            raise errors.Unauthenticated("Unauthorized: the token's service account no longer exists")
        extra: dict[str, tuple[str, ...]] = {"authentication.kubernetes.io/credential-id": (f"JTI={claims['jti']}",)}
        pod = k8s.get("pod")
        if pod:
            if not self._exists("pods", ns, pod.get("name", ""), pod.get("uid", "")):
                raise errors.Unauthenticated("Unauthorized: the pod the token is bound to no longer exists")
            extra["authentication.kubernetes.io/pod-name"] = (pod["name"],)
            extra["authentication.kubernetes.io/pod-uid"] = (pod["uid"],)
        groups = ("system:serviceaccounts", f"system:serviceaccounts:{ns}", users.AUTHENTICATED)
        return users.UserInfo(str(claims["sub"]), groups, sa.get("uid", ""), extra)


def bearer(value: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value."""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
