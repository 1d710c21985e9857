"""The REST port's side of authentication and authorization (auth/ holds the logic both ports share).

* `authenticate`: the verified client certificate is the user; without one, only the public health and
  version paths are served, as `system:anonymous` (Kubernetes' public-info-viewer role lets it); anything
  else is 401.
* `authorize`: a request on a resource becomes Kubernetes' request attributes (verb, resource,
  subresource, namespace, name; a list or watch pinned by `fieldSelector=metadata.name=` names that
  object) and goes through the same gate as gRPC. Exec and attach are `create` even over a WebSocket GET,
  as Kubernetes checks them since 1.31.
* The access reviews: POST subjectaccessreviews, namespaces/<ns>/localsubjectaccessreviews,
  selfsubjectaccessreviews (`kubectl auth can-i`) and selfsubjectrulesreviews (`kubectl auth can-i
  --list`), answered by auth/reviews.py, nothing stored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from google.protobuf.message import Message
from skiff.api.authentication.v1 import authentication_pb2 as an
from skiff.api.authorization.v1 import authorization_pb2 as az
from skiff_apiserver.auth import reviews, tokenrequest
from skiff_apiserver.auth import user as users
from skiff_apiserver.auth.gate import Gate
from skiff_apiserver.machinery import convert, kinds
from skiff_apiserver.registry.api import Registry
from skiff_apiserver.rest import codec
from skiff_apiserver.rest.handlers import read_body
from skiff_apiserver.rest.router import Target
from skiff_apiserver.rest.status import error_response, json_response
from skiff_common import errors

BASE = "/apis/authorization.k8s.io/v1"
TOKEN_PATH = "/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"
PATH = BASE + "/selfsubjectaccessreviews"  # kept for callers of the old name
_ROUTES: dict[str, type[Message]] = {
    BASE + "/subjectaccessreviews": az.SubjectAccessReview,
    BASE + "/selfsubjectaccessreviews": az.SelfSubjectAccessReview,
    BASE + "/selfsubjectrulesreviews": az.SelfSubjectRulesReview,
    BASE + "/namespaces/{namespace}/localsubjectaccessreviews": az.LocalSubjectAccessReview,
}


def is_resource_path(path: str) -> bool:
    """Kubernetes' split: /api/<v>/<resource>... and /apis/<g>/<v>/<resource>... are resource requests;
    /api, /api/v1, /apis/<g>/<v>, /healthz, /openapi/... are not."""
    parts = [p for p in path.split("/") if p]
    if parts and parts[0] == "api":
        return len(parts) >= 3
    if parts and parts[0] == "apis":
        return len(parts) >= 4
    return False


# Set on the request by the REST server's bootstrap-token middleware (a joining kubelet's token).
BOOTSTRAP_USER = "skiff.bootstrap_user"


def authenticate(request: web.Request, gate: Gate, *, public: bool) -> None:
    if not gate.secure:
        users.set_current(users.UNSECURED)
        return
    peer = request.transport.get_extra_info("peercert") if request.transport else None
    user = request.get(BOOTSTRAP_USER) or users.from_peercert(peer)
    header = request.headers.get("Authorization", "")
    if user is None and header:
        user = gate.token_user(header)  # an invalid token is 401, never anonymous
    if user is None:
        if not public:
            raise errors.Unauthenticated("Unauthorized: a client certificate from the cluster CA is required")
        user = users.ANONYMOUS_USER
    users.set_current(user)


def authorize(gate: Gate, request: web.Request, target: Target, verb: str) -> None:
    if target.subresource in ("exec", "attach", "portforward"):
        verb = "create"
    elif target.subresource == "log":
        verb = "get"
    selector = request.query.get("fieldSelector", "") if verb in ("list", "watch") else ""
    gate.check_resource(verb, target.info, target.namespace, target.name, target.subresource, field_selector=selector)


def add_routes(app: web.Application, gate: Gate, registry: Registry) -> None:
    for path, message in _ROUTES.items():
        app.router.add_post(path, _handler(gate, message))
    app.router.add_post(TOKEN_PATH, _token_request(gate, registry))
    app.router.add_post("/apis/authentication.k8s.io/v1/tokenreviews", _token_review(gate))
    app.router.add_post("/apis/authentication.k8s.io/v1/selfsubjectreviews", _whoami(gate))


def _token_request(gate: Gate, registry: Registry) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        ns, name = request.match_info["namespace"], request.match_info["name"]
        try:
            gate.check_resource("create", kinds.lookup_resource("serviceaccounts"), ns, name, "token")
            body = await read_body(request)
            if not isinstance(body, dict):
                raise errors.BadRequest("the body must be a TokenRequest")
            body = {k: v for k, v in body.items() if k not in ("apiVersion", "kind")}
            tr: Any = convert.from_dict(body, an.TokenRequest)
            tr.metadata.namespace, tr.metadata.name = ns, name
            return json_response(codec.encode(await tokenrequest.request(gate, registry, tr)), 201)
        except errors.SkiffError as err:
            return error_response(err, kind="TokenRequest", resource="serviceaccounts", name=name)

    return handle


def _whoami(gate: Gate) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return json_response(codec.encode(tokenrequest.whoami(gate)), 201)
        except errors.SkiffError as err:
            return error_response(
                err, kind="SelfSubjectReview", resource="selfsubjectreviews", group="authentication.k8s.io"
            )

    return handle


def _token_review(gate: Gate) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            body = await read_body(request)
            if not isinstance(body, dict):
                raise errors.BadRequest("the body must be a TokenReview")
            body = {k: v for k, v in body.items() if k not in ("apiVersion", "kind")}
            return json_response(codec.encode(tokenrequest.review(gate, convert.from_dict(body, an.TokenReview))), 201)
        except errors.SkiffError as err:
            return error_response(err, kind="TokenReview", resource="tokenreviews", group="authentication.k8s.io")

    return handle


def _handler(gate: Gate, message: type[Message]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    kind = message.DESCRIPTOR.name

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            body = await read_body(request)
            if not isinstance(body, dict) or body.get("kind", kind) != kind:
                raise errors.BadRequest(f"the body must be a {kind}")
            body = {k: v for k, v in body.items() if k not in ("apiVersion", "kind")}
            review = convert.from_dict(body, message)
            namespace = request.match_info.get("namespace", "")
            if namespace:
                if review.metadata.namespace and review.metadata.namespace != namespace:  # type: ignore[attr-defined]
                    raise errors.BadRequest(
                        "the namespace of the provided object does not match the namespace sent on the request"
                    )
                review.metadata.namespace = namespace  # type: ignore[attr-defined]
            answered = reviews.answer(gate, review)
            return json_response(codec.encode(answered), 201)
        except errors.SkiffError as err:
            return error_response(err, kind=kind, resource=kind.lower() + "s", group="authorization.k8s.io")

    return handle
