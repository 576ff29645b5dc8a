"""The rates report (báo cáo số liệu) of a unit and its subtree, for a year and one month.

The figures are those of the committees' phụ lục số liệu (domain.md §5 and §8.5): members,
miễn sinh hoạt, phải đăng ký, đã đăng ký, đã duyệt, tự đánh giá in the month, việc làm đã /
đang / chưa thực hiện, chi bộ that reviewed the pledges at their meeting, mô hình and điển hình.

Set-based: each unit's own figures for the year (what it holds directly), then rolled up in
Python into the unit's direct children and the unit itself. The own figures come from a cache,
unit_year_counts, one row per unit and year, valid while the unit's version (unit_versions) is
the one it was computed at: database triggers (migration 0009) bump the version on every write
to the unit's members, their pledges, self-assessments, entries and excuses, whatever code
makes it. The stale or missing units are computed with one query per kind of figure, grouped by
unit, and stored back; the number of queries does not depend on the number of members or
units. The tree itself (closed units, the chi bộ reviews, the nominations) is read each time.

Rules:
- members are the active members; miễn sinh hoạt (exempt) ones are counted but owe nothing;
- a member excused in the month (vắng có lý do, approved) is left out of that month's
  self-assessment figures (neither counted nor assessed);
- a closed unit, and whatever is still under it, is left out (its members were moved when it
  was merged or dissolved); asked for directly, a closed unit reports its subtree, but is not
  counted as a chi bộ itself;
- a chi bộ is an open unit of kind "chi_bo", or any open unit that directly holds an active
  member;
- membership is today's: past months of the trend use the current members and exemptions.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from models.db import BUSY, fault, insert_for
from models.tables import (
    MONTH_FIGURES,
    Assessment,
    AssessmentEntry,
    Member,
    MemberPeriod,
    Nomination,
    OrgUnit,
    Pledge,
    UnitPeriod,
    UnitVersion,
    month_column,
    unit_year_counts,
)

log = logging.getLogger(__name__)

CHI_BO = "chi_bo"
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass
class Rates:
    members: int = 0  # active members
    exempt: int = 0  # miễn sinh hoạt
    required: int = 0  # phải đăng ký: members - exempt
    registered: int = 0  # required members with a pledge (any version, any status) this year
    approved: int = 0  # required members with an approved pledge this year
    counted: int = 0  # required members not excused in the month
    assessed: int = 0  # counted members with a self-assessment for the month
    items_done: int = 0  # the counted members' assessment entries of the month, by status
    items_doing: int = 0
    items_not_yet: int = 0
    cells: int = 0  # chi bộ
    cells_reviewed: int = 0  # chi bộ that recorded the review at the month's meeting
    models_collective: int = 0  # mô hình tập thể
    models_individual: int = 0  # mô hình cá nhân
    models_replicated: int = 0  # mô hình nhân rộng
    exemplars_collective: int = 0  # điển hình tập thể
    exemplars_individual: int = 0  # điển hình cá nhân = party + masses
    exemplars_party: int = 0  # … đảng viên
    exemplars_masses: int = 0  # … quần chúng

    def __add__(self, other: Rates) -> Rates:
        return Rates(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in _FIELDS})

    def __sub__(self, other: Rates) -> Rates:
        return Rates(**{f.name: getattr(self, f.name) - getattr(other, f.name) for f in _FIELDS})

    def is_empty(self) -> bool:
        return not any(getattr(self, f.name) for f in _FIELDS)


_FIELDS = fields(Rates)
# The figures of one month (the others hold for the whole year)
_MONTHLY = (
    "counted",
    "assessed",
    "items_done",
    "items_doing",
    "items_not_yet",
    "cells_reviewed",
)


def total(rates: Iterable[Rates]) -> Rates:
    result = Rates()
    for r in rates:
        result = result + r
    return result


@dataclass
class UnitRow:
    unit_id: int
    name: str
    depth: int  # 0: the report's unit, 1: its direct children
    rates: Rates


@dataclass
class Report:
    year: int
    period: str  # "YYYY-MM", the month of the self-assessment and review figures
    unit: UnitRow  # the whole subtree
    children: list[UnitRow]  # each direct open child, over its own subtree, in creation order
    trend: list[tuple[str, int, int]]  # (period, assessed, counted), January .. period

    @property
    def own(self) -> Rates:
        """What the unit holds directly, outside its children (members of a đảng bộ who belong
        to no chi bộ, its own nominations): unit = sum(children) + own."""
        return self.unit.rates - total(child.rates for child in self.children)


def default_period(now: datetime, tz: str | tzinfo) -> str:
    """The current month in the unit's timezone: "2026-05"."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return now.astimezone(zone).strftime("%Y-%m")


def year_periods(year: int, period: str) -> list[str]:
    """ "2026-01" .. period."""
    return [f"{year:04d}-{m:02d}" for m in range(1, int(period[5:7]) + 1)]


async def build_report(session: AsyncSession, unit: OrgUnit, *, year: int, period: str) -> Report:
    return (await build_reports(session, unit, year=year, periods=[period]))[0]


async def build_reports(
    session: AsyncSession, unit: OrgUnit, *, year: int, periods: Sequence[str]
) -> list[Report]:
    """The reports of several months of one year at once (the year's roll-up: every month's
    figures): the same figures as one report, the monthly figures grouped by month.

    Each unit's own figures come from the cache (unit_year_counts) when
    still valid; the others are computed and written to the cache in the session's
    transaction (kept if the caller commits)."""
    wanted: list[str] = []
    for period in periods:
        match = _PERIOD.match(period)
        if match is None or int(match.group(1)) != year:
            raise ValueError(f"period {period!r} is not a month of {year}")
        if period not in wanted:
            wanted.append(period)
    if not wanted:
        return []
    last = max(wanted)
    months = year_periods(year, last)
    prefix = unit.path
    depth0 = len(_ids(prefix))

    # Which bucket each unit's own figures go to: 0 for the unit itself, i + 1 for the subtree
    # of its i-th child. Units missing from the map (closed, or under a closed unit) are skipped.
    # The versions are read before any figure: see _store.
    units = (
        await session.execute(
            select(
                OrgUnit.id,
                OrgUnit.path,
                OrgUnit.name,
                OrgUnit.kind,
                OrgUnit.closed_at,
                func.coalesce(UnitVersion.version, 0),
            )
            .outerjoin(UnitVersion, UnitVersion.unit_id == OrgUnit.id)
            .where(OrgUnit.path.startswith(prefix))
            .order_by(OrgUnit.id)
        )
    ).all()
    closed = {uid for uid, _, _, _, closed_at, _ in units if closed_at is not None}
    versions = {uid: version for uid, _, _, _, _, version in units}
    children: list[tuple[int, str]] = []
    child_index: dict[int, int] = {}
    bucket: dict[int, int] = {}
    kinds: dict[int, str] = {}
    for uid, path, name, kind, _, _ in units:
        ids = _ids(path)[depth0 - 1 :]  # the report's unit .. this unit
        if closed.intersection(ids[1:]):
            continue
        kinds[uid] = kind
        if len(ids) == 1:
            bucket[uid] = 0
            continue
        if len(ids) == 2:
            child_index[uid] = len(children) + 1
            children.append((uid, name))
        if ids[1] in child_index:
            bucket[uid] = child_index[ids[1]]

    # Each unit's own figures as a row of `layout`, from the cache or computed.
    layout = _layout(months, wanted)
    own = await _cached(session, prefix, year, layout, wanted)
    stale = [uid for uid in bucket if uid not in own]
    if stale:
        # Many stale units: one pass over the subtree costs less than a long list of ids.
        few = len(stale) <= _FEW_UNITS
        scope = stale if few else select(OrgUnit.id).where(OrgUnit.path.startswith(prefix))
        computed = await _compute(session, year, scope, stale, wanted)
        await _keep(session, year, computed, versions)
        own.update((uid, tuple(row[name] for name in layout)) for uid, row in computed.items())

    # Summed by bucket, column by column.
    in_bucket: list[list[tuple[int, ...]]] = [[] for _ in range(len(children) + 1)]
    holds_members: set[int] = set()
    for uid, b_index in bucket.items():
        row = own[uid]
        in_bucket[b_index].append(row)
        if row[0]:  # members
            holds_members.add(uid)
    sums = [
        dict(zip(layout, map(sum, zip(*rows, strict=True)), strict=True))
        if rows
        else dict.fromkeys(layout, 0)
        for rows in in_bucket
    ]
    # The figures that do not depend on the month, then per wanted month those that do.
    base = [dict.fromkeys((f.name for f in _FIELDS), 0) for _ in sums]
    monthly = {p: [dict.fromkeys(_MONTHLY, 0) for _ in sums] for p in wanted}
    for b, s in zip(base, sums, strict=True):
        b.update((k, s[k]) for k in _YEARLY)
    for p in wanted:
        month = int(p[5:])
        for m, s in zip(monthly[p], sums, strict=True):
            m["counted"] -= s[month_column("excused", month)]  # the required count is added below
            for key in ("assessed", *_ITEMS):
                m[key] += s[month_column(key, month)]
    excused_in = {p: sum(s[month_column("excused", int(p[5:]))] for s in sums) for p in months}
    assessed_in = {p: sum(s[month_column("assessed", int(p[5:]))] for s in sums) for p in months}

    # chi bộ, and those that recorded the review in the month (read directly: a few rows)
    reviewed: dict[str, set[int]] = {p: set() for p in wanted}
    for uid, p in await session.execute(
        select(UnitPeriod.unit_id, UnitPeriod.period)
        .join(OrgUnit, OrgUnit.id == UnitPeriod.unit_id)
        .where(OrgUnit.path.startswith(prefix), UnitPeriod.period.in_(wanted))
    ):
        reviewed[p].add(uid)
    for uid, b_index in bucket.items():
        if uid not in closed and (kinds[uid] == CHI_BO or uid in holds_members):
            base[b_index]["cells"] += 1
            for p in wanted:
                monthly[p][b_index]["cells_reviewed"] += uid in reviewed[p]

    await _add_nominations(session, prefix, year, bucket, base)

    for b in base:
        b["required"] = b["members"] - b["exempt"]
        b["counted"] = b["required"]
    reports = []
    for period in periods:
        rates = [
            Rates(**{**b, **{k: b[k] + m[k] for k in _MONTHLY}})
            for b, m in zip(base, monthly[period], strict=True)
        ]
        child_rows = [UnitRow(uid, name, 1, rates[i + 1]) for i, (uid, name) in enumerate(children)]
        whole = total(rates)
        trend = [(p, assessed_in[p], whole.required - excused_in[p]) for p in months if p <= period]
        reports.append(
            Report(
                year=year,
                period=period,
                unit=UnitRow(unit.id, unit.name, 0, whole),
                children=child_rows,
                trend=trend,
            )
        )
    return reports


# -- each unit's own figures: the cache, and computing them -------------------------------------

# A unit's own figures, by column of unit_year_counts: yearly (members, exempt, registered,
# approved) and by month (excused, assessed, items done, doing, not yet).
Own = dict[str, Any]  # int, or None: items not computed
_YEARLY = ("members", "exempt", "registered", "approved")
_ITEMS = ("items_done", "items_doing", "items_not_yet")
_FEW_UNITS = 500  # stale units computed by id; more: the whole subtree at once
_KEYS = ("unit_id", "year", "version")


class _Month:
    """One month's figures of a unit's row: m["assessed"] is row["assessed_05"]."""

    def __init__(self, row: Own, month: int) -> None:
        self.row, self.month = row, month

    def __getitem__(self, figure: str) -> int:
        return int(self.row[month_column(figure, self.month)])

    def __setitem__(self, figure: str, value: int) -> None:
        self.row[month_column(figure, self.month)] = value


def _layout(months: list[str], wanted: Iterable[str]) -> list[str]:
    """The figures a report reads: the year's, and of each month the excused and assessed (the
    trend), with the items of the wanted months. Members first."""
    items = set(wanted)
    return [
        *_YEARLY,
        *(
            month_column(figure, int(p[5:]))
            for p in months
            for figure in (MONTH_FIGURES if p in items else MONTH_FIGURES[:2])
        ),
    ]


async def _cached(
    session: AsyncSession, prefix: str, year: int, layout: list[str], wanted: Iterable[str]
) -> dict[int, tuple[int, ...]]:
    """The subtree's units whose cached figures are still valid and hold the items of the
    wanted months, as rows of `layout`. The validity is checked in the same statement, so it
    holds for the figures read."""
    c = unit_year_counts.c
    with_items = (c[month_column("items_done", int(p[5:]))].is_not(None) for p in wanted)
    rows = await session.execute(
        select(c.unit_id, *(c[name] for name in layout))
        .join(OrgUnit, OrgUnit.id == c.unit_id)
        .outerjoin(UnitVersion, UnitVersion.unit_id == c.unit_id)
        .where(
            OrgUnit.path.startswith(prefix),
            c.year == year,
            c.version == func.coalesce(UnitVersion.version, 0),
            *with_items,
        )
    )
    return {uid: tuple(figures) for uid, *figures in rows}


async def _keep(
    session: AsyncSession, year: int, computed: dict[int, Own], versions: dict[int, int]
) -> None:
    """Store the figures if the database lets this transaction write now. On SQLite a
    transaction that has read cannot write once another one has committed since (SQLITE_BUSY
    at once, whatever the timeout): the report is still right, the cache waits for the next."""
    try:
        await _store(session, year, computed, versions)
    except OperationalError as exc:
        if session.get_bind().dialect.name != "sqlite" or fault(exc) != BUSY:
            raise
        log.info("report cache not stored: the database changed meanwhile")


async def _store(
    session: AsyncSession, year: int, computed: dict[int, Own], versions: dict[int, int]
) -> None:
    """Write the computed figures (every month of the year) to the cache with the unit versions
    read *before* computing them. A write committed meanwhile has bumped the version (its
    trigger runs in the writer's transaction), so these rows are stale from the start instead
    of hiding that write; one not yet committed bumps it when it commits. Rows go in key order
    (no deadlock between two reports on PostgreSQL)."""
    rows = [
        {"unit_id": uid, "year": year, "version": versions[uid], **computed[uid]}
        for uid in sorted(computed)
    ]
    # about 400 rows a statement: SQLite allows 32,766 parameters
    for start in range(0, len(rows), 400):
        await session.execute(_upsert(session), rows[start : start + 400])


def _upsert(session: AsyncSession) -> Any:
    """Insert or replace a unit's row; the items of a month not computed now (NULL) are kept
    from the row replaced if that was computed at the same version (the same data)."""
    stmt = insert_for(session)(unit_year_counts)
    table, new = unit_year_counts.c, stmt.excluded
    same = table.version == new.version
    values = {
        c.name: func.coalesce(new[c.name], case((same, c))) if c.nullable else new[c.name]
        for c in table
        if c.name not in _KEYS[:2]
    }
    return stmt.on_conflict_do_update(index_elements=["unit_id", "year"], set_=values)


async def _compute(
    session: AsyncSession, year: int, scope: Any, units: Iterable[int], items_in: Sequence[str]
) -> dict[int, Own]:
    """Each unit's own figures for the whole year, for the units of `scope` (ids, or a subquery
    of ids): every unit of `units` gets an entry, zeros when it holds nothing. The items (the
    costliest figures: every entry) only of the months `items_in`, the others None. One query
    per kind of figure, grouped by unit; the number of queries does not depend on the number
    of units."""
    months = year_periods(year, f"{year:04d}-12")
    first, last = months[0], months[-1]
    counted = {month_column(f, int(p[5:])) for p in items_in for f in _ITEMS}
    blank = {
        c.name: None if c.nullable and c.name not in counted else 0
        for c in unit_year_counts.c
        if c.name not in _KEYS
    }
    found: dict[int, Own] = {uid: dict(blank) for uid in units}

    def of(uid: int) -> Own:
        return found.setdefault(uid, dict(blank))

    def month(uid: int, p: str) -> _Month:
        return _Month(of(uid), int(p[5:]))

    active = (Member.unit_id.in_(scope), Member.active.is_(True))
    required = (*active, Member.exempt.is_(False))
    # For queries driven by a small table (excused absences) over a whole subtree: "+ 0" keeps
    # SQLite from starting with every member of the subtree through the unit index. A few units
    # by id: their members first.
    by_id = isinstance(scope, list)
    required_few = ((Member.unit_id if by_id else Member.unit_id + 0).in_(scope), *required[1:])

    def counts(column: Any, values: Iterable[str]) -> list[Any]:
        """One count per value: a pivot, so each query groups by unit alone."""
        return [func.sum(case((column == v, 1), else_=0)) for v in values]

    # Each query starts from the members (in unit order) and looks up their rows.
    # 1. members and exemptions
    rows = await session.execute(
        select(Member.unit_id, func.count(), func.sum(case((Member.exempt.is_(True), 1), else_=0)))
        .where(*active)
        .group_by(Member.unit_id)
    )
    for uid, n, n_exempt in rows:
        y = of(uid)
        y["members"] += n
        y["exempt"] += int(n_exempt or 0)

    # 2. pledges: registered (any version) and approved, per member
    rows = await session.execute(
        select(
            Member.unit_id,
            func.count(Pledge.member_id.distinct()),
            func.count(case((Pledge.status == "approved", Pledge.member_id)).distinct()),
        )
        .select_from(Member)
        .join(Pledge, and_(Pledge.member_id == Member.id, Pledge.year == year))
        .where(*required)
        .group_by(Member.unit_id)
    )
    for uid, n_registered, n_approved in rows:
        y = of(uid)
        y["registered"] += n_registered
        y["approved"] += n_approved

    # 3. self-assessments, every month (excused members are taken out below)
    rows = await session.execute(
        select(Member.unit_id, *counts(Assessment.period, months))
        .select_from(Member)
        .join(
            Assessment,
            and_(Assessment.member_id == Member.id, Assessment.period.between(first, last)),
        )
        .where(*required)
        .group_by(Member.unit_id)
    )
    for uid, *per_period in rows:
        for p, n in zip(months, per_period, strict=True):
            month(uid, p)["assessed"] += int(n or 0)

    # 4. excused absences, and how many of them self-assessed anyway
    rows = await session.execute(
        select(Member.unit_id, MemberPeriod.period, func.count(), func.count(Assessment.id))
        .select_from(MemberPeriod)
        .join(Member, Member.id == MemberPeriod.member_id)
        .outerjoin(
            Assessment,
            and_(
                Assessment.member_id == MemberPeriod.member_id,
                Assessment.period == MemberPeriod.period,
            ),
        )
        .where(MemberPeriod.period.in_(months), MemberPeriod.excuse == "approved", *required_few)
        .group_by(Member.unit_id, MemberPeriod.period)
    )
    for uid, p, n, n_assessed in rows:
        m = month(uid, p)
        m["excused"] += n
        m["assessed"] -= n_assessed

    # 5. the entries of the self-assessments, by status; less those of the excused
    statuses = {"done": "items_done", "doing": "items_doing", "not_yet": "items_not_yet"}
    # By id: "|| ''" keeps SQLite from starting with every assessment of the months (the period
    # index) instead of the few units' members.
    period = Assessment.period.concat("") if by_id else Assessment.period
    for excused_only in (False, True):
        stmt = select(Member.unit_id, Assessment.period, *counts(AssessmentEntry.status, statuses))
        if excused_only:
            stmt = (
                stmt.select_from(MemberPeriod)
                .join(Member, Member.id == MemberPeriod.member_id)
                .where(
                    MemberPeriod.period.in_(items_in),
                    MemberPeriod.excuse == "approved",
                    *required_few,
                )
            )
            on_period = period == MemberPeriod.period
        else:
            stmt = stmt.select_from(Member).where(*required)
            on_period = period.in_(items_in)
        stmt = (
            stmt.join(Assessment, and_(Assessment.member_id == Member.id, on_period))
            .join(AssessmentEntry, AssessmentEntry.assessment_id == Assessment.id)
            .group_by(Member.unit_id, Assessment.period)
        )
        sign = -1 if excused_only else 1
        for uid, p, *per_status in await session.execute(stmt):
            m = month(uid, p)
            for key, n in zip(statuses.values(), per_status, strict=True):
                m[key] += sign * int(n or 0)

    return found


async def _add_nominations(
    session: AsyncSession,
    prefix: str,
    year: int,
    bucket: dict[int, int],
    base: list[dict[str, int]],
) -> None:
    """mô hình and điển hình put forward this year (read directly: a few rows)."""
    rows = await session.execute(
        select(
            Nomination.unit_id,
            Nomination.kind,
            Nomination.subject,
            Nomination.party_member,
            Nomination.replicated,
            func.count(),
        )
        .join(OrgUnit, OrgUnit.id == Nomination.unit_id)
        .where(OrgUnit.path.startswith(prefix), Nomination.year == year)
        .group_by(
            Nomination.unit_id,
            Nomination.kind,
            Nomination.subject,
            Nomination.party_member,
            Nomination.replicated,
        )
    )
    for uid, kind, subject, party_member, replicated, n in rows:
        if uid not in bucket:
            continue
        b = base[bucket[uid]]
        if kind == "mo_hinh":
            b["models_collective" if subject == "tap_the" else "models_individual"] += n
            if replicated:
                b["models_replicated"] += n
        elif kind == "dien_hinh":
            if subject == "tap_the":
                b["exemplars_collective"] += n
            else:
                b["exemplars_individual"] += n
                b["exemplars_party" if party_member else "exemplars_masses"] += n


async def non_submitters(
    session: AsyncSession, unit: OrgUnit, period: str
) -> list[tuple[int, int, str]]:
    """The members of the unit's subtree who owed the month's self-assessment and have none:
    (unit id, member id, full name), by unit then name. They owe it as the report counts
    them: active, not exempt, not excused (approved) in the month; units under a closed one
    are left out."""
    if _PERIOD.match(period) is None:
        raise ValueError(f"period {period!r} is not a month")
    prefix = unit.path
    depth0 = len(_ids(prefix))
    units = (
        await session.execute(
            select(OrgUnit.id, OrgUnit.path, OrgUnit.closed_at).where(
                OrgUnit.path.startswith(prefix)
            )
        )
    ).all()
    closed = {uid for uid, _, closed_at in units if closed_at is not None}
    included = {uid for uid, path, _ in units if not closed.intersection(_ids(path)[depth0:])}
    submitted = select(Assessment.id).where(
        Assessment.member_id == Member.id, Assessment.period == period
    )
    excused = select(MemberPeriod.id).where(
        MemberPeriod.member_id == Member.id,
        MemberPeriod.period == period,
        MemberPeriod.excuse == "approved",
    )
    rows = await session.execute(
        select(Member.unit_id, Member.id, Member.full_name)
        .where(
            Member.unit_id.in_(select(OrgUnit.id).where(OrgUnit.path.startswith(prefix))),
            Member.active.is_(True),
            Member.exempt.is_(False),
            ~submitted.exists(),
            ~excused.exists(),
        )
        .order_by(Member.unit_id, Member.full_name)
    )
    return [(uid, mid, name) for uid, mid, name in rows if uid in included]


def _ids(path: str) -> list[int]:
    return [int(part) for part in path.strip("/").split("/") if part]
