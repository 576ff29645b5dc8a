"""Our Zalo OA client against the fake Zalo OA server: tokens, sends, windows, ZNS, webhooks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.channels.zalo_oa_api import (
    SIGNATURE_HEADER,
    OATokens,
    OATransientError,
    WindowClosed,
    ZaloOAClient,
    ZaloOAError,
    verify_signature,
)
from tests.fakes.zalo_oa_api import FakeZaloOA

USER = "2468013579246801357"
TEMPLATES = {"nhac-nop-bai": ["ho_ten", "thang"]}


class MemoryTokenStore:
    """The TokenStore contract in memory: its own lock, the freshness check, persist-then-return.
    `persist=False` models a broken store that loses the new pair."""

    def __init__(
        self,
        tokens: OATokens | None,
        *,
        clock: Callable[[], datetime],
        margin: timedelta = timedelta(minutes=5),
        persist: bool = True,
    ) -> None:
        self.tokens = tokens
        self.clock = clock
        self.margin = margin
        self.persist = persist
        self.exchanges = 0
        self.rotations = 0  # round trips to the "database"
        self.lock = asyncio.Lock()

    async def load(self) -> OATokens | None:
        return self.tokens

    async def rotate(
        self, stale_access: str | None, exchange: Callable[[str], Awaitable[OATokens]]
    ) -> OATokens:
        async with self.lock:
            self.rotations += 1
            current = self.tokens
            if current is None:
                raise LookupError("no tokens stored")
            if (
                current.access_token != stale_access
                and current.expires_at - self.clock() > self.margin
            ):
                return current
            self.exchanges += 1
            new = await exchange(current.refresh_token)
            if self.persist:
                self.tokens = new  # "committed" before anyone sees the new access token
            return new


def seeded_store(fake: FakeZaloOA, **kw: Any) -> MemoryTokenStore:
    """What onboarding leaves behind: a refresh token and no usable access token yet."""
    tokens = OATokens("", fake.initial_refresh_token, fake.now - timedelta(seconds=1))
    return MemoryTokenStore(tokens, clock=lambda: fake.now, **kw)


def make_client(
    session: aiohttp.ClientSession, fake: FakeZaloOA, store: MemoryTokenStore, **kw: Any
) -> ZaloOAClient:
    options: dict[str, Any] = {
        "app_id": fake.app_id,
        "app_secret": fake.app_secret,
        "store": store,
        "oauth_url": fake.base_url,
        "api_url": fake.base_url,
        "business_url": fake.base_url,
        "clock": lambda: fake.now,
    }
    options.update(kw)
    return ZaloOAClient(session, **options)


@pytest.fixture
async def fake() -> AsyncIterator[FakeZaloOA]:
    async with FakeZaloOA(templates=TEMPLATES) as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def store(fake: FakeZaloOA) -> MemoryTokenStore:
    return seeded_store(fake)


@pytest.fixture
def client(
    session: aiohttp.ClientSession, fake: FakeZaloOA, store: MemoryTokenStore
) -> ZaloOAClient:
    return make_client(session, fake, store)


def expired_rejections(fake: FakeZaloOA) -> list[dict[str, Any]]:
    return [r for r in fake.rejected if r["error"] == -216]


# --- tokens ----------------------------------------------------------------------------------


async def test_first_call_refreshes_and_stores(
    fake: FakeZaloOA, client: ZaloOAClient, store: MemoryTokenStore
) -> None:
    fake.inject_text(USER, "Xin chào")
    data = await client.send_cs(USER, "Chào đồng chí")

    assert fake.refresh_calls == 1
    assert fake.token_requests[0]["ok"] is True
    assert store.tokens is not None
    assert store.tokens.access_token == fake.access_token
    assert store.tokens.refresh_token == fake.refresh_token
    assert store.tokens.expires_at == fake.now + timedelta(seconds=90000)
    assert data["user_id"] == USER and data["message_id"]
    assert [m["text"] for m in fake.messages_to(USER)] == ["Chào đồng chí"]
    assert expired_rejections(fake) == []


async def test_expires_in_as_int_is_accepted(
    fake: FakeZaloOA, client: ZaloOAClient, store: MemoryTokenStore
) -> None:
    fake.expires_in, fake.expires_in_as_string = 7200, False
    await client.access_token()
    assert store.tokens is not None
    assert store.tokens.expires_at == fake.now + timedelta(seconds=7200)


async def test_refresh_ahead_of_expiry_on_the_fake_clock(
    fake: FakeZaloOA, client: ZaloOAClient, store: MemoryTokenStore
) -> None:
    fake.inject_text(USER, "hi")
    await client.send_cs(USER, "one")
    first = store.tokens
    fake.advance(90000 - 2 * 3600)  # two hours left: beyond the one-hour margin
    await client.send_cs(USER, "two")
    assert fake.refresh_calls == 1
    fake.advance(3600 + 1800)  # thirty minutes left: refresh before Zalo says -216
    await client.send_cs(USER, "three")

    assert fake.refresh_calls == 2
    assert store.tokens is not None and first is not None
    assert store.tokens.access_token != first.access_token
    assert store.tokens.access_token == fake.access_token
    assert expired_rejections(fake) == []
    assert len(fake.messages_to(USER)) == 3


async def test_expired_token_is_refreshed_once_and_the_call_retried(
    fake: FakeZaloOA, client: ZaloOAClient
) -> None:
    fake.inject_text(USER, "hi")
    await client.send_cs(USER, "one")
    fake.expire_access_token()
    data = await client.send_cs(USER, "two")

    assert data["message_id"]
    assert fake.refresh_calls == 2
    assert len(expired_rejections(fake)) == 1
    assert [m["text"] for m in fake.messages_to(USER)] == ["one", "two"]


async def test_ten_concurrent_sends_on_an_expired_token_refresh_once(
    fake: FakeZaloOA, client: ZaloOAClient, store: MemoryTokenStore
) -> None:
    fake.inject_text(USER, "hi")
    await client.send_cs(USER, "warm up")
    fake.expire_access_token()
    results = await asyncio.gather(*(client.send_cs(USER, f"msg {i}") for i in range(10)))

    assert all(r["message_id"] for r in results)
    assert fake.refresh_calls == 2  # the first token, then exactly one for the expiry
    assert store.exchanges == 2
    assert store.rotations == 2  # the nine waiters took the new token from the client's cache
    assert fake.reused_refresh_tokens == 0
    assert len(expired_rejections(fake)) == 10
    assert len(fake.messages_to(USER)) == 11


async def test_two_processes_sharing_the_store_refresh_once(
    fake: FakeZaloOA, session: aiohttp.ClientSession, store: MemoryTokenStore
) -> None:
    a, b = make_client(session, fake, store), make_client(session, fake, store)
    fake.inject_text(USER, "hi")
    await a.send_cs(USER, "a")
    await b.send_cs(USER, "b")
    fake.expire_access_token()
    await asyncio.gather(*(c.send_cs(USER, "x") for c in (a, b) for _ in range(5)))

    assert fake.refresh_calls == 2
    assert fake.reused_refresh_tokens == 0
    assert len(fake.messages_to(USER)) == 12


async def test_store_rotated_by_another_process_is_reused_without_exchange(
    fake: FakeZaloOA, session: aiohttp.ClientSession, store: MemoryTokenStore
) -> None:
    ours = make_client(session, fake, store)
    fake.inject_text(USER, "hi")
    await ours.send_cs(USER, "one")
    old = store.tokens
    assert old is not None
    # Another process refreshes: Zalo kills our cached access token.
    other = make_client(session, fake, store)
    await other.refresh(stale=old.access_token)
    assert fake.refresh_calls == 2 and store.exchanges == 2

    await ours.send_cs(USER, "two")

    assert fake.refresh_calls == 2  # no exchange on our side
    assert store.exchanges == 2
    assert len(expired_rejections(fake)) == 1  # our stale token, once
    assert fake.reused_refresh_tokens == 0
    assert len(fake.messages_to(USER)) == 2


async def test_a_refresh_token_is_never_sent_twice(
    fake: FakeZaloOA, session: aiohttp.ClientSession
) -> None:
    broken = seeded_store(fake, persist=False)  # keeps handing out the spent refresh token
    client = make_client(session, fake, broken)
    await client.access_token()
    fake.expire_access_token()
    fake.inject_text(USER, "hi")

    with pytest.raises(ZaloOAError, match="already sent") as err:
        await client.send_cs(USER, "x")

    assert not isinstance(err.value, OATransientError)
    assert fake.refresh_calls == 1
    assert fake.reused_refresh_tokens == 0


async def test_refresh_token_spent_only_once_it_may_have_left(
    fake: FakeZaloOA, session: aiohttp.ClientSession, store: MemoryTokenStore
) -> None:
    client = make_client(session, fake, store, oauth_url="http://127.0.0.1:9")
    with pytest.raises(OATransientError) as refused:
        await client.access_token()
    assert refused.value.request_sent is False
    client._oauth_url = fake.base_url  # the network is back: the token never left, use it
    await client.access_token()
    assert fake.refresh_calls == 1 and fake.token_requests[-1]["ok"]

    fake.expire_access_token()
    fake.fail_next_http("access_token", status=502)  # did Zalo rotate? we cannot know
    with pytest.raises(OATransientError) as ambiguous:
        await client.quota()  # -216, then the refresh meets the 502
    assert ambiguous.value.request_sent is True
    with pytest.raises(ZaloOAError, match="already sent"):
        await client.quota()
    assert fake.refresh_calls == 1  # the 502 came from "a gateway"; no second attempt
    assert fake.reused_refresh_tokens == 0


async def test_fake_counts_a_reused_refresh_token(
    fake: FakeZaloOA, session: aiohttp.ClientSession, client: ZaloOAClient
) -> None:
    """The client-side `reused_refresh_tokens == 0` checks mean something only if this works."""
    await client.access_token()
    form = {
        "app_id": fake.app_id,
        "grant_type": "refresh_token",
        "refresh_token": fake.initial_refresh_token,
    }
    headers = {"secret_key": fake.app_secret}
    async with session.post(
        f"{fake.base_url}/v4/oa/access_token", data=form, headers=headers
    ) as resp:
        body = await resp.json()
    assert body["error"] < 0 and "access_token" not in body
    assert fake.reused_refresh_tokens == 1


async def test_authorization_code_grant_with_pkce(
    fake: FakeZaloOA, session: aiohttp.ClientSession
) -> None:
    verifier = "v" * 50
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    code = fake.issue_auth_code(challenge)
    url, headers = f"{fake.base_url}/v4/oa/access_token", {"secret_key": fake.app_secret}
    form = {
        "app_id": fake.app_id,
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
    }
    async with session.post(url, data=form, headers=headers) as resp:
        granted = await resp.json()
    async with session.post(url, data=form, headers=headers) as resp:
        again = await resp.json()

    assert granted["access_token"] == fake.access_token
    assert granted["refresh_token"] == fake.refresh_token
    assert granted["expires_in"] == "90000"
    assert again["error"] < 0  # codes are single-use
    assert fake.refresh_calls == 0


async def test_no_stored_tokens_is_a_clear_error(
    fake: FakeZaloOA, session: aiohttp.ClientSession
) -> None:
    client = make_client(session, fake, MemoryTokenStore(None, clock=lambda: fake.now))
    with pytest.raises(ZaloOAError, match="grant access"):
        await client.quota()
    assert fake.token_requests == []


# --- sending ---------------------------------------------------------------------------------


async def test_window_closed_after_eight_days(fake: FakeZaloOA, client: ZaloOAClient) -> None:
    fake.inject_text(USER, "hi")
    fake.advance(8 * 86400)
    with pytest.raises(WindowClosed) as err:
        await client.send_cs(USER, "còn đó không?")
    assert err.value.code == -230
    assert fake.messages_to(USER) == []


async def test_unknown_user_is_a_plain_error(fake: FakeZaloOA, client: ZaloOAClient) -> None:
    with pytest.raises(ZaloOAError) as err:
        await client.send_cs("999", "hello")
    assert err.value.code == -201
    assert not isinstance(err.value, WindowClosed)


async def test_quota_reply_then_sub_quota(fake: FakeZaloOA, client: ZaloOAClient) -> None:
    fake.inject_text(USER, "hi")
    answers = [await client.send_cs(USER, f"reply {i}") for i in range(9)]

    assert [a["quota"]["quota_type"] for a in answers] == ["reply"] * 8 + ["sub_quota"]
    assert [a["quota"]["remain"] for a in answers[:8]] == [str(7 - i) for i in range(8)]
    assert answers[8]["quota"]["remain"] == "999"

    fake.inject_text(USER, "again")  # the user writes: a fresh frame of 8
    assert (await client.send_cs(USER, "r"))["quota"]["quota_type"] == "reply"
    fake.advance(49 * 3600)  # past 48 h, inside 7 days: proactive
    late = await client.send_cs(USER, "late")
    assert late["quota"]["quota_type"] == "sub_quota"
    assert late["quota"]["remain"] == "998"
    assert [m["quota_type"] for m in fake.messages_to(USER)][-2:] == ["reply", "sub_quota"]

    quota = await client.quota()
    assert quota["remain"] == "998" and quota["total"] == "1000"


async def test_empty_proactive_pool_is_an_error(fake: FakeZaloOA, client: ZaloOAClient) -> None:
    fake.monthly_proactive_quota = 1
    fake.inject_text(USER, "hi")
    fake.advance(3 * 86400)
    await client.send_cs(USER, "one proactive")
    with pytest.raises(ZaloOAError) as err:
        await client.send_cs(USER, "one too many")
    assert err.value.code < 0 and not isinstance(err.value, WindowClosed)
    assert len(fake.messages_to(USER)) == 1


async def test_buttons_are_hidden_query_buttons(fake: FakeZaloOA, client: ZaloOAClient) -> None:
    fake.inject_text(USER, "menu")
    await client.send_cs(USER, "Chọn:", [("1. Đăng ký", "#c:register"), ("2. Xem", "#c:view")])

    sent = fake.messages_to(USER)[0]
    assert sent["text"] == "Chọn:"
    assert sent["attachment"]["type"] == "template"
    assert sent["buttons"] == [
        {"title": "1. Đăng ký", "type": "oa.query.hide", "payload": "#c:register"},
        {"title": "2. Xem", "type": "oa.query.hide", "payload": "#c:view"},
    ]
    press = fake.inject_text(USER, sent["buttons"][0]["payload"])  # a tap is a user_send_text
    assert press["event_name"] == "user_send_text"
    assert press["message"]["text"] == "#c:register"


async def test_fake_rejects_malformed_buttons(
    fake: FakeZaloOA, client: ZaloOAClient, session: aiohttp.ClientSession
) -> None:
    fake.inject_text(USER, "hi")
    token = await client.access_token()
    bad_buttons: list[dict[str, Any]] = [
        {"title": "x", "type": "oa.query.bogus", "payload": "p"},
        {"title": "", "type": "oa.query.hide", "payload": "p"},
        {"title": "x", "type": "oa.query.hide", "payload": {"p": 1}},
        {"title": "x", "type": "oa.open.url", "payload": "https://example.org"},
    ]
    for button in bad_buttons:
        body = {
            "recipient": {"user_id": USER},
            "message": {
                "text": "t",
                "attachment": {"type": "template", "payload": {"buttons": [button]}},
            },
        }
        async with session.post(
            f"{fake.base_url}/v3.0/oa/message/cs", json=body, headers={"access_token": token}
        ) as resp:
            answer = await resp.json()
        assert resp.status == 200 and answer["error"] < 0, button
    assert fake.sent == []


async def test_text_is_checked_before_any_call(fake: FakeZaloOA, client: ZaloOAClient) -> None:
    fake.inject_text(USER, "hi")
    with pytest.raises(ValueError):
        await client.send_cs(USER, "  ")
    with pytest.raises(ValueError):
        await client.send_cs(USER, "x" * 2001)
    assert fake.token_requests == [] and fake.rejected == []
    await client.send_cs(USER, "x" * 2000)
    assert len(fake.messages_to(USER)) == 1


async def test_zns_success_and_unknown_template(fake: FakeZaloOA, client: ZaloOAClient) -> None:
    data = await client.send_zns(
        "nhac-nop-bai",
        {"ho_ten": "Nguyễn Văn A", "thang": "5/2026"},
        tracking_id="t-1",
        phone="84912345678",
    )
    assert data["msg_id"] and data["quota"]["remainingQuota"] == "499"
    assert fake.zns_sent[0]["phone"] == "84912345678"
    assert fake.zns_sent[0]["template_data"]["ho_ten"] == "Nguyễn Văn A"

    with pytest.raises(ZaloOAError) as err:
        await client.send_zns("khong-co", {"a": "b"}, tracking_id="t-2", user_id=USER)
    assert err.value.code < 0
    with pytest.raises(ZaloOAError):  # a required parameter is missing
        await client.send_zns("nhac-nop-bai", {"ho_ten": "A"}, tracking_id="t-3", user_id=USER)
    with pytest.raises(ValueError):
        await client.send_zns("nhac-nop-bai", {}, tracking_id="t-4")
    assert len(fake.zns_sent) == 1


# --- failures and secrets --------------------------------------------------------------------


async def test_transient_failures(
    fake: FakeZaloOA, session: aiohttp.ClientSession, store: MemoryTokenStore
) -> None:
    client = make_client(session, fake, store, request_timeout=0.3)
    fake.inject_text(USER, "hi")
    fake.fail_next_http("cs", status=502)
    with pytest.raises(OATransientError, match="HTTP 502"):
        await client.send_cs(USER, "a")
    fake.fail_next_http("cs", status=200, body="<html>maintenance</html>")
    with pytest.raises(OATransientError, match="unparsable"):
        await client.send_cs(USER, "b")
    fake.fail_next_http("cs", delay=1.0)
    with pytest.raises(OATransientError, match="timeout"):
        await client.send_cs(USER, "c")
    fake.fail_next("cs", error=-32, message="Exceeded the request limit")
    with pytest.raises(ZaloOAError) as err:
        await client.send_cs(USER, "d")
    assert err.value.code == -32 and not isinstance(err.value, OATransientError)
    assert fake.messages_to(USER) == []
    await client.send_cs(USER, "e")
    assert [m["text"] for m in fake.messages_to(USER)] == ["e"]


async def test_secrets_never_appear_in_errors_or_logs(
    fake: FakeZaloOA,
    session: aiohttp.ClientSession,
    client: ZaloOAClient,
    store: MemoryTokenStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.inject_text(USER, "hi")
    await client.send_cs(USER, "warm up")
    assert store.tokens is not None
    access, refresh = store.tokens.access_token, store.tokens.refresh_token
    secrets = [fake.app_secret, access, refresh, fake.initial_refresh_token]
    errors: list[ZaloOAError] = []

    fake.fail_next("cs", error=-124, message=f"bad token {access} / {fake.app_secret}")
    with pytest.raises(ZaloOAError) as err:
        await client.send_cs(USER, "x")
    errors.append(err.value)

    fake.expire_access_token()
    fake.fail_next("access_token", error=-14014, message=f"refresh {refresh} is invalid")
    with pytest.raises(ZaloOAError) as err:
        await client.send_cs(USER, "y")
    errors.append(err.value)

    wrong = make_client(session, fake, seeded_store(fake), app_secret="wrong-secret-123")
    with pytest.raises(ZaloOAError) as err:
        await wrong.quota()
    errors.append(err.value)
    secrets.append("wrong-secret-123")

    nowhere = make_client(session, fake, store, api_url="http://127.0.0.1:9")
    nowhere._tokens = OATokens(access, refresh, fake.now + timedelta(days=1))
    with pytest.raises(OATransientError) as transient:
        await nowhere.quota()
    assert transient.value.request_sent is False
    errors.append(transient.value)

    texts = [str(e) for e in errors] + [repr(e) for e in errors] + [repr(store.tokens)]
    texts += [r.getMessage() for r in caplog.records]
    for text in texts:
        for secret in secrets:
            assert secret not in text, text
    assert "***" in str(errors[0]) and errors[0].code == -124


# --- webhook signatures ------------------------------------------------------------------------


def signed(body: dict[str, Any], secret: str = "fake-oa-secret-key") -> tuple[bytes, str]:
    raw = json.dumps(body, ensure_ascii=False).encode()
    mac = hashlib.sha256(
        str(body["app_id"]).encode() + raw + str(body["timestamp"]).encode() + secret.encode()
    ).hexdigest()
    return raw, mac


def test_verify_signature_forms_and_rejections() -> None:
    app_id, key = "1234567890123456789", "fake-oa-secret-key"
    body: dict[str, Any] = {"app_id": app_id, "event_name": "user_send_text"}
    body["timestamp"] = "1699003881354"
    body["message"] = {"msg_id": "m1", "text": "Bác Hồ"}
    raw, mac = signed(body)

    def ok(raw: bytes, header: str | None, app: str = app_id, secret: str = key) -> bool:
        return verify_signature(raw, header, app_id=app, oa_secret_key=secret)

    assert ok(raw, f"mac={mac}")
    assert ok(raw, mac)
    assert ok(raw, f"mac={mac.upper()}")
    changed = raw.replace(b"m1", b"m2")
    assert len(changed) == len(raw) and not ok(changed, f"mac={mac}")
    assert not ok(raw, f"mac={mac}", secret="another-secret")
    assert not ok(raw, f"mac={mac}", app="999")
    other_raw, other_mac = signed({**body, "app_id": "999"})
    assert not ok(other_raw, f"mac={other_mac}")  # signed right, but for another app
    # The formula holds with our app_id, but the body names another app.
    ours_over_other = hashlib.sha256(
        app_id.encode() + other_raw + b"1699003881354" + key.encode()
    ).hexdigest()
    assert not ok(other_raw, f"mac={ours_over_other}")
    for header in (None, "", "mac=", "mac=zz", "mac=é" + mac[1:], mac[:-1]):
        assert not ok(raw, header)
    for garbage in (b"", b"\xff\xfe", b"[1, 2]", b"not json", b'{"app_id": 1}', b"null"):
        assert not ok(garbage, f"mac={mac}")
    no_ts = {k: v for k, v in body.items() if k != "timestamp"}
    assert not ok(json.dumps(no_ts).encode(), f"mac={mac}")
    assert not ok(raw, f"mac={mac}", secret="")


class Receiver:
    """A stand-in for the bot's webhook: records what arrives; answers as told."""

    def __init__(self, oa: FakeZaloOA) -> None:
        self.oa = oa
        self.hits: list[tuple[dict[str, str], bytes]] = []
        self.statuses: deque[int] = deque()  # answers to give first; then 200
        self.delay = 0.0
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.hits.append((dict(request.headers), raw))
        if not verify_signature(
            raw,
            request.headers.get(SIGNATURE_HEADER),
            app_id=self.oa.app_id,
            oa_secret_key=self.oa.oa_secret_key,
        ):
            return web.Response(status=403)
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.Response(status=self.statuses.popleft() if self.statuses else 200)

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/zalo/webhook", self.handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/zalo/webhook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


async def test_webhook_deliveries_carry_a_valid_signature(fake: FakeZaloOA) -> None:
    async with Receiver(fake) as receiver:
        fake.webhook_url = receiver.url
        text = fake.inject_text(USER, "Xin chào, tôi muốn đăng ký", display_name="Lan")
        fake.inject_follow("1112223334445556667")
        fake.inject_submit_info(USER, {"name": "Lan", "phone": "84912345678"})
        fake.inject_bad_signature(USER, "forged")
        await fake.drain()

    assert len(receiver.hits) == 4
    for headers, raw in receiver.hits[:3]:
        header = headers[SIGNATURE_HEADER]
        assert header.startswith("mac=")
        kw = {"app_id": fake.app_id, "oa_secret_key": fake.oa_secret_key}
        assert verify_signature(raw, header, **kw)
        assert not verify_signature(raw, header, app_id=fake.app_id, oa_secret_key="x")
        body = json.loads(raw)
        assert isinstance(body["timestamp"], str) and body["timestamp"].isdigit()
        assert body["app_id"] == fake.app_id
    first = json.loads(receiver.hits[0][1])
    assert first == text and first["sender"]["id"] == USER
    assert first["recipient"]["id"] == fake.oa_id
    assert "Đăng ký".lower() in first["message"]["text"]
    follow = json.loads(receiver.hits[1][1])
    assert follow["follower"]["id"] == "1112223334445556667" and "sender" not in follow
    assert json.loads(receiver.hits[2][1])["info"]["phone"] == "84912345678"

    forged = fake.webhook_deliveries[-1]
    assert forged.forged and forged.status == 403 and forged.num_retry == 0
    assert [d.ok for d in fake.webhook_deliveries] == [True, True, True, False]
    assert not fake.webhook_disabled
    assert all("num_retry" not in h for h, _ in receiver.hits)


async def test_failed_delivery_is_retried_with_num_retry(fake: FakeZaloOA) -> None:
    async with Receiver(fake) as receiver:
        receiver.statuses.extend([500, 503])
        fake.webhook_url = receiver.url
        event = fake.inject_text(USER, "hi")
        await fake.drain()
        fake.replay(event)
        await fake.drain()

    assert [h.get("num_retry") for h, _ in receiver.hits] == [None, "1", "2", None]
    assert len({raw for _, raw in receiver.hits}) == 1  # the same bytes every time
    assert [d.status for d in fake.webhook_deliveries] == [500, 503, 200, 200]
    assert not fake.webhook_disabled


async def test_slow_webhook_is_retried_then_disabled(fake: FakeZaloOA) -> None:
    fake.ack_deadline = 0.3
    fake.retry_delay = 0.01
    fake.max_failures = 3
    async with Receiver(fake) as receiver:
        receiver.delay = 0.6
        fake.webhook_url = receiver.url
        fake.inject_text(USER, "hi")
        await fake.wait_for(lambda: fake.webhook_disabled, timeout=5)
        await fake.drain()
        fake.inject_text(USER, "after")  # not delivered while disabled
        await fake.drain()

    deliveries = fake.webhook_deliveries
    assert [d.num_retry for d in deliveries] == [0, 1, 2]
    assert all(d.status is None and not d.ok and d.latency >= 0.25 for d in deliveries)
    assert [h.get("num_retry") for h, _ in receiver.hits] == [None, "1", "2"]
    assert fake.undelivered[-1]["message"]["text"] == "after"
    assert fake.users[USER].last_interaction == fake.now  # the window still opened
