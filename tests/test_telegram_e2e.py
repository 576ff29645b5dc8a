"""Whole journeys on Telegram: the real bot (PTB client, our inbox, core, outbox) against a fake
Bot API on 127.0.0.1, in polling and in webhook mode, on SQLite and PostgreSQL.

The roster and the invites are made with the real command line, as an operator would.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.config import Config, TelegramConfig
from handlers import texts
from models.tables import InboxUpdate, Pledge
from tests.fakes.telegram_api import FakeTelegramAPI

ROOT = Path(__file__).resolve().parent.parent
THON2 = "Đảng bộ xã Hưng Bình/Chi bộ thôn 2"
SECRET = "webhook-secret-for-tests"
SEC, DEP, MEMBER, NEWCOMER = 1001, 1002, 1003, 1004


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    config = ROOT / "tests" / "data" / "e2e.toml"
    env = {**os.environ, "LAMTHEO_DATABASE_URL": db_url}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def invite_codes(db_url: str) -> tuple[dict[str, str], str]:
    done = cli(db_url, "invite", "list", "--unit", THON2, "--format", "csv")
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout)))[1:]
    codes = {row[1]: row[2] for row in rows}
    links = {row[1]: row[3] for row in rows}
    assert links["Hoàng Văn Sơn"] == f"https://t.me/lamtheo_test_bot?start={codes['Hoàng Văn Sơn']}"
    done = cli(db_url, "invite", "list", "--unit", THON2)
    join = next(line for line in done.stdout.splitlines() if line.startswith("Mã chi bộ"))
    return codes, join.split(": ", 1)[1].split()[0]


class User:
    """A person on Telegram: types text, presses buttons, reads what the bot sent."""

    def __init__(self, fake: FakeTelegramAPI, chat_id: int, name: str) -> None:
        self.fake, self.chat_id, self.name = fake, chat_id, name

    def messages(self) -> list[dict[str, Any]]:
        return self.fake.messages_to(self.chat_id)

    def text(self, record: dict[str, Any]) -> str:
        return str(record["params"].get("text", ""))

    async def wait(self, since: int, contains: str) -> str:
        def found() -> str | None:
            for record in self.messages()[since:]:
                if contains in self.text(record):
                    return self.text(record)
            return None

        return str(await self.fake.wait_for(found, timeout=15))

    async def say(self, text: str, expect: str) -> str:
        since = len(self.messages())
        self.fake.inject_message(self.chat_id, text, first_name=self.name)
        return await self.wait(since, expect)

    def _button(self, record: dict[str, Any], label: str) -> dict[str, Any] | None:
        markup = record["params"].get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if label in button["text"]:
                    return dict(button)
        return None

    async def press(self, label: str, expect: str) -> str:
        """Press the button on the newest message that has it. A reply split in several
        messages carries its buttons on the last one, so wait briefly for that one."""
        # Or an older message's button (e.g. an approval request): then this times out.
        with contextlib.suppress(AssertionError):
            await self.fake.wait_for(
                lambda: self.messages() and self._button(self.messages()[-1], label), timeout=3
            )
        for record in reversed(self.messages()):
            button = self._button(record, label)
            if button is not None:
                since = len(self.messages())
                self.fake.inject_callback(
                    self.chat_id, button["callback_data"], record["message_id"]
                )
                return await self.wait(since, expect)
        raise AssertionError(f"{self.name}: no button {label!r}\n{self.fake.dump()}")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI(username="lamtheo_test_bot") as api:
        yield api


def make_config(db_url: str, fake: FakeTelegramAPI, mode: str) -> Config:
    port = free_port()
    return Config(
        path=ROOT / "config.toml",
        database_url=db_url,
        telegram=TelegramConfig(
            token=fake.token,
            mode=mode,
            base_url=fake.base_url,
            username="lamtheo_test_bot",
            webhook_url=f"http://127.0.0.1:{port}/telegram",
            webhook_secret=SECRET,
            poll_timeout=1,
            per_chat_interval=0.05,  # the pacing itself is tested in test_outbox.py
        ),
        host="127.0.0.1",
        port=port,
    )


@pytest.fixture
def roster_codes(db_url: str) -> dict[str, str]:
    """The example roster imported with the real CLI; each member's personal invite code."""
    assert cli(db_url, "org", "import", "examples/roster.csv").returncode == 0
    return invite_codes(db_url)[0]


@pytest.fixture
def start_app(db_url: str, fake: FakeTelegramAPI) -> Callable[..., Any]:
    """Starts the bot; each test stops it itself (some stop and restart it)."""

    async def start(mode: str) -> App:
        app = App(make_config(db_url, fake, mode))
        await app.start()
        return app

    return start


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_whole_journey(mode: str, db_url: str, fake: FakeTelegramAPI, start_app: Any) -> None:
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
        assert fake.commands, "the command menu was set"
        if mode == "webhook":
            assert fake.webhook_url == app.config.telegram.webhook_url
        sec = User(fake, SEC, "Thắng")
        dep = User(fake, DEP, "Hùng")
        member = User(fake, MEMBER, "Sơn")
        newcomer = User(fake, NEWCOMER, "Nhung")

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
        first = await member.say("/dangky", "Bước 1/5")
        assert "Tự lực, tự cường &amp; khát vọng &lt;phát triển&gt;" in first
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
        since = len(member.messages())
        await dep.wait(0, "Phiên bản 2")
        await dep.press("Duyệt", "Đã duyệt")
        await member.wait(since, "duyệt")
        shown = await member.say("/camket", "Phiên bản 2")
        assert "đã duyệt" in shown and "Vận động 5 hộ" in shown

        # pressed buttons lose their keyboard; every press was answered
        assert fake.calls("answerCallbackQuery")
        assert fake.calls("editMessageReplyMarkup")
        assert not fake.rejected or all(r["method"] != "sendMessage" for r in fake.rejected)
    finally:
        await app.stop()


async def test_restart_mid_flow_and_duplicate_delivery(
    db_url: str, fake: FakeTelegramAPI, start_app: Any, roster_codes: dict[str, str]
) -> None:
    codes = roster_codes
    app = await start_app("webhook")
    member = User(fake, MEMBER, "Sơn")
    await member.say(codes["Hoàng Văn Sơn"], "Chào đồng chí")
    await member.say("/dangky", "Bước 1/5")
    await member.press("Quy định 144", "Đã chọn")
    await member.press("Tiếp tục", "Bước 2/5")
    await app.stop()

    # the bot is down: the member keeps typing; Telegram retries the webhook, then waits
    fake.webhook_retries = 0
    update = fake.inject_message(MEMBER, "Chưa mạnh dạn góp ý")
    await fake.drain()
    app = await start_app("webhook")  # setWebhook again; the fake pushes what was queued
    fake.replay(update)  # and the same update arrives once more
    await member.wait(0, "hạn chế 2")
    fake.replay(update)
    await fake.drain()
    try:
        async with app.sessions() as s:
            count = await s.scalar(select(func.count()).select_from(InboxUpdate))
            rows = list(await s.scalars(select(InboxUpdate)))
        assert count == len({r.update_key for r in rows})
        await member.say("Chưa đọc báo thường xuyên", "hạn chế 3")
        # the shortcoming typed while the bot was down is there exactly once
        text = member.text(member.messages()[-1])
        assert text.count("Chưa mạnh dạn góp ý") == 1
    finally:
        await app.stop()


async def test_webhook_rejects_a_wrong_secret(
    db_url: str, fake: FakeTelegramAPI, start_app: Any
) -> None:
    import aiohttp

    app = await start_app("webhook")
    try:
        body = {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": 0,
                "text": "/start",
                "chat": {"id": 5, "type": "private"},
                "from": {"id": 5, "is_bot": False, "first_name": "X"},
            },
        }
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong-secret"}):
                async with http.post(
                    app.config.telegram.webhook_url, json=body, headers=headers
                ) as resp:
                    assert resp.status == 403
        async with app.sessions() as s:
            assert await s.scalar(select(func.count()).select_from(InboxUpdate)) == 0
    finally:
        await app.stop()


async def test_long_reply_is_split_and_blocked_user_is_unreachable(
    db_url: str, fake: FakeTelegramAPI, start_app: Any, roster_codes: dict[str, str]
) -> None:
    codes = roster_codes
    app = await start_app("polling")
    try:
        sec = User(fake, SEC, "Thắng")
        member = User(fake, MEMBER, "Sơn")
        await sec.say(codes["Trần Văn Thắng"], "Chào đồng chí")
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
        await member.press("Không chọn", "Gửi bản đăng ký")
        texts_sent = [member.text(r) for r in member.messages()]
        assert max(len(t) for t in texts_sent) <= 4096
        fake.block(SEC)
        await member.press("Gửi bản đăng ký", "chờ duyệt")

        async def unreachable() -> bool:
            from models.tables import Delivery

            async with app.sessions() as s:
                rows = list(await s.scalars(select(Delivery).where(Delivery.chat_id == str(SEC))))
            return any(r.status == "unreachable" for r in rows)

        for _ in range(100):
            if await unreachable():
                break
            import asyncio

            await asyncio.sleep(0.1)
        assert await unreachable()
        async with app.sessions() as s:
            assert (await s.scalars(select(Pledge))).one().status == "submitted"
    finally:
        await app.stop()


def test_command_menu_is_in_vietnamese() -> None:
    assert all(len(name) <= 32 and description for name, description in texts.COMMAND_MENU)


async def test_flood_limit_and_server_errors_are_retried_until_delivered(
    db_url: str, fake: FakeTelegramAPI, start_app: Any, roster_codes: dict[str, str]
) -> None:
    codes = roster_codes
    app = await start_app("polling")
    try:
        member = User(fake, MEMBER, "Sơn")
        fake.fail_next("sendMessage", 1, status=429, retry_after=1)
        fake.fail_next("sendMessage", 1, status=500)
        await member.say(codes["Hoàng Văn Sơn"], "Chào đồng chí")
        assert fake.count_429 >= 1
        greetings = [r for r in member.messages() if "Chào đồng chí" in member.text(r)]
        assert len(greetings) == 1  # delivered once, despite the failures
    finally:
        await app.stop()


async def test_monthly_cycle_on_telegram(
    db_url: str, fake: FakeTelegramAPI, roster_codes: dict[str, str]
) -> None:
    """Reminder with a button into /tudanhgia, the assessment, the digest with its chart."""
    from datetime import UTC, datetime

    from sqlalchemy import update

    from models.orgs import find_unit
    from models.tables import OrgUnit

    codes = roster_codes
    clock_now = [datetime(2026, 11, 25, 2, 0, tzinfo=UTC)]
    app = App(make_config(db_url, fake, "polling"), clock=lambda: clock_now[0])
    await app.start()
    try:
        sec, member = User(fake, SEC, "Thắng"), User(fake, MEMBER, "Sơn")
        await sec.say(codes["Trần Văn Thắng"], "Chào đồng chí")
        await member.say(codes["Hoàng Văn Sơn"], "Chào đồng chí")
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
        since = len(member.messages())
        assert (await app.scheduler.run_once())["d3"] == 2
        await member.wait(since, "Nhắc việc")
        await member.press("Tự đánh giá ngay", "việc làm 1/1")
        await member.press("Đã thực hiện", "Ghi chú")
        await member.say("Đã có 5 hộ", "Khó khăn")
        await member.press("Không có", "Gửi tự đánh giá này")
        await member.press("Gửi", "Đã nhận tự đánh giá tháng 12/2026")

        clock_now[0] = datetime(2026, 12, 2, 11, 5, tzinfo=UTC)  # D-1, 18:05
        photos = len(fake.calls("sendPhoto"))
        assert (await app.scheduler.run_once())["digest"] == 1
        digest = await sec.wait(0, "Tình hình trước sinh hoạt tháng 12/2026")
        assert "Đã nộp tự đánh giá: <b>1/14</b>" in digest
        await fake.wait_for(lambda: len(fake.calls("sendPhoto")) > photos)
        assert await app.scheduler.run_once() == {}
    finally:
        await app.stop()
