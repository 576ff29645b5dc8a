"""Issue 6 #2 and #5: a crash between storing an update and processing it, and a bot that is
down across a reminder time.

- The real bot (`python -m bot run`, webhook mode) is SIGKILLed while stored updates wait to be
  processed; after a restart on the same database every update is processed exactly once.
- An in-process App with an injected clock is stopped before a reminder's fire time and started
  again after it: the first planning tick at start catches up, once; a reminder (or the digest)
  is never sent once its meeting has started.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import App
from bot.scheduler import Scheduler
from models import invites
from models.db import create_engine, session_factory
from models.orgs import find_unit
from models.roster import import_roster
from models.tables import Delivery, InboxUpdate, Member, OrgUnit
from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegramAPI
from tests.support.bot_process import LEADS, BotProcess, telegram_config
from tests.support.harness import Clock
from tests.support.platforms import Person, TelegramPlatform, free_port, open_platform
from tests.support.world import ROSTER, THON2
from tests.test_journeys import register_pledge

Sessions = async_sessionmaker[AsyncSession]
RUNNING = "lamtheo đang chạy"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        yield api


# -- #2: SIGKILL between store and processing --------------------------------------------------
BURST = 200  # updates, one from each of as many chats
WHILE_DOWN = 20  # the last ones of them sent while the bot is down: redelivered after it
PENDING_AT_KILL = 20  # stored and not yet processed when the bot is killed, at least
DONE_AT_KILL = 1  # and processed already: those must not be processed again


async def inbox_counts(sessions: Sessions) -> Counter[str]:
    stmt = select(InboxUpdate.status, func.count()).group_by(InboxUpdate.status)
    async with sessions() as session:
        return Counter({status: n for status, n in await session.execute(stmt)})


async def pending_unprocessed(sessions: Sessions) -> set[str]:
    """The update keys of rows stored and not processed: pending, and nothing planned for them."""
    async with sessions() as session:
        rows = list(
            await session.execute(
                select(InboxUpdate.id, InboxUpdate.update_key).where(
                    InboxUpdate.status == "pending"
                )
            )
        )
        keys = set(await session.scalars(select(Delivery.dedupe_key)))
    return {key for id_, key in rows if not any(k.startswith(f"in:{id_}:") for k in keys)}


async def test_killed_after_storing_before_processing_each_update_is_processed_once(
    db_url: str, tmp_path: Path, fake: FakeTelegramAPI
) -> None:
    # A short lease: on PostgreSQL the restarted bot takes the dead one's lease over quickly.
    config, _ = telegram_config(tmp_path, fake.base_url, lease_seconds=2, webhook=True)
    # Telegram keeps redelivering an update its webhook did not acknowledge; here for 60 s, far
    # longer than the restart takes.
    fake.webhook_retries, fake.webhook_retry_delay = 600, 0.1
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    first = await BotProcess(config, db_url).start()
    second: BotProcess | None = None
    try:
        await first.wait_for(LEADS)
        await first.wait_for(RUNNING)
        chats = range(3001, 3001 + BURST)
        updates: dict[str, int] = {}

        async def send(some: range, gap: float) -> None:
            for chat in some:
                updates[str(fake.inject_message(chat, "/trogiup")["update_id"])] = chat
                await asyncio.sleep(gap)

        # Over about 0.2 s: stores run concurrently (grouped), processing 20 to a transaction:
        # kill the bot once stored-but-unprocessed rows have piled up (and a few were processed).
        injecting = asyncio.create_task(send(chats[:-WHILE_DOWN], 0.001))
        deadline = time.monotonic() + 30
        while True:
            counts = await inbox_counts(sessions)
            if counts["pending"] >= PENDING_AT_KILL and counts["done"] >= DONE_AT_KILL:
                break
            assert time.monotonic() < deadline, f"no pile-up: {counts}"
            await asyncio.sleep(0.002)
        await first.kill()
        killed_at = time.time()
        await injecting
        await send(chats[-WHILE_DOWN:], 0.01)  # Telegram retries them until the bot is back

        # The state the issue is about really happened: rows stored, acknowledged or not, with
        # nothing done about them yet.
        at_kill = await inbox_counts(sessions)
        unprocessed = await pending_unprocessed(sessions)
        assert at_kill["pending"] >= PENDING_AT_KILL and at_kill["done"] >= DONE_AT_KILL, at_kill
        assert len(unprocessed) == at_kill["pending"], (len(unprocessed), at_kill)
        assert at_kill.total() <= BURST - WHILE_DOWN
        async with sessions() as session:
            stored_at_kill = set(await session.scalars(select(InboxUpdate.update_key)))
            done_at_kill = dict(
                list(
                    await session.execute(
                        select(InboxUpdate.update_key, InboxUpdate.processed_at).where(
                            InboxUpdate.status == "done"
                        )
                    )
                )
            )
            on_the_wire = set(
                await session.scalars(select(Delivery.id).where(Delivery.status == "sending"))
            )
        replies_at_kill = len(fake.calls("sendMessage"))

        restarted = time.monotonic()
        second = await BotProcess(config, db_url).start()
        await second.wait_for(LEADS)
        led = time.monotonic() - restarted

        async def drained() -> bool:
            counts = await inbox_counts(sessions)
            if counts["done"] < BURST:
                return False
            async with sessions() as session:
                waiting = set(
                    await session.scalars(
                        select(Delivery.id).where(Delivery.status.in_(("pending", "sending")))
                    )
                )
            return waiting <= on_the_wire  # only what the killed bot had on the wire

        while not await drained():
            assert time.monotonic() - restarted < 120, (
                f"not drained: {await inbox_counts(sessions)}\n{second.log()}"
            )
            await asyncio.sleep(0.05)
        drain_seconds = time.monotonic() - restarted
        await fake.drain(timeout=30)  # every push has had its answer
        assert await second.stop() == 0
    finally:
        for proc in (first, second):
            if proc is not None:
                await proc.kill()
    for proc in (first, second):
        assert DEFAULT_TOKEN not in "\n".join(proc.lines if proc else [])

    try:
        async with sessions() as session:
            inbox = list(await session.execute(select(InboxUpdate.id, InboxUpdate.update_key)))
            processed_at = dict(
                list(
                    await session.execute(select(InboxUpdate.update_key, InboxUpdate.processed_at))
                )
            )
            statuses = Counter(await session.scalars(select(InboxUpdate.status)))
            deliveries = list(
                await session.execute(
                    select(Delivery.id, Delivery.dedupe_key, Delivery.chat_id, Delivery.status)
                )
            )
    finally:
        await engine.dispose()

    # One row per update, every one processed.
    assert sorted(key for _, key in inbox) == sorted(updates), "an update was stored twice"
    assert statuses == {"done": BURST}, statuses
    # What the killed bot had processed was not processed again.
    assert {key: processed_at[key] for key in done_at_kill} == done_at_kill
    # Exactly one reply planned per update, to its own chat.
    key_of = dict(inbox)
    planned: Counter[str] = Counter()
    for _, dedupe_key, chat_id, _ in deliveries:
        kind, inbox_id, n = dedupe_key.split(":")
        assert (kind, n) == ("in", "0"), dedupe_key
        update_key = key_of[int(inbox_id)]
        assert int(chat_id) == updates[update_key]
        planned[update_key] += 1
    assert planned == Counter(set(updates)), "not exactly one reply per update"
    # At the fake: each chat at most one reply, and exactly one wherever the outbox says "sent".
    # A reply the killed bot had on the wire stays "sending" ("unknown" once its claim is older
    # than the worker's lease): it may or may not have arrived, and is never sent again.
    got = Counter(r["chat_id"] for r in fake.calls("sendMessage"))
    assert set(got) <= set(chats) and max(got.values()) == 1, "a chat got two replies"
    for id_, _, chat_id, status in deliveries:
        if status in ("unknown", "sending"):
            assert id_ in on_the_wire
        else:
            assert status == "sent" and got[int(chat_id)] == 1, (id_, status)

    posts = fake.webhook_deliveries
    retried = {d.update_id for d in posts if d.attempt > 1}
    # Stored before the kill but never acknowledged: delivered again, and a no-op then.
    again = {
        str(d.update_id)
        for d in posts
        if d.time > killed_at and d.status == 200 and str(d.update_id) in stored_at_kill
    }
    failed = sum(1 for d in posts if d.status != 200)
    figures = [
        f"at the kill {len(stored_at_kill)}/{BURST} stored",
        f"{at_kill['pending']} pending (unprocessed), {at_kill['done']} done",
        f"{replies_at_kill} replies out, {len(on_the_wire)} on the wire",
        f"then {failed} failed POSTs, {len(retried)} updates redelivered",
        f"{len(again)} of them already stored",
        f"the restarted bot led after {led:.2f} s",
        f"all {BURST} processed and replied {drain_seconds:.2f} s after the restart",
    ]
    print(f"\n{db_url.split(':')[0]}: " + "; ".join(figures))


# -- #5: down across a reminder time ----------------------------------------------------------
SEC, MEMBER = "Trần Văn Thắng", "Hoàng Văn Sơn"
BELL = "🔔"  # every reminder to a member starts with it
DIGEST = "Tình hình trước sinh hoạt tháng 12/2026"


def local(day: int, hour: int, minute: int = 0, month: int = 12, year: int = 2026) -> datetime:
    """A wall time in Hà Nội as a UTC instant."""
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    return datetime(year, month, day, hour, minute, tzinfo=zone).astimezone(UTC)


class Downtime:
    """The bot in this process on one database, with an injected clock, stopped ("down") and
    started again at will. Counts the planning ticks: APScheduler runs them in real time, the
    first one as soon as the process leads; only the planning reads the injected clock."""

    def __init__(self, db_url: str, platform: TelegramPlatform, monkeypatch: pytest.MonkeyPatch):
        self.config = platform.config(db_url, "polling", free_port())
        self.platform, self.clock = platform, Clock(local(25, 9, month=11))  # a Wednesday
        self.app: App | None = None
        self.ticks: list[Counter[str]] = []
        original = Scheduler.run_once

        async def counted(scheduler: Scheduler) -> Counter[str]:
            planned = await original(scheduler)
            self.ticks.append(planned)
            return planned

        monkeypatch.setattr(Scheduler, "run_once", counted)

    @property
    def sessions(self) -> Sessions:
        assert self.app is not None
        return self.app.sessions

    async def up(self) -> dict[str, int]:
        """Start the bot; returns what its first tick planned, once that is sent (or held)."""
        assert self.app is None
        seen = len(self.ticks)
        self.app = App(self.config, clock=self.clock)
        await self.app.start()
        deadline = time.monotonic() + 30
        while len(self.ticks) == seen:
            assert time.monotonic() < deadline, "no planning tick at start"
            await asyncio.sleep(0.02)
        await self.settled()
        return dict(self.ticks[seen])

    async def down(self) -> None:
        assert self.app is not None
        await self.app.stop()
        self.app = None

    async def restart_at(self, now: datetime) -> dict[str, int]:
        """Down, the clock moves on meanwhile, up again."""
        await self.down()
        assert now > self.clock.now
        self.clock.now = now
        return await self.up()

    async def settled(self) -> None:
        """Wait until nothing is due in the outbox (sent, expired, or held for later)."""
        due = or_(
            Delivery.status == "sending",
            (Delivery.status == "pending") & (Delivery.next_attempt_at <= self.clock()),
        )
        deadline = time.monotonic() + 30
        while True:
            async with self.sessions() as session:
                if not await session.scalar(select(func.count()).where(due)):
                    return
            assert time.monotonic() < deadline, "the outbox did not settle"
            await asyncio.sleep(0.02)

    async def rows(self, kinds: tuple[str, ...] = ("reminder", "digest")) -> dict[str, str]:
        """dedupe key -> status of the deliveries of those kinds."""
        async with self.sessions() as session:
            found = await session.execute(
                select(Delivery.dedupe_key, Delivery.status).where(Delivery.kind.in_(kinds))
            )
            return {key: status for key, status in found}

    async def chi_bo(self, meeting_at: str) -> tuple[Person, Person]:
        """The bot running on 25 Nov: the bí thư and a member join with their codes; the member
        registers a pledge, the bí thư approves it; the chi bộ meets on the 3rd at
        `meeting_at`. Nothing is due yet."""
        async with self.sessions() as session, session.begin():
            report = await import_roster(session, ROSTER, self.clock())
            assert not report.errors, report.errors
            codes = {}
            for name in (SEC, MEMBER):
                m = (await session.scalars(select(Member).where(Member.full_name == name))).one()
                codes[name] = (await invites.issue(session, m.unit, m, self.clock(), days=30)).code
        sec, member = self.platform.person(1, "Thắng"), self.platform.person(3, "Sơn")
        await sec.say(codes[SEC], "Chào đồng chí")
        await member.say(codes[MEMBER], "Chào đồng chí")
        await register_pledge(member)
        await sec.wait(0, "Bản đăng ký chờ duyệt")
        await sec.press("Duyệt", "Đã duyệt")
        await member.wait(0, "Chúc đồng chí thực hiện tốt")
        async with self.sessions() as session, session.begin():
            unit = await find_unit(session, THON2)
            assert unit is not None
            rule = {"kind": "day", "day": 3, "time": meeting_at, "place": "Nhà văn hóa thôn"}
            await session.execute(
                update(OrgUnit).where(OrgUnit.id == unit.id).values(meeting_rule=rule)
            )
        assert self.app is not None
        assert await self.app.scheduler.run_once() == {}  # before D-3: nothing due
        await self.settled()
        assert await self.rows() == {}
        return sec, member


@pytest.fixture
async def downtime(db_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Downtime]:
    async with open_platform("telegram") as platform:
        bot = Downtime(db_url, platform, monkeypatch)
        try:
            yield bot
        finally:
            if bot.app is not None:
                await bot.down()


def bells(person: Person) -> list[str]:
    return [t for t in person.texts() if t.startswith(BELL)]


def digests(person: Person) -> list[str]:
    return [t for t in person.texts() if DIGEST in t]


async def test_down_across_reminder_times_each_is_sent_once_after_the_restart(
    downtime: Downtime,
) -> None:
    bot = downtime
    assert await bot.up() == {}
    sec, member = await bot.chi_bo("19:30")  # Thursday 3 December, 19:30

    # Down across D-3 (Monday 30 Nov, 08:00), back at 10:00: sent once, at once.
    assert await bot.restart_at(local(30, 10, month=11)) == {"d3": 2}
    assert [t.split(":")[0] for t in bells(member)] == [f"{BELL} <b>Nhắc việc</b>"]
    assert len(bells(sec)) == 1  # the bí thư is a member too (no pledge: told to register)
    # Another restart, the next day (not "reminded today" any more): nothing again.
    assert await bot.restart_at(local(1, 10)) == {}
    assert len(bells(member)) == len(bells(sec)) == 1

    # Down across D-1 08:00 and the digest at 18:00 (digest_days=1, digest_at=18:00).
    assert await bot.restart_at(local(2, 20)) == {"d1": 2, "digest": 1}
    assert "Nhắc lại" in bells(member)[-1] and len(bells(member)) == 2
    assert len(bells(sec)) == 2 and len(digests(sec)) == 1
    assert await bot.restart_at(local(2, 20, 30)) == {}
    assert len(bells(member)) == len(bells(sec)) == 2 and len(digests(sec)) == 1

    # Down across the day-of reminder (17:30) until after the meeting began: no day-of reminder
    # for a meeting in the past.
    assert await bot.restart_at(local(3, 21)) == {}
    assert len(bells(member)) == len(bells(sec)) == 2 and len(digests(sec)) == 1
    rows = await bot.rows()
    assert set(rows.values()) == {"sent"}, rows
    assert sorted(k.split(":")[2] for k in rows if k.startswith("reminder")) == [
        "d1",
        "d1",
        "d3",
        "d3",
    ]


async def test_down_until_the_meeting_began_a_planned_reminder_expires_unsent(
    downtime: Downtime,
) -> None:
    bot = downtime
    assert await bot.up() == {}
    sec, member = await bot.chi_bo("07:30")  # Thursday 3 December, 07:30

    # Back late on D-1 (22:00, quiet hours): the D-1 follow-up and the digest are planned and
    # held until 07:00 ...
    assert await bot.restart_at(local(2, 22)) == {"d1": 2, "digest": 1}
    held = await bot.rows()
    assert len(held) == 3 and set(held.values()) == {"pending"}
    # ... but the bot is down from 23:00 until 08:00, after the meeting began: they are
    # dropped, never sent; no day-of reminder is planned for the past meeting.
    assert await bot.restart_at(local(3, 8)) == {}
    assert await bot.restart_at(local(3, 8, 30)) == {}
    rows = await bot.rows()
    assert rows.keys() == held.keys() and set(rows.values()) == {"expired"}, rows
    assert bells(member) == bells(sec) == digests(sec) == []


async def test_down_from_before_d3_until_after_the_meeting_nothing_is_planned(
    downtime: Downtime,
) -> None:
    bot = downtime
    assert await bot.up() == {}
    sec, member = await bot.chi_bo("19:30")
    assert await bot.restart_at(local(3, 19, 31)) == {}  # one minute into the meeting
    assert await bot.restart_at(local(4, 9)) == {}
    assert await bot.rows() == {}
    assert bells(member) == bells(sec) == digests(sec) == []
