"""What goes wrong on the way in, end to end on every platform and mode, on both databases:

- the same update delivered several times at once (concurrent webhook POSTs; twice in one
  getUpdates batch), again in the next batch, and again ten minutes later has one effect;
- a handler that raises: the webhook still answers 200, the error is logged with the update's
  ids, the member gets one polite apology, and the conversation goes on;
- a missing or wrong webhook secret or signature is refused (4xx), compared in constant time
  (hmac.compare_digest), and leaves nothing behind: no inbox row, no delivery.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import App
from handlers import texts
from handlers.engine import COMMANDS
from models.conversations import member_key
from models.db import utcnow
from models.tables import Conversation, Delivery, InboxUpdate, Member
from tests.support.platforms import (
    MODES,
    PLATFORMS,
    Person,
    Platform,
    ZaloBotPlatform,
    free_port,
    open_platform,
)

MEMBER = 3
CASES = [(p, m) for p in PLATFORMS for m in MODES[p]]
WEBHOOK_PLATFORMS = [p for p in PLATFORMS if "webhook" in MODES[p]]
FIRST, SECOND = "Chưa mạnh dạn góp ý", "Chưa đọc báo thường xuyên"
COPIES = 5


class Clock:
    """Real time plus an offset the test moves: the App's injectable clock."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> Any:
        return utcnow() + self.offset


@pytest.fixture
async def platform(request: pytest.FixtureRequest) -> AsyncIterator[Platform]:
    async with open_platform(request.param) as opened:
        yield opened


@pytest.fixture
async def start_app(db_url: str, platform: Platform) -> AsyncIterator[Callable[..., Any]]:
    apps: list[App] = []

    async def start(mode: str, clock: Callable[[], Any] | None = None) -> App:
        config = platform.config(db_url, mode, free_port())
        app = App(config, clock=clock) if clock else App(config)
        await app.start()
        apps.append(app)
        return app

    yield start
    for app in apps:
        await app.stop()


async def count(app: App, table: Any) -> int:
    async with app.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(table)) or 0)


async def inbox_rows(app: App, platform: Platform, key: str) -> list[InboxUpdate]:
    async with app.sessions() as s:
        stmt = select(InboxUpdate).where(
            InboxUpdate.channel == platform.name, InboxUpdate.update_key == key
        )
        return list(await s.scalars(stmt))


async def eventually(check: Callable[[], Any], timeout: float = 10) -> Any:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


def unsent_update(platform: Platform, person: Person, text: str) -> dict[str, Any]:
    """An update as the platform would send it, built here: the fake never delivers it."""
    if platform.name == "telegram":
        chat = int(person.chat)
        return {
            "update_id": 880_000_000 + chat,
            "message": {
                "message_id": 99,
                "date": int(time.time()),
                "text": text,
                "chat": {"id": chat, "type": "private", "first_name": person.name},
                "from": {"id": chat, "is_bot": False, "first_name": person.name},
            },
        }
    if platform.name == "zalo_bot":
        return {
            "event_name": "message.text.received",
            "message": {
                "message_id": uuid.uuid4().hex[:20],
                "date": int(time.time() * 1000),
                "text": text,
                "chat": {"id": person.chat, "chat_type": "PRIVATE"},
                "from": {"id": person.chat, "display_name": person.name, "is_bot": False},
            },
        }
    fake = platform.fake
    return {
        "app_id": fake.app_id,
        "user_id_by_app": "1",
        "event_name": "user_send_text",
        "timestamp": str(int(time.time() * 1000)),
        "sender": {"id": person.chat},
        "recipient": {"id": fake.oa_id},
        "message": {"msg_id": uuid.uuid4().hex, "text": text},
    }


async def deliver_at_once(platform: Platform, mode: str, person: Person, text: str) -> Any:
    """One message, delivered COPIES times at the same moment."""
    if mode == "polling":
        # Injected without an await in between: the next getUpdates hands out all the copies.
        if isinstance(platform, ZaloBotPlatform):  # one update per call, duplicates queued
            return platform.fake.inject_message(
                person.chat, text, display_name=person.name, duplicate=COPIES - 1
            )
        update = platform.inject(person, text)
        for _ in range(COPIES - 1):
            platform.replay(update)  # Telegram: the same update_id, in the same batch
        return update
    # The platform's own push and COPIES - 1 more POSTs race each other.
    update = platform.inject(person, text)
    statuses = await asyncio.gather(*(platform.post_webhook(update) for _ in range(COPIES - 1)))
    assert statuses == [200] * (COPIES - 1)
    return update


# -- 1. the same update, at once, in the next batch, ten minutes later ---------------------------


@pytest.mark.parametrize(("platform", "mode"), CASES, indirect=["platform"])
async def test_the_same_update_at_once_again_and_ten_minutes_later_has_one_effect(
    mode: str, platform: Platform, start_app: Any, roster_codes: dict[str, str]
) -> None:
    clock = Clock()
    app = await start_app(mode, clock)
    member = platform.person(MEMBER, "Sơn")
    await member.say(roster_codes["Hoàng Văn Sơn"], "Chào đồng chí")
    await member.say("/dangky", "Bước 1/5")
    await member.press("Quy định 144", "Đã chọn")
    await member.press("Tiếp tục", "Bước 2/5")

    since = len(member.texts())
    update = await deliver_at_once(platform, mode, member, FIRST)
    await member.wait(since, "hạn chế 2")
    # the next batch (a redelivery), then a new message behind it
    platform.replay(update)
    await member.say(SECOND, "hạn chế 3")
    # ten minutes later, the same update once more, then a button
    clock.offset += timedelta(minutes=10)
    platform.replay(update)
    await member.press("Xong", "Bước 3/5")
    if mode == "webhook":
        await platform.fake.drain()
        assert {d.status for d in platform.fake.webhook_deliveries} == {200}

    rows = await inbox_rows(app, platform, platform.update_key(update))
    assert [r.status for r in rows] == ["done"]  # stored once, processed once
    async with app.sessions() as s:
        planned = await s.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.dedupe_key.like(f"in:{rows[0].id}:%"))
        )
        sent = await s.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.chat_id == member.chat, Delivery.kind != "ack")
            .where(Delivery.created_at >= rows[0].received_at)
        )
        son = (await s.scalars(select(Member).where(Member.full_name == "Hoàng Văn Sơn"))).one()
        conv = await s.get(Conversation, member_key(son.id))
    assert planned == 1  # one reply planned for it
    assert conv is not None and conv.data["shortcomings"] == [FIRST, SECOND]  # added once
    # one reply each to the message, the new message and the button, nothing more
    new = member.texts()[since:]
    assert sent == len(new) == 3, new
    assert sum(platform.visible("hạn chế 2") in t for t in new) == 1
    assert all(t.count(FIRST) <= 1 for t in new)


# -- 3. a handler that raises ---------------------------------------------------------------------


@pytest.mark.parametrize("platform", WEBHOOK_PLATFORMS, indirect=True)
async def test_a_failing_handler_over_the_webhook_answers_200_logs_apologises_once(
    platform: Platform,
    start_app: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = await start_app("webhook")
    person = platform.person(MEMBER, "Sơn")
    welcome = texts.WELCOME_UNLINKED.split("\n")[0]
    await person.say("/trogiup", welcome)

    async def broken(ctx: object, args: str) -> None:
        raise RuntimeError("boom in /trogiup")

    monkeypatch.setattr(COMMANDS["trogiup"], "run", broken)
    caplog.set_level(logging.ERROR, logger="bot.inbox")
    since, pushed = len(person.texts()), len(platform.fake.webhook_deliveries)
    update = platform.inject(person, "/trogiup")
    await person.wait(since, texts.ERROR)
    await platform.fake.drain()
    # the platform got its 200 at once: one attempt, no retry
    attempts = platform.fake.webhook_deliveries[pushed:]
    assert [d.status for d in attempts] == [200], attempts

    key = platform.update_key(update)
    rows = await inbox_rows(app, platform, key)
    assert len(rows) == 1 and rows[0].status == "failed" and "boom" in (rows[0].error or "")
    logged = [r for r in caplog.records if r.name == "bot.inbox" and r.levelno >= logging.ERROR]
    assert any(
        f"update {rows[0].id} " in r.getMessage()
        and f"{platform.name} update {key}" in r.getMessage()
        and r.exc_info is not None
        and "boom in /trogiup" in str(r.exc_info[1])
        for r in logged
    ), [r.getMessage() for r in logged]

    monkeypatch.undo()
    await person.say("/trogiup", welcome)  # the conversation is still usable
    apologies = [t for t in person.texts()[since:] if platform.visible(texts.ERROR) in t]
    assert len(apologies) == 1
    assert len(person.texts()) == since + 2  # the apology, then the answer


# -- 13. secrets and signatures -------------------------------------------------------------------


def wrong_headers(platform: Platform) -> list[tuple[dict[str, str], bytes | None]]:
    """Requests the bot must refuse, each with the value its compare_digest must see (None: the
    request is refused before anything is compared, e.g. no signature at all)."""
    if platform.name == "telegram":
        header = "X-Telegram-Bot-Api-Secret-Token"
        return [({}, b""), ({header: "wrong-secret"}, b"wrong-secret")]
    if platform.name == "zalo_bot":
        header = "X-Bot-Api-Secret-Token"
        return [({}, b""), ({header: "wrong-secret"}, b"wrong-secret")]
    forged = hashlib.sha256(b"forged").hexdigest()
    return [({}, None), ({"X-ZEvent-Signature": f"mac={forged}"}, forged.encode())]


@pytest.mark.parametrize("platform", WEBHOOK_PLATFORMS, indirect=True)
async def test_a_missing_or_wrong_secret_is_refused_in_constant_time_and_stores_nothing(
    platform: Platform, start_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = await start_app("webhook")
    person = platform.person(MEMBER, "Sơn")
    await person.say("/trogiup", texts.WELCOME_UNLINKED.split("\n")[0])  # something stored
    await platform.fake.drain()
    inbox_before, deliveries_before = await count(app, InboxUpdate), await count(app, Delivery)
    assert inbox_before == 1 and deliveries_before >= 1

    compared: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    update = unsent_update(platform, person, "/trogiup")
    for headers, seen in wrong_headers(platform):
        compared.clear()
        status = await platform.post_webhook(update, headers)
        assert 400 <= status < 500, (headers, status)
        if seen is not None:  # the given value went through the constant-time comparison
            assert any(seen in pair for pair in compared), compared
    await asyncio.sleep(0.3)  # nothing is stored late either (the OA stores in the background)
    assert await count(app, InboxUpdate) == inbox_before
    assert await count(app, Delivery) == deliveries_before
    assert await inbox_rows(app, platform, platform.update_key(update)) == []

    # the very same update, rightly signed, is taken: the refusals were about the secret
    monkeypatch.undo()
    since = len(person.texts())
    assert await platform.post_webhook(update) == 200
    assert await eventually(lambda: inbox_rows(app, platform, platform.update_key(update)))
    await person.wait(since, texts.WELCOME_UNLINKED.split("\n")[0])


async def test_a_lone_surrogate_is_stored_as_a_replacement_character(sessions: Any) -> None:
    """Broken UTF-16 in a platform's JSON ("\\ud800") must not make the store fail forever."""
    from sqlalchemy import select

    from bot.inbox import InboxWorker, store
    from handlers.messages import Incoming
    from handlers.settings import Settings
    from models.db import utcnow
    from models.tables import InboxUpdate

    inc = Incoming("telegram", "9001", "9001", text="/trogiup \ud800", display_name="A\udfffB")
    assert await store(sessions, inc, update_key="lone", now=utcnow())
    worker = InboxWorker(sessions, Settings(), utcnow, on_planned=lambda: None)
    assert await worker.drain() == 1
    async with sessions() as session:
        row = (await session.scalars(select(InboxUpdate))).one()
    assert row.payload["text"] == "/trogiup \ufffd"
    assert row.payload["display_name"] == "A\ufffdB"
    assert row.status == "done"


# -- several updates in one transaction -----------------------------------------------------------


async def test_a_batch_keeps_each_chats_order_and_a_failing_update_fails_alone(
    db_url: str, sessions: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The inbox worker processes pending updates several to a transaction (bot.inbox): one that
    raises must leave the others processed, in order, and be the only one failed."""
    from bot.inbox import InboxWorker, store
    from handlers.messages import Incoming
    from handlers.settings import Settings
    from tests.support.seeding import linked_members

    a, b, c = (str(chat) for chat in await linked_members(db_url, 3, cells=1, first_chat=990_001))
    real = COMMANDS["trogiup"].run

    async def broken_for_b(ctx: Any, args: str) -> None:
        if ctx.inc.chat_id == b:
            raise RuntimeError("boom for b")
        await real(ctx, args)

    monkeypatch.setattr(COMMANDS["trogiup"], "run", broken_for_b)
    caplog.set_level(logging.ERROR, logger="bot.inbox")
    kicks: list[int] = []
    worker = InboxWorker(sessions, Settings(), utcnow, on_planned=lambda: kicks.append(1))

    async def stored(*messages: tuple[str, str]) -> list[str]:
        keys = []
        for chat, text in messages:
            keys.append(uuid.uuid4().hex)
            assert await store(
                sessions,
                Incoming("telegram", chat, chat, text=text),
                update_key=keys[-1],
                now=utcnow(),
            )
        return keys

    async def outcome(keys: list[str]) -> tuple[list[str], dict[str, list[str]]]:
        async with sessions() as s:
            rows = {r.update_key: r for r in await s.scalars(select(InboxUpdate))}
            sent = await s.scalars(select(Delivery).order_by(Delivery.id))
            texts_by_chat: dict[str, list[str]] = {}
            for d in sent:
                texts_by_chat.setdefault(d.chat_id, []).append(d.payload["text"])
        return [rows[k].status for k in keys], texts_by_chat

    # Good updates only: processed together, and the delivery worker is kicked once for them.
    keys = await stored((a, "xin chào"), (c, "xin chào"), (a, "/trogiup"))
    assert await worker.drain() == 3
    statuses, by_chat = await outcome(keys)
    assert statuses == ["done"] * 3 and len(kicks) == 1
    help_text = by_chat[a][1]  # /trogiup's answer names the member: "/dangky" is in it
    assert by_chat[a] == [texts.NOT_UNDERSTOOD, help_text] and "/dangky" in help_text

    # b's update raises in the middle of a batch: the others are kept, in each chat's order.
    keys = await stored((a, "/trogiup"), (b, "/trogiup"), (a, "xin chào"), (c, "/trogiup"))
    assert await worker.drain() == 4
    statuses, after = await outcome(keys)
    assert statuses == ["done", "failed", "done", "done"]
    assert after[a][2:] == [help_text, texts.NOT_UNDERSTOOD]
    assert after[b] == [texts.ERROR]
    assert after[c][0] == texts.NOT_UNDERSTOOD and "/dangky" in after[c][1]
    assert len(after[c]) == 2
    failures = [r for r in caplog.records if r.name == "bot.inbox" and r.levelno >= logging.ERROR]
    assert len(failures) == 1 and f"telegram update {keys[1]}" in failures[0].getMessage()


@pytest.mark.parametrize("platform", ["telegram"], indirect=True)
async def test_a_getupdates_batch_not_all_stored_is_fetched_again_and_kept_once(
    platform: Platform, start_app: Any
) -> None:
    """A getUpdates batch is stored together (bot.channels.telegram._store_batch): if one of its
    updates cannot be stored, the offset is not moved, Telegram hands the batch out again, and
    what was stored the first time is kept once."""
    app = await start_app("polling")
    people = [platform.person(MEMBER + k, f"Người {k}") for k in range(3)]
    welcome = texts.WELCOME_UNLINKED.split("\n")[0]
    await people[0].say("/trogiup", welcome)  # the polling loop runs
    real, refused = app._store, []

    async def once_refused(inc: Any, *, update_key: str, now: Any) -> bool:
        if inc.chat_id == people[1].chat and not refused:
            refused.append(update_key)
            raise RuntimeError("a hiccup storing this one")
        return bool(await real(inc, update_key=update_key, now=now))

    app._store = once_refused  # type: ignore[method-assign]
    since = [len(p.texts()) for p in people]
    for person in people:  # no await in between: one getUpdates batch
        platform.inject(person, "/trogiup")
    for person, n in zip(people, since, strict=True):
        await person.wait(n, welcome)
    await asyncio.sleep(0.5)  # a reply sent twice would show by now
    assert refused, "the store never failed: the test proved nothing"
    assert [len(p.texts()) - n for p, n in zip(people, since, strict=True)] == [1, 1, 1]
    async with app.sessions() as s:
        rows = list(await s.scalars(select(InboxUpdate).where(InboxUpdate.channel == "telegram")))
    assert len(rows) == 4 and {r.status for r in rows} == {"done"}
    assert refused[0] in {r.update_key for r in rows}  # stored on the second fetch
