"""bot.group_commit: items asked for together are flushed together, and errors stay fair."""

from __future__ import annotations

import asyncio

import pytest

from bot.group_commit import GroupCommit


async def test_items_submitted_together_share_a_flush_and_later_ones_the_next() -> None:
    flushes: list[list[int]] = []
    release = asyncio.Event()

    async def flush(items: list[int]) -> list[int]:
        flushes.append(items)
        await release.wait()  # a slow transaction: what arrives meanwhile waits for the next
        return [item * 10 for item in items]

    group: GroupCommit[int, int] = GroupCommit(flush, limit=3)
    first = [asyncio.create_task(group.submit(i)) for i in range(5)]
    await asyncio.sleep(0.01)
    later = [asyncio.create_task(group.submit(i)) for i in (5, 6)]
    await asyncio.sleep(0.01)
    release.set()
    assert await asyncio.gather(*first, *later) == [0, 10, 20, 30, 40, 50, 60]
    assert flushes == [[0, 1, 2], [3, 4, 5], [6]]  # in order, at most `limit` at a time


async def test_a_failed_flush_fails_every_item_unless_the_trouble_may_be_one_items() -> None:
    async def flush(items: list[str]) -> list[str]:
        if "bad" in items:
            raise ValueError("bad item")
        if "down" in items:
            raise ConnectionError("database down")
        return [item.upper() for item in items]

    group: GroupCommit[str, str] = GroupCommit(
        flush, alone=lambda exc: not isinstance(exc, ConnectionError)
    )
    results = await asyncio.gather(
        *(group.submit(item) for item in ("a", "bad", "c")), return_exceptions=True
    )
    assert results[0] == "A" and results[2] == "C" and isinstance(results[1], ValueError)

    results = await asyncio.gather(
        *(group.submit(item) for item in ("a", "down", "c")), return_exceptions=True
    )
    assert all(isinstance(r, ConnectionError) for r in results)  # never tried one by one


async def test_a_lone_item_goes_at_once_and_a_cancelled_flush_leaves_no_waiter_hanging() -> None:
    started = asyncio.Event()

    async def flush(items: list[int]) -> list[int]:
        started.set()
        await asyncio.sleep(60)
        return items

    group: GroupCommit[int, int] = GroupCommit(flush)
    waiter = asyncio.create_task(group.submit(1))
    await asyncio.wait_for(started.wait(), 1)
    assert group._running is not None
    group._running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiter, 1)
