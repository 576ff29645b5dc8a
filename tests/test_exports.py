"""Exports of a unit's pledges and monthly self-assessments (XLSX and printable DOCX), on both
databases: the data gathered for a subtree, and what the files hold."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from docx.oxml.ns import qn
from openpyxl import load_workbook
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from documents.pledges import export_filename, to_docx, to_xlsx
from handlers import texts
from handlers.text import fold
from models import periods, pledges
from models.exports import UnitExport, unit_export
from models.orgs import ensure_unit, find_unit
from models.pledges import DraftItem
from models.tables import Member, MemberPeriod
from models.themes import set_theme

NOW = datetime(2026, 2, 10, 3, 0, tzinfo=UTC)
COMMUNE = "Đảng bộ xã Hưng Bình"
THON2 = f"{COMMUNE}/Chi bộ thôn 2"
THON3 = f"{COMMUNE}/Chi bộ thôn 3"
SECRETARY = "Trần Văn Thắng"
RESUBMITTED = "Nguyễn <b>Văn</b> Hùng"
EXEMPT = "Đặng Văn Lộc"
NO_PLEDGE = "Lê Thị Hoa & Bình"
THEME = "Học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh về xây dựng Đảng"
TITLE = "BẢN ĐĂNG KÝ HỌC TẬP VÀ LÀM THEO TƯ TƯỞNG, ĐẠO ĐỨC, PHONG CÁCH HỒ CHÍ MINH NĂM 2026"
TODAY = date(2026, 12, 5)


def member(unit_id: int, name: str, **kw: Any) -> Member:
    return Member(
        unit_id=unit_id,
        full_name=name,
        name_key=fold(name),
        created_at=NOW,
        updated_at=NOW,
        **kw,
    )


async def seed(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Chi bộ thôn 2: four active members (one inactive), and a neighbour chi bộ."""
    async with sessions() as s, s.begin():
        commune = await ensure_unit(s, COMMUNE, NOW)
        thon2 = await ensure_unit(s, THON2, NOW)
        thon3 = await ensure_unit(s, THON3, NOW)
        await set_theme(s, commune, year=2026, title=THEME, now=NOW)
        sec = member(thon2.id, SECRETARY, position="Trưởng ban công tác Mặt trận thôn")
        sec.party_role = "secretary"
        hung = member(thon2.id, RESUBMITTED, position="Trưởng thôn")
        loc = member(thon2.id, EXEMPT, exempt=True)
        hoa = member(thon2.id, NO_PLEDGE, position="Chi hội trưởng <Phụ nữ>")
        gone = member(thon2.id, "Vũ Văn Cũ", active=False)
        son = member(thon3.id, "Hoàng Văn Sơn")
        s.add_all([sec, hung, loc, hoa, gone, son])
        await s.flush()

        common = {"theme_id": None, "study": ["Chuyên đề năm 2026", "Quy định 144"]}
        # the secretary: approved; a newer version waits, and the approved one is shown
        first = await pledges.submit(
            s,
            sec,
            year=2026,
            shortcomings=["Còn ngại phát biểu"],
            items=[
                DraftItem("=SUM(A1)", "5 hộ tham gia", "M9"),
                DraftItem("Dự đủ 12 kỳ sinh hoạt", "12/12 kỳ", "monthly", breakthrough=True),
            ],
            now=NOW,
            **common,
        )
        await pledges.decide(s, first, approve=True, by=sec, now=NOW)
        await pledges.submit(
            s,
            sec,
            year=2026,
            shortcomings=["Còn ngại phát biểu"],
            items=[DraftItem("Việc mới đang chờ duyệt", "1 việc", "year")],
            now=NOW + timedelta(days=200),
            **common,
        )
        # returned, then resubmitted and approved
        v1 = await pledges.submit(
            s,
            hung,
            year=2026,
            shortcomings=["Chưa sát dân"],
            items=[DraftItem("Giữ gìn phẩm chất", "tốt", "year")],
            now=NOW,
            **common,
        )
        await pledges.decide(s, v1, approve=False, by=sec, now=NOW, comment="Chưa cụ thể")
        v2 = await pledges.submit(
            s,
            hung,
            year=2026,
            shortcomings=["Chưa sát dân & còn <ngại> đi cơ sở"],
            items=[
                DraftItem("Giải quyết 100% hồ sơ đúng hạn", "100% hồ sơ", "Q4"),
                DraftItem("Họp dân mỗi quý", "4 buổi", "quarterly"),
            ],
            now=NOW + timedelta(days=1),
            **common,
        )
        await pledges.decide(s, v2, approve=True, by=sec, now=NOW + timedelta(days=2))
        exempt = await pledges.submit(
            s,
            loc,
            year=2026,
            shortcomings=[],
            items=[DraftItem("Kể chuyện Bác cho cháu", "12 buổi", "monthly")],
            now=NOW,
            **common,
        )
        await pledges.decide(s, exempt, approve=True, by=sec, now=NOW)

        def at(day: int, month: int) -> datetime:
            return datetime(2026, month, day, 13, 30, tzinfo=UTC)  # 20:30 in Hà Nội

        E = periods.EntryDraft
        ids = [i.id for i in first.items]
        await periods.save_assessment(
            s,
            sec,
            period="2026-10",
            pledge_id=first.id,
            entries=[E(ids[0], "done"), E(ids[1], "doing", "Đã dự 9/10 kỳ")],
            difficulties="Thiếu kinh phí",
            late=False,
            now=at(1, 10),
        )
        hung_ids = [i.id for i in v2.items]
        await periods.save_assessment(
            s,
            hung,
            period="2026-10",
            pledge_id=v2.id,
            entries=[E(hung_ids[0], "doing"), E(hung_ids[1], "not_yet", "-hoãn sang quý 4")],
            difficulties=None,
            late=True,
            now=at(8, 10),
        )
        await periods.save_assessment(
            s,
            hung,
            period="2026-11",
            pledge_id=v2.id,
            entries=[E(hung_ids[0], "done"), E(hung_ids[1], "doing")],
            difficulties="@ghi chú",
            late=False,
            now=at(2, 11),
            entered_by=sec.id,
        )
        excused = await periods.ensure_mark(s, sec.id, "2026-11", at(1, 11))
        excused.excuse, excused.excuse_reason = "approved", "Đi công tác"
        reviewed = await periods.ensure_mark(s, hung.id, "2026-11", at(4, 11))
        reviewed.reviewed_at, reviewed.review_comment = at(4, 11), "Cần đẩy nhanh việc 2"
        # another year, and another chi bộ: not in the export of thôn 2 for 2026
        s.add(MemberPeriod(member_id=sec.id, period="2025-12", excuse="approved", updated_at=NOW))
        s.add(MemberPeriod(member_id=son.id, period="2026-09", excuse="approved", updated_at=NOW))


async def export_of(sessions: async_sessionmaker[AsyncSession], path: str) -> UnitExport:
    async with sessions() as s:
        unit = await find_unit(s, path)
        assert unit is not None
        return await unit_export(s, unit, year=2026)


@pytest.fixture
async def export(sessions: async_sessionmaker[AsyncSession]) -> UnitExport:
    await seed(sessions)
    return await export_of(sessions, THON2)


async def test_the_data_of_a_chi_bo(export: UnitExport) -> None:
    assert export.unit_name == "Chi bộ thôn 2" and export.parents == [COMMUNE]
    assert export.year == 2026 and export.theme_title == THEME
    assert export.periods == ["2026-10", "2026-11"]
    by_name = {m.name: m for m in export.members}
    assert [m.name for m in export.members] == [EXEMPT, NO_PLEDGE, RESUBMITTED, SECRETARY]

    sec = by_name[SECRETARY]
    assert sec.pledge is not None and sec.pledge.status == "approved" and sec.pledge.version == 1
    assert [i.action for i in sec.pledge.items] == ["=SUM(A1)", "Dự đủ 12 kỳ sinh hoạt"]
    assert sec.pledge.items[1].breakthrough and sec.party_role == "secretary"
    assert sec.parent_name == COMMUNE
    october = sec.months["2026-10"]
    assert october.statuses == {1: ("done", None), 2: ("doing", "Đã dự 9/10 kỳ")}
    assert not october.late and october.entered_by_name is None
    november = sec.months["2026-11"]
    assert november.excused and november.submitted_at is None and november.statuses == {}

    hung = by_name[RESUBMITTED]
    assert hung.pledge is not None and (hung.pledge.status, hung.pledge.version) == ("approved", 2)
    assert hung.months["2026-10"].late
    assert hung.months["2026-11"].entered_by_name == SECRETARY
    assert hung.months["2026-11"].review_comment == "Cần đẩy nhanh việc 2"

    assert by_name[NO_PLEDGE].pledge is None and by_name[NO_PLEDGE].months == {}
    assert by_name[EXEMPT].exempt and by_name[EXEMPT].months == {}


async def test_a_subtree_in_a_fixed_number_of_queries(
    sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    await seed(sessions)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        small = await export_of(sessions, THON2)
        n_small = len(statements)
        statements.clear()
        whole = await export_of(sessions, COMMUNE)
        n_whole = len(statements)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    # the commune: both chi bộ, by unit path then name; the September excuse of thôn 3 counts
    assert [m.name for m in whole.members][-1] == "Hoàng Văn Sơn" and len(whole.members) == 5
    assert whole.parents == [] and whole.periods == ["2026-09", "2026-10", "2026-11"]
    assert whole.members[-1].parent_name == COMMUNE
    assert len(small.members) == 4
    assert n_small <= 12 and n_whole <= n_small + 1, (n_small, n_whole)


async def test_xlsx(export: UnitExport) -> None:
    wb = load_workbook(io.BytesIO(to_xlsx(export)))
    assert wb.sheetnames == ["Bản đăng ký", "Tháng 10-2026", "Tháng 11-2026"]

    ws = wb["Bản đăng ký"]
    assert [c.value for c in ws[1]] == texts.EXPORT_PLEDGE_HEADERS
    assert ws.freeze_panes == "A2" and ws["A1"].font.bold
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    names = [EXEMPT, NO_PLEDGE, RESUBMITTED, RESUBMITTED, SECRETARY, SECRETARY]
    assert [r[1] for r in rows] == names
    exempt, none, hung1, hung2, sec1, sec2 = rows
    assert exempt[3] == "đã duyệt · miễn sinh hoạt"
    assert none[:4] == ["Chi bộ thôn 2", NO_PLEDGE, "Chi hội trưởng <Phụ nữ>", "Chưa đăng ký"]
    assert none[6] is None
    assert hung1[3] == "đã duyệt (phiên bản 2)"
    assert hung1[5] == "Chưa sát dân & còn <ngại> đi cơ sở" and hung2[5] is None
    assert hung1[6:10] == [1, "Giải quyết 100% hồ sơ đúng hạn", "100% hồ sơ", "Quý IV"]
    assert sec1[4] == "Chuyên đề năm 2026\nQuy định 144"
    assert sec1[7] == "=SUM(A1)" and sec2[10] == "Có" and sec1[10] is None
    formula = ws.cell(row=6, column=8)
    assert formula.value == "=SUM(A1)" and formula.data_type == "s" and formula.quotePrefix
    assert sec2[9] == "Hằng tháng"

    ws = wb["Tháng 10-2026"]
    assert [c.value for c in ws[1]] == texts.EXPORT_MONTH_HEADERS
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    by = {(r[1], r[5]): r for r in rows}
    assert by[(EXEMPT, None)][2] == "miễn sinh hoạt"
    assert by[(NO_PLEDGE, None)][2] == "không nộp"
    late = by[(RESUBMITTED, 1)]
    assert late[2] == "nộp muộn" and late[3] == datetime(2026, 10, 8, 20, 30)
    assert late[6:8] == ["Giải quyết 100% hồ sơ đúng hạn", "Đang thực hiện"]
    note = by[(RESUBMITTED, 2)]
    assert note[7:9] == ["Chưa thực hiện", "-hoãn sang quý 4"]
    assert ws.cell(row=rows.index(note) + 2, column=9).data_type == "s"
    sec = by[(SECRETARY, 2)]
    assert sec[2] == "đã nộp"
    assert sec[6:9] == ["Dự đủ 12 kỳ sinh hoạt", "Đang thực hiện", "Đã dự 9/10 kỳ"]
    assert by[(SECRETARY, 1)][9] == "Thiếu kinh phí"

    ws = wb["Tháng 11-2026"]
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    by = {(r[1], r[5]): r for r in rows}
    assert by[(SECRETARY, None)][2] == "vắng có lý do"
    entered = by[(RESUBMITTED, 1)]
    assert entered[2] == "đã nộp" and entered[4] == SECRETARY
    assert entered[9:11] == ["@ghi chú", "Cần đẩy nhanh việc 2"]


def paragraphs_of(doc: Any) -> list[str]:
    return [p.text for p in doc.paragraphs]


async def test_docx(export: UnitExport) -> None:
    data = to_docx(export, place="Hưng Bình", today=TODAY)
    doc = Document(io.BytesIO(data))
    texts_ = paragraphs_of(doc)
    assert texts_.count(TITLE) == 4
    assert len(doc.tables) == 12  # per member: the header, the items, the signatures
    breaks = doc.element.body.findall(".//" + qn("w:br"))
    assert len([b for b in breaks if b.get(qn("w:type")) == "page"]) == 3

    header = doc.tables[0].rows[0].cells
    assert [p.text for p in header[0].paragraphs] == [
        "ĐẢNG BỘ XÃ HƯNG BÌNH",
        "CHI BỘ THÔN 2",
        "*",
    ]
    assert [p.text for p in header[1].paragraphs] == [
        "ĐẢNG CỘNG SẢN VIỆT NAM",
        "Hưng Bình, ngày 05 tháng 12 năm 2026",
    ]
    assert f"Chuyên đề năm 2026: {THEME}" in texts_
    assert f"Họ và tên: {RESUBMITTED}" in texts_  # the tags print as typed
    assert f"Họ và tên: {NO_PLEDGE}" in texts_
    assert "Chức vụ: Chi hội trưởng <Phụ nữ>" in texts_
    assert "- Chưa sát dân & còn <ngại> đi cơ sở" in texts_

    def rows(table: Any) -> list[list[str]]:
        return [[c.text for c in row.cells] for row in table.rows]

    # members in export order: the exempt one, the one without pledge (a blank form), …
    assert rows(doc.tables[1]) == [
        ["STT", "Việc làm", "Kết quả/sản phẩm", "Thời hạn"],
        ["1", "Kể chuyện Bác cho cháu", "12 buổi", "Hằng tháng"],
    ]
    blank = rows(doc.tables[4])
    assert len(blank) == 4 and blank[1][0] == "1" and blank[1][2] == ""
    assert rows(doc.tables[10]) == [
        ["STT", "Việc làm", "Kết quả/sản phẩm", "Thời hạn"],
        ["1", "=SUM(A1)", "5 hộ tham gia", "Tháng 9"],
        ["2", "Dự đủ 12 kỳ sinh hoạt (đột phá)", "12/12 kỳ", "Hằng tháng"],
    ]
    signatures = rows(doc.tables[11])[0]
    assert signatures[0].startswith("XÁC NHẬN CỦA CHI BỘ\nBÍ THƯ")
    assert signatures[1].startswith("NGƯỜI ĐĂNG KÝ") and signatures[1].endswith(SECRETARY)


async def test_docx_with_a_province_template(export: UnitExport, tmp_path: Path) -> None:
    template = Document()
    template.add_paragraph("Mẫu của tỉnh, năm {{ year }}: {{ members|length }} đồng chí")
    template.add_paragraph("{%p for m in members %}")
    template.add_paragraph("{{ m.name }} — {{ m.status }}")
    template.add_paragraph("{%p endfor %}")
    path = tmp_path / "mau-tinh.docx"
    template.save(str(path))
    doc = Document(io.BytesIO(to_docx(export, path, place="Hưng Bình", today=TODAY)))
    assert paragraphs_of(doc) == [
        "Mẫu của tỉnh, năm 2026: 4 đồng chí",
        f"{EXEMPT} — đã duyệt",
        f"{NO_PLEDGE} — Chưa đăng ký",
        f"{RESUBMITTED} — đã duyệt",
        f"{SECRETARY} — đã duyệt",
    ]


async def test_filename(export: UnitExport) -> None:
    assert export_filename(export, "xlsx") == "dang-ky-2026-chi-bo-thon-2.xlsx"
    assert export_filename(export, "docx") == "dang-ky-2026-chi-bo-thon-2.docx"
