"""What only Zalo has, end to end: the Zalo Bot's secret header, content Zalo withholds and its
monthly quota; the OA's signature, its 2-second rule, token refresh, its 7-day window (ZNS
template or another channel); and one member on two channels (/lienket, /kenh)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from bot.app import App
from bot.config import ZaloTemplate
from bot.usage import render_usage, usage_rows
from handlers import texts
from handlers.text import strip_html
from models.db import utcnow
from models.tables import Delivery, InboxUpdate, Member, Role
from tests.support.platforms import (
    ZALO_BOT_SECRET,
    Person,
    TelegramPlatform,
    ZaloBotPlatform,
    ZaloOAPlatform,
    free_port,
    open_platform,
)
from tests.test_journeys import MEMBER, SEC, register_pledge


@pytest.fixture
async def zalo_bot() -> AsyncIterator[ZaloBotPlatform]:
    async with open_platform("zalo_bot") as opened:
        yield opened


@pytest.fixture
async def oa() -> AsyncIterator[ZaloOAPlatform]:
    async with open_platform("zalo_oa") as opened:
        yield opened


class Clock:
    """Real time plus an offset the test moves (the fake OA's clock is moved alongside)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> Any:
        return utcnow() + self.offset


async def eventually(check: Callable[[], Any], timeout: float = 15) -> Any:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)


async def statuses(app: App, chat: str) -> list[str]:
    async with app.sessions() as s:
        stmt = select(Delivery.status).where(Delivery.chat_id == chat).order_by(Delivery.id)
        return list(await s.scalars(stmt))


# -- Zalo Bot ------------------------------------------------------------------------------------


async def test_zalo_bot_webhook_rejects_a_wrong_or_missing_secret(
    db_url: str, zalo_bot: ZaloBotPlatform
) -> None:
    app = App(zalo_bot.config(db_url, "webhook", free_port()))
    await app.start()
    try:
        person = zalo_bot.person(MEMBER, "Sơn")
        zalo_bot.fake.know_chat(person.chat)
        body = {
            "event_name": "message.text.received",
            "message": {
                "message_id": "a" * 20,
                "date": 1750316131602,
                "text": "/start",
                "chat": {"id": person.chat, "chat_type": "PRIVATE"},
                "from": {"id": person.chat, "display_name": "X", "is_bot": False},
            },
        }
        for headers in ({}, {"X-Bot-Api-Secret-Token": "wrong-secret"}):
            assert await zalo_bot.fake.post_raw(body, headers) == 403
        async with app.sessions() as s:
            assert await s.scalar(select(func.count()).select_from(InboxUpdate)) == 0
        # the right secret, wrapped or flat, duplicated: stored once, answered once
        assert (
            await zalo_bot.fake.post_raw(body, {"X-Bot-Api-Secret-Token": ZALO_BOT_SECRET}) == 200
        )
        zalo_bot.fake.inject_message(person.chat, "/trogiup", shape="wrapped", duplicate=2)
        await person.wait(0, texts.WELCOME_UNLINKED.split("\n")[0])
        await zalo_bot.fake.drain()
        async with app.sessions() as s:
            assert await s.scalar(select(func.count()).select_from(InboxUpdate)) == 2
        # content Zalo withholds gets a polite, generic answer
        since = len(person.texts())
        zalo_bot.fake.inject_unsupported(person.chat)
        await person.wait(since, texts.UNSUPPORTED_CONTENT)
    finally:
        await app.stop()


async def test_zalo_bot_polling_waits_out_408s_and_counts_the_monthly_quota(
    db_url: str, zalo_bot: ZaloBotPlatform, roster_codes: dict[str, str]
) -> None:
    from dataclasses import replace

    config = zalo_bot.config(db_url, "polling", free_port())
    config = replace(config, zalo_bot=replace(config.zalo_bot, monthly_messages=12, warn_at=0.5))
    app = App(config)
    async with app.sessions() as s, s.begin():  # an admin, to be warned
        admin = (await s.scalars(select(Member).where(Member.full_name == "Trần Văn Thắng"))).one()
        s.add(Role(member_id=admin.id, unit_id=admin.unit_id, role="admin", created_at=utcnow()))
    await app.start()
    try:
        sec, member = zalo_bot.person(SEC, "Thắng"), zalo_bot.person(MEMBER, "Sơn")
        await sec.say(roster_codes["Trần Văn Thắng"], "Chào đồng chí")
        await asyncio.sleep(1.5)  # idle long polls end in HTTP 408: nothing new, no error
        await member.say(roster_codes["Hoàng Văn Sơn"], "Chào đồng chí")
        assert zalo_bot.fake.poll_count >= 2
        # half of 12 messages: the admin is told. The first burst stays well under the limit, so
        # the warning cannot lose the race for the last messages to the member's queued replies.
        for n in range(4):
            zalo_bot.fake.inject_message(member.chat, f"/lich {n}")
        await sec.wait(0, "Sắp hết hạn mức Zalo")
        # past the limit nothing more is sent on the Zalo Bot (this member has no other channel)
        for n in range(4, 12):
            zalo_bot.fake.inject_message(member.chat, f"/lich {n}")
        assert await eventually(lambda: _has_status(app, member.chat, "not_reached"), timeout=20), (
            zalo_bot.fake.dump()
        )
        assert zalo_bot.fake.quota_used <= 12
        assert await app.usage.messages("zalo_bot") == zalo_bot.fake.quota_used
        month = app.usage.month()  # what `outbox status` prints
        shown = render_usage(await usage_rows(app.sessions, month), month, {"zalo_bot": 12})
        assert f"Zalo: {zalo_bot.fake.quota_used}/12 tin" in shown
    finally:
        await app.stop()


async def _has_status(app: App, chat: str, status: str) -> bool:
    return status in await statuses(app, chat)


# -- Zalo OA -------------------------------------------------------------------------------------


async def test_oa_rejects_a_bad_signature_and_answers_in_time_when_storing_is_slow(
    db_url: str, oa: ZaloOAPlatform
) -> None:
    app = App(oa.config(db_url, "webhook", free_port()))
    await app.start()
    try:
        person = oa.person(MEMBER, "Sơn")
        oa.fake.inject_bad_signature(person.chat, "/trogiup")
        await oa.fake.drain()
        assert [d.status for d in oa.fake.webhook_deliveries] == [403]
        async with app.sessions() as s:
            assert await s.scalar(select(func.count()).select_from(InboxUpdate)) == 0

        # The database is busy for 3 s (a long transaction holds the inbox): Zalo still gets
        # its answer within 2 s, and the message is handled once the database is free.
        async with app.engine.connect() as conn:
            if app.engine.dialect.name == "postgresql":
                await conn.execute(text("BEGIN"))
                await conn.execute(text("LOCK TABLE inbox IN EXCLUSIVE MODE"))
            else:
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            oa.fake.inject_text(person.chat, "/trogiup")
            await asyncio.sleep(3)
            await conn.rollback()
        await person.wait(0, texts.WELCOME_UNLINKED.split("\n")[0])
        last = oa.fake.webhook_deliveries[-1]
        assert last.status == 200 and last.latency < 2.0 and last.num_retry == 0
        assert not oa.fake.webhook_disabled
    finally:
        await app.stop()


async def test_oa_refreshes_its_token_once_and_never_reuses_a_refresh_token(
    db_url: str, oa: ZaloOAPlatform, roster_codes: dict[str, str]
) -> None:
    app = App(oa.config(db_url, "webhook", free_port()))
    await app.start()
    try:
        member = oa.person(MEMBER, "Sơn")
        await member.say(roster_codes["Hoàng Văn Sơn"], "Chào đồng chí")
        assert oa.fake.refresh_calls == 1  # the refresh token from the environment, once
        oa.fake.expire_access_token()  # -216 on the next call: refresh once, send again
        await member.say("/lich", "sinh hoạt")
        await member.say("/trogiup", "Các việc đồng chí có thể làm")
        assert oa.fake.refresh_calls == 2
        assert oa.fake.reused_refresh_tokens == 0
        month = app.usage.month()  # the quota figures Zalo reported, as `outbox status` shows
        shown = render_usage(await usage_rows(app.sessions, month), month, {})
        assert "Zalo (trang Official Account), hạn mức báo về:" in shown
        assert "quota_type=reply" in shown
        await app.stop()
        app = App(oa.config(db_url, "webhook", free_port()))  # a restart uses the stored pair
        await app.start()
        await member.say("/camket", "chưa")
        assert oa.fake.refresh_calls == 2 and oa.fake.reused_refresh_tokens == 0
    finally:
        await app.stop()


@pytest.mark.parametrize("template", [True, False])
async def test_outside_the_oa_window_a_reminder_goes_as_zns_or_on_the_other_channel(
    template: bool, db_url: str, oa: ZaloOAPlatform, roster_codes: dict[str, str]
) -> None:
    """A member on Telegram and Zalo OA who prefers the OA but has not written for 8 days."""
    from dataclasses import replace

    clock = Clock()
    mapping = {"ho_ten": "member_name", "ngay_hop": "meeting_date"}
    templates = {"notice": ZaloTemplate("ZNS-NHAC-HOP", mapping)}
    async with open_platform("telegram") as tg:
        assert isinstance(tg, TelegramPlatform)
        port = free_port()
        config = oa.config(db_url, "webhook", port, templates=templates if template else {})
        config = replace(config, telegram=tg.config(db_url, "polling", port).telegram)
        app = App(config, clock=clock)
        await app.start()
        try:
            sec = tg.person(SEC, "Thắng")
            on_tg, on_oa = tg.person(MEMBER, "Sơn"), oa.person(MEMBER, "Sơn")
            await sec.say(roster_codes["Trần Văn Thắng"], "Chào đồng chí")
            await on_tg.say(roster_codes["Hoàng Văn Sơn"], "Chào đồng chí")
            await link_other_channel(on_tg, on_oa)
            await on_oa.say("/kenh", "Kênh nhận tin")
            await on_oa.press("Ưu tiên Zalo", "Từ nay nhắc việc")
            await register_pledge(on_tg)  # on Telegram now; the OA was last used just before

            # 8 days without a word on Zalo. Without a template, our own count says 6 (so the
            # OA is tried) and Zalo's says 8: the send fails (-230) and moves to Telegram.
            clock.offset = timedelta(days=8 if template else 6)
            oa.fake.advance(8 * 86400)
            tg_since, oa_since = len(on_tg.texts()), len(on_oa.texts())
            await sec.wait(0, "Bản đăng ký chờ duyệt")
            await sec.press("Duyệt", "Đã duyệt")  # the member is told: a notice
            if template:
                await oa.fake.wait_for(lambda: oa.fake.zns_sent)
                assert oa.fake.zns_sent[-1]["template_data"]["ho_ten"] == "Hoàng Văn Sơn"
                assert not any("duyệt" in t for t in on_tg.texts()[tg_since:])
            else:
                await on_tg.wait(tg_since, "duyệt")  # not reached on the OA: Telegram instead
                assert len(on_oa.texts()) == oa_since
                assert "not_reached" in await statuses(app, on_oa.chat)
        finally:
            await app.stop()


async def link_other_channel(first: Person, second: Person) -> None:
    """/lienket on one channel, the code typed on the other."""
    shown = await first.say("/lienket", "Mã liên kết")
    code = strip_html(shown).split("Mã liên kết của đồng chí: ", 1)[1].split()[0]
    await second.say(code, "Đã liên kết")
    await first.wait(0, "vừa được liên kết")


async def test_one_member_on_telegram_and_zalo_bot_chooses_where_reminders_go(
    db_url: str, zalo_bot: ZaloBotPlatform, roster_codes: dict[str, str]
) -> None:
    from dataclasses import replace

    async with open_platform("telegram") as tg:
        port = free_port()
        config = zalo_bot.config(db_url, "polling", port)
        config = replace(config, telegram=tg.config(db_url, "polling", port).telegram)
        app = App(config)
        await app.start()
        try:
            sec = tg.person(SEC, "Thắng")
            on_tg, on_zalo = tg.person(MEMBER, "Sơn"), zalo_bot.person(MEMBER, "Sơn")
            await sec.say(roster_codes["Trần Văn Thắng"], "Chào đồng chí")
            await on_tg.say(roster_codes["Hoàng Văn Sơn"], "Chào đồng chí")
            await on_zalo.say("/camket", "chưa được liên kết")
            await link_other_channel(on_tg, on_zalo)
            # a used link code is spent
            await on_zalo.say("/kenh", "Telegram")
            await on_zalo.press("Ưu tiên Zalo", "Từ nay nhắc việc")
            await register_pledge(on_tg)
            await sec.wait(0, "Bản đăng ký chờ duyệt")
            zalo_since = len(on_zalo.texts())
            await sec.press("Duyệt", "Đã duyệt")
            await on_zalo.wait(zalo_since, "duyệt")  # the preferred channel gets the notice
            assert not any("đã duyệt" in t for t in on_tg.texts()[-3:])
            await on_tg.say("/kenh", "Zalo — <b>ưu tiên</b>")
        finally:
            await app.stop()
