"""Build pledge_form.docx next to this script: the default printable pledge form (a docxtpl
template).

    .venv/bin/python documents/templates/make_pledge_form.py [OUT.docx]

The .docx is generated so that it can be reviewed here and rebuilt byte for byte. A province
with another layout edits a copy in Word instead, keeping the {{ … }} and {%p … %} tags (see
README.md, "Mẫu bản đăng ký (DOCX)").

One template holds every member's form: the body is a single {%p for m in members %} loop with
a page break before every member but the first, so a document is rendered in one pass.
"""

from __future__ import annotations

import io
import sys
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.table import Table
from docx.text.paragraph import Paragraph

OUT = Path(__file__).with_name("pledge_form.docx")
FONT, SIZE = "Times New Roman", Pt(13)
CENTER, JUSTIFY = WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.JUSTIFY

TITLE = "BẢN ĐĂNG KÝ HỌC TẬP VÀ LÀM THEO TƯ TƯỞNG, ĐẠO ĐỨC, PHONG CÁCH HỒ CHÍ MINH NĂM {{ year }}"
COMMITMENT = (
    "Tôi xin cam kết thực hiện nghiêm túc những nội dung đã đăng ký; thường xuyên tự kiểm tra, "
    "báo cáo kết quả thực hiện tại sinh hoạt chi bộ hằng tháng và chịu sự giám sát của chi bộ, "
    "của đảng viên và quần chúng nhân dân."
)


def para(
    where: Any,
    *runs: str | tuple[str, str],
    align: WD_ALIGN_PARAGRAPH | None = None,
    before: float = 0,
    after: float = 3,
    first: bool = False,
) -> Paragraph:
    """A paragraph of runs, a run being a text or (text, "b" / "i" / "bu" …), added to the
    document or a cell; first: fill a new cell's own empty paragraph instead of adding one."""
    p: Paragraph = where.paragraphs[0] if first else where.add_paragraph()
    for run in runs:
        text, style = (run, "") if isinstance(run, str) else run
        r = p.add_run(text)
        r.bold = "b" in style or None
        r.italic = "i" in style or None
        r.underline = "u" in style or None
    fmt = p.paragraph_format
    fmt.alignment = align
    fmt.space_before, fmt.space_after = Pt(before), Pt(after)
    return p


def no_borders(table: Table) -> None:
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        e = OxmlElement(f"w:{edge}")
        e.set(qn("w:val"), "nil")
        borders.append(e)
    table._tbl.tblPr.append(borders)


def widths(table: Table, *cm: float) -> None:
    table.autofit = False
    for column, w in zip(table.columns, cm, strict=True):
        column.width = Cm(w)  # the grid: what LibreOffice and Word lay out
    for row in table.rows:
        for cell, w in zip(row.cells, cm, strict=True):
            cell.width = Cm(w)


def build() -> DocumentObject:
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)  # A4
    section.top_margin = section.bottom_margin = Cm(2)
    section.left_margin, section.right_margin = Cm(3), Cm(1.5)

    normal: Any = doc.styles["Normal"]
    normal.font.name, normal.font.size = FONT, SIZE
    fonts = normal.element.get_or_add_rPr().find(qn("w:rFonts"))
    for attr in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(qn(attr), FONT)
    normal.paragraph_format.space_after = Pt(3)

    para(doc, "{%p for m in members %}")
    para(doc, "{%p if not loop.first %}")
    para(doc, after=0).add_run().add_break(WD_BREAK.PAGE)
    para(doc, "{%p endif %}")

    # the header: the party unit on the left; the party, the place and the date on the right
    head = doc.add_table(rows=1, cols=2)
    head.alignment = WD_TABLE_ALIGNMENT.CENTER
    no_borders(head)
    widths(head, 7, 9.5)
    left, right = head.rows[0].cells
    para(left, "{{ m.parent }}", align=CENTER, first=True)
    para(left, ("{{ m.unit }}", "b"), align=CENTER)
    para(left, "*", align=CENTER)
    para(right, ("ĐẢNG CỘNG SẢN VIỆT NAM", "bu"), align=CENTER, first=True)
    date_line = "{{ place }}, ngày {{ day }} tháng {{ month }} năm {{ today.year }}"
    para(right, (date_line, "i"), align=CENTER, before=6)

    para(doc, (TITLE, "b"), align=CENTER, before=18, after=6)
    para(doc, "{%p if m.note %}")
    para(doc, ("({{ m.note }})", "i"), align=CENTER)
    para(doc, "{%p endif %}")
    para(doc, "Họ và tên: ", ("{{ m.name }}", "b"), before=6)
    para(doc, "Chức vụ: {{ m.position }}")
    para(doc, "Sinh hoạt tại: {{ m.unit_name }}")
    para(doc, "{%p if theme %}")
    para(doc, "Chuyên đề năm {{ year }}: ", ("{{ theme }}", "i"), align=JUSTIFY)
    para(doc, "{%p endif %}")

    sections = (("I. Nội dung học tập", "study"), ("II. Hạn chế cần khắc phục", "shortcomings"))
    for heading, var in sections:
        para(doc, (heading, "b"), before=6)
        para(doc, f"{{%p for s in m.{var} %}}")
        para(doc, "- {{ s }}", align=JUSTIFY)
        para(doc, "{%p endfor %}")

    para(doc, ("III. Việc làm cụ thể", "b"), before=6)
    items = doc.add_table(rows=4, cols=4)
    items.style = doc.styles["Table Grid"]
    items.alignment = WD_TABLE_ALIGNMENT.CENTER
    widths(items, 1.5, 7, 5, 3)
    labels = ("STT", "Việc làm", "Kết quả/sản phẩm", "Thời hạn")
    for cell, label in zip(items.rows[0].cells, labels, strict=True):
        para(cell, (label, "b"), align=CENTER, first=True)
    para(items.rows[1].cells[0], "{%tr for it in m.items %}", first=True)
    row = items.rows[2].cells
    para(row[0], "{{ it.n }}", align=CENTER, first=True)
    action = ("{{ it.action }}{% if it.breakthrough %} ", ("(đột phá)", "b"), "{% endif %}")
    para(row[1], *action, first=True)
    para(row[2], "{{ it.result }}", first=True)
    para(row[3], "{{ it.deadline }}", align=CENTER, first=True)
    para(items.rows[3].cells[0], "{%tr endfor %}", first=True)

    para(doc, ("IV. Cam kết", "b"), before=9)
    para(doc, COMMITMENT, align=JUSTIFY, after=9)

    signs = doc.add_table(rows=1, cols=2)
    signs.alignment = WD_TABLE_ALIGNMENT.CENTER
    no_borders(signs)
    widths(signs, 8.25, 8.25)
    left, right = signs.rows[0].cells
    para(left, ("XÁC NHẬN CỦA CHI BỘ", "b"), align=CENTER, first=True)
    para(left, ("BÍ THƯ", "b"), align=CENTER)
    para(right, ("NGƯỜI ĐĂNG KÝ", "b"), align=CENTER, first=True)
    para(right, ("(Ký, ghi rõ họ tên)", "i"), align=CENTER)
    for cell in (left, right):
        for _ in range(3):
            para(cell)
    para(right, ("{{ m.name }}", "b"), align=CENTER)
    para(doc, "{%p endfor %}")
    para(doc, after=0)  # a body ends with a paragraph, not a table
    return doc


def reproducible(docx: bytes) -> bytes:
    """The same bytes on every build: fixed timestamps in the zip."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    doc = build()
    props = doc.core_properties
    props.author = props.last_modified_by = "lamtheo"
    props.title = "Bản đăng ký học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh"
    props.revision = 1
    props.created = props.modified = datetime(2026, 1, 1)
    buffer = io.BytesIO()
    doc.save(buffer)
    out.write_bytes(reproducible(buffer.getvalue()))
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
