"""The committee's commands end to end: /baocao and /xuat in Telegram (files through the fake
Bot API), who may use them, and the command line's role, report, export and broadcast."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import openpyxl
import pytest
from docx import Document
from sqlalchemy import select

from bot.app import App
from handlers import texts
from models.db import create_engine, session_factory, utcnow
from models.orgs import ensure_unit, find_unit
from models.tables import AuditLog
from tests.support.operator import THON2, cli
from tests.support.platforms import TelegramPlatform, free_port, open_platform
from tests.test_journeys import MEMBER, SEC, register_pledge

DANG_BO = "Đảng bộ xã Hưng Bình"


@pytest.fixture
async def platform() -> AsyncIterator[TelegramPlatform]:
    async with open_platform("telegram") as opened:
        yield opened


async def unit_id(db_url: str, path: str, *, create: bool = False) -> int:
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as s, s.begin():
            unit = await (ensure_unit(s, path, utcnow()) if create else find_unit(s, path))
            assert unit is not None
            return unit.id
    finally:
        await engine.dispose()


async def audit_rows(db_url: str) -> list[AuditLog]:
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as s:
            return list(await s.scalars(select(AuditLog).order_by(AuditLog.id)))
    finally:
        await engine.dispose()


async def test_secretary_reports_and_exports_only_their_own_chi_bo(
    db_url: str, platform: TelegramPlatform, roster_codes: dict[str, str]
) -> None:
    other = await unit_id(db_url, f"{DANG_BO}/Chi bộ thôn 5", create=True)
    root = await unit_id(db_url, DANG_BO)
    app = App(platform.config(db_url, "polling", free_port()))
    await app.start()
    try:
        fake = platform.fake
        sec, member = platform.person(SEC, "Thắng"), platform.person(MEMBER, "Sơn")
        await sec.say(roster_codes["Trần Văn Thắng"], "Chào đồng chí")
        await member.say(roster_codes["Hoàng Văn Sơn"], "Chào đồng chí")
        await register_pledge(member)
        # the secretary is told of the pledge to approve first: /baocao's answer comes after it
        await sec.wait(0, "Bản đăng ký chờ duyệt")

        report = await sec.say("/baocao", "Kết quả học tập")
        assert "Đã đăng ký" in report and "1/" in report

        # A member without a role, and forged buttons for units outside the secretary's own.
        await member.say("/baocao", texts.NO_ADMIN_SCOPE[:40])
        await member.say("/xuat", texts.NO_ADMIN_SCOPE[:40])
        last = fake.messages_to(int(sec.chat))[-1]["message_id"]
        for data in (f"!bc:{root}", f"!bcx:{other}:2026-11", f"!xf:{other}:xlsx:2026"):
            since = len(sec.texts())
            fake.inject_callback(int(sec.chat), data, last)
            await sec.wait(since, "không có quyền")

        # The secretary's own export arrives as a file.
        await sec.say("/xuat", "Xuất bản đăng ký")
        await sec.press("Bảng tính XLSX", "Tệp của Chi bộ thôn 2")
        docs = [r for r in fake.calls("sendDocument") if r["chat_id"] == int(sec.chat)]
        assert docs
        sent = docs[-1]["params"]["document"]
        assert sent["filename"].endswith(".xlsx")
    finally:
        await app.stop()

    book = openpyxl.load_workbook(io.BytesIO(fake.file_bytes(sent["file_id"])))
    assert "Bản đăng ký" in book.sheetnames
    names = {row[1] for row in book["Bản đăng ký"].iter_rows(min_row=2, values_only=True)}
    assert "Hoàng Văn Sơn" in names

    rows = await audit_rows(db_url)
    refused = [(r.action, r.unit_id) for r in rows if r.refused]
    assert ("report_view", root) in refused
    assert ("report_file", other) in refused
    assert ("export", other) in refused
    assert [a for a, u in refused if u is None] == ["report_view", "export"]  # the member
    assert any(r.action == "export" and not r.refused for r in rows)


def test_role_commands_find_the_member_and_are_audited(
    db_url: str, roster_codes: dict[str, str]
) -> None:
    member = f"{THON2}/Hoàng Văn Sơn"
    done = cli(db_url, "role", "grant", "--member", member, "--unit", DANG_BO, "--role", "admin")
    assert done.returncode == 0, done.stderr
    assert "Đã giao quyền" in done.stdout
    again = cli(db_url, "role", "grant", "--member", member, "--unit", DANG_BO, "--role", "admin")
    assert "không thay đổi" in again.stdout
    listed = cli(db_url, "role", "list", "--unit", THON2)
    assert "Hoàng Văn Sơn" in listed.stdout and "Trần Văn Thắng" in listed.stdout
    missing = cli(
        db_url, "role", "grant", "--member", "Không Có Ai", "--unit", THON2, "--role", "observer"
    )
    assert missing.returncode == 1 and "Không tìm thấy" in missing.stderr
    gone = cli(db_url, "role", "revoke", "--member", member, "--unit", DANG_BO, "--role", "admin")
    assert "Đã thu hồi" in gone.stdout
    bad = cli(db_url, "role", "grant", "--member", member, "--unit", DANG_BO, "--role", "king")
    assert bad.returncode == 2


def test_report_export_and_broadcast_from_the_command_line(
    db_url: str, roster_codes: dict[str, str], tmp_path: Path
) -> None:
    done = cli(
        db_url,
        "report",
        "--unit",
        DANG_BO,
        "--year",
        "2026",
        "--month",
        "2026-11",
        "--format",
        "csv",
    )
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout.lstrip("\ufeff"))))
    header, body = rows[0], rows[1:]
    assert header[0] == "Đơn vị" and "Tổng số đảng viên" in header
    total = header.index("Tổng số đảng viên")
    assert any(r[0] == "Chi bộ thôn 2" and r[total] == "16" for r in body)

    bad = cli(db_url, "report", "--unit", DANG_BO, "--year", "2026", "--month", "2025-11")
    assert bad.returncode == 1 and "--month" in bad.stderr

    out = tmp_path / "mau.docx"
    done = cli(
        db_url, "export", "--unit", THON2, "--year", "2026", "--format", "docx", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    text = "\n".join(p.text for p in Document(str(out)).paragraphs)
    assert "Hoàng Văn Sơn" in text

    dry = cli(db_url, "broadcast", "--unit", THON2, "--text", "Họp chi bộ", "--dry-run")
    assert dry.returncode == 0 and "16 đảng viên" in dry.stdout
    # No one has linked an account yet: nothing to send, everyone counted as not reached.
    sent = cli(db_url, "broadcast", "--unit", THON2, "--text", "Họp chi bộ", "--wait", "0")
    assert sent.returncode == 0 and "đã gửi 0/16" in sent.stdout
    assert "không liên lạc được 16" in sent.stdout
