"""Group commit: what many tasks ask of the database at about the same moment, done in one go.

Each statement costs far more than the rows it touches (a round trip, on SQLite a hop to the
driver's thread, SQLAlchemy's own work), and so does each transaction. Tasks that each claim or
record one delivery hand their item to a GroupCommit and wait; one flush does every item that
arrived while the previous flush ran, so under load the batches grow by themselves and when
idle an item goes alone, at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """`flush(items)` returns one result per item, in order. If it raises, every waiter of that
    flush gets the exception; unless `alone(exc)` says the trouble may be one item's own (not
    the database's): then each item is flushed alone, so only that one fails."""

    def __init__(
        self,
        flush: Callable[[list[T]], Awaitable[Sequence[R]]],
        *,
        limit: int = 100,
        alone: Callable[[Exception], bool] = lambda exc: False,
    ) -> None:
        self._flush, self._limit, self._alone = flush, limit, alone
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._running: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._running is None:
            self._running = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        try:
            await asyncio.sleep(0)  # the other tasks woken with this one join the first flush
            while self._waiting:
                batch = self._waiting[: self._limit]
                del self._waiting[: self._limit]
                try:
                    results: Sequence[R | Exception] = await self._flush([i for i, _ in batch])
                except asyncio.CancelledError:
                    for _, future in batch:
                        future.cancel()
                    raise
                except Exception as exc:
                    if len(batch) > 1 and self._alone(exc):
                        results = [await self._flush_alone(item) for item, _ in batch]
                    else:
                        results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._running = None
            for _, future in self._waiting:  # cancelled with work left: nothing may hang
                if not future.done():
                    future.cancel()
            self._waiting.clear()

    async def _flush_alone(self, item: T) -> R | Exception:
        try:
            return (await self._flush([item]))[0]
        except Exception as exc:
            return exc
