"""The rates report (models/reports.py) as files: the phụ lục số liệu table (rows, CSV, XLSX),
a plain text table for the terminal, and the chart spec for documents/charts.py.

Rows are one per direct child, then what the unit holds directly (when it has children and
members of its own), then the total. Percentages are numbers in percent (97.1), rounded to one
decimal, or empty when there is nothing to count.
"""

from __future__ import annotations

import csv
import io
import re
import textwrap
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from handlers import texts
from handlers.common import month_label
from handlers.text import fold
from models.reports import Rates, Report

Cell = str | int | float
PERCENT_COLUMNS = frozenset(i for i, name in enumerate(texts.REPORT_COLUMNS) if "(%)" in name)
# What a spreadsheet would read as a formula (or DDE) at the start of a text cell.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def pct(n: int, total: int) -> float | str:
    """97.1 (percent, one decimal); "" when there is nothing to count."""
    return round(100 * n / total, 1) if total else ""


def rates_row(name: str, r: Rates) -> list[Cell]:
    return [
        name,
        r.members,
        r.exempt,
        r.required,
        r.registered,
        pct(r.registered, r.required),
        r.approved,
        r.assessed,
        pct(r.assessed, r.counted),
        r.items_done,
        r.items_doing,
        r.items_not_yet,
        r.cells_reviewed,
        r.cells,
        pct(r.cells_reviewed, r.cells),
        r.models_collective,
        r.models_individual,
        r.models_replicated,
        r.exemplars_collective,
        r.exemplars_party,
        r.exemplars_masses,
    ]


def report_rows(report: Report) -> list[list[Cell]]:
    """The header, one row per child, the unit's own row when it has one, the total."""
    rows: list[list[Cell]] = [list(texts.REPORT_COLUMNS)]
    rows += [rates_row(child.name, child.rates) for child in report.children]
    if report.children:
        own = report.own
        if not own.is_empty():
            rows.append(rates_row(texts.REPORT_OWN.format(unit=report.unit.name), own))
        rows.append(rates_row(texts.REPORT_TOTAL.format(unit=report.unit.name), report.unit.rates))
    else:
        rows.append(rates_row(report.unit.name, report.unit.rates))
    return rows


def report_filename(report: Report, extension: str) -> str:
    """ "bao-cao-dang-bo-xa-hung-binh-2026-05.xlsx": ASCII, safe on every platform."""
    slug = re.sub(r"[^a-z0-9]+", "-", fold(report.unit.name))[:60].strip("-")
    return f"bao-cao-{slug or report.unit.unit_id}-{report.period}.{extension}"


def trend_rows(report: Report) -> list[list[Cell]]:
    rows: list[list[Cell]] = [list(texts.REPORT_TREND_COLUMNS)]
    rows += [
        [month_label(period), assessed, counted, pct(assessed, counted)]
        for period, assessed, counted in report.trend
    ]
    return rows


def _literal(value: Cell) -> Cell:
    """A text cell a spreadsheet would run as a formula, defused for CSV (Excel's apostrophe)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(report: Report) -> bytes:
    """UTF-8 with a BOM, so Excel reads the Vietnamese letters."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows([_literal(v) for v in row] for row in report_rows(report))
    return out.getvalue().encode("utf-8-sig")


def _set(ws: Any, row: int, column: int, value: Cell) -> Any:
    """Write a cell; text is always text (never a formula or an error code), kept exact."""
    cell = ws.cell(row=row, column=column, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
        if value.startswith(FORMULA_START):
            cell.quotePrefix = True  # Excel shows it as typed, even after editing the cell
    return cell


def to_xlsx(report: Report) -> bytes:
    rows = report_rows(report)
    width = len(texts.REPORT_COLUMNS)
    wb = Workbook()
    ws = wb.active
    ws.title = texts.REPORT_SHEET
    month = month_label(report.period)
    thin = Side(style="thin", color="999999")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    bold = Font(bold=True)

    _set(ws, 1, 1, texts.REPORT_FILE_TITLE).font = Font(bold=True, size=13)
    subtitle = texts.REPORT_FILE_SUBTITLE.format(
        unit=report.unit.name, year=report.year, month=month
    )
    _set(ws, 2, 1, subtitle).font = Font(italic=True)
    for r in (1, 2):
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=width)
        ws.cell(row=r, column=1).alignment = Alignment(horizontal="center")

    header_row = 4
    fill = PatternFill("solid", fgColor="E8EEF4")
    for c, name in enumerate(rows[0], start=1):
        cell = _set(ws, header_row, c, name)
        cell.font = bold
        cell.fill = fill
        cell.border = border
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    ws.row_dimensions[header_row].height = 48
    last = header_row + len(rows) - 1
    for r, row in enumerate(rows[1:], start=header_row + 1):
        for c, value in enumerate(row, start=1):
            cell = _set(ws, r, c, value)
            cell.border = border
            if c - 1 in PERCENT_COLUMNS:
                cell.number_format = "0.0"
            if r == last:
                cell.font = bold
    _set(ws, last + 2, 1, texts.REPORT_FILE_NOTE).font = Font(italic=True, size=9)

    names = [len(str(row[0])) for row in rows]
    ws.column_dimensions["A"].width = min(max(names) + 2, 60)
    for c in range(2, width + 1):
        ws.column_dimensions[get_column_letter(c)].width = 13
    ws.freeze_panes = ws.cell(row=header_row + 1, column=2)

    trend = wb.create_sheet(texts.REPORT_TREND_SHEET)
    for r, row in enumerate(trend_rows(report), start=1):
        for c, value in enumerate(row, start=1):
            cell = _set(trend, r, c, value)
            if r == 1:
                cell.font = bold
                cell.fill = fill
                cell.alignment = Alignment(horizontal="center", wrap_text=True)
            elif c == 4:
                cell.number_format = "0.0"
    for c, w in enumerate((10, 16, 16, 16), start=1):
        trend.column_dimensions[get_column_letter(c)].width = w
    trend.freeze_panes = "A2"

    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _text(value: Cell) -> str:
    if isinstance(value, float):
        return f"{value:.1f}".replace(".", ",")
    if isinstance(value, int):
        return f"{value:,}".replace(",", ".")
    return value


def to_table(report: Report) -> str:
    """An aligned plain text table: the headers wrapped over a few lines, numbers right-aligned."""
    rows = report_rows(report)
    body = [[_text(v) for v in row] for row in rows[1:]]
    headers: list[list[str]] = []
    widths: list[int] = []
    for c, name in enumerate(rows[0]):
        values = [len(row[c]) for row in body]
        longest_word = max(len(word) for word in str(name).split())
        w = max([*values, longest_word, 9 if c else 12])
        widths.append(w)
        headers.append(textwrap.wrap(str(name), w))
    height = max(len(h) for h in headers)
    lines = []
    for i in range(height):
        parts = [
            (h[i] if i < len(h) else "").ljust(w) for h, w in zip(headers, widths, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    for row in body:
        parts = [
            v.ljust(w) if c == 0 else v.rjust(w)
            for c, (v, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines) + "\n"


def report_chart(report: Report) -> dict[str, Any]:
    """The chart spec (JSON): registration and self-assessment percent per child (the unit
    itself when it has none), and the monthly self-assessment percent."""
    rows = report.children or [report.unit]

    def value(n: int, total: int) -> float | None:
        return round(100 * n / total, 1) if total else None

    return {
        "kind": "rates",
        "title": texts.REPORT_CHART_TITLE.format(
            unit=report.unit.name, month=month_label(report.period)
        ),
        "units": [
            [
                row.name,
                value(row.rates.registered, row.rates.required),
                value(row.rates.assessed, row.rates.counted),
            ]
            for row in rows
        ],
        "trend": [
            [month_label(period), value(assessed, counted)]
            for period, assessed, counted in report.trend
        ],
    }
