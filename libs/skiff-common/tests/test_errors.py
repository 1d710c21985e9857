"""errors.py: message shapes and the lossless status round trip (without a network: the trailer is the
same bytes grpc would carry)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from skiff_common import errors
from skiff_common.errors import FieldError, Invalid, from_rpc_error, to_grpc_status


class FakeRpcError(grpc.RpcError):
    """What a client sees: code, details and trailing metadata (pure data, so a fake is fine)."""

    def __init__(self, code: grpc.StatusCode, details: str, trailing: Any = ()) -> None:
        self._code, self._details, self._trailing = code, details, trailing

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> Any:
        return self._trailing


def over_the_wire(err: errors.SkiffError) -> errors.SkiffError:
    status = to_grpc_status(err)
    return from_rpc_error(FakeRpcError(status.code, status.details, status.trailing_metadata))


def test_field_error_str() -> None:
    assert str(FieldError("spec.x", "Required value")) == "spec.x: Required value"
    assert str(FieldError("metadata.name", "Invalid value", "must be no more than 63 characters")) == (
        "metadata.name: Invalid value: must be no more than 63 characters"
    )


def test_invalid_message_like_kubernetes() -> None:
    one = Invalid('Pod "web" is invalid', [FieldError("spec.containers[0].image", "Required value")])
    assert one.message == 'Pod "web" is invalid: spec.containers[0].image: Required value'
    two = Invalid('Pod "web" is invalid', [FieldError("a", "Required value"), FieldError("b", "unknown field")])
    assert two.message == 'Pod "web" is invalid: [a: Required value, b: unknown field]'
    assert one.code == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (errors.BadRequest, grpc.StatusCode.INVALID_ARGUMENT),
        (errors.NotFound, grpc.StatusCode.NOT_FOUND),
        (errors.AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
        (errors.Conflict, grpc.StatusCode.ABORTED),
        (errors.Expired, grpc.StatusCode.OUT_OF_RANGE),
        (errors.Forbidden, grpc.StatusCode.PERMISSION_DENIED),
        (errors.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
        (errors.TooManyRequests, grpc.StatusCode.RESOURCE_EXHAUSTED),
        (errors.Timeout, grpc.StatusCode.DEADLINE_EXCEEDED),
        (errors.Unavailable, grpc.StatusCode.UNAVAILABLE),
        (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
        (errors.InternalError, grpc.StatusCode.INTERNAL),
    ],
)
def test_round_trip_keeps_class_code_and_message(cls: type[errors.SkiffError], code: grpc.StatusCode) -> None:
    back = over_the_wire(cls("something happened", metadata={"resource_version": "42"}))
    assert type(back) is cls
    assert back.code == code
    assert back.message == "something happened"
    assert back.metadata == {"resource_version": "42"}


def test_invalid_round_trip_keeps_field_errors() -> None:
    original = Invalid(
        'Pod "web" is invalid',
        [
            FieldError("spec.containers[0].image", "Required value"),
            FieldError("metadata.name", "Invalid value", "too long"),
        ],
    )
    back = over_the_wire(original)
    assert isinstance(back, Invalid)
    assert back.errors == original.errors
    assert back.message == original.message
    assert back.summary == 'Pod "web" is invalid'


def test_bad_request_is_not_confused_with_invalid() -> None:
    assert type(over_the_wire(errors.BadRequest("missing body"))) is errors.BadRequest
    assert type(over_the_wire(Invalid("x is invalid", []))) is Invalid


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (grpc.StatusCode.NOT_FOUND, errors.NotFound),
        (grpc.StatusCode.INVALID_ARGUMENT, errors.BadRequest),
        (grpc.StatusCode.UNAVAILABLE, errors.Unavailable),
        (grpc.StatusCode.UNIMPLEMENTED, errors.Unimplemented),
        (grpc.StatusCode.DATA_LOSS, errors.InternalError),
    ],
)
def test_foreign_status_without_details_maps_by_code(code: grpc.StatusCode, cls: type[errors.SkiffError]) -> None:
    back = from_rpc_error(FakeRpcError(code, "from elsewhere"))
    assert type(back) is cls
    assert back.message == "from elsewhere"


def test_corrupt_details_trailer_falls_back_to_code() -> None:
    back = from_rpc_error(
        FakeRpcError(grpc.StatusCode.NOT_FOUND, "x", (("grpc-status-details-bin", b"\xff\x00garbage"),))
    )
    assert type(back) is errors.NotFound
