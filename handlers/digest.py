"""The secretary's digest before a meeting, and its two buttons: nudge now, and details."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, String, bindparam, func, select
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
from models.tables import Assessment, Delivery, Member, OrgUnit, PledgeItem

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
    up = await pm.unit_period(session, cal, meeting, rule, now)
    counted = [m for m in up.members if up.statuses[m.id] not in (pm.EXEMPT, pm.EXCUSED)]
    done = [m for m in counted if up.statuses[m.id] in (pm.SUBMITTED, pm.LATE)]
    missing = [m.full_name for m in counted if m not in done]
    excused = [m.full_name for m in up.members if up.statuses[m.id] == pm.EXCUSED]
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
    stuck = await _stuck_items(session, [m.id for m in up.members], meeting.period)
    if stuck:
        names = {m.id: m.full_name for m in up.members}
        lines.append(texts.DIGEST_STUCK)
        lines += [fmt(texts.DIGEST_STUCK_LINE, name=names[mid], action=a) for mid, a in stuck]
    unreachable = await _unreachable(session, counted, now, policy)
    if unreachable:
        lines.append(fmt(texts.DIGEST_UNREACHABLE, names=_names(unreachable)))
    year = int(meeting.period[:4])
    pending = await store.pending_count(session, cal.unit.id, year)
    if pending:
        lines.append(texts.DIGEST_PENDING.format(n=pending))
    buttons = [Choice(texts.BTN_DETAILS, f"!dd:{cal.unit.id}:{meeting.period}")]
    if missing:
        buttons.insert(0, Choice(texts.BTN_NUDGE, f"!dn:{cal.unit.id}:{meeting.period}"))
    counts = [
        (texts.PERIOD_STATUS[status], sum(1 for m in up.members if up.statuses[m.id] == status))
        for status in (pm.SUBMITTED, pm.LATE, pm.MISSING, pm.EXCUSED)
    ]
    chart = {
        "title": texts.DIGEST_CHART_TITLE.format(month=month_label(meeting.period)),
        "bars": [[label, n] for label, n in counts if n or label == counts[0][0]],
    }
    return Reply("\n".join(lines), buttons, chart=chart)


def _stuck_statement() -> Select[int, str, int, str, str]:
    """The entries of each member's two latest assessments up to a period (not the whole
    year's). Built once: building it costs as much as running it."""
    from models.tables import AssessmentEntry

    period = bindparam("period", type_=String)
    earlier = aliased(Assessment)
    second_latest = (
        select(earlier.period)
        .where(earlier.member_id == Assessment.member_id, earlier.period <= period)
        .order_by(earlier.period.desc())
        .limit(1)
        .offset(1)
        .scalar_subquery()
    )
    return (
        select(
            Assessment.member_id,
            Assessment.period,
            AssessmentEntry.pledge_item_id,
            AssessmentEntry.status,
            PledgeItem.action,
        )
        .join(AssessmentEntry, AssessmentEntry.assessment_id == Assessment.id)
        .join(PledgeItem, PledgeItem.id == AssessmentEntry.pledge_item_id)
        .where(
            Assessment.member_id.in_(bindparam("ids", expanding=True)),
            Assessment.period <= period,
            Assessment.period >= func.coalesce(second_latest, ""),
        )
        .order_by(Assessment.member_id, Assessment.period.desc())
    )


_STUCK = _stuck_statement()


async def _stuck_items(
    session: AsyncSession, member_ids: list[int], period: str
) -> list[tuple[int, str]]:
    """Items marked "chưa thực hiện" in the member's two latest assessments up to this period."""
    if not member_ids:
        return []
    rows = await session.execute(_STUCK, {"ids": member_ids, "period": period})
    periods: dict[int, list[str]] = {}
    statuses: dict[tuple[int, int], list[str]] = {}
    actions: dict[int, str] = {}
    for member_id, p, item_id, status, action_text in rows:
        seen = periods.setdefault(member_id, [])
        if p not in seen:
            seen.append(p)
        if seen.index(p) < 2:
            statuses.setdefault((member_id, item_id), []).append(status)
            actions[item_id] = action_text
    return [
        (member_id, actions[item_id])
        for (member_id, item_id), found in statuses.items()
        if len(found) == 2 and all(s == "not_yet" for s in found)
    ]


# The members whose last message planned to them (not a reply) reached no channel.
_LAST_FAILED = select(Delivery.member_id).where(
    Delivery.id.in_(
        select(func.max(Delivery.id))
        .where(
            Delivery.member_id.in_(bindparam("ids", expanding=True)),
            Delivery.kind.not_in(routing.DIRECT_KINDS),
            Delivery.status.not_in(("pending", "sending")),
        )
        .group_by(Delivery.member_id)
    ),
    Delivery.status.in_(("unreachable", "not_reached")),
)


async def _unreachable(
    session: AsyncSession, members: list[Member], now: datetime, policy: RoutePolicy
) -> list[str]:
    """Members the bot cannot reach on any channel: no linked account, every account blocked
    or outside its window, or the last message planned to them reached no channel."""
    ids = [m.id for m in members]
    accounts = await routing.identities(session, ids)
    failed = set(await session.scalars(_LAST_FAILED, {"ids": ids})) if ids else set()
    return [
        m.full_name
        for m in members
        if m.id in failed or not any(policy.can_reach(a, "reminder", now) for a in accounts[m.id])
    ]


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
