"""The conversations through the real inbox, core and outbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import unicodedata

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers import texts
from handlers.settings import Settings
from models.orgs import find_unit
from models.tables import AuditLog, Delivery, InboxUpdate, Member, Pledge
from models.themes import set_theme
from tests.support.harness import Clock, text_of
from tests.support.world import (
    CONCRETE,
    World,
    link,
    make_world,
    register,
    to_shortcomings,
)


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> World:
    return await make_world(sessions, Clock())


# -- joining -------------------------------------------------------------------------------------


async def test_personal_code_links_and_greets_by_name_and_chi_bo(world: World) -> None:
    replies = await world.h.say("c1", f"/start {world.codes['Hoàng Văn Sơn']}")
    text = text_of(replies)
    assert "Chào đồng chí <b>Hoàng Văn Sơn</b>, Chi bộ thôn 2!" in text
    assert "/dangky" in text
    # the same code again, from another account: used
    replies = await world.h.say("c2", world.codes["Hoàng Văn Sơn"])
    assert "đã được dùng" in text_of(replies)


async def test_typed_code_with_spaces_and_lower_case_is_accepted(world: World) -> None:
    code = world.codes["Lê Văn Đức"].lower()
    replies = await world.h.say("c1", f"{code[:4]} {code[4:]}")
    assert "Chào đồng chí <b>Lê Văn Đức</b>" in text_of(replies)


async def test_wrong_and_expired_codes_get_clear_messages(world: World) -> None:
    h = world.h
    assert "không đúng" in text_of(await h.say("x", "/start ZZZZ2222"))
    h.clock.advance(days=31)
    replies = await h.say("y", world.codes["Hoàng Văn Sơn"])
    assert "đã hết hạn" in text_of(replies)
    # text that is not a code is not counted as an attempt, and explains what to send
    assert "mã mời" in text_of(await h.say("z", "xin chào"))


async def test_five_wrong_codes_in_ten_minutes_lock_the_chat_out(world: World) -> None:
    h = world.h
    for n in range(5):
        replies = await h.say("x", f"AAAA{n}{n}{n}{n}")
        assert "không đúng" in text_of(replies)
        h.clock.advance(minutes=1)
    # even the right code is refused while locked, and the lock-out is explained
    replies = await h.say("x", world.codes["Hoàng Văn Sơn"])
    assert "tạm khóa" in text_of(replies)
    # another chat is not affected
    assert "Chào đồng chí" in text_of(await h.say("other", world.codes["Lê Văn Đức"]))
    h.clock.advance(minutes=31)
    replies = await h.say("x", world.codes["Hoàng Văn Sơn"])
    assert "Chào đồng chí <b>Hoàng Văn Sơn</b>" in text_of(replies)


async def test_wrong_codes_spread_over_time_do_not_lock(world: World) -> None:
    h = world.h
    for n in range(6):
        await h.say("x", f"AAAA{n}{n}{n}{n}")
        h.clock.advance(minutes=3)  # never 5 within 10 minutes
    assert "Chào đồng chí" in text_of(await h.say("x", world.codes["Hoàng Văn Sơn"]))


async def test_join_code_and_name_go_to_the_secretary_who_accepts(world: World) -> None:
    h = world.h
    await link(world, "sec", "Trần Văn Thắng")
    await link(world, "dep", "Nguyễn Văn Hùng")
    assert "họ và tên" in text_of(await h.say("new", world.join_code))
    assert "Xin đồng chí nhập họ và tên" in text_of(await h.say("new", "An"))
    replies = await h.say("new", "đỗ thị nhung")  # on the roster, typed in lower case
    assert "Đã gửi yêu cầu" in text_of(replies)
    request = h.last("sec")
    assert "Đỗ Thị Nhung" in request.text and "Trùng tên với đảng viên" in request.text
    assert "Đỗ Thị Nhung" in h.last("dep").text
    await h.press("sec", "Chấp nhận")
    assert "Chào đồng chí <b>Đỗ Thị Nhung</b>" in h.last("new").text
    # the deputy's copy of the request is now stale
    replies = await h.press("dep", "Chấp nhận")
    assert "đã được xử lý" in text_of(replies)
    # the new member can now register
    assert "Bước 1/5" in text_of(await h.say("new", "/dangky"))


async def test_join_request_rejected_and_unknown_name_added_when_accepted(world: World) -> None:
    h = world.h
    await link(world, "sec", "Trần Văn Thắng")
    await h.say("a", world.join_code)
    await h.say("a", "Nguyễn Văn Mạo")
    await h.press("sec", "Từ chối")
    assert "chưa xác nhận" in h.last("a").text
    assert "Tài khoản này chưa được liên kết" in text_of(await h.say("a", "/dangky"))
    await h.say("b", world.join_code)
    await h.say("b", "Phan Văn Mới")
    assert "Không có tên này trong danh sách" in h.last("sec").text
    await h.press("sec", "Chấp nhận")
    assert "Chào đồng chí <b>Phan Văn Mới</b>" in h.last("b").text
    async with h.sessions() as s:
        assert await s.scalar(select(func.count()).where(Member.full_name == "Phan Văn Mới")) == 1


async def test_plain_member_cannot_decide_a_join_request(world: World) -> None:
    h = world.h
    await link(world, "sec", "Trần Văn Thắng")
    await link(world, "m", "Hoàng Văn Sơn")
    await h.say("new", world.join_code)
    await h.say("new", "Phan Văn Mới")
    button = h.with_choice("sec", "Chấp nhận")
    replies = await h.press("m", "Chấp nhận", within=button)  # forged: not their button
    assert texts.NOT_ALLOWED in text_of(replies)
    async with h.sessions() as s:
        refusals = await s.scalar(
            select(func.count()).where(AuditLog.action == "refused:join_decide")
        )
    assert refusals == 1


# -- the pledge ----------------------------------------------------------------------------------


async def test_full_pledge_journey_with_return_fix_and_approval(world: World) -> None:
    h = world.h
    async with h.sessions() as s, s.begin():
        unit = await find_unit(s, "Đảng bộ xã Hưng Bình")
        assert unit is not None
        await set_theme(
            s,
            unit,
            year=2026,
            title="Tự lực, tự cường",
            now=h.clock(),
            summary="Khát vọng phát triển đất nước phồn vinh, hạnh phúc",
        )
        await set_theme(
            s,
            unit,
            year=2026,
            until_year=2030,
            title="Xây dựng Đảng trong sạch, vững mạnh",
            now=h.clock(),
            term=True,
        )
    await link(world, "sec", "Trần Văn Thắng")
    await link(world, "dep", "Nguyễn Văn Hùng")
    await link(world, "m", "Hoàng Văn Sơn")

    replies = await h.say("m", "/DangKy")
    text = text_of(replies)
    assert "Bước 1/5" in text and "Chuyên đề năm 2026: <b>Tự lực, tự cường</b>" in text
    # The term-wide theme is named, above the yearly one and among the study choices.
    assert "Chuyên đề toàn khóa: <b>Xây dựng Đảng trong sạch, vững mạnh</b>" in text
    labels = [c.label for c in h.last("m").choices]
    assert "Chuyên đề toàn khóa: Xây dựng Đảng trong sạch, vững mạnh" in labels
    assert texts.STUDY_STANDARD_OPTIONS[0] not in labels
    await h.press("m", "Chuyên đề năm 2026")
    await h.press("m", "Quy định 144")
    await h.say("m", "tiep tuc")  # typed, without diacritics
    assert "Bước 2/5" in h.last("m").text
    await h.say("m", "Còn ngại phát biểu ý kiến trong sinh hoạt chi bộ")
    await h.say("m", "Chưa thường xuyên đọc báo Đảng")
    await h.press("m", "Xong")
    assert "Bước 3/5" in h.last("m").text
    # a vague item is questioned once, with an example that fits a farmer
    await h.say("m", "Giữ gìn phẩm chất đạo đức")
    replies = await h.say("m", "tốt")
    assert "chung chung" in text_of(replies) and "sào lúa" in text_of(replies)
    await h.press("m", "Giữ nguyên")
    replies = await h.say("m", "hằng tháng")
    assert "Đã ghi việc làm 1" in text_of(replies)
    await h.press("m", "Thêm việc làm")
    await h.say("m", "Chuyển 2 sào lúa sang trồng rau an toàn")
    await h.say("m", "Thu nhập tăng 10%")
    await h.press("m", "Quý III")
    await h.press("m", "sang bước tiếp")
    assert "Bước 4/5" in h.last("m").text
    await h.press("m", "Việc làm 2")
    review = h.last("m").text
    assert "Bước 5/5" in review and "(nội dung đột phá)" in review
    assert "Giữ gìn phẩm chất đạo đức" in review and "Quý III" in review
    await h.press("m", "Gửi bản đăng ký")
    assert "chờ duyệt" in h.last("m").text
    # the secretary and the deputy both get it, with buttons
    assert "Bản đăng ký chờ duyệt" in h.last("sec").text
    assert "Bản đăng ký chờ duyệt" in h.last("dep").text

    # returned with a comment
    await h.press("sec", "Trả lại")
    assert "nhận xét" in h.last("sec").text
    await h.say("sec", "Việc làm 1 chưa có số lượng cụ thể")
    notice = h.last("m").text
    assert "trả lại" in notice and "Việc làm 1 chưa có số lượng cụ thể" in notice
    assert "trả lại" in text_of(await h.say("m", "/camket"))

    # the member fixes item 1 from the review screen and sends version 2
    replies = await h.say("m", "/dangky")
    assert "phiên bản 1" in text_of(replies) and "Bước 5/5" in text_of(replies)
    await h.press("m", "Sửa việc làm")
    await h.press("m", "Việc làm 1")
    await h.press("m", "Viết lại")
    await h.say("m", "Đọc báo Nhân Dân điện tử mỗi tuần 3 lần")
    await h.say("m", "Mỗi tháng kể lại 1 bài tại sinh hoạt chi bộ")
    await h.press("m", "Hằng tháng")
    review = h.last("m").text
    assert "Đọc báo Nhân Dân" in review and "Giữ gìn phẩm chất" not in review
    await h.press("m", "Gửi bản đăng ký")
    assert "phiên bản 2" in h.last("m").text

    # the deputy approves version 2; the secretary's button then finds it decided
    await h.press("dep", "Duyệt")
    assert "được" in h.last("m").text and "duyệt" in h.last("m").text
    replies = await h.press("sec", "Duyệt")
    assert "đã được xử lý" in text_of(replies)
    shown = text_of(await h.say("m", "/camket"))
    assert "Phiên bản 2" in shown and "đã duyệt" in shown and "Đọc báo Nhân Dân" in shown
    async with h.sessions() as s:
        statuses = [p.status for p in await s.scalars(select(Pledge).order_by(Pledge.version))]
    assert statuses == ["superseded", "approved"]


async def test_editing_an_approved_pledge_makes_a_new_version_and_keeps_history(
    world: World,
) -> None:
    h = world.h
    await link(world, "sec", "Trần Văn Thắng")
    await link(world, "m", "Lê Văn Đức")
    await register(world, "m", items=[CONCRETE])
    await h.press("sec", "Duyệt")
    await h.say("m", "/dangky")
    await h.press("m", "Sửa hạn chế")
    await h.say("m", "Chưa dành thời gian đọc tài liệu")
    await h.press("m", "Xong")
    await h.press("m", "Gửi bản đăng ký")
    shown = text_of(await h.say("m", "/camket"))
    assert "Phiên bản 2" in shown and "chờ duyệt" in shown
    assert "Phiên bản 1 (đã duyệt) vẫn có hiệu lực" in shown
    async with h.sessions() as s:
        rows = list(await s.scalars(select(Pledge).order_by(Pledge.version)))
    assert [(p.version, p.status) for p in rows] == [(1, "approved"), (2, "submitted")]
    assert rows[0].shortcomings != rows[1].shortcomings


async def test_a_plain_member_pressing_approve_is_refused(world: World) -> None:
    h = world.h
    await link(world, "sec", "Trần Văn Thắng")
    await link(world, "m1", "Hoàng Văn Sơn")
    await link(world, "m2", "Lê Văn Đức")
    await register(world, "m1", items=[CONCRETE])
    button = h.with_choice("sec", "Duyệt")
    replies = await h.press("m2", "Duyệt", within=button)
    assert texts.NOT_ALLOWED in text_of(replies)
    # a secretary of another chi bộ is refused too
    await link(world, "other", "Nguyễn Thị Thu Hà")
    assert texts.NOT_ALLOWED in text_of(await h.press("other", "Duyệt", within=button))
    async with h.sessions() as s:
        assert (await s.scalars(select(Pledge))).one().status == "submitted"


async def test_a_secretary_cannot_approve_their_own_pledge(world: World) -> None:
    h = world.h
    await link(world, "sec", "Trần Văn Thắng")
    await link(world, "dep", "Nguyễn Văn Hùng")
    await register(world, "sec", items=[CONCRETE])
    assert "Bản đăng ký chờ duyệt" in h.last("dep").text
    button = h.with_choice("dep", "Duyệt")
    assert texts.NOT_ALLOWED in text_of(await h.press("sec", "Duyệt", within=button))


async def test_restart_mid_flow_continues_where_the_member_was(world: World) -> None:
    h = world.h
    await link(world, "m", "Hoàng Văn Sơn")
    await to_shortcomings(world, "m")
    await h.say("m", "Còn ngại phát biểu")
    h.restart()  # new workers; nothing in memory survives
    replies = await h.say("m", "Chưa đọc sách thường xuyên")
    text = text_of(replies)
    assert "hạn chế 3" in text and "Còn ngại phát biểu" in text and "Chưa đọc sách" in text


async def test_stale_button_says_the_step_has_passed_and_shows_the_current_prompt(
    world: World,
) -> None:
    h = world.h
    await link(world, "m", "Hoàng Văn Sơn")
    await h.say("m", "/dangky")
    old = h.with_choice("m", "Tiếp tục")
    await h.press("m", "Quy định 144")
    await h.press("m", "Tiếp tục")
    replies = await h.press("m", "Quy định 144", within=old)
    text = text_of(replies)
    assert texts.STALE_BUTTON in text and "Bước 2/5" in text
    async with h.sessions() as s:
        # the old press did not toggle anything in the draft
        from models.tables import Conversation

        conv = (await s.scalars(select(Conversation).where(Conversation.flow == "pledge"))).one()
        assert conv.data["study"] == [texts.STUDY_STANDARD_OPTIONS[1]]


async def test_the_same_update_delivered_twice_has_one_effect(world: World) -> None:
    h = world.h
    from handlers.messages import Incoming

    inc = Incoming(channel="test", chat_id="m", user_id="m", text=world.codes["Hoàng Văn Sơn"])
    first = await h.deliver(inc, update_key="tg-1001")
    second = await h.deliver(inc, update_key="tg-1001")
    assert first and second == []
    async with h.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(InboxUpdate)) == 1
        assert await s.scalar(select(func.count()).select_from(Delivery)) == len(first)


async def test_over_long_text_is_refused_and_nothing_is_saved(world: World) -> None:
    h = world.h
    await link(world, "m", "Hoàng Văn Sơn")
    await to_shortcomings(world, "m")
    replies = await h.say("m", "x " * 300)  # 600 characters > 500 for an item
    text = text_of(replies)
    assert "quá dài" in text and "tối đa 500" in text and "hạn chế 1" in text
    replies = await h.say("m", "y" * 1200)  # > 1000 for any field
    assert "tối đa 500" in text_of(replies)
    await h.say("m", "Ngắn gọn")
    assert "• Ngắn gọn" in h.last("m").text and "xxx" not in h.last("m").text


async def test_markup_in_names_and_items_is_shown_literally(world: World) -> None:
    h = world.h
    await link(world, "sec", "Trần Văn Thắng")
    await h.say("n", world.join_code)
    await h.say("n", "Lê <b>Văn</b> & Tý")  # not a valid name: refused politely
    assert "họ và tên đầy đủ" in h.last("n").text
    await link(world, "m", "Hoàng Văn Sơn")
    action = "Đọc <b>báo</b> & *Nhân Dân* </a> _mỗi_ tuần"
    await register(world, "m", items=[(action, "3 lần/tuần <i>", "hằng tháng")])
    approval = h.last("sec").text
    assert "Đọc &lt;b&gt;báo&lt;/b&gt; &amp; *Nhân Dân* &lt;/a&gt; _mỗi_ tuần" in approval
    assert "3 lần/tuần &lt;i&gt;" in approval


async def test_nfd_input_equals_nfc(world: World) -> None:
    h = world.h
    await link(world, "m", "Hoàng Văn Sơn")
    await h.say("m", unicodedata.normalize("NFD", "/đăngký"))
    await h.press("m", "Quy định 144")
    await h.say("m", unicodedata.normalize("NFD", "Tiếp tục"))  # typed label, decomposed
    assert "Bước 2/5" in h.last("m").text
    await h.say("m", unicodedata.normalize("NFD", "Còn ngại phát biểu"))
    async with h.sessions() as s:
        from models.tables import Conversation

        conv = (await s.scalars(select(Conversation).where(Conversation.flow == "pledge"))).one()
    assert conv.data["shortcomings"] == ["Còn ngại phát biểu"]
    assert unicodedata.is_normalized("NFC", conv.data["shortcomings"][0])


async def test_cancel_at_any_step_leaves_nothing_half_saved(world: World) -> None:
    h = world.h
    await link(world, "m", "Hoàng Văn Sơn")
    await to_shortcomings(world, "m")
    await h.say("m", "Còn ngại phát biểu")
    assert texts.CANCELLED in text_of(await h.say("m", "Hủy"))
    async with h.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Pledge)) == 0
    assert "Bước 1/5" in text_of(await h.say("m", "/dangky"))
    assert texts.NOTHING_TO_CANCEL in text_of(await h.say("m", "/huy") + await h.say("m", "/huy"))


async def test_help_depends_on_role_and_a_command_mid_flow_keeps_the_flow(world: World) -> None:
    h = world.h
    await link(world, "sec", "Trần Văn Thắng")
    await link(world, "m", "Hoàng Văn Sơn")
    assert "/kehoach" in text_of(await h.say("sec", "/trogiup"))
    member_help = text_of(await h.say("m", "/TROGIUP"))
    assert "/kehoach" not in member_help and "/dienhinh" not in member_help
    assert "/tongketnam" in member_help
    await h.say("m", "/dangky")
    replies = await h.say("m", "/camket")
    text = text_of(replies)
    assert "chưa có bản đăng ký" in text and "đang làm dở" in text and "Bước 1/5" in text
    assert "Không có lệnh này" in text_of(await h.say("m", "/xyz"))


async def test_unlinked_person_is_told_how_to_start(world: World) -> None:
    h = world.h
    assert "mã mời" in text_of(await h.say("u", "/start"))
    assert "chưa được liên kết" in text_of(await h.say("u", "/dangky"))


async def test_secretary_overview_lists_pending_and_missing(world: World) -> None:
    h = world.h
    await link(world, "sec", "Trần Văn Thắng")
    await link(world, "m", "Hoàng Văn Sơn")
    await register(world, "m", items=[CONCRETE])
    overview = await h.say("sec", "/chibo")
    text = text_of(overview)
    # 16 members, 2 miễn sinh hoạt; 1 of 14 registered
    assert "Đã đăng ký: 1/14" in text and "chờ duyệt: 1" in text
    assert "Lê Văn Đức" in text and "Đặng Văn Lộc" not in text  # exempt members are not listed
    await h.press("sec", "Xem: Hoàng Văn Sơn")
    assert "Bản đăng ký chờ duyệt" in h.last("sec").text
    await h.press("sec", "Duyệt")
    assert "Đã duyệt" in h.last("sec").text
    # A member's /chibo shows the chi bộ's collective plan (none yet), not the overview.
    member_view = text_of(await h.say("m", "/chibo"))
    assert "chưa có kế hoạch tập thể" in member_view and "Đã đăng ký" not in member_view


async def test_deadline_typed_in_words_and_dates(world: World) -> None:
    h = world.h
    await link(world, "m", "Phạm Thị Hồng")
    await to_shortcomings(world, "m")
    await h.say("m", "Chưa đổi mới phương pháp dạy")
    await h.press("m", "Xong")
    await h.say("m", "Phụ đạo học sinh yếu lớp 3A")
    replies = await h.say("m", "Mỗi tuần 2 buổi")
    assert "thời hạn" in text_of(replies)  # concrete: no vagueness question
    assert "Chưa hiểu thời hạn" in text_of(await h.say("m", "sớm nhất có thể"))
    assert "đã qua" in text_of(await h.say("m", "1/1"))  # the clock is in March 2026
    assert "trong năm 2026" in text_of(await h.say("m", "30/9/2027"))
    assert "Đã ghi việc làm 1" in text_of(await h.say("m", "30/9"))


async def test_handler_error_gets_one_polite_reply_and_the_chat_still_works(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = world.h
    await link(world, "m", "Hoàng Văn Sơn")
    from handlers.engine import COMMANDS

    async def broken(ctx: object, args: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(COMMANDS["camket"], "run", broken)
    replies = await h.say("m", "/camket")
    assert [r.text for r in replies] == [texts.ERROR]
    async with h.sessions() as s:
        failed = (await s.scalars(select(InboxUpdate).where(InboxUpdate.status == "failed"))).one()
    assert "boom" in (failed.error or "")
    monkeypatch.undo()
    assert "chưa có bản đăng ký" in text_of(await h.say("m", "/camket"))


async def test_year_switches_in_december(sessions: async_sessionmaker[AsyncSession]) -> None:
    from datetime import UTC, datetime

    w = await make_world(sessions, Clock(datetime(2026, 12, 5, 2, 0, tzinfo=UTC)))
    await link(w, "m", "Hoàng Văn Sơn")
    assert "năm 2027" in text_of(await w.h.say("m", "/trogiup"))
    w.h.settings = Settings(next_year_from_month=13)
    w.h.restart()
    assert "năm 2026" in text_of(await w.h.say("m", "/trogiup"))


async def test_secretary_returning_a_pledge_mid_own_flow_resumes_their_draft(world: World) -> None:
    h = world.h
    await link(world, "sec", "Trần Văn Thắng")
    await link(world, "m", "Hoàng Văn Sơn")
    await register(world, "m", items=[CONCRETE])
    await to_shortcomings(world, "sec")
    await h.say("sec", "Chưa sâu sát cơ sở")
    await h.press("sec", "Trả lại")
    replies = await h.say("sec", "Cần ghi rõ số hộ và thời hạn")
    text = text_of(replies)
    assert "Đã trả lại" in text and "đang làm dở" in text and "hạn chế 2" in text
    assert "Chưa sâu sát cơ sở" in text
    assert "Cần ghi rõ số hộ" in h.last("m").text


async def test_a_message_without_text_gets_a_clear_answer_and_the_step_again(world: World) -> None:
    h = world.h
    await link(world, "m", "Hoàng Văn Sơn")
    await h.say("m", "/dangky")
    replies = await h.say("m", "\u200b")  # e.g. a sticker: no text at all
    assert texts.EMPTY_MESSAGE in text_of(replies) and "Bước 1/5" in text_of(replies)
