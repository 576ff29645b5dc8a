"""Benchmark 3: reports at province scale.

Seeds a province (tỉnh → huyện → xã/đảng bộ cơ sở → chi bộ; 100,000 members in 5,000 chi bộ by
default) with a year of pledges in every status, `--months` of self-assessments (three items
each), excused absences, the chi bộ reviews, nominations, a Telegram account per member and
their last reminders in the outbox: bulk inserts (COPY on PostgreSQL, executemany on SQLite),
reported as rows/s. Then it times what the bot really runs:

- digest: a chi bộ's pre-meeting digest (handlers.digest.digest_reply, given the chi bộ and its
  calendar as its callers have them), p50/p95 over chi bộ;
- history: one member's year (models.year_reviews.summarise, /tongketnam), p50/p95;
- province report: build_report on the province for the last month (/baocao), p50;
- non-submitters: models.reports.non_submitters on the province for the last month, p50;
- full-year roll-up: the province's report for every month of the year (each month's figures
  rolled up to the province and its huyện: models.reports.build_reports), p50.

The two province figures are timed cold (the report cache empty, as right after seeding: every
unit's figures computed) and warm (the cache filled, then 1 % of the chi bộ changed before each
run, as between two reports of a working day); the goals apply to the warm figures.

`python -m bench.reports [--members N --cells M --months K --db sqlite|postgresql|both]`
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bench.common import Databases, Figure, Sample, chosen, profiled, sample, timed
from models.db import create_engine, session_factory

NAME = "reports"
YEAR = 2026
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CELLS_PER_COMMUNE = 20
COMMUNES_PER_DISTRICT = 25
ITEMS = 3
GOALS = {  # (sqlite, postgresql), ms
    "digest p95": (5.0, 5.0),
    "province report": (150.0, 100.0),
    "full-year roll-up": (1000.0, 500.0),
}
CHUNK = 5_000  # members seeded per transaction


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--members", type=int, help="default 100,000 (--quick: 4,000)")
    parser.add_argument("--cells", type=int, help="chi bộ; default 5,000 (--quick: 200)")
    parser.add_argument("--months", type=int, default=12, help="months of assessments (1..12)")
    parser.add_argument("--samples", type=int, help="chi bộ / members timed (default 200)")
    parser.add_argument("--repeat", type=int, help="runs of each province figure (default 5)")
    parser.add_argument("--seed", type=int, default=7)


def sizes(args: argparse.Namespace) -> tuple[int, int, int, int]:
    members = args.members or (4_000 if args.quick else 100_000)
    cells = args.cells or max(1, members // 20)
    samples = args.samples or (30 if args.quick else 200)
    repeat = args.repeat or (3 if args.quick else 5)
    return members, cells, samples, repeat


# -- seeding ------------------------------------------------------------------------------------

COLUMNS: dict[str, tuple[str, ...]] = {
    "org_units": (
        "id",
        "parent_id",
        "kind",
        "name",
        "path",
        "timezone",
        "meeting_rule",
        "created_at",
    ),
    "members": (
        "id",
        "unit_id",
        "full_name",
        "name_key",
        "position",
        "party_role",
        "category",
        "exempt",
        "phone",
        "active",
        "created_at",
        "updated_at",
    ),
    "roles": ("id", "member_id", "unit_id", "role", "created_at"),
    "identities": ("id", "member_id", "channel", "user_id", "chat_id", "created_at"),
    "deliveries": (
        "id",
        "channel",
        "chat_id",
        "member_id",
        "kind",
        "dedupe_key",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
        "sent_at",
    ),
    "pledges": (
        "id",
        "member_id",
        "year",
        "version",
        "status",
        "study",
        "shortcomings",
        "submitted_at",
    ),
    "pledge_items": (
        "id",
        "pledge_id",
        "position",
        "action",
        "result",
        "deadline",
        "breakthrough",
        "kept_vague",
    ),
    "assessments": (
        "id",
        "member_id",
        "period",
        "pledge_id",
        "submitted_at",
        "updated_at",
        "late",
    ),
    "assessment_entries": ("id", "assessment_id", "pledge_item_id", "status"),
    "member_periods": ("id", "member_id", "period", "excuse", "updated_at"),
    "unit_periods": ("id", "unit_id", "period", "reviewed_at"),
    "nominations": (
        "id",
        "unit_id",
        "year",
        "kind",
        "subject",
        "party_member",
        "name",
        "description",
        "replicated",
        "created_at",
    ),
}
MEETING = {"kind": "day", "day": 5, "time": "19:30", "place": "Nhà văn hóa"}
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quang"]
GIVEN = ["An", "Bình", "Cường", "Dũng", "Hà", "Hải", "Hoa", "Hùng", "Lan", "Long", "Mai", "Nam"]


@dataclass
class Province:
    root: int
    cells: list[int]
    members: int
    rows: int  # every row seeded
    seconds: float
    month: int  # the last month seeded


def _ts(dialect: str, dt: datetime) -> Any:
    """A UTC timestamp as models.tables.UTCDateTime stores it on each database."""
    if dialect == "sqlite":
        return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return dt.astimezone(UTC)


async def _bulk(conn: AsyncConnection, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
    if not rows:
        return
    columns = COLUMNS[table]
    if conn.dialect.name == "postgresql":
        raw = await conn.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            table, records=rows, columns=columns
        )
    else:
        marks = ", ".join("?" * len(columns))
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        await conn.exec_driver_sql(sql, list(rows))


def _tree(cells: int) -> tuple[list[tuple[int, int | None, str, str]], list[int]]:
    """(id, parent id, kind, name) of every unit, parents first; the chi bộ ids."""
    communes = -(-cells // CELLS_PER_COMMUNE)
    districts = -(-communes // COMMUNES_PER_DISTRICT)
    units: list[tuple[int, int | None, str, str]] = [(1, None, "dang_bo", "Đảng bộ tỉnh Bình An")]
    district_ids = [2 + d for d in range(districts)]
    units += [(i, 1, "dang_bo", f"Đảng bộ huyện {n + 1}") for n, i in enumerate(district_ids)]
    commune_ids = [2 + districts + c for c in range(communes)]
    units += [
        (i, district_ids[n % districts], "dang_bo", f"Đảng bộ xã {n + 1}")
        for n, i in enumerate(commune_ids)
    ]
    cell_ids = [2 + districts + communes + c for c in range(cells)]
    units += [
        (i, commune_ids[n // CELLS_PER_COMMUNE], "chi_bo", f"Chi bộ thôn {n + 1}")
        for n, i in enumerate(cell_ids)
    ]
    return units, cell_ids


async def seed(
    engine: AsyncEngine, members: int, cells: int, months: int, rng: random.Random
) -> Province:
    start = time.perf_counter()
    dialect = engine.dialect.name
    now = datetime(YEAR, months, 1, 2, 0, tzinfo=UTC)
    ts = _ts(dialect, now)
    units, cell_ids = _tree(cells)
    paths: dict[int, str] = {}
    unit_rows = []
    for uid, parent, kind, name in units:
        paths[uid] = (paths[parent] if parent else "/") + f"{uid}/"
        rule = json.dumps(MEETING) if kind == "chi_bo" else None
        unit_rows.append((uid, parent, kind, name, paths[uid], "Asia/Ho_Chi_Minh", rule, ts))
    periods = [f"{YEAR}-{m:02d}" for m in range(1, months + 1)]
    count = dict.fromkeys(COLUMNS, 0)
    count["org_units"] = len(unit_rows)
    async with engine.begin() as conn:
        await _bulk(conn, "org_units", unit_rows)
        up = [
            (0, cell, p, _ts(dialect, datetime(YEAR, int(p[5:]), 5, 14, tzinfo=UTC)))
            for cell in cell_ids
            for p in periods
            if rng.random() < 0.7
        ]
        up = [(n + 1, *row[1:]) for n, row in enumerate(up)]
        count["unit_periods"] = len(up)
        await _bulk(conn, "unit_periods", up)
        communes = [u for u, _, kind, name in units if name.startswith("Đảng bộ xã")]
        nominations = []
        for n in range(len(communes) * 2 + len(cell_ids) // 10):
            nominations.append(
                (
                    n + 1,
                    rng.choice(communes + cell_ids),
                    YEAR,
                    rng.choice(["mo_hinh", "dien_hinh"]),
                    rng.choice(["ca_nhan", "tap_the"]),
                    rng.random() < 0.7,
                    f"Mô hình {n + 1}",
                    "Mô tả",
                    rng.random() < 0.2,
                    ts,
                )
            )
        count["nominations"] = len(nominations)
        await _bulk(conn, "nominations", nominations)

    # Members go to chi bộ of uneven sizes (0.5 to 1.5 times the mean), in chi bộ order.
    weights = [rng.uniform(0.5, 1.5) for _ in cell_ids]
    total, bounds = 0.0, []
    for w in weights:
        total += w
        bounds.append(total)
    cell_of = [
        cell_ids[min(len(cell_ids) - 1, bisect.bisect_left(bounds, (i + 0.5) / members * total))]
        for i in range(members)
    ]
    ids = dict.fromkeys(COLUMNS, 0)

    def next_id(table: str) -> int:
        ids[table] += 1
        return ids[table]

    position_in_cell: dict[int, int] = {}
    for first in range(0, members, CHUNK):
        rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in COLUMNS}
        for i in range(first, min(first + CHUNK, members)):
            mid = next_id("members")
            cell = cell_of[i]
            j = position_in_cell[cell] = position_in_cell.get(cell, -1) + 1
            role = "secretary" if j == 0 else "deputy" if j == 1 else "member"
            name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)} {mid}"
            rows["members"].append(
                (
                    mid,
                    cell,
                    name,
                    f"dang vien {mid}",
                    "",
                    role,
                    "official" if rng.random() < 0.9 else "probationary",
                    rng.random() < 0.05,
                    f"09{mid:08d}",
                    rng.random() < 0.98,
                    ts,
                    ts,
                )
            )
            if role != "member":
                rows["roles"].append((next_id("roles"), mid, cell, role, ts))
            if rng.random() < 0.9:
                rows["identities"].append(
                    (next_id("identities"), mid, "telegram", str(mid), str(mid), ts)
                )
                for k in range(2):  # the last two reminders
                    status = "unreachable" if k == 1 and rng.random() < 0.02 else "sent"
                    rows["deliveries"].append(
                        (
                            next_id("deliveries"),
                            "telegram",
                            str(mid),
                            mid,
                            "reminder",
                            f"bench:{mid}:{k}",
                            "{}",
                            status,
                            1,
                            ts,
                            ts,
                            ts,
                        )
                    )
            _pledge_and_assessments(rows, next_id, mid, periods, rng, dialect)
        async with engine.begin() as conn:
            for table in COLUMNS:
                if table not in ("org_units", "unit_periods", "nominations"):
                    await _bulk(conn, table, rows[table])
                    count[table] += len(rows[table])
    async with engine.begin() as conn:
        if dialect == "postgresql":
            for table in COLUMNS:  # explicit ids: move the sequences past them
                await conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                    )
                )
            await conn.execute(text("ANALYZE"))  # what autovacuum does after a bulk load
    return Province(
        root=1,
        cells=cell_ids,
        members=members,
        rows=sum(count.values()),
        seconds=time.perf_counter() - start,
        month=months,
    )


def _pledge_and_assessments(
    rows: dict[str, list[tuple[Any, ...]]],
    next_id: Any,
    mid: int,
    periods: list[str],
    rng: random.Random,
    dialect: str,
) -> None:
    shape = rng.random()
    if shape < 0.08:
        return  # no pledge this year
    submitted = _ts(dialect, datetime(YEAR, 1, 15, 3, tzinfo=UTC))
    if shape < 0.88:
        status = "approved" if shape < 0.72 else "submitted" if shape < 0.8 else "returned"
        versions = [status]
    else:
        versions = ["superseded", "approved" if rng.random() < 0.7 else "submitted"]
    pledge = 0
    for version, status in enumerate(versions, start=1):
        pledge = next_id("pledges")
        rows["pledges"].append((pledge, mid, YEAR, version, status, "[]", "[]", submitted))
    items = []
    for position in range(ITEMS):
        item = next_id("pledge_items")
        items.append(item)
        rows["pledge_items"].append(
            (item, pledge, position, f"Việc làm {position + 1}", "Kết quả", "M12", False, False)
        )
    for period in periods:
        month = int(period[5:])
        if rng.random() < 0.03:
            excuse = "approved" if rng.random() < 0.8 else "requested"
            at = _ts(dialect, datetime(YEAR, month, 3, tzinfo=UTC))
            rows["member_periods"].append((next_id("member_periods"), mid, period, excuse, at))
        if rng.random() < 0.85:
            aid = next_id("assessments")
            at = _ts(dialect, datetime(YEAR, month, 2, 12, tzinfo=UTC))
            rows["assessments"].append((aid, mid, period, pledge, at, at, rng.random() < 0.03))
            for item in items:
                status = rng.choices(("done", "doing", "not_yet"), (50, 35, 15))[0]
                entry = next_id("assessment_entries")
                rows["assessment_entries"].append((entry, aid, item, status))


# -- measuring ------------------------------------------------------------------------------

# One entry of the month in the chi bộ flips between done and doing.
CHANGE_ENTRY = """
UPDATE assessment_entries SET status = CASE status WHEN 'done' THEN 'doing' ELSE 'done' END
WHERE id = (
    SELECT e.id FROM assessment_entries e
    JOIN assessments a ON a.id = e.assessment_id
    JOIN members m ON m.id = a.member_id
    WHERE m.unit_id = :unit AND a.period = :period
    ORDER BY e.id LIMIT 1
)
"""


async def measure(
    engine: AsyncEngine,
    province: Province,
    samples: int,
    repeat: int,
    rng: random.Random,
    profile: bool,
) -> dict[str, Sample]:
    """The timings, by figure."""
    from sqlalchemy import select

    from handlers.digest import digest_reply
    from handlers.schedule import ReminderRule
    from models import periods as pm
    from models.reports import build_report, build_reports, non_submitters
    from models.routing import RoutePolicy
    from models.tables import Member, OrgUnit, Pledge
    from models.year_reviews import summarise

    sessions = session_factory(engine)
    period = f"{YEAR}-{province.month:02d}"
    # the eve of the month's meeting (day 5, 19:30): when the digest goes out
    now = datetime(YEAR, province.month, 4, 18, tzinfo=TZ).astimezone(UTC)
    reminders, policy = ReminderRule(), RoutePolicy()

    async def digest(cal: pm.Calendar) -> None:
        async with sessions() as s:
            meeting = cal.meeting(period)
            assert meeting is not None
            rule = pm.reminder_rule_of(cal.unit, reminders)
            reply = await digest_reply(s, cal, meeting, rule, now, policy)
            assert reply.text

    async with sessions() as s:
        pledged = list(
            await s.scalars(select(Pledge.member_id).where(Pledge.year == YEAR).distinct())
        )
    who = rng.sample(pledged, min(samples, len(pledged)))

    async def history(member_id: int) -> None:
        async with sessions() as s:
            member = await s.get(Member, member_id)
            assert member is not None
            assert await summarise(s, member, YEAR, now) is not None

    # The province figures run cold (the cache empty: the transaction is rolled back, so
    # nothing it stored stays) or warm (committed, as the bot's handlers do).
    async def province_report(p: str = period, keep: bool = True) -> None:
        async with sessions() as s, s.begin():
            unit = await s.get(OrgUnit, province.root)
            assert unit is not None
            await build_report(s, unit, year=YEAR, period=p)
            if not keep:
                await s.rollback()

    async def late_ones() -> None:
        async with sessions() as s:
            unit = await s.get(OrgUnit, province.root)
            assert unit is not None
            await non_submitters(s, unit, period)

    async def full_year(keep: bool = True) -> None:
        async with sessions() as s, s.begin():
            unit = await s.get(OrgUnit, province.root)
            assert unit is not None
            months = [f"{YEAR}-{m:02d}" for m in range(1, province.month + 1)]
            assert len(await build_reports(s, unit, year=YEAR, periods=months)) == len(months)
            if not keep:
                await s.rollback()

    async def change_some_units() -> None:
        """1 % of the chi bộ change since the last report: an entry of the month edited in
        each (the triggers make their cached figures stale)."""
        changed = rng.sample(province.cells, max(1, len(province.cells) // 100))
        async with sessions() as s, s.begin():
            for cell in changed:
                await s.execute(text(CHANGE_ENTRY), {"unit": cell, "period": period})

    cells = rng.sample(province.cells, min(samples, len(province.cells)))
    # The callers have the chi bộ and its calendar before the digest (the scheduler reads every
    # chi bộ's to see what is due, /chibo the secretary's for its review button): read here too.
    async with sessions() as s:
        units = {u.id: u for u in await s.scalars(select(OrgUnit).where(OrgUnit.id.in_(cells)))}
        cals = [await pm.calendar_of(s, units[c]) for c in cells]
    for cal in cals[:3]:  # warm the caches and the connection pool
        assert cal is not None
        await digest(cal)
    found: dict[str, Sample] = {}
    with profiled(profile, "digest"):
        found["digest"] = await sample([partial(digest, c) for c in cals if c is not None])
    with profiled(profile, "history"):
        found["history"] = await sample([partial(history, m) for m in who])
    cold = max(1, repeat // 2)  # each cold run computes the whole year of every unit
    with profiled(profile, "province report, cold"):
        found["province report, cold"] = await sample([partial(province_report, keep=False)] * cold)
    with profiled(profile, "full-year roll-up, cold"):
        found["full-year roll-up, cold"] = await sample([partial(full_year, keep=False)] * cold)
    await full_year()  # fills the cache
    for name, call in (("province report", province_report), ("full-year roll-up", full_year)):
        with profiled(profile, name):
            found[name] = await after_each(change_some_units, call, repeat)
    await late_ones()  # warm-up
    with profiled(profile, "non-submitters"):
        found["non-submitters"] = await sample([late_ones] * repeat)
    return found


async def after_each(
    setup: Callable[[], Awaitable[None]], call: Callable[[], Awaitable[None]], repeat: int
) -> Sample:
    """`call` timed `repeat` times, each after an untimed `setup`."""
    wall, cpu = [], 0.0
    for _ in range(repeat):
        await setup()
        started = time.process_time()
        wall.append(await timed(call))
        cpu += time.process_time() - started
    return Sample(wall, cpu)


async def run(args: argparse.Namespace, dbs: Databases) -> list[Figure]:
    members, cells, samples, repeat = sizes(args)
    months = max(1, min(12, args.months))
    figures: list[Figure] = []
    for db in chosen(args.db):
        url = await dbs.fresh(db)
        engine = create_engine(url)
        try:
            province = await seed(engine, members, cells, months, random.Random(args.seed))
            print(
                f"[{db}] seeded {province.rows:,} rows ({members:,} members, {cells:,} chi bộ, "
                f"{months} months) in {province.seconds:.1f} s",
                file=sys.stderr,
            )
            found = await measure(
                engine, province, samples, repeat, random.Random(args.seed), args.profile
            )
        finally:
            await engine.dispose()
            await dbs.drop(url)
        figures.append(Figure(NAME, "seeding", db, province.rows / province.seconds, "rows/s"))
        figures.append(Figure(NAME, "seeded rows", db, province.rows, "rows"))
        index = 0 if db == "sqlite" else 1
        for name, timings in found.items():
            quantiles = (50, 95) if name in ("digest", "history") else (50,)
            for q in quantiles:
                label = f"{name} p{q}" if len(quantiles) > 1 else name
                goal = GOALS.get(label)
                figures.append(
                    Figure(
                        NAME,
                        label,
                        db,
                        timings.ms(q),
                        "ms",
                        goal[index] if goal else None,
                        cpu=timings.cpu_ms,
                    )
                )
    return figures


if __name__ == "__main__":
    import bench.common
    import bench.reports

    bench.common.main(bench.reports)
