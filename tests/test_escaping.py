"""Names and texts full of markup and formula starts render literally everywhere they are shown,
on both databases: a member's name, a unit's name, pledge items, a nomination, the collective
plan and a broadcast, walked through the secretary's digest and /chibo overview, the pledge
approval view, /baocao, /dienhinh, /kehoach, /tongketnam, the broadcast preview, the XLSX and
DOCX exports and the report's XLSX and CSV.

Chat messages are Telegram HTML: each is parsed as the fake Telegram parses it (invalid HTML
fails there as on Telegram), and the visible text must hold the value as typed. Button labels
are plain text: shown as typed, never escaped. In spreadsheets no cell is a formula, and a text
starting like one (= + - @) is defused: XLSX text with Excel's quote prefix, CSV with an
apostrophe (documents.report.FORMULA_START).
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime
from typing import Any

from docx import Document
from openpyxl import load_workbook
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from documents.report import FORMULA_START, to_csv
from handlers.messages import Reply
from handlers.text import fold
from models import nominations, pledges, unit_plans
from models.orgs import find_unit
from models.pledges import DraftItem
from models.reports import build_report
from models.tables import Member, OrgUnit, Role
from tests.fakes.telegram_api import parse_html
from tests.support.harness import Clock
from tests.support.world import THON2, World, link, make_world

NAME = '<b>Nguyễn & </a> "Văn" =1+1 @SUM(A1)'
UNIT = '=Chi bộ <i>thôn</i> & "2" @A1'
ACTION = '=1+1 <b>Đọc</b> & chia sẻ </a> "sách"'
RESULT = '@SUM(A1) <i>5 hộ</i> & "đủ"'
SHORTCOMING = "-Còn <ngại> & </b> phát biểu"
NOMINEE = '+Tổ <b>tự quản</b> & "xanh"'
STANDARD = "Nói <u>đi</u> & đôi với làm </a>"
BROADCAST = 'Họp <b>chi bộ</b> & "đọc" </a> =1+1'
LITERALS = (NAME, UNIT, ACTION, RESULT, SHORTCOMING, NOMINEE, STANDARD, BROADCAST)
NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def seen(replies: list[Reply]) -> str:
    """What a Telegram user reads: every reply parsed as Telegram HTML (raises if invalid)."""
    return "\n".join(parse_html(r.text) for r in replies)


def labels(replies: list[Reply]) -> list[str]:
    return [c.label for r in replies for c in r.choices]


def assert_no_raw_markup(replies: list[Reply]) -> None:
    """Our own tags are fine; none of the typed ones may reach Telegram as markup."""
    raw = "\n".join(r.text for r in replies)
    typed = ("<i>thôn", "<i>5 hộ", "</a>", "<u>đi", "<ngại>", "</b> phát", "<b>Nguyễn", "<b>Đọc")
    for tag in (*typed, "<b>tự", "<b>chi"):
        assert tag not in raw, (tag, raw)


def documents(replies: list[Reply]) -> dict[str, bytes]:
    return {r.document["name"]: r.document_bytes() for r in replies if r.document}


def assert_sheets_literal(data: bytes, expected: tuple[str, ...]) -> list[Any]:
    """No formula anywhere; texts that start like one are quote-prefixed; each expected value
    is in some cell exactly as typed. Returns the text cells."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/")]
    assert not any("<f>" in sheet or "<f " in sheet for sheet in sheets)
    wb = load_workbook(io.BytesIO(data))
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value]
    assert all(c.data_type != "f" for c in cells)
    text_cells = [c for c in cells if isinstance(c.value, str)]
    for c in text_cells:
        if c.value.startswith(FORMULA_START):
            assert c.quotePrefix and c.data_type == "s", (c.coordinate, c.value)
    values = [c.value for c in text_cells]
    for value in expected:
        assert any(value in v for v in values), (value, values)
    return text_cells


async def seed(w: World, sessions: async_sessionmaker[AsyncSession]) -> None:
    """Hoàng Văn Sơn becomes NAME, Chi bộ thôn 2 becomes UNIT; a pending pledge, a
    nomination, the collective plan and a meeting rule; the bí thư is also quản trị."""
    async with sessions() as s, s.begin():
        unit = await find_unit(s, THON2)
        assert unit is not None
        member = (await s.scalars(select(Member).where(Member.full_name == "Hoàng Văn Sơn"))).one()
        member.full_name, member.name_key = NAME, fold(NAME)
        sec = (await s.scalars(select(Member).where(Member.full_name == "Trần Văn Thắng"))).one()
        commune = await s.get(OrgUnit, unit.parent_id)
        assert commune is not None
        s.add(Role(member_id=sec.id, unit_id=commune.id, role="admin", created_at=NOW))
        await pledges.submit(
            s,
            member,
            year=2026,
            theme_id=None,
            study=["Quy định 144"],
            shortcomings=[SHORTCOMING],
            items=[DraftItem(ACTION, RESULT, "M9")],
            now=NOW,
        )
        await nominations.add(
            s,
            unit,
            year=2026,
            kind="mo_hinh",
            subject="tap_the",
            name=NOMINEE,
            description=ACTION,
            result=RESULT,
            now=NOW,
        )
        await unit_plans.save(
            s,
            unit,
            2026,
            items=[{"action": ACTION, "result": RESULT, "deadline": "M9"}],
            standards=[STANDARD],
            by=sec.id,
            now=NOW,
        )
        await s.execute(
            update(OrgUnit)
            .where(OrgUnit.id == unit.id)
            .values(
                name=UNIT,
                meeting_rule={"kind": "day", "day": 10, "time": "19:30", "place": ""},
            )
        )


async def test_user_text_renders_literally_everywhere(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    w = await make_world(sessions, Clock(NOW))
    h = w.h
    await link(w, "sec", "Trần Văn Thắng")
    await link(w, "m", "Hoàng Văn Sơn")
    await seed(w, sessions)

    # /chibo: the overview (who has not registered, the pledge to approve) and the digest
    chibo = await h.say("sec", "/chibo")
    shown = seen(chibo)
    assert UNIT in shown and NAME in shown, shown
    assert "Tình hình trước sinh hoạt" in shown  # the digest: NAME has not self-assessed
    assert_no_raw_markup(chibo)
    assert f"Xem: {NAME}" in labels(chibo)  # a button label: as typed

    # the pledge approval view
    view = await h.press("sec", "Xem: ")
    shown = seen(view)
    for value in (NAME, ACTION, RESULT, SHORTCOMING):
        assert value in shown, (value, shown)
    assert_no_raw_markup(view)

    # /baocao (the commune, a line per chi bộ), the chi bộ's own, and its XLSX
    report = await h.say("sec", "/baocao")
    assert UNIT in seen(report)
    assert_no_raw_markup(report)
    assert any(UNIT in label for label in labels(report))
    report = await h.press("sec", UNIT)
    assert UNIT in seen(report)
    assert_no_raw_markup(report)
    sheet = await h.press("sec", "Tải bảng số liệu")
    assert UNIT in seen(sheet)
    assert_no_raw_markup(sheet)
    [(name, data)] = documents(sheet).items()
    assert name.endswith(".xlsx")
    unit_cells = [c for c in assert_sheets_literal(data, (UNIT,)) if c.value == UNIT]
    assert unit_cells and all(c.quotePrefix for c in unit_cells)

    # /dienhinh, /kehoach
    listed = await h.say("sec", "/dienhinh")
    shown = seen(listed)
    assert NOMINEE in shown and ACTION in shown and UNIT in shown, shown
    assert_no_raw_markup(listed)
    plan = await h.say("sec", "/kehoach")
    if ACTION not in seen(plan):  # a quản trị first picks the unit
        assert any(UNIT in label for label in labels(plan))
        plan = await h.press("sec", UNIT)
    shown = seen(plan)
    assert ACTION in shown and RESULT in shown and STANDARD in shown, shown
    assert_no_raw_markup(plan)
    await h.say("sec", "/huy")

    # /tongketnam: the member's own summary and draft paragraph
    summary = await h.say("m", "/tongketnam")
    shown = seen(summary)
    assert NAME in shown and ACTION in shown and SHORTCOMING in shown, shown
    assert_no_raw_markup(summary)
    await h.say("m", "/huy")

    # /thongbao: the preview shows the text as typed, and the unit
    await h.say("sec", "/thongbao")
    await h.say("sec", BROADCAST)
    await h.press("sec", "Không kèm")
    assert any(UNIT in label for label in labels(h.to("sec")[-1:]))
    preview = await h.press("sec", '=Chi bộ <i>thôn</i> & "2"')
    shown = seen(preview)
    assert BROADCAST in shown and UNIT in shown, shown
    assert_no_raw_markup(preview)
    await h.say("sec", "/huy")

    # /xuat: the XLSX and the printable DOCX
    offer = await h.say("sec", "/xuat")
    if UNIT not in seen(offer):  # a quản trị starts at the commune: the chi bộ's button
        assert any(UNIT in label for label in labels(offer))
        offer = await h.press("sec", UNIT)
    assert UNIT in seen(offer)
    assert_no_raw_markup(offer)
    xlsx = await h.press("sec", "Bảng tính XLSX")
    assert UNIT in seen(xlsx)
    assert_no_raw_markup(xlsx)
    [data] = documents(xlsx).values()
    assert_sheets_literal(data, (NAME, ACTION, RESULT, SHORTCOMING, UNIT))
    docx = await h.press("sec", "Bản in DOCX")
    [data] = documents(docx).values()
    doc = Document(io.BytesIO(data))
    words = [p.text for p in doc.paragraphs]
    words += [c.text for t in doc.tables for row in t.rows for c in row.cells]
    printed = "\n".join(words)
    for value in (NAME, ACTION, RESULT, SHORTCOMING):
        assert value in printed, (value, printed)
    assert "&amp;" not in printed and "&lt;" not in printed

    # the report as CSV (python -m bot report --format csv): defused with an apostrophe
    async with sessions() as s:
        unit = (await s.scalars(select(OrgUnit).where(OrgUnit.name == UNIT))).one()
        commune = await s.get(OrgUnit, unit.parent_id)
        assert commune is not None
        built = await build_report(s, commune, year=2026, period="2026-03")
    rows = list(csv.reader(io.StringIO(to_csv(built).decode("utf-8-sig"))))
    names = [row[0] for row in rows]
    assert "'" + UNIT in names and UNIT not in names
    assert not any(cell.startswith(FORMULA_START) for row in rows for cell in row)
