"""Domain errors and their ONE mapping to and from gRPC status.

Handlers, stores and controllers raise plain exceptions (`NotFound`, `Conflict`, `Invalid`, ...). They
become gRPC statuses in exactly one place, the server's error-mapping interceptor, which calls
`to_grpc_status`; clients turn a failed call back into the same exception with `from_rpc_error`. Nothing
else in Skiff should compare status codes by hand.

Two details make the round trip lossless:

* Every status carries a `google.rpc.ErrorInfo` detail whose `reason` is the exception class name
  (domain "skiff.io"). `Invalid` and `BadRequest` share INVALID_ARGUMENT, and the reason tells them
  apart; a status from a foreign server (no ErrorInfo) falls back to a code -> class table.
* `Invalid` also carries a `google.rpc.BadRequest` detail, one `FieldViolation` per `FieldError`
  (field=path, reason=reason, description=detail), so field paths survive the wire and the CLI can print
  them exactly like `kubectl` does.

Details travel the standard way (`grpc-status-details-bin` trailer, see grpcio-status), so any gRPC
client in any language can read them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]
from grpc_status import rpc_status

ERROR_DOMAIN = "skiff.io"
_DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class FieldError:
    """One problem with one field, Kubernetes style: path, reason and an optional detail."""

    path: str
    reason: str
    detail: str = ""

    def __str__(self) -> str:
        text = f"{self.path}: {self.reason}"
        return f"{text}: {self.detail}" if self.detail else text


class SkiffError(Exception):
    """Base class. `code` is the gRPC status code; `message` is safe to show to the caller.

    `metadata` is a small string map that travels in the ErrorInfo detail (e.g. the current
    resourceVersion for `Expired`), for callers that need machine-readable facts.
    """

    code: ClassVar[grpc.StatusCode] = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str = "", *, metadata: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.metadata: dict[str, str] = dict(metadata or {})

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class Invalid(SkiffError):
    """The object failed validation; `errors` lists every bad field.

    `Invalid('Pod "web" is invalid', [FieldError(...), ...])` gives the message
    `Pod "web" is invalid: spec.containers[0].image: Required value` (several errors are joined in
    brackets, like the Kubernetes apiserver does).
    """

    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(
        self,
        kind_or_msg: str,
        errors: Sequence[FieldError] = (),
        *,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        self.summary = kind_or_msg
        self.errors: list[FieldError] = list(errors)
        super().__init__(_invalid_message(kind_or_msg, self.errors), metadata=metadata)


def _invalid_message(summary: str, errors: Sequence[FieldError]) -> str:
    if not errors:
        return summary
    if len(errors) == 1:
        return f"{summary}: {errors[0]}"
    return f"{summary}: [{', '.join(str(e) for e in errors)}]"


class BadRequest(SkiffError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(SkiffError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(SkiffError):
    code = grpc.StatusCode.ALREADY_EXISTS


class Conflict(SkiffError):
    """Optimistic concurrency failed: the object has been modified since it was read."""

    code = grpc.StatusCode.ABORTED


class Expired(SkiffError):
    """The requested resourceVersion is too old (compacted); the client must relist."""

    code = grpc.StatusCode.OUT_OF_RANGE


class Forbidden(SkiffError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(SkiffError):
    code = grpc.StatusCode.UNAUTHENTICATED


class TooManyRequests(SkiffError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Timeout(SkiffError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Unavailable(SkiffError):
    code = grpc.StatusCode.UNAVAILABLE


class FailedPrecondition(SkiffError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class InternalError(SkiffError):
    code = grpc.StatusCode.INTERNAL


# Additions beyond the spec so that every status a peer can send maps to a typed exception.
class Unimplemented(SkiffError):
    code = grpc.StatusCode.UNIMPLEMENTED


class Cancelled(SkiffError):
    code = grpc.StatusCode.CANCELLED


class UnknownError(SkiffError):
    code = grpc.StatusCode.UNKNOWN


_BY_NAME: dict[str, type[SkiffError]] = {
    cls.__name__: cls
    for cls in (
        Invalid, BadRequest, NotFound, AlreadyExists, Conflict, Expired, Forbidden, Unauthenticated,
        TooManyRequests, Timeout, Unavailable, FailedPrecondition, InternalError, Unimplemented,
        Cancelled, UnknownError,
    )
}  # fmt: skip

# Code -> class for statuses without our ErrorInfo (foreign servers, grpc-core generated errors).
# INVALID_ARGUMENT maps to BadRequest unless field violations are present (then Invalid).
_BY_CODE: dict[grpc.StatusCode, type[SkiffError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: BadRequest,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.ABORTED: Conflict,
    grpc.StatusCode.OUT_OF_RANGE: Expired,
    grpc.StatusCode.PERMISSION_DENIED: Forbidden,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.RESOURCE_EXHAUSTED: TooManyRequests,
    grpc.StatusCode.DEADLINE_EXCEEDED: Timeout,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.UNIMPLEMENTED: Unimplemented,
    grpc.StatusCode.CANCELLED: Cancelled,
    grpc.StatusCode.UNKNOWN: UnknownError,
    grpc.StatusCode.DATA_LOSS: InternalError,
}


def _pack(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def to_grpc_status(err: SkiffError) -> grpc.Status:
    """Build the rich status for `err` (pass it to `context.abort(status.code, status.details,
    status.trailing_metadata)`)."""
    details = [
        _pack(error_details_pb2.ErrorInfo(reason=type(err).__name__, domain=ERROR_DOMAIN, metadata=err.metadata))
    ]
    if isinstance(err, Invalid) and err.errors:
        violations = [
            error_details_pb2.BadRequest.FieldViolation(field=e.path, reason=e.reason, description=e.detail)
            for e in err.errors
        ]
        details.append(_pack(error_details_pb2.BadRequest(field_violations=violations)))
    status = status_pb2.Status(code=err.code.value[0], message=err.message, details=details)
    return rpc_status.to_status(status)


_CODE_BY_INT = {c.value[0]: c for c in grpc.StatusCode}


def status_code_from_int(value: int) -> grpc.StatusCode:
    return _CODE_BY_INT.get(value, grpc.StatusCode.UNKNOWN)


def _trailing_status(err: grpc.RpcError) -> status_pb2.Status | None:
    trailing = getattr(err, "trailing_metadata", None)
    metadata = trailing() if callable(trailing) else None
    for key, value in metadata or ():
        if key == _DETAILS_KEY and isinstance(value, bytes):
            try:
                return status_pb2.Status.FromString(value)
            except Exception:  # a corrupt trailer must not hide the real error
                return None
    return None


def from_rpc_error(err: grpc.aio.AioRpcError | grpc.RpcError) -> SkiffError:
    """Turn a failed call back into the SkiffError the server raised (best effort for foreign servers)."""
    code_fn = getattr(err, "code", None)
    details_fn = getattr(err, "details", None)
    code = code_fn() if callable(code_fn) else grpc.StatusCode.UNKNOWN
    message = (details_fn() if callable(details_fn) else None) or ""
    if not isinstance(code, grpc.StatusCode):
        code = grpc.StatusCode.UNKNOWN

    info: error_details_pb2.ErrorInfo | None = None
    field_errors: list[FieldError] = []
    rich = _trailing_status(err)
    if rich is not None and rich.code == code.value[0]:
        for packed in rich.details:
            if packed.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                packed.Unpack(info)
            elif packed.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                packed.Unpack(bad)
                field_errors.extend(FieldError(v.field, v.reason, v.description) for v in bad.field_violations)

    cls: type[SkiffError] | None = None
    metadata: dict[str, str] = {}
    if info is not None and info.domain == ERROR_DOMAIN:
        cls = _BY_NAME.get(info.reason)
        metadata = dict(info.metadata)
    if cls is None or cls.code != code:
        cls = Invalid if field_errors and code == grpc.StatusCode.INVALID_ARGUMENT else _BY_CODE.get(code)
    if cls is None:  # OK cannot be an error; anything else unknown stays UNKNOWN
        cls = UnknownError

    if cls is Invalid:
        return _invalid_from_wire(message, field_errors, metadata)
    return cls(message, metadata=metadata)


@contextlib.contextmanager
def raise_skiff_errors() -> Iterator[None]:
    """Client convenience: `with raise_skiff_errors(): await stub.Get(req)` raises SkiffErrors instead of
    grpc.RpcError (the original stays attached as `__cause__`)."""
    try:
        yield
    except grpc.RpcError as err:
        raise from_rpc_error(err) from err


def _invalid_from_wire(message: str, errors: list[FieldError], metadata: dict[str, str]) -> Invalid:
    """Rebuild an Invalid whose message is exactly the wire message (the summary is recovered when the
    message has the usual `summary: errors` shape)."""
    summary = message
    suffix = _invalid_message("", errors)
    if errors and message.endswith(suffix):
        summary = message[: len(message) - len(suffix)]
    err = Invalid(summary, errors, metadata=metadata)
    err.message = message
    err.args = (message,)
    return err


__all__ = [
    "ERROR_DOMAIN",
    "AlreadyExists",
    "BadRequest",
    "Cancelled",
    "Conflict",
    "Expired",
    "FailedPrecondition",
    "FieldError",
    "Forbidden",
    "InternalError",
    "Invalid",
    "NotFound",
    "SkiffError",
    "Timeout",
    "TooManyRequests",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "UnknownError",
    "from_rpc_error",
    "raise_skiff_errors",
    "status_code_from_int",
    "to_grpc_status",
]
