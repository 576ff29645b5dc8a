"""The year-end summary (tổng kết năm) of a member's pledge, and their saved paragraph.

What a year's summary is made of:
- the version summarised: the newest approved one, else the newest one;
- per item of that version, the final status: the status of the latest self-assessment entry
  for the item in the year. Entries made under an earlier version count for the item with the
  same action text (a new version copies the items it keeps, with new ids);
- per item, the number of periods it was assessed in, out of the periods a self-assessment was
  due: the chi bộ's meetings of the year that have started, after the pledge was first approved
  (before that, /tudanhgia cannot be answered), less cancelled meetings and approved absences
  (vắng có lý do), as models.periods counts them; a miễn sinh hoạt member owes none. A period
  the member did assess (e.g. reopened late) is always counted.

The bot never grades: nothing here computes a grade.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.schedule import period_key
from handlers.text import fold
from models import periods as pm
from models import pledges as store
from models.tables import (
    Assessment,
    Member,
    MemberPeriod,
    Pledge,
    PledgeItem,
    YearReview,
)

# -- the saved paragraph ---------------------------------------------------------------------


async def get(session: AsyncSession, member_id: int, year: int) -> YearReview | None:
    stmt = select(YearReview).where(YearReview.member_id == member_id, YearReview.year == year)
    return (await session.scalars(stmt)).first()


async def save(
    session: AsyncSession, member_id: int, year: int, text: str, now: datetime
) -> YearReview:
    """Keep the member's paragraph for the year, replacing the one saved before."""
    review = await get(session, member_id, year)
    if review is None:
        review = YearReview(member_id=member_id, year=year, text=text, updated_at=now)
        session.add(review)
    review.text, review.updated_at = text, now
    await session.flush()
    return review


# -- the summary -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemResult:
    item: PledgeItem
    status: str | None  # the latest self-assessment's status key; None: never assessed
    note: str | None  # that latest entry's note
    period: str | None  # that latest assessment's period
    assessed: int  # periods of the year with an entry for this item


@dataclass(frozen=True)
class YearSummary:
    year: int
    pledge: Pledge  # the version summarised
    approved: bool  # False: no version was ever approved, the newest one is shown
    newer: Pledge | None  # a newer version than the approved one shown (waiting, or returned)
    items: list[ItemResult]
    periods: int  # periods a self-assessment was due (or made) in the year so far
    last_period: str | None  # the latest period with a self-assessment


async def pledge_years(session: AsyncSession, member_id: int) -> list[int]:
    stmt = select(Pledge.year).where(Pledge.member_id == member_id).distinct()
    return sorted(await session.scalars(stmt))


async def approved_since(session: AsyncSession, member_id: int, year: int) -> datetime | None:
    """When a version of the year's pledge was first approved. An approved version stays
    approved until a newer one is approved (then it is superseded, keeping its decision); a
    returned one always carries the secretary's comment, an approved one never does."""
    stmt = select(Pledge.decided_at).where(
        Pledge.member_id == member_id,
        Pledge.year == year,
        Pledge.status.in_((store.APPROVED, store.SUPERSEDED)),
        Pledge.decided_at.is_not(None),
        Pledge.comment.is_(None),
    )
    moments = [m for m in await session.scalars(stmt) if m is not None]
    return min(moments, default=None)


async def due_periods(session: AsyncSession, member: Member, year: int, now: datetime) -> set[str]:
    """The year's periods in which this member owed a self-assessment (see the module doc)."""
    if member.exempt:
        return set()
    since = await approved_since(session, member.id, year)
    cal = await pm.calendar_of(session, member.unit)
    if since is None or cal is None:
        return set()
    excused = set(
        await session.scalars(
            select(MemberPeriod.period).where(
                MemberPeriod.member_id == member.id,
                MemberPeriod.excuse == "approved",
                MemberPeriod.period.between(period_key(year, 1), period_key(year, 12)),
            )
        )
    )
    due = set()
    for month in range(1, 13):
        period = period_key(year, month)
        meeting = cal.meeting(period)
        if meeting is None or period in excused:
            continue
        if since < meeting.starts_at <= now:
            due.add(period)
    return due


async def summarise(
    session: AsyncSession, member: Member, year: int, now: datetime
) -> YearSummary | None:
    """The member's year, or None without a pledge for it."""
    newest = await store.latest(session, member.id, year)
    if newest is None:
        return None
    in_force = await store.approved(session, member.id, year)
    pledge = in_force or newest
    newer = newest if in_force is not None and newest.version > in_force.version else None

    # Every item of every version of the year: an entry may name an earlier version's item.
    all_items = {
        i.id: i
        for i in await session.scalars(
            select(PledgeItem)
            .join(Pledge, Pledge.id == PledgeItem.pledge_id)
            .where(Pledge.member_id == member.id, Pledge.year == year)
        )
    }
    shown = list(pledge.items)
    by_action: dict[str, PledgeItem] = {}
    for item in shown:
        by_action.setdefault(fold(item.action), item)
    own_ids = {i.id: i for i in shown}

    def target(item_id: int) -> PledgeItem | None:
        if item_id in own_ids:
            return own_ids[item_id]
        earlier = all_items.get(item_id)
        return by_action.get(fold(earlier.action)) if earlier is not None else None

    assessments = list(
        await session.scalars(
            select(Assessment)
            .where(
                Assessment.member_id == member.id,
                Assessment.period.between(period_key(year, 1), period_key(year, 12)),
            )
            .order_by(Assessment.period)
        )
    )
    # item id -> [(period, status, note)] in period order
    history: dict[int, list[tuple[str, str, str | None]]] = {i.id: [] for i in shown}
    for assessment in assessments:
        for entry in assessment.entries:
            mapped = target(entry.pledge_item_id)
            if mapped is None:
                continue
            found = history[mapped.id]
            if found and found[-1][0] == assessment.period:
                continue  # two old items merged into one: one entry per period
            found.append((assessment.period, entry.status, entry.note))

    results = []
    for item in shown:
        found = history[item.id]
        last = found[-1] if found else None
        results.append(
            ItemResult(
                item=item,
                status=last[1] if last else None,
                note=last[2] if last else None,
                period=last[0] if last else None,
                assessed=len(found),
            )
        )
    assessed_periods = {a.period for a in assessments}
    counted = await due_periods(session, member, year, now) | assessed_periods
    return YearSummary(
        year=year,
        pledge=pledge,
        approved=in_force is not None,
        newer=newer,
        items=results,
        periods=len(counted),
        last_period=max(assessed_periods, default=None),
    )
