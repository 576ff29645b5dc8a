"""Incoming updates: stored first (keyed by platform id), acknowledged, then processed.

A redelivered update finds its row and has no second effect. Updates that arrive together are
stored in one transaction (InboxStore). The worker processes rows in arrival order, one after
the other (several in one transaction), so each chat sees its own updates in order. A chat
flooding the bot gets its over-budget updates stored as "throttled" (bot.throttle): never
processed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import throttle as flood
from bot.group_commit import GroupCommit
from bot.worker import Worker
from handlers import texts
from handlers.core import plan_error_reply, process
from handlers.messages import Incoming
from handlers.settings import Settings
from handlers.text import number_vi
from models import db
from models.tables import InboxUpdate

log = logging.getLogger(__name__)

# Updates processed in one transaction. On SQLite it holds the write lock (a webhook's store
# waits for it): 20 updates take about 0.1 s on the 2-core machine.
PER_TRANSACTION = 20


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

    async def alone(stored: _Stored) -> bool:
        async with sessions() as session, session.begin():
            return await _insert(session, stored)

    return await _store_deciding(alone, inc, update_key, now, throttle)


class InboxStore:
    """`store` for the running bot: updates that arrive together (concurrent webhook requests,
    a getUpdates batch) are stored in one transaction (bot.group_commit)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        throttle: flood.FloodThrottle | None = None,
    ) -> None:
        self.sessions, self.throttle = sessions, throttle
        self._group = GroupCommit(self._store_many, alone=lambda exc: db.fault(exc) is None)

    async def __call__(self, inc: Incoming, *, update_key: str, now: datetime) -> bool:
        return await _store_deciding(self._group.submit, inc, update_key, now, self.throttle)

    async def _store_many(self, updates: list[_Stored]) -> list[bool]:
        async with self.sessions() as session, session.begin():
            return [await _insert(session, stored) for stored in updates]


@dataclass(frozen=True)
class _Stored:
    inc: Incoming
    update_key: str
    now: datetime
    decision: flood.Decision


async def _store_deciding(
    insert: Callable[[_Stored], Awaitable[bool]],
    inc: Incoming,
    update_key: str,
    now: datetime,
    throttle: flood.FloodThrottle | None,
) -> bool:
    decision = flood.decide(throttle, inc)
    try:
        new = await insert(_Stored(inc, update_key, now, decision))
    except BaseException:
        decision.undo()  # not stored: it comes again, and counts then
        raise
    if not new:
        decision.undo()  # a redelivery: counted, and decided, the first time
    return new


async def _insert(session: AsyncSession, stored: _Stored) -> bool:
    inc, decision, now = stored.inc, stored.decision, stored.now
    values = {
        "channel": inc.channel,
        "update_key": stored.update_key,
        "payload": _storable(inc.to_dict()),
        "status": decision.status,
        "received_at": now,
        "processed_at": now if decision.verdict.throttled else None,
    }
    stmt = _INSERT[session.get_bind().dialect.name]
    new = bool(getattr(await session.execute(stmt, values), "rowcount", 0))
    if new:
        await decision.stored(session, inc, update_key=stored.update_key, now=now)
    return new


# A key stored already: rowcount 0.
_INSERT = db.insert_if_new(InboxUpdate.__table__, "channel", "update_key")


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
        per_transaction: int = PER_TRANSACTION,
    ) -> None:
        super().__init__(poll_interval)
        self.sessions, self.settings, self.clock = sessions, settings, clock
        self.on_planned = on_planned
        self.per_transaction = per_transaction

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
        for start in range(0, len(ids), self.per_transaction):
            await self.process(ids[start : start + self.per_transaction])
        return len(ids)

    async def process(self, update_ids: list[int]) -> None:
        """Process these updates, in id order, in one transaction: each costs a few statements,
        and a commit, a claim and a look at the outbox per update cost as much again. If one
        fails, none is kept and each is processed alone, so only that one fails."""
        try:
            await self._process_together(update_ids)
        except Exception as exc:
            if db.fault(exc) is not None:
                # The database, not the updates: they stay pending and the round stops; the
                # loop (bot.worker) tries again once the database works.
                raise
            if len(update_ids) > 1:
                for update_id in update_ids:
                    await self.process([update_id])
                return
            await self._fail(update_ids[0], exc)
        self.on_planned()

    async def _process_together(self, update_ids: list[int]) -> None:
        async with self.sessions() as session, session.begin():
            # Claimed by a write, first: on PostgreSQL it locks the rows; on SQLite the
            # transaction takes the write lock now, waiting its turn, instead of reading
            # first and failing (SQLITE_BUSY) when another writer commits in between.
            claimed = (
                await session.execute(
                    update(InboxUpdate)
                    .where(InboxUpdate.id.in_(update_ids), InboxUpdate.status == "pending")
                    .values(status="done", processed_at=self.clock())
                    .returning(
                        InboxUpdate.id,
                        InboxUpdate.channel,
                        InboxUpdate.update_key,
                        InboxUpdate.payload,
                    )
                )
            ).all()
            for row in sorted(claimed, key=lambda row: row.id):  # RETURNING has no order
                inc = Incoming.from_dict(row.payload)
                await process(
                    session, inc, update_id=row.id, now=self.clock(), settings=self.settings
                )

    async def _fail(self, update_id: int, exc: Exception) -> None:
        """Mark the update failed (never retried: it would fail again) and apologise once."""
        async with self.sessions() as session, session.begin():
            row = await session.get(InboxUpdate, update_id)
            origin = "?" if row is None else f"{row.channel} update {row.update_key}"
            log.error("update %s failed (%s)", update_id, origin, exc_info=exc)
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
