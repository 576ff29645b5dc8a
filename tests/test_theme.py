"""/chuyende with an injected clock: an admin publishes the yearly theme, broadcasts it, and
members without a pledge are reminded before the deadline, once per reminder, never after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers import texts
from handlers.broadcast import render_progress
from handlers.reminders import plan_due
from models import access, broadcasts
from models.orgs import find_unit
from models.tables import AuditLog, Delivery, Member, Theme
from tests.support.harness import Clock, text_of
from tests.support.world import CONCRETE, THON2, World, link, make_world, register

# Monday 23 November 2026, 10:00 in Hà Nội.
START = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
DANG_BO = "Đảng bộ xã Hưng Bình"


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> World:
    w = await make_world(sessions, Clock(START))
    await link(w, "admin", "Trần Văn Thắng")
    await link(w, "m1", "Hoàng Văn Sơn")
    await link(w, "m2", "Lê Văn Đức")
    async with sessions() as s, s.begin():
        unit = await find_unit(s, DANG_BO)
        admin = (await s.scalars(select(Member).where(Member.full_name == "Trần Văn Thắng"))).one()
        assert unit is not None
        await access.grant(s, admin, unit, access.ADMIN, now=START)
    return w


async def publish(w: World) -> None:
    h = w.h
    await h.say("admin", "/chuyende")
    await h.press("admin", DANG_BO)
    await h.press("admin", "2026")
    await h.say("admin", "Học tập và làm theo Bác về <tự lực> & tự cường")
    await h.press("admin", "Bỏ qua")  # summary
    assert texts.BROADCAST_BAD_LINK in text_of(await h.say("admin", "tuyengiao.example.vn/cd"))
    await h.say("admin", "https://tuyengiao.example.vn/chuyen-de-2026")
    replies = await h.say("admin", "30/11/2026")
    assert "Học tập và làm theo Bác về &lt;tự lực&gt; &amp; tự cường" in text_of(replies)
    saved = await h.press("admin", "Công bố")
    assert "Đã công bố chuyên đề năm 2026" in text_of(saved)


async def test_admin_publishes_and_broadcasts_the_theme(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = world.h
    await publish(world)
    preview = text_of(await h.press("admin", "Gửi chuyên đề"))
    assert "Xem trước" in preview and "Hạn đăng ký bản cam kết: 30/11/2026" in preview
    await h.press("admin", "Gửi")
    # Every linked member of the đảng bộ gets it once (the harness's worker sends it).
    await h.delivery.drain()
    for chat in ("m1", "m2", "admin"):
        got = [
            r
            for r in h.to(chat)
            if r.text.startswith("📣 <b>Thông báo</b>") and "Chuyên đề năm 2026" in r.text
        ]
        assert len(got) == 1, chat
    async with sessions() as s:
        theme = (await s.scalars(select(Theme))).one()
        assert theme.created_by is not None and theme.link.endswith("chuyen-de-2026")
        actions = [a for a in await s.scalars(select(AuditLog.action))]
    assert "theme_set" in actions and "broadcast" in actions

    # A member sees it when registering.
    replies = await h.say("m1", "/dangky")
    assert "tự lực" in text_of(replies)


async def test_members_without_a_pledge_are_reminded_before_the_deadline(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = world.h
    await publish(world)
    await register(world, "m1", items=[CONCRETE])  # m1 has a pledge now

    async def reminded(at: datetime) -> list[str]:
        h.clock.now = at
        async with sessions() as s, s.begin():
            await plan_due(s, at, h.settings)
        await h.delivery.drain()
        async with sessions() as s:
            rows = await s.scalars(
                select(Delivery.chat_id).where(Delivery.dedupe_key.like("pledge-due:%"))
            )
            return sorted(rows)

    # D-7 (23/11 08:00) has passed when the theme is published: m2 and the admin, not m1.
    first = await reminded(START)
    assert first == ["admin", "m2"]
    assert texts.PLEDGE_DEADLINE_REMINDER.split("{")[0][:30] in h.last("m2").text
    # Again the same day: nothing new (idempotent, and one reminder a day).
    assert await reminded(START) == first
    # D-1 at 08:00 local (29/11 01:00 UTC): the second reminder.
    second = await reminded(datetime(2026, 11, 29, 1, 30, tzinfo=UTC))
    assert second == ["admin", "admin", "m2", "m2"]
    # After the deadline: nothing more.
    assert await reminded(datetime(2026, 12, 1, 2, 0, tzinfo=UTC)) == second
    # On Zalo OA outside its window they may only use the generic ZNS template, never the
    # meeting reminder's (whose meeting fields they do not have).
    async with sessions() as s:
        payloads = await s.scalars(
            select(Delivery.payload).where(Delivery.dedupe_key.like("pledge-due:%"))
        )
        assert {p["template"] for p in payloads} == {"notice"}


async def test_a_member_cannot_publish_a_theme(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    replies = await world.h.say("m1", "/chuyende")
    assert "chưa được giao quyền" in text_of(replies)
    async with sessions() as s:
        refused = list(await s.scalars(select(AuditLog).where(AuditLog.refused.is_(True))))
        unit = await find_unit(s, THON2)
    assert [r.action for r in refused] == ["theme_set"] and unit is not None


async def test_failed_broadcast_sends_are_resent_with_one_tap(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = world.h
    await h.say("admin", "/thongbao")
    # The text step has its own limit (3.500), above the default for typed answers (1.000).
    too_long = text_of(await h.say("admin", "x" * 3501))
    assert "3501" in too_long.replace(".", "") and "3500" in too_long.replace(".", "")
    notice = "Họp chi bộ mở rộng ngày 5/12. " + "Nội dung chuẩn bị: báo cáo tổng kết. " * 40
    assert 1000 < len(notice.strip()) <= 3500
    await h.say("admin", notice)
    assert texts.BROADCAST_BAD_LINK in text_of(await h.say("admin", "xem tài liệu ở xã"))
    await h.press("admin", "Không kèm")
    await h.press("admin", DANG_BO)
    await h.press("admin", "Gửi")
    await h.delivery.drain()

    async def refresh() -> str:
        h.clock.advance(seconds=1)  # the app looks at running broadcasts every second
        async with sessions() as s, s.begin():
            await broadcasts.refresh(
                s, h.clock(), interval=timedelta(0), editable=frozenset(), render=render_progress
            )
        await h.delivery.drain()
        return h.last("admin").text

    # As if the platform had refused m2's message for good (HTTP 400).
    async with sessions() as s, s.begin():
        await s.execute(
            update(Delivery)
            .where(Delivery.kind == "broadcast", Delivery.chat_id == "m2")
            .values(status="failed")
        )
    report = await refresh()  # this channel cannot edit: the report comes as a new message
    assert "Đã gửi xong" in report and "lỗi 1" in report
    resent = text_of(await h.press("admin", "Gửi lại 1 tin lỗi"))
    assert "Đang gửi lại 1 tin lỗi" in resent
    got = [r for r in h.to("m2") if r.text.startswith("📣 <b>Thông báo</b>")]
    assert len(got) == 2  # the refused one (recorded by the fake channel) and the resend
    report = await refresh()
    assert "Đã gửi xong" in report and "lỗi 0" in report
