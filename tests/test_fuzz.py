"""Property-based fuzzing (hypothesis) of every step of every flow, on every channel.

An explorer (tests/support/fuzz.py) walks the example chi bộ into every step of every flow the
engine registers (a new step it cannot reach fails the test: give it a sample answer there).
Then each example puts one person back at one step and sends one hostile update: any text
(empty, 10,000 characters, NUL and control characters, bidi overrides, zero-width characters,
combining-mark storms, emoji, NFD Vietnamese, HTML and Markdown specials), a forged or stale
button, a command at the wrong step. After it:

- the update was handled: no inbox row is "failed" (no unhandled exception in the core);
- every planned message can be sent on Telegram (valid HTML after the split, at most 4,096
  characters, callback data of 1–64 bytes), on the Zalo Bot and on a Zalo OA (pieces of
  1–2,000 characters, button titles and payloads), with no NUL anywhere;
- the conversation still loads at a registered step, /huy leaves it and /trogiup answers.

A smaller fuzz goes end to end through the fake Telegram, Zalo Bot and Zalo OA servers, which
refuse what the real APIs refuse.

Examples per test: LAMTHEO_FUZZ_EXAMPLES (default 50); `-m slow` runs a bigger profile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import App
from bot.channels.zalo_oa import CHOICE_PREFIX
from handlers.engine import COMMANDS, FLOWS
from handlers.messages import Incoming
from models import access, invites
from models.db import create_engine, session_factory
from models.orgs import find_unit
from models.roster import import_roster
from models.tables import Conversation, Delivery, Identity, InboxUpdate, Member
from tests.support.fuzz import (
    ALL_AT_ONCE,
    Explorer,
    Fuzz,
    Pipe,
    Planned,
    Spot,
    at_limit,
    command_text,
    forged_choice,
    fuzz_for,
    hostile_text,
    problems,
    registered_steps,
    restore,
)
from tests.support.harness import CHANNEL, Clock, text_of
from tests.support.platforms import (
    DEFAULT_MODE,
    PLATFORMS,
    Person,
    Platform,
    TelegramPlatform,
    ZaloOAPlatform,
    free_port,
    open_platform,
)
from tests.support.world import CONCRETE, ROSTER, link, make_world, register

DANG_BO = "Đảng bộ xã Hưng Bình"
EXAMPLES = int(os.environ.get("LAMTHEO_FUZZ_EXAMPLES", "50"))
T = TypeVar("T")


# Monday 2 November 2026, 09:00 in Hà Nội. The chi bộ meets on the 5th at 19:30: November's
# period is open, October's meeting is past (the bí thư reviews it and reopens it for a member).
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")).astimezone(UTC)
SEC, M1, M2, M3, STRANGER = "sec", "m1", "m2", "m3", "stranger"


# -- the explored world ----------------------------------------------------------------------


async def build(sessions: async_sessionmaker[AsyncSession]) -> tuple[Pipe, Explorer]:
    """The example chi bộ with every role and pledges in each state; then every step of every
    flow reached from the engine's commands, typed by each kind of person."""
    w = await make_world(sessions, Clock(NOW))
    h = w.h
    await link(w, SEC, "Trần Văn Thắng")  # bí thư of Chi bộ thôn 2, quản trị of the đảng bộ
    await link(w, M1, "Hoàng Văn Sơn")  # approved pledge
    await link(w, M2, "Lê Văn Đức")  # approved pledge; October reopened for him
    await link(w, M3, "Nguyễn Văn Hùng")  # phó bí thư; a pledge waiting for approval
    async with sessions() as s, s.begin():
        dang_bo = await find_unit(s, DANG_BO)
        sec = (await s.scalars(select(Member).where(Member.full_name == "Trần Văn Thắng"))).one()
        assert dang_bo is not None
        await access.grant(s, sec, dang_bo, access.ADMIN, now=NOW)
    for chat in (M1, M2):
        await register(w, chat, items=[CONCRETE])
        await h.press(SEC, "Duyệt")
    await register(w, M3, items=[CONCRETE])
    await h.say(SEC, "/lichhop")
    await h.press(SEC, "Đặt lịch hằng tháng")
    await h.say(SEC, "ngày 5")
    await h.say(SEC, "19:30")
    await h.press(SEC, "Bỏ qua")
    await h.press(SEC, "Lưu")
    assert "Đã lưu lịch sinh hoạt" in h.last(SEC).text
    await h.say(SEC, "/chibo")
    await h.press(SEC, "Xem xét sau sinh hoạt tháng 10/2026")
    await h.press(SEC, "Lê Văn Đức")
    await h.press(SEC, "Mở lại cho nộp muộn")
    assert "mở lại tự đánh giá tháng 10/2026" in h.last(M2).text
    await h.say(SEC, "/huy")
    # November submitted: /tudanhgia then offers to edit it.
    await h.say(M2, "/tudanhgia")
    await h.press(M2, "Tháng 11/2026")
    await h.press(M2, "Đã thực hiện")
    await h.press(M2, "Bỏ qua")
    await h.press(M2, "Không có")
    await h.press(M2, "Gửi")
    assert "Đã nhận tự đánh giá tháng 11/2026" in h.last(M2).text

    pipe = Pipe(h)
    x = Explorer(h, pipe)
    # The member first (the bí thư's exploring may move or cancel the meeting); each person's
    # commands twice: what the first round saved (an assessment) opens steps of its own.
    for chat, entries in (
        (M2, [f"/{name}" for name in sorted(COMMANDS)]),
        (SEC, [f"/{name}" for name in sorted(COMMANDS)]),
        (STRANGER, ["/start", w.join_code]),
    ):
        entered = [text for text in entries if await x.start(chat, text)]
        for text in entered:
            await x.start(chat, text)
    return pipe, x


# -- one example -----------------------------------------------------------------------------


async def check_state(sessions: async_sessionmaker[AsyncSession], key: str) -> Conversation | None:
    """The conversation row loads, sits at a registered step and holds a well-formed menu."""
    async with sessions() as s:
        conv = await s.get(Conversation, key)
    if conv is None:
        return None
    if conv.flow is not None:
        assert conv.flow in FLOWS, conv.flow
        assert conv.step in FLOWS[conv.flow].steps, (conv.flow, conv.step)
    json.dumps(conv.data)
    for entry in conv.menu:
        assert isinstance(entry, list) and len(entry) == 2, entry
        assert all(isinstance(v, str) for v in entry), entry
    return conv


def check_sendable(planned: list[Planned]) -> None:
    for p in planned:
        if p.reply is not None:
            found = problems(p.reply)
            assert not found, (found, p.reply.text[:300])


async def one(pipe: Pipe, spot: Spot, updates: list[Fuzz]) -> None:
    """Put the person at the spot, send the updates, check every property after each."""
    if spot.key.startswith("c:"):  # not linked: a chat of its own (the explored one may be now)
        chat = f"fuzz-{spot.chat}"
        spot = replace(spot, chat=chat, key=f"c:{CHANNEL}:{chat}")
    sessions = pipe.h.sessions
    await restore(sessions, spot)
    pipe.h.clock.now = spot.now
    for fuzz in updates:
        planned = await pipe.send(fuzz.incoming(spot.chat))
        if fuzz.choice is None:
            assert any(p.chat_id == spot.chat and p.kind != "ack" for p in planned), "no answer"
        check_sendable(planned)
        await check_state(sessions, spot.key)
    # The person can always leave, and start again.
    planned = await pipe.send(Incoming(CHANNEL, spot.chat, spot.chat, text="/huy"))
    planned += await pipe.send(Incoming(CHANNEL, spot.chat, spot.chat, text="/trogiup"))
    conv = await check_state(sessions, spot.key)
    assert conv is None or conv.flow is None, (conv.flow, conv.step)
    check_sendable(planned)
    help_text = [p.reply.text for p in planned if p.reply and p.chat_id == spot.chat][-1]
    assert "/" in help_text, help_text


# Inputs that once broke a step (flow.step, update), replayed first in every run.
REGRESSIONS: list[tuple[str, list[Fuzz]]] = [
    # str.isdigit() is true of "²", which int() refuses: a prompt number, a typed choice, a year.
    ("pledge.review", [Fuzz(choice="²:submit")]),
    ("assess.item", [Fuzz(text="²")]),
    ("theme.year", [Fuzz(text="²")]),
    # A forged id no BIGINT holds (SQLite: OverflowError; PostgreSQL: out of range).
    ("review.member", [Fuzz(choice="!pa:" + "9" * 25)]),
    ("pledge.review", [Fuzz(choice="!xf:" + "9" * 30)]),
    # The name the platform reports, shown to the bí thư: NUL, markup, a bidi override.
    ("join.name", [Fuzz(text="Nguyễn Văn Mới", display_name="A\x00<b>B\u202e" * 60)]),
]


def run_fuzz(db_url: str, examples: int) -> None:
    """Explore, then fuzz, in one event loop of our own (hypothesis drives a sync function)."""
    with asyncio.Runner() as runner:
        engine = create_engine(db_url, pool_size=5)
        sessions = session_factory(engine)

        def sync(make: Callable[[], Awaitable[T]]) -> T:
            return runner.run(make())  # type: ignore[arg-type]

        try:
            pipe, x = sync(lambda: build(sessions))
            missing = registered_steps() - {name for _, name in x.spots}
            assert not missing, f"steps the explorer never reached: {sorted(missing)}"
            spots = [x.spots[key] for key in sorted(x.spots)]

            def case(spot: Spot) -> st.SearchStrategy[tuple[Spot, list[Fuzz]]]:
                return st.tuples(st.just(spot), fuzz_for(spot))

            @settings(
                max_examples=examples,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(st.sampled_from(spots).flatmap(case))
            def check(c: tuple[Spot, list[Fuzz]]) -> None:
                sync(lambda: one(pipe, *c))

            # Before the random examples every step gets the sweep: everything hostile in one
            # text, then the longest text the step accepts.
            for spot in spots:
                sweep = [
                    Fuzz(text=ALL_AT_ONCE, display_name=ALL_AT_ONCE),
                    Fuzz(text=at_limit(spot, pipe.h.settings)),
                ]
                check = example((spot, sweep))(check)
            first = {name: spot for (_, name), spot in sorted(x.spots.items(), reverse=True)}
            for name, fuzz in REGRESSIONS:
                check = example((first[name], fuzz))(check)
            check()
        finally:
            sync(engine.dispose)


def test_every_step_of_every_flow_survives_hostile_input(db_url: str) -> None:
    run_fuzz(db_url, EXAMPLES)


@pytest.mark.slow
def test_every_step_of_every_flow_survives_hostile_input_at_length(db_url: str) -> None:
    run_fuzz(db_url, max(EXAMPLES, 500))  # more by hand: LAMTHEO_FUZZ_EXAMPLES=5000


async def test_the_name_a_platform_reports_is_cleaned_before_it_is_stored(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Linking stores the platform's display name (200 characters at most in the database)."""
    w = await make_world(sessions, Clock(NOW))
    reported = "Sơn\x00 <b>\u202e\u200b" + "x" * 400
    start = f"/start {w.codes['Hoàng Văn Sơn']}"
    replies = await w.h.deliver(Incoming(CHANNEL, "c1", "c1", text=start, display_name=reported))
    assert "Chào đồng chí <b>Hoàng Văn Sơn</b>" in text_of(replies)
    async with sessions() as s:
        stored = (await s.scalars(select(Identity.display_name))).one()
    assert stored == ("Sơn <b>" + "x" * 400)[:200]


# -- end to end, through the fake platforms ------------------------------------------------

E2E_EXAMPLES = max(1, EXAMPLES // 5)
E2E_MEMBER = "Hoàng Văn Sơn"


async def seed(db_url: str) -> str:
    """The example roster and the member's personal code, in the bot's database."""
    engine = create_engine(db_url, pool_size=2)
    try:
        async with session_factory(engine)() as s, s.begin():
            assert not (await import_roster(s, ROSTER, datetime.now(UTC))).errors
            member = (await s.scalars(select(Member).where(Member.full_name == E2E_MEMBER))).one()
            return (await invites.issue(s, member.unit, member, datetime.now(UTC), days=30)).code
    finally:
        await engine.dispose()


async def settle(app: App, person: Person, since: int) -> None:
    """Wait for the answer on the platform, then until nothing is left to process or send."""
    await person.platform.fake.wait_for(lambda: len(person.texts()) > since or None, timeout=20)
    for _ in range(400):
        async with app.sessions() as s:
            inbox = select(func.count()).where(InboxUpdate.status == "pending")
            outbox = select(func.count()).where(Delivery.status.in_(("pending", "sending")))
            busy = (await s.scalar(inbox) or 0) + (await s.scalar(outbox) or 0)
        if not busy:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the bot did not settle")


async def outcome(app: App) -> list[str]:
    """What went wrong: updates that failed, messages a platform refused."""
    async with app.sessions() as s:
        failed = list(await s.scalars(select(InboxUpdate).where(InboxUpdate.status == "failed")))
        refused = list(
            await s.scalars(select(Delivery).where(Delivery.status.in_(("failed", "unknown"))))
        )
    return [f"update {r.payload!r}: {r.error}" for r in failed] + [
        f"delivery {r.payload!r}: {r.status} {r.last_error}" for r in refused
    ]


def e2e_input(limit: int) -> st.SearchStrategy[Fuzz]:
    """What a person can send from the platform's app: text up to the platform's limit (not
    empty), or a pressed button with forged data."""
    texts = st.one_of(hostile_text(), command_text()).filter(lambda t: 0 < len(t) <= limit)
    return st.one_of(
        texts.map(lambda t: Fuzz(text=t)),
        forged_choice(Spot("", "", None, None, 1, {}, [], NOW)).map(lambda c: Fuzz(choice=c)),
    )


def press_forged(platform: Platform, person: Person, data: str) -> None:
    """A button press carrying `data`: a callback on Telegram, the hidden button's payload sent
    back as text on a Zalo OA, a typed line on the Zalo Bot (it has no buttons)."""
    if isinstance(platform, TelegramPlatform):
        if not 1 <= len(data.encode()) <= 64:  # Telegram never delivers such a callback
            data = "x"
        last = platform.fake.messages_to(int(person.chat))[-1]
        platform.fake.inject_callback(int(person.chat), data, last["message_id"])
    elif isinstance(platform, ZaloOAPlatform):
        platform.inject(person, CHOICE_PREFIX + data)
    else:
        platform.inject(person, data or "x")


# Calls the Telegram channel makes knowing they may be refused, and ignores: taking the keyboard
# off a message that has none, answering a button press that is too old.
BENIGN = {"editMessageReplyMarkup", "answerCallbackQuery"}


def refused(platform: Platform) -> list[Any]:
    return [r for r in platform.fake.rejected if r.get("method") not in BENIGN]


@pytest.mark.parametrize("name", PLATFORMS)
def test_hostile_input_through_each_platform(db_url: str, name: str) -> None:
    """The fakes refuse what the real APIs refuse: nothing the bot sends may be refused."""
    with asyncio.Runner() as runner:
        code = runner.run(seed(db_url))
        stack = contextlib.AsyncExitStack()
        platform: Platform = runner.run(stack.enter_async_context(open_platform(name)))
        app = App(platform.config(db_url, DEFAULT_MODE[name], free_port()))
        runner.run(app.start())
        try:
            person = platform.person(1, "Sơn")
            runner.run(person.say(code, "Chào đồng chí"))
            entries = sorted(COMMANDS)

            @settings(
                max_examples=E2E_EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(st.sampled_from(entries), e2e_input(platform.text_limit))
            @example("dangky", Fuzz(text=ALL_AT_ONCE))  # stored, echoed, escaped
            @example("tudanhgia", Fuzz(choice="1:" + "9" * 40))
            def check(entry: str, fuzz: Fuzz) -> None:
                async def go() -> None:
                    since = len(person.texts())
                    platform.inject(person, f"/{entry}")
                    await settle(app, person, since)
                    since = len(person.texts())
                    if fuzz.choice is not None:
                        press_forged(platform, person, fuzz.choice)
                    else:
                        platform.inject(person, fuzz.text)
                    await settle(app, person, since)
                    assert not await outcome(app), await outcome(app)
                    assert not refused(platform), platform.fake.dump()

                runner.run(go())

            check()
        finally:
            runner.run(app.stop())
            runner.run(stack.aclose())
