"""Kubernetes' request attributes: the one description of a request every authorizer reads.

The gRPC port and the REST port each translate their own requests into these; authorizers, the access
review APIs and the audit log never look at a transport. Verbs are Kubernetes' words (get, list, watch,
create, update, patch, delete, deletecollection, and for subresources and special checks: bind,
escalate, impersonate, use, approve, proxy, ...); the verb of a non-resource request is the lowercase
HTTP method's (get, post, put, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from skiff_apiserver.auth.user import UserInfo


@dataclass(frozen=True)
class Attributes:
    user: UserInfo
    verb: str
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    api_group: str = ""
    api_version: str = "v1"
    resource_request: bool = True
    path: str = ""  # the non-resource URL ("/healthz", "/version", "/api")

    def qualified_resource(self) -> str:
        """`pods`, `deployments.apps`: how Kubernetes names a resource in an error."""
        return f"{self.resource}.{self.api_group}" if self.api_group else self.resource


def forbidden_message(attrs: Attributes, reason: str = "") -> str:
    """The text of a 403 exactly as kube-apiserver builds it (responsewriters.forbiddenMessage wrapped
    in NewForbidden), e.g. `pods is forbidden: User "x" cannot list resource "pods" in API group "" in
    the namespace "y"`."""
    user = attrs.user.name
    if not attrs.resource_request:
        msg = f'User "{user}" cannot {attrs.verb} path "{attrs.path}"'
        head = "forbidden"
    else:
        resource = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
        if attrs.namespace:
            where = f'in the namespace "{attrs.namespace}"'
        else:
            where = "at the cluster scope"
        msg = f'User "{user}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.api_group}" {where}'
        qualified = attrs.qualified_resource()
        head = f'{qualified} "{attrs.name}" is forbidden' if attrs.name else f"{qualified} is forbidden"
    if reason:
        msg = f"{msg}: {reason}"
    return f"{head}: {msg}"
