"""Fault injection at the fake APIs (issue 6 #8): the delivery worker with the real channels
against the fakes, each fault handled as its class requires and the pacing never exceeded.

- transient (429 with retry_after, 5xx, timeouts, connection resets): retried, flood control
  after its retry_after and the rest with backoff, and in the end sent exactly once;
- unreachable (Telegram 403: blocked, deactivated; "chat not found"): never retried, the chat
  marked unreachable, the member's own message rerouted to their next channel;
- HTML Telegram cannot parse (400 "can't parse entities"): sent once more as plain text; if
  that fails too, the row fails for good;
- other refusals (other 400s; Zalo Bot 403, whose meaning Zalo does not document; Zalo OA's
  negative error codes): permanent, never retried as is (Zalo OA's go to another channel).

Zalo answers with a JSON error (Zalo OA: HTTP 200 and a negative ``error``), Zalo Bot's 429 is
its plan quota (no Retry-After), and Zalo OA has no 429 of its own (a gateway's bare one is
tested as a transient answer). See ../shared/platforms.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from telegram.ext import ExtBot

from bot.channels.ptb_aiohttp import AiohttpRequest
from bot.channels.telegram import TelegramChannel
from bot.channels.zalo_bot import QUOTA_RETRY_SECONDS, ZaloBotChannel
from bot.channels.zalo_bot_api import ZaloBotClient
from bot.channels.zalo_oa import ZaloOAChannel
from bot.config import TelegramConfig, ZaloBotConfig, ZaloOAConfig
from bot.outbox import DeliveryWorker
from bot.usage import UsageMeter
from handlers.messages import Reply
from handlers.settings import Settings
from models import routing
from models.db import utcnow
from models.outbox import plan
from models.roster import import_roster
from models.tables import Delivery, Identity, Member
from tests.fakes import telegram_api, zalo_bot_api, zalo_oa_api
from tests.fakes.telegram_api import ApiError, FakeTelegramAPI
from tests.fakes.zalo_bot_api import FakeZaloBotAPI
from tests.fakes.zalo_oa_api import FakeZaloOA
from tests.support.harness import Clock
from tests.support.world import ROSTER
from tests.test_outbox import (
    Sessions,
    chat_id,
    in_order_and_paced,
    key_of,
    load,
    peak_per_second,
    settle,
)

TG, ZB, OA = "telegram", "zalo_bot", "zalo_oa"
CANT_PARSE = 'Bad Request: can\'t parse entities: Unsupported start tag "foo" at byte offset 3'
BLOCKED = "Forbidden: bot was blocked by the user"
DEACTIVATED = "Forbidden: user is deactivated"


# -- the platforms -----------------------------------------------------------------------------
@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        yield api


@pytest.fixture
async def zb() -> AsyncIterator[FakeZaloBotAPI]:
    async with FakeZaloBotAPI() as api:
        yield api


@pytest.fixture
async def oa() -> AsyncIterator[FakeZaloOA]:
    async with FakeZaloOA() as api:
        yield api


@contextlib.asynccontextmanager
async def telegram(
    fake: FakeTelegramAPI, *, read_timeout: float | None = None
) -> AsyncIterator[TelegramChannel]:
    """The real channel (with its own rate limiter, 30/s) pointed at the fake."""
    channel = TelegramChannel(TelegramConfig(token=fake.token, base_url=fake.base_url))
    if read_timeout is not None:  # a short read timeout, to see a real timeout quickly
        channel.bot = ExtBot(
            fake.token,
            base_url=fake.base_url,
            request=AiohttpRequest(read_timeout=read_timeout),
            rate_limiter=channel.bot.rate_limiter,
        )
    await channel.bot.initialize()
    try:
        yield channel
    finally:
        await channel.bot.shutdown()


@contextlib.asynccontextmanager
async def zalo_bot(
    fake: FakeZaloBotAPI, sessions: Sessions, clock: Clock, *, request_timeout: float = 15.0
) -> AsyncIterator[ZaloBotChannel]:
    usage = UsageMeter(sessions, clock, Settings())
    channel = ZaloBotChannel(ZaloBotConfig(token=fake.token, base_url=fake.base_url), usage)
    async with aiohttp.ClientSession() as http:
        await channel.start(http)
        channel._client = ZaloBotClient(
            http, fake.token, fake.base_url, request_timeout=request_timeout
        )
        yield channel


@contextlib.asynccontextmanager
async def zalo_oa(
    fake: FakeZaloOA, sessions: Sessions, clock: Clock, *, request_timeout: float = 30.0
) -> AsyncIterator[ZaloOAChannel]:
    config = ZaloOAConfig(
        app_id=fake.app_id,
        app_secret=fake.app_secret,
        oa_secret_key=fake.oa_secret_key,
        refresh_token=fake.initial_refresh_token,
        oauth_url=fake.base_url,
        api_url=fake.base_url,
        business_url=fake.base_url,
    )
    channel = ZaloOAChannel(config, sessions, UsageMeter(sessions, clock, Settings()), clock)
    async with aiohttp.ClientSession() as http:
        await channel.start(http)
        channel.client._timeout = aiohttp.ClientTimeout(total=request_timeout)
        yield channel


# -- rows, members, faults ---------------------------------------------------------------------
async def plan_one(
    sessions: Sessions,
    now: datetime,
    channel: str,
    chat: str | int,
    key: str,
    *,
    text: str | None = None,
    member_id: int | None = None,
) -> None:
    """A notice whose text ends with its dedupe key (HTML for Telegram)."""
    async with sessions() as s, s.begin():
        await plan(
            s,
            channel=channel,
            chat_id=str(chat),
            member_id=member_id,
            kind="notice",
            dedupe_key=key,
            payload=Reply(text or f"<b>Tin</b> {key}").to_payload(),
            now=now,
        )


async def members(sessions: Sessions, clock: Clock, accounts: list[dict[str, str]]) -> list[int]:
    """Members of the example roster, one per entry, each with those channel → chat accounts
    (the first listed is the preferred one)."""
    async with sessions() as s, s.begin():
        report = await import_roster(s, ROSTER, clock())
        assert not report.errors, report.errors
        found = list(await s.scalars(select(Member).order_by(Member.id).limit(len(accounts))))
        for member, chats in zip(found, accounts, strict=True):
            member.preferred_channel = next(iter(chats))
            for channel, chat in chats.items():
                s.add(
                    Identity(
                        member_id=member.id,
                        channel=channel,
                        user_id=chat,
                        chat_id=chat,
                        created_at=clock(),
                        last_inbound_at=clock(),
                    )
                )
        return [m.id for m in found]


async def identity(sessions: Sessions, channel: str, chat: str) -> Identity:
    async with sessions() as s:
        stmt = select(Identity).where(Identity.channel == channel, Identity.chat_id == chat)
        return (await s.scalars(stmt)).one()


def due_in(row: Delivery, clock: Callable[[], datetime]) -> float:
    return (row.next_attempt_at - clock()).total_seconds()


@dataclass
class Fault:
    status: int
    description: str
    retry_after: int | None = None
    stall: float = 0.0  # seconds before answering: past the client's timeout, it never answers


def too_many(retry_after: int = 1) -> Fault:
    return Fault(429, f"Too Many Requests: retry after {retry_after}", retry_after)


SERVER_ERROR = Fault(500, "Internal Server Error")
RESET = Fault(telegram_api.HANG_UP, "connection reset by the fake")
TIMEOUT = Fault(500, "Internal Server Error (never seen: the client gave up)", stall=0.6)
UNPARSABLE = Fault(400, CANT_PARSE)


class TelegramFaults:
    """The fake Bot API answers the next tries of a message (by the dedupe key its text ends
    with) with the faults planned for it, and notes when each sendMessage arrived."""

    def __init__(self, fake: FakeTelegramAPI) -> None:
        self.planned: dict[str, list[Fault]] = {}
        self.arrivals: list[float] = []  # time.time() of every sendMessage the fake saw
        original = fake._call

        async def call(m: str, params: dict[str, Any], handler: Any) -> Any:
            if m == "sendmessage":
                self.arrivals.append(time.time())
                queue = self.planned.get(str(params.get("text", "")).split()[-1], [])
                if queue:
                    fault = queue.pop(0)
                    await asyncio.sleep(fault.stall)
                    raise ApiError(fault.status, fault.description, fault.retry_after)
            return await original(m, params, handler)

        fake._call = call  # type: ignore[method-assign]

    def add(self, key: str, *faults: Fault) -> None:
        self.planned.setdefault(key, []).extend(faults)


def rejected(fake: FakeTelegramAPI, key: str) -> list[dict[str, Any]]:
    return [r for r in fake.rejected if r["method"] == "sendMessage" and key_of(r) == key]


def tg_sent(fake: FakeTelegramAPI, chat: int | None = None) -> list[str]:
    return [key_of(r) for r in fake.calls("sendMessage") if chat is None or r["chat_id"] == chat]


# -- Telegram ----------------------------------------------------------------------------------
async def test_telegram_connection_resets_are_retried_with_backoff_and_sent_once(
    sessions: Sessions, tg: FakeTelegramAPI
) -> None:
    clock = Clock()
    for key in ("k0", "k1"):
        await plan_one(sessions, clock(), TG, chat_id(0), key)
    tg.reset_next("sendMessage", 2)  # closed without an answer, and not carried out
    async with telegram(tg) as channel:
        worker = DeliveryWorker(
            sessions, {TG: channel}, clock, per_chat_interval=0, rng=random.Random(3)
        )
        assert await worker.drain() == 1
        row = (await load(sessions))["k0"]
        assert (row.status, row.attempts) == ("pending", 1)
        assert 0.5 <= due_in(row, clock) <= 1.0  # the first backoff: 1 s with jitter
        assert "disconnected" in (row.last_error or "").lower(), row.last_error
        assert await worker.drain() == 0  # not yet, and k1 waits behind it
        clock.advance(seconds=1)
        assert await worker.drain() == 1
        row = (await load(sessions))["k0"]
        assert (row.status, row.attempts) == ("pending", 2)
        assert 1.0 <= due_in(row, clock) <= 2.0  # doubled
        clock.advance(seconds=2)
        assert await worker.drain() == 2
    assert tg_sent(tg) == ["k0", "k1"]  # each exactly once, in order
    assert [r["status"] for r in tg.rejected] == [telegram_api.HANG_UP] * 2
    rows = await load(sessions)
    assert [(rows[k].status, rows[k].attempts) for k in ("k0", "k1")] == [("sent", 3), ("sent", 1)]


async def test_telegram_403_is_unreachable_never_retried_and_the_member_gets_it_on_zalo(
    sessions: Sessions, tg: FakeTelegramAPI, zb: FakeZaloBotAPI
) -> None:
    clock = Clock()
    chats = [str(chat_id(n)) for n in range(3)]
    zalo = [f"zalo{n:016x}" for n in range(3)]
    ids = await members(sessions, clock, [{TG: chats[n], ZB: zalo[n]} for n in range(3)])
    for n in range(3):
        zb.know_chat(zalo[n])
        await plan_one(sessions, clock(), TG, chats[n], f"k{n}", member_id=ids[n])
    faults = TelegramFaults(tg)
    tg.block(int(chats[0]))  # blocked the bot
    faults.add("k1", Fault(403, DEACTIVATED))  # deleted their account
    async with (
        telegram(tg) as channel,
        zalo_bot(zb, sessions, clock) as zalo_channel,
    ):
        worker = DeliveryWorker(
            sessions, {TG: channel, ZB: zalo_channel}, clock, per_chat_interval=0
        )
        await settle(worker, sessions, timeout=20)
        clock.advance(days=1)
        assert await worker.drain() == 0  # nothing is retried
        rows = await load(sessions)
        for n, why in ((0, "blocked"), (1, "deactivated")):
            row = rows[f"k{n}"]
            assert (row.status, row.attempts) == ("unreachable", 1), row.last_error
            assert why in (row.last_error or "") and "→ zalo_bot" in (row.last_error or "")
            assert len(rejected(tg, f"k{n}")) == 1  # one 403, never a second try
            assert rows[f"k{n}>zalo_bot"].status == "sent"  # the member still got it
            assert [key_of(r) for r in zb.messages_to(zalo[n])] == [f"k{n}"]
            assert (await identity(sessions, TG, chats[n])).unreachable_at is not None
            assert (await identity(sessions, ZB, zalo[n])).unreachable_at is None
        assert rows["k2"].status == "sent" and tg_sent(tg) == ["k2"]
        assert "k2>zalo_bot" not in rows
        # From now on the member's notices go to Zalo at once.
        async with sessions() as s, s.begin():
            member = await s.get(Member, ids[0])
            assert member is not None
            payload = Reply("<b>Tin</b> later").to_payload()
            assert await routing.plan(
                s,
                member,
                kind="notice",
                dedupe_key="later",
                payload=payload,
                now=clock(),
                policy=routing.RoutePolicy(),
            )
        assert (await load(sessions))["later"].channel == ZB


async def test_telegram_html_it_cannot_parse_goes_once_more_as_plain_text(
    sessions: Sessions, tg: FakeTelegramAPI, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    faults = TelegramFaults(tg)
    # chat 0: genuinely malformed HTML, then a good row; chat 1: well-formed HTML the (fake)
    # API still refuses; chat 2: refused as HTML and as plain text, then a good row.
    await plan_one(sessions, clock(), TG, chat_id(0), "k0", text="<b>Tin k0")
    await plan_one(sessions, clock(), TG, chat_id(1), "k1")
    await plan_one(sessions, clock(), TG, chat_id(2), "k2")
    await plan_one(sessions, clock(), TG, chat_id(0), "k3")
    await plan_one(sessions, clock(), TG, chat_id(2), "k4")
    faults.add("k1", UNPARSABLE)
    faults.add("k2", UNPARSABLE, UNPARSABLE)
    caplog.set_level(logging.WARNING, logger="bot.channels.telegram")
    async with telegram(tg) as channel:
        worker = DeliveryWorker(sessions, {TG: channel}, clock, per_chat_interval=0)
        assert await worker.drain() == 5
        clock.advance(days=1)
        assert await worker.drain() == 0  # the failed one is not retried
    rows = await load(sessions)
    assert {k: (r.status, r.attempts) for k, r in rows.items()} == {
        "k0": ("sent", 1),
        "k1": ("sent", 1),
        "k2": ("failed", 1),
        "k3": ("sent", 1),
        "k4": ("sent", 1),
    }
    assert "parse entities" in (rows["k2"].last_error or "")
    by_key = {key_of(r): r["params"] for r in tg.calls("sendMessage")}
    assert by_key["k0"]["text"] == "Tin k0" and "parse_mode" not in by_key["k0"]
    assert by_key["k1"]["text"] == "Tin k1" and "parse_mode" not in by_key["k1"]
    assert by_key["k3"] == by_key["k3"] | {"text": "<b>Tin</b> k3", "parse_mode": "HTML"}
    assert tg_sent(tg, chat_id(0)) == ["k0", "k3"] and tg_sent(tg, chat_id(2)) == ["k4"]
    # k2: the HTML try and the plain one, then nothing more
    assert [r["params"].get("parse_mode") for r in rejected(tg, "k2")] == ["HTML", None]
    warned = [r.getMessage() for r in caplog.records if "as plain text" in r.getMessage()]
    assert len(warned) == 3, warned  # one warning per message, naming its delivery
    for key in ("k0", "k1", "k2"):
        assert sum(w.startswith(f"delivery {rows[key].id}: ") for w in warned) == 1, warned
    assert "end tag corresponding to start tag" in " ".join(warned)  # k0: the genuine error


async def test_other_telegram_400s_are_permanent_and_not_retried(
    sessions: Sessions, tg: FakeTelegramAPI
) -> None:
    clock = Clock()
    faults = TelegramFaults(tg)
    for n in range(3):
        await plan_one(sessions, clock(), TG, chat_id(n), f"k{n}")
    faults.add("k0", Fault(400, "Bad Request: chat not found"))
    faults.add("k1", Fault(400, "Bad Request: message is too long"))
    async with telegram(tg) as channel:
        worker = DeliveryWorker(sessions, {TG: channel}, clock, per_chat_interval=0)
        assert await worker.drain() == 3
        clock.advance(days=1)
        assert await worker.drain() == 0
    rows = await load(sessions)
    # "chat not found": the chat is gone for the bot, so the row is unreachable (rerouted
    # where it has a member); any other 400 is a request Telegram will never accept as is.
    assert [(rows[k].status, rows[k].attempts) for k in ("k0", "k1", "k2")] == [
        ("unreachable", 1),
        ("failed", 1),
        ("sent", 1),
    ]
    assert [len(rejected(tg, k)) for k in ("k0", "k1")] == [1, 1]


# -- Zalo Bot ----------------------------------------------------------------------------------
async def test_zalo_bot_server_errors_resets_timeouts_and_quota_are_retried_and_sent_once(
    sessions: Sessions, zb: FakeZaloBotAPI
) -> None:
    clock = Clock()
    chat = "6ede9afa66b88fe6d6a9"
    zb.know_chat(chat)
    for key in ("k0", "k1"):
        await plan_one(sessions, clock(), ZB, chat, key)
    original = zb._handlers["sendMessage"]
    stalls = [0.6]  # the third try: no answer within the client's timeout (0.3 s)

    async def send(params: dict[str, Any]) -> Any:
        if len(zb.rejected) == 2 and stalls:
            await asyncio.sleep(stalls.pop())
            raise zalo_bot_api.ApiError(500, "Internal Server Error")
        return await original(params)

    zb._handlers["sendMessage"] = send
    zb.fail_next("sendMessage", status=500)
    zb.reset_next("sendMessage")
    async with zalo_bot(zb, sessions, clock, request_timeout=0.3) as channel:
        worker = DeliveryWorker(
            sessions, {ZB: channel}, clock, per_chat_interval=0, rng=random.Random(4)
        )
        expected = [(0.5, 1.0, "Internal Server Error"), (1.0, 2.0, "Disconnected")]
        expected.append((2.0, 4.0, "no answer within 0.3s"))
        for attempts, (low, high, error) in enumerate(expected, start=1):
            assert await worker.drain() == 1
            row = (await load(sessions))["k0"]
            assert (row.status, row.attempts) == ("pending", attempts)
            assert low <= due_in(row, clock) <= high, (attempts, due_in(row, clock))
            assert error in (row.last_error or ""), row.last_error
            clock.advance(seconds=high)
        # The plan's quota is spent (429, no Retry-After): retried a minute later.
        zb.fail_next("sendMessage", status=429)
        assert await worker.drain() == 1
        row = (await load(sessions))["k0"]
        assert (row.status, row.attempts) == ("pending", 4)
        assert QUOTA_RETRY_SECONDS <= due_in(row, clock) <= QUOTA_RETRY_SECONDS + 1
        clock.advance(seconds=QUOTA_RETRY_SECONDS - 1)
        assert await worker.drain() == 0
        clock.advance(seconds=2)
        assert await worker.drain() == 2
    assert [key_of(r) for r in zb.messages_to(chat)] == ["k0", "k1"]  # each exactly once
    assert [r["status"] for r in zb.rejected] == [500, zalo_bot_api.HANG_UP, 429]


async def test_zalo_bot_refusals_are_permanent_and_its_quota_reroutes(
    sessions: Sessions, zb: FakeZaloBotAPI, tg: FakeTelegramAPI
) -> None:
    clock = Clock()
    chats = [f"zalo{n:016x}" for n in range(3)]
    ids = await members(sessions, clock, [{ZB: chats[n], TG: str(chat_id(n))} for n in range(3)])
    for n in range(3):
        zb.know_chat(chats[n])
    async with (
        zalo_bot(zb, sessions, clock) as channel,
        telegram(tg) as tg_channel,
    ):
        worker = DeliveryWorker(sessions, {ZB: channel, TG: tg_channel}, clock, per_chat_interval=0)
        # 403 (Zalo documents no "blocked"; its table calls 403 an internal error) and 400:
        # refused for good; the rows have no member, so nothing goes elsewhere.
        for key, status in (("k403", 403), ("k400", 400)):
            await plan_one(sessions, clock(), ZB, chats[0], key)
            zb.fail_next("sendMessage", status=status)
            assert await worker.drain() == 1
        # The monthly quota: the member's message goes to their other channel.
        await plan_one(sessions, clock(), ZB, chats[1], "kquota", member_id=ids[1])
        zb.fail_next("sendMessage", status=429)
        await settle(worker, sessions, timeout=10)
        clock.advance(days=1)
        assert await worker.drain() == 0
    rows = await load(sessions)
    assert {k: (r.status, r.attempts) for k, r in rows.items()} == {
        "k403": ("failed", 1),
        "k400": ("failed", 1),
        "kquota": ("not_reached", 1),
        "kquota>telegram": ("sent", 1),
    }
    assert tg_sent(tg) == ["kquota"]
    assert zb.sent == []
    assert (await identity(sessions, ZB, chats[1])).unreachable_at is None  # only over quota


# -- Zalo OA -----------------------------------------------------------------------------------
async def test_zalo_oa_gateway_errors_resets_and_timeouts_are_retried_and_sent_once(
    sessions: Sessions, oa: FakeZaloOA
) -> None:
    clock = Clock()
    user = "5071234567890123456"
    oa.inject_text(user, "Xin chào")  # opens the 48 h / 7 day windows
    for key in ("k0", "k1"):
        await plan_one(sessions, clock(), OA, user, key)
    oa.fail_next_http("cs", status=502)
    oa.fail_next_http("cs", status=zalo_oa_api.HANG_UP)
    oa.fail_next_http("cs", status=502, delay=0.6)  # past the client's timeout (0.3 s)
    oa.fail_next_http("cs", status=429, body="Too Many Requests")  # a gateway's, not Zalo's
    async with zalo_oa(oa, sessions, clock, request_timeout=0.3) as channel:
        worker = DeliveryWorker(
            sessions, {OA: channel}, clock, per_chat_interval=0, rng=random.Random(5)
        )
        expected = ["HTTP 502", "network error", "timeout", "unparsable answer (HTTP 429)"]
        for attempts, error in enumerate(expected, start=1):
            assert await worker.drain() == 1
            row = (await load(sessions))["k0"]
            assert (row.status, row.attempts) == ("pending", attempts)
            high = 2.0 ** (attempts - 1)
            assert high / 2 <= due_in(row, clock) <= high, (attempts, due_in(row, clock))
            assert error in (row.last_error or ""), row.last_error
            clock.advance(seconds=high)
        assert await worker.drain() == 2
    assert [r["text"].split()[-1] for r in oa.messages_to(user)] == ["k0", "k1"]  # once each
    assert len(oa.rejected) == 4


async def test_zalo_oa_refusals_are_not_retried_and_go_to_the_other_channel(
    sessions: Sessions, oa: FakeZaloOA, tg: FakeTelegramAPI
) -> None:
    clock = Clock()
    users = ["5071234567890123450", "5071234567890123451", "5071234567890123452"]
    ids = await members(
        sessions, clock, [{OA: u, TG: str(chat_id(n))} for n, u in enumerate(users)]
    )
    for u in users:
        oa.inject_text(u, "Xin chào")
    oa.inject_unfollow(users[0])  # the OA's "blocked": -213 from now on
    async with (
        zalo_oa(oa, sessions, clock) as channel,
        telegram(tg) as tg_channel,
    ):
        worker = DeliveryWorker(sessions, {OA: channel, TG: tg_channel}, clock, per_chat_interval=0)
        await plan_one(sessions, clock(), OA, users[0], "kunfollowed", member_id=ids[0])
        assert await worker.drain() == 2  # refused, then sent on Telegram
        oa.fail_next("cs", error=-224, message="The OA has run out of proactive message quota")
        await plan_one(sessions, clock(), OA, users[1], "kquota", member_id=ids[1])
        assert await worker.drain() == 2
        oa.fail_next("cs", error=-201, message="User is not found")
        await plan_one(sessions, clock(), OA, users[2], "kunknown")  # no member: nowhere else
        assert await worker.drain() == 1
        clock.advance(days=1)
        assert await worker.drain() == 0
    rows = await load(sessions)
    assert {k: (r.status, r.attempts) for k, r in rows.items()} == {
        "kunfollowed": ("not_reached", 1),
        "kunfollowed>telegram": ("sent", 1),
        "kquota": ("not_reached", 1),
        "kquota>telegram": ("sent", 1),
        "kunknown": ("failed", 1),
    }
    assert [r["error"] for r in oa.rejected] == [-213, -224, -201]  # one try each
    assert tg_sent(tg) == ["kunfollowed", "kquota"] and oa.sent == []


# -- everything at once ------------------------------------------------------------------------
MIX = {  # fault → share of the rows (the rest: none)
    "429": 0.03,  # 1–3 in a row: the rate limiter retries two itself, a third reaches the worker
    "500": 0.08,  # 1–2 in a row
    "timeout": 0.05,
    "reset": 0.07,  # 1–2 in a row
    "malformed": 0.06,  # HTML the API cannot parse: sent as plain text
    "unparsable": 0.03,  # refused as HTML and as plain text: failed
    "bad_request": 0.03,  # failed
    "chat_not_found": 0.03,  # unreachable
}
FINAL = {"bad_request": "failed", "unparsable": "failed", "chat_not_found": "unreachable"}


async def test_a_mix_of_faults_keeps_every_limit_and_sends_each_message_once(
    sessions: Sessions, tg: FakeTelegramAPI
) -> None:
    count, chats, interval = 300, 60, 1.0
    rng = random.Random(20260302)
    blocked = set(rng.sample(range(chats), 4))
    faults = TelegramFaults(tg)
    keys, fate, injected_429 = [], {}, 0
    for i in range(count):
        key, chat = f"k{i:05d}", i % chats
        roll, kind = rng.random(), "none"
        for name, share in MIX.items():
            if roll < share:
                kind = name
                break
            roll -= share
        text = None
        if chat in blocked:
            kind = "blocked"
        elif kind == "429":
            n = rng.randint(1, 3)
            injected_429 += n
            faults.add(key, *[too_many()] * n)
        elif kind in ("500", "reset"):
            faults.add(key, *[SERVER_ERROR if kind == "500" else RESET] * rng.randint(1, 2))
        elif kind == "timeout":
            faults.add(key, TIMEOUT)
        elif kind == "malformed":
            text = f"<b>Tin {key}"
        elif kind == "unparsable":
            faults.add(key, UNPARSABLE, UNPARSABLE)
        elif kind == "bad_request":
            faults.add(key, Fault(400, "Bad Request: message is too long"))
        elif kind == "chat_not_found":
            faults.add(key, Fault(400, "Bad Request: chat not found"))
        await plan_one(sessions, utcnow(), TG, chat_id(chat), key, text=text)
        keys.append(key)
        fate[key] = kind
    expected = Counter(
        "unreachable" if fate[k] == "blocked" else FINAL.get(fate[k], "sent") for k in keys
    )
    deliverable = [k for k in keys if fate[k] != "blocked" and fate[k] not in FINAL]
    for chat in blocked:
        tg.block(chat_id(chat))
    tg.set_rate_limit(30)  # the fake answers 429 beyond 30 accepted sends in any second
    async with telegram(tg, read_timeout=0.3) as channel:
        worker = DeliveryWorker(
            sessions, {TG: channel}, utcnow, per_chat_interval=interval, rng=random.Random(6)
        )
        started = time.monotonic()
        await settle(worker, sessions, timeout=180)
        took = time.monotonic() - started
    rows = await load(sessions)
    assert Counter(r.status for r in rows.values()) == expected
    assert Counter(tg_sent(tg)) == Counter(deliverable)  # every deliverable row exactly once
    in_order_and_paced(tg, deliverable, interval)  # in order, ≥ 1 s apart in each chat
    peak = peak_per_second(faults.arrivals)  # every request the fake saw, answered or not
    assert peak <= 30 + 2, peak
    for key, kind in fate.items():  # the permanent ones were tried once
        if kind == "blocked" or kind in FINAL:
            assert rows[key].attempts == 1, (key, kind, rows[key].last_error)
    assert all(not queue for queue in faults.planned.values())  # every fault was served
    organic_429 = tg.count_429 - injected_429
    print(
        f"\n{count} deliveries to {chats} chats, faults {dict(Counter(fate.values()))}: "
        f"{took:.1f} s, {len(faults.arrivals)} requests, peak {peak} in 1 s, "
        f"{tg.count_429} answered 429 ({injected_429} injected, {organic_429} from the 30/s "
        f"limit), final {dict(Counter(r.status for r in rows.values()))}"
    )


async def test_flood_control_holds_every_send_for_its_retry_after(
    sessions: Sessions, tg: FakeTelegramAPI
) -> None:
    """A 429 pauses all sends, not only the one refused, and no burst follows the pause."""
    faults = TelegramFaults(tg)
    for n in range(60):
        await plan_one(sessions, utcnow(), TG, chat_id(n), f"k{n:02d}")
    faults.add("k05", too_many(1))  # answered once; the rate limiter retries it itself
    async with telegram(tg) as channel:
        worker = DeliveryWorker(sessions, {TG: channel}, utcnow, per_chat_interval=0)
        assert await worker.drain() == 60
    refused = next(r["time"] for r in tg.rejected if r["status"] == 429)
    # Nothing starts during retry_after; only sends already on the wire when the 429 came
    # back (at most a few, just after it) may still arrive.
    during = [t - refused for t in faults.arrivals if refused < t < refused + 1.0]
    assert len(during) <= 3 and all(t < 0.25 for t in during), during
    assert peak_per_second(faults.arrivals) <= 30 + 1
    assert sorted(tg_sent(tg)) == [f"k{n:02d}" for n in range(60)]


async def test_the_pacer_keeps_its_grid_when_a_wake_up_is_late() -> None:
    """Each start is due one interval after the previous one was due: a late wake-up does not
    push every later send back (that lag cost ~3 % of the rate). After an idle spell the grid
    restarts from now, so no burst makes up for the quiet time."""
    from bot.channels.pacer import SteadyRateLimiter

    pacer = SteadyRateLimiter(10)  # one start every 0.1 s
    await pacer._wait_turn()
    first_due = pacer._next
    await asyncio.sleep(first_due - asyncio.get_running_loop().time() + 0.03)  # 30 ms late
    await pacer._wait_turn()
    assert pacer._next == pytest.approx(first_due + 0.1, abs=1e-9)
    await asyncio.sleep(0.3)  # idle: more than an interval past the due time
    before = asyncio.get_running_loop().time()
    await pacer._wait_turn()
    assert pacer._next >= before + 0.1
