"""The delivery worker: sends planned deliveries in order per chat, retrying what can be retried.

Rows are sent oldest first. A chat whose earlier row is waiting for a retry gets nothing newer
until that row is sent or given up, so a conversation never arrives out of order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.base import Channel, DeliveryError
from bot.worker import Worker
from models.tables import Delivery

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8


def backoff(attempts: int) -> float:
    return float(min(2**attempts, 600))


class DeliveryWorker(Worker):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        channels: dict[str, Channel],
        clock: Callable[[], datetime],
        poll_interval: float = 1.0,
        concurrency: int = 16,
    ) -> None:
        super().__init__(poll_interval)
        self.sessions, self.channels, self.clock = sessions, channels, clock
        self._limit = asyncio.Semaphore(concurrency)

    async def drain(self, batch: int = 500) -> int:
        """Send what is due now on the channels this process runs; returns rows attempted."""
        now = self.clock()
        async with self.sessions() as session:
            rows = list(
                await session.scalars(
                    select(Delivery)
                    .where(Delivery.status == "pending", Delivery.channel.in_(self.channels))
                    .order_by(Delivery.id)
                    .limit(batch)
                )
            )
        queues: dict[tuple[str, str], list[Delivery]] = {}
        blocked: set[tuple[str, str]] = set()
        for row in rows:
            chat = (row.channel, row.chat_id)
            if chat in blocked:
                continue
            if row.next_attempt_at > now:
                blocked.add(chat)  # an earlier row waits: keep the order
                continue
            queues.setdefault(chat, []).append(row)
        await asyncio.gather(*(self._send_chat(q) for q in queues.values()))
        return sum(len(q) for q in queues.values())

    async def _send_chat(self, rows: list[Delivery]) -> None:
        async with self._limit:
            for row in rows:
                if not await self._send(row):
                    return  # later rows of this chat wait for this one

    async def _send(self, row: Delivery) -> bool:
        channel = self.channels[row.channel]
        error: DeliveryError | None = None
        try:
            await channel.deliver(row.chat_id, row.kind, row.payload)
        except DeliveryError as exc:
            error = exc
        except Exception as exc:  # a bug in a channel must not stop the worker
            log.exception("delivery %s crashed", row.id)
            error = DeliveryError(repr(exc))
        now = self.clock()
        async with self.sessions() as session, session.begin():
            fresh = await session.get(Delivery, row.id)
            if fresh is None:
                return True
            fresh.attempts += 1
            if error is None:
                fresh.status, fresh.sent_at, fresh.last_error = "sent", now, None
                return True
            fresh.last_error = str(error)[:2000]
            if row.kind == "ack":
                # Acknowledging a button press is only useful at once; never hold the chat.
                fresh.status = "failed"
            elif error.unreachable:
                fresh.status = "unreachable"
            elif error.permanent or fresh.attempts >= MAX_ATTEMPTS:
                fresh.status = "failed"
            else:
                delay = error.retry_after if error.retry_after else backoff(fresh.attempts)
                fresh.next_attempt_at = now + timedelta(seconds=delay)
            log.warning("delivery %s (%s) failed: %s", row.id, row.kind, error)
            return fresh.status != "pending"
