"""Roster import: parsing, validation, and the all-or-nothing import into the database."""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import roster
from models.orgs import ensure_unit, find_unit, full_name
from models.roster import ImportReport, RosterError, import_roster, read_roster
from models.tables import Member, OrgUnit, Role

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ROOT = "Đảng bộ xã Hưng Bình"
THON = f"{ROOT}/Chi bộ thôn 2"
TRUONG = f"{ROOT}/Chi bộ Trường Tiểu học Hưng Bình"
HEADER = ["Đơn vị", "Họ và tên", "Chức vụ", "Vai trò", "Loại", "Miễn sinh hoạt", "Điện thoại"]
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=30)

Sessions = async_sessionmaker[AsyncSession]


def write_csv(
    path: Path,
    rows: list[list[str]],
    header: list[str] = HEADER,
    delimiter: str = ",",
    bom: bool = False,
) -> Path:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows([header, *rows])
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode())
    return path


def example_rows() -> list[list[str]]:
    """The example roster without its STT column, in HEADER order."""
    with (EXAMPLES / "roster.csv").open(encoding="utf-8", newline="") as fh:
        return [row[1:] for row in list(csv.reader(fh))[1:]]


async def run_import(sessions: Sessions, path: Path, now: datetime = T0) -> ImportReport:
    # Committed even when there are errors: proves nothing was flushed into the transaction.
    async with sessions() as s, s.begin():
        return await import_roster(s, path, now)


async def snapshot(sessions: Sessions) -> dict[tuple[str, str], tuple[Any, ...]]:
    async with sessions() as s:
        units = {u.id: u.name for u in await s.scalars(select(OrgUnit))}
        return {
            (units[m.unit_id], m.full_name): (
                m.name_key,
                m.position,
                m.party_role,
                m.category,
                m.exempt,
                m.phone,
                m.active,
                m.created_at,
                m.updated_at,
            )
            for m in await s.scalars(select(Member))
        }


async def chair_roles(sessions: Sessions) -> set[tuple[str, str, str]]:
    async with sessions() as s:
        stmt = (
            select(OrgUnit.name, Member.full_name, Role.role)
            .join(Member, Member.id == Role.member_id)
            .join(OrgUnit, OrgUnit.id == Role.unit_id)
        )
        return {(u, n, r) for u, n, r in await s.execute(stmt)}


async def counts(sessions: Sessions) -> tuple[int, int, int]:
    async with sessions() as s:
        return (
            await s.scalar(select(func.count()).select_from(Member)) or 0,
            await s.scalar(select(func.count()).select_from(OrgUnit)) or 0,
            await s.scalar(select(func.count()).select_from(Role)) or 0,
        )


@pytest.fixture(params=["ensure_unit", "bulk"])
def unit_creation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test through both ways of creating units: one by one, and in bulk (large files)."""
    if request.param == "bulk":
        monkeypatch.setattr(roster, "UNITS_IN_BULK", 0)
    return str(request.param)


EXPECTED_ROLES = {
    ("Chi bộ thôn 2", "Trần Văn Thắng", "secretary"),
    ("Chi bộ thôn 2", "Nguyễn Văn Hùng", "deputy"),
    ("Chi bộ Trường Tiểu học Hưng Bình", "Nguyễn Thị Thu Hà", "secretary"),
    ("Chi bộ Trường Tiểu học Hưng Bình", "Lê Văn Minh", "deputy"),
}


# ---------------------------------------------------------------------------------------------
# The example files


async def test_example_csv_imports(sessions: Sessions, unit_creation: str) -> None:
    report = await run_import(sessions, EXAMPLES / "roster.csv")
    assert report.errors == []
    assert report.units_created == [ROOT, THON, TRUONG]
    assert (report.added, report.updated, report.unchanged) == (30, 0, 0)
    assert await counts(sessions) == (30, 3, 4)
    assert await chair_roles(sessions) == EXPECTED_ROLES

    async with sessions() as s:
        kinds = {u.name: (u.kind, u.parent_id is None) for u in await s.scalars(select(OrgUnit))}
        members = {m.full_name: m for m in await s.scalars(select(Member))}
    assert kinds == {
        ROOT: ("dang_bo", True),
        "Chi bộ thôn 2": ("chi_bo", False),
        "Chi bộ Trường Tiểu học Hưng Bình": ("chi_bo", False),
    }
    khang = members["Bùi Văn Khang"]
    assert (khang.exempt, khang.phone, khang.name_key) == (True, "0914227358", "bui van khang")
    assert khang.unit.name == "Chi bộ thôn 2"
    assert khang.created_at == khang.updated_at == T0 and khang.active
    toan = members["Dương Văn Toàn"]
    assert (toan.category, toan.phone, toan.party_role) == (
        "probationary",
        "+84397650281",
        "member",
    )
    assert members["Phạm Văn Bình"].phone == "0868442915"
    assert members["Lê Thị Thủy"].phone is None
    assert members["Vũ Thị Mai"].position == "Nông dân, tổ trưởng Tổ hợp tác rau an toàn"
    assert members["Trần Thị Xuân"].exempt is False  # empty cell
    assert members["Lê Thị Hoa"].party_role == "committee"
    assert sum(m.exempt for m in members.values()) == 2
    assert sum(m.category == "probationary" for m in members.values()) == 4


async def test_xlsx_gives_the_same_result_as_csv(sessions: Sessions) -> None:
    csv_rows, csv_errors = read_roster(EXAMPLES / "roster.csv")
    xlsx_rows, xlsx_errors = read_roster(EXAMPLES / "roster.xlsx")
    assert csv_errors == xlsx_errors == []
    assert xlsx_rows == csv_rows  # phones stored as numbers get their leading 0 back

    report = await run_import(sessions, EXAMPLES / "roster.xlsx")
    assert (report.units_created, report.added, report.errors) == ([ROOT, THON, TRUONG], 30, [])
    before = await snapshot(sessions)
    again = await run_import(sessions, EXAMPLES / "roster.csv", T1)
    assert (again.added, again.updated, again.unchanged, again.units_created) == (0, 0, 30, [])
    assert await snapshot(sessions) == before
    assert await chair_roles(sessions) == EXPECTED_ROLES


async def test_reimport_changes_nothing(sessions: Sessions) -> None:
    await run_import(sessions, EXAMPLES / "roster.csv", T0)
    before = await snapshot(sessions)
    report = await run_import(sessions, EXAMPLES / "roster.csv", T1)
    assert report == ImportReport(units_created=[], added=0, updated=0, unchanged=30, errors=[])
    after = await snapshot(sessions)
    assert after == before
    assert {v[-1] for v in after.values()} == {T0}  # updated_at
    assert await counts(sessions) == (30, 3, 4)


async def test_changed_position_updates_exactly_that_member(
    sessions: Sessions, tmp_path: Path
) -> None:
    await run_import(sessions, EXAMPLES / "roster.csv", T0)
    before = await snapshot(sessions)
    rows = example_rows()
    assert rows[20][1] == "Phạm Thị Hồng"
    rows[20][2] = "Giáo viên lớp 4A"
    report = await run_import(sessions, write_csv(tmp_path / "r.csv", rows), T1)
    assert (report.added, report.updated, report.unchanged) == (0, 1, 29)
    after = await snapshot(sessions)
    key = ("Chi bộ Trường Tiểu học Hưng Bình", "Phạm Thị Hồng")
    assert after[key][1] == "Giáo viên lớp 4A"
    assert (after[key][7], after[key][8]) == (T0, T1)  # created_at, updated_at
    assert {k: v for k, v in after.items() if k != key} == {
        k: v for k, v in before.items() if k != key
    }


async def test_changed_role_moves_the_secretary_role(sessions: Sessions, tmp_path: Path) -> None:
    await run_import(sessions, EXAMPLES / "roster.csv", T0)
    async with sessions() as s, s.begin():
        thang = await s.scalar(select(Member).where(Member.full_name == "Trần Văn Thắng"))
        assert thang is not None
        # Rights the roster does not manage must survive the change.
        s.add(Role(member_id=thang.id, unit_id=thang.unit_id, role="admin", created_at=T0))
        s.add(
            Role(member_id=thang.id, unit_id=thang.unit.parent_id, role="observer", created_at=T0)
        )
    rows = example_rows()
    assert rows[0][1] == "Trần Văn Thắng" and rows[1][1] == "Nguyễn Văn Hùng"
    rows[0][3] = "đảng viên"  # the old bí thư steps down ...
    rows[1][3] = "Bí thư"  # ... the phó bí thư takes over ...
    rows[4][3] = "pho bi thu"  # ... and Hoàng Văn Sơn becomes phó bí thư
    report = await run_import(sessions, write_csv(tmp_path / "r.csv", rows), T1)
    assert (report.added, report.updated, report.unchanged) == (0, 3, 27)
    assert await chair_roles(sessions) == {
        ("Chi bộ thôn 2", "Trần Văn Thắng", "admin"),
        (ROOT, "Trần Văn Thắng", "observer"),
        ("Chi bộ thôn 2", "Nguyễn Văn Hùng", "secretary"),
        ("Chi bộ thôn 2", "Hoàng Văn Sơn", "deputy"),
        ("Chi bộ Trường Tiểu học Hưng Bình", "Nguyễn Thị Thu Hà", "secretary"),
        ("Chi bộ Trường Tiểu học Hưng Bình", "Lê Văn Minh", "deputy"),
    }
    after = await snapshot(sessions)
    assert after[("Chi bộ thôn 2", "Trần Văn Thắng")][2] == "member"
    assert after[("Chi bộ thôn 2", "Nguyễn Văn Hùng")][2] == "secretary"


async def test_missing_chair_role_is_restored_and_never_duplicated(sessions: Sessions) -> None:
    await run_import(sessions, EXAMPLES / "roster.csv", T0)
    async with sessions() as s, s.begin():
        role = await s.scalar(select(Role).where(Role.role == "deputy").limit(1))
        assert role is not None
        await s.delete(role)
    assert await counts(sessions) == (30, 3, 3)
    report = await run_import(sessions, EXAMPLES / "roster.csv", T1)
    assert (report.updated, report.unchanged) == (0, 30)
    assert await chair_roles(sessions) == EXPECTED_ROLES


# ---------------------------------------------------------------------------------------------
# Errors: the whole file is rejected


async def test_bad_file_reports_every_error_and_writes_nothing(sessions: Sessions) -> None:
    await run_import(sessions, EXAMPLES / "roster.csv", T0)
    before_counts, before = await counts(sessions), await snapshot(sessions)
    report = await run_import(sessions, EXAMPLES / "roster_bad.csv", T1)
    assert report.errors == [
        RosterError(3, "Vai trò", "bad_role", "Bí thuw"),
        RosterError(4, "Điện thoại", "bad_phone", "12345"),
        RosterError(5, "Họ và tên", "required", ""),
        RosterError(7, "Họ và tên", "duplicate_row", "TRẦN VĂN THẮNG"),
    ]
    assert (report.added, report.updated, report.unchanged, report.units_created) == (0, 0, 0, [])
    assert await counts(sessions) == before_counts
    assert await snapshot(sessions) == before


async def test_bad_file_on_empty_database_creates_no_unit(
    sessions: Sessions, tmp_path: Path
) -> None:
    rows = [
        ["Đảng bộ mới/Chi bộ mới", "Nguyễn Văn A", "", "Đảng viên", "", "", ""],
        ["Đảng bộ mới/Chi bộ mới", "Nguyễn Văn B", "", "Đảng viên", "tạm", "", ""],
    ]
    report = await run_import(sessions, write_csv(tmp_path / "r.csv", rows))
    assert report.errors == [RosterError(3, "Loại", "bad_category", "tạm")]
    assert await counts(sessions) == (0, 0, 0)


def test_every_row_error_code(tmp_path: Path) -> None:
    unit = "Đảng bộ X/Chi bộ Y"
    rows = [
        [unit, "Nguyễn Văn A", "", "Đảng viên", "", "", ""],  # row 2: fine
        ["", "", "", "", "", "", ""],  # row 3: blank, skipped
        ["Đảng bộ X//Chi bộ Y", "Nguyễn Văn B", "", "Đảng viên", "", "", ""],
        ["", "Nguyễn Văn C", "", "", "", "", ""],
        [unit, "N" * 121, "x" * 201, "Đảng viên", "", "", ""],
        [unit, "Nguyễn Văn D", "", "thư ký", "tạm thời", "hmm", "0912 345 67"],
        [unit, "Nguyễn Văn E", "", "Đảng viên", "", "", "84912345678"],
        [unit, "nguyen van a", "", "Đảng viên", "", "", ""],
        [unit, "Nguyễn Văn F", "", "Đảng viên", "", "", "+84 912 345 678"],  # fine
        [f"{unit}/{'T' * 201}", "Nguyễn Văn G", "", "Đảng viên", "", "", ""],
    ]
    header = ["Đơn vị", "Họ và tên", "Chức vụ", "VAI TRO", "Loại", "Miễn sinh hoạt", "SĐT"]
    parsed, errors = read_roster(write_csv(tmp_path / "r.csv", rows, header))
    assert [r.full_name for r in parsed] == ["Nguyễn Văn A", "Nguyễn Văn F"]
    assert parsed[1].phone == "+84912345678"
    assert errors == [
        RosterError(4, "Đơn vị", "bad_unit", "Đảng bộ X//Chi bộ Y"),
        RosterError(5, "Đơn vị", "required", ""),
        RosterError(5, "VAI TRO", "required", ""),
        RosterError(6, "Họ và tên", "too_long", "N" * 121),
        RosterError(6, "Chức vụ", "too_long", "x" * 201),
        RosterError(7, "VAI TRO", "bad_role", "thư ký"),
        RosterError(7, "Loại", "bad_category", "tạm thời"),
        RosterError(7, "Miễn sinh hoạt", "bad_exempt", "hmm"),
        RosterError(7, "SĐT", "bad_phone", "0912 345 67"),
        RosterError(8, "SĐT", "bad_phone", "84912345678"),
        RosterError(9, "Họ và tên", "duplicate_row", "nguyen van a"),
        RosterError(11, "Đơn vị", "too_long", f"{unit}/{'T' * 201}"),
    ]


async def test_missing_required_column(sessions: Sessions, tmp_path: Path) -> None:
    header = ["Đơn vị", "Họ và tên", "Chức vụ", "Loại"]
    rows = [[THON, "Trần Văn Thắng", "Trưởng thôn", "Chính thức"]]
    report = await run_import(sessions, write_csv(tmp_path / "r.csv", rows, header))
    assert report.errors == [RosterError(0, "", "missing_column", "Vai trò")]
    assert await counts(sessions) == (0, 0, 0)
    _, errors = read_roster(write_csv(tmp_path / "s.csv", [["x"]], ["STT"]))
    assert [(e.code, e.value) for e in errors] == [
        ("missing_column", "Đơn vị"),
        ("missing_column", "Họ và tên"),
        ("missing_column", "Vai trò"),
    ]


def test_file_level_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"\xef\xbb\xbf\r\n  \r\n")
    assert read_roster(empty) == ([], [RosterError(0, "", "empty_file", "")])
    header_only = write_csv(tmp_path / "h.csv", [[""] * 7])
    assert read_roster(header_only) == ([], [RosterError(0, "", "empty_file", "")])
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"\xd0\xf5n v\xf2,H\xf5 t\xean,Vai tr\xf2\n")  # Windows-1258, not UTF-8
    fake = tmp_path / "fake.xlsx"
    fake.write_bytes(b"PK\x03\x04 not really a zip")
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100))
    for path, reason in [
        (latin, "not_utf8"),
        (fake, "bad_xlsx"),
        (xls, "xls"),
        (tmp_path / "absent.csv", "not_found"),
    ]:
        assert read_roster(path) == ([], [RosterError(0, "", "file_unreadable", reason)])
        assert reason in roster.FILE_REASONS


def test_utf16_tab_separated(tmp_path: Path) -> None:
    """Excel's "Unicode Text" export: UTF-16 with BOM, tab-separated."""
    buf = io.StringIO()
    csv.writer(buf, delimiter="\t").writerows([HEADER, *example_rows()])
    path = tmp_path / "r.txt"
    path.write_bytes(buf.getvalue().encode("utf-16"))
    rows, errors = read_roster(path)
    assert errors == []
    assert rows == read_roster(EXAMPLES / "roster.csv")[0]


# ---------------------------------------------------------------------------------------------
# Loose input


async def test_headers_without_diacritics_any_order(sessions: Sessions, tmp_path: Path) -> None:
    header = [
        "dien thoai",
        "HO VA TEN",
        " họ và tên ",  # a second column that also matches: the first one wins
        "VAI TRO",
        "mien sinh hoat",
        "Ghi chú",
        "DON VI",
        "loai",
        "Chuc Vu (*)",
    ]
    rows = [
        [
            "0912345601",
            "Trần Văn Thắng",
            "ignored",
            "bi thu",
            "KHONG",
            "x",
            THON,
            "chinh thuc",
            "Z",
        ],
        ["", "Đặng Văn Lộc", "", "Bí Thu", "co", "", TRUONG, "du bi", ""],
    ]
    report = await run_import(sessions, write_csv(tmp_path / "r.csv", rows, header))
    assert report.errors == []
    assert report.added == 2
    snap = await snapshot(sessions)
    assert snap[("Chi bộ thôn 2", "Trần Văn Thắng")][1:6] == (
        "Z",
        "secretary",
        "official",
        False,
        "0912345601",
    )
    assert snap[("Chi bộ Trường Tiểu học Hưng Bình", "Đặng Văn Lộc")][1:6] == (
        "",
        "secretary",
        "probationary",
        True,
        None,
    )


async def test_semicolon_csv_with_bom(sessions: Sessions, tmp_path: Path) -> None:
    rows = example_rows()
    path = write_csv(tmp_path / "r.csv", rows, delimiter=";", bom=True)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf\xc4\x90\xc6\xa1n v\xe1\xbb\x8b;")
    report = await run_import(sessions, path)
    assert (report.errors, report.added) == ([], 30)
    snap = await snapshot(sessions)
    assert snap[("Chi bộ thôn 2", "Vũ Thị Mai")][1] == "Nông dân, tổ trưởng Tổ hợp tác rau an toàn"
    again = await run_import(sessions, EXAMPLES / "roster.csv", T1)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 30)


async def test_nfd_input_is_stored_nfc_and_matches(sessions: Sessions, tmp_path: Path) -> None:
    nfd = [[unicodedata.normalize("NFD", cell) for cell in row] for row in example_rows()]
    assert nfd[0][1] != "Trần Văn Thắng"
    assert unicodedata.normalize("NFC", nfd[0][1]) == "Trần Văn Thắng"

    # Existing NFC members and units are matched, not duplicated.
    await run_import(sessions, EXAMPLES / "roster.csv", T0)
    before = await snapshot(sessions)
    report = await run_import(sessions, write_csv(tmp_path / "nfd.csv", nfd), T1)
    assert (report.units_created, report.added, report.updated) == ([], 0, 0)
    assert await snapshot(sessions) == before
    assert await counts(sessions) == (30, 3, 4)


async def test_nfd_input_into_empty_database(sessions: Sessions, tmp_path: Path) -> None:
    nfd = [[unicodedata.normalize("NFD", cell) for cell in row] for row in example_rows()]
    report = await run_import(sessions, write_csv(tmp_path / "nfd.csv", nfd))
    assert report.units_created == [ROOT, THON, TRUONG]
    async with sessions() as s:
        names = list(await s.scalars(select(Member.full_name)))
        names += list(await s.scalars(select(OrgUnit.name)))
        names += list(await s.scalars(select(Member.position)))
    assert all(n == unicodedata.normalize("NFC", n) for n in names)
    assert "Trần Văn Thắng" in names and ROOT in names


async def test_name_spelling_fix_updates_the_same_member(
    sessions: Sessions, tmp_path: Path
) -> None:
    rows = [[THON, "Nguyễn văn  an", "", "Đảng viên", "", "", ""]]
    await run_import(sessions, write_csv(tmp_path / "a.csv", rows), T0)
    rows[0][1] = "Nguyễn Văn An"
    report = await run_import(sessions, write_csv(tmp_path / "b.csv", rows), T1)
    assert (report.added, report.updated) == (0, 1)
    snap = await snapshot(sessions)
    assert list(snap) == [("Chi bộ thôn 2", "Nguyễn Văn An")]
    assert snap[("Chi bộ thôn 2", "Nguyễn Văn An")][0] == "nguyen van an"


async def test_absent_optional_columns_keep_stored_values(
    sessions: Sessions, tmp_path: Path
) -> None:
    await run_import(sessions, EXAMPLES / "roster.csv", T0)
    before = await snapshot(sessions)
    rows = [[r[0], r[1], r[3]] for r in example_rows()]
    report = await run_import(
        sessions, write_csv(tmp_path / "r.csv", rows, ["Đơn vị", "Họ và tên", "Vai trò"]), T1
    )
    assert (report.added, report.updated, report.unchanged) == (0, 0, 30)
    assert await snapshot(sessions) == before

    # ... but an empty cell in a present column does clear the value.
    rows = example_rows()
    rows[0][6] = ""
    report = await run_import(sessions, write_csv(tmp_path / "s.csv", rows), T1)
    assert report.updated == 1
    assert (await snapshot(sessions))[("Chi bộ thôn 2", "Trần Văn Thắng")][5] is None


async def test_inactive_member_listed_again_is_reactivated(sessions: Sessions) -> None:
    await run_import(sessions, EXAMPLES / "roster.csv", T0)
    async with sessions() as s, s.begin():
        m = await s.scalar(select(Member).where(Member.full_name == "Lê Thị Thủy"))
        assert m is not None
        m.active = False
    report = await run_import(sessions, EXAMPLES / "roster.csv", T1)
    assert (report.updated, report.unchanged) == (1, 29)
    snap = await snapshot(sessions)
    assert snap[("Chi bộ Trường Tiểu học Hưng Bình", "Lê Thị Thủy")][6:] == (True, T0, T1)


async def test_members_absent_from_the_file_are_left_alone(
    sessions: Sessions, tmp_path: Path
) -> None:
    await run_import(sessions, EXAMPLES / "roster.csv", T0)
    before = await snapshot(sessions)
    report = await run_import(sessions, write_csv(tmp_path / "r.csv", example_rows()[:3]), T1)
    assert (report.added, report.updated, report.unchanged) == (0, 0, 3)
    assert await snapshot(sessions) == before


async def test_new_unit_under_existing_root(
    sessions: Sessions, tmp_path: Path, unit_creation: str
) -> None:
    await run_import(sessions, EXAMPLES / "roster.csv", T0)
    rows = [
        [f"{ROOT}/Chi bộ thôn 5/Tổ đảng xóm Đông", "Phan Văn Lực", "", "Đảng viên", "", "", ""],
        [f"{THON}/", "Trần Văn Thắng", "Trưởng ban công tác Mặt trận thôn", "Bí thư",
         "Chính thức", "Không", "0912345601"],
    ]  # fmt: skip
    report = await run_import(sessions, write_csv(tmp_path / "r.csv", rows), T1)
    assert report.errors == []
    assert report.units_created == [
        f"{ROOT}/Chi bộ thôn 5",
        f"{ROOT}/Chi bộ thôn 5/Tổ đảng xóm Đông",
    ]
    assert (report.added, report.updated, report.unchanged) == (1, 0, 1)
    async with sessions() as s:
        to = await s.scalar(select(OrgUnit).where(OrgUnit.name == "Tổ đảng xóm Đông"))
        assert to is not None and to.kind == "to_dang"
        parent = await s.get(OrgUnit, to.parent_id)
        root = await s.scalar(select(OrgUnit).where(OrgUnit.name == ROOT))
        assert parent is not None and root is not None
        assert to.path == f"{parent.path}{to.id}/" and parent.parent_id == root.id


async def test_bulk_created_units_match_ensure_unit(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(roster, "UNITS_IN_BULK", 0)
    await run_import(sessions, EXAMPLES / "roster.csv")
    async with sessions() as s, s.begin():
        reference = await ensure_unit(s, f"{ROOT}/Chi bộ thôn 9", T0)
        bulk = await find_unit(s, THON)
        root = await find_unit(s, ROOT)
        assert bulk is not None and root is not None
        assert await full_name(s, bulk) == THON
        assert (root.path, root.parent_id) == (f"/{root.id}/", None)
        assert bulk.path == f"/{root.id}/{bulk.id}/"
        assert reference.parent_id == bulk.parent_id

        def columns(unit: OrgUnit) -> dict[str, Any]:
            skip = {"id", "name", "path"}
            return {c.key: getattr(unit, c.key) for c in OrgUnit.__table__.c if c.key not in skip}

        assert columns(bulk) == columns(reference)


def test_xlsx_cells_and_blank_rows(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["STT", *HEADER])
    ws.append([1, THON, "Trần Văn Thắng", None, "Bí thư", None, True, 912345601])
    ws.append([])  # row 3: blank
    ws.append([None, None, None, None, None, None, None, None])  # row 4: blank
    ws.append([3, THON, "Lê Thị Hoa", 42, "Đảng viên", "dự bị", False, 912345601.0])
    ws.append([4, THON, "Phạm Văn Bình", None, "Đảng viên", None, None, 12345])
    ws.cell(row=9, column=3, value="Hoàng Văn Sơn")  # row 9 with gaps before it
    path = tmp_path / "r.xlsx"
    wb.save(path)
    rows, errors = read_roster(path)
    assert [(r.row, r.full_name, r.position, r.exempt, r.phone) for r in rows] == [
        (2, "Trần Văn Thắng", "", True, "0912345601"),
        (5, "Lê Thị Hoa", "42", False, "0912345601"),
    ]
    assert rows[1].category == "probationary"
    assert errors == [
        RosterError(6, "Điện thoại", "bad_phone", "12345"),
        RosterError(9, "Đơn vị", "required", ""),
        RosterError(9, "Vai trò", "required", ""),
    ]


@pytest.mark.parametrize("role", ["bí thu", "BI THU", "Bí Thư", "bi  thu"])
def test_roles_match_folded(tmp_path: Path, role: str) -> None:
    rows, errors = read_roster(
        write_csv(tmp_path / "r.csv", [[THON, "Trần Văn Thắng", "", role, "", "", ""]])
    )
    assert errors == [] and rows[0].party_role == "secretary"
