"""Meeting periods and self-assessments: which period is open, and each member's status in it.

A period is the month of a chi bộ meeting ("2026-12"). Its self-assessment opens some days before
the meeting and can be edited until the meeting starts; after that only a period the secretary
reopened takes a (late) submission. Statuses are derived, never stored:
chưa nộp → đã nộp | nộp muộn; chưa nộp → không nộp once the next period opens;
vắng có lý do (excused) and miễn sinh hoạt (exempt) are neither reminded nor counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, String, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.schedule import (
    Meeting,
    MeetingRule,
    Override,
    ReminderRule,
    meeting_for_period,
    next_meeting,
    opens_at,
    previous_meeting,
    shift_period,
)
from models.tables import (
    Assessment,
    AssessmentEntry,
    MeetingOverride,
    Member,
    MemberPeriod,
    OrgUnit,
)

SUBMITTED, LATE, MISSING, NOT_SUBMITTED, EXCUSED, EXEMPT = (
    "submitted",
    "late",
    "missing",  # chưa nộp (still possible)
    "not_submitted",  # không nộp (the next period has opened)
    "excused",
    "exempt",
)


def rule_of(unit: OrgUnit) -> MeetingRule | None:
    return MeetingRule.from_json(unit.meeting_rule) if unit.meeting_rule else None


def reminder_rule_of(unit: OrgUnit, default: ReminderRule) -> ReminderRule:
    return ReminderRule.from_json(unit.reminder_rule) if unit.reminder_rule else default


_OVERRIDES = select(MeetingOverride).where(MeetingOverride.unit_id == bindparam("unit_id"))


async def overrides_of(session: AsyncSession, unit_id: int) -> dict[str, Override]:
    rows = await session.scalars(_OVERRIDES, {"unit_id": unit_id})
    return {
        r.period: Override(
            period=r.period, starts_at=None if r.cancelled else r.starts_at, place=r.place
        )
        for r in rows
    }


@dataclass(frozen=True)
class Calendar:
    """A chi bộ's meetings, as far as they are known now."""

    unit: OrgUnit
    rule: MeetingRule
    overrides: dict[str, Override]

    @property
    def tz(self) -> str:
        return self.unit.timezone

    def next(self, now: datetime) -> Meeting | None:
        return next_meeting(self.rule, self.overrides, now, self.tz)

    def previous(self, now: datetime) -> Meeting | None:
        return previous_meeting(self.rule, self.overrides, now, self.tz)

    def meeting(self, period: str) -> Meeting | None:
        return meeting_for_period(self.rule, period, self.overrides, self.tz)


async def calendar_of(session: AsyncSession, unit: OrgUnit) -> Calendar | None:
    rule = rule_of(unit)
    if rule is None:
        return None
    return Calendar(unit, rule, await overrides_of(session, unit.id))


@dataclass(frozen=True)
class OpenPeriod:
    meeting: Meeting
    late: bool  # reopened by the secretary after its meeting


async def open_periods(
    session: AsyncSession, member: Member, cal: Calendar, reminders: ReminderRule, now: datetime
) -> list[OpenPeriod]:
    """Periods this member may submit or edit now, oldest first: reopened past periods without
    a submission (catch-up), then the coming meeting's period once it has opened."""
    found: list[OpenPeriod] = []
    marks = await session.scalars(
        select(MemberPeriod).where(
            MemberPeriod.member_id == member.id, MemberPeriod.reopened_at.is_not(None)
        )
    )
    done = {a.period for a in await assessments_of(session, member.id)}
    for mark in sorted(marks, key=lambda m: m.period):
        meeting = cal.meeting(mark.period)
        if meeting is not None and meeting.starts_at <= now and mark.period not in done:
            found.append(OpenPeriod(meeting, late=True))
    coming = cal.next(now)
    if coming is not None and opens_at(coming, reminders, cal.tz) <= now:
        found.append(OpenPeriod(coming, late=False))
    return found


async def assessments_of(session: AsyncSession, member_id: int) -> list[Assessment]:
    stmt = select(Assessment).where(Assessment.member_id == member_id).order_by(Assessment.period)
    return list(await session.scalars(stmt))


async def assessment(session: AsyncSession, member_id: int, period: str) -> Assessment | None:
    stmt = select(Assessment).where(Assessment.member_id == member_id, Assessment.period == period)
    return (await session.scalars(stmt)).first()


async def assessments_for(
    session: AsyncSession, member_ids: Sequence[int], period: str
) -> dict[int, Assessment]:
    """The period's self-assessments of these members (with their entries), by member."""
    stmt = select(Assessment).where(
        Assessment.member_id.in_(member_ids), Assessment.period == period
    )
    return {a.member_id: a for a in await session.scalars(stmt)}


async def previous_assessment(
    session: AsyncSession, member_id: int, period: str
) -> Assessment | None:
    """The latest submission before this period: its statuses pre-fill the new one."""
    stmt = (
        select(Assessment)
        .where(Assessment.member_id == member_id, Assessment.period < period)
        .order_by(Assessment.period.desc())
    )
    return (await session.scalars(stmt)).first()


@dataclass
class EntryDraft:
    pledge_item_id: int
    status: str
    note: str | None = None


async def save_assessment(
    session: AsyncSession,
    member: Member,
    *,
    period: str,
    pledge_id: int,
    entries: Sequence[EntryDraft],
    difficulties: str | None,
    late: bool,
    now: datetime,
    entered_by: int | None = None,
) -> Assessment:
    """Submit, or replace an earlier submission for the same period (edits before the meeting)."""
    existing = await assessment(session, member.id, period)
    if existing is None:
        existing = Assessment(
            member_id=member.id, period=period, pledge_id=pledge_id, submitted_at=now
        )
        session.add(existing)
    existing.pledge_id, existing.difficulties, existing.late = pledge_id, difficulties, late
    existing.updated_at, existing.entered_by = now, entered_by
    existing.entries = [
        AssessmentEntry(pledge_item_id=e.pledge_item_id, status=e.status, note=e.note)
        for e in entries
    ]
    await session.flush()
    return existing


async def mark_of(session: AsyncSession, member_id: int, period: str) -> MemberPeriod | None:
    stmt = select(MemberPeriod).where(
        MemberPeriod.member_id == member_id, MemberPeriod.period == period
    )
    return (await session.scalars(stmt)).first()


async def ensure_mark(
    session: AsyncSession, member_id: int, period: str, now: datetime
) -> MemberPeriod:
    mark = await mark_of(session, member_id, period)
    if mark is None:
        mark = MemberPeriod(member_id=member_id, period=period, updated_at=now)
        session.add(mark)
    mark.updated_at = now
    return mark


def status_of(
    exempt: bool,
    late: bool | None,
    excuse: str | None,
    meeting: Meeting,
    next_opens: datetime | None,
    now: datetime,
) -> str:
    """A member's status for one period (see the module docstring): `exempt` is the member's
    miễn sinh hoạt; `late` None without a self-assessment, else whether it came late; `excuse`
    the period mark's excuse, if any; `next_opens` when the following period opens."""
    if exempt:
        return EXEMPT
    if excuse == "approved":
        return EXCUSED
    if late is not None:
        return LATE if late else SUBMITTED
    if next_opens is not None and now >= next_opens:
        return NOT_SUBMITTED
    return MISSING


def next_opens(cal: Calendar, meeting: Meeting, reminders: ReminderRule) -> datetime | None:
    """When the period after this meeting's opens (a missing submission is then không nộp)."""
    following = cal.meeting(shift_period(meeting.period, 1))
    return opens_at(following, reminders, cal.tz) if following else None


@dataclass(frozen=True)
class UnitPeriod:
    """Everything the digest needs about one chi bộ and one period."""

    meeting: Meeting
    members: list[Member]
    statuses: dict[int, str]  # member id -> status


# Each active member of a chi bộ, by name, with the period's self-assessment and mark when
# there are: unit_period's one query (the digest derives its own from it). Built once: for a
# chi bộ, building it cost as much as running it.
_PERIOD = bindparam("period", type_=String)
UNIT_MEMBERS = (
    select(Member, Assessment.late, MemberPeriod.excuse)
    .outerjoin(Assessment, and_(Assessment.member_id == Member.id, Assessment.period == _PERIOD))
    .outerjoin(
        MemberPeriod, and_(MemberPeriod.member_id == Member.id, MemberPeriod.period == _PERIOD)
    )
    .where(Member.unit_id == bindparam("unit_id", type_=Integer), Member.active.is_(True))
    .order_by(Member.full_name, Member.id)
)


async def unit_period(
    session: AsyncSession,
    cal: Calendar,
    meeting: Meeting,
    reminders: ReminderRule,
    now: datetime,
) -> UnitPeriod:
    rows = (
        await session.execute(UNIT_MEMBERS, {"unit_id": cal.unit.id, "period": meeting.period})
    ).all()
    opens = next_opens(cal, meeting, reminders)
    statuses = {
        m.id: status_of(m.exempt, late, excuse, meeting, opens, now) for m, late, excuse in rows
    }
    return UnitPeriod(meeting, [m for m, _, _ in rows], statuses)
