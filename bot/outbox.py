"""The delivery worker: sends the outbox (the deliveries table) within each channel's limits.

```mermaid
stateDiagram-v2
    [*] --> pending: planned with the step that caused it
    pending --> sending: claimed (own transaction, just before the send)
    sending --> sent
    sending --> pending: transient error, retry later (retry_after, or backoff with jitter)
    sending --> failed: permanent error, too many attempts, or a failed ack
    sending --> unreachable: blocked by the person / chat gone
    sending --> not_reached: this channel cannot reach them now (e.g. Zalo OA's window)
    sending --> unknown: the worker died mid-send (lease expired); never resent
```

- **Order per chat.** A chat's rows go out one at a time, in id order. Work is chosen in one
  statement: the due rows, each chat's only up to its first row that must wait (being sent, or
  waiting for a retry). So a chat whose earlier row waits gets nothing newer meanwhile, and rows
  waiting for a retry never crowd due rows of other chats out of the selection. A row is claimed
  only once the rows before it in its chat are settled (sent, failed, unreachable, unknown: final
  states), so several workers keep the order too.
- **Bulk last.** A broadcast's rows (`deliveries.bulk`) are chosen after every other due row,
  and only while fewer than half the chats are busy; they hold at most 5/6 of the in-flight
  slots. So the replies of a conversation never wait behind ten thousand of them, and may
  overtake a broadcast row of their own chat (the order above holds among the other rows).
- **Limits.** At most `max_in_flight` sends at once; consecutive messages to one chat at least
  `per_chat_interval` seconds apart (one value, or one per channel; Telegram: about one per
  second per chat; the first goes at once; acks of button presses are not paced). The channel
  paces the overall rate (Telegram: bot.channels.pacer, ~30/s). The per-chat pacing is per
  worker process: two workers may each send to one chat within the interval (a 429 then, which
  is honoured like any other).
- **Claiming.** pending → sending with `claimed_by` (a uuid per worker) and `claimed_at`, in a
  transaction of its own, then the send, then the outcome in another. Claims made at about the
  same moment share one statement, and outcomes one transaction (bot.group_commit). On
  PostgreSQL the claim locks the rows with `FOR UPDATE SKIP LOCKED`, so several processes can
  drain one outbox and no row is sent twice; on SQLite one process drains and a conditional
  UPDATE is the claim.
- **Another channel.** When a channel cannot reach the person (blocked, outside Zalo OA's
  window, plan quota used up), a message of the bot's own (notice, reminder, digest) is planned
  on the member's next linked channel in the same transaction that records the failure
  (models.routing.plan_fallback); replies stay with the chat that wrote.
- **Crashes.** A row in "sending" whose claim is older than `lease_seconds` and not this
  worker's becomes "unknown" (checked at start and periodically): the platform may or may not
  have it, and a message is never sent twice. A worker that is stopped (cancelled) finishes the
  sends it has started and records them first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    Integer,
    Table,
    and_,
    bindparam,
    func,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from bot.channels.base import Channel, DeliveryError, delivery_id
from bot.group_commit import GroupCommit
from bot.worker import Worker
from handlers import texts
from handlers.text import number_vi
from models import broadcasts, db, routing
from models.tables import BULK_KINDS, Delivery

log = logging.getLogger(__name__)

STATUSES = (
    "pending",
    "sending",
    "sent",
    "failed",
    "unreachable",
    "not_reached",
    "unknown",
    "expired",
)
MAX_ATTEMPTS = 10
PER_CHAT_INTERVAL = 1.0  # Telegram: about one message per second in one chat
BACKOFF_BASE = 1.0  # seconds before the first retry (before jitter)
BACKOFF_CAP = 600.0
STOP_GRACE = 10.0  # seconds a stopping worker gives the sends it started to finish
RECORD_RETRY_FIRST, RECORD_RETRY_CAP = 0.2, 10.0  # recording an outcome: see _record_until_done

LEASE_EXPIRED = "its worker stopped while sending (lease expired)"

Chat = tuple[str, str]
_Outcome = tuple["_Claimed", DeliveryError | None, str | None]  # what a send came to
_T = cast(Table, Delivery.__table__)  # Core statements: the worker needs no ORM objects


def backoff(
    attempts: int,
    rng: random.Random | None = None,
    *,
    base: float = BACKOFF_BASE,
    cap: float = BACKOFF_CAP,
) -> float:
    """Seconds to wait after the `attempts`-th failed try: doubling from `base`, capped, with
    "equal jitter" (half fixed, half random) so rows that failed together do not retry together."""
    ceiling = min(cap, base * 2.0 ** min(max(attempts - 1, 0), 62))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def _due_statements() -> dict[bool, Any]:
    """The two parts of DeliveryWorker._due (conversation rows, bulk rows), built once: building
    them cost as much CPU as running them, and the worker looks after every send."""
    now: BindParameter[datetime] = bindparam("now")
    channels: BindParameter[list[str]] = bindparam("channels", expanding=True)
    holding = union_all(
        select(_T.c.channel, _T.c.chat_id, _T.c.id).where(_T.c.status == "sending"),
        # Waiting for a retry holds the chat; a first try planned for later (quiet hours)
        # does not: replies to the person go out before it.
        select(_T.c.channel, _T.c.chat_id, _T.c.id).where(
            _T.c.status == "pending", _T.c.next_attempt_at > now, _T.c.attempts > 0
        ),
    ).subquery("holding")
    held = (
        select(holding.c.channel, holding.c.chat_id, func.min(holding.c.id).label("first"))
        .where(holding.c.channel.in_(channels))
        .group_by(holding.c.channel, holding.c.chat_id)
        .subquery("held")
    )

    def part(bulk: bool) -> Any:
        return (
            select(_T.c.id, _T.c.channel, _T.c.chat_id, _T.c.kind)
            .select_from(
                _T.outerjoin(
                    held, and_(held.c.channel == _T.c.channel, held.c.chat_id == _T.c.chat_id)
                )
            )
            .where(
                _T.c.status == "pending",
                _T.c.bulk == bulk,
                _T.c.next_attempt_at <= now,
                _T.c.channel.in_(channels),
                or_(held.c.first.is_(None), _T.c.id < held.c.first),
            )
            .order_by(_T.c.next_attempt_at, _T.c.id)
            .limit(bindparam("n", type_=Integer))
        )

    return {False: part(False), True: part(True)}


_DUE = _due_statements()


@dataclass(frozen=True)
class _Due:
    id: int
    channel: str
    chat_id: str
    kind: str

    @property
    def chat(self) -> Chat:
        return (self.channel, self.chat_id)


@dataclass(frozen=True)
class _Claimed:
    id: int
    channel: str
    chat_id: str
    kind: str
    payload: dict[str, Any]
    attempts: int  # including this one
    member_id: int | None
    dedupe_key: str


class DeliveryWorker(Worker):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        channels: dict[str, Channel],
        clock: Callable[[], datetime],
        poll_interval: float = 1.0,
        *,
        max_in_flight: int = 30,
        per_chat_interval: float | Mapping[str, float] = PER_CHAT_INTERVAL,
        lease_seconds: float = 60.0,
        max_attempts: int = MAX_ATTEMPTS,
        batch: int = 500,
        per_chat_batch: int = 10,
        rng: random.Random | None = None,
        routes: routing.RoutePolicy | None = None,
    ) -> None:
        super().__init__(poll_interval)
        self.routes = routes or routing.RoutePolicy()
        self.sessions, self.channels, self.clock = sessions, channels, clock
        self.worker_id = uuid.uuid4().hex
        self.max_in_flight = max_in_flight
        # seconds between messages to one chat: one value, or per channel name
        self.per_chat_interval = per_chat_interval
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.batch = batch  # rows looked at per selection, and chats handled at once
        self.per_chat_batch = per_chat_batch  # rows of one chat queued per selection
        self.rng = rng or random.Random()
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._bulk_slots = asyncio.Semaphore(max(1, max_in_flight - max(1, max_in_flight // 6)))
        self._last_send: dict[Chat, float] = {}  # time.monotonic() when a send to it finished
        self._faults = 0  # database failures in a row: one traceback per outage, not per look
        self._claims = GroupCommit(self._claim_many, limit=max_in_flight)
        # An outcome that fails for a reason of its own (not the database's) fails alone.
        self._records = GroupCommit(self._record_many, limit=max_in_flight, alone=_not_a_fault)
        self._next_recovery = 0.0  # time.monotonic(); 0: at the first drain

    # -- the loop --------------------------------------------------------------------------
    async def drain(self) -> int:
        """Send what is due now, in order per chat and within the limits; returns how many rows
        were attempted. Rows that fall due meanwhile are sent too; rows rescheduled for later
        are left for a later drain."""
        await self._recover_if_due()
        attempted = 0
        active: dict[Chat, asyncio.Task[int]] = {}
        passed: set[Chat] = set()  # a row another worker had: not again in this drain
        wake: asyncio.Task[Any] | None = None
        try:
            while True:
                if wake is None or wake.done():  # a kick from now on means: look again
                    self._wake.clear()
                    wake = asyncio.create_task(self._wake.wait())
                queues: dict[Chat, list[_Due]] = {}
                # Bulk rows only while fewer than half the chats are busy: each look is then
                # cheap (conversation rows only) and replies are never queued behind them.
                bulk = len(active) <= self.batch // 2
                limit = self.batch + self.per_chat_batch * len(active)
                for row in await self._look(limit, bulk=bulk):
                    if row.chat in active or row.chat in passed:
                        continue  # its rows are queued already, or another worker has it
                    if row.chat in queues or len(active) + len(queues) < self.batch:
                        queues.setdefault(row.chat, []).append(row)
                for chat, queue in queues.items():
                    queue.sort(key=lambda row: row.id)  # bulk rows were selected last
                    active[chat] = asyncio.create_task(self._drain_chat(queue, passed))
                if not active:
                    return attempted
                # Until a chat is done, new work is kicked, or a poll: then look for more.
                await asyncio.wait(
                    [*active.values(), wake],
                    timeout=self.poll_interval,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                for chat, task in list(active.items()):
                    if task.done():
                        del active[chat]
                        attempted += task.result()
                await self._recover_if_due()
        finally:
            if wake is not None:
                wake.cancel()
            for task in active.values():
                task.cancel()  # a send already started is finished and recorded (_attempt)
            await asyncio.gather(*active.values(), return_exceptions=True)

    async def _drain_chat(self, queue: list[_Due], passed: set[Chat]) -> int:
        """One chat's due rows, one at a time and in id order; stops at a row that must wait."""
        attempted = 0
        try:
            for row in queue:
                await self._pace(row)
                settled = await self._attempt(row)
                if settled is None:  # not ours: claimed by another worker, or no longer due
                    passed.add(row.chat)
                    break
                attempted += 1
                if not settled:  # waits for a retry: nothing newer for this chat meanwhile
                    break
        except Exception:  # the database, most likely: the chat is tried again later
            self._fault("delivering to %s:%s stopped", *queue[0].chat)
        return attempted

    async def _look(self, limit: int, *, bulk: bool) -> list[_Due]:
        try:
            due = await self._due(limit, bulk=bulk)
        except Exception:  # the database is away: the run() loop looks again at its next poll
            self._fault("could not read the outbox")
            return []
        if self._faults:
            log.warning("the outbox is read again, after %s database failures", self._faults)
            self._faults = 0
        return due

    def _fault(self, message: str, *args: object) -> None:
        """An outage's first failure with its traceback; the rest, until the outbox is read
        again, in one line each (a restart of PostgreSQL logged 20 tracebacks)."""
        self._faults += 1
        if self._faults == 1:
            log.exception(message, *args)
        else:
            log.warning(message + " (%s failures in a row)", *args, self._faults)

    def _interval(self, row: _Due) -> float:
        """Seconds between two messages to the row's chat; acks are not paced."""
        if row.kind == "ack":
            return 0.0
        if isinstance(self.per_chat_interval, Mapping):
            return self.per_chat_interval.get(row.channel, PER_CHAT_INTERVAL)
        return self.per_chat_interval

    async def _pace(self, row: _Due) -> None:
        last = self._last_send.get(row.chat)
        if last is not None and (interval := self._interval(row)) > 0:
            wait = last + interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)

    def _sent_to(self, row: _Due) -> None:
        if self._interval(row) <= 0:
            return
        now = time.monotonic()
        if len(self._last_send) >= 10_000:  # forget chats that no longer need pacing
            horizon = now - BACKOFF_CAP  # longer than any interval
            self._last_send = {c: t for c, t in self._last_send.items() if t > horizon}
        self._last_send[row.chat] = now

    # -- selecting -------------------------------------------------------------------------
    async def _due(self, limit: int, *, bulk: bool = True) -> list[_Due]:
        """Due rows, at most `per_chat_batch` per chat, and in each chat only those before its
        first row that must wait (being sent, or waiting for a retry). Rows of the bot's
        conversations come first; bulk rows (a broadcast) only with `bulk` and room left.

        Each part is one range read of ix_deliveries_due_bulk (status, bulk, next_attempt_at, id)
        that stops at its limit, however many rows of the other part wait: a look that sorted
        ten thousand waiting broadcast rows took 100 ms, and the worker looks after every send.
        Rows are fetched in due order and each chat's are sent in id order; a chat's rows are
        a prefix of its due rows unless a part is cut by its limit (then the rest comes next).
        """
        params = {"now": self.clock(), "channels": list(self.channels)}
        async with self.sessions() as session:
            rows = [_Due(*r) for r in await session.execute(_DUE[False], {**params, "n": limit})]
            if bulk and len(rows) < limit:
                more = await session.execute(_DUE[True], {**params, "n": limit - len(rows)})
                rows += [_Due(*r) for r in more]
        per_chat: dict[Chat, list[_Due]] = {}
        for row in rows:
            per_chat.setdefault(row.chat, []).append(row)
        capped = {
            row.id
            for queue in per_chat.values()
            for row in sorted(queue, key=lambda r: r.id)[: self.per_chat_batch]
        }
        return [row for row in rows if row.id in capped][:limit]

    # -- one send --------------------------------------------------------------------------
    async def _attempt(self, row: _Due) -> bool | None:
        """Claim, send, record. True: settled; False: waits for a retry; None: not claimed."""
        # Bulk sends hold at most five sixths of the slots: a reply never waits for a slot
        # behind hundreds of queued broadcast sends.
        bulk = self._bulk_slots if row.kind in BULK_KINDS else contextlib.nullcontext()
        async with bulk, self._in_flight:
            # Once claimed, the send and its record are finished even if this worker is being
            # stopped: a row left in "sending" would become "unknown" and hold its chat.
            unit = asyncio.create_task(self._claim_send_record(row))
            try:
                return await asyncio.shield(unit)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(unit, STOP_GRACE)
                raise

    async def _claim_send_record(self, row: _Due) -> bool | None:
        claimed = await self._claim(row.id)
        if claimed is None:
            return None
        if _expired(claimed.payload, self.clock()):
            # A reminder for a meeting that has started is worse than none: drop it.
            return await self._settle(claimed, "expired")
        error: DeliveryError | None = None
        sent_ref: str | None = None
        delivery_id.set(claimed.id)  # this task's own context: the channel may log it
        try:
            sent_ref = await self.channels[claimed.channel].deliver(
                claimed.chat_id, claimed.kind, claimed.payload
            )
        except DeliveryError as exc:
            error = exc
        except Exception as exc:  # a bug in a channel must not stop the worker
            log.exception("delivery %s crashed", claimed.id)
            error = DeliveryError(repr(exc))
        finally:
            self._sent_to(row)
        return await self._record_until_done(claimed, error, sent_ref)

    async def _record_until_done(
        self, claimed: _Claimed, error: DeliveryError | None, sent_ref: str | None
    ) -> bool:
        """The outcome is known: keep trying to write it while the database is away. Left in
        "sending", the row would hold its chat until it is judged "unknown" (and a message
        that was sent would be reported as perhaps not)."""
        pause = RECORD_RETRY_FIRST
        while True:
            try:
                return await self._record(claimed, error, sent_ref)
            except Exception as exc:
                if db.fault(exc) is None:
                    raise
                log.warning(
                    "delivery %s: its outcome is not recorded yet (%r); trying again in %.1f s",
                    claimed.id,
                    exc,
                    pause,
                )
                await asyncio.sleep(pause)
                pause = min(RECORD_RETRY_CAP, pause * 2)

    async def _settle(self, claimed: _Claimed, status: str) -> bool:
        async with self.sessions() as session, session.begin():
            await session.execute(update(_T).where(_T.c.id == claimed.id).values(status=status))
        return True

    async def _claim(self, row_id: int) -> _Claimed | None:
        """pending -> sending, if the row is still pending and due. The row was chosen as its
        chat's next (see _due), so every earlier row of the chat is settled (a bulk row may be
        overtaken): no check here. Claims made at about the same moment share one statement."""
        return await self._claims.submit(row_id)

    async def _claim_many(self, row_ids: list[int]) -> list[_Claimed | None]:
        now = self.clock()
        mine: ColumnElement[bool] = and_(
            _T.c.id.in_(row_ids), _T.c.status == "pending", _T.c.next_attempt_at <= now
        )
        async with self.sessions() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                # Another worker holding a row: skip it rather than wait for it.
                target = _T.alias("target")
                locked = (
                    select(target.c.id)
                    .where(
                        target.c.id.in_(row_ids),
                        target.c.status == "pending",
                        target.c.next_attempt_at <= now,
                    )
                    .with_for_update(skip_locked=True)
                )
                mine = _T.c.id.in_(locked)
            stmt = (
                update(_T)
                .where(mine)
                .values(
                    status="sending",
                    claimed_by=self.worker_id,
                    claimed_at=now,
                    attempts=_T.c.attempts + 1,
                )
                .returning(
                    _T.c.id,
                    _T.c.channel,
                    _T.c.chat_id,
                    _T.c.kind,
                    _T.c.payload,
                    _T.c.attempts,
                    _T.c.member_id,
                    _T.c.dedupe_key,
                )
            )
            found = {row.id: _Claimed(*row) for row in await session.execute(stmt)}
        return [found.pop(row_id, None) for row_id in row_ids]  # an id asked twice: once

    def _outcome(self, claimed: _Claimed, error: DeliveryError | None) -> dict[str, Any]:
        now = self.clock()
        if error is None:
            return {"status": "sent", "sent_at": now, "last_error": None}
        values: dict[str, Any] = {"last_error": str(error)[:2000]}
        if claimed.kind == "ack":
            # Acknowledging a button press is only useful at once; never hold the chat.
            values["status"] = "failed"
        elif error.unreachable:
            values["status"] = "unreachable"
        elif error.permanent or claimed.attempts >= self.max_attempts:
            values["status"] = "failed"
        else:
            if error.retry_after:  # flood control: not before the platform allows it
                delay = error.retry_after + self.rng.uniform(0, min(1.0, error.retry_after / 10))
            else:
                delay = backoff(claimed.attempts, self.rng)
            values.update(
                status="pending",
                next_attempt_at=now + timedelta(seconds=delay),
                claimed_by=None,
                claimed_at=None,
            )
        return values

    async def _record(
        self, claimed: _Claimed, error: DeliveryError | None, sent_ref: str | None = None
    ) -> bool:
        """Write the outcome; outcomes known at about the same moment share one transaction."""
        return await self._records.submit((claimed, error, sent_ref))

    async def _record_many(self, outcomes: list[_Outcome]) -> list[bool]:
        plain = [
            c.id for c, error, _ in outcomes if error is None and not c.payload.get("progress_of")
        ]
        async with self.sessions() as session, session.begin():
            sent = await self._record_sent(session, plain) if plain else set()
            written = [
                "sent" if outcome[0].id in sent else await self._record_in(session, *outcome)
                for outcome in outcomes
            ]
        for (claimed, error, _), status in zip(outcomes, written, strict=True):
            if error is not None:
                log.warning(
                    "delivery %s (%s) failed, now %s: %s", claimed.id, claimed.kind, status, error
                )
        return [status != "pending" for status in written]  # settled; or waits for a retry

    async def _record_sent(self, session: AsyncSession, row_ids: list[int]) -> set[int]:
        """Plain successes, the usual outcome, in one statement; returns the rows recorded (one
        whose lease expired meanwhile is not: _record_in records it)."""
        stmt = (
            update(_T)
            .where(
                _T.c.id.in_(row_ids), _T.c.claimed_by == self.worker_id, _T.c.status == "sending"
            )
            .values(status="sent", sent_at=self.clock(), last_error=None)
            .returning(_T.c.id)
        )
        return set(await session.scalars(stmt))

    async def _record_in(
        self,
        session: AsyncSession,
        claimed: _Claimed,
        error: DeliveryError | None,
        sent_ref: str | None,
    ) -> str:
        """The row's new status."""
        values = self._outcome(claimed, error)
        mine = (_T.c.id == claimed.id, _T.c.claimed_by == self.worker_id)
        if error is not None:
            await self._reroute(session, claimed, error, values)
        elif sent_ref is not None and claimed.payload.get("progress_of"):
            # A broadcast's progress message: later progress edits this message.
            await broadcasts.set_progress_message(
                session, int(claimed.payload["progress_of"]), sent_ref
            )
        result = await session.execute(
            update(_T).where(*mine, _T.c.status == "sending").values(**values)
        )
        if cast(CursorResult[Any], result).rowcount == 0:
            # The send outlasted the lease and another worker judged the row "unknown":
            # record what is known, but never queue it again (newer rows may have gone).
            if values["status"] == "pending":
                values = {"status": "failed", "last_error": values["last_error"]}
            unknown = update(_T).where(*mine, _T.c.status == "unknown")
            await session.execute(unknown.values(**values))
        return str(values["status"])

    async def _reroute(
        self,
        session: AsyncSession,
        claimed: _Claimed,
        error: DeliveryError,
        values: dict[str, Any],
    ) -> None:
        """A channel that cannot reach the person: try their next channel (see module doc)."""
        now = self.clock()
        if error.unreachable:
            await routing.mark_unreachable(session, claimed.channel, claimed.chat_id, now)
        if not error.reroute or claimed.member_id is None:
            return
        final = "unreachable" if error.unreachable else "not_reached"
        moved_to = await routing.plan_fallback(
            session,
            member_id=claimed.member_id,
            channel=claimed.channel,
            kind=claimed.kind,
            dedupe_key=claimed.dedupe_key,
            payload=claimed.payload,
            now=now,
            policy=self.routes,
        )
        if moved_to is not None:
            values["status"] = final
            values["last_error"] = f"{values['last_error']} → {moved_to}"[:2000]
        elif error.permanent and values["status"] == "failed":
            values["status"] = final

    # -- crash recovery --------------------------------------------------------------------
    async def recover(self) -> int:
        """Rows another worker left in "sending" longer than the lease become "unknown"."""
        now = self.clock()
        async with self.sessions() as session, session.begin():
            result = await session.execute(
                update(_T)
                .where(
                    _T.c.status == "sending",
                    _T.c.channel.in_(list(self.channels)),
                    _T.c.claimed_at < now - timedelta(seconds=self.lease_seconds),
                    or_(_T.c.claimed_by != self.worker_id, _T.c.claimed_by.is_(None)),
                )
                .values(status="unknown", last_error=LEASE_EXPIRED)
            )
        count = cast(CursorResult[Any], result).rowcount
        if count:
            log.warning("%s deliveries left sending by a stopped worker are now unknown", count)
        return count

    async def _recover_if_due(self) -> None:
        if time.monotonic() >= self._next_recovery:
            self._next_recovery = time.monotonic() + min(30.0, self.lease_seconds / 2)
            try:
                await self.recover()
            except Exception:
                log.exception("could not look for deliveries left sending")


# -- python -m bot outbox status --------------------------------------------------------------
async def status_counts(sessions: async_sessionmaker[AsyncSession]) -> dict[tuple[str, str], int]:
    """(status, kind) -> number of deliveries."""
    stmt = select(Delivery.status, Delivery.kind, func.count()).group_by(
        Delivery.status, Delivery.kind
    )
    async with sessions() as session:
        return {(status, kind): n for status, kind, n in await session.execute(stmt)}


def render_status(counts: dict[tuple[str, str], int]) -> str:
    """One line per status (every known status, also at zero) with its kinds, then the total."""
    extra = sorted({status for status, _ in counts} - set(STATUSES))
    names = {s: texts.OUTBOX_STATUS_NAMES.get(s, s) for s in (*STATUSES, *extra)}
    width = max(len(name) for name in [*names.values(), texts.OUTBOX_STATUS_TOTAL_LABEL])
    lines = [texts.OUTBOX_STATUS_HEADER]
    for status, name in names.items():
        kinds = sorted((k, n) for (s, k), n in counts.items() if s == status and n)
        line = texts.OUTBOX_STATUS_LINE.format(
            status=name.ljust(width), count=number_vi(sum(n for _, n in kinds)).rjust(7)
        )
        if kinds:
            line += texts.OUTBOX_STATUS_KINDS.format(
                kinds=", ".join(f"{kind} {number_vi(n)}" for kind, n in kinds)
            )
        lines.append(line)
    lines.append(
        texts.OUTBOX_STATUS_TOTAL.format(
            label=texts.OUTBOX_STATUS_TOTAL_LABEL.ljust(width),
            count=number_vi(sum(counts.values())).rjust(7),
        )
    )
    if any(n for (status, _), n in counts.items() if status == "unknown"):
        lines.append(texts.OUTBOX_STATUS_UNKNOWN_NOTE)
    return "\n".join(lines)


def _not_a_fault(exc: Exception) -> bool:
    return db.fault(exc) is None


def _expired(payload: dict[str, Any], now: datetime) -> bool:
    """payload["expires_at"] (ISO-8601) has passed: the message is no longer worth sending."""
    expires = payload.get("expires_at")
    return isinstance(expires, str) and datetime.fromisoformat(expires) <= now
