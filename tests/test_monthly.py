"""The monthly cycle with an injected clock, on SQLite and PostgreSQL: schedule, reminders,
self-assessment, digest. Everything goes through the real inbox, core, planner and outbox."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.scheduler import tick
from handlers import texts
from handlers.messages import Reply
from handlers.settings import Settings
from handlers.text import fmt
from models.routing import DIRECT_KINDS
from models.tables import Assessment, Delivery, Member
from tests.support.harness import Clock, text_of
from tests.support.world import CONCRETE, World, link, make_world, register

# Friday 20 November 2026, 09:00 in Hà Nội.
START = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    """A local (UTC+7) wall time in late 2026 as a UTC instant."""
    from zoneinfo import ZoneInfo

    return datetime(2026, month, day, hour, minute, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")).astimezone(
        UTC
    )


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> World:
    w = await make_world(sessions, Clock(START))
    await link(w, "sec", "Trần Văn Thắng")
    await link(w, "m1", "Hoàng Văn Sơn")
    await link(w, "m2", "Lê Văn Đức")
    for chat in ("m1", "m2"):
        await register(w, chat, items=[CONCRETE])
        await w.h.press("sec", "Duyệt")
    return w


async def set_schedule(w: World, rule: str = "ngày 3", time: str = "19:30") -> str:
    h = w.h
    await h.say("sec", "/lichhop")
    await h.press("sec", "Đặt lịch hằng tháng")
    await h.say("sec", rule)
    await h.say("sec", time)
    await h.say("sec", "Nhà văn hóa thôn")
    confirm = h.last("sec").text
    await h.press("sec", "Lưu")
    assert "Đã lưu lịch sinh hoạt" in h.last("sec").text
    return confirm


async def run_tick(w: World) -> dict[str, int]:
    planned = await tick(w.h.sessions, w.h.settings, w.h.clock())
    await w.h.delivery.drain()
    return dict(planned)


async def reminders_to(w: World, chat: str) -> list[str]:
    return [r.text for r in w.h.to(chat) if "🔔" in r.text]


async def test_a_whole_month(world: World) -> None:
    w, h = world, world.h
    confirm = await set_schedule(w)
    assert "Thứ Năm, ngày 3/12/2026, lúc 19:30" in confirm
    shown = text_of(await h.say("m1", "/lich"))
    assert "Sinh hoạt chi bộ tháng 12/2026" in shown and "Nhà văn hóa thôn" in shown
    assert "chưa nộp" in shown
    # too early: the period opens 7 days before the meeting
    assert "mở từ ngày 26/11" in text_of(await h.say("m1", "/tudanhgia"))
    assert await run_tick(w) == {}

    # D-3, 08:00: those who have not submitted are reminded, with a button into /tudanhgia
    h.clock.now = at(30, 8, 0, month=11)
    planned = await run_tick(w)
    assert planned == {"d3": 3}  # the secretary is a member too (no pledge: told to register)
    assert "Đồng chí chưa gửi <b>tự đánh giá</b> tháng 12/2026" in h.last("m1").text
    assert "/dangky" in h.last("sec").text
    assert await run_tick(w) == {}  # a second tick plans nothing twice

    # m1 answers from the reminder's button
    await h.press("m1", "Tự đánh giá ngay")
    assert "Tự đánh giá tháng 12/2026</b> — việc làm 1/1" in h.last("m1").text
    await h.press("m1", "Đang thực hiện")
    await h.say("m1", "Đã vận động được 3 hộ")
    await h.press("m1", "Không có")
    summary = h.last("m1").text
    assert "Đang thực hiện" in summary and "Đã vận động được 3 hộ" in summary
    await h.press("m1", "Gửi")
    assert "Đã nhận tự đánh giá tháng 12/2026" in h.last("m1").text
    assert "đã nộp" in text_of(await h.say("m1", "/lich"))

    # D-1, 08:00: the follow-up only to those still missing
    h.clock.now = at(2, 8, 0)
    assert await run_tick(w) == {"d1": 2}
    assert len(await reminders_to(w, "m1")) == 1
    assert "Nhắc lại" in h.last("m2").text

    # D-1, 18:00: the digest to the secretary
    h.clock.now = at(2, 18, 0)
    assert await run_tick(w) == {"digest": 1}
    digest = h.last("sec").text
    assert "Tình hình trước sinh hoạt tháng 12/2026" in digest
    assert "Đã nộp tự đánh giá: <b>1/14</b> (7,1%)" in digest
    assert "Lê Văn Đức" in digest and "Đặng Văn Lộc" not in digest  # exempt: not counted
    chart = h.last("sec").chart
    assert chart is not None and chart["bars"] == [["đã nộp", 1], ["chưa nộp", 13]]
    # the same digest on demand
    assert "Đã nộp tự đánh giá: <b>1/14</b>" in text_of(await h.say("sec", "/chibo"))
    # nudging now reminds nobody twice in a day
    await h.press("sec", "Nhắc những đồng chí chưa nộp")
    assert "đã được nhắc hôm nay" in h.last("sec").text
    await h.press("sec", "Xem chi tiết", within=h.with_choice("sec", "Xem chi tiết"))
    assert "Hoàng Văn Sơn: <b>đã nộp</b> ⏳" in h.last("sec").text

    # m1 edits before the meeting: last answer pre-selected
    await h.say("m1", "/tudanhgia")
    assert "đã nộp tự đánh giá tháng 12/2026" in h.last("m1").text
    await h.press("m1", "Đóng")  # said, not silence (found by the fuzzer: Zalo Bot's "2")
    assert "Tự đánh giá tháng 12/2026 giữ nguyên" in h.last("m1").text
    await h.say("m1", "/tudanhgia")
    await h.press("m1", "Sửa tự đánh giá")
    labels = [c.label for c in h.last("m1").choices]
    assert "Đang thực hiện (như tháng trước)" in labels

    # the day: two hours before, everyone who takes part
    h.clock.now = at(3, 17, 30)
    assert await run_tick(w) == {"dayof": 3}
    assert "Hôm nay" in h.last("m2").text and "Nhà văn hóa thôn" in h.last("m2").text

    # the meeting has started: no more edits, no more reminders
    h.clock.now = at(3, 19, 31)
    await h.press("m1", "Đã thực hiện")
    await h.press("m1", "Bỏ qua")
    await h.press("m1", "Không có")
    await h.press("m1", "Gửi")
    assert "đã bắt đầu" in h.last("m1").text
    async with h.sessions() as s:
        entry = (await s.scalars(select(Assessment))).one().entries[0]
    assert entry.status == "doing"  # the late edit was refused
    assert await run_tick(w) == {}

    # when the next period opens, the missing member becomes "không nộp"
    h.clock.now = at(27, 9, 0)
    await h.press("sec", "Xem chi tiết", within=h.with_choice("sec", "Xem chi tiết"))
    assert "Lê Văn Đức: <b>không nộp</b>" in h.last("sec").text


async def test_downtime_across_a_fire_time_sends_once_and_never_after_the_meeting(
    world: World,
) -> None:
    w, h = world, world.h
    await set_schedule(w)
    # down over D-3 08:00; back at 10:00 the next day: the D-3 reminder goes out once
    h.clock.now = at(1, 10, 0)
    assert await run_tick(w) == {"d3": 3}
    h.restart()
    assert await run_tick(w) == {}
    assert len(await reminders_to(w, "m2")) == 1
    # down from before D-1 until after the meeting: nothing is planned for a past meeting
    h.clock.now = at(3, 21, 0)
    assert await run_tick(w) == {}
    assert len(await reminders_to(w, "m2")) == 1


async def test_quiet_hours_hold_a_reminder_until_seven(world: World) -> None:
    w, h = world, world.h
    await set_schedule(w)
    h.clock.now = at(1, 22, 30)  # the bot comes back late in the evening
    assert await run_tick(w) == {"d3": 3}
    assert await reminders_to(w, "m2") == []  # planned, not sent at night
    h.clock.now = at(2, 7, 0)
    await h.delivery.drain()
    assert len(await reminders_to(w, "m2")) == 1


async def test_moved_and_cancelled_meetings(world: World) -> None:
    w, h = world, world.h
    await set_schedule(w, rule="thứ Năm tuần đầu", time="7h30")
    assert "Thứ Năm, ngày 3/12/2026, lúc 07:30" in text_of(await h.say("m1", "/lich"))
    await h.say("sec", "/lichhop")
    await h.press("sec", "Đóng")
    assert "Đã đóng. Gõ /lichhop" in h.last("sec").text
    await h.say("sec", "/lichhop")
    await h.press("sec", "Dời buổi họp tháng 12/2026")
    await h.say("sec", "5/12")
    await h.say("sec", "19:00")
    assert "Đã dời buổi họp tháng 12/2026" in h.last("sec").text
    shown = text_of(await h.say("m1", "/lich"))
    assert "Thứ Bảy, ngày 5/12/2026, lúc 19:00" in shown and "dời" in shown
    # reminders follow the moved date: D-3 is 2 December
    h.clock.now = at(1, 8, 0)
    assert await run_tick(w) == {}
    h.clock.now = at(2, 8, 0)
    assert await run_tick(w) == {"d3": 3}
    await h.say("sec", "/lichhop")
    await h.press("sec", "Hủy buổi họp tháng 12/2026")
    await h.press("sec", "Hủy buổi họp")
    assert "Đã hủy buổi sinh hoạt tháng 12/2026" in h.last("sec").text
    assert "tháng 1/2027" in text_of(await h.say("m1", "/lich"))


async def test_member_without_an_approved_pledge_is_led_to_dangky(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    w = await make_world(sessions, Clock(at(28, 9, 0, month=11)))
    await link(w, "sec", "Trần Văn Thắng")
    await link(w, "m", "Hoàng Văn Sơn")
    await set_schedule(w)
    replies = await w.h.say("m", "/tudanhgia")
    assert "chưa có bản đăng ký năm 2026 đã được duyệt" in text_of(replies)
    await w.h.press("m", "Đăng ký")
    assert "Bước 1/5" in w.h.last("m").text


async def test_only_secretaries_set_the_schedule_and_bad_input_is_explained(
    world: World,
) -> None:
    h = world.h
    assert texts.SCHEDULE_NOT_SECRETARY in text_of(await h.say("m1", "/lichhop"))
    assert texts.NO_SCHEDULE in text_of(await h.say("m1", "/lich"))
    await h.say("sec", "/lichhop")
    await h.press("sec", "Đặt lịch hằng tháng")
    assert "Chưa hiểu" in text_of(await h.say("sec", "sớm thôi"))
    await h.say("sec", "mùng 10")
    assert "Chưa hiểu giờ" in text_of(await h.say("sec", "25:99"))
    await h.say("sec", "19h")
    await h.press("sec", "Bỏ qua")
    await h.press("sec", "Lưu")
    assert "ngày 10 hằng tháng" in h.last("sec").text
    async with h.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Delivery)) > 0


def test_settings_default_reminders() -> None:
    rule = Settings().reminders
    assert (rule.d3_days, rule.d1_days, rule.dayof_hours, rule.open_days) == (3, 1, 2.0, 7)


async def test_excused_member_is_neither_reminded_nor_counted(world: World) -> None:
    w, h = world, world.h
    await set_schedule(w)
    await h.say("m2", "xin vắng")  # typed as a word, without the slash
    await h.say("m2", "Đi công tác tỉnh ngoài")
    assert "Đã gửi đơn xin vắng tháng 12/2026" in h.last("m2").text
    assert "Đi công tác tỉnh ngoài" in h.last("sec").text
    button = h.with_choice("sec", "Đồng ý")
    assert texts.NOT_ALLOWED in text_of(await h.press("m1", "Đồng ý", within=button))
    await h.press("sec", "Đồng ý")
    assert "đã đồng ý cho đồng chí vắng" in h.last("m2").text
    assert "đã đồng ý" in text_of(await h.say("m2", "/xinvang"))
    h.clock.now = at(30, 8, 0, month=11)
    assert await run_tick(w) == {"d3": 2}
    assert await reminders_to(w, "m2") == []
    digest = text_of(await h.say("sec", "/chibo"))
    assert "Đã nộp tự đánh giá: <b>0/13</b>" in digest and "Vắng có lý do: Lê Văn Đức" in digest


def digest_in(replies: list[Reply]) -> str:
    """The digest among these messages (the newest)."""
    header = texts.DIGEST_HEADER.split("{")[0]
    return next(r.text for r in reversed(replies) if r.text.startswith(header))


async def test_the_digest_counts_the_pledges_awaiting_approval(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The digest says how many pledges wait for the bí thư ("Bản đăng ký chờ duyệt: n"), and
    nothing once he has decided; and who cannot be reached (no linked account)."""
    w = await make_world(sessions, Clock(START))
    h = w.h
    await link(w, "sec", "Trần Văn Thắng")
    await link(w, "m1", "Hoàng Văn Sơn")
    await link(w, "m2", "Lê Văn Đức")
    waiting = []
    for chat in ("m1", "m2"):
        await register(w, chat, items=[CONCRETE])
        waiting.append(h.with_choice("sec", "Duyệt"))
    await set_schedule(w)

    # D-1, 18:00: two pledges wait
    h.clock.now = at(2, 18, 0)
    assert (await run_tick(w))["digest"] == 1
    digest = digest_in(h.to("sec"))
    assert texts.DIGEST_PENDING.format(n=2) in digest
    unreachable = texts.DIGEST_UNREACHABLE.split("{")[0]
    line = next(x for x in digest.split("\n") if x.startswith(unreachable))
    assert "Vũ Thị Mai" in line and "Hoàng Văn Sơn" not in line and "Lê Văn Đức" not in line

    # one approved, then the other: the same digest on demand
    await h.press("sec", "Duyệt", within=waiting[0])
    assert texts.DIGEST_PENDING.format(n=1) in digest_in(await h.say("sec", "/chibo"))
    await h.press("sec", "Duyệt", within=waiting[1])
    digest = digest_in(await h.say("sec", "/chibo"))
    assert "Đã nộp tự đánh giá" in digest and "chờ duyệt" not in digest

    # the last message planned to m1 (the approval's notice) reached no channel: m1 is
    # unreachable too; m2's newest message, a reply, failed: it is not a planned message
    await h.say("m2", "/lich")
    async with h.sessions() as s, s.begin():
        for name, planned in (("Hoàng Văn Sơn", True), ("Lê Văn Đức", False)):
            member = (await s.scalars(select(Member).where(Member.full_name == name))).one()
            direct = Delivery.kind.in_(DIRECT_KINDS)
            last = (
                await s.scalars(
                    select(Delivery)
                    .where(Delivery.member_id == member.id, ~direct if planned else direct)
                    .order_by(Delivery.id.desc())
                )
            ).first()
            assert last is not None
            last.status = "not_reached"
    line = next(x for x in digest_in(await h.say("sec", "/chibo")).split("\n") if unreachable in x)
    assert "Hoàng Văn Sơn" in line and "Lê Văn Đức" not in line


async def test_a_digest_without_members_still_counts_the_pledges_awaiting_approval(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The count comes with the members' rows; with no active member it is read on its own
    (as before: the pledges of the chi bộ's members, whether active or not)."""
    from sqlalchemy import update

    from handlers.digest import digest_reply
    from models import periods as pm
    from models.orgs import find_unit
    from tests.support.world import THON2

    w = await make_world(sessions, Clock(START))
    h = w.h
    await link(w, "sec", "Trần Văn Thắng")
    await link(w, "m1", "Hoàng Văn Sơn")
    await register(w, "m1", items=[CONCRETE])
    await set_schedule(w)
    async with h.sessions() as s, s.begin():
        unit = await find_unit(s, THON2)
        assert unit is not None
        await s.execute(update(Member).where(Member.unit_id == unit.id).values(active=False))
        cal = await pm.calendar_of(s, unit)
        assert cal is not None
        meeting = cal.meeting("2026-12")
        assert meeting is not None
        rule = pm.reminder_rule_of(unit, h.settings.reminders)
        now = at(2, 18, 0)
        reply = await digest_reply(s, cal, meeting, rule, now, h.settings.routes)
    assert "Đã nộp tự đánh giá: <b>0/0</b>" in reply.text
    assert texts.DIGEST_PENDING.format(n=1) in reply.text


async def test_the_digest_names_items_not_done_in_the_two_latest_assessments(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The digest's "Chưa thực hiện 2 tháng liền": an item marked so in both of the member's two
    latest self-assessments up to the meeting's month (a later one does not count), in the
    pledge's order; not when the earlier one said otherwise."""
    from models import periods as pm
    from models import pledges as store
    from models.tables import Member, PledgeItem

    w = await make_world(sessions, Clock(START))
    h = w.h
    await link(w, "sec", "Trần Văn Thắng")
    await link(w, "m1", "Hoàng Văn Sơn")
    await link(w, "m2", "Lê Văn Đức")
    second = ("Đọc báo Nhân Dân mỗi tuần cho các hộ", "4 buổi mỗi tháng", "tháng 12")
    for chat, items in (("m1", [CONCRETE, second]), ("m2", [CONCRETE])):
        await register(w, chat, items=items)
        await h.press("sec", "Duyệt")
    await set_schedule(w)
    marks = {  # period -> member -> each item's status
        "2026-10": {"Hoàng Văn Sơn": "done", "Lê Văn Đức": "not_yet"},
        "2026-11": {"Hoàng Văn Sơn": "not_yet", "Lê Văn Đức": "doing"},
        "2026-12": {"Hoàng Văn Sơn": "not_yet", "Lê Văn Đức": "not_yet"},
        "2027-01": {"Hoàng Văn Sơn": "done", "Lê Văn Đức": "not_yet"},
    }
    async with h.sessions() as s, s.begin():
        for name in ("Hoàng Văn Sơn", "Lê Văn Đức"):
            member = (await s.scalars(select(Member).where(Member.full_name == name))).one()
            pledge = await store.approved(s, member.id, 2026)
            assert pledge is not None
            items = sorted(
                await s.scalars(select(PledgeItem.id).where(PledgeItem.pledge_id == pledge.id))
            )
            for period, status in marks.items():
                await pm.save_assessment(
                    s,
                    member,
                    period=period,
                    pledge_id=pledge.id,
                    entries=[pm.EntryDraft(i, status[name]) for i in items],
                    difficulties=None,
                    late=False,
                    now=START,
                )
    digest = digest_in(await h.say("sec", "/chibo"))
    stuck = [
        texts.DIGEST_STUCK,
        fmt(texts.DIGEST_STUCK_LINE, name="Hoàng Văn Sơn", action=CONCRETE[0]),
        fmt(texts.DIGEST_STUCK_LINE, name="Hoàng Văn Sơn", action=second[0]),
    ]
    assert "\n".join(stuck) + "\n" in digest
    assert "Lê Văn Đức:" not in digest


async def test_after_the_meeting_comment_reopen_and_on_behalf(world: World) -> None:
    from models.tables import UnitPeriod

    w, h = world, world.h
    await set_schedule(w)
    h.clock.now = at(4, 9, 0)  # the day after the meeting of 3 December
    await h.say("sec", "/chibo")
    await h.press("sec", "Xem xét sau sinh hoạt tháng 12/2026")
    assert "Sau sinh hoạt tháng 12/2026" in h.last("sec").text
    await h.press("sec", "Đóng")
    assert "Đã đóng. Những gì đã ghi vẫn được giữ" in h.last("sec").text
    await h.press("sec", "Xem xét sau sinh hoạt tháng 12/2026")

    # a comment the member then reads
    await h.press("sec", "Hoàng Văn Sơn")
    await h.press("sec", "Nhận xét")
    await h.say("sec", "Cần vận động thêm các hộ ở xóm Đông")
    assert "Cần vận động thêm các hộ ở xóm Đông" in h.last("m1").text

    # reopened: the member submits late
    await h.press("sec", "Lê Văn Đức")
    await h.press("sec", "Mở lại cho nộp muộn")
    assert "mở lại tự đánh giá tháng 12/2026" in h.last("m2").text
    await h.say("m2", "/tudanhgia")
    await h.press("m2", "Đã thực hiện")
    await h.press("m2", "Bỏ qua")
    await h.press("m2", "Không có")
    await h.press("m2", "Gửi")
    assert "(nộp muộn)" in h.last("m2").text

    # entered on behalf of a member: recorded as such; the review then goes on
    await h.press("sec", "Hoàng Văn Sơn")
    await h.press("sec", "Nhập tự đánh giá thay")
    await h.press("sec", "Chưa thực hiện")
    await h.press("sec", "Bỏ qua")
    await h.press("sec", "Không có")
    await h.press("sec", "Gửi")
    assert "(bí thư nhập thay)" in text_of(h.to("sec")[-3:])
    resumed = h.last("sec")
    assert "Sau sinh hoạt tháng 12/2026" in resumed.text
    assert "Hoàng Văn Sơn — đã nộp" in [c.label for c in resumed.choices]
    await h.press("sec", "Ghi nhận chi bộ đã xem xét tháng 12/2026")
    assert "chi bộ đã xem xét việc thực hiện tháng 12/2026" in h.last("sec").text
    async with h.sessions() as s:
        rows = {a.member_id: a for a in await s.scalars(select(Assessment))}
        reviewed = (await s.scalars(select(UnitPeriod))).one()
    assert reviewed.period == "2026-12"
    late = [a for a in rows.values() if a.late]
    behalf = [a for a in rows.values() if a.entered_by is not None]
    assert len(late) == 1 and len(behalf) == 1 and not behalf[0].late
    # a plain member pressing the secretary's review button is refused
    button = h.with_choice("sec", "Xem xét sau sinh hoạt")
    replies = await h.press("m1", "Xem xét sau sinh hoạt", within=button)
    assert texts.NOT_ALLOWED in text_of(replies)


async def test_one_planner_at_a_time_on_postgresql(world: World) -> None:
    """While another process holds the planner's lock, a tick plans nothing (PostgreSQL);
    SQLite has a single process and always plans."""
    from sqlalchemy import text

    from bot.scheduler import LOCK_KEY

    w, h = world, world.h
    await set_schedule(w)
    h.clock.now = at(30, 8, 0, month=11)
    async with h.sessions() as other, other.begin():
        postgres = other.get_bind().dialect.name == "postgresql"
        if postgres:
            await other.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
        planned = await tick(h.sessions, h.settings, h.clock())
        assert planned == ({} if postgres else {"d3": 3})
    assert await tick(h.sessions, h.settings, h.clock()) == ({"d3": 3} if postgres else {})


async def test_a_reminder_is_never_sent_after_its_meeting(world: World) -> None:
    w, h = world, world.h
    await set_schedule(w, rule="ngày 3", time="7h30")
    h.clock.now = at(2, 22, 0)  # back late on D-1: the follow-up waits for 07:00 …
    assert await run_tick(w) == {"d1": 3, "digest": 1}
    assert await reminders_to(w, "m2") == []
    h.clock.now = at(3, 8, 0)  # … but the outbox is only drained after the 07:30 meeting
    await h.delivery.drain()
    assert await reminders_to(w, "m2") == []
    async with h.sessions() as s:
        kinds = {"reminder", "digest"}
        statuses = set(await s.scalars(select(Delivery.status).where(Delivery.kind.in_(kinds))))
    assert statuses == {"expired"}
