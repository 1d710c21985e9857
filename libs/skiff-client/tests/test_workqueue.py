"""RateLimitingQueue: pure queue semantics (no servers)."""

from __future__ import annotations

import asyncio

import pytest
from skiff_client.workqueue import (
    ItemExponentialLimiter,
    MaxOfLimiter,
    RateLimitingQueue,
    ShutDown,
    TokenBucketLimiter,
)


async def test_duplicates_collapse() -> None:
    q: RateLimitingQueue[str] = RateLimitingQueue()
    for _ in range(3):
        q.add("a")
    q.add("b")
    assert len(q) == 2
    assert await q.get() == "a"
    assert await q.get() == "b"
    assert len(q) == 0


async def test_key_in_processing_is_not_handed_out_twice() -> None:
    q: RateLimitingQueue[str] = RateLimitingQueue()
    q.add("a")
    key = await q.get()
    q.add("a")  # changed while a worker holds it
    assert len(q) == 0, "must wait for done()"
    second = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not second.done()
    q.done(key)
    assert await asyncio.wait_for(second, 1) == "a"
    q.done("a")
    assert len(q) == 0


async def test_done_without_readd_drops_key() -> None:
    q: RateLimitingQueue[str] = RateLimitingQueue()
    q.add("a")
    q.done(await q.get())
    assert len(q) == 0


async def test_get_waits_for_add() -> None:
    q: RateLimitingQueue[str] = RateLimitingQueue()
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not getter.done()
    q.add("x")
    assert await asyncio.wait_for(getter, 1) == "x"


async def test_add_after_delivers_later_and_keeps_earliest() -> None:
    q: RateLimitingQueue[str] = RateLimitingQueue()
    q.add_after("a", 3600)
    q.add_after("a", 0.01)  # earlier wins
    assert len(q) == 0
    assert await asyncio.wait_for(q.get(), 5) == "a"


async def test_add_after_zero_is_immediate() -> None:
    q: RateLimitingQueue[str] = RateLimitingQueue()
    q.add_after("a", 0)
    assert len(q) == 1


async def test_shutdown_wakes_getters_and_refuses_adds() -> None:
    q: RateLimitingQueue[str] = RateLimitingQueue()
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.add_after("later", 3600)
    q.shutdown()
    with pytest.raises(ShutDown):
        await asyncio.wait_for(getter, 1)
    q.add("a")
    assert len(q) == 0
    with pytest.raises(ShutDown):
        await q.get()


async def test_async_iteration_ends_on_shutdown() -> None:
    q: RateLimitingQueue[str] = RateLimitingQueue()
    q.add("a")
    q.add("b")
    seen = []
    async for key in q:
        seen.append(key)
        q.done(key)
        if len(seen) == 2:
            q.shutdown()
    assert seen == ["a", "b"]


def test_item_exponential_backoff_doubles_caps_and_forgets() -> None:
    lim: ItemExponentialLimiter[str] = ItemExponentialLimiter(base=0.005, cap=1000)
    assert [lim.when("k") for _ in range(4)] == [0.005, 0.01, 0.02, 0.04]
    assert lim.when("other") == 0.005
    assert lim.num_requeues("k") == 4
    for _ in range(100):
        last = lim.when("k")
    assert last == 1000
    lim.forget("k")
    assert lim.num_requeues("k") == 0
    assert lim.when("k") == 0.005


def test_token_bucket_burst_then_paced() -> None:
    now = [0.0]
    bucket = TokenBucketLimiter(qps=10, burst=3, clock=lambda: now[0])
    assert [bucket.when() for _ in range(3)] == [0, 0, 0]
    assert bucket.when() == pytest.approx(0.1)
    assert bucket.when() == pytest.approx(0.2)
    now[0] = 10.0  # refilled to burst, not beyond
    assert [bucket.when() for _ in range(3)] == [0, 0, 0]
    assert bucket.when() > 0


def test_max_of_limiter_takes_larger_delay() -> None:
    now = [0.0]
    lim: MaxOfLimiter[str] = MaxOfLimiter(
        ItemExponentialLimiter(base=1.0, cap=100), TokenBucketLimiter(qps=1, burst=1, clock=lambda: now[0])
    )
    assert lim.when("a") == 1.0  # item backoff dominates (bucket had a token)
    assert lim.when("b") == pytest.approx(1.0)  # bucket empty: 1 s, item 1 s
    assert lim.when("a") == 2.0
    lim.forget("a")
    assert lim.num_requeues("a") == 0


async def test_add_rate_limited_uses_limiter() -> None:
    q: RateLimitingQueue[str] = RateLimitingQueue(MaxOfLimiter(ItemExponentialLimiter(base=0.001)))
    q.add_rate_limited("a")
    assert q.num_requeues("a") == 1
    assert await asyncio.wait_for(q.get(), 5) == "a"
    q.forget("a")
    assert q.num_requeues("a") == 0
