"""Roster import: the party committee's member list from .xlsx or .csv.

The file is read and validated completely before the database is touched: one bad row and
nothing is written (the report lists every error). Members are matched on (unit, folded name),
so re-importing a corrected file updates people instead of duplicating them.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import Table, bindparam, delete, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.text import clean, fold
from models.orgs import SEPARATOR, ancestor_ids, ensure_unit, kind_for
from models.tables import Member, OrgUnit, Role

# Column keys, with the canonical header (reported for a missing column) and the folded
# spellings accepted in the header row.
UNIT, NAME, POSITION, ROLE, CATEGORY, EXEMPT, PHONE = (
    "unit",
    "name",
    "position",
    "role",
    "category",
    "exempt",
    "phone",
)
CANONICAL = {
    UNIT: "Đơn vị",
    NAME: "Họ và tên",
    POSITION: "Chức vụ",
    ROLE: "Vai trò",
    CATEGORY: "Loại",
    EXEMPT: "Miễn sinh hoạt",
    PHONE: "Điện thoại",
}
_ALIASES = {
    UNIT: ("don vi",),
    NAME: ("ho va ten", "ho ten"),
    POSITION: ("chuc vu",),
    ROLE: ("vai tro",),
    CATEGORY: ("loai", "loai dang vien"),
    EXEMPT: ("mien sinh hoat",),
    PHONE: ("dien thoai", "so dien thoai", "sdt"),
}
HEADERS = {alias: key for key, aliases in _ALIASES.items() for alias in aliases}
REQUIRED = (UNIT, NAME, ROLE)

ROLES = {
    "bi thu": "secretary",
    "pho bi thu": "deputy",
    "chi uy vien": "committee",
    "dang vien": "member",
}
CATEGORIES = {"": "official", "chinh thuc": "official", "du bi": "probationary"}
EXEMPTS = {"": False, "khong": False, "co": True, "x": True}
CHAIR_ROLES = ("secretary", "deputy")  # party roles that carry a Role row on the unit

# RosterError.value of a file_unreadable error.
FILE_REASONS = {
    "not_found": "no such file",
    "io_error": "the file cannot be read",
    "xls": "the old binary .xls format: save it as .xlsx or .csv",
    "bad_xlsx": "a damaged or unsupported workbook",
    "not_utf8": "a text file that is not UTF-8 (or UTF-16)",
    "bad_csv": "malformed CSV",
}

MAX_NAME = 120
MAX_POSITION = 200
MAX_UNIT_NAME = 200
CHUNK = 500  # ids per IN (...) list
INSERT_CHUNK = 5000  # rows per bulk INSERT/UPDATE call
# From this many missing units on, create them in bulk (ensure_unit costs ~3 ms a unit).
UNITS_IN_BULK = 50

_PHONE_JUNK = re.compile(r"[\s.\-()]")
_PHONE_VN = re.compile(r"0\d{9}|\+84\d{9}")
_NOT_WORD = re.compile(r"[^0-9a-z]+")

T = TypeVar("T")
_MEMBERS = cast(Table, Member.__table__)
_UNITS = cast(Table, OrgUnit.__table__)


@dataclass(frozen=True)
class RosterError:
    row: int  # spreadsheet row as the user sees it (header is row 1); 0 for file-level errors
    column: str  # the column's header as written in the file ("" for file-level errors)
    # file_unreadable, missing_column, empty_file (file level); required, too_long, bad_role,
    # bad_category, bad_exempt, bad_phone, bad_unit, duplicate_row, closed_unit, merged_unit
    # (one cell)
    code: str
    value: str  # the offending value ("" if none), or the missing column's canonical name


@dataclass(frozen=True)
class RosterRow:
    row: int
    unit_path: str
    full_name: str
    position: str
    party_role: str
    category: str
    exempt: bool
    phone: str | None


@dataclass
class ImportReport:
    units_created: list[str] = field(default_factory=list)  # full paths of units created
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RosterError] = field(default_factory=list)  # non-empty: nothing was written


@dataclass
class _Parsed:
    rows: list[RosterRow]
    errors: list[RosterError]
    columns: frozenset[str]  # the column keys present in the header
    keys: list[str] = field(default_factory=list)  # fold(full_name) of each row
    unit_column: str = ""  # the unit column's header as written


class _Unreadable(Exception):
    """The file cannot be read at all; the message is the reason token (see FILE_REASONS)."""


# ---------------------------------------------------------------------------------------------
# Reading


def read_roster(path: Path) -> tuple[list[RosterRow], list[RosterError]]:
    """Parse and validate a roster file; no database. Errors are sorted by row."""
    parsed = _parse(path)
    return parsed.rows, parsed.errors


def _parse(path: Path) -> _Parsed:
    try:
        records = _records(path)
        return _validate(records)
    except _Unreadable as exc:
        return _Parsed([], [RosterError(0, "", "file_unreadable", str(exc))], frozenset())


def _records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(row number, cell texts) for every row of the file, blank ones included."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise _Unreadable("not_found") from exc
    except OSError as exc:
        raise _Unreadable("io_error") from exc
    if data.startswith(b"PK\x03\x04"):
        return _xlsx_records(path)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise _Unreadable("xls")  # the pre-2007 binary format: save as .xlsx
    if path.suffix.lower() == ".xlsx":
        raise _Unreadable("bad_xlsx")  # named a workbook but is not one: don't read it as text
    return _csv_records(data)


def _csv_records(data: bytes) -> Iterator[tuple[int, list[str]]]:
    # UTF-8 with or without BOM; UTF-16 is what Excel's "Unicode Text" writes.
    encoding = "utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise _Unreadable("not_utf8") from exc
    first = next((line for line in text.splitlines() if line.strip()), "")
    # Excel in a Vietnamese locale separates with ";". Header names hold no separators.
    delimiter = max((",", ";", "\t"), key=first.count) if first else ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:  # a field beyond the csv module's size limit, say
        raise _Unreadable("bad_csv") from exc
    return enumerate(rows, start=1)


def _xlsx_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    # python-calamine (Rust): a province's 100,000 rows in 1.5 s CPU; openpyxl took 12 s.
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
        if not book.sheet_names:
            return iter(())
        # from A1, so the numbers are the rows the secretary sees in Excel
        values = book.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except Exception as exc:  # a zip that is no workbook, or a damaged one
        raise _Unreadable("bad_xlsx") from exc
    return (
        (number, [_cell_text(value) for value in row]) for number, row in enumerate(values, start=1)
    )


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "có" if value else "không"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        # A phone typed as a number lost its leading 0: 912345678 was 0912345678.
        digits = str(value)
        return "0" + digits if len(digits) == 9 and value > 0 else digits
    return str(value)


def _header_key(header: str) -> str | None:
    return HEADERS.get(" ".join(_NOT_WORD.sub(" ", fold(header)).split()))


def _line(value: str) -> str:
    """clean(), and one line: a newline inside a name cell is just a space."""
    if (
        value.isprintable()  # no controls, tabs, newlines, invisible or odd spaces
        and "  " not in value
        and value == value.strip()
        and unicodedata.is_normalized("NFC", value)
    ):
        return value  # already clean: the common case, and much cheaper
    return " ".join(clean(value).split())


def _validate(records: Iterable[tuple[int, list[str]]]) -> _Parsed:
    rows: list[RosterRow] = []
    keys: list[str] = []
    errors: list[RosterError] = []
    it = iter(records)
    header: list[str] = []
    header_row = 0
    for number, cells in it:
        if any(clean(c) for c in cells):
            header, header_row = cells, number
            break
    if not header_row:
        return _Parsed([], [RosterError(0, "", "empty_file", "")], frozenset())

    index: dict[str, int] = {}
    written: dict[str, str] = {}  # key -> the header as written
    for i, cell in enumerate(header):
        key = _header_key(cell)
        if key is not None and key not in index:
            index[key], written[key] = i, clean(cell)
    for key in REQUIRED:
        if key not in index:
            errors.append(RosterError(0, "", "missing_column", CANONICAL[key]))
    if errors:
        return _Parsed([], errors, frozenset(index))

    # Units, roles, categories repeat on every row: fold each distinct value once.
    folds: dict[str, str] = {}
    unit_paths: dict[str, str] = {}

    def folded(value: str) -> str:
        result = folds.get(value)
        if result is None:
            result = folds[value] = fold(value)
        return result

    lines: dict[str, str] = {}

    def line(value: str) -> str:
        """_line(), once per distinct value (units, roles, categories repeat on every row)."""
        result = lines.get(value)
        if result is None:
            result = lines[value] = _line(value)
        return result

    words: dict[str, str] = {}

    def folded_name(name: str) -> str:
        """fold(name) of a cleaned one-line name, a word at a time: names share their words."""
        parts = []
        for word in name.split():
            result = words.get(word)
            if result is None:
                result = words[word] = fold(word)
            if result:
                parts.append(result)
        return " ".join(parts)

    seen: set[tuple[str, str]] = set()
    for number, cells in it:
        values = {key: line(cells[i]) if i < len(cells) else "" for key, i in index.items()}
        if not any(values.values()):
            continue  # blank row (or only columns we do not read, like STT)

        def err(key: str, code: str, value: str, number: int = number) -> None:
            errors.append(RosterError(number, written[key], code, value))

        before = len(errors)
        unit_path = unit_paths.get(values[UNIT]) or _unit_path(values[UNIT], err)
        if unit_path:
            unit_paths[values[UNIT]] = unit_path
        full_name = values[NAME]
        name_key = folded_name(full_name)
        if not full_name:
            err(NAME, "required", "")
        elif len(full_name) > MAX_NAME or len(name_key) > MAX_NAME:
            err(NAME, "too_long", full_name)
        position = values.get(POSITION, "")
        if len(position) > MAX_POSITION:
            err(POSITION, "too_long", position)
        role = ROLES.get(folded(values[ROLE]))
        if not values[ROLE]:
            err(ROLE, "required", "")
        elif role is None:
            err(ROLE, "bad_role", values[ROLE])
        category = CATEGORIES.get(folded(values.get(CATEGORY, "")))
        if category is None:
            err(CATEGORY, "bad_category", values[CATEGORY])
        exempt = EXEMPTS.get(folded(values.get(EXEMPT, "")))
        if exempt is None:
            err(EXEMPT, "bad_exempt", values[EXEMPT])
        phone = _phone(values.get(PHONE, ""))
        if phone == "":
            err(PHONE, "bad_phone", values[PHONE])
        if unit_path and full_name and len(full_name) <= MAX_NAME:
            ident = (unit_path, name_key)
            if ident in seen:
                err(NAME, "duplicate_row", full_name)
            seen.add(ident)
        if len(errors) > before:
            continue
        assert unit_path and role and category and exempt is not None
        rows.append(
            RosterRow(
                row=number,
                unit_path=unit_path,
                full_name=full_name,
                position=position,
                party_role=role,
                category=category,
                exempt=exempt,
                phone=phone,
            )
        )
        keys.append(name_key)
    if not rows and not errors:
        errors.append(RosterError(0, "", "empty_file", ""))
    errors.sort(key=lambda e: e.row)  # stable: within a row, in column-check order
    return _Parsed(rows, errors, frozenset(index), keys, written[UNIT])


def _unit_path(value: str, err: Callable[[str, str, str], None]) -> str | None:
    if not value:
        err(UNIT, "required", "")
        return None
    parts = [clean(part) for part in value.strip(SEPARATOR).split(SEPARATOR)]
    if not all(parts):
        err(UNIT, "bad_unit", value)
        return None
    if any(len(part) > MAX_UNIT_NAME for part in parts):
        err(UNIT, "too_long", value)
        return None
    return SEPARATOR.join(parts)


def _phone(value: str) -> str | None:
    """The phone as digits (a leading + for +84), None if empty, "" if not a Vietnamese number."""
    if not value:
        return None
    digits = _PHONE_JUNK.sub("", value)
    return digits if _PHONE_VN.fullmatch(digits) else ""


# ---------------------------------------------------------------------------------------------
# Importing


async def import_roster(session: AsyncSession, path: Path, now: datetime) -> ImportReport:
    """Import a roster file into the caller's transaction (never commits).

    With any error in the file, the report carries every error and the session is untouched.
    """
    parsed = _parse(path)
    report = ImportReport()
    if parsed.errors:
        report.errors = parsed.errors
        return report
    rows, columns, keys = parsed.rows, parsed.columns, parsed.keys

    # A closed unit (dissolved, or merged into another) takes nobody: checked before anything
    # is created, so a refused file leaves the session untouched.
    closed = await _closed_units(session, [r.unit_path for r in rows])
    if closed:
        report.errors = [
            RosterError(r.row, parsed.unit_column, *closed[r.unit_path])
            for r in rows
            if r.unit_path in closed
        ]
        return report

    unit_ids = await _resolve_units(session, [r.unit_path for r in rows], now, report)
    new_units = {unit_ids[p] for p in report.units_created if p in unit_ids}
    old_units = sorted({unit_ids[r.unit_path] for r in rows} - new_units)

    # Existing members of the units in the file, keyed (unit id, name key).
    cols = (
        Member.id,
        Member.unit_id,
        Member.name_key,
        Member.full_name,
        Member.position,
        Member.party_role,
        Member.category,
        Member.exempt,
        Member.phone,
        Member.active,
    )
    existing: dict[tuple[int, str], Any] = {}
    roles: dict[tuple[int, int, str], int] = {}  # (member, unit, role) -> role id
    for chunk in _chunks(old_units, CHUNK):
        for m in await session.execute(select(*cols).where(Member.unit_id.in_(chunk))):
            existing[(m.unit_id, m.name_key)] = m
        stmt = select(Role.id, Role.member_id, Role.unit_id, Role.role).where(
            Role.unit_id.in_(chunk), Role.role.in_(CHAIR_ROLES)
        )
        for r in await session.execute(stmt):
            roles[(r.member_id, r.unit_id, r.role)] = r.id

    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    holders: list[tuple[tuple[int, str], int, str]] = []  # (identity, unit id, party role)
    stale: list[tuple[int, int, str]] = []  # roles of members whose party role changed
    for row, key in zip(rows, keys, strict=True):
        uid = unit_ids[row.unit_path]
        old = existing.get((uid, key))
        if old is None:
            inserts.append(
                {
                    "unit_id": uid,
                    "full_name": row.full_name,
                    "name_key": key,
                    "position": row.position,
                    "party_role": row.party_role,
                    "category": row.category,
                    "exempt": row.exempt,
                    "phone": row.phone,
                    "active": True,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        else:
            # A column the file does not have leaves that field as it is.
            values = {
                "full_name": row.full_name,
                "position": row.position if POSITION in columns else old.position,
                "party_role": row.party_role,
                "category": row.category if CATEGORY in columns else old.category,
                "exempt": row.exempt if EXEMPT in columns else old.exempt,
                "phone": row.phone if PHONE in columns else old.phone,
                "active": True,
            }
            if any(getattr(old, name) != value for name, value in values.items()):
                updates.append({"id": old.id, **values, "updated_at": now})
            if old.party_role != row.party_role:
                stale.extend((old.id, uid, r) for r in CHAIR_ROLES if r != row.party_role)
        if row.party_role in CHAIR_ROLES:
            holders.append(((uid, key), uid, row.party_role))

    ids = {k: m.id for k, m in existing.items()}
    # A Core executemany: the ORM bulk path splits rows by which values are None, and
    # RETURNING in parameter order makes SQLite insert row by row.
    for batch in _chunks(inserts, INSERT_CHUNK):
        await session.execute(insert(_MEMBERS), batch)
    need = [ident for ident, _, _ in holders if ident not in ids]  # new chair holders
    for pairs in _chunks(need, CHUNK):
        found = select(Member.id, Member.unit_id, Member.name_key).where(
            tuple_(Member.unit_id, Member.name_key).in_(pairs)
        )
        ids.update(((m.unit_id, m.name_key), m.id) for m in await session.execute(found))
    for batch in _chunks(updates, INSERT_CHUNK):
        await session.execute(update(Member), batch)

    gone = [roles[k] for k in stale if k in roles]
    for id_chunk in _chunks(gone, CHUNK):
        await session.execute(delete(Role).where(Role.id.in_(id_chunk)))
    wanted = {(ids[ident], uid, role) for ident, uid, role in holders}
    missing = sorted(wanted - roles.keys())
    if missing:
        await session.execute(
            insert(Role),
            [{"member_id": m, "unit_id": u, "role": r, "created_at": now} for m, u, r in missing],
        )

    report.added = len(inserts)
    report.updated = len(updates)
    report.unchanged = len(rows) - len(inserts) - len(updates)
    return report


async def _closed_units(session: AsyncSession, paths: Sequence[str]) -> dict[str, tuple[str, str]]:
    """(error code, value) per path that is, or lies below, a closed unit."""
    closed: list[Any] = []  # the closed units named somewhere in the file
    for names_chunk in _chunks(sorted({n for p in paths for n in p.split(SEPARATOR)}), CHUNK):
        stmt = select(OrgUnit.path, OrgUnit.merged_into_id).where(
            OrgUnit.closed_at.is_not(None), OrgUnit.name.in_(names_chunk)
        )
        closed.extend(await session.execute(stmt))
    if not closed:
        return {}
    targets = {u.merged_into_id for u in closed if u.merged_into_id is not None}
    target_paths: dict[int, str] = {}
    for chunk in _chunks(sorted(targets), CHUNK):
        found_paths = select(OrgUnit.id, OrgUnit.path).where(OrgUnit.id.in_(chunk))
        target_paths.update((u.id, u.path) for u in await session.execute(found_paths))
    ids = sorted({i for p in (*(u.path for u in closed), *target_paths.values()) for i in _ids(p)})
    names: dict[int, str] = {}
    for chunk in _chunks(ids, CHUNK):
        found_names = select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(chunk))
        names.update((u.id, u.name) for u in await session.execute(found_names))

    def display(path: str) -> str:
        return SEPARATOR.join(names[i] for i in _ids(path))

    reasons: dict[str, tuple[str, str]] = {}  # full name of a closed unit -> (code, value)
    for u in closed:
        name = display(u.path)
        if u.merged_into_id is None:
            reasons[name] = ("closed_unit", name)
        else:
            reasons[name] = ("merged_unit", f"{name} → {display(target_paths[u.merged_into_id])}")
    found: dict[str, tuple[str, str]] = {}
    for path in dict.fromkeys(paths):
        parts = path.split(SEPARATOR)
        for depth in range(1, len(parts) + 1):
            reason = reasons.get(SEPARATOR.join(parts[:depth]))
            if reason is not None:
                found[path] = reason
                break
    return found


def _ids(path: str) -> list[int]:
    return [int(part) for part in path.strip(SEPARATOR).split(SEPARATOR) if part]


async def _resolve_units(
    session: AsyncSession, paths: Sequence[str], now: datetime, report: ImportReport
) -> dict[str, int]:
    """Unit id per path, creating missing units (their full paths go to the report)."""
    split = {p: tuple(p.split(SEPARATOR)) for p in dict.fromkeys(paths)}
    names = sorted({name for parts in split.values() for name in parts})
    known: dict[tuple[int | None, str], int] = {}  # (parent id, name) -> id
    unit_path: dict[int, str] = {}  # id -> materialised path ("/1/5/")
    for chunk in _chunks(names, CHUNK):
        stmt = select(OrgUnit.id, OrgUnit.parent_id, OrgUnit.name, OrgUnit.path).where(
            OrgUnit.name.in_(chunk)
        )
        for u in await session.execute(stmt):
            known[(u.parent_id, u.name)] = u.id
            unit_path[u.id] = u.path

    # Prefixes found in the database, and those missing (parents first, in file order).
    ids: dict[tuple[str, ...], int] = {}
    missing: dict[tuple[str, ...], None] = {}
    for parts in split.values():
        parent: int | None = None
        for depth, name in enumerate(parts):
            found = known.get((parent, name))
            if found is None:  # and so is everything below it
                missing.update((parts[: d + 1], None) for d in range(depth, len(parts)))
                break
            ids[parts[: depth + 1]] = parent = found

    if len(missing) < UNITS_IN_BULK:
        # The usual case (a new chi bộ or two): models.orgs.ensure_unit, one by one.
        for parts in split.values():
            if parts not in missing or parts in ids:
                continue
            unit = await ensure_unit(session, SEPARATOR.join(parts), now)
            ids.update((parts[: d + 1], uid) for d, uid in enumerate(ancestor_ids(unit)))
    else:
        await _create_units(session, list(missing), ids, unit_path, now)
    report.units_created.extend(SEPARATOR.join(parts) for parts in missing)
    return {path: ids[parts] for path, parts in split.items()}


async def _create_units(
    session: AsyncSession,
    missing: list[tuple[str, ...]],
    ids: dict[tuple[str, ...], int],
    unit_path: dict[int, str],
    now: datetime,
) -> None:
    """Insert many missing units a level at a time, as ensure_unit would have made them."""
    for depth in sorted({len(parts) for parts in missing}):
        level = [parts for parts in missing if len(parts) == depth]
        rows = [
            {
                "parent_id": ids[parts[:-1]] if depth > 1 else None,
                "kind": kind_for(parts[-1]),
                "name": parts[-1],
                "path": "",
                "created_at": now,
            }
            for parts in level
        ]
        for batch in _chunks(rows, INSERT_CHUNK):
            await session.execute(insert(_UNITS), batch)
        # Their ids, then their materialised paths (which contain the ids).
        wanted = {(r["parent_id"], r["name"]): parts for r, parts in zip(rows, level, strict=True)}
        level_names = sorted({parts[-1] for parts in level})
        paths: list[dict[str, Any]] = []
        for chunk in _chunks(level_names, CHUNK):
            stmt = select(OrgUnit.id, OrgUnit.parent_id, OrgUnit.name).where(
                OrgUnit.name.in_(chunk), OrgUnit.path == ""
            )
            for u in await session.execute(stmt):
                parts = wanted.get((u.parent_id, u.name))
                if parts is None:
                    continue
                ids[parts] = u.id
                parent = unit_path[u.parent_id] if u.parent_id is not None else SEPARATOR
                unit_path[u.id] = f"{parent}{u.id}/"
                paths.append({"unit_id": u.id, "unit_path": unit_path[u.id]})
        set_path = (
            update(_UNITS)
            .where(_UNITS.c.id == bindparam("unit_id"))
            .values(path=bindparam("unit_path"))
        )
        for batch in _chunks(paths, INSERT_CHUNK):
            await session.execute(set_path, batch)


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
