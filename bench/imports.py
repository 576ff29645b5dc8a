"""Benchmark 4: the roster import (`python -m bot org import FILE`) at province scale.

Writes a 100,000-row roster (tỉnh/huyện/xã/chi bộ paths, a bí thư and a phó bí thư per chi bộ,
phones, some miễn sinh hoạt and dự bị) as CSV and as XLSX, and imports each into an empty
database the way the CLI does (models.roster.import_roster in one transaction, committed),
then imports the same file again (nothing changes). Goals: ≤ 10 s each.

`python -m bench.imports [--rows N --cells M --db sqlite|postgresql|both]`
"""

from __future__ import annotations

import argparse
import csv
import itertools
import random
import sys
import tempfile
from pathlib import Path

from bench.common import Databases, Figure, Sample, chosen, profiled, sample
from models.db import create_engine, session_factory, utcnow

NAME = "imports"
GOAL_S = 10.0
HEADER = [
    "STT",
    "Đơn vị",
    "Họ và tên",
    "Chức vụ",
    "Vai trò",
    "Loại",
    "Miễn sinh hoạt",
    "Điện thoại",
]
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quang", "Thu", "Xuân"]
GIVEN = ["An", "Bình", "Cường", "Dũng", "Hà", "Hải", "Hoa", "Hùng", "Lan", "Long", "Mai", "Nam"]
POSITIONS = ["", "", "Trưởng thôn", "Giáo viên", "Chi hội trưởng Chi hội Phụ nữ", "Công an viên"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, help="members; default 100,000 (--quick: 5,000)")
    parser.add_argument("--cells", type=int, help="chi bộ; default rows / 20")
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--seed", type=int, default=7)


def roster(rows: int, cells: int, rng: random.Random) -> list[list[str]]:
    names = [" ".join(parts) for parts in itertools.product(FAMILY, MIDDLE, GIVEN)]
    per_cell = -(-rows // cells)
    if per_cell > len(names):
        raise ValueError(f"at most {len(names)} members per chi bộ")
    out: list[list[str]] = []
    for c in range(cells):
        commune, district = c // 20, c // 500
        unit = f"Đảng bộ tỉnh Bình An/Đảng bộ huyện {district + 1}/Đảng bộ xã {commune + 1}"
        unit += f"/Chi bộ thôn {c + 1}"
        for j, name in enumerate(rng.sample(names, min(per_cell, rows - len(out)))):
            role = "Bí thư" if j == 0 else "Phó bí thư" if j == 1 else "Đảng viên"
            out.append(
                [
                    str(len(out) + 1),
                    unit,
                    name,
                    rng.choice(POSITIONS),
                    role,
                    "Chính thức" if rng.random() < 0.9 else "Dự bị",
                    "Có" if rng.random() < 0.04 else "Không",
                    f"09{rng.randrange(10**8):08d}",
                ]
            )
    return out


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows([HEADER, *rows])


def write_xlsx(path: Path, rows: list[list[str]]) -> None:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Danh sách")
    ws.append(HEADER)
    for row in rows:
        ws.append(row)
    wb.save(path)


async def import_once(url: str, path: Path) -> tuple[int, int, int]:
    """As `python -m bot org import FILE`: one transaction, committed. (added, updated,
    unchanged)."""
    from models.roster import import_roster

    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            report = await import_roster(session, path, utcnow())
            if report.errors:
                raise RuntimeError(f"the roster was refused: {report.errors[:3]}")
    finally:
        await engine.dispose()
    return report.added, report.updated, report.unchanged


async def run(args: argparse.Namespace, dbs: Databases) -> list[Figure]:
    rows = args.rows or (5_000 if args.quick else 100_000)
    cells = args.cells or max(1, rows // 20)
    data = roster(rows, cells, random.Random(args.seed))
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="lamtheo-bench-roster-") as tmp:
        files = {}
        for fmt in args.formats.split(","):
            files[fmt] = Path(tmp) / f"roster.{fmt}"
            (write_csv if fmt == "csv" else write_xlsx)(files[fmt], data)
        for db in chosen(args.db):
            for fmt, path in files.items():
                url = await dbs.fresh(db)
                counts: list[tuple[int, int, int]] = []

                async def once(
                    url: str = url, path: Path = path, counts: list[tuple[int, int, int]] = counts
                ) -> None:
                    counts.append(await import_once(url, path))

                try:
                    with profiled(args.profile, f"{fmt} import, {db}"):
                        first: Sample = await sample([once])
                    with profiled(args.profile, f"{fmt} re-import, {db}"):
                        again: Sample = await sample([once])
                finally:
                    await dbs.drop(url)
                if counts != [(len(data), 0, 0), (0, 0, len(data))]:
                    raise RuntimeError(f"unexpected import counts: {counts}")
                print(
                    f"[{db}] {fmt}: {len(data):,} rows imported in {first.wall[0]:.1f} s, "
                    f"again in {again.wall[0]:.1f} s",
                    file=sys.stderr,
                )
                for label, s in ((f"{fmt} import", first), (f"{fmt} re-import", again)):
                    figures.append(Figure(NAME, label, db, s.wall[0], "s", GOAL_S, cpu=s.cpu_ms))
                figures.append(
                    Figure(NAME, f"{fmt} import rate", db, len(data) / first.wall[0], "rows/s")
                )
    return figures


if __name__ == "__main__":
    import bench.common
    import bench.imports

    bench.common.main(bench.imports)
