"""Issue 6 #6: several bot processes on one database, exactly one leads (polls, processes, plans,
sends); when it dies the other takes over within the configured lease."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.leader import EXPIRY_SHARE, FileLock, Leadership, TableLease, claim_for
from models import leases
from models.db import create_engine, session_factory, utcnow
from models.tables import Delivery, InboxUpdate
from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegramAPI
from tests.support.bot_process import LEADS, BotProcess, telegram_config
from tests.support.harness import Clock

Sessions = async_sessionmaker[AsyncSession]
TTL = timedelta(seconds=10)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        yield api


async def take(sessions: Sessions, holder: str, clock: Clock) -> bool:
    async with sessions() as session, session.begin():
        return await leases.take(session, "main", holder, now=clock(), ttl=TTL)


async def test_one_holder_at_a_time_until_it_expires_or_is_given_up(sessions: Sessions) -> None:
    clock = Clock()
    assert await take(sessions, "a", clock)
    taken_at = clock()
    assert not await take(sessions, "b", clock)
    clock.advance(seconds=9)
    assert await take(sessions, "a", clock)  # a renewal
    clock.advance(seconds=9)
    assert not await take(sessions, "b", clock)  # the renewal moved the expiry on
    async with sessions() as session:
        lease = await leases.current(session, "main")
        assert lease is not None
        assert (lease.holder, lease.acquired_at) == ("a", taken_at)
    clock.advance(seconds=1.5)  # 10.5 s after the last renewal: expired
    assert await take(sessions, "b", clock)
    assert not await take(sessions, "a", clock)
    async with sessions() as session, session.begin():
        await leases.release(session, "main", "a")  # not a's to give up: nothing happens
    assert not await take(sessions, "a", clock)
    async with sessions() as session, session.begin():
        await leases.release(session, "main", "b")
    assert await take(sessions, "a", clock)


async def test_of_many_asking_at_once_exactly_one_gets_the_lease(sessions: Sessions) -> None:
    clock = Clock()
    got = await asyncio.gather(*(take(sessions, f"p{i}", clock) for i in range(8)))
    assert sum(got) == 1
    clock.advance(seconds=11)
    got = await asyncio.gather(*(take(sessions, f"q{i}", clock) for i in range(8)))
    assert sum(got) == 1


async def test_on_sqlite_a_file_lock_beside_the_database_leads(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lamtheo.db'}"
    a, b = (claim_for(url, None, utcnow, h, 15) for h in "ab")  # type: ignore[arg-type]
    assert isinstance(a, FileLock) and a.path == tmp_path / "lamtheo.db.leader"
    assert await a.take() and await a.take()  # kept
    assert not await b.take()
    await a.release()
    assert await b.take() and not await a.take()
    await b.release()


class Flaky:
    """A session factory whose database goes away on demand: "down" raises, "hung" never
    answers (fault injection below our code, like a network partition)."""

    def __init__(self, sessions: Sessions) -> None:
        self.sessions, self.mode = sessions, "up"

    def __call__(self) -> Any:
        if self.mode == "down":
            raise OSError("connection refused")
        if self.mode == "hung":
            return _Hung()
        return self.sessions()


class _Hung:
    async def __aenter__(self) -> Any:
        await asyncio.sleep(3600)

    async def __aexit__(self, *exc: object) -> None:
        return None


async def leadership_pair(
    sessions: Sessions, lease: float
) -> tuple[Leadership, Leadership, Flaky, list[str]]:
    events: list[str] = []

    def leader(name: str, factory: Callable[[], Any]) -> Leadership:
        async def elected() -> None:
            events.append(f"{name} leads")

        async def deposed() -> None:
            events.append(f"{name} steps down")

        claim = TableLease(factory, utcnow, name, timedelta(seconds=lease * EXPIRY_SHARE))  # type: ignore[arg-type]
        return Leadership(
            claim,
            holder=name,
            lease_seconds=lease,
            on_elected=elected,
            on_deposed=deposed,
        )

    flaky = Flaky(sessions)
    return leader("a", flaky), leader("b", sessions), flaky, events


async def until(predicate: Callable[[], bool], a: Leadership, b: Leadership) -> None:
    """Wait for `predicate`, checking all along that the two never lead at the same time."""
    while not predicate():
        assert not (a.leading and b.leading), "two processes led at once"
        await asyncio.sleep(0.005)


@pytest.mark.parametrize("fault", ["down", "hung"])
async def test_a_leader_cut_off_from_the_database_steps_down_before_another_takes_over(
    sessions: Sessions, fault: str
) -> None:
    a, b, flaky, events = await leadership_pair(sessions, lease=1.0)
    run_a = asyncio.create_task(a.run())
    await asyncio.wait_for(until(lambda: a.leading, a, b), 5)
    run_b = asyncio.create_task(b.run())
    await asyncio.sleep(0.5)
    assert not b.leading  # a standby while a renews

    cut = time.monotonic()
    flaky.mode = fault
    await asyncio.wait_for(until(lambda: b.leading, a, b), 5)
    took_over = time.monotonic() - cut
    assert events == ["a leads", "a steps down", "b leads"], events
    assert took_over <= 1.0, took_over  # within the lease

    flaky.mode = "up"  # a comes back: a standby now, b keeps leading
    await asyncio.sleep(0.5)
    assert (a.leading, b.leading) == (False, True)
    for task in (run_a, run_b):
        task.cancel()
    await asyncio.gather(run_a, run_b, return_exceptions=True)
    async with sessions() as session:
        assert await leases.current(session, "main") is None  # b gave it up on stopping


# -- two real bot processes --------------------------------------------------------------------
async def replies(fake: FakeTelegramAPI, chats: range) -> Counter[int]:
    return Counter(r["chat_id"] for r in fake.calls("sendMessage") if r["chat_id"] in chats)


async def test_two_bot_processes_one_leads_and_the_other_takes_over_when_it_is_killed(
    db_url: str, tmp_path: Path, fake: FakeTelegramAPI
) -> None:
    lease = 3.0
    config, _ = telegram_config(tmp_path, fake.base_url, lease_seconds=lease)
    first = await BotProcess(config, db_url).start()
    second = None
    try:
        await first.wait_for(LEADS)
        second = await BotProcess(config, db_url).start()
        await second.wait_for("lamtheo đang chạy", timeout=60)
        await asyncio.sleep(lease)  # the second has looked at the lease several times

        chats = range(1001, 1021)
        for chat in chats:
            fake.inject_message(chat, "/trogiup")
        await fake.wait_for(lambda: len(fake.calls("sendMessage")) >= len(chats), timeout=30)
        assert not second.said(LEADS)
        assert not [r for r in fake.rejected if r["status"] == 409]  # one getUpdates poller

        killed = time.monotonic()
        await first.kill()
        led = await second.wait_for(LEADS, timeout=lease * 3)
        takeover = led - killed
        assert takeover <= lease, takeover

        later = range(2001, 2021)
        for chat in later:
            fake.inject_message(chat, "/trogiup")
        await fake.wait_for(
            lambda: len(fake.calls("sendMessage")) >= len(chats) + len(later), timeout=30
        )
        assert not [r for r in fake.rejected if r["status"] == 409]
        assert await second.stop() == 0
    finally:
        for proc in (first, second):
            if proc is not None:
                await proc.kill()

    sent = await replies(fake, range(1001, 2021))
    assert set(sent) == {*chats, *later} and set(sent.values()) == {1}  # each exactly once
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as session:
            assert await session.scalar(select(func.count()).select_from(InboxUpdate)) == 40
            # A reply the killed leader had on the wire stays "sending" (later "unknown"): its
            # claim still names the sender.
            senders = await session.execute(
                select(Delivery.chat_id, Delivery.claimed_by).where(
                    Delivery.claimed_by.is_not(None)
                )
            )
            by_chat = {int(chat): worker for chat, worker in senders}
            assert len({by_chat[c] for c in chats}) == 1  # the first leader sent all of these
            assert len({by_chat[c] for c in later}) == 1
            assert by_chat[chats[0]] != by_chat[later[0]]
            assert await leases.current(session, "main") is None  # given up on SIGTERM
    finally:
        await engine.dispose()
    for proc in (first, second):
        assert DEFAULT_TOKEN not in "\n".join(proc.lines if proc else [])
    print(f"\nlease {lease} s: the standby led {takeover:.2f} s after the leader was killed")
