"""SelfSubjectAccessReview (`kubectl auth can-i`): Skiff has no authorization yet -- every client with a
certificate from the cluster CA may do everything, on the gRPC port as here -- so the answer is always
"allowed", with that reason, and the review is echoed back as Kubernetes does."""

from __future__ import annotations

from aiohttp import web
from skiff_apiserver.rest.handlers import read_body
from skiff_apiserver.rest.status import json_response
from skiff_common import errors

PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
REASON = "Skiff has no authorization: every authenticated user may do everything"


async def self_subject_access_review(request: web.Request) -> web.Response:
    body = await read_body(request)
    if not isinstance(body, dict) or body.get("kind", "SelfSubjectAccessReview") != "SelfSubjectAccessReview":
        raise errors.BadRequest("the body must be a SelfSubjectAccessReview")
    spec = body.get("spec") or {}
    if not spec.get("resourceAttributes") and not spec.get("nonResourceAttributes"):
        raise errors.Invalid(
            "SelfSubjectAccessReview is invalid",
            [errors.FieldError("spec", "Invalid value", "exactly one of resourceAttributes or nonResourceAttributes")],
        )
    review = {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {},
        "spec": spec,
        "status": {"allowed": True, "reason": REASON},
    }
    return json_response(review, 201)
