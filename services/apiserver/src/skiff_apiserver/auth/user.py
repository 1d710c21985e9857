"""Who is calling: a user name, groups and extra, as Kubernetes' user.Info.

Both ports authenticate the same way: a verified client certificate is the user (its CN) and groups (its
O entries), as kube-apiserver's x509 authenticator reads them, and every authenticated user is also in
`system:authenticated`. The user of the request in progress lives in a context variable, so admission
plugins deep in the registry (escalation checks, NodeRestriction) see who asked without every call
carrying it.

A server without TLS (tests, a local development apiserver) has no way to know its callers: every request
is then the privileged `system:unsecured` user in `system:masters`, as kube-apiserver's old insecure port
was.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
MASTERS = "system:masters"
ANONYMOUS = "system:anonymous"
NODES = "system:nodes"
NODE_PREFIX = "system:node:"
SERVICEACCOUNT_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def is_anonymous(self) -> bool:
        return self.name == ANONYMOUS


UNSECURED = UserInfo("system:unsecured", (MASTERS, AUTHENTICATED))
ANONYMOUS_USER = UserInfo(ANONYMOUS, (UNAUTHENTICATED,))

_current: contextvars.ContextVar[UserInfo | None] = contextvars.ContextVar("skiff_apiserver_user", default=None)


def set_current(user: UserInfo | None) -> contextvars.Token[UserInfo | None]:
    return _current.set(user)


def current() -> UserInfo | None:
    """The user of the request being served; None outside a request (the apiserver's own work)."""
    return _current.get()


def authenticated(name: str, groups: list[str] | tuple[str, ...]) -> UserInfo:
    """A user proven by a credential: system:authenticated added, as Kubernetes' authenticator does."""
    gs = tuple(dict.fromkeys([*groups, AUTHENTICATED]))
    return UserInfo(name, gs)


@lru_cache(maxsize=4096)
def from_pem(pem: bytes) -> UserInfo:
    """The user of a PEM client certificate (cached: a connection presents the same one on every call)."""
    cert = x509.load_pem_x509_certificate(pem)
    cn = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    orgs = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    return authenticated(cn[0] if cn else "", orgs)


def from_grpc_auth_context(auth: Mapping[str, Any]) -> UserInfo | None:
    """From `context.auth_context()`: the peer certificate's CN and O, None when there is none."""
    pems = list(auth.get("x509_pem_cert") or [])
    if not pems:
        return None
    pem = pems[0]
    return from_pem(pem if isinstance(pem, bytes) else str(pem).encode())


def from_peercert(cert: Mapping[str, Any] | None) -> UserInfo | None:
    """From ssl's `getpeercert()` dictionary (the REST port)."""
    if not cert:
        return None
    name, groups = "", []
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                name = value
            elif key == "organizationName":
                groups.append(value)
    return authenticated(name, groups)
