"""The one entry point both ports call: authenticate a caller, authorize request attributes.

Built once by the app from `--authorization-mode` (a comma list of AlwaysAllow, Node, RBAC; kubeadm's
`Node,RBAC` is what `skiff up` passes). With Node or RBAC, members of system:masters are always allowed
first, as kube-apiserver's privileged-group authorizer.

The transports only say who called (a certificate) and what they ask; the gate turns that into
Attributes, asks the chain, and raises Forbidden with Kubernetes' words. Callers are a verified client
certificate first, else a ServiceAccount bearer token (auth/tokens.py), as kube-apiserver's union of
authenticators. A list or watch whose field
selector pins `metadata.name` is authorized for that name, as kube-apiserver's request info does, so a
kubelet may watch the one Secret its pod uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from skiff_common import errors

from skiff_apiserver.audit import log as audit
from skiff_apiserver.auth import user as users
from skiff_apiserver.auth.attributes import Attributes
from skiff_apiserver.auth.authorizer import AlwaysAllow, Authorizer, Chain, PrivilegedGroups
from skiff_apiserver.auth.node import NodeAuthorizer
from skiff_apiserver.auth.rbac.authorizer import RBACAuthorizer
from skiff_apiserver.auth.tokens import TokenIssuer, bearer
from skiff_apiserver.machinery import KindInfo, fields
from skiff_apiserver.storage.watch_cache import WatchCache

MODES = ("AlwaysAllow", "Node", "RBAC")


def parse_modes(text: str) -> list[str]:
    modes = [m.strip() for m in text.split(",") if m.strip()]
    for m in modes:
        if m not in MODES:
            raise ValueError(f'--authorization-mode: unknown mode "{m}" (supported: {", ".join(MODES)})')
    if not modes:
        raise ValueError("--authorization-mode: at least one mode is required")
    return modes


def name_from_field_selector(selector: str) -> str:
    if "metadata.name" not in selector:
        return ""
    try:
        return fields.parse_field_selector(selector).exact_value("metadata.name") or ""
    except ValueError:
        return ""


class Gate:
    def __init__(
        self,
        modes: list[str],
        caches: Mapping[str, WatchCache],
        *,
        secure: bool = True,
        tokens: TokenIssuer | None = None,
    ) -> None:
        self.modes = modes
        self.secure = secure
        self.tokens = tokens
        self.rbac: RBACAuthorizer | None = RBACAuthorizer(caches) if "RBAC" in modes else None
        chain: list[Authorizer] = []
        if "Node" in modes or "RBAC" in modes:
            chain.append(PrivilegedGroups())
        for m in modes:
            if m == "AlwaysAllow":
                chain.append(AlwaysAllow())
            elif m == "Node":
                chain.append(NodeAuthorizer(caches["pods"]))
            elif m == "RBAC":
                assert self.rbac is not None
                chain.append(self.rbac)
        self.chain = Chain(chain)
        self.enforcing = modes != ["AlwaysAllow"]

    # -- authentication -------------------------------------------------------------------------------
    def grpc_user(self, auth_context: Mapping[str, Any], metadata: Any = ()) -> users.UserInfo:
        """A bearer token in the `authorization` metadata, else the verified client certificate.

        The gRPC port requires a client certificate at the TLS layer (grpcio cannot ask for one without
        requiring it), so a token there names who acts over a cluster component's channel -- what
        kube-controller-manager does with --use-service-account-credentials: one connection, a
        ServiceAccount token per controller."""
        if not self.secure:
            return users.UNSECURED
        for key, value in metadata or ():
            if key == "authorization":
                return self.token_user(str(value))
        user = users.from_grpc_auth_context(auth_context)
        if user is not None:
            return user
        raise errors.Unauthenticated(
            "Unauthorized: a client certificate from the cluster CA or a bearer token is required"
        )

    def token_user(self, header: str) -> users.UserInfo:
        token = bearer(header)
        if token is None or self.tokens is None:
            raise errors.Unauthenticated("Unauthorized: unsupported authorization header (Bearer <token> expected)")
        return self.tokens.authenticate(token)

    # -- authorization --------------------------------------------------------------------------------
    def check(self, attrs: Attributes) -> None:
        """Raise Forbidden unless allowed; the request's audit record keeps the attributes and decision."""
        record = audit.current()
        if record is not None:
            record.attrs = attrs
            record.decision = "allow"
        if not self.enforcing:
            return
        try:
            self.chain.check(attrs)
        except errors.Forbidden:
            if record is not None:
                record.decision = "forbid"
            raise

    def check_resource(
        self,
        verb: str,
        info: KindInfo,
        namespace: str = "",
        name: str = "",
        subresource: str = "",
        *,
        field_selector: str = "",
    ) -> None:
        """Authorize the current user's request on a resource (raises Forbidden)."""
        user = users.current() or users.UNSECURED
        if not name and verb in ("list", "watch") and field_selector:
            name = name_from_field_selector(field_selector)
        if not info.namespaced:
            # A namespace is its own namespace (kube-apiserver's request info), so a RoleBinding that
            # grants `get namespaces` lets its subjects read the namespace they are bound in.
            namespace = name if info.resource == "namespaces" else ""
        self.check(Attributes(user, verb, info.resource, subresource, namespace, name, info.group, info.version))

    def check_path(self, verb: str, path: str) -> None:
        user = users.current() or users.UNSECURED
        self.check(Attributes(user, verb, resource_request=False, path=path))
