"""The delivery worker with the real TelegramChannel against the fake Bot API, on SQLite and
PostgreSQL: limits, retries, order per chat, no starvation, crashes, several workers, status."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import logging
import random
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import ExtBot

from bot.channels.ptb_aiohttp import AiohttpRequest
from bot.channels.telegram import TelegramChannel
from bot.config import TelegramConfig
from bot.outbox import DeliveryWorker, render_status, status_counts
from handlers import texts
from handlers.messages import Reply
from models.db import create_engine, session_factory, utcnow
from models.outbox import plan
from models.tables import Delivery
from tests.fakes.telegram_api import ApiError, FakeTelegramAPI
from tests.support.harness import Clock

ROOT = Path(__file__).resolve().parent.parent
TG = "telegram"
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        yield api


@contextlib.asynccontextmanager
async def telegram(
    fake: FakeTelegramAPI, rate: float = 30.0, read_timeout: float | None = None
) -> AsyncIterator[TelegramChannel]:
    """The real channel, pointed at the fake (rate: the channel's overall limit, 0 for none)."""
    config = TelegramConfig(token=fake.token, base_url=fake.base_url, rate_per_second=rate)
    channel = TelegramChannel(config)
    if read_timeout is not None:  # a short read timeout, to see a real timeout quickly
        channel.bot = ExtBot(
            fake.token, base_url=fake.base_url, request=AiohttpRequest(read_timeout=read_timeout)
        )
    await channel.bot.initialize()
    try:
        yield channel
    finally:
        await channel.bot.shutdown()


def chat_id(n: int) -> int:
    return 100_000 + n


async def plan_rows(
    sessions: Sessions, count: int, chats: int, *, now: Any, first: int = 0, chat_base: int = 0
) -> list[str]:
    """Row i goes to chat (chat_base + i % chats); its text ends with its dedupe key."""
    keys = []
    async with sessions() as s, s.begin():
        for i in range(first, first + count):
            key = f"k{i:05d}"
            await plan(
                s,
                channel=TG,
                chat_id=str(chat_id(chat_base + i % chats)),
                kind="notice",
                dedupe_key=key,
                payload=Reply(f"Tin {key}").to_payload(),
                now=now,
            )
            keys.append(key)
    return keys


def key_of(record: dict[str, Any]) -> str:
    return str(record["params"]["text"]).split()[-1]


def sent_keys(fake: FakeTelegramAPI, chat: int | None = None) -> list[str]:
    return [
        key_of(r)
        for r in fake.calls("sendMessage")
        if chat is None or r["chat_id"] == chat_id(chat)
    ]


async def load(sessions: Sessions) -> dict[str, Delivery]:
    async with sessions() as s:
        return {r.dedupe_key: r for r in await s.scalars(select(Delivery).order_by(Delivery.id))}


async def unsettled(sessions: Sessions) -> int:
    async with sessions() as s:
        stmt = select(func.count()).where(Delivery.status.in_(("pending", "sending")))
        return int(await s.scalar(stmt) or 0)


async def settle(worker: DeliveryWorker, sessions: Sessions, timeout: float) -> None:  # noqa: ASYNC109
    """Drain until every row is settled (what the run() loop does, without its idle wait)."""
    deadline = time.monotonic() + timeout
    while await unsettled(sessions):
        assert time.monotonic() < deadline, f"not settled within {timeout}s"
        if await worker.drain() == 0:
            await asyncio.sleep(0.05)


def fail_chat(fake: FakeTelegramAPI, chat: int, times: int, *, stall: float = 0.0) -> None:
    """The next `times` sendMessage calls to `chat` fail with a 500 (after `stall` seconds:
    longer than the client's read timeout, it is a timeout that the fake never delivered)."""
    original = fake._m_sendmessage
    left = [times]

    async def handler(params: dict[str, Any]) -> Any:
        if params.get("chat_id") == chat_id(chat) and left[0] > 0:
            left[0] -= 1
            await asyncio.sleep(stall)
            raise ApiError(500, "Internal Server Error")
        return await original(params)

    handler.__doc__ = "sendMessage"  # the fake names a method by its handler's docstring
    fake._m_sendmessage = handler  # type: ignore[method-assign]


def peak_per_second(times: list[float]) -> int:
    """The most sends in any 1 s window."""
    times = sorted(times)
    return max((bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times)), default=0)


def in_order_and_paced(fake: FakeTelegramAPI, keys: list[str], interval: float) -> None:
    """Each chat got its rows in planned order, consecutive sends `interval` apart."""
    planned: dict[int, list[str]] = defaultdict(list)
    got: dict[int, list[tuple[float, str]]] = defaultdict(list)
    chat_of: dict[str, int] = {}
    for r in fake.calls("sendMessage"):
        chat_of[key_of(r)] = r["chat_id"]
        got[r["chat_id"]].append((r["time"], key_of(r)))
    for key in keys:
        planned[chat_of[key]].append(key)
    for chat, records in got.items():
        assert [k for _, k in records] == planned[chat], f"chat {chat} out of order"
        gaps = [b - a for (a, _), (b, _) in itertools.pairwise(records)]
        assert min(gaps, default=interval) >= interval - 0.005, (chat, min(gaps))


# -- limits ------------------------------------------------------------------------------------
async def drain_within_limits(
    sessions: Sessions, fake: FakeTelegramAPI, *, count: int, chats: int, interval: float
) -> None:
    keys = await plan_rows(sessions, count, chats, now=utcnow())
    fake.set_rate_limit(30)
    async with telegram(fake) as channel:
        worker = DeliveryWorker(sessions, {TG: channel}, utcnow, per_chat_interval=interval)
        started = time.monotonic()
        await settle(worker, sessions, timeout=count / 30 * 3 + 30)
        took = time.monotonic() - started
    records = fake.calls("sendMessage")
    assert Counter(key_of(r) for r in records) == Counter(keys)  # every row exactly once
    assert {r.status for r in (await load(sessions)).values()} == {"sent"}
    in_order_and_paced(fake, keys, interval)
    peak = peak_per_second([r["time"] for r in records])
    assert peak <= 30 + 2, peak
    print(
        f"\n{count} deliveries to {chats} chats against the fake at 30/s "
        f"(per chat {interval} s): {took:.1f} s, peak {peak} in 1 s, {fake.count_429} answered 429"
    )


async def test_drain_keeps_the_overall_and_per_chat_limits(
    sessions: Sessions, fake: FakeTelegramAPI
) -> None:
    await drain_within_limits(sessions, fake, count=90, chats=30, interval=0.5)


@pytest.mark.slow
async def test_drain_1000_deliveries_at_30_per_second(
    sessions: Sessions, fake: FakeTelegramAPI
) -> None:
    await drain_within_limits(sessions, fake, count=1000, chats=200, interval=1.0)


async def test_at_most_max_in_flight_sends_at_once(sessions: Sessions) -> None:
    in_flight, peak = 0, 0

    class Slow:
        name = TG

        async def deliver(self, chat: str, kind: str, payload: dict[str, Any]) -> None:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.05)
            in_flight -= 1

    clock = Clock()
    await plan_rows(sessions, 40, 20, now=clock())
    worker = DeliveryWorker(sessions, {TG: Slow()}, clock, per_chat_interval=0, max_in_flight=5)
    assert await worker.drain() == 40
    assert peak == 5


# -- failures ----------------------------------------------------------------------------------
async def test_flood_control_retry_after_is_honoured(
    sessions: Sessions, fake: FakeTelegramAPI
) -> None:
    keys = await plan_rows(sessions, 2, 1, now=utcnow())
    # PTB's rate limiter retries a 429 twice itself; the third reaches the worker.
    fake.fail_next("sendMessage", 3, status=429, retry_after=1)
    async with telegram(fake) as channel:
        worker = DeliveryWorker(sessions, {TG: channel}, utcnow, per_chat_interval=0)
        assert await worker.drain() == 1
        row = (await load(sessions))[keys[0]]
        assert (row.status, row.attempts) == ("pending", 1)
        wait = (row.next_attempt_at - utcnow()).total_seconds()
        assert 0.5 < wait <= 1.1, wait  # retry_after=1, plus a little jitter, minus the time since
        assert await worker.drain() == 0  # not yet, and nothing newer for that chat meanwhile
        await settle(worker, sessions, timeout=10)
    assert sent_keys(fake) == keys
    last_429 = max(r["time"] for r in fake.rejected if r["status"] == 429)
    assert fake.calls("sendMessage")[0]["time"] >= last_429 + 1.0
    assert fake.count_429 == 3


async def test_server_errors_and_timeouts_are_retried_with_backoff(
    sessions: Sessions, fake: FakeTelegramAPI
) -> None:
    clock = Clock()
    await plan_rows(sessions, 4, 2, now=clock())  # chat 0: k0, k2; chat 1: k1, k3
    fail_chat(fake, 0, 2)  # two server errors
    fail_chat(fake, 1, 1, stall=0.6)  # no answer within the client's read timeout (0.3 s)
    async with telegram(fake, read_timeout=0.3) as channel:
        worker = DeliveryWorker(
            sessions, {TG: channel}, clock, per_chat_interval=0, rng=random.Random(5)
        )
        assert await worker.drain() == 2
        assert sent_keys(fake) == []
        rows = await load(sessions)
        for key in ("k00000", "k00001"):
            assert (rows[key].status, rows[key].attempts) == ("pending", 1)
            delay = (rows[key].next_attempt_at - clock()).total_seconds()
            assert 0.5 <= delay <= 1.0, delay  # first backoff: 1 s with jitter
            assert rows[key].last_error
        assert rows["k00002"].attempts == rows["k00003"].attempts == 0  # held behind
        assert await worker.drain() == 0
        clock.advance(seconds=1)
        assert await worker.drain() == 3  # k0 fails again; k1 and then k3 go out
        k0 = (await load(sessions))["k00000"]
        assert (k0.status, k0.attempts) == ("pending", 2)
        assert 1.0 <= (k0.next_attempt_at - clock()).total_seconds() <= 2.0  # doubled
        clock.advance(seconds=2)
        assert await worker.drain() == 2
    assert sent_keys(fake, 0) == ["k00000", "k00002"]
    assert sent_keys(fake, 1) == ["k00001", "k00003"]
    assert {r.status for r in (await load(sessions)).values()} == {"sent"}


async def test_a_blocked_chat_is_unreachable_and_not_retried(
    sessions: Sessions, fake: FakeTelegramAPI
) -> None:
    clock = Clock()
    await plan_rows(sessions, 4, 2, now=clock())
    fake.block(chat_id(0))
    async with telegram(fake) as channel:
        worker = DeliveryWorker(sessions, {TG: channel}, clock, per_chat_interval=0)
        assert await worker.drain() == 4
        clock.advance(days=1)
        assert await worker.drain() == 0
    rows = await load(sessions)
    assert [rows[k].status for k in ("k00000", "k00001", "k00002", "k00003")] == [
        "unreachable",
        "sent",
        "unreachable",
        "sent",
    ]
    assert rows["k00000"].attempts == 1
    assert [r["status"] for r in fake.rejected if r["method"] == "sendMessage"] == [403, 403]


async def test_attempts_are_bounded_then_the_row_fails(
    sessions: Sessions, fake: FakeTelegramAPI
) -> None:
    clock = Clock()
    keys = await plan_rows(sessions, 2, 1, now=clock())
    fail_chat(fake, 0, 3)
    async with telegram(fake) as channel:
        worker = DeliveryWorker(sessions, {TG: channel}, clock, per_chat_interval=0, max_attempts=3)
        assert await worker.drain() == 1
        clock.advance(hours=1)
        assert await worker.drain() == 1
        clock.advance(hours=1)
        assert await worker.drain() == 2  # the third failure gives up; the next row goes on
        clock.advance(days=1)
        assert await worker.drain() == 0
    rows = await load(sessions)
    assert (rows[keys[0]].status, rows[keys[0]].attempts) == ("failed", 3)
    assert "Internal Server Error" in (rows[keys[0]].last_error or "")
    assert rows[keys[1]].status == "sent"
    assert sent_keys(fake) == [keys[1]]


# -- order and selection -----------------------------------------------------------------------
async def test_order_per_chat_survives_a_transient_failure(
    sessions: Sessions, fake: FakeTelegramAPI
) -> None:
    clock = Clock()
    keys = await plan_rows(sessions, 6, 2, now=clock())  # chat 0: k0 k2 k4; chat 1: k1 k3 k5
    fail_chat(fake, 0, 1)
    async with telegram(fake) as channel:
        worker = DeliveryWorker(sessions, {TG: channel}, clock, per_chat_interval={TG: 0.05})
        assert await worker.drain() == 4
        assert sent_keys(fake, 0) == []
        assert sent_keys(fake, 1) == ["k00001", "k00003", "k00005"]
        # a newer row for the held chat, due now, waits too
        keys += await plan_rows(sessions, 1, 1, now=clock(), first=6)
        assert await worker.drain() == 0
        clock.advance(minutes=1)
        assert await worker.drain() == 4
    assert sent_keys(fake, 0) == ["k00000", "k00002", "k00004", "k00006"]
    in_order_and_paced(fake, keys, 0.05)


async def test_rows_waiting_for_a_retry_do_not_starve_newer_due_rows(
    sessions: Sessions, fake: FakeTelegramAPI
) -> None:
    clock = Clock()
    await plan_rows(sessions, 600, 60, now=clock())
    async with sessions() as s, s.begin():
        await s.execute(
            update(Delivery).values(attempts=1, next_attempt_at=clock() + timedelta(minutes=5))
        )
    new = await plan_rows(sessions, 1, 1, now=clock(), first=600, chat_base=1000)
    async with telegram(fake) as channel:
        worker = DeliveryWorker(sessions, {TG: channel}, clock, per_chat_interval=0)
        assert await worker.drain() == 1
    assert sent_keys(fake) == new
    rows = await load(sessions)
    assert sum(r.status == "pending" and r.attempts == 1 for r in rows.values()) == 600


async def test_a_first_try_planned_for_later_does_not_hold_its_chat(
    sessions: Sessions, fake: FakeTelegramAPI
) -> None:
    """A reminder held back for quiet hours must not delay the replies planned after it."""
    clock = Clock()
    async with sessions() as s, s.begin():
        await plan(
            s,
            channel=TG,
            chat_id=str(chat_id(0)),
            kind="reminder",
            dedupe_key="later",
            payload=Reply("Tin later").to_payload(),
            now=clock(),
            not_before=clock() + timedelta(hours=9),
        )
    reply = await plan_rows(sessions, 1, 1, now=clock())
    async with telegram(fake) as channel:
        worker = DeliveryWorker(sessions, {TG: channel}, clock, per_chat_interval=0)
        assert await worker.drain() == 1
        assert sent_keys(fake) == reply
        clock.advance(hours=9)
        assert await worker.drain() == 1
    assert sent_keys(fake) == [*reply, "later"]


# -- claims and crashes ------------------------------------------------------------------------
async def test_a_row_left_sending_by_a_dead_worker_becomes_unknown(
    sessions: Sessions, fake: FakeTelegramAPI
) -> None:
    clock = Clock()
    keys = await plan_rows(sessions, 9, 3, now=clock())  # chat c: k(c), k(c+3), k(c+6)
    async with telegram(fake) as channel:
        worker = DeliveryWorker(sessions, {TG: channel}, clock, per_chat_interval=0)
        claims = {
            keys[0]: ("dead-worker", clock() - timedelta(minutes=2)),  # lease expired
            keys[1]: ("live-worker", clock() - timedelta(seconds=10)),  # still sending
            keys[2]: (worker.worker_id, clock() - timedelta(minutes=2)),  # this worker's own
        }
        async with sessions() as s, s.begin():
            for key, (by, at) in claims.items():
                await s.execute(
                    update(Delivery)
                    .where(Delivery.dedupe_key == key)
                    .values(status="sending", claimed_by=by, claimed_at=at, attempts=1)
                )
        assert await worker.drain() == 2  # chat 0 goes on after its unknown row
    rows = await load(sessions)
    assert [rows[k].status for k in keys[:3]] == ["unknown", "sending", "sending"]
    assert sent_keys(fake) == [keys[3], keys[6]]  # chats 1 and 2 wait behind "sending"


async def test_stopping_finishes_the_sends_already_started(sessions: Sessions) -> None:
    started = asyncio.Event()
    delivered: list[str] = []

    class Slow:
        name = TG

        async def deliver(self, chat: str, kind: str, payload: dict[str, Any]) -> None:
            started.set()
            await asyncio.sleep(0.3)
            delivered.append(chat)

    clock = Clock()
    keys = await plan_rows(sessions, 2, 1, now=clock())
    worker = DeliveryWorker(sessions, {TG: Slow()}, clock, per_chat_interval=0)
    task = asyncio.create_task(worker.run())
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    rows = await load(sessions)
    assert delivered == [str(chat_id(0))]
    assert [rows[k].status for k in keys] == ["sent", "pending"]


async def test_sends_at_about_the_same_moment_share_their_claim_and_record(
    sessions: Sessions, engine: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Group commit (bot.group_commit): 20 chats' rows are claimed in a few statements and
    their outcomes written in a few transactions, each exactly once; an outcome that cannot be
    written for a reason of its own (not the database) fails alone, the others are kept."""
    from sqlalchemy import event

    from bot.channels.base import DeliveryError

    failing: set[str] = set()

    class Instant:
        name = TG

        async def deliver(self, chat: str, kind: str, payload: dict[str, Any]) -> None:
            await asyncio.sleep(0)
            if chat in failing:
                raise DeliveryError("a hiccup")

    keys = await plan_rows(sessions, 20, 20, now=utcnow())
    statements: list[str] = []
    commits: list[int] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sync_engine = engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", seen)
    event.listen(sync_engine, "commit", lambda conn: commits.append(1))
    worker = DeliveryWorker(sessions, {TG: Instant()}, utcnow, per_chat_interval=0)
    try:
        assert await worker.drain() == 20
    finally:
        event.remove(sync_engine, "before_cursor_execute", seen)
    claims = [s for s in statements if "SET status" in s and "claimed_by" in s.split("WHERE")[0]]
    assert 1 <= len(claims) <= 3, len(claims)  # not one per row
    assert len(commits) <= 8, len(commits)  # claims and records, not two per row
    assert {r.status for r in (await load(sessions)).values()} == {"sent"}

    keys = await plan_rows(sessions, 20, 20, now=utcnow(), first=20)
    broken = (await load(sessions))[keys[7]].id
    failing.add(str(chat_id(7)))  # its outcome is a failure, and writing it raises
    written = worker._record_in

    async def record_in(session: Any, claimed: Any, *rest: Any) -> str:
        if claimed.id == broken:
            raise RuntimeError("this outcome cannot be written")
        return await written(session, claimed, *rest)

    worker._record_in = record_in  # type: ignore[method-assign]
    assert await worker.drain() == 19  # the broken one's chat stops: "delivering stopped"
    rows = await load(sessions)
    assert [rows[k].status for k in keys] == ["sent"] * 7 + ["sending"] + ["sent"] * 12
    assert [r.getMessage() for r in caplog.records if "delivering to" in r.getMessage()]


async def test_a_database_hiccup_does_not_stop_the_worker(
    sessions: Sessions, fake: FakeTelegramAPI, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    keys = await plan_rows(sessions, 1, 1, now=clock())
    async with telegram(fake) as channel:
        worker = DeliveryWorker(sessions, {TG: channel}, clock, per_chat_interval=0)
        due = worker._due

        async def unreachable_database(limit: int) -> list[Any]:
            raise OSError("connection reset by peer")

        worker._due = unreachable_database  # type: ignore[method-assign]
        with caplog.at_level(logging.WARNING, logger="bot.outbox"):
            for _ in range(3):  # logged; the run() loop looks again at its next poll
                assert await worker.drain() == 0
            worker._due = due  # type: ignore[method-assign]
            assert await worker.drain() == 1
    assert sent_keys(fake) == keys
    # one traceback per outage, a line for each further failure, one when it works again
    logged = [
        (r.getMessage(), r.exc_info is not None) for r in caplog.records if r.name == "bot.outbox"
    ]
    assert logged == [
        ("could not read the outbox", True),
        ("could not read the outbox (2 failures in a row)", False),
        ("could not read the outbox (3 failures in a row)", False),
        ("the outbox is read again, after 3 database failures", False),
    ]


@contextlib.asynccontextmanager
async def worker_process(db_url: str, fake: FakeTelegramAPI, *args: str) -> AsyncIterator[Any]:
    """tests/support/outbox_worker.py in a process of its own; SIGKILLed on the way out."""
    with tempfile.TemporaryFile() as errors:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.outbox_worker",
            db_url,
            fake.base_url,
            *args,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
        )
        try:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            if not line.startswith(b"ready"):
                errors.seek(0)
                raise AssertionError(errors.read().decode(errors="replace"))
            yield proc
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
            await proc.wait()


async def wait_until(predicate: Callable[[], Any], timeout: float) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, f"not within {timeout}s"
        await asyncio.sleep(0.1)


async def test_a_killed_worker_leaves_unknown_rows_that_are_never_resent(
    db_url: str, sessions: Sessions, fake: FakeTelegramAPI
) -> None:
    keys = await plan_rows(sessions, 1000, 200, now=utcnow())
    async with worker_process(db_url, fake, "--max-in-flight", "30") as proc:
        await fake.wait_for(lambda: len(fake.calls("sendMessage")) >= 300, timeout=60)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    at_kill = len(fake.calls("sendMessage"))
    await asyncio.sleep(0.3)  # anything the dead process had on the wire has landed by now
    before_finisher = len(fake.calls("sendMessage"))
    async with sessions() as s:
        left_sending = {
            r.dedupe_key
            for r in await s.scalars(select(Delivery).where(Delivery.status == "sending"))
        }
    assert len(left_sending) <= 30  # at most max_in_flight rows were being sent

    async with telegram(fake, rate=0) as channel:
        # A short lease, so the test need not wait a minute for the dead worker's claims.
        finisher = DeliveryWorker(
            sessions, {TG: channel}, utcnow, per_chat_interval=0, lease_seconds=0.2
        )
        await settle(finisher, sessions, timeout=60)

    rows = await load(sessions)
    unknown = {k for k, r in rows.items() if r.status == "unknown"}
    assert {r.status for r in rows.values()} <= {"sent", "unknown"}
    assert unknown == left_sending and 1 <= len(unknown) <= 30
    counts = Counter(key_of(r) for r in fake.calls("sendMessage"))
    assert max(counts.values()) == 1  # no dedupe key twice
    assert all(counts[k] == 1 for k, r in rows.items() if r.status == "sent")
    by_finisher = {key_of(r) for r in fake.calls("sendMessage")[before_finisher:]}
    assert not by_finisher & unknown  # an unknown row is never sent again
    assert set(counts) | unknown == set(keys)
    print(
        f"\nkilled after {at_kill} of 1000 sends: {len(unknown)} unknown "
        f"({sum(k in counts for k in unknown)} of them had reached the fake), "
        f"{len(by_finisher)} sent by the next worker"
    )


async def test_two_worker_processes_share_one_postgresql_outbox(
    pg_cluster: Any, fake: FakeTelegramAPI
) -> None:
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = pg_cluster.create_database(name, template="lamtheo_template")
    engine = create_engine(url, pool_size=5)
    sessions = session_factory(engine)
    try:
        keys = await plan_rows(sessions, 1000, 200, now=utcnow())
        async with worker_process(url, fake), worker_process(url, fake):
            await wait_until(lambda: _settled(sessions), timeout=120)
        rows = await load(sessions)
        assert {r.status for r in rows.values()} == {"sent"}
        assert Counter(sent_keys(fake)) == Counter(keys)  # zero duplicates, none missing
        in_order_and_paced(fake, keys, 0.0)
        senders = Counter(r.claimed_by for r in rows.values())
        assert len(senders) == 2, senders  # both workers took part
    finally:
        await engine.dispose()
        pg_cluster.drop_database(name)


async def _settled(sessions: Sessions) -> bool:
    return await unsettled(sessions) == 0


# -- python -m bot outbox status ---------------------------------------------------------------
async def test_status_counts_and_rendering(sessions: Sessions) -> None:
    clock = Clock()
    keys = await plan_rows(sessions, 6, 2, now=clock())
    statuses = ["sent", "sent", "failed", "unknown", "pending", "unreachable"]
    async with sessions() as s, s.begin():
        for key, status in zip(keys, statuses, strict=True):
            kind = "reply" if key == keys[0] else "notice"
            await s.execute(
                update(Delivery).where(Delivery.dedupe_key == key).values(status=status, kind=kind)
            )
    counts = await status_counts(sessions)
    assert counts == {
        ("sent", "reply"): 1,
        ("sent", "notice"): 1,
        ("failed", "notice"): 1,
        ("unknown", "notice"): 1,
        ("pending", "notice"): 1,
        ("unreachable", "notice"): 1,
    }
    lines = render_status(counts).splitlines()
    assert lines[0] == texts.OUTBOX_STATUS_HEADER
    names = texts.OUTBOX_STATUS_NAMES
    n = len(names)  # one line per state, every state shown, then the total and the note
    by_name = {line.split("  ")[1].strip(): line for line in lines[1 : 1 + n]}
    assert list(by_name) == [names[s] for s in texts.OUTBOX_STATUS_NAMES]
    assert by_name["đã gửi"].split()[2:] == ["2", "(notice", "1,", "reply", "1)"]
    assert by_name["đang gửi"].split()[-1] == "0"
    assert lines[1 + n].split()[-1] == "6"
    assert lines[2 + n] == texts.OUTBOX_STATUS_UNKNOWN_NOTE

    big = render_status({("sent", "reply"): 3554, ("odd", "reply"): 1})
    assert "3.554" in big and "odd" in big and texts.OUTBOX_STATUS_UNKNOWN_NOTE not in big
