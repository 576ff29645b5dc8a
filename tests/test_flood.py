"""Flood throttling (bot/throttle.py): a member who floods the bot is throttled after a small
burst and told once; other members are served as if nothing happened, and the flood takes no
share of the outgoing budget. Redeliveries of throttled updates have no effect."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import App
from bot.config import ConfigError, load
from bot.inbox import render_status, status_counts, store
from bot.throttle import FloodThrottle, Verdict, throttle_for
from handlers import texts
from handlers.messages import Incoming
from handlers.settings import Settings
from models.tables import Delivery, InboxUpdate
from tests.support.harness import CHANNEL, Clock, text_of
from tests.support.platforms import (
    TelegramPlatform,
    ZaloBotPlatform,
    free_port,
    open_platform,
)
from tests.support.world import World, link, make_world
from tests.test_journeys import MEMBER, SEC

BURST, PER_SECOND = Settings().flood_burst, Settings().flood_per_second


# -- the bucket ----------------------------------------------------------------------------------


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_burst_refill_and_one_notice_per_burst() -> None:
    t = Ticks()
    throttle = FloodThrottle(3, 1.0, clock=t, notice_seconds=60)

    def take(chat: str = "1", channel: str = "telegram") -> Verdict:
        return throttle.take(channel, chat).verdict

    verdicts = []
    for _ in range(10):
        verdicts.append(take())
        t.now += 0.01
    assert verdicts == [Verdict.ACCEPT] * 3 + [Verdict.NOTICE] + [Verdict.DROP] * 6
    assert take("2") is Verdict.ACCEPT  # another chat: its own bucket
    assert take(channel="zalo_bot") is Verdict.ACCEPT  # another channel too
    # Still sending faster than one a second: still throttled, and not told again.
    for _ in range(20):
        t.now += 0.9
        assert take() is Verdict.DROP
    # A pause of one second is enough to be served again ...
    t.now += 1.0
    assert take() is Verdict.ACCEPT
    # ... and another burst soon after is throttled silently (one notice a minute at most)
    assert take() is Verdict.DROP
    t.now += 61
    assert [take() for _ in range(4)] == [Verdict.ACCEPT] * 3 + [Verdict.NOTICE]


def test_an_update_not_stored_is_not_counted() -> None:
    t = Ticks()
    throttle = FloodThrottle(2, 1.0, clock=t, notice_seconds=60)
    for _ in range(5):  # a redelivery (or a failed store) is undone: nothing changes
        throttle.take("telegram", "1").undo()
    assert len(throttle) == 0
    assert [throttle.take("telegram", "1").verdict for _ in range(2)] == [Verdict.ACCEPT] * 2
    noticed = throttle.take("telegram", "1")
    assert noticed.verdict is Verdict.NOTICE
    noticed.undo()
    t.now += 0.5
    again = throttle.take("telegram", "1")
    assert again.verdict is Verdict.NOTICE  # the undone notice was never sent
    again.undo()
    t.now += 0.6  # the partial refill before the undone take is still there: a token
    assert throttle.take("telegram", "1").verdict is Verdict.ACCEPT


def test_bucket_memory_is_bounded() -> None:
    t = Ticks()
    throttle = FloodThrottle(2, 1.0, clock=t, notice_seconds=10, max_chats=50)
    for n in range(40):
        throttle.take("telegram", str(n))
    assert len(throttle) == 40
    t.now += 11  # idle longer than a refill and a notice interval: forgotten
    throttle.take("telegram", "new")
    assert len(throttle) == 1
    for n in range(500):  # many chats at once: the least recently seen go first
        throttle.take("telegram", str(n))
    assert len(throttle) <= 50


def test_config_reads_the_limits(tmp_path: Any) -> None:
    assert load(env={}).settings.flood_burst == BURST == 10  # config.toml: the defaults
    assert load(env={}).settings.flood_per_second == PER_SECOND == 1.0
    path = tmp_path / "c.toml"
    path.write_text("[limits]\nflood_burst = 0\nflood_per_second = 2\n", encoding="utf-8")
    off = load(path, env={}).settings
    assert (off.flood_burst, off.flood_per_second) == (0, 2.0)
    assert throttle_for(off) is None
    for bad in ("flood_burst = -1", "flood_per_second = 0"):
        path.write_text(f"[limits]\n{bad}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=bad.split()[0]):
            load(path, env={})


# -- through the real inbox, core and outbox (injected clock) ------------------------------------


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> World:
    w = await make_world(sessions, Clock())
    clock = w.h.clock
    w.h.throttle = FloodThrottle(BURST, PER_SECOND, clock=lambda: clock().timestamp())
    return w


async def inbox_rows(sessions: async_sessionmaker[AsyncSession], chat: str) -> list[InboxUpdate]:
    async with sessions() as s:
        rows = list(await s.scalars(select(InboxUpdate).order_by(InboxUpdate.id)))
    return [r for r in rows if r.payload["chat_id"] == chat]


def notices(replies: list[Any]) -> int:
    return sum(r.text == texts.FLOOD_NOTICE for r in replies)


async def flood(w: World, chat: str, n: int, *, prefix: str = "f") -> None:
    """n messages in n/100 seconds, each stored as its channel would (nothing processed yet)."""
    for i in range(n):
        inc = Incoming(channel=CHANNEL, chat_id=chat, user_id=chat, text=f"ok {i}")
        await store(
            w.h.sessions, inc, update_key=f"{prefix}{i}", now=w.h.clock(), throttle=w.h.throttle
        )
        w.h.clock.advance(seconds=0.01)


async def test_a_flood_gets_a_burst_one_notice_and_is_served_after_a_pause(world: World) -> None:
    w, h = world, world.h
    await link(w, "c3", "Hoàng Văn Sơn")
    await link(w, "c1", "Trần Văn Thắng")
    h.clock.advance(seconds=60)  # the link's token is back
    greeted = len(h.to("c3"))
    await flood(w, "c3", 100)
    # The other member writes right after it, and is answered.
    replies = await h.say("c1", "/trogiup")
    assert "Các việc đồng chí có thể làm" in text_of(replies)
    await h.delivery.drain()
    rows = [r for r in await inbox_rows(h.sessions, "c3") if r.update_key.startswith("f")]
    assert [r.status for r in rows] == ["done"] * BURST + ["throttled"] * (100 - BURST)
    sent = h.to("c3")[greeted:]
    assert notices(sent) == 1
    assert len(sent) == BURST + 1  # BURST answers, one notice: nothing for the throttled ones
    assert all(texts.NOT_UNDERSTOOD in r.text for r in sent if r.text != texts.FLOOD_NOTICE)
    # After a short pause Sơn is served again, without another notice.
    h.clock.advance(seconds=1 / PER_SECOND)
    again = await h.say("c3", "/trogiup")
    assert "Các việc đồng chí có thể làm" in text_of(again) and notices(again) == 0
    assert (await inbox_rows(h.sessions, "c3"))[-1].status == "done"
    # the operator sees them
    counts = await status_counts(h.sessions)
    assert counts["throttled"] == 100 - BURST
    shown = render_status(counts)
    assert f"{texts.INBOX_STATUS_NAMES['throttled']}  " in shown and "90" in shown


async def test_redelivering_a_throttled_update_has_no_effect(world: World) -> None:
    w, h = world, world.h
    await link(w, "c3", "Hoàng Văn Sơn")
    h.clock.advance(seconds=60)
    await flood(w, "c3", 30)
    await h.inbox.drain()
    await h.delivery.drain()
    before_rows = [(r.id, r.status) for r in await inbox_rows(h.sessions, "c3")]
    before_sent = len(h.channel.sent)
    async with h.sessions() as s:
        before_planned = len(list(await s.scalars(select(Delivery.id))))
    h.clock.advance(seconds=1 / PER_SECOND)  # one token back
    for i in range(30):  # every update again, the throttled ones and the one noticed too
        inc = Incoming(channel=CHANNEL, chat_id="c3", user_id="c3", text=f"ok {i}")
        new = await store(h.sessions, inc, update_key=f"f{i}", now=h.clock(), throttle=h.throttle)
        assert not new
    await h.inbox.drain()
    await h.delivery.drain()
    assert [(r.id, r.status) for r in await inbox_rows(h.sessions, "c3")] == before_rows
    assert len(h.channel.sent) == before_sent
    async with h.sessions() as s:
        assert len(list(await s.scalars(select(Delivery.id)))) == before_planned
    # The redeliveries took nothing from the bucket: the token that came back is still there.
    assert "Các việc đồng chí có thể làm" in text_of(await h.say("c3", "/trogiup"))


async def test_zalo_bot_chats_are_throttled_on_the_same_path(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The Zalo Bot's updates go through the same store; its chat ids are Zalo's."""
    t = Ticks()
    throttle = FloodThrottle(BURST, PER_SECOND, clock=t)
    now = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    chat = "6ede9afa66b88fe6d6ac"
    for i in range(40):
        inc = Incoming(channel="zalo_bot", chat_id=chat, user_id=chat, text="1")
        assert await store(sessions, inc, update_key=f"z{i}", now=now, throttle=throttle)
        t.now += 0.01
    # the follow/unfollow events of a Zalo OA are not counted: nobody typed them
    gone = Incoming(channel="zalo_oa", chat_id="5", user_id="5", event="unfollow")
    for i in range(BURST + 5):
        assert await store(sessions, gone, update_key=f"e{i}", now=now, throttle=throttle)
    async with sessions() as s:
        rows = list(await s.scalars(select(InboxUpdate).order_by(InboxUpdate.id)))
        planned = list(await s.scalars(select(Delivery)))
    assert [r.status for r in rows] == (
        ["pending"] * BURST + ["throttled"] * (40 - BURST) + ["pending"] * (BURST + 5)
    )
    assert [(d.channel, d.chat_id, d.payload["text"]) for d in planned] == [
        ("zalo_bot", chat, texts.FLOOD_NOTICE)
    ]


# -- end to end: the real bot against the fake Telegram and Zalo Bot servers ---------------------


@pytest.fixture
async def telegram() -> AsyncIterator[TelegramPlatform]:
    async with open_platform("telegram") as opened:
        yield opened


@pytest.fixture
async def zalo_bot() -> AsyncIterator[ZaloBotPlatform]:
    async with open_platform("zalo_bot") as opened:
        yield opened


async def start(platform: Any, db_url: str, mode: str) -> App:
    config = platform.config(db_url, mode, free_port())
    app = App(replace(config, settings=Settings()))  # the defaults, throttle on
    await app.start()
    return app


async def flood_stored(app: App, chat: str, n: int) -> list[InboxUpdate]:
    """The chat's flood ("ok …") once all n of it is stored."""
    for _ in range(600):
        rows = await inbox_rows(app.sessions, chat)
        flood = [r for r in rows if str(r.payload["text"]).startswith("ok ")]
        if len(flood) >= n:
            return flood
        await asyncio.sleep(0.1)
    raise AssertionError(f"{len(flood)} of {n} updates stored")


async def timed(person: Any, text: str, expect: str) -> float:
    began = time.monotonic()
    await person.say(text, expect)
    return time.monotonic() - began


async def test_a_flooder_does_not_slow_other_members_or_spend_the_budget(
    db_url: str, telegram: TelegramPlatform, roster_codes: dict[str, str]
) -> None:
    app = await start(telegram, db_url, "polling")
    try:
        sec, flooder = telegram.person(SEC, "Thắng"), telegram.person(MEMBER, "Sơn")
        await sec.say(roster_codes["Trần Văn Thắng"], "Chào đồng chí")
        await flooder.say(roster_codes["Hoàng Văn Sơn"], "Chào đồng chí")
        help_header = "Các việc đồng chí có thể làm"
        baseline = await timed(sec, "/trogiup", help_header)
        await asyncio.sleep(1.5)  # Sơn's token for joining is back
        joined = len(telegram.fake.messages_to(int(flooder.chat)))

        async def flood() -> None:
            for i in range(100):  # 100 messages a second
                telegram.inject(flooder, f"ok {i}")
                await asyncio.sleep(0.01)

        flooding = asyncio.create_task(flood())
        await asyncio.sleep(0.3)  # ~30 of them are in front of the secretary's message
        during = await timed(sec, "/trogiup", help_header)
        await flooding
        print(f"secretary's /trogiup: {baseline:.3f}s without a flood, {during:.3f}s during one")

        flood_rows = await flood_stored(app, flooder.chat, 100)
        asked = (await inbox_rows(app.sessions, sec.chat))[-1]
        assert asked.payload["text"] == "/trogiup" and asked.processed_at is not None
        ahead = [r for r in flood_rows if r.id < asked.id]
        assert len(ahead) > BURST  # the flood had arrived before the secretary's message ...
        processed_first = [
            r
            for r in ahead
            if r.status == "done" and r.processed_at and r.processed_at <= asked.processed_at
        ]
        assert len(processed_first) <= BURST  # ... but he waited for at most a burst of it
        assert during < baseline + 5  # generous: a shared machine; the figures are printed

        # The flood's share of the outgoing budget: its burst of answers and one notice.
        await flooder.wait(joined, texts.FLOOD_NOTICE)
        await asyncio.sleep(1.5)  # whatever was planned has gone out
        flood_rows = await flood_stored(app, flooder.chat, 100)
        done = [r for r in flood_rows if r.status == "done"]
        assert len(done) <= BURST and len(flood_rows) - len(done) >= 100 - BURST
        to_flooder = [m["params"]["text"] for m in telegram.fake.messages_to(int(flooder.chat))]
        assert len(to_flooder[joined:]) <= BURST + 1
        assert to_flooder[joined:].count(texts.FLOOD_NOTICE) == 1

        # after a pause, Sơn is served again
        await flooder.say("/trogiup", help_header)
    finally:
        await app.stop()


async def test_a_zalo_bot_flood_is_throttled_and_its_redelivery_ignored(
    db_url: str, zalo_bot: ZaloBotPlatform
) -> None:
    app = await start(zalo_bot, db_url, "webhook")
    try:
        member = zalo_bot.person(MEMBER, "Sơn")
        zalo_bot.fake.know_chat(member.chat)
        updates = [zalo_bot.inject(member, f"ok {i}") for i in range(40)]
        await member.wait(0, texts.FLOOD_NOTICE)
        await zalo_bot.fake.drain()
        rows = await inbox_rows(app.sessions, member.chat)
        assert len(rows) == 40
        throttled = [r.id for r in rows if r.status == "throttled"]
        assert len(throttled) >= 40 - BURST
        for update in updates:  # Zalo delivers every one of them again
            zalo_bot.fake.replay(update)
        await zalo_bot.fake.drain()
        await asyncio.sleep(1.0)
        again = await inbox_rows(app.sessions, member.chat)
        assert [r.id for r in again] == [r.id for r in rows]
        assert [r.id for r in again if r.status == "throttled"] == throttled
        shown = [zalo_bot.visible(t) for t in member.texts()]
        assert sum(t == zalo_bot.visible(texts.FLOOD_NOTICE) for t in shown) == 1
        assert len(shown) <= BURST + 1
    finally:
        await app.stop()
