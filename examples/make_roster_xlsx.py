"""Write examples/roster.xlsx from examples/roster.csv (the same members, as Excel would hold them).

    python examples/make_roster_xlsx.py [roster.csv [roster.xlsx]]

Plain 10-digit phones are stored as numbers shown with their leading 0, as they often are in
real spreadsheets; the importer restores the 0. Other phones ("0868 442 915", "+84 ...") stay text.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

HERE = Path(__file__).resolve().parent
PLAIN_PHONE = re.compile(r"0\d{9}")


def main(source: Path = HERE / "roster.csv", target: Path = HERE / "roster.xlsx") -> None:
    with source.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header, data = rows[0], rows[1:]
    phone_col = header.index("Điện thoại")

    wb = Workbook()
    ws = wb.active
    ws.title = "Danh sách đảng viên"
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for values in data:
        cells: list[object] = list(values)
        if values[0].isdigit():
            cells[0] = int(values[0])  # STT
        phone = values[phone_col]
        if PLAIN_PHONE.fullmatch(phone):
            cells[phone_col] = int(phone)
        ws.append(cells)
        if isinstance(cells[phone_col], int):
            ws.cell(row=ws.max_row, column=phone_col + 1).number_format = "0000000000"

    for i, name in enumerate(header, start=1):
        longest = max(
            len(str(ws.cell(row=r, column=i).value or "")) for r in range(1, ws.max_row + 1)
        )
        ws.column_dimensions[get_column_letter(i)].width = min(max(len(name), longest) + 2, 60)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    wb.save(target)
    print(f"{target}: {len(data)} rows")


if __name__ == "__main__":
    main(*(Path(arg) for arg in sys.argv[1:3]))
