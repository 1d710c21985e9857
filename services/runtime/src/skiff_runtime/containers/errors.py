"""The one place where executor errors become Skiff domain errors (and so gRPC codes)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from skiff_common.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldError,
    InternalError,
    Invalid,
    NotFound,
    Timeout,
)

from skiff_runtime.oci.errors import (
    ContainerExists,
    ContainerNotFound,
    ExecutorError,
    InvalidBundle,
    InvalidState,
)


@contextmanager
def executor_errors(action: str) -> Iterator[None]:
    try:
        yield
    except ContainerNotFound as err:
        raise NotFound(f"{action}: {err}") from None
    except ContainerExists as err:
        raise AlreadyExists(f"{action}: {err}") from None
    except InvalidBundle as err:
        raise Invalid(f"{action}: OCI spec is invalid", [FieldError(err.field, "Invalid value", err.reason)]) from None
    except InvalidState as err:
        raise FailedPrecondition(f"{action}: {err}") from None
    except TimeoutError as err:
        raise Timeout(f"{action}: {err}") from None
    except ExecutorError as err:
        raise InternalError(f"{action}: {err}") from None
