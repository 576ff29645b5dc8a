"""Our Zalo Bot API client against the Zalo fake, and the fake's own rules."""

from __future__ import annotations

import asyncio
import re
import socket
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.channels.zalo_bot_api import (
    ZaloAuthError,
    ZaloBotClient,
    ZaloBotError,
    ZaloClientError,
    ZaloQuotaError,
    ZaloTransientError,
    redact,
    unwrap_update,
)
from tests.fakes.zalo_bot_api import SECRET_HEADER, FakeZaloBotAPI

CHAT = "6ede9afa66b88fe6d6a9"
SECRET = "s3cret-for-webhook"
HEX20 = re.compile(r"[0-9a-f]{20}")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeZaloBotAPI]:
    async with FakeZaloBotAPI() as server:
        server.webhook_retry_delay = 0.01
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def client(fake: FakeZaloBotAPI, session: aiohttp.ClientSession) -> ZaloBotClient:
    return ZaloBotClient(session, fake.token, fake.base_url, request_timeout=5.0)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """Start a tiny aiohttp server answering every POST with ``handler``; yields its root URL."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    yield start
    for runner in runners:
        await runner.cleanup()


class Receiver:
    """A bot-side webhook stand-in: records each POST; answers from ``statuses``, then 200."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.received: list[tuple[dict[str, str], Any]] = []
        self.statuses = list(statuses or [])

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.json()))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.json_response({"message": "Success"}, status=status)


def assert_no_token(exc: BaseException, token: str) -> None:
    secret = token.partition(":")[2]
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    for text in texts:
        assert token not in text
        assert secret not in text


# --- client methods against the fake --------------------------------------------------------


async def test_get_me(fake: FakeZaloBotAPI, client: ZaloBotClient) -> None:
    me = await client.get_me()
    assert me == {
        "id": "1459232241454765289",
        "account_name": "bot.Fake",
        "account_type": "BASIC",
        "can_join_groups": False,
    }
    assert len(fake.calls("getMe")) == 1


async def test_send_message_to_a_known_chat(fake: FakeZaloBotAPI, client: ZaloBotClient) -> None:
    fake.inject_message(CHAT, "Xin chào")
    before = int(time.time() * 1000)
    result = await client.send_message(CHAT, "Chào đồng chí")
    assert HEX20.fullmatch(result["message_id"])
    assert isinstance(result["date"], int) and result["date"] >= before  # milliseconds
    [record] = fake.messages_to(CHAT)
    assert record["method"] == "sendMessage"
    assert record["params"] == {"chat_id": CHAT, "text": "Chào đồng chí"}
    assert record["message_id"] == result["message_id"]
    assert fake.sent == [record]


async def test_send_message_length_limits(fake: FakeZaloBotAPI, client: ZaloBotClient) -> None:
    fake.inject_message(CHAT, "hi")
    await client.send_message(CHAT, "x" * 2000)  # the limit itself is fine
    for text in ("", "   ", "x" * 2001):
        with pytest.raises(ValueError):
            await client.send_message(CHAT, text)
    assert len(fake.calls("sendMessage")) == 1  # refused before any request
    assert fake.rejected == []


async def test_send_photo_with_and_without_caption(
    fake: FakeZaloBotAPI, client: ZaloBotClient
) -> None:
    fake.inject_message(CHAT, "hi")
    first = await client.send_photo(CHAT, "https://example.org/a.png", caption="Biểu đồ")
    second = await client.send_photo(CHAT, "https://example.org/b.png")
    assert first["message_id"] != second["message_id"]
    a, b = fake.messages_to(CHAT)
    assert a["params"] == {
        "chat_id": CHAT,
        "photo": "https://example.org/a.png",
        "caption": "Biểu đồ",
    }
    assert b["params"] == {"chat_id": CHAT, "photo": "https://example.org/b.png"}
    with pytest.raises(ValueError):
        await client.send_photo(CHAT, "https://example.org/c.png", caption="x" * 2001)
    assert len(fake.calls("sendPhoto")) == 2


async def test_send_chat_action(fake: FakeZaloBotAPI, client: ZaloBotClient) -> None:
    fake.inject_message(CHAT, "hi")
    await client.send_chat_action(CHAT)
    [call] = fake.calls("sendChatAction")
    assert call["params"] == {"chat_id": CHAT, "action": "typing"}
    assert fake.sent == []  # not a message: no quota, not in the outbox
    with pytest.raises(ZaloClientError):
        await client.send_chat_action(CHAT, "dancing")


async def test_webhook_set_info_delete(fake: FakeZaloBotAPI, client: ZaloBotClient) -> None:
    assert await client.get_webhook_info() is None  # Zalo answers 404 when none is set
    url = "http://127.0.0.1:9/zalo/webhook"
    result = await client.set_webhook(url, SECRET)
    assert result["url"] == url and isinstance(result["updated_at"], int)
    assert (fake.webhook_url, fake.webhook_secret) == (url, SECRET)
    info = await client.get_webhook_info()
    assert info == {"url": url, "updated_at": result["updated_at"]}
    deleted = await client.delete_webhook()
    assert deleted["url"] == ""
    assert fake.webhook_url is None
    assert await client.get_webhook_info() is None


async def test_set_webhook_rules(fake: FakeZaloBotAPI, client: ZaloBotClient) -> None:
    for secret in ("x" * 7, "x" * 257):
        with pytest.raises(ValueError):
            await client.set_webhook("https://bot.example.org/hook", secret)
    assert fake.calls("setWebhook") == [] and fake.rejected == []
    await client.set_webhook("https://bot.example.org/hook", "x" * 8)
    await client.set_webhook("https://bot.example.org/hook", "x" * 256)
    with pytest.raises(ZaloClientError) as info:  # plain HTTP only on loopback
        await client.set_webhook("http://bot.example.org/hook", SECRET)
    assert info.value.status == 400
    assert fake.webhook_url == "https://bot.example.org/hook"


async def test_get_updates_idle_poll_gives_empty_list(
    fake: FakeZaloBotAPI, client: ZaloBotClient
) -> None:
    started = time.monotonic()
    assert await client.get_updates(timeout=30) == []
    assert time.monotonic() - started < 2  # the fake caps the wait at max_wait
    assert fake.poll_count == 1
    assert fake.rejected == []  # a 408 poll is not a rejection


async def test_get_updates_one_per_call_in_order(
    fake: FakeZaloBotAPI, client: ZaloBotClient
) -> None:
    injected = [fake.inject_message(CHAT, f"tin {i}") for i in range(3)]
    got = [await client.get_updates(timeout=1) for _ in range(3)]
    assert got == [[u] for u in injected]
    assert [u[0]["message"]["text"] for u in got] == ["tin 0", "tin 1", "tin 2"]
    assert await client.get_updates(timeout=1) == []


async def test_get_updates_long_poll_wakes_on_inject(
    fake: FakeZaloBotAPI, client: ZaloBotClient
) -> None:
    fake.max_wait = 5.0
    poll = asyncio.create_task(client.get_updates(timeout=5))
    await fake.wait_for(lambda: fake.poll_count)
    update = fake.inject_message(CHAT, "đến rồi")
    started = time.monotonic()
    assert await poll == [update]
    assert time.monotonic() - started < 1


async def test_get_updates_http_timeout_outlives_the_poll(
    fake: FakeZaloBotAPI, session: aiohttp.ClientSession
) -> None:
    fake.max_wait = 1.0  # the server holds the poll for 1 s, longer than request_timeout
    client = ZaloBotClient(session, fake.token, fake.base_url, request_timeout=0.3)
    assert await client.get_updates(timeout=1) == []
    assert fake.poll_count == 1


async def test_get_updates_refused_while_webhook_set(
    fake: FakeZaloBotAPI, client: ZaloBotClient
) -> None:
    await client.set_webhook("http://127.0.0.1:9/hook", SECRET)
    with pytest.raises(ZaloClientError) as info:
        await client.get_updates(timeout=1)
    assert info.value.status == 400 and info.value.error_code == 400


async def test_get_updates_accepts_list_and_error_code_408(
    session: aiohttp.ClientSession, serve: Callable[[Handler], Awaitable[str]]
) -> None:
    u1 = {"event_name": "message.text.received", "message": {"message_id": "a" * 20}}
    u2 = {"ok": True, "result": {"event_name": "message.text.received", "message": {}}}
    answers = [
        web.json_response({"ok": True, "result": [u1, u2]}),
        web.json_response({"ok": False, "error_code": 408, "description": "Request timeout"}),
        web.json_response({"ok": False, "description": "Request timeout"}, status=408),
    ]

    async def handler(request: web.Request) -> web.Response:
        return answers.pop(0)

    client = ZaloBotClient(session, "1:abcdefghijkl", await serve(handler))
    assert await client.get_updates(timeout=1) == [u1, u2["result"]]
    assert await client.get_updates(timeout=1) == []  # HTTP 200, error_code 408
    assert await client.get_updates(timeout=1) == []  # HTTP 408 without error_code
    assert answers == []


# --- errors ---------------------------------------------------------------------------------


async def test_wrong_token_raises_auth_error_without_the_token(
    fake: FakeZaloBotAPI, session: aiohttp.ClientSession
) -> None:
    wrong = "1459232241454765289:wrong-token-do-not-leak"
    client = ZaloBotClient(session, wrong, fake.base_url)
    with pytest.raises(ZaloAuthError) as info:
        await client.get_me()
    err = info.value
    assert (err.status, err.error_code, err.description) == (401, 401, "Unauthorized")
    assert "getMe" in str(err)
    assert_no_token(err, wrong)
    assert wrong not in repr(client)
    assert fake.rejected[-1]["status"] == 401


async def test_error_text_is_redacted(fake: FakeZaloBotAPI, client: ZaloBotClient) -> None:
    fake.fail_next("getMe", status=400, description=f"bad url /bot{fake.token}/getMe")
    with pytest.raises(ZaloClientError) as info:
        await client.get_me()
    assert "/bot<redacted>/getMe" in info.value.description
    assert_no_token(info.value, fake.token)


def test_redact_variants() -> None:
    token = "123:abc-def ghi"
    text = "GET /bot123:abc-def%20ghi/x and 123%3Aabc-def%20ghi and abc-def ghi"
    cleaned = redact(text, token)
    assert "abc-def" not in cleaned
    assert cleaned.startswith("GET /bot<redacted>/x")


async def test_quota_exceeded_raises_quota_error(
    fake: FakeZaloBotAPI, client: ZaloBotClient, session: aiohttp.ClientSession
) -> None:
    fake.inject_message(CHAT, "hi")
    fake.set_quota(2)
    await client.send_message(CHAT, "một")
    await client.send_photo(CHAT, "https://example.org/a.png")
    with pytest.raises(ZaloQuotaError) as info:
        await client.send_message(CHAT, "ba")
    assert (info.value.status, info.value.description) == (429, "Quota exceeded")
    assert fake.quota_used == 2 and len(fake.sent) == 2
    url = f"{fake.base_url}/bot{fake.token}/sendMessage"
    async with session.post(url, json={"chat_id": CHAT, "text": "bốn"}) as resp:
        assert resp.status == 429
        assert "Retry-After" not in resp.headers
        assert await resp.json() == {
            "ok": False,
            "error_code": 429,
            "description": "Quota exceeded",
        }
    fake.set_quota(None)
    await client.send_message(CHAT, "năm")


async def test_fail_next_500_is_transient(fake: FakeZaloBotAPI, client: ZaloBotClient) -> None:
    fake.inject_message(CHAT, "hi")
    fake.fail_next("sendMessage", status=500)
    with pytest.raises(ZaloTransientError) as info:
        await client.send_message(CHAT, "một")
    assert info.value.status == 500
    await client.send_message(CHAT, "một")  # only the next call failed
    assert len(fake.messages_to(CHAT)) == 1


async def test_unreachable_server_is_transient(session: aiohttp.ClientSession) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago, now closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = "1459232241454765289:unreachable-secret-token"
    client = ZaloBotClient(session, token, f"http://127.0.0.1:{port}", request_timeout=2.0)
    with pytest.raises(ZaloTransientError) as info:
        await client.send_message(CHAT, "hi")
    assert info.value.status is None
    assert_no_token(info.value, token)
    assert info.value.__cause__ is None and info.value.__context__ is None


async def test_aiohttp_error_carrying_the_url_is_redacted(
    session: aiohttp.ClientSession, serve: Callable[[Handler], Awaitable[str]]
) -> None:
    async def loop_forever(request: web.Request) -> web.Response:
        raise web.HTTPFound(str(request.rel_url))  # aiohttp gives up: TooManyRedirects(url=...)

    token = "1459232241454765289:redirect-secret-token"
    client = ZaloBotClient(session, token, await serve(loop_forever))
    with pytest.raises(ZaloTransientError) as info:
        await client.get_me()
    assert "TooManyRedirects" in str(info.value)
    assert "/bot<redacted>/getMe" in str(info.value)  # the URL is kept, the token is not
    assert_no_token(info.value, token)


async def test_slow_server_times_out_as_transient(
    session: aiohttp.ClientSession, serve: Callable[[Handler], Awaitable[str]]
) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({"ok": True, "result": {}})

    token = "1:slow-server-secret-token"
    client = ZaloBotClient(session, token, await serve(slow), request_timeout=0.1)
    with pytest.raises(ZaloTransientError) as info:
        await client.get_me()
    assert "0.1s" in str(info.value)
    assert_no_token(info.value, token)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, b"<html>captive portal</html>", ZaloTransientError),
        (200, b'{"ok": false, "error_code": 400, "description": "bad"}', ZaloClientError),
        (200, b'{"ok": false, "error_code": 429, "description": "Quota exceeded"}', ZaloQuotaError),
        (502, b"<html>Bad Gateway</html>", ZaloTransientError),
        (403, b'{"ok": false, "error_code": 403, "description": "x"}', ZaloClientError),
    ],
)
async def test_error_classes(
    session: aiohttp.ClientSession,
    serve: Callable[[Handler], Awaitable[str]],
    status: int,
    body: bytes,
    expected: type[ZaloBotError],
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, status=status, content_type="application/json")

    client = ZaloBotClient(session, "1:abcdefghijkl", await serve(handler))
    with pytest.raises(ZaloBotError) as info:
        await client.get_me()
    assert type(info.value) is expected


async def test_send_to_unknown_chat_is_rejected(
    fake: FakeZaloBotAPI, client: ZaloBotClient
) -> None:
    with pytest.raises(ZaloClientError) as info:
        await client.send_message("0123456789abcdef0123", "hi")
    assert info.value.status == 400
    assert fake.sent == []
    assert fake.rejected[-1]["method"] == "sendMessage"
    fake.inject_message("0123456789abcdef0123", "hi")
    await client.send_message("0123456789abcdef0123", "hi")  # known now


# --- updates and webhooks ---------------------------------------------------------------------


def test_unwrap_update_both_shapes() -> None:
    update = {"event_name": "message.text.received", "message": {"text": "hi"}}
    assert unwrap_update(update) == update
    assert unwrap_update({"ok": True, "result": update}) == update
    failed = {"ok": False, "result": update}  # not a success envelope: left alone
    assert unwrap_update(failed) is failed


async def test_webhook_push_flat_with_secret_and_duplicates(
    fake: FakeZaloBotAPI, client: ZaloBotClient, serve: Callable[[Handler], Awaitable[str]]
) -> None:
    receiver = Receiver()
    url = await serve(receiver.handle) + "/zalo"
    await client.set_webhook(url, SECRET)
    update = fake.inject_message(CHAT, "Xin chào", display_name="Ted", duplicate=2)
    await fake.drain()
    assert len(receiver.received) == 3
    for headers, body in receiver.received:
        assert headers[SECRET_HEADER] == SECRET
        assert headers["Content-Type"] == "application/json"
        assert body == update  # flat: no ok/result wrapper
    assert "ok" not in update and update["event_name"] == "message.text.received"
    msg = update["message"]
    assert msg["from"] == {"id": CHAT, "display_name": "Ted", "is_bot": False}
    assert msg["chat"] == {"id": CHAT, "chat_type": "PRIVATE"}
    assert [(d.copy, d.attempt, d.status) for d in fake.webhook_deliveries] == [
        (1, 1, 200),
        (2, 1, 200),
        (3, 1, 200),
    ]
    assert fake.pending_updates == []


async def test_webhook_push_wrapped_shape(
    fake: FakeZaloBotAPI, client: ZaloBotClient, serve: Callable[[Handler], Awaitable[str]]
) -> None:
    receiver = Receiver()
    await client.set_webhook(await serve(receiver.handle), SECRET)
    update = fake.inject_message(CHAT, "hi", shape="wrapped")
    await fake.drain()
    [(headers, body)] = receiver.received
    assert body == {"ok": True, "result": update}
    assert unwrap_update(body) == update
    assert headers[SECRET_HEADER] == SECRET


async def test_webhook_retries_after_failure(
    fake: FakeZaloBotAPI, client: ZaloBotClient, serve: Callable[[Handler], Awaitable[str]]
) -> None:
    receiver = Receiver(statuses=[500, 503])
    await client.set_webhook(await serve(receiver.handle), SECRET)
    fake.inject_message(CHAT, "hi")
    await fake.drain()
    assert [(d.attempt, d.status) for d in fake.webhook_deliveries] == [
        (1, 500),
        (2, 503),
        (3, 200),
    ]
    assert len(receiver.received) == 3


async def test_webhook_unreachable_is_recorded(fake: FakeZaloBotAPI, client: ZaloBotClient) -> None:
    fake.webhook_retries = 1
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    await client.set_webhook(f"http://127.0.0.1:{port}/hook", SECRET)
    fake.inject_message(CHAT, "hi")
    await fake.drain()
    assert [(d.attempt, d.status) for d in fake.webhook_deliveries] == [(1, None), (2, None)]
    assert all(d.error for d in fake.webhook_deliveries)


async def test_post_raw_sends_exactly_what_it_is_given(
    fake: FakeZaloBotAPI, client: ZaloBotClient, serve: Callable[[Handler], Awaitable[str]]
) -> None:
    async def check_secret(request: web.Request) -> web.Response:
        ok = request.headers.get(SECRET_HEADER) == SECRET
        return web.json_response({}, status=200 if ok else 403)

    await client.set_webhook(await serve(check_secret), SECRET)
    update = {"event_name": "message.text.received", "message": {}}
    assert await fake.post_raw(update, {}) == 403
    assert await fake.post_raw(update, {SECRET_HEADER: "wrong-secret"}) == 403
    assert await fake.post_raw(b"{}", {SECRET_HEADER: SECRET}) == 200


async def test_inbound_kinds(fake: FakeZaloBotAPI, client: ZaloBotClient) -> None:
    image = fake.inject_image(CHAT, "https://example.org/p.jpg", caption="ảnh")
    sticker = fake.inject_sticker(CHAT, "abc123")
    unsupported = fake.inject_unsupported(CHAT)
    group = fake.inject_message("g0123456789abcdef012", "@bot hi", chat_type="GROUP")
    got = [(await client.get_updates(timeout=1))[0] for _ in range(4)]
    assert got == [image, sticker, unsupported, group]
    assert image["event_name"] == "message.image.received"
    assert image["message"]["photo"] == "https://example.org/p.jpg"
    assert image["message"]["caption"] == "ảnh"
    assert sticker["event_name"] == "message.sticker.received"
    assert sticker["message"]["sticker"] == "abc123"
    assert unsupported["event_name"] == "message.unsupported.received"
    assert "text" not in unsupported["message"]
    assert group["message"]["chat"] == {"id": "g0123456789abcdef012", "chat_type": "GROUP"}
    assert group["message"]["from"]["id"] != "g0123456789abcdef012"
    for update in got:
        msg = update["message"]
        assert HEX20.fullmatch(msg["message_id"])
        assert msg["date"] > 1_000_000_000_000  # milliseconds
        assert isinstance(msg["chat"]["id"], str) and isinstance(msg["from"]["id"], str)
    assert len({u["message"]["message_id"] for u in got}) == 4


async def test_replay_and_duplicates_by_polling(
    fake: FakeZaloBotAPI, client: ZaloBotClient
) -> None:
    update = fake.inject_message(CHAT, "hi", duplicate=1)
    fake.replay(update)
    got = [await client.get_updates(timeout=1) for _ in range(3)]
    assert got == [[update]] * 3  # the same message_id each time
    assert await client.get_updates(timeout=1) == []


# --- the fake's own HTTP rules ------------------------------------------------------------------


async def test_fake_http_rules(fake: FakeZaloBotAPI, session: aiohttp.ClientSession) -> None:
    root = f"{fake.base_url}/bot{fake.token}"

    async def post(method: str, body: Any) -> tuple[int, Any]:
        async with session.post(f"{root}/{method}", json=body) as resp:
            return resp.status, await resp.json()

    assert await post("sendmessage", {}) == (  # method names are case-sensitive
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    inbound = fake.inject_message(CHAT, "hi")
    assert (await post("sendMessage", {"chat_id": CHAT, "text": "x" * 2001}))[0] == 400
    assert (await post("sendMessage", {"chat_id": CHAT, "text": ""}))[0] == 400
    assert (await post("sendMessage", {"chat_id": 123, "text": "hi"}))[0] == 400  # not a str
    assert (await post("setWebhook", {"url": "https://x.org/h", "secret_token": "short"}))[0] == 400
    status, body = await post("sendSticker", {"chat_id": CHAT, "sticker": "abc"})
    assert status == 200 and HEX20.fullmatch(body["result"]["message_id"])
    status, body = await post("sendChatAction", {"chat_id": CHAT, "action": "typing"})
    assert (status, body) == (200, {"ok": True})
    status, body = await post("getUpdates", {"timeout": "1"})
    assert (status, body) == (200, {"ok": True, "result": inbound})
    status, body = await post("getUpdates", {"timeout": "1"})
    assert (status, body) == (
        408,
        {"ok": False, "error_code": 408, "description": "Request timeout"},
    )
    status, body = await post("getWebhookInfo", {})
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    assert [r["method"] for r in fake.sent] == ["sendSticker"]
    assert fake.messages_to(CHAT) == []  # stickers are not text/photo messages


async def test_control_api(
    fake: FakeZaloBotAPI, client: ZaloBotClient, session: aiohttp.ClientSession
) -> None:
    ctl = f"{fake.base_url}/_fake"
    async with session.post(f"{ctl}/inject", json={"chat_id": CHAT, "text": "qua HTTP"}) as resp:
        injected = (await resp.json())["result"]
    assert await client.get_updates(timeout=1) == [injected]
    async with session.post(f"{ctl}/fail", json={"method": "sendMessage", "status": 502}) as resp:
        assert resp.status == 200
    with pytest.raises(ZaloTransientError):
        await client.send_message(CHAT, "một")
    await client.send_message(CHAT, "hai")
    async with session.get(f"{ctl}/outbox", params={"chat_id": CHAT}) as resp:
        outbox = await resp.json()
    assert [r["params"]["text"] for r in outbox["sent"]] == ["hai"]
    assert outbox["rejected"][-1]["status"] == 502
    async with session.post(f"{ctl}/reset") as resp:
        assert resp.status == 200
    assert fake.sent == [] and fake.rejected == []
    with pytest.raises(ZaloClientError):  # reset forgets known chats too
        await client.send_message(CHAT, "ba")
