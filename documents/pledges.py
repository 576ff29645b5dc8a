"""Render a unit's export (models/exports.py) as an XLSX workbook or as printable DOCX forms.
Rendering only: no database access here.

The DOCX is one docxtpl template rendered once for all members: its body is a
{%p for m in members %} loop with a page break before every member but the first. One pass
keeps everything a province may put in its template (styles, numbering, a logo, headers and
footers) intact; rendering per member and gluing bodies together with python-docx would have to
copy relationships and numbering by hand (docxcompose, which does that, is not a dependency).
Values are autoescaped, so "<b>" or "&" typed by a member prints as typed.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from handlers import deadlines, texts
from handlers.text import fold
from models.exports import MemberExport, MonthExport, UnitExport

DEFAULT_TEMPLATE = Path(__file__).resolve().parent / "templates" / "pledge_form.docx"

# Characters XML 1.0 cannot hold, and those docxtpl turns into breaks (\a paragraph, \f page,
# \v): never from a member's text. Newlines and tabs stay.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# A spreadsheet reads a cell starting with one of these as a formula when it is edited.
_FORMULA_START = ("=", "+", "-", "@")

PLEDGE_WIDTHS = (24, 24, 20, 18, 36, 36, 8, 44, 32, 16, 9)
MONTH_WIDTHS = (24, 24, 16, 17, 20, 8, 44, 18, 36, 36, 36)
DATETIME_FORMAT = "dd/mm/yyyy hh:mm"


def plain(value: str) -> str:
    return _UNSAFE.sub("", value)


def deadline_words(code: str) -> str:
    try:
        return deadlines.describe(code)
    except (ValueError, KeyError):
        return code


def export_filename(export: UnitExport, fmt: str) -> str:
    """ "dang-ky-2026-chi-bo-thon-2.xlsx": ASCII, safe in any chat client and file system."""
    slug = re.sub(r"[^a-z0-9]+", "-", fold(export.unit_name)).strip("-") or "don-vi"
    return texts.EXPORT_FILENAME.format(year=export.year, unit=slug, ext=fmt.lower().lstrip("."))


# -- XLSX ---------------------------------------------------------------------------------------


class _Sheet:
    """Rows appended with every text stored as a literal string, never a formula."""

    def __init__(self, ws: Any, headers: list[str], widths: tuple[int, ...]) -> None:
        self.ws, self.row = ws, 0
        self.wrap = Alignment(wrap_text=True, vertical="top")
        self.append(headers)
        for cell in ws[1]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
        for i, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = width
        ws.freeze_panes = "A2"

    def append(self, values: list[Any]) -> None:
        self.row += 1
        for col, value in enumerate(values, start=1):
            cell = self.ws.cell(row=self.row, column=col)
            if isinstance(value, str):
                value = plain(value)
                cell.value = value
                cell.data_type = "s"  # openpyxl makes "=…" a formula: undo that
                if value.startswith(_FORMULA_START):
                    cell.quotePrefix = True  # and Excel keeps it text when the cell is edited
            else:
                cell.value = value
                if isinstance(value, datetime):
                    cell.number_format = DATETIME_FORMAT
            cell.alignment = self.wrap

    def finish(self) -> None:
        self.ws.auto_filter.ref = self.ws.dimensions
        self.ws.print_title_rows = "1:1"


def _lines(values: list[str]) -> str:
    return "\n".join(values)


def _pledge_status(m: MemberExport) -> str:
    if m.pledge is None:
        status = texts.EXPORT_NO_PLEDGE
    else:
        status = texts.STATUS.get(m.pledge.status, m.pledge.status)
        if m.pledge.version > 1:
            status = texts.EXPORT_PLEDGE_STATUS.format(status=status, version=m.pledge.version)
    return texts.EXPORT_EXEMPT.format(status=status) if m.exempt else status


def _pledge_rows(sheet: _Sheet, m: MemberExport) -> None:
    who = [m.unit_name, m.name, m.position, _pledge_status(m)]
    if m.pledge is None or not m.pledge.items:
        study = _lines(m.pledge.study) if m.pledge else ""
        shortcomings = _lines(m.pledge.shortcomings) if m.pledge else ""
        sheet.append([*who, study, shortcomings])
        return
    for n, item in enumerate(m.pledge.items):
        first = n == 0
        sheet.append(
            [
                *who,
                _lines(m.pledge.study) if first else "",
                _lines(m.pledge.shortcomings) if first else "",
                item.position,
                item.action,
                item.result,
                deadline_words(item.deadline),
                texts.EXPORT_YES if item.breakthrough else "",
            ]
        )


def _month_status(m: MemberExport, month: MonthExport | None) -> str:
    """As models/periods.status_of, for a month that is over."""
    if m.exempt:
        key = "exempt"
    elif month is not None and month.excused:
        key = "excused"
    elif month is not None and month.submitted_at is not None:
        key = "late" if month.late else "submitted"
    else:
        key = "not_submitted"
    return texts.PERIOD_STATUS[key]


def _month_rows(sheet: _Sheet, m: MemberExport, month: MonthExport | None, tz: ZoneInfo) -> None:
    status = _month_status(m, month)
    submitted = (
        month.submitted_at.astimezone(tz).replace(tzinfo=None)
        if month is not None and month.submitted_at is not None
        else None
    )
    entered_by = (month.entered_by_name or "") if month else ""
    difficulties = (month.difficulties or "") if month else ""
    comment = (month.review_comment or "") if month else ""
    actions = {i.position: i.action for i in m.pledge.items} if m.pledge else {}
    statuses = month.statuses if month is not None and submitted is not None else {}
    if not statuses:
        who = [m.unit_name, m.name, status, submitted, entered_by]
        sheet.append([*who, None, "", "", "", difficulties, comment])
        return
    for n, position in enumerate(sorted(statuses)):
        key, note = statuses[position]
        first = n == 0
        sheet.append(
            [
                m.unit_name,
                m.name,
                status,
                submitted if first else None,
                entered_by if first else "",
                position,
                actions.get(position, ""),
                texts.ASSESS_SCALE.get(key, key),
                note or "",
                difficulties if first else "",
                comment if first else "",
            ]
        )


def month_sheet_name(period: str) -> str:
    year, month = period.split("-")
    return texts.EXPORT_SHEET_MONTH.format(month=int(month), year=year)


def to_xlsx(export: UnitExport) -> bytes:
    """Sheet "Bản đăng ký" (a row per pledge item), then a sheet per month of the year."""
    wb = Workbook()
    ws = wb.active
    ws.title = texts.EXPORT_SHEET_PLEDGES
    pledges = _Sheet(ws, texts.EXPORT_PLEDGE_HEADERS, PLEDGE_WIDTHS)
    for m in export.members:
        _pledge_rows(pledges, m)
    pledges.finish()
    tz = ZoneInfo(export.timezone)
    for period in export.periods:
        sheet = _Sheet(
            wb.create_sheet(month_sheet_name(period)), texts.EXPORT_MONTH_HEADERS, MONTH_WIDTHS
        )
        for m in export.members:
            _month_rows(sheet, m, m.months.get(period), tz)
        sheet.finish()
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# -- DOCX ---------------------------------------------------------------------------------------


def header_line(name: str | None, kind: str) -> str:
    """ "Chi bộ thôn 2" -> "CHI BỘ THÔN 2"; "Thôn 2" -> "CHI BỘ THÔN 2" (the kind added)."""
    if not name:
        return ""
    if not fold(name).startswith(texts.EXPORT_KIND_PREFIXES):
        name = f"{kind} {name}"
    return plain(name).upper()


def _two_digits(n: int, upto: int) -> str:
    """Dates on party documents: days 1-9 and months 1-2 with a leading zero."""
    return f"{n:02d}" if n <= upto else str(n)


def _member_context(m: MemberExport) -> SimpleNamespace:
    """A namespace, not a dict: in Jinja, m.items of a dict would be dict.items."""
    p = m.pledge
    blank = [texts.EXPORT_BLANK_LINE] * 2
    if p is not None:
        items = [
            SimpleNamespace(
                n=i.position,
                action=plain(i.action),
                result=plain(i.result),
                deadline=deadline_words(i.deadline),
                breakthrough=i.breakthrough,
            )
            for i in p.items
        ]
    else:  # a blank form, filled in by hand
        items = [
            SimpleNamespace(n=n, action="\n", result="", deadline="", breakthrough=False)
            for n in (1, 2, 3)
        ]
    note = ""
    if p is not None and p.status != "approved":
        status = texts.STATUS.get(p.status, p.status)
        note = texts.EXPORT_FORM_NOTE.format(version=p.version, status=status)
    return SimpleNamespace(
        name=plain(m.name),
        position=plain(m.position),
        party_role=texts.EXPORT_PARTY_ROLES.get(m.party_role, ""),
        category=texts.EXPORT_CATEGORIES.get(m.category, ""),
        unit_name=plain(m.unit_name),
        parent_name=plain(m.parent_name or ""),
        unit=header_line(m.unit_name, texts.EXPORT_UNIT_KIND),
        parent=header_line(m.parent_name, texts.EXPORT_PARENT_KIND),
        exempt=m.exempt,
        has_pledge=p is not None,
        status=texts.STATUS.get(p.status, p.status) if p else texts.EXPORT_NO_PLEDGE,
        version=p.version if p else None,
        note=note,
        study=[plain(s) for s in p.study] if p and p.study else blank,
        shortcomings=[plain(s) for s in p.shortcomings] if p and p.shortcomings else blank,
        items=items,
    )


def docx_context(export: UnitExport, *, place: str, today: date) -> dict[str, Any]:
    """What a template sees (listed in README.md, "Mẫu bản đăng ký (DOCX)")."""
    return {
        "year": export.year,
        "unit": plain(export.unit_name),
        "parents": [plain(p) for p in export.parents],
        "theme": plain(export.theme_title or ""),
        "place": plain(place),
        "today": today,
        "day": _two_digits(today.day, 9),
        "month": _two_digits(today.month, 2),
        "members": [_member_context(m) for m in export.members],
    }


def to_docx(export: UnitExport, template: Path | None = None, *, place: str, today: date) -> bytes:
    """One printable pledge form per member, from the template (default: the repo's)."""
    from docxtpl import DocxTemplate

    doc = DocxTemplate(str(template or DEFAULT_TEMPLATE))
    doc.render(docx_context(export, place=place, today=today), autoescape=True)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
