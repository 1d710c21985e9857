"""The authorization point of the REST port: what a request asks to do, in Kubernetes' authorizer terms
(authorizer.Attributes), and the one hook every resource request passes through before it is served.

`RestApi.authorize` is an `Authorizer`: an async callable given the request's `Attributes` that returns
when the request may go on and raises `errors.Forbidden` when not (the Status then says 403 Forbidden
with the message, as kube-apiserver does). The default allows everything (Skiff has no authorization
yet); the RBAC authorizer replaces it by assignment: `rest_api.authorize = rbac.authorize`. It is called
once per request in `RestApi.dispatch` after the path is parsed, for every verb, watch, log and exec
included; the health, version, discovery and OpenAPI endpoints are public (no call), as
kube-apiserver's system:public-info-viewer role makes them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from skiff_apiserver.rest.router import Target


@dataclass(frozen=True)
class Attributes:
    user: str
    groups: tuple[str, ...]
    verb: str  # get, list, watch, create, update, patch, delete, deletecollection (exec/log: create/get)
    api_group: str
    api_version: str
    resource: str
    subresource: str
    namespace: str
    name: str
    path: str = field(default="")


Authorizer = Callable[[Attributes], Awaitable[None]]


async def allow_all(attributes: Attributes) -> None:
    """The default authorizer: every authenticated user may do everything."""


def attributes(request: web.Request, target: Target, verb: str, user: tuple[str, list[str]] | None) -> Attributes:
    """Kubernetes' verb for exec/attach/portforward is "create" (a POST/GET upgrade) and for log "get"."""
    kube_verb = {"exec": "create", "attach": "create", "portforward": "create", "log": "get"}.get(verb, verb)
    name, groups = user if user is not None else ("system:anonymous", ["system:unauthenticated"])
    return Attributes(
        user=name, groups=tuple(groups), verb=kube_verb, api_group=target.info.group,
        api_version=target.info.version, resource=target.info.resource, subresource=target.subresource,
        namespace=target.namespace, name=target.name, path=request.path,
    )  # fmt: skip
