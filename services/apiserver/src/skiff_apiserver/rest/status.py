"""Domain errors as Kubernetes `Status` objects: the REST port's one error mapping.

The gRPC port maps a SkiffError to a gRPC status in skiff_common's interceptor; this module is its twin
for HTTP. The HTTP code, `reason` and `details.causes` are what Kubernetes' apiserver sends, because
kubectl and client-go build their messages from them (`Error from server (NotFound): pods "x" not found`,
`The Pod "x" is invalid: spec.containers[0].image: Required value`), so the clients print the right text
without us printing anything.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from skiff_common import errors


class UnsupportedMediaType(errors.SkiffError):
    """A body in a content type this endpoint does not take (e.g. a server-side apply patch)."""


class MethodNotAllowed(errors.SkiffError):
    """A verb the resource does not serve."""


# SkiffError class -> (HTTP code, Kubernetes StatusReason).
_REASONS: dict[type[errors.SkiffError], tuple[int, str]] = {
    errors.Invalid: (422, "Invalid"),
    errors.BadRequest: (400, "BadRequest"),
    errors.NotFound: (404, "NotFound"),
    errors.AlreadyExists: (409, "AlreadyExists"),
    errors.Conflict: (409, "Conflict"),
    errors.Expired: (410, "Expired"),
    errors.Forbidden: (403, "Forbidden"),
    errors.Unauthenticated: (401, "Unauthorized"),
    errors.TooManyRequests: (429, "TooManyRequests"),
    errors.Timeout: (504, "Timeout"),
    errors.Unavailable: (503, "ServiceUnavailable"),
    errors.FailedPrecondition: (409, "Conflict"),
    errors.InternalError: (500, "InternalError"),
    errors.Unimplemented: (405, "MethodNotAllowed"),
    errors.Cancelled: (499, "Timeout"),
    errors.UnknownError: (500, "InternalError"),
    UnsupportedMediaType: (415, "UnsupportedMediaType"),
    MethodNotAllowed: (405, "MethodNotAllowed"),
}

# FieldError.reason (Kubernetes' field.ErrorType strings) -> StatusCause.type.
_CAUSE_TYPES = {
    "Required value": "FieldValueRequired",
    "Invalid value": "FieldValueInvalid",
    "Unsupported value": "FieldValueNotSupported",
    "Duplicate value": "FieldValueDuplicate",
    "Forbidden": "FieldValueForbidden",
    "Too long": "FieldValueTooLong",
    "Too many": "FieldValueTooMany",
    "Not found": "FieldValueNotFound",
    "unknown field": "FieldValueUnknown",
    "Internal error": "InternalError",
}


def status_body(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None, *, success: bool = False
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if success else "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    if success:
        body.pop("reason")
        body.pop("message")
    return body


def error_status(
    err: errors.SkiffError, *, kind: str = "", resource: str = "", group: str = "", name: str = ""
) -> tuple[int, dict[str, Any]]:
    """(HTTP code, Status) of a domain error. `kind` names the object for Invalid (Kubernetes puts the Kind
    there; every other reason carries the resource)."""
    found = next((_REASONS[c] for c in type(err).__mro__ if c in _REASONS), None)
    code, reason = found or (500, "InternalError")
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if isinstance(err, errors.Invalid):
        if kind:
            details["kind"] = kind
        details["causes"] = [
            {
                "reason": _CAUSE_TYPES.get(e.reason, e.reason),
                "message": f"{e.reason}: {e.detail}" if e.detail else e.reason,
                "field": e.path,
            }
            for e in err.errors
        ]
        if not err.errors:  # a summary alone: kubectl prints "The request is invalid: <message>"
            details.pop("causes")
    elif resource:
        details["kind"] = resource
    causes = getattr(err, "causes", None)  # e.g. server-side apply's FieldManagerConflicts
    if causes and not isinstance(err, errors.Invalid):
        details["causes"] = causes
    if isinstance(err, errors.TooManyRequests):
        details["retryAfterSeconds"] = 1
    message = err.message
    if group and resource and not isinstance(err, errors.Invalid):
        # Kubernetes names a resource of a group with its group: `deployments.apps "x" not found`.
        message = message.replace(f'{resource} "', f'{resource}.{group} "', 1)
    body = status_body(code, reason, message, details)
    if isinstance(err, errors.Expired) and err.metadata.get("continue"):
        # An expired continue token: Kubernetes hands back a token to go on inconsistently (ListMeta).
        body["metadata"]["continue"] = err.metadata["continue"]
    return code, body


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None, content_type: str = "application/json"
) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(),
        status=status,
        headers={"Content-Type": content_type, **(headers or {})},
    )


def error_response(err: errors.SkiffError, **names: str) -> web.Response:
    code, body = error_status(err, **names)
    headers = {"Retry-After": "1"} if code == 429 else None
    return json_response(body, code, headers)
