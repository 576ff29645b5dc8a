"""The Telegram fake, driven by the real python-telegram-bot client, and the PostgreSQL helper."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter
from telegram.ext import (
    AIORateLimiter,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
)

from tests.fakes.telegram_api import FakeTelegramAPI, parse_html
from tests.support.postgres import PostgresCluster, find_pg_bin

CHAT = 777001

# PTB 22 warns on every RetryAfter.retry_after read (its type becomes timedelta in v23);
# seconds() below copes with both.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegramAPI) -> AsyncIterator[ExtBot[None]]:
    client: ExtBot[None] = ExtBot(
        fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url
    )
    await client.initialize()
    yield client
    await client.shutdown()


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(f"btn {d}", callback_data=d) for d in data]])


def seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def test_initialize_calls_get_me(fake: FakeTelegramAPI, bot: ExtBot[None]) -> None:
    assert bot.id == 123456
    assert bot.username == "lamtheo_test_bot"
    assert bot.bot.first_name == "Lamtheo"
    assert bot.bot.can_join_groups is True
    assert len(fake.calls("getme")) == 1


async def test_send_message_with_html_and_keyboard(
    fake: FakeTelegramAPI, bot: ExtBot[None]
) -> None:
    first = await bot.send_message(
        CHAT,
        "<b>Chào</b> &amp; <i>hẹn</i> gặp &lt;3",
        parse_mode="HTML",
        reply_markup=keyboard("yes", "no"),
    )
    second = await bot.send_message(str(CHAT), "123")  # chat_id as a string, numeric text

    assert first.text == "Chào & hẹn gặp <3"  # Telegram returns the visible text
    assert first.chat.id == CHAT and first.chat.type == "private"
    assert first.from_user is not None and first.from_user.id == bot.id
    assert first.reply_markup == keyboard("yes", "no")
    assert second.message_id == first.message_id + 1
    assert second.text == "123"

    records = fake.messages_to(CHAT)
    assert [r["message_id"] for r in records] == [first.message_id, second.message_id]
    params = records[0]["params"]
    assert params["chat_id"] == CHAT and records[1]["params"]["chat_id"] == CHAT
    assert params["parse_mode"] == "HTML"
    assert params["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "btn yes", "callback_data": "yes"}, {"text": "btn no", "callback_data": "no"}]
        ]
    }
    assert records[1]["params"]["text"] == "123"  # not turned into an int
    assert fake.current_text(CHAT, first.message_id) == "Chào & hẹn gặp <3"
    assert fake.current_text(CHAT, first.message_id, raw=True).startswith("<b>Chào</b>")
    assert fake.messages_to(CHAT + 1) == []


async def test_get_updates_honours_offset_and_builds_commands(
    fake: FakeTelegramAPI, bot: ExtBot[None]
) -> None:
    fake.inject_message(CHAT, "/start abc", first_name="Lan", username="lan")
    fake.inject_message(CHAT, "xin chào")

    updates = await bot.get_updates(timeout=0)
    assert [u.message.text for u in updates if u.message] == ["/start abc", "xin chào"]
    start = updates[0].message
    assert start is not None and start.from_user is not None
    assert start.from_user.username == "lan" and start.chat.first_name == "Lan"
    assert start.parse_entities() == {start.entities[0]: "/start"}  # CommandHandler needs it

    # Not confirmed yet: delivered again.
    assert len(await bot.get_updates(timeout=0)) == 2
    # Confirming drops them.
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == ()
    third = fake.inject_message(CHAT, "thứ ba")
    again = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    assert [u.update_id for u in again] == [third["update_id"]]
    # Inbound and outbound share the chat's message-id sequence, as in Telegram.
    sent = await bot.send_message(CHAT, "ok")
    assert sent.message_id == third["message"]["message_id"] + 1


async def test_long_poll_wakes_on_inject_and_is_capped(
    fake: FakeTelegramAPI, bot: ExtBot[None]
) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=30) == ()
    assert 0.4 < time.monotonic() - started < 2.0  # capped at max_poll_wait (0.5 s)

    fake.max_poll_wait = 5.0
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    fake.inject_message(CHAT, "wake up")
    updates = await poll
    assert time.monotonic() - started < 1.0
    assert updates[0].message is not None and updates[0].message.text == "wake up"


async def test_second_poller_terminates_the_first(fake: FakeTelegramAPI, bot: ExtBot[None]) -> None:
    fake.max_poll_wait = 5.0
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    # A second bot instance (PTB allows one getUpdates at a time per Bot object).
    async with ExtBot(fake.token, base_url=fake.base_url) as other:
        second = asyncio.create_task(other.get_updates(timeout=1))
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await first
        fake.inject_message(CHAT, "for the survivor")
        assert len(await second) == 1


async def test_replay_delivers_duplicate_in_polling_mode(
    fake: FakeTelegramAPI, bot: ExtBot[None]
) -> None:
    update = fake.inject_message(CHAT, "một lần")
    first = await bot.get_updates(timeout=0)
    await bot.get_updates(offset=first[-1].update_id + 1, timeout=0)  # confirmed
    fake.replay(update)
    again = await bot.get_updates(offset=first[-1].update_id + 1, timeout=0)
    assert [u.update_id for u in again] == [update["update_id"]]


async def test_callback_answer_and_edits(fake: FakeTelegramAPI, bot: ExtBot[None]) -> None:
    msg = await bot.send_message(CHAT, "Chọn:", reply_markup=keyboard("a", "b"))
    cb = fake.inject_callback(CHAT, "a", msg.message_id)
    (update,) = await bot.get_updates(timeout=0)
    query = update.callback_query
    assert query is not None and query.data == "a"
    assert query.id == cb["callback_query"]["id"]
    assert query.message is not None and query.message.message_id == msg.message_id
    assert query.from_user.id == CHAT

    assert await bot.answer_callback_query(query.id, text="Đã ghi") is True
    assert fake.calls("answerCallbackQuery")[0]["chat_id"] == CHAT
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query("999")

    edited = await bot.edit_message_reply_markup(CHAT, msg.message_id, reply_markup=keyboard("c"))
    assert isinstance(edited, type(msg)) and edited.reply_markup == keyboard("c")
    assert fake.current_markup(CHAT, msg.message_id) == keyboard("c").to_dict()
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(CHAT, msg.message_id, reply_markup=keyboard("c"))
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_reply_markup(CHAT, 9999, reply_markup=keyboard("c"))

    # Like Telegram, editing the text without reply_markup drops the keyboard.
    await bot.edit_message_text("Đã chọn <b>a</b>", CHAT, msg.message_id, parse_mode="HTML")
    assert fake.current_text(CHAT, msg.message_id) == "Đã chọn a"
    assert fake.current_markup(CHAT, msg.message_id) is None
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("Đã chọn <b>a</b>", CHAT, msg.message_id, parse_mode="HTML")
    assert await bot.send_chat_action(CHAT, "typing") is True


async def test_ptb_application_polling_end_to_end(fake: FakeTelegramAPI) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(
            update.effective_chat.id, f"Chào {context.args}", reply_markup=keyboard("ok")
        )

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text(f"Bạn chọn {query.data}")

    app = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        fake.inject_message(CHAT, "/start x")
        (reply,) = await fake.wait_messages(CHAT, 1)
        assert reply["params"]["text"] == "Chào ['x']"
        fake.inject_callback(CHAT, "ok", reply["message_id"])
        await fake.wait_for(lambda: fake.calls("editMessageText"))
        assert fake.current_text(CHAT, reply["message_id"]) == "Bạn chọn ok"
        assert len(fake.calls("answerCallbackQuery")) == 1
        await app.updater.stop()
        await app.stop()
    assert fake.pending_updates == []  # the updater confirmed everything on its way out
    assert fake.calls("deleteWebhook")  # start_polling clears any webhook first
    assert fake.rejected == []  # the poll PTB abandons on stop is not an error


async def test_fail_next_429_maps_to_retry_after(fake: FakeTelegramAPI, bot: ExtBot[None]) -> None:
    fake.fail_next("sendMessage", status=429, retry_after=3)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(CHAT, "flood")
    assert seconds(info.value.retry_after) == 3
    assert fake.count_429 == 1 and fake.messages_to(CHAT) == []
    assert fake.rejected[-1]["description"] == "Too Many Requests: retry after 3"
    await bot.send_message(CHAT, "after")  # only the next call was armed
    assert len(fake.messages_to(CHAT)) == 1


async def test_rate_limiter_retries_after_429(fake: FakeTelegramAPI) -> None:
    client: ExtBot[Any] = ExtBot(
        fake.token, base_url=fake.base_url, rate_limiter=AIORateLimiter(max_retries=1)
    )
    async with client:
        fake.fail_next("sendMessage", status=429, retry_after=1)
        started = time.monotonic()
        await client.send_message(CHAT, "eventually")
        assert time.monotonic() - started >= 1.0
    assert fake.count_429 == 1 and len(fake.messages_to(CHAT)) == 1


async def test_sliding_rate_limit(fake: FakeTelegramAPI, bot: ExtBot[None]) -> None:
    fake.set_rate_limit(2)
    await bot.send_message(CHAT, "1")
    await bot.send_message(CHAT, "2")
    with pytest.raises(RetryAfter):
        await bot.send_message(CHAT, "3")
    await asyncio.sleep(1.05)
    await bot.send_message(CHAT, "4")
    assert fake.count_429 == 1
    assert [r["params"]["text"] for r in fake.messages_to(CHAT)] == ["1", "2", "4"]


async def test_blocked_user_and_403(fake: FakeTelegramAPI, bot: ExtBot[None]) -> None:
    fake.block(CHAT)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(CHAT, "hi")
    await bot.send_message(CHAT + 1, "others still work")
    fake.block(CHAT, blocked=False)
    fake.fail_next("sendMessage", status=403)
    with pytest.raises(Forbidden):
        await bot.send_message(CHAT, "hi")
    await bot.send_message(CHAT, "hi")
    assert len(fake.messages_to(CHAT)) == 1


@pytest.mark.parametrize(
    "text",
    [
        "a < b",
        "<b>bold",
        "<b>x</i>",
        "x</b>",
        "<foo>x</foo>",
        "Tom & Jerry",
        "&nbsp;",
        "<span>x</span>",
        "<b>x</b",
        "&#xD800;",
    ],
)
async def test_bad_html_is_rejected(fake: FakeTelegramAPI, bot: ExtBot[None], text: str) -> None:
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(CHAT, text, parse_mode="HTML")
    assert fake.messages_to(CHAT) == []


def test_parse_html_accepts_telegram_html() -> None:
    html = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s>"
        '<strike>k</strike><del>d</del><a href="https://x.vn/?a=1&amp;b=2">l</a>'
        '<code>c</code><pre><code class="language-python">p</code></pre>'
        '<tg-spoiler>t</tg-spoiler><span class="tg-spoiler">sp</span>'
        "<blockquote expandable>q</blockquote> &lt;&gt;&amp;&quot;&#39;&#x1F600; a > b"
    )
    assert parse_html(html) == "bsieunskdlcptspq <>&\"'😀 a > b"


async def test_length_is_measured_after_entity_parsing(
    fake: FakeTelegramAPI, bot: ExtBot[None]
) -> None:
    await bot.send_message(CHAT, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    await bot.send_message(CHAT, "&amp;" * 4096, parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(CHAT, "x" * 4097)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(CHAT, "<b> </b>", parse_mode="HTML")
    assert len(fake.messages_to(CHAT)) == 2


async def test_keyboard_validation(fake: FakeTelegramAPI, bot: ExtBot[None]) -> None:
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(CHAT, "x", reply_markup=keyboard("y" * 65))
    with pytest.raises(BadRequest, match="Button_data_invalid"):  # 33 chars but 66 bytes
        await bot.send_message(CHAT, "x", reply_markup=keyboard("đ" * 33))
    ok = await bot.send_message(CHAT, "x", reply_markup=keyboard("đ" * 32))  # 64 bytes
    assert ok.reply_markup is not None
    with pytest.raises(BadRequest, match="Text buttons are unallowed"):
        await bot.send_message(
            CHAT, "x", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("no action")]])
        )


async def test_document_upload_and_download(fake: FakeTelegramAPI, bot: ExtBot[None]) -> None:
    payload = b"PK\x03\x04 fake xlsx bytes"
    msg = await bot.send_document(
        CHAT,
        io.BytesIO(payload),
        filename="bao-cao.xlsx",
        caption="Báo cáo <b>quý</b>",
        parse_mode="HTML",
    )
    assert msg.document is not None and msg.document.file_name == "bao-cao.xlsx"
    assert msg.caption == "Báo cáo quý"
    (record,) = fake.messages_to(CHAT)
    assert record["method"] == "sendDocument"
    assert record["params"]["document"]["filename"] == "bao-cao.xlsx"
    assert record["params"]["document"]["size"] == len(payload)
    assert fake.file_bytes(msg.document.file_id) == payload
    tg_file = await bot.get_file(msg.document.file_id)
    assert bytes(await tg_file.download_as_bytearray()) == payload  # via base_file_url

    photo = await bot.send_photo(CHAT, io.BytesIO(b"\x89PNG..."), caption="ảnh")
    assert photo.photo and photo.caption == "ảnh"
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_document(CHAT, "no-such-file-id")


async def test_commands_and_webhook_info(fake: FakeTelegramAPI, bot: ExtBot[None]) -> None:
    assert await bot.set_my_commands([("start", "Bắt đầu"), ("help", "Trợ giúp")]) is True
    assert [c["command"] for c in fake.commands] == ["start", "help"]
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    with pytest.raises(BadRequest):
        await bot.set_my_commands([("Start", "uppercase is invalid")])
    info = await bot.get_webhook_info()
    assert info.url == "" and info.pending_update_count == 0


async def test_webhook_push_with_secret_retries_and_conflict(
    fake: FakeTelegramAPI, bot: ExtBot[None]
) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    fail_first = 2

    async def hook(request: web.Request) -> web.Response:
        nonlocal fail_first
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        if fail_first:
            fail_first -= 1
            return web.Response(status=500)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/tg", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        fake.inject_message(CHAT, "queued before the webhook")  # pushed once it is set
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/tg", secret_token="s3cr_et-1")
        await fake.drain()
        assert [d.status for d in fake.webhook_deliveries] == [500, 500, 200]
        assert [d.attempt for d in fake.webhook_deliveries] == [1, 2, 3]

        update = fake.inject_message(CHAT, "đẩy")
        await fake.wait_for(lambda: len(received) == 4)
        fake.replay(update)
        await fake.drain()
        assert {secret for secret, _ in received} == {"s3cr_et-1"}
        assert received[-1][1] == received[-2][1] == update
        parsed = Update.de_json(received[-1][1], bot)
        assert parsed.message is not None and parsed.message.text == "đẩy"
        assert all(d.latency >= 0 for d in fake.webhook_deliveries)
        assert (await bot.get_webhook_info()).url.endswith("/tg")

        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates(timeout=0)
        assert await bot.delete_webhook() is True
        assert await bot.get_updates(timeout=0) == ()
    finally:
        await runner.cleanup()


async def test_webhook_gives_up_after_three_retries(
    fake: FakeTelegramAPI, bot: ExtBot[None]
) -> None:
    await bot.set_webhook("http://127.0.0.1:9/nothing-listens-here")
    fake.inject_message(CHAT, "lost")
    await fake.drain()
    assert [d.attempt for d in fake.webhook_deliveries] == [1, 2, 3, 4]
    assert all(d.status is None and d.error for d in fake.webhook_deliveries)
    assert (await bot.get_webhook_info()).last_error_message


async def test_unknown_token_and_method_and_control_api(fake: FakeTelegramAPI) -> None:
    with pytest.raises(InvalidToken):
        await ExtBot("999:wrong", base_url=fake.base_url).initialize()
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{fake.base_url}999:wrong/getMe") as r:
            assert r.status == 401
            assert await r.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        async with http.post(f"{fake.base_url}{fake.token}/noSuchMethod") as r:
            assert r.status == 404 and (await r.json())["error_code"] == 404
        # Method names are case-insensitive; JSON bodies work too.
        async with http.post(
            f"{fake.base_url}{fake.token}/SENDMESSAGE", json={"chat_id": CHAT, "text": "json body"}
        ) as r:
            assert r.status == 200 and (await r.json())["result"]["text"] == "json body"

        async with http.post(
            f"{fake.url}/_fake/fail", json={"method": "sendMessage", "status": 500}
        ) as r:
            assert r.status == 200
        async with http.post(
            f"{fake.base_url}{fake.token}/sendMessage", data={"chat_id": str(CHAT), "text": "x"}
        ) as r:
            assert r.status == 500
        async with http.post(
            f"{fake.url}/_fake/inject", json={"chat_id": CHAT, "text": "from outside"}
        ) as r:
            injected = (await r.json())["result"]
        async with http.get(f"{fake.url}/_fake/outbox", params={"chat_id": str(CHAT)}) as r:
            outbox = await r.json()
        assert [m["params"]["text"] for m in outbox["sent"]] == ["json body"]
        assert outbox["rejected"][-1]["status"] == 500
        assert fake.pending_updates[-1] == injected
        async with http.post(f"{fake.url}/_fake/reset") as r:
            assert r.status == 200
    assert fake.sent == [] and fake.pending_updates == []


async def test_wait_helpers(fake: FakeTelegramAPI, bot: ExtBot[None]) -> None:
    async def later() -> None:
        await asyncio.sleep(0.1)
        await bot.send_message(CHAT, "một")
        await bot.send_message(CHAT, "hai")

    task = asyncio.create_task(later())
    msgs = await fake.wait_messages(CHAT, 2, timeout=5)
    await task
    assert [m["params"]["text"] for m in msgs] == ["một", "hai"]
    with pytest.raises(AssertionError, match="sendMessage chat=777001"):
        await fake.wait_messages(CHAT, 3, timeout=0.3)


def test_find_pg_bin_names_what_is_missing() -> None:
    with pytest.raises(RuntimeError, match="'no-such-pg-program' not found"):
        find_pg_bin("no-such-pg-program")


def test_postgres_cluster_lifecycle() -> None:
    # Deliberately not skipped: without PostgreSQL this fails with a RuntimeError naming
    # the missing program.
    import asyncpg  # type: ignore[import-untyped]

    cluster = PostgresCluster()
    with cluster as pg:
        base = pg.base_dir
        assert base is not None and base.is_dir()
        assert pg.dsn("x") == f"postgresql+asyncpg://postgres@127.0.0.1:{pg.port}/x"
        dsn = pg.create_database("lamtheo_test")

        async def query() -> tuple[int, str, str]:
            conn = await asyncpg.connect(pg.raw_dsn("lamtheo_test"))
            try:
                one = await conn.fetchval("select 1")
                db = await conn.fetchval("select current_database()")
                fsync = await conn.fetchval("show fsync")
            finally:
                await conn.close()
            return one, db, fsync

        assert asyncio.run(query()) == (1, "lamtheo_test", "off")
        assert dsn.endswith("/lamtheo_test")
        pg.create_database("lamtheo_copy", template="lamtheo_test")
        pg.drop_database("lamtheo_copy")
        pg.drop_database("lamtheo_copy")  # idempotent
        with pytest.raises(ValueError):
            pg.create_database('bad"; drop')
    assert not base.exists()
    assert not cluster.running
