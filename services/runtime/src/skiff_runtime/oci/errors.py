"""Executor errors.

The executor sits below the CRI layer and must not depend on gRPC, so it raises these plain exceptions;
the CRI layer maps them onto ``skiff_common`` errors / gRPC codes in its single mapping place:

- ``ContainerNotFound``  -> NOT_FOUND
- ``ContainerExists``    -> ALREADY_EXISTS
- ``InvalidBundle``      -> INVALID_ARGUMENT (``field`` is the config.json path, e.g. ``process.args``)
- ``InvalidState``       -> FAILED_PRECONDITION (e.g. delete of a running container)
- ``ExecutorError``      -> INTERNAL (setup failed inside the shim / container init)
"""

from __future__ import annotations


class ExecutorError(Exception):
    """Base class; also used as-is for failures reported by the shim or the container init."""


class ContainerNotFound(ExecutorError):
    def __init__(self, container_id: str) -> None:
        super().__init__(f"container {container_id!r} not found")
        self.container_id = container_id


class ContainerExists(ExecutorError):
    def __init__(self, container_id: str) -> None:
        super().__init__(f"container {container_id!r} already exists")
        self.container_id = container_id


class InvalidState(ExecutorError):
    """The operation is not allowed in the container's current status."""


class InvalidBundle(ExecutorError):
    """config.json (or an argument) is malformed: names the field and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
