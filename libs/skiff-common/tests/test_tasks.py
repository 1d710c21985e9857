"""tasks.py: crashes are logged with traceback and task name; cancellation is quiet; TaskSet shuts down."""

from __future__ import annotations

import asyncio

from skiff_common.tasks import TaskSet, create_guarded_task

from .conftest import LogCapture


async def _crash() -> None:
    await asyncio.sleep(0)
    raise ValueError("informer exploded")


async def _forever() -> None:
    await asyncio.Event().wait()


async def test_crash_is_logged_with_name_and_traceback(logs: LogCapture) -> None:
    task = create_guarded_task(_crash(), name="pod-informer")
    assert task.get_name() == "pod-informer"
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0)  # done-callbacks run on the next loop iteration
    (line,) = [entry for entry in logs.lines() if entry["event"] == "background task crashed"]
    assert line["task"] == "pod-informer"
    assert line["level"] == "error"
    assert "ValueError: informer exploded" in line["exception"]


async def test_cancellation_is_not_a_crash(logs: LogCapture) -> None:
    task = create_guarded_task(_forever(), name="waiter")
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0)
    assert not [entry for entry in logs.lines() if entry["event"] == "background task crashed"]


async def test_taskset_cancel_all(logs: LogCapture) -> None:
    tasks = TaskSet()
    a = tasks.spawn(_forever(), name="worker-1")
    b = tasks.spawn(_forever(), name="worker-2")
    crashed = tasks.spawn(_crash(), name="worker-3")
    await asyncio.gather(crashed, return_exceptions=True)
    await asyncio.sleep(0)
    assert tasks.names == ["worker-1", "worker-2"]
    await tasks.cancel_all()
    assert a.cancelled() and b.cancelled()
    assert len(tasks) == 0
    crash_lines = [entry for entry in logs.lines() if entry["event"] == "background task crashed"]
    assert [entry["task"] for entry in crash_lines] == ["worker-3"]


async def test_taskset_as_context_manager() -> None:
    async with TaskSet() as tasks:
        t = tasks.spawn(_forever(), name="x")
        await asyncio.sleep(0)
    assert t.cancelled()
