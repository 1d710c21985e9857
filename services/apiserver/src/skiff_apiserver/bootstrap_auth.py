"""Bootstrap token authentication for the REST API, as kube-apiserver's --enable-bootstrap-token-auth.

A client without a certificate may present `Authorization: Bearer <id>.<secret>`; it is the user
`system:bootstrap:<id>` in `system:bootstrappers` (plus the token's auth-extra-groups) when the Secret
kube-system/bootstrap-token-<id> holds that secret (compared in constant time), is of the bootstrap
token type, allows `usage-bootstrap-authentication` and has not expired.

Such a user may only do what kubeadm's `system:node-bootstrapper` role grants: create, get, list and
watch CertificateSigningRequests; and what its `kubeadm:kubeadm-certs` Role grants: get the one Secret
kube-system/kubeadm-certs (the shared keys, encrypted with the certificate key, that `skiff join
--control-plane` downloads). These narrow rules stand in for RBAC here; with an RBAC authorizer in front
they are the role bindings kubeadm makes for `system:bootstrappers:kubeadm:default-node-token`.
"""

from __future__ import annotations

import hmac
from typing import Any

from skiff_common import errors
from skiff_common.bootstrap import token

from skiff_apiserver.machinery import kinds

CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
KUBEADM_CERTS_PATH = "/api/v1/namespaces/kube-system/secrets/kubeadm-certs"


async def authenticate(registry: Any, authorization: str) -> tuple[str, list[str]] | None:
    """(user, groups) for a valid bootstrap token in an Authorization header, else None."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    try:
        token_id, token_secret = token.parse(value)
    except token.TokenError:
        return None
    try:
        secret = await registry.get(kinds.lookup_resource("secrets"), token.NAMESPACE, token.NAME_PREFIX + token_id)
        stored = token.from_secret(secret)
    except (errors.NotFound, token.TokenError):
        return None
    if not hmac.compare_digest(stored.secret.encode(), token_secret.encode()):
        return None
    if "authentication" not in stored.usages or stored.expired():
        return None
    return f"system:bootstrap:{token_id}", ["system:bootstrappers", *stored.groups]


def allowed(method: str, path: str) -> bool:
    """What system:node-bootstrapper allows (create, get, list and watch CSRs), and kubeadm:kubeadm-certs
    (get that one Secret)."""
    if method == "GET" and path == KUBEADM_CERTS_PATH:
        return True
    return method in ("GET", "POST") and (path == CSR_PATH or path.startswith(CSR_PATH + "/"))
