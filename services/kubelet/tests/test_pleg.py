"""PLEG: lifecycle events between two relists (table) and the cache's freshness rule (GetNewerThan)."""

from __future__ import annotations

import asyncio

import pytest
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_kubelet.pleg import EventType, PodCache, Seen, compute_events
from skiff_kubelet.runtime_state import PodRuntime

RUNNING, EXITED, CREATED = cri.CONTAINER_RUNNING, cri.CONTAINER_EXITED, cri.CONTAINER_CREATED
READY, NOTREADY = cri.SANDBOX_READY, cri.SANDBOX_NOTREADY


def c(state: int) -> Seen:
    return Seen("u", "ns/p", state, sandbox=False)


def sb(state: int) -> Seen:
    return Seen("u", "ns/p", state, sandbox=True)


E = EventType
CASES = [
    ("nothing changed", {"c": c(RUNNING), "s": sb(READY)}, {"c": c(RUNNING), "s": sb(READY)}, []),
    ("new running container", {}, {"c": c(RUNNING)}, [E.CONTAINER_STARTED]),
    ("created", {}, {"c": c(CREATED)}, [E.CONTAINER_CHANGED]),
    ("created -> running", {"c": c(CREATED)}, {"c": c(RUNNING)}, [E.CONTAINER_STARTED]),
    ("running -> exited", {"c": c(RUNNING)}, {"c": c(EXITED)}, [E.CONTAINER_DIED]),
    ("appears already exited", {}, {"c": c(EXITED)}, [E.CONTAINER_DIED]),
    ("exited -> removed", {"c": c(EXITED)}, {}, [E.CONTAINER_REMOVED]),
    ("running -> gone: died, then removed", {"c": c(RUNNING)}, {}, [E.CONTAINER_DIED, E.CONTAINER_REMOVED]),
    ("new sandbox", {}, {"s": sb(READY)}, [E.SANDBOX_CHANGED]),
    ("sandbox stopped", {"s": sb(READY)}, {"s": sb(NOTREADY)}, [E.SANDBOX_CHANGED]),
    ("sandbox removed", {"s": sb(NOTREADY)}, {}, [E.SANDBOX_CHANGED]),
]


@pytest.mark.parametrize(("old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_compute_events(old: dict[str, Seen], new: dict[str, Seen], expected: list[EventType]) -> None:
    events = compute_events(old, new)
    assert [e.type for e in events] == expected
    assert all((e.uid, e.key) == ("u", "ns/p") for e in events)


async def test_get_newer_than_waits_for_the_first_relist_and_for_one_after_a_write() -> None:
    cache = PodCache()
    first = asyncio.create_task(cache.get_newer_than("u", 0.0))
    await asyncio.sleep(0)
    assert not first.done()  # no relist yet: an empty cache must not read as "nothing runs"
    rt = PodRuntime(sandboxes=[cri.PodSandbox(id="sb")])
    cache.set("u", rt, 10.0)
    await cache.update_time(10.0)
    assert (await first) is rt

    after_write = asyncio.create_task(cache.get_newer_than("u", 12.0))  # we wrote at 12
    await asyncio.sleep(0)
    assert not after_write.done()
    await cache.update_time(11.0)  # a relist that started before the write does not count
    await asyncio.sleep(0)
    assert not after_write.done()
    await cache.update_time(13.0)
    assert (await after_write) is rt
    assert (await cache.get_newer_than("gone", 12.5)).sandboxes == []  # unknown pods read as empty


async def test_an_entry_refreshed_after_the_write_is_fresh_before_the_relist_completes() -> None:
    cache = PodCache()
    await cache.update_time(5.0)
    rt = PodRuntime()
    cache.set("u", rt, 9.0)
    assert (await asyncio.wait_for(cache.get_newer_than("u", 8.0), 1)) is rt


async def test_a_pod_whose_inspection_failed_is_not_fresh_until_inspected_again() -> None:
    cache = PodCache()
    old = PodRuntime()
    cache.set("u", old, 1.0)
    cache.mark_stale("u")
    await cache.update_time(5.0)
    waiting = asyncio.create_task(cache.get_newer_than("u", 2.0))
    await asyncio.sleep(0)
    assert not waiting.done()  # the relist at 5 completed, but without this pod's new state
    assert (await asyncio.wait_for(cache.get_newer_than("other", 2.0), 1)).sandboxes == []
    new = PodRuntime(sandboxes=[cri.PodSandbox(id="sb")])
    cache.set("u", new, 6.0)
    await cache.update_time(6.0)
    assert (await waiting) is new


async def test_a_published_entry_wakes_its_waiting_sync_before_the_relist_completes() -> None:
    """In a burst the relist inspects for seconds; a pod already inspected is handed to its waiting sync
    at once (publish), not when the 99 others are done (update_time)."""
    cache = PodCache()
    await cache.update_time(5.0)  # an earlier relist
    waiting = asyncio.create_task(cache.get_newer_than("u", 8.0))  # the sync wrote at 8
    await asyncio.sleep(0)
    assert not waiting.done()
    rt = PodRuntime(sandboxes=[cri.PodSandbox(id="sb")])
    await cache.publish("u", rt, 9.0)  # inspected by the relist that started at 9, still running
    assert (await asyncio.wait_for(waiting, 1)) is rt
