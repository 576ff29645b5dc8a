"""The rates report across the organisation tree, on SQLite and PostgreSQL: a generated province
(seeded), figures computed here in plain Python from the generated rows and compared field by
field with models.reports; then the renderings (chat text, CSV, XLSX, terminal table, chart)."""

from __future__ import annotations

import csv
import io
import json
import random
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from documents.charts import chart_as_text, chart_png
from documents.report import (
    report_chart,
    report_filename,
    report_rows,
    to_csv,
    to_table,
    to_xlsx,
)
from handlers import texts
from handlers.report_view import report_text
from handlers.text import number_vi, percent_vi
from models.reports import Rates, Report, UnitRow, build_report, default_period, total
from models.tables import (
    Assessment,
    AssessmentEntry,
    Member,
    MemberPeriod,
    Nomination,
    OrgUnit,
    Pledge,
    PledgeItem,
    UnitPeriod,
)

NOW = datetime(2026, 5, 20, 3, 0, tzinfo=UTC)
YEAR, PERIOD = 2026, "2026-05"
MONTHS = [f"2026-{m:02d}" for m in range(1, 6)]
HYPERLINK = '=HYPERLINK("x")'
ESCAPED = "Đảng bộ xã <Hòa> & Bình"


@dataclass
class Gen:
    """The generated rows, by table, and what the expectations need to know about them."""

    rng: random.Random
    tables: dict[Any, list[dict[str, Any]]] = field(default_factory=dict)
    next_id: dict[Any, int] = field(default_factory=dict)
    units: dict[int, dict[str, Any]] = field(default_factory=dict)
    named: dict[str, int] = field(default_factory=dict)

    def add(self, table: Any, **row: Any) -> int:
        row["id"] = self.next_id.get(table, 1)
        self.next_id[table] = row["id"] + 1
        self.tables.setdefault(table, []).append(row)
        return int(row["id"])

    def unit(self, name: str, kind: str, parent: int | None, closed: bool = False) -> int:
        uid = self.next_id.get(OrgUnit, 1)
        path = (self.units[parent]["path"] if parent else "/") + f"{uid}/"
        self.add(
            OrgUnit,
            parent_id=parent,
            kind=kind,
            name=name,
            path=path,
            created_at=NOW,
            closed_at=NOW if closed else None,
        )
        self.units[uid] = {"parent": parent, "path": path, "kind": kind, "closed": closed}
        self.named[name] = uid
        return uid

    def members(self, unit: int, n: int) -> None:
        for _ in range(n):
            self.member(unit)

    def member(self, unit: int) -> None:
        rng = self.rng
        mid = self.next_id.get(Member, 1)
        self.add(
            Member,
            unit_id=unit,
            full_name=f"Đảng viên {mid}",
            name_key=f"dang vien {mid}",
            exempt=rng.random() < 0.08,
            active=rng.random() < 0.95,
            created_at=NOW,
            updated_at=NOW,
        )
        # pledges: none, one version, or two versions; a few from last year
        if rng.random() < 0.05:
            self.pledge(mid, 2025, 1, "approved")
        shape = rng.random()
        if shape < 0.1:
            return
        if shape < 0.75:
            status = rng.choice(["approved", "approved", "approved", "submitted", "returned"])
            pledge = self.pledge(mid, YEAR, 1, status)
        elif shape < 0.88:
            self.pledge(mid, YEAR, 1, "superseded")
            pledge = self.pledge(mid, YEAR, 2, rng.choice(["approved", "submitted"]))
        else:  # approved, then a new version waiting: the approved one stays in force
            self.pledge(mid, YEAR, 1, "approved")
            pledge = self.pledge(mid, YEAR, 2, "submitted")
        items = [
            self.add(
                PledgeItem,
                pledge_id=pledge,
                position=i,
                action="Việc",
                result="Kết quả",
                deadline="M6",
            )
            for i in range(rng.randint(2, 3))
        ]
        for period in ["2025-12", *MONTHS, "2026-06"]:
            mark = rng.random()
            if mark < 0.06:
                excuse = rng.choice(["approved", "approved", "requested", "rejected"])
                self.add(MemberPeriod, member_id=mid, period=period, excuse=excuse, updated_at=NOW)
            if rng.random() < 0.75:
                aid = self.add(
                    Assessment,
                    member_id=mid,
                    period=period,
                    pledge_id=pledge,
                    submitted_at=NOW,
                    updated_at=NOW,
                )
                for item in items:
                    status = rng.choice(["done", "done", "doing", "not_yet"])
                    self.add(AssessmentEntry, assessment_id=aid, pledge_item_id=item, status=status)

    def pledge(self, member: int, year: int, version: int, status: str) -> int:
        return self.add(
            Pledge,
            member_id=member,
            year=year,
            version=version,
            status=status,
            study=[],
            shortcomings=[],
            submitted_at=NOW,
        )

    def nominations(self, unit: int, n: int) -> None:
        rng = self.rng
        for _ in range(n):
            self.add(
                Nomination,
                unit_id=unit,
                year=rng.choice([YEAR, YEAR, YEAR, 2025]),
                kind=rng.choice(["mo_hinh", "dien_hinh"]),
                subject=rng.choice(["ca_nhan", "tap_the"]),
                party_member=rng.random() < 0.7,
                replicated=rng.random() < 0.3,
                name="Mô hình",
                description="…",
                created_at=NOW,
            )

    def reviews(self, unit: int) -> None:
        for period in ["2025-12", *MONTHS]:
            if self.rng.random() < 0.6:
                self.add(UnitPeriod, unit_id=unit, period=period, reviewed_at=NOW)


def generate() -> Gen:
    g = Gen(random.Random(20260505))
    rng = g.rng
    root = g.unit("Đảng bộ tỉnh Thử Nghiệm", "dang_bo", None)
    g.members(root, 6)  # members held directly by the province unit
    g.nominations(root, 3)
    cells: list[int] = []
    a = g.unit("Đảng bộ xã Hưng Bình", "dang_bo", root)
    cells += [g.unit(f"Chi bộ thôn {n}", "chi_bo", a) for n in range(1, 13)]
    office = g.unit("Đảng bộ cơ quan xã", "dang_bo", a)  # the grandchild drill-down
    cells += [g.unit(f"Chi bộ {n} & <khối>", "chi_bo", office) for n in range(1, 6)]
    g.reviews(office)  # a đảng bộ without members of its own is not a chi bộ
    empty = g.unit("Chi bộ mới thành lập", "chi_bo", a)  # no members: still a chi bộ
    g.reviews(empty)
    closed = g.unit("Chi bộ thôn Cũ", "chi_bo", a, closed=True)
    g.members(closed, 9)  # left over after a merge: not counted, nor is anything under it
    g.reviews(closed)
    g.nominations(closed, 4)
    under_closed = g.unit("Tổ đảng Cũ", "to_dang", closed)
    g.members(under_closed, 3)
    b = g.unit(ESCAPED, "dang_bo", root)
    cells += [g.unit(f"Chi bộ khu phố {n}", "chi_bo", b) for n in range(1, 13)]
    team = g.unit("Tổ công tác đặc biệt", "don_vi", b)  # holds members: counted as a chi bộ
    cells.append(team)
    g.reviews(b)
    c = g.unit(HYPERLINK, "dang_bo", root)
    cells += [g.unit(f"Chi bộ ấp {n}", "chi_bo", c) for n in range(1, 11)]
    g.members(c, 4)
    g.nominations(c, 2)
    for cell in cells:
        g.members(cell, rng.randint(15, 45))
        g.reviews(cell)
        g.nominations(cell, rng.randint(0, 3))
    other = g.unit("Đảng bộ tỉnh Khác", "dang_bo", None)  # outside the report
    other_cell = g.unit("Chi bộ 1", "chi_bo", other)
    g.members(other_cell, 30)
    g.reviews(other_cell)
    g.nominations(other_cell, 3)
    return g


async def store(sessions: async_sessionmaker[AsyncSession], g: Gen) -> None:
    order = [
        OrgUnit,
        Member,
        Pledge,
        PledgeItem,
        Assessment,
        AssessmentEntry,
        MemberPeriod,
        UnitPeriod,
        Nomination,
    ]
    async with sessions() as s, s.begin():
        for table in order:
            await s.execute(insert(table), g.tables[table])


# -- the expected figures, straight from the generated rows -------------------------------------


def included(g: Gen, top: int) -> set[int]:
    """The units of top's subtree that count: none closed between top and them."""
    prefix = g.units[top]["path"]
    result = set()
    for uid, u in g.units.items():
        if not u["path"].startswith(prefix):
            continue
        chain = [int(x) for x in u["path"].strip("/").split("/")]
        chain = chain[chain.index(top) + 1 :]
        if not any(g.units[x]["closed"] for x in chain):
            result.add(uid)
    return result


def expected(g: Gen, units: set[int], period: str = PERIOD) -> Rates:
    t = g.tables
    members = [m for m in t[Member] if m["unit_id"] in units and m["active"]]
    required = {m["id"] for m in members if not m["exempt"]}
    pledges = [p for p in t[Pledge] if p["year"] == YEAR and p["member_id"] in required]
    excused = {
        mp["member_id"]
        for mp in t[MemberPeriod]
        if mp["period"] == period and mp["excuse"] == "approved"
    }
    counted = required - excused
    assessments = {
        a["id"] for a in t[Assessment] if a["period"] == period and a["member_id"] in counted
    }
    entries = [e["status"] for e in t[AssessmentEntry] if e["assessment_id"] in assessments]
    holders = {m["unit_id"] for m in members}
    cells = {
        u
        for u in units
        if not g.units[u]["closed"] and (g.units[u]["kind"] == "chi_bo" or u in holders)
    }
    reviewed = {up["unit_id"] for up in t[UnitPeriod] if up["period"] == period}
    noms = [n for n in t[Nomination] if n["unit_id"] in units and n["year"] == YEAR]

    def count(**where: Any) -> int:
        return sum(1 for n in noms if all(n[k] == v for k, v in where.items()))

    return Rates(
        members=len(members),
        exempt=len(members) - len(required),
        required=len(required),
        registered=len({p["member_id"] for p in pledges}),
        approved=len({p["member_id"] for p in pledges if p["status"] == "approved"}),
        counted=len(counted),
        assessed=len(assessments),
        items_done=entries.count("done"),
        items_doing=entries.count("doing"),
        items_not_yet=entries.count("not_yet"),
        cells=len(cells),
        cells_reviewed=len(cells & reviewed),
        models_collective=count(kind="mo_hinh", subject="tap_the"),
        models_individual=count(kind="mo_hinh", subject="ca_nhan"),
        models_replicated=count(kind="mo_hinh", replicated=True),
        exemplars_collective=count(kind="dien_hinh", subject="tap_the"),
        exemplars_individual=count(kind="dien_hinh", subject="ca_nhan"),
        exemplars_party=count(kind="dien_hinh", subject="ca_nhan", party_member=True),
        exemplars_masses=count(kind="dien_hinh", subject="ca_nhan", party_member=False),
    )


def open_children(g: Gen, uid: int) -> list[int]:
    return sorted(c for c, u in g.units.items() if u["parent"] == uid and not u["closed"])


async def report_for(
    sessions: async_sessionmaker[AsyncSession], uid: int, period: str = PERIOD
) -> Report:
    async with sessions() as s:
        unit = await s.get(OrgUnit, uid)
        assert unit is not None
        return await build_report(s, unit, year=YEAR, period=period)


def check(g: Gen, report: Report, uid: int) -> None:
    assert report.unit.unit_id == uid and report.unit.depth == 0
    assert report.unit.rates == expected(g, included(g, uid))
    kids = open_children(g, uid)
    assert [c.unit_id for c in report.children] == kids
    for child in report.children:
        assert child.depth == 1
        assert child.rates == expected(g, included(g, child.unit_id)), child.name
    # the unit = its children + what it holds directly
    own = expected(g, {uid})
    assert total(c.rates for c in report.children) + own == report.unit.rates
    assert report.own == own
    # the trend: every month up to the period, over the whole subtree
    whole = included(g, uid)
    trend = []
    for p in MONTHS:
        r = expected(g, whole, p)
        trend.append((p, r.assessed, r.counted))
    assert report.trend == trend


@pytest.fixture(scope="module")
def generated() -> Gen:
    return generate()


async def test_the_report_matches_the_rows_at_every_level(
    sessions: async_sessionmaker[AsyncSession], generated: Gen
) -> None:
    g = generated
    assert len(g.tables[Member]) >= 1000
    await store(sessions, g)
    root = g.named["Đảng bộ tỉnh Thử Nghiệm"]
    report = await report_for(sessions, root)
    check(g, report, root)
    r = report.unit.rates
    # the data exercises every rule
    assert r.exempt and r.registered < r.required and r.approved < r.registered
    assert r.counted < r.required and 0 < r.assessed < r.counted
    assert r.items_done and r.items_doing and r.items_not_yet
    assert 0 < r.cells_reviewed < r.cells == 43  # 40 chi bộ, the team, two holders
    assert r.models_collective and r.models_individual and r.models_replicated
    assert r.exemplars_collective and r.exemplars_party and r.exemplars_masses
    assert not report.own.is_empty() and report.own.cells == 1  # its 6 members
    assert [c.name for c in report.children] == ["Đảng bộ xã Hưng Bình", ESCAPED, HYPERLINK]

    commune = g.named["Đảng bộ xã Hưng Bình"]
    report = await report_for(sessions, commune)
    check(g, report, commune)
    assert g.named["Chi bộ thôn Cũ"] not in [c.unit_id for c in report.children]

    office = g.named["Đảng bộ cơ quan xã"]  # drill-down to a grandchild
    report = await report_for(sessions, office, "2026-03")
    assert report.period == "2026-03" and [p for p, _, _ in report.trend] == MONTHS[:3]
    for p in MONTHS[:3]:
        assert report.trend[MONTHS.index(p)][1:] == (
            expected(g, included(g, office), p).assessed,
            expected(g, included(g, office), p).counted,
        )
    report = await report_for(sessions, office)
    check(g, report, office)
    assert len(report.children) == 5

    cell = g.named["Chi bộ thôn 1"]  # a chi bộ: itself, no children
    report = await report_for(sessions, cell)
    check(g, report, cell)
    assert report.children == [] and report.unit.rates.cells == 1

    closed = g.named["Chi bộ thôn Cũ"]  # asked for directly, a closed unit still reports
    report = await report_for(sessions, closed)
    check(g, report, closed)
    assert report.unit.rates.members > 0 and len(report.children) == 1
    assert report.unit.rates.cells == 1  # the tổ đảng under it, not the closed chi bộ

    async with sessions() as s:
        unit = await s.scalar(select(OrgUnit).where(OrgUnit.id == root))
        assert unit is not None
        with pytest.raises(ValueError):
            await build_report(s, unit, year=2026, period="2025-12")
        with pytest.raises(ValueError):
            await build_report(s, unit, year=2026, period="2026-13")


async def test_the_files_and_the_chart(
    sessions: async_sessionmaker[AsyncSession], generated: Gen
) -> None:
    from openpyxl import load_workbook
    from PIL import Image

    g = generated
    await store(sessions, g)
    report = await report_for(sessions, g.named["Đảng bộ tỉnh Thử Nghiệm"])
    rows = report_rows(report)
    assert rows[0] == list(texts.REPORT_COLUMNS) and len(rows[0]) == 21
    assert [row[0] for row in rows[1:4]] == ["Đảng bộ xã Hưng Bình", ESCAPED, HYPERLINK]
    assert rows[4][0] == texts.REPORT_OWN.format(unit="Đảng bộ tỉnh Thử Nghiệm")
    assert rows[-1][0] == texts.REPORT_TOTAL.format(unit="Đảng bộ tỉnh Thử Nghiệm")
    r = report.unit.rates
    assert rows[-1][1:6] == [
        r.members,
        r.exempt,
        r.required,
        r.registered,
        round(100 * r.registered / r.required, 1),
    ]
    # every numeric column: the rows above the total add up to it (percent columns aside)
    for c in range(1, 21):
        if "(%)" not in texts.REPORT_COLUMNS[c]:
            assert sum(int(row[c]) for row in rows[1:-1]) == rows[-1][c]

    # XLSX
    assert report_filename(report, "xlsx") == "bao-cao-dang-bo-tinh-thu-nghiem-2026-05.xlsx"
    data = to_xlsx(report)
    wb = load_workbook(io.BytesIO(data))
    ws = wb[texts.REPORT_SHEET]
    assert ws["A1"].value == texts.REPORT_FILE_TITLE
    assert ws["A1"].value.startswith("PHỤ LỤC SỐ LIỆU")
    subtitle = ws["A2"].value
    assert "Đảng bộ tỉnh Thử Nghiệm" in subtitle and "2026" in subtitle and "5/2026" in subtitle
    assert [cell.value for cell in ws[4]] == list(texts.REPORT_COLUMNS)
    assert ws["A4"].font.b
    assert ws.freeze_panes == "B5"
    by_name = {ws.cell(row=i, column=1).value: i for i in range(5, ws.max_row + 1)}
    for row in rows[1:]:
        i = by_name[row[0]]
        values = [ws.cell(row=i, column=c).value for c in range(1, 22)]
        assert values == [None if v == "" else v for v in row]
    link = ws.cell(row=by_name[HYPERLINK], column=1)
    assert link.value == HYPERLINK and link.data_type == "s"
    assert isinstance(ws.cell(row=by_name[HYPERLINK], column=2).value, int)
    assert ws.cell(row=by_name[HYPERLINK], column=6).number_format == "0.0"
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/")]
    assert not any("<f>" in sheet or "<f " in sheet for sheet in sheets)
    trend = wb[texts.REPORT_TREND_SHEET]
    assert [c.value for c in trend[1]] == list(texts.REPORT_TREND_COLUMNS)
    assert [[c.value for c in row] for row in trend.iter_rows(min_row=2)] == [
        [f"{int(p[5:])}/2026", a, n, round(100 * a / n, 1)] for p, a, n in report.trend
    ]

    # CSV: UTF-8 with a BOM; a text starting like a formula gets Excel's apostrophe
    data = to_csv(report)
    assert data.startswith(b"\xef\xbb\xbf")
    parsed = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert parsed == [[("'" + v if v == HYPERLINK else str(v)) for v in row] for row in rows]
    assert [row[0] for row in parsed if "HYPERLINK" in row[0]] == ["'" + HYPERLINK]

    # the terminal table
    table = to_table(report)
    lines = table.splitlines()
    assert lines[0].startswith("Đơn vị")
    assert all(any(line.startswith(str(row[0])) for line in lines) for row in rows[1:])
    assert number_vi(r.members) in lines[-1]

    # the chart: JSON, a PNG, and words for channels without pictures
    spec = report_chart(report)
    assert json.loads(json.dumps(spec)) == spec and spec["kind"] == "rates"
    assert [u[0] for u in spec["units"]] == [c.name for c in report.children]
    assert len(spec["trend"]) == 5
    png = chart_png(spec)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as image:
        width, height = image.size
        assert 600 <= width <= 1200 and 500 <= height <= 2000
    assert chart_png({"title": "t", "bars": [["a", 1]]}).startswith(b"\x89PNG")
    words = chart_as_text(spec)
    assert ESCAPED in words and "Theo tháng" in words and "%" in words

    # the chat message: names escaped, the unit's and each child's rates
    text = report_text(report)
    assert "Đảng bộ xã &lt;Hòa&gt; &amp; Bình" in text and ESCAPED not in text
    assert (
        texts.REPORT_REGISTERED.format(
            n=number_vi(r.registered),
            total=number_vi(r.required),
            percent=percent_vi(r.registered, r.required),
        )
        in text
    )
    assert text.count("\n• ") == 4  # three children and the province's own members


def test_the_chat_message_formats_numbers_and_percents_the_vietnamese_way() -> None:
    rates = Rates(
        members=3_700,
        exempt=39,
        required=3_661,
        registered=3_554,
        approved=3_400,
        counted=3_600,
        assessed=3_240,
        items_done=7_000,
        items_doing=1_200,
        items_not_yet=300,
        cells=120,
        cells_reviewed=96,
        models_collective=52,
        models_individual=1_322,
        models_replicated=18,
        exemplars_collective=130,
        exemplars_individual=762,
        exemplars_party=539,
        exemplars_masses=223,
    )
    child = UnitRow(2, "Chi bộ <A> & B", 1, rates)
    report = Report(2026, "2026-05", UnitRow(1, "Đảng bộ xã X", 0, rates), [child], [])
    text = report_text(report)
    assert "Đã đăng ký: 3.554/3.661 — 97,1%" in text
    assert "3.240/3.600 — 90,0%" in text
    assert "96/120 — 80,0%" in text
    assert "Chi bộ &lt;A&gt; &amp; B: đăng ký 3.554/3.661 (97,1%), tự đánh giá 3.240/3.600" in text
    assert "<b>Đảng bộ xã X</b>" in text and "tháng 5/2026" in text
    assert percent_vi(0, 0) == "—"
    empty = Report(2026, "2026-01", UnitRow(1, "Chi bộ trống", 0, Rates()), [], [])
    assert "Đã đăng ký: 0/0 — —" in report_text(empty)


def test_default_period_is_the_local_month() -> None:
    late = datetime(2026, 5, 31, 18, 30, tzinfo=UTC)  # 1 June, 01:30 in Hà Nội
    assert default_period(late, "Asia/Ho_Chi_Minh") == "2026-06"
    assert default_period(late, "UTC") == "2026-05"


async def test_the_months_of_a_year_at_once_and_the_non_submitters(
    sessions: async_sessionmaker[AsyncSession], generated: Gen
) -> None:
    """build_reports (the year's roll-up, for bench/) gives each month's build_report; and
    non_submitters lists the members the month's figures count as owing and not assessed."""
    from models.reports import build_reports, non_submitters

    g = generated
    await store(sessions, g)
    for top in (g.named["Đảng bộ tỉnh Thử Nghiệm"], g.named["Chi bộ thôn Cũ"]):
        async with sessions() as s:
            unit = await s.get(OrgUnit, top)
            assert unit is not None
            reports = await build_reports(s, unit, year=YEAR, periods=MONTHS)
            assert [r.period for r in reports] == MONTHS
            for period, report in zip(MONTHS, reports, strict=True):
                assert report == await build_report(s, unit, year=YEAR, period=period)
            check(g, reports[-1], top)
            late = await non_submitters(s, unit, PERIOD)
        units = included(g, top)
        excused = {
            mp["member_id"]
            for mp in g.tables[MemberPeriod]
            if mp["period"] == PERIOD and mp["excuse"] == "approved"
        }
        assessed = {a["member_id"] for a in g.tables[Assessment] if a["period"] == PERIOD}
        owing = {
            (m["unit_id"], m["id"], m["full_name"])
            for m in g.tables[Member]
            if m["unit_id"] in units
            and m["active"]
            and not m["exempt"]
            and m["id"] not in excused | assessed
        }
        assert set(late) == owing and len(late) == len(owing) > 0
        assert [u for u, _, _ in late] == sorted(u for u, _, _ in late)
        rates = reports[-1].unit.rates
        assert len(late) == rates.counted - rates.assessed
