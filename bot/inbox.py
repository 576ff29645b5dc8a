"""Incoming updates: stored first (keyed by platform id), acknowledged, then processed.

A redelivered update finds its row and has no second effect. The worker processes rows in
arrival order, one at a time, so each chat sees its own updates in order. A chat flooding the
bot gets its over-budget updates stored as "throttled" (bot.throttle): never processed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import throttle as flood
from bot.worker import Worker
from handlers import texts
from handlers.core import plan_error_reply, process
from handlers.messages import Incoming
from handlers.settings import Settings
from handlers.text import number_vi
from models import db
from models.tables import InboxUpdate

log = logging.getLogger(__name__)


async def store(
    sessions: async_sessionmaker[AsyncSession],
    inc: Incoming,
    *,
    update_key: str,
    now: datetime,
    throttle: flood.FloodThrottle | None = None,
) -> bool:
    """Keep the update; True if it is new. Raises if the database cannot take it (→ non-2xx).
    Over its chat's flood budget it is kept as "throttled" (bot.throttle): never processed."""
    decision = flood.decide(throttle, inc)
    try:
        async with sessions() as session, session.begin():
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            stmt = (
                insert(InboxUpdate)
                .values(
                    channel=inc.channel,
                    update_key=update_key,
                    payload=_storable(inc.to_dict()),
                    status=decision.status,
                    received_at=now,
                    processed_at=now if decision.verdict.throttled else None,
                )
                .on_conflict_do_nothing(index_elements=["channel", "update_key"])
            )
            result = await session.execute(stmt)
            new = bool(getattr(result, "rowcount", 0))
            if new:
                await decision.stored(session, inc, update_key=update_key, now=now)
    except BaseException:
        decision.undo()  # not stored: it comes again, and counts then
        raise
    if not new:
        decision.undo()  # a redelivery: counted, and decided, the first time
    return new


def _storable(payload: dict[str, Any]) -> dict[str, Any]:
    """A lone surrogate (broken UTF-16 in a platform's JSON) becomes U+FFFD: PostgreSQL refuses
    it, and an update the database refuses would be sent again and refused forever."""
    return {
        k: v.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        if isinstance(v, str)
        else v
        for k, v in payload.items()
    }


class InboxWorker(Worker):
    """Processes stored updates; kicked after a store, polling as a fallback."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        clock: Callable[[], datetime],
        on_planned: Callable[[], None],
        poll_interval: float = 1.0,
    ) -> None:
        super().__init__(poll_interval)
        self.sessions, self.settings, self.clock = sessions, settings, clock
        self.on_planned = on_planned

    async def drain(self, batch: int = 100) -> int:
        """Process what is pending now; returns how many updates were handled."""
        async with self.sessions() as session:
            ids = list(
                await session.scalars(
                    select(InboxUpdate.id)
                    .where(InboxUpdate.status == "pending")
                    .order_by(InboxUpdate.id)
                    .limit(batch)
                )
            )
        for update_id in ids:
            await self.process_one(update_id)
        return len(ids)

    async def process_one(self, update_id: int) -> None:
        origin = "?"  # the platform's own id, for the log line
        try:
            async with self.sessions() as session, session.begin():
                now = self.clock()
                # Claimed by a write, first: on PostgreSQL it locks the row; on SQLite the
                # transaction takes the write lock now, waiting its turn, instead of reading
                # first and failing (SQLITE_BUSY) when another writer commits in between.
                claimed = (
                    await session.execute(
                        update(InboxUpdate)
                        .where(InboxUpdate.id == update_id, InboxUpdate.status == "pending")
                        .values(status="done", processed_at=now)
                        .returning(InboxUpdate.channel, InboxUpdate.update_key, InboxUpdate.payload)
                    )
                ).first()
                if claimed is None:
                    return
                origin = f"{claimed.channel} update {claimed.update_key}"
                inc = Incoming.from_dict(claimed.payload)
                await process(session, inc, update_id=update_id, now=now, settings=self.settings)
        except Exception as exc:
            if db.fault(exc) is not None:
                # The database, not the update: it stays pending and the round stops; the
                # loop (bot.worker) tries again once the database works.
                raise
            log.exception("update %s failed (%s)", update_id, origin)
            await self._fail(update_id, exc)
        self.on_planned()

    async def _fail(self, update_id: int, exc: Exception) -> None:
        """Mark the update failed (never retried: it would fail again) and apologise once."""
        async with self.sessions() as session, session.begin():
            row = await session.get(InboxUpdate, update_id)
            if row is None or row.status != "pending":
                return
            now = self.clock()
            row.status, row.processed_at, row.error = "failed", now, repr(exc)[:2000]
            inc = Incoming.from_dict(row.payload)
            await plan_error_reply(session, inc, update_id=update_id, now=now)


STATUSES = ("pending", "done", "failed", "throttled")


async def status_counts(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """status -> number of stored updates."""
    stmt = select(InboxUpdate.status, func.count()).group_by(InboxUpdate.status)
    async with sessions() as session:
        return {status: n for status, n in await session.execute(stmt)}


def render_status(counts: dict[str, int]) -> str:
    """One line per status (every known one, also at zero), then the total."""
    statuses = [*STATUSES, *sorted(set(counts) - set(STATUSES))]
    names = {s: texts.INBOX_STATUS_NAMES.get(s, s) for s in statuses}
    width = max(len(name) for name in [*names.values(), texts.OUTBOX_STATUS_TOTAL_LABEL])
    lines = [texts.INBOX_STATUS_HEADER]
    for status, name in names.items():
        count = number_vi(counts.get(status, 0)).rjust(7)
        lines.append(texts.OUTBOX_STATUS_LINE.format(status=name.ljust(width), count=count))
    total = number_vi(sum(counts.values())).rjust(7)
    label = texts.OUTBOX_STATUS_TOTAL_LABEL.ljust(width)
    lines.append(texts.OUTBOX_STATUS_TOTAL.format(label=label, count=total))
    return "\n".join(lines)
