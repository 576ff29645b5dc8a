"""Whole journeys on every platform: the real bot (its clients, our inbox, core, outbox) against
fake Telegram, Zalo Bot and Zalo OA servers on 127.0.0.1, in each platform's modes, on SQLite
and PostgreSQL. Each journey is written once (tests/support/platforms.py adapts it).

The roster and the invites are made with the real command line, as an operator would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import App
from models.tables import InboxUpdate, Pledge
from tests.support.operator import THON2, cli, invite_codes
from tests.support.platforms import (
    DEFAULT_MODE,
    MODES,
    PLATFORMS,
    Platform,
    free_port,
    open_platform,
)

SEC, DEP, MEMBER, NEWCOMER = 1, 2, 3, 4
CASES = [(p, m) for p in PLATFORMS for m in MODES[p]]


@pytest.fixture(params=PLATFORMS)
async def platform(request: pytest.FixtureRequest) -> AsyncIterator[Platform]:
    async with open_platform(request.param) as opened:
        yield opened


@pytest.fixture
def start_app(db_url: str, platform: Platform) -> Callable[..., Any]:
    """Starts the bot; each test stops it itself (some stop and restart it on the same port)."""
    port = free_port()

    async def start(mode: str, clock: Callable[[], Any] | None = None) -> App:
        config = platform.config(db_url, mode, port)
        app = App(config, clock=clock) if clock else App(config)
        await app.start()
        return app

    return start


async def register_pledge(member: Any) -> None:
    """/dangky the shortest way: one study content, one shortcoming, one item, submitted."""
    await member.say("/dangky", "Bước 1/5")
    await member.press("Quy định 144", "Đã chọn")
    await member.press("Tiếp tục", "Bước 2/5")
    await member.say("Còn ngại phát biểu", "hạn chế 2")
    await member.press("Xong", "Bước 3/5")
    await member.say("Vận động 5 hộ phân loại rác", "Kết quả")
    await member.say("5 hộ tham gia", "thời hạn")
    await member.press("Hằng tháng", "Thêm việc làm")
    await member.press("sang bước tiếp", "Bước 4/5")
    await member.press("Không chọn", "Bước 5/5")
    await member.press("Gửi bản đăng ký", "chờ duyệt")


@pytest.mark.parametrize(("platform", "mode"), CASES, indirect=["platform"])
async def test_whole_journey(mode: str, db_url: str, platform: Platform, start_app: Any) -> None:
    done = cli(db_url, "org", "import", "examples/roster.csv")
    assert done.returncode == 0, done.stderr
    assert "thêm 30" in done.stdout
    done = cli(
        db_url,
        "theme",
        "set",
        "--unit",
        "Đảng bộ xã Hưng Bình",
        "--year",
        "2026",
        "--title",
        "Tự lực, tự cường & khát vọng <phát triển>",
    )
    assert done.returncode == 0, done.stderr
    codes, join_code = invite_codes(db_url)

    app = await start_app(mode)
    try:
        fake = platform.fake
        if platform.name == "telegram":
            assert fake.commands, "the command menu was set"
        if mode == "webhook" and platform.name != "zalo_oa":  # the OA's is set in its console
            assert fake.webhook_url.endswith(("/telegram", "/zalo-bot"))
        sec = platform.person(SEC, "Thắng")
        dep = platform.person(DEP, "Hùng")
        member = platform.person(MEMBER, "Sơn")
        newcomer = platform.person(NEWCOMER, "Nhung")

        await sec.say(f"/start {codes['Trần Văn Thắng']}", "Chào đồng chí <b>Trần Văn Thắng</b>")
        await dep.say(codes["Nguyễn Văn Hùng"], "Chào đồng chí <b>Nguyễn Văn Hùng</b>")
        # a wrong code, then the right one (deep link)
        await member.say("/start WRONG123", "không đúng")
        await member.say(f"/start {codes['Hoàng Văn Sơn']}", "Chi bộ thôn 2")
        # joining with the chi bộ code: the secretary accepts
        await newcomer.say(join_code, "họ và tên")
        await newcomer.say("Đỗ Thị Nhung", "Đã gửi yêu cầu")
        await sec.wait(0, "Yêu cầu tham gia chi bộ")
        await sec.press("Chấp nhận", "Đã chấp nhận")
        await newcomer.wait(0, "Chào đồng chí <b>Đỗ Thị Nhung</b>")

        # /dangky with a vague item
        await member.say("/dangky", "Bước 1/5")
        await member.wait(0, "Tự lực, tự cường &amp; khát vọng &lt;phát triển&gt;")
        await member.press("Chuyên đề năm 2026", "Đã chọn")
        await member.press("Tiếp tục", "Bước 2/5")
        await member.say("Còn ngại phát biểu ý kiến", "hạn chế 2")
        await member.press("Xong", "Bước 3/5")
        await member.say("Hoàn thành tốt nhiệm vụ được giao", "Kết quả")
        await member.say("Tốt", "chung chung")
        await member.press("Giữ nguyên", "thời hạn")
        await member.press("Hằng tháng", "Thêm việc làm khác")
        await member.press("sang bước tiếp", "Bước 4/5")
        await member.press("Không chọn", "Bước 5/5")
        await member.press("Gửi bản đăng ký", "chờ duyệt")

        # the secretary returns it with a comment; the member fixes it; the deputy approves
        await sec.wait(0, "Bản đăng ký chờ duyệt")
        await sec.press("Trả lại", "nhận xét")
        await sec.say("Việc làm 1 còn chung chung, cần số lượng", "Đã trả lại")
        await member.wait(0, "Việc làm 1 còn chung chung, cần số lượng")
        await member.say("/dangky", "Bước 5/5")
        await member.press("Sửa việc làm", "Chọn việc làm")
        await member.press("Việc làm 1", "muốn làm gì")
        await member.press("Viết lại", "Việc làm 1")
        await member.say("Vận động 5 hộ trong xóm phân loại rác tại nguồn", "Kết quả")
        await member.say("5 hộ tham gia trước tháng 9", "thời hạn")
        await member.press("Quý III", "Bước 5/5")
        await member.press("Gửi bản đăng ký", "phiên bản 2")
        since = len(member.texts())
        await dep.wait(0, "Phiên bản 2")
        await dep.press("Duyệt", "Đã duyệt")
        await member.wait(since, "duyệt")
        shown = await member.say("/camket", "Phiên bản 2")
        assert "đã duyệt" in shown and "Vận động 5 hộ" in shown

        if platform.name == "telegram":  # pressed buttons lose their keyboard, and are answered
            assert fake.calls("answerCallbackQuery")
            assert fake.calls("editMessageReplyMarkup")
        assert not fake.rejected, fake.dump()  # never a send the platform refused
    finally:
        await app.stop()


RESTART_MODE = {"telegram": "webhook", "zalo_bot": "polling", "zalo_oa": "webhook"}


async def test_restart_mid_flow_and_duplicate_delivery(
    db_url: str, platform: Platform, start_app: Any, roster_codes: dict[str, str]
) -> None:
    codes, mode = roster_codes, RESTART_MODE[platform.name]
    app = await start_app(mode)
    member = platform.person(MEMBER, "Sơn")
    await member.say(codes["Hoàng Văn Sơn"], "Chào đồng chí")
    await member.say("/dangky", "Bước 1/5")
    await member.press("Quy định 144", "Đã chọn")
    await member.press("Tiếp tục", "Bước 2/5")
    await app.stop()

    # the bot is down: the member keeps typing; the platform keeps it (or retries) meanwhile
    platform.prepare_downtime()
    update = platform.inject(member, "Chưa mạnh dạn góp ý")
    await asyncio.sleep(0.3)
    app = await start_app(mode)
    platform.replay(update)  # and the same message arrives once more
    await member.wait(0, "hạn chế 2")
    platform.replay(update)
    await platform.fake.drain()
    try:
        async with app.sessions() as s:
            count = await s.scalar(select(func.count()).select_from(InboxUpdate))
            rows = list(await s.scalars(select(InboxUpdate)))
        assert count == len({r.update_key for r in rows})
        last = await member.say("Chưa đọc báo thường xuyên", "hạn chế 3")
        # the shortcoming typed while the bot was down is there exactly once
        assert last.count("Chưa mạnh dạn góp ý") == 1
    finally:
        await app.stop()


async def test_long_reply_is_split_at_the_platform_limit(
    db_url: str, platform: Platform, start_app: Any, roster_codes: dict[str, str]
) -> None:
    codes = roster_codes
    app = await start_app(DEFAULT_MODE[platform.name])
    try:
        member = platform.person(MEMBER, "Sơn")
        await member.say(codes["Hoàng Văn Sơn"], "Chào đồng chí")
        await member.say("/dangky", "Bước 1/5")
        for n in range(8):  # eight study contents of ~480 characters make a long review
            await member.say(f"Nội dung {n} " + "đọc và ghi chép " * 29, "Bước 1/5")
        await member.press("Tiếp tục", "Bước 2/5")
        await member.say("Hạn chế " + "x" * 400, "hạn chế 2")
        await member.press("Xong", "Bước 3/5")
        await member.say("Đọc 1 cuốn sách mỗi tháng", "Kết quả")
        await member.say("12 cuốn", "thời hạn")
        await member.press("Hằng tháng", "Thêm việc làm")
        await member.press("sang bước tiếp", "Bước 4/5")
        since = len(member.texts())
        await member.press("Không chọn", "Gửi bản đăng ký")
        review = member.texts()[since:]
        assert len(review) >= 2, "the review went out in several messages"
        assert max(len(t) for t in member.texts()) <= platform.text_limit
        for n in range(8):  # nothing lost at the cuts
            assert sum(f"Nội dung {n} " in t for t in review) == 1
        await member.press("Gửi bản đăng ký", "chờ duyệt")
        async with app.sessions() as s:
            assert (await s.scalars(select(Pledge))).one().status == "submitted"
    finally:
        await app.stop()


async def test_monthly_cycle(
    db_url: str, platform: Platform, start_app: Any, roster_codes: dict[str, str]
) -> None:
    """Reminder with a choice into /tudanhgia, the assessment, the digest with its chart."""
    from datetime import UTC, datetime

    from sqlalchemy import update

    from models.orgs import find_unit
    from models.tables import OrgUnit

    codes = roster_codes
    clock_now = [datetime(2026, 11, 25, 2, 0, tzinfo=UTC)]
    app = await start_app(
        "webhook" if platform.name == "zalo_oa" else "polling", lambda: clock_now[0]
    )
    try:
        sec, member = platform.person(SEC, "Thắng"), platform.person(MEMBER, "Sơn")
        await sec.say(codes["Trần Văn Thắng"], "Chào đồng chí")
        await member.say(codes["Hoàng Văn Sơn"], "Chào đồng chí")
        await register_pledge(member)
        await sec.wait(0, "Bản đăng ký chờ duyệt")
        await sec.press("Duyệt", "Đã duyệt")
        async with app.sessions() as s, s.begin():
            unit = await find_unit(s, THON2)
            assert unit is not None
            await s.execute(
                update(OrgUnit)
                .where(OrgUnit.id == unit.id)
                .values(meeting_rule={"kind": "day", "day": 3, "time": "19:30", "place": ""})
            )

        clock_now[0] = datetime(2026, 11, 30, 1, 5, tzinfo=UTC)  # D-3, 08:05 in Hà Nội
        since = len(member.texts())
        assert (await app.scheduler.run_once())["d3"] == 2
        await member.wait(since, "Nhắc việc")
        await member.press("Tự đánh giá ngay", "việc làm 1/1")
        await member.press("Đã thực hiện", "Ghi chú")
        await member.say("Đã có 5 hộ", "Khó khăn")
        await member.press("Không có", "Gửi tự đánh giá này")
        await member.press("Gửi", "Đã nhận tự đánh giá tháng 12/2026")

        clock_now[0] = datetime(2026, 12, 2, 11, 5, tzinfo=UTC)  # D-1, 18:05
        photos = len(platform.fake.calls("sendPhoto")) if platform.name == "telegram" else 0
        assert (await app.scheduler.run_once())["digest"] == 1
        digest = await sec.wait(0, "Tình hình trước sinh hoạt tháng 12/2026")
        assert platform.visible("Đã nộp tự đánh giá: <b>1/14</b>") in digest
        if platform.name == "telegram":  # a picture; elsewhere the figures as a line of text
            await platform.fake.wait_for(lambda: len(platform.fake.calls("sendPhoto")) > photos)
        else:
            assert "Tự đánh giá tháng 12/2026: đã nộp: 1" in digest
        assert await app.scheduler.run_once() == {}
    finally:
        await app.stop()
