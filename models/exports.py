"""What an export of a unit's pledges and monthly self-assessments holds (bot/exports.py renders
it as XLSX or DOCX). Gathered set-based: a handful of queries for the whole subtree, whatever
its size, never one per member."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.text import fold
from models.orgs import ancestor_ids
from models.pledges import APPROVED, SUPERSEDED
from models.tables import (
    Assessment,
    Member,
    MemberPeriod,
    OrgUnit,
    Pledge,
    PledgeItem,
)
from models.themes import theme_for


@dataclass(frozen=True)
class ItemExport:
    position: int
    action: str
    result: str
    deadline: str  # a code of handlers/deadlines.py; the renderer puts it in words
    breakthrough: bool


@dataclass(frozen=True)
class PledgeExport:
    status: str  # models.pledges: submitted | approved | returned
    version: int
    submitted_at: datetime
    decided_at: datetime | None
    study: list[str]
    shortcomings: list[str]
    items: list[ItemExport]


@dataclass(frozen=True)
class MonthExport:
    """One member in one period. submitted_at is None when nothing was submitted (the row
    exists because of an excuse or a review comment)."""

    submitted_at: datetime | None
    late: bool
    entered_by_name: str | None  # the secretary who entered it for the member
    difficulties: str | None
    # item position (in the pledge version that was assessed) -> (status key, note)
    statuses: dict[int, tuple[str, str | None]]
    excused: bool  # vắng có lý do, approved
    review_comment: str | None


@dataclass(frozen=True)
class MemberExport:
    name: str
    unit_name: str
    position: str
    party_role: str
    category: str
    exempt: bool
    pledge: PledgeExport | None
    months: dict[str, MonthExport]  # period ("2026-11") -> the month; absent: no row at all
    parent_name: str | None = None  # the member's unit's parent (the form's "ĐẢNG BỘ …")


@dataclass(frozen=True)
class UnitExport:
    unit_name: str
    parents: list[str]  # the ancestors' names, root first
    year: int
    members: list[MemberExport]
    periods: list[str]  # months of the year with any assessment or MemberPeriod row, sorted
    theme_title: str | None = None
    timezone: str = "Asia/Ho_Chi_Minh"  # the unit's, for the times shown


def _pick_pledge(versions: list[Pledge]) -> Pledge | None:
    """The version shown: the newest approved one, else the newest one still standing."""
    standing = [p for p in versions if p.status != SUPERSEDED]
    if not standing:
        return None
    approved = [p for p in standing if p.status == APPROVED]
    return max(approved or standing, key=lambda p: p.version)


def _pledge_export(p: Pledge) -> PledgeExport:
    return PledgeExport(
        status=p.status,
        version=p.version,
        submitted_at=p.submitted_at,
        decided_at=p.decided_at,
        study=[str(s) for s in p.study or []],
        shortcomings=[str(s) for s in p.shortcomings or []],
        items=[
            ItemExport(
                position=i.position,
                action=i.action,
                result=i.result,
                deadline=i.deadline,
                breakthrough=i.breakthrough,
            )
            for i in p.items
        ],
    )


async def unit_export(session: AsyncSession, unit: OrgUnit, *, year: int) -> UnitExport:
    """The unit's whole subtree: its active members (by unit path, then name), each with the
    pledge of the year and the months of the year."""
    in_subtree = OrgUnit.path.like(unit.path + "%")
    ancestors = ancestor_ids(unit)[:-1]
    units = {
        u.id: u
        for u in await session.scalars(
            select(OrgUnit).where(or_(in_subtree, OrgUnit.id.in_(ancestors)))
        )
    }
    member_ids = (
        select(Member.id)
        .join(OrgUnit, OrgUnit.id == Member.unit_id)
        .where(in_subtree, Member.active.is_(True))
    )
    members = list(await session.scalars(select(Member).where(Member.id.in_(member_ids))))
    members.sort(key=lambda m: (units[m.unit_id].path, fold(m.full_name), m.full_name, m.id))

    versions: dict[int, list[Pledge]] = {}
    for p in await session.scalars(
        select(Pledge).where(
            Pledge.member_id.in_(member_ids), Pledge.year == year, Pledge.status != SUPERSEDED
        )
    ):
        versions.setdefault(p.member_id, []).append(p)

    in_year = f"{year:04d}-%"
    assessments = list(
        await session.scalars(
            select(Assessment).where(
                Assessment.member_id.in_(member_ids), Assessment.period.like(in_year)
            )
        )
    )
    marks = {
        (m.member_id, m.period): m
        for m in await session.scalars(
            select(MemberPeriod).where(
                MemberPeriod.member_id.in_(member_ids), MemberPeriod.period.like(in_year)
            )
        )
    }
    # The assessed items may belong to an older version than the one shown: by position.
    assessed_pledges = {a.pledge_id for a in assessments}
    positions: dict[int, int] = {}
    if assessed_pledges:
        item_rows = await session.execute(
            select(PledgeItem.id, PledgeItem.position).where(
                PledgeItem.pledge_id.in_(assessed_pledges)
            )
        )
        positions = {item_id: position for item_id, position in item_rows.all()}
    enterers = {a.entered_by for a in assessments if a.entered_by is not None}
    enterer_names: dict[int, str] = {}
    if enterers:
        name_rows = await session.execute(
            select(Member.id, Member.full_name).where(Member.id.in_(enterers))
        )
        enterer_names = {member_id: name for member_id, name in name_rows.all()}

    by_member: dict[int, dict[str, Assessment]] = {}
    for a in assessments:
        by_member.setdefault(a.member_id, {})[a.period] = a
    periods = sorted({a.period for a in assessments} | {period for _, period in marks})

    exported: list[MemberExport] = []
    for m in members:
        months: dict[str, MonthExport] = {}
        for period in periods:
            done = by_member.get(m.id, {}).get(period)
            mark = marks.get((m.id, period))
            if done is None and mark is None:
                continue
            months[period] = MonthExport(
                submitted_at=done.submitted_at if done else None,
                late=bool(done and done.late),
                entered_by_name=(
                    enterer_names.get(done.entered_by)
                    if done and done.entered_by is not None
                    else None
                ),
                difficulties=done.difficulties if done else None,
                statuses={
                    positions[e.pledge_item_id]: (e.status, e.note)
                    for e in (done.entries if done else [])
                    if e.pledge_item_id in positions
                },
                excused=mark is not None and mark.excuse == "approved",
                review_comment=mark.review_comment if mark else None,
            )
        pledge = _pick_pledge(versions.get(m.id, []))
        unit_of = units[m.unit_id]
        parent = units.get(unit_of.parent_id) if unit_of.parent_id is not None else None
        exported.append(
            MemberExport(
                name=m.full_name,
                unit_name=unit_of.name,
                position=m.position or "",
                party_role=m.party_role,
                category=m.category,
                exempt=m.exempt,
                pledge=_pledge_export(pledge) if pledge else None,
                months=months,
                parent_name=parent.name if parent else None,
            )
        )

    theme = await theme_for(session, unit, year)
    return UnitExport(
        unit_name=unit.name,
        parents=[units[i].name for i in ancestors if i in units],
        year=year,
        members=exported,
        periods=periods,
        theme_title=theme.title if theme else None,
        timezone=unit.timezone,
    )
