"""The secretary's digest before a meeting, and its two buttons: nudge now, and details."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BindParameter,
    Integer,
    String,
    Subquery,
    bindparam,
    case,
    func,
    literal,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from handlers import texts
from handlers.common import month_label, when
from handlers.engine import Ctx, action
from handlers.messages import Choice, Reply
from handlers.reminders import plan_to_member, reminded_today, template_fields
from handlers.schedule import Meeting, ReminderRule
from handlers.scopes import refuse
from handlers.text import Html, fmt, number_vi, percent_vi
from models import periods as pm
from models import pledges as store
from models import routing
from models.people import has_role
from models.routing import RoutePolicy
from models.tables import (
    Assessment,
    AssessmentEntry,
    Delivery,
    Identity,
    Member,
    MemberPeriod,
    OrgUnit,
    PledgeItem,
)

MAX_NAMES = 40


def _names(names: list[str]) -> str:
    if not names:
        return texts.DIGEST_NONE
    shown = ", ".join(names[:MAX_NAMES])
    return shown + ("…" if len(names) > MAX_NAMES else "")


async def digest_reply(
    session: AsyncSession,
    cal: pm.Calendar,
    meeting: Meeting,
    rule: ReminderRule,
    now: datetime,
    policy: RoutePolicy,
) -> Reply:
    """The digest of a chi bộ for a meeting, in one query (_DIGEST; a second one for a chi bộ
    without an active member): each member with their period, their accounts and their items
    stuck for two months, and the pledges awaiting approval."""
    year = int(meeting.period[:4])
    params = {"unit_id": cal.unit.id, "period": meeting.period, "year": year}
    opens = pm.next_opens(cal, meeting, rule)
    names: dict[int, str] = {}
    statuses: dict[int, str] = {}
    reachable: set[int] = set()
    lost: set[int] = set()  # the last message planned to them reached no channel
    stuck: dict[int, dict[int, str]] = {}  # member -> item -> action, in the pledge's order
    pending: int | None = None
    for row in await session.execute(_DIGEST, params):
        if row.id not in names:
            names[row.id] = row.full_name
            statuses[row.id] = pm.status_of(row.exempt, row.late, row.excuse, meeting, opens, now)
            pending = row.pending
        if row.item_id is not None:
            stuck.setdefault(row.id, {})[row.item_id] = row.action
        if row.channel is None:  # no account
            continue
        if row.last_status in _FAILED:
            lost.add(row.id)
        if policy.reaches(row.channel, row.unreachable_at, row.last_inbound_at, "reminder", now):
            reachable.add(row.id)
    counted = [m for m in names if statuses[m] not in (pm.EXEMPT, pm.EXCUSED)]
    done = [m for m in counted if statuses[m] in (pm.SUBMITTED, pm.LATE)]
    missing = [names[m] for m in counted if statuses[m] not in (pm.SUBMITTED, pm.LATE)]
    excused = [names[m] for m in names if statuses[m] == pm.EXCUSED]
    lines = [
        fmt(
            texts.DIGEST_HEADER,
            month=month_label(meeting.period),
            unit=cal.unit.name,
            when=when(meeting.starts_at, cal.tz),
        ),
        "",
        texts.DIGEST_SUBMITTED.format(
            n=number_vi(len(done)),
            total=number_vi(len(counted)),
            percent=percent_vi(len(done), len(counted)),
        ),
        fmt(texts.DIGEST_MISSING, n=len(missing), names=_names(missing)),
    ]
    if excused:
        lines.append(fmt(texts.DIGEST_EXCUSED, names=_names(excused)))
    if stuck:
        lines.append(texts.DIGEST_STUCK)
        lines += [
            fmt(texts.DIGEST_STUCK_LINE, name=names[m], action=action)
            for m in sorted(stuck)
            for action in stuck[m].values()
        ]
    unreachable = [names[m] for m in counted if m in lost or m not in reachable]
    if unreachable:
        lines.append(fmt(texts.DIGEST_UNREACHABLE, names=_names(unreachable)))
    if pending is None:  # no member: no row to carry the count
        pending = await store.pending_count(session, cal.unit.id, year)
    if pending:
        lines.append(texts.DIGEST_PENDING.format(n=pending))
    buttons = [Choice(texts.BTN_DETAILS, f"!dd:{cal.unit.id}:{meeting.period}")]
    if missing:
        buttons.insert(0, Choice(texts.BTN_NUDGE, f"!dn:{cal.unit.id}:{meeting.period}"))
    counts = [
        (texts.PERIOD_STATUS[status], sum(1 for m in names if statuses[m] == status))
        for status in (pm.SUBMITTED, pm.LATE, pm.MISSING, pm.EXCUSED)
    ]
    chart = {
        "title": texts.DIGEST_CHART_TITLE.format(month=month_label(meeting.period)),
        "bars": [[label, n] for label, n in counts if n or label == counts[0][0]],
    }
    return Reply("\n".join(lines), buttons, chart=chart)


# The statements a digest runs are built once: building them cost as much as running them.


def _values(*values: str) -> list[BindParameter[str]]:
    """Constants for an IN list as plain bound parameters: a list of values would be expanded
    into the statement at every execution."""
    return [literal(v, String) for v in values]


# The status of the last message planned to an account's member (not a reply), once it went out.
_LAST_STATUS = (
    select(Delivery.status)
    .where(
        Delivery.member_id == Identity.member_id,
        Delivery.kind.not_in(_values(*sorted(routing.DIRECT_KINDS))),
        Delivery.status.not_in(_values("pending", "sending")),
    )
    .order_by(Delivery.id.desc())
    .limit(1)
    .scalar_subquery()
)
_FAILED = ("unreachable", "not_reached")


def _stuck_statement() -> Subquery:
    """The items marked "chưa thực hiện" in both of the two latest self-assessments up to the
    period of each active member of a chi bộ."""
    period = bindparam("period", type_=String)
    member = aliased(Member)
    earlier = aliased(Assessment)
    second_latest = (
        select(earlier.period)
        .where(earlier.member_id == member.id, earlier.period <= period)
        .order_by(earlier.period.desc())
        .limit(1)
        .offset(1)
        .scalar_subquery()
    )
    return (
        select(
            Assessment.member_id,
            PledgeItem.id.label("item_id"),
            PledgeItem.action,
            PledgeItem.position,
        )
        .select_from(member)
        .join(Assessment, Assessment.member_id == member.id)
        .join(AssessmentEntry, AssessmentEntry.assessment_id == Assessment.id)
        .join(PledgeItem, PledgeItem.id == AssessmentEntry.pledge_item_id)
        .where(
            member.unit_id == bindparam("unit_id", type_=Integer),
            member.active.is_(True),
            Assessment.period <= period,
            Assessment.period >= func.coalesce(second_latest, ""),
        )
        .group_by(Assessment.member_id, PledgeItem.id, PledgeItem.action, PledgeItem.position)
        .having(
            func.count() == 2,
            func.count(case((AssessmentEntry.status == "not_yet", 1))) == 2,
        )
        .subquery("stuck")
    )


_STUCK = _stuck_statement()

# Each active member with the period's self-assessment and mark (models.periods.UNIT_MEMBERS),
# one row per account and stuck item (or one without), with the chi bộ's count of pledges
# awaiting approval.
_DIGEST = (
    pm.UNIT_MEMBERS.with_only_columns(
        Member.id,
        Member.full_name,
        Member.exempt,
        Assessment.late,
        MemberPeriod.excuse,
        Identity.channel,
        Identity.unreachable_at,
        Identity.last_inbound_at,
        _LAST_STATUS.label("last_status"),
        _STUCK.c.item_id,
        _STUCK.c.action,
        store.PENDING_COUNT.scalar_subquery().label("pending"),
    )
    .outerjoin(Identity, Identity.member_id == Member.id)
    .outerjoin(_STUCK, _STUCK.c.member_id == Member.id)
    .order_by(_STUCK.c.position, _STUCK.c.item_id)
)


async def _unit_for_secretary(ctx: Ctx, args: str) -> tuple[pm.Calendar, Meeting] | None:
    unit_id, _, period = args.partition(":")
    unit = await ctx.session.get(OrgUnit, int(unit_id)) if unit_id.isdigit() else None
    if (
        unit is None
        or ctx.member is None
        or not await has_role(ctx.session, ctx.member.id, unit, ("secretary", "deputy", "observer"))
    ):
        refuse(ctx, "refused:digest", texts.NOT_ALLOWED, unit_id=unit.id if unit else None)
        return None
    cal = await pm.calendar_of(ctx.session, unit)
    meeting = cal.meeting(period) if cal else None
    if cal is None or meeting is None:
        ctx.reply(texts.STALE_BUTTON)
        return None
    return cal, meeting


@action("dn")
async def nudge(ctx: Ctx, args: str) -> None:
    """Remind now the members who have not submitted (at most one reminder a day each)."""
    found = await _unit_for_secretary(ctx, args)
    if found is None:
        return
    cal, meeting = found
    if ctx.now >= meeting.starts_at:
        ctx.reply(texts.STALE_BUTTON)
        return
    rule = pm.reminder_rule_of(cal.unit, ctx.settings.reminders)
    up = await pm.unit_period(ctx.session, cal, meeting, rule, ctx.now)
    sent = skipped = 0
    month, at = month_label(meeting.period), when(meeting.starts_at, cal.tz)
    day = ctx.now.astimezone(meeting.starts_at.tzinfo).date().isoformat()
    for member in up.members:
        if up.statuses[member.id] not in (pm.MISSING, pm.NOT_SUBMITTED):
            continue
        if await reminded_today(ctx.session, member.id, ctx.now, cal.tz):
            skipped += 1
            continue
        reply = Reply(
            fmt(texts.NUDGE, month=month, when=at), [Choice(texts.BTN_ASSESS_NOW, "!cmd:tudanhgia")]
        )
        key = f"nudge:{meeting.period}:{day}:m{member.id}"
        if await plan_to_member(
            ctx.session,
            member,
            reply,
            key,
            ctx.now,
            cal.tz,
            meeting.starts_at,
            rule,
            ctx.settings.routes,
            template_fields(member, cal, meeting),
        ):
            sent += 1
    if not sent and not skipped:
        ctx.reply(texts.NUDGE_NOBODY)
        return
    text = texts.NUDGED.format(n=sent)
    if skipped:
        text += texts.NUDGED_SKIPPED.format(n=skipped)
    ctx.reply(text)


@action("dd")
async def details(ctx: Ctx, args: str) -> None:
    found = await _unit_for_secretary(ctx, args)
    if found is None:
        return
    cal, meeting = found
    rule = pm.reminder_rule_of(cal.unit, ctx.settings.reminders)
    up = await pm.unit_period(ctx.session, cal, meeting, rule, ctx.now)
    assessed = await pm.assessments_for(ctx.session, [m.id for m in up.members], meeting.period)
    lines = [fmt(texts.DETAILS_HEADER, month=month_label(meeting.period), unit=cal.unit.name)]
    for member in up.members:
        submitted = assessed.get(member.id)
        marks = ""
        if submitted is not None:
            marks = " " + "".join(texts.DETAILS_MARK.get(e.status, "?") for e in submitted.entries)
        lines.append(
            fmt(
                texts.DETAILS_LINE,
                name=member.full_name,
                status=texts.PERIOD_STATUS[up.statuses[member.id]],
                items=Html(marks),
            )
        )
    ctx.reply("\n".join(lines))
