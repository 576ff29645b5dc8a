"""/tongketnam with an injected clock, on SQLite and PostgreSQL: a member's year of
self-assessments summarised (the latest status per item, months assessed), the draft paragraph,
keeping it or writing one's own, and that the bot never grades."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers import texts
from handlers.text import esc, fold
from models.orgs import find_unit
from models.tables import MeetingOverride, Member, MemberPeriod, YearReview
from models.themes import set_theme
from tests.support.harness import Clock, text_of
from tests.support.world import CONCRETE, World, link, make_world, register

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def at(month: int, day: int, hour: int = 9) -> datetime:
    """A local (UTC+7) wall time in 2026 as a UTC instant."""
    return datetime(2026, month, day, hour, 0, tzinfo=VN).astimezone(UTC)


# Monday 5 January 2026, 09:00 in Hà Nội: after the chi bộ's meeting of 3 January.
START = at(1, 5)
ITEM_A = CONCRETE  # "Vận động các hộ trong xóm phân loại rác tại nguồn"
ITEM_B = ("Đọc và chia sẻ sách về Bác với chi đoàn thôn", "4 buổi trong năm", "hằng quý")
ITEM_C = ("Tham gia dọn vệ sinh đường làng mỗi tháng", "2 buổi mỗi tháng", "hằng tháng")
GRADES = (
    "Hoàn thành xuất sắc nhiệm vụ",
    "Hoàn thành tốt nhiệm vụ",
    "Hoàn thành nhiệm vụ",
    "Không hoàn thành nhiệm vụ",
)


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> World:
    w = await make_world(sessions, Clock(START))
    await link(w, "sec", "Trần Văn Thắng")
    await link(w, "m1", "Hoàng Văn Sơn")
    await link(w, "m2", "Lê Văn Đức")
    await register(w, "m1", items=[ITEM_A, ITEM_B])
    await w.h.press("sec", "Duyệt")
    return w


async def set_schedule(w: World) -> None:
    h = w.h
    await h.say("sec", "/lichhop")
    await h.press("sec", "Đặt lịch hằng tháng")
    await h.say("sec", "ngày 3")
    await h.say("sec", "19:30")
    await h.press("sec", "Bỏ qua")
    await h.press("sec", "Lưu")
    assert "Đã lưu lịch sinh hoạt" in h.last("sec").text


async def assess(
    w: World, chat: str, when: datetime, answers: list[tuple[str, str | None]]
) -> None:
    """/tudanhgia at `when`: a status (and a note, or none) per item, then send."""
    h = w.h
    h.clock.now = when
    first = text_of(await h.say(chat, "/tudanhgia"))
    assert f"Tự đánh giá tháng {when.astimezone(VN).month}/2026" in first
    for status, note in answers:
        await h.press(chat, status)
        if note is None:
            await h.press(chat, "Bỏ qua")
        else:
            await h.say(chat, note)
    await h.press(chat, "Không có")
    await h.press(chat, "Gửi")
    assert "Đã nhận tự đánh giá" in h.last(chat).text


async def a_year(w: World, sessions: async_sessionmaker[AsyncSession]) -> None:
    """m1's 2026: assessed in Feb, Mar, May and Jul; a third item from April (version 2);
    September excused, October's meeting cancelled; version 3 waiting at the end."""
    h = w.h
    await set_schedule(w)
    async with sessions() as s, s.begin():
        unit = await find_unit(s, "Đảng bộ xã Hưng Bình")
        assert unit is not None
        await set_theme(s, unit, year=2026, title="Ý chí tự lực, tự cường", now=START)
    await assess(w, "m1", at(2, 1), [("Chưa thực hiện", None), ("Đang thực hiện", None)])
    await assess(
        w, "m1", at(3, 1), [("Đang thực hiện", None), ("Đã thực hiện", "Ghi chú cũ tháng 3")]
    )
    # April: a third item, as version 2, approved
    h.clock.now = at(4, 10)
    await h.say("m1", "/dangky")
    await h.press("m1", "Sửa việc làm cụ thể")
    await h.press("m1", "Thêm việc làm")
    for answer in ITEM_C:
        await h.say("m1", answer)
    await h.press("m1", "Gửi bản đăng ký")
    await h.press("sec", "Duyệt")
    await assess(
        w,
        "m1",
        at(5, 1),
        [("Đang thực hiện", None), ("Đang thực hiện", None), ("Chưa thực hiện", None)],
    )
    await assess(
        w,
        "m1",
        at(7, 1),
        [
            ("Đã thực hiện", "Đã có 5 hộ tham gia"),
            ("Đang thực hiện", None),
            ("Chưa thực hiện", None),
        ],
    )
    async with sessions() as s, s.begin():
        m1 = (await s.scalars(select(Member).where(Member.full_name == "Hoàng Văn Sơn"))).one()
        s.add(MemberPeriod(member_id=m1.id, period="2026-09", excuse="approved", updated_at=START))
        s.add(
            MeetingOverride(unit_id=m1.unit_id, period="2026-10", cancelled=True, created_at=START)
        )
    # November: version 3 sent, not approved yet
    h.clock.now = at(11, 20)
    await h.say("m1", "/dangky")
    await h.press("m1", "Gửi bản đăng ký")


def item_blocks(summary: str) -> list[str]:
    """The summary's item entries ("1. …" up to the next one), in order."""
    part = summary.split(texts.YEAR_END_ITEMS, 1)[1].split(texts.YEAR_END_SHORTCOMINGS, 1)[0]
    blocks: list[str] = []
    for line in part.strip().split("\n"):
        if line[:1].isdigit():
            blocks.append(line)
        else:
            blocks[-1] += "\n" + line
    return blocks


async def saved_text(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[int, str]]:
    async with sessions() as s:
        return [(r.year, r.text) for r in await s.scalars(select(YearReview))]


def assert_no_grade(replies: str) -> None:
    folded = fold(replies)
    for grade in GRADES:
        assert fold(grade) not in folded, grade


async def test_the_year_summary_gives_the_latest_status_and_months_assessed(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    w, h = world, world.h
    await a_year(w, sessions)
    replies = await h.say("m1", "/tongketnam")
    summary, paragraph = replies[0].text, replies[1].text
    assert "<b>TỔNG KẾT NĂM 2026: HỌC TẬP VÀ LÀM THEO BÁC</b>\nHoàng Văn Sơn" in summary
    assert "Chuyên đề năm 2026: «Ý chí tự lực, tự cường»" in summary
    # the newest approved version, and the one still waiting named
    assert "Bản đăng ký: phiên bản 2 · <b>đã duyệt</b>" in summary
    assert "Phiên bản 3 (chờ duyệt) chưa có hiệu lực" in summary
    a, b, c = item_blocks(summary)
    assert a.startswith(f"1. {ITEM_A[0]}\n") and "Kết quả đăng ký: 5 hộ tham gia" in a
    assert "Thời hạn: Tháng 9" in a
    # Feb–Nov meetings after the January approval, less September (excused) and October
    # (cancelled): 8 months; items A and B were assessed in 4 of them, C (from April) in 2.
    assert "Mức độ cuối cùng: <b>Đã thực hiện</b> (tháng 7/2026) · tự đánh giá 4/8 tháng" in a
    assert "Ghi chú: Đã có 5 hộ tham gia" in a
    assert b.startswith(f"2. {ITEM_B[0]}\n") and "Thời hạn: Hằng quý" in b
    assert "Mức độ cuối cùng: <b>Đang thực hiện</b> (tháng 7/2026) · tự đánh giá 4/8 tháng" in b
    assert "Ghi chú" not in b  # March's note is not the latest assessment's
    assert c.startswith(f"3. {ITEM_C[0]}\n")
    assert "Mức độ cuối cùng: <b>Chưa thực hiện</b> (tháng 7/2026) · tự đánh giá 2/8 tháng" in c
    assert "• Còn ngại phát biểu ý kiến trong sinh hoạt chi bộ" in summary

    # the draft: each item in its group, in the first person
    assert "Năm 2026, tôi đã đăng ký 3 việc làm cụ thể" in paragraph
    assert "gắn với chuyên đề năm 2026 «Ý chí tự lực, tự cường»" in paragraph
    assert (
        "Theo tự đánh giá hằng tháng (lần gần nhất: tháng 7/2026), tôi "
        f"đã thực hiện 1 việc: «{ITEM_A[0]}»; "
        f"đang thực hiện 1 việc: «{ITEM_B[0]}»; "
        f"chưa thực hiện 1 việc: «{ITEM_C[0]}»."
    ) in paragraph
    assert "Về hạn chế, tôi đã đăng ký khắc phục: «Còn ngại phát biểu" in paragraph
    assert "Năm tới, tôi tiếp tục thực hiện những việc chưa xong" in paragraph
    assert texts.YEAR_END_NO_GRADE in paragraph and "366-QĐ/TW" in paragraph
    labels = [c.label for c in replies[-1].choices]
    assert labels == ["Giữ đoạn này", "Sửa đoạn văn", "Đóng"]
    assert_no_grade(text_of(replies))

    # a month later the December meeting has passed too: 9 months
    h.clock.now = at(12, 10)
    later = (await h.say("m1", "/tongketnam 2026"))[0].text
    assert "tự đánh giá 4/9 tháng" in later and "tự đánh giá 2/9 tháng" in later


async def test_keep_saves_the_draft_and_it_is_shown_next_time(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = world.h
    replies = await h.say("m1", "/tongketnam")
    summary, prompt = replies[0].text, replies[-1].text
    # approved, but no schedule yet: no month was due
    assert "Mức độ cuối cùng: <b>chưa tự đánh giá</b> · chưa có kỳ tự đánh giá nào" in summary
    assert (
        "Trong năm, tôi chưa tự đánh giá hằng tháng các việc đã đăng ký: "
        f"«{ITEM_A[0]}», «{ITEM_B[0]}»."
    ) in prompt
    saved = await h.press("m1", "Giữ đoạn này")
    [(year, text)] = await saved_text(sessions)
    assert year == 2026 and text.startswith("Năm 2026, tôi đã đăng ký 2 việc làm cụ thể")
    assert esc(text) in prompt  # what was shown is what was kept
    assert "Đã lưu đoạn văn tổng kết năm 2026" in saved[0].text
    assert saved[-1].text == esc(text)  # alone in its message, to copy

    again = await h.say("m1", "/tongketnam")
    assert "(đã lưu ngày 5/1/2026)" in again[-1].text and esc(text) in again[-1].text
    assert [c.label for c in again[-1].choices] == ["Sửa đoạn văn", "Tạo lại bản nháp", "Đóng"]
    assert texts.YEAR_END_NO_GRADE in again[-1].text
    await h.press("m1", "Đóng")
    assert "Đã đóng" in h.last("m1").text
    assert_no_grade(text_of(h.to("m1")))


async def test_own_text_is_saved_as_is_and_shown_next_time(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = world.h
    await h.say("m1", "/tongketnam")
    asked = await h.press("m1", "Sửa đoạn văn")
    assert "tối đa 3.000 ký tự" in text_of(asked)
    own = "Năm 2026, tôi đã <i>cố gắng</i> vận động 5 hộ & đọc 4 cuốn sách về Bác.\nDòng hai."
    await h.say("m1", own)
    assert await saved_text(sessions) == [(2026, own)]
    assert h.last("m1").text == esc(own)
    shown = await h.say("m1", "/tongketnam")
    assert esc(own) in shown[-1].text and "<i>cố gắng</i>" not in shown[-1].text

    # a new draft from the latest figures replaces it only when kept
    await h.press("m1", "Tạo lại bản nháp")
    redraft = h.last("m1").text
    assert "Bản nháp đoạn" in redraft and "vẫn giữ nguyên" in redraft
    assert await saved_text(sessions) == [(2026, own)]
    await h.press("m1", "Giữ đoạn này")
    [(_, text)] = await saved_text(sessions)
    assert text.startswith("Năm 2026, tôi đã đăng ký 2 việc làm cụ thể")


async def test_over_long_own_text_is_refused_and_nothing_is_saved(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = world.h
    await h.say("m1", "/tongketnam")
    await h.press("m1", "Sửa đoạn văn")
    refused = text_of(await h.say("m1", "chữ " * 1000))
    assert "Nội dung quá dài" in refused and "chưa có gì được lưu" in refused
    assert "Đồng chí gửi đoạn văn của mình" in refused  # asked again
    assert await saved_text(sessions) == []
    own = "Năm 2026, tôi đã thực hiện đủ hai việc làm đã đăng ký. " * 12  # about 700 characters
    await h.say("m1", own)
    assert await saved_text(sessions) == [(2026, own.strip())]


async def test_own_text_up_to_3000_characters_is_saved(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = world.h
    await h.say("m1", "/tongketnam")
    await h.press("m1", "Sửa đoạn văn")
    refused = text_of(await h.say("m1", "a" * 3001))
    assert "(3001 ký tự, tối đa 3000)" in refused
    own = "b" * 3000
    await h.say("m1", own)
    assert await saved_text(sessions) == [(2026, own)]


async def test_a_restart_mid_edit_keeps_the_step(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = world.h
    await h.say("m1", "/tongketnam")
    await h.press("m1", "Sửa đoạn văn")
    h.restart()
    await h.say("m1", "Đoạn văn tôi tự viết sau khi máy chủ khởi động lại.")
    assert await saved_text(sessions) == [
        (2026, "Đoạn văn tôi tự viết sau khi máy chủ khởi động lại.")
    ]
    assert "Đã lưu đoạn văn tổng kết năm 2026" in text_of(h.to("m1")[-2:])


async def test_years_without_a_pledge_and_bad_input(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = world.h
    none = await h.say("m2", "/tongketnam")
    assert "chưa có bản đăng ký học tập và làm theo Bác năm 2026" in none[0].text
    assert "/dangky" in none[0].text
    assert [c.data for c in none[0].choices] == ["!cmd:dangky"]
    old = text_of(await h.say("m1", "/tongketnam 2019"))
    assert "không có bản đăng ký năm 2019" in old
    assert "Các năm có bản đăng ký: 2026. Gõ ví dụ: /tongketnam 2026." in old
    assert "Xin gõ năm bằng số" in text_of(await h.say("m1", "/tongketnam năm ngoái"))
    assert "TỔNG KẾT NĂM 2026" in text_of(await h.say("m1", "/tongketnam năm 2026"))
    assert "chưa được liên kết" in text_of(await h.say("stranger", "/tongketnam"))
    assert await saved_text(sessions) == []


async def test_markup_in_items_is_shown_literally_and_a_pending_pledge_is_summarised(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = world.h
    action = "Đọc <b>& chia sẻ</b> sách về Bác"
    await register(world, "m2", items=[(action, "4 buổi <i>mỗi quý</i>", "hằng quý")])
    replies = await h.say("m2", "/tongketnam")
    summary, prompt = replies[0].text, replies[-1].text
    assert "Bản đăng ký: phiên bản 1 · <b>chờ duyệt</b>" in summary
    assert texts.YEAR_END_NOT_APPROVED in summary
    assert "1. Đọc &lt;b&gt;&amp; chia sẻ&lt;/b&gt; sách về Bác" in summary
    assert "Kết quả đăng ký: 4 buổi &lt;i&gt;mỗi quý&lt;/i&gt;" in summary
    assert "«Đọc &lt;b&gt;&amp; chia sẻ&lt;/b&gt; sách về Bác»" in prompt
    assert "<b>&" not in summary + prompt and "<i>mỗi" not in summary + prompt
    await h.press("m2", "Giữ đoạn này")
    [(_, text)] = await saved_text(sessions)
    assert f"«{action}»" in text  # stored as plain text
    assert h.last("m2").text == esc(text)
    assert_no_grade(text_of(h.to("m2")))
