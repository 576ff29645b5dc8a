"""/kehoach and /chibo: the secretary registers the chi bộ's collective plan (actions,
chuẩn mực đạo đức, mô hình) and every member reads it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers import texts
from models import access, unit_plans
from models.orgs import find_unit
from models.tables import AuditLog, Member, Nomination, Role, UnitPlan
from tests.support.harness import Clock, text_of
from tests.support.world import THON2, World, link, make_world

# Monday 23 November 2026, 10:00 in Hà Nội: plans are for 2026.
START = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
SECRETARY = "Trần Văn Thắng"
MEMBER = "Hoàng Văn Sơn"


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> World:
    w = await make_world(sessions, Clock(START))
    await link(w, "sec", SECRETARY)
    await link(w, "m", MEMBER)
    return w


async def stored(sessions: async_sessionmaker[AsyncSession]) -> UnitPlan | None:
    async with sessions() as s:
        unit = await find_unit(s, THON2)
        assert unit is not None
        stmt = select(UnitPlan).where(UnitPlan.unit_id == unit.id, UnitPlan.year == 2026)
        return (await s.scalars(stmt)).first()


async def add_item(w: World, action: str, result: str, deadline: str) -> str:
    """Add one action from the plan menu; return what the bot said after the result."""
    h = w.h
    await h.press("sec", "Thêm việc làm")
    await h.say("sec", action)
    after_result = text_of(await h.say("sec", result))
    if deadline.startswith("button:"):
        await h.press("sec", deadline.removeprefix("button:"))
    else:
        await h.say("sec", deadline)
    return after_result


async def test_secretary_registers_the_plan_and_members_read_it(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = world.h
    menu = text_of(await h.say("sec", "/kehoach"))
    # One chi bộ: no unit question; the five chuẩn mực of Quy định 144 are the defaults.
    assert "Kế hoạch học tập và làm theo Bác năm 2026" in menu and "Chi bộ thôn 2" in menu
    assert all(s in menu for s in texts.QD144_STANDARDS)
    await add_item(
        world,
        "Mỗi quý 1 buổi <b>kể chuyện Bác</b> & đọc sách",
        "4 buổi trong năm, 100% đảng viên dự",
        "button:Hằng quý",
    )
    note = await add_item(world, "Học tập và làm theo Bác", "Hoàn thành tốt nhiệm vụ", "30/12")
    assert "chung chung" in note  # noted, not blocking: the secretary decides
    await add_item(world, "Vận động 20 hộ phân loại rác", "20 hộ", "button:Quý IV")
    # Remove the vague one.
    await h.press("sec", "Xóa một việc làm")
    removed = text_of(await h.press("sec", "2. Học tập và làm theo Bác"))
    assert "Đã xóa việc làm" in removed
    # The unit's own chuẩn mực, one per line.
    await h.press("sec", "Sửa chuẩn mực")
    menu = text_of(await h.say("sec", "• Đúng giờ, đúng hẹn với dân\n\n- Nói đi đôi với làm"))
    assert "1. Đúng giờ, đúng hẹn với dân\n2. Nói đi đôi với làm" in menu
    assert await stored(sessions) is None  # a draft until saved
    saved = text_of(await h.press("sec", "Lưu kế hoạch"))
    assert "Đã lưu kế hoạch tập thể năm 2026" in saved

    plan = await stored(sessions)
    assert plan is not None
    assert [i["action"] for i in plan.items] == [
        "Mỗi quý 1 buổi <b>kể chuyện Bác</b> & đọc sách",
        "Vận động 20 hộ phân loại rác",
    ]
    assert [i["deadline"] for i in plan.items] == ["quarterly", "Q4"]
    assert plan.standards == ["Đúng giờ, đúng hẹn với dân", "Nói đi đôi với làm"]
    async with sessions() as s:
        audit = (await s.scalars(select(AuditLog).where(AuditLog.action == "unit_plan"))).one()
        assert not audit.refused and audit.detail["items"] == 2

    seen = text_of(await h.say("m", "/chibo"))
    assert "Mỗi quý 1 buổi &lt;b&gt;kể chuyện Bác&lt;/b&gt; &amp; đọc sách" in seen
    assert "Hằng quý" in seen and "Quý IV" in seen
    assert "Nói đi đôi với làm" in seen and "Cập nhật 23/11/2026" in seen
    assert "Đã đăng ký" not in seen  # the secretary's overview is not for members

    overview = text_of(await h.say("sec", "/chibo"))
    assert "Kế hoạch tập thể năm 2026: 2 việc làm, 2 chuẩn mực đạo đức" in overview


async def test_reopening_edits_the_stored_plan_and_cancel_keeps_it(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = world.h
    await h.say("sec", "/kehoach")
    await add_item(world, "Trồng 50 cây xanh ở nhà văn hóa", "50 cây sống", "button:Quý I")
    await h.press("sec", "Lưu kế hoạch")
    menu = text_of(await h.say("sec", "/kehoach"))
    assert "Trồng 50 cây xanh" in menu  # the draft starts from what is stored
    await h.press("sec", "Xóa một việc làm")
    await h.press("sec", "1. Trồng")
    assert texts.CANCELLED in text_of(await h.press("sec", "Hủy"))
    plan = await stored(sessions)
    assert plan is not None and len(plan.items) == 1


async def test_wrong_input_is_explained_and_nothing_is_lost(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = world.h
    await h.say("sec", "/kehoach")
    assert texts.CHOOSE_FROM_BUTTONS in text_of(await h.say("sec", "lưu đi"))
    await h.press("sec", "Thêm việc làm")
    await h.say("sec", "Sửa đường liên thôn 200 m")
    await h.say("sec", "200 m đường bê tông")
    bad = text_of(await h.say("sec", "sớm nhất có thể"))
    assert "Chưa hiểu thời hạn «sớm nhất có thể»" in bad
    past = text_of(await h.say("sec", "1/3"))
    assert "Ngày 1/3/2026 đã qua" in past
    # A restart mid-draft: the conversation lives in the database.
    h.restart()
    await h.say("sec", "tháng 12")
    await h.press("sec", "Sửa chuẩn mực")
    too_many = "\n".join(f"Chuẩn mực {n}" for n in range(11))
    assert "Tối đa 10 chuẩn mực; đồng chí đã gõ 11" in text_of(await h.say("sec", too_many))
    too_long = text_of(await h.say("sec", "Ngắn\n" + "x" * 201))
    assert "dòng 2 dài 201 ký tự" in too_long
    menu = text_of(await h.press("sec", "Giữ nguyên"))
    assert all(s in menu for s in texts.QD144_STANDARDS)
    await h.press("sec", "Lưu kế hoạch")
    plan = await stored(sessions)
    assert plan is not None
    assert plan.items == [
        {"action": "Sửa đường liên thôn 200 m", "result": "200 m đường bê tông", "deadline": "M12"}
    ]
    assert plan.standards == list(texts.QD144_STANDARDS)


async def test_members_may_not_edit_and_lost_rights_are_checked_on_save(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = world.h
    assert texts.PLAN_MANAGERS_ONLY in text_of(await h.say("m", "/kehoach"))
    await h.say("sec", "/kehoach")
    await add_item(world, "Thăm 10 hộ gia đình chính sách", "10 hộ", "button:Quý IV")
    async with sessions() as s, s.begin():  # the secretary is replaced while the draft is open
        await s.execute(delete(Role))
    refused = text_of(await h.press("sec", "Lưu kế hoạch"))
    assert "không có quyền với «Chi bộ thôn 2»" in refused
    assert await stored(sessions) is None
    async with sessions() as s:
        refusals = list(
            await s.scalars(
                select(AuditLog).where(AuditLog.refused.is_(True)).order_by(AuditLog.id)
            )
        )
    assert [r.action for r in refusals] == ["unit_plan", "unit_plan"]


async def test_an_admin_chooses_the_unit_and_registered_models_are_shown(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = world.h
    await link(world, "admin", "Nguyễn Thị Thu Hà")
    async with sessions() as s, s.begin():
        dang_bo = await find_unit(s, "Đảng bộ xã Hưng Bình")
        thon2 = await find_unit(s, THON2)
        admin = (
            await s.scalars(select(Member).where(Member.full_name == "Nguyễn Thị Thu Hà"))
        ).one()
        assert dang_bo is not None and thon2 is not None
        await access.grant(s, admin, dang_bo, access.ADMIN, now=START)
        s.add(
            Nomination(
                unit_id=thon2.id,
                year=2026,
                kind="mo_hinh",
                subject="tap_the",
                name="Tiếng loa an ninh",
                description="Phát thanh an ninh trật tự mỗi tối thứ Bảy",
                created_at=START,
            )
        )
    question = text_of(await h.say("admin", "/kehoach"))
    assert texts.PLAN_ASK_UNIT in question
    menu = text_of(await h.press("admin", "Chi bộ thôn 2"))
    assert "Mô hình đăng ký" in menu and "Tiếng loa an ninh" in menu
    await h.press("admin", "Lưu kế hoạch")
    assert await stored(sessions) is not None
    assert "Tiếng loa an ninh" in text_of(await h.say("m", "/chibo"))


async def test_in_december_members_still_read_this_years_plan_until_next_years_exists(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # 10 December 2026: pledges (and /kehoach) are for 2027 from December on.
    w = await make_world(sessions, Clock(datetime(2026, 12, 10, 3, 0, tzinfo=UTC)))
    await link(w, "m", MEMBER)
    async with sessions() as s, s.begin():
        unit = await find_unit(s, THON2)
        assert unit is not None
        items = [{"action": "Trồng 50 cây xanh", "result": "50 cây", "deadline": "Q1"}]
        await unit_plans.save(
            s, unit, 2026, items=items, standards=["Đúng hẹn"], by=None, now=START
        )
    seen = text_of(await w.h.say("m", "/chibo"))
    assert "năm 2026" in seen and "Trồng 50 cây xanh" in seen
    async with sessions() as s, s.begin():
        unit = await find_unit(s, THON2)
        assert unit is not None
        items = [{"action": "Sửa nhà văn hóa thôn", "result": "xong", "deadline": "Q2"}]
        await unit_plans.save(
            s, unit, 2027, items=items, standards=["Đúng hẹn"], by=None, now=START
        )
    seen = text_of(await w.h.say("m", "/chibo"))
    assert "năm 2027" in seen and "Sửa nhà văn hóa thôn" in seen and "Trồng" not in seen
