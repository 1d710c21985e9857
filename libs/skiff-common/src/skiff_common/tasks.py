"""Guarded background tasks: every long-lived coroutine in Skiff is started here.

A bare `asyncio.create_task` has two classic failure modes: the task object is garbage-collected while
still running (asyncio keeps only a weak reference), and an exception inside it is reported only when
the task is destroyed -- often never. `create_guarded_task` names the task, keeps a strong reference until
it finishes, and logs a crash with its traceback the moment it happens. Cancellation is not a crash.

`TaskSet` owns the tasks of one component (informers, workers, heartbeats) so shutdown is one call:
`await tasks.cancel_all()` cancels everything and waits for it, never raising.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import structlog

from skiff_common.observability.logging import get_logger

T = TypeVar("T")

_log = get_logger("skiff.tasks")
_running: set[asyncio.Task[Any]] = set()  # strong references; see the module docstring


def _report(task: asyncio.Task[Any], logger: Any) -> None:
    _running.discard(task)
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        logger.error("background task crashed", task=task.get_name(), exc_info=exc)


def create_guarded_task(
    coro: Coroutine[Any, Any, T], *, name: str, logger: structlog.stdlib.BoundLogger | None = None
) -> asyncio.Task[T]:
    """Schedule `coro` as a task called `name`; a crash is logged (with traceback) when it happens."""
    task = asyncio.get_running_loop().create_task(coro, name=name)
    _running.add(task)
    chosen = logger if logger is not None else _log
    task.add_done_callback(lambda t: _report(t, chosen))
    return task


class TaskSet:
    """A named group of guarded tasks with one-call shutdown."""

    def __init__(self, logger: structlog.stdlib.BoundLogger | None = None) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._logger = logger

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        task = create_guarded_task(coro, name=name, logger=self._logger)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[asyncio.Task[Any]]:
        return iter(list(self._tasks))

    @property
    def names(self) -> list[str]:
        return sorted(t.get_name() for t in self._tasks)

    async def cancel_all(self) -> None:
        """Cancel every task and wait until all have finished; their exceptions are already logged."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.difference_update(tasks)

    async def __aenter__(self) -> TaskSet:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.cancel_all()


__all__ = ["TaskSet", "create_guarded_task"]
