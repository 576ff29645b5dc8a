"""Planning what is due: reminders before each meeting and the secretary's digest.

The scheduler calls plan_due() on every tick. Nothing is sent here: rows go to the outbox with
dedupe keys (e.g. "reminder:2026-12:d3:m42"), so a tick that runs twice, or again after a
crash, plans nothing twice. A reminder is planned only while its meeting is still ahead, at most
one per member per local day, and never inside quiet hours.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import texts
from handlers.common import month_label, when
from handlers.messages import Choice, Reply
from handlers.schedule import Meeting, ReminderRule, apply_quiet_hours, reminder_times
from handlers.settings import Settings
from handlers.text import fmt
from models import periods as pm
from models import pledges as store
from models import routing
from models.tables import Delivery, Member, OrgUnit, Role

MEMBER_KINDS = ("d3", "d1", "dayof")
REMINDER = "reminder"


async def plan_due(session: AsyncSession, now: datetime, settings: Settings) -> Counter[str]:
    """Plan everything due at `now` for every chi bộ with a schedule; count by kind."""
    planned: Counter[str] = Counter()
    units = await session.scalars(select(OrgUnit).where(OrgUnit.meeting_rule.is_not(None)))
    for unit in list(units):
        cal = await pm.calendar_of(session, unit)
        meeting = cal.next(now) if cal else None
        if cal is None or meeting is None:
            continue
        rule = pm.reminder_rule_of(unit, settings.reminders)
        times = reminder_times(meeting, rule, cal.tz)
        due = [k for k in MEMBER_KINDS if k in times and times[k] <= now]
        if due:
            # Only the latest due reminder: after downtime, D-1 replaces a D-3 not yet sent.
            latest = max(due, key=lambda k: times[k])
            planned[latest] += await _plan_member_reminders(
                session, cal, meeting, rule, latest, now, settings.routes
            )
        if "digest" in times and times["digest"] <= now:
            planned["digest"] += await plan_digest(session, cal, meeting, rule, now, settings)
    from handlers.theme import plan_deadline_reminders  # it uses this module's plan_to_member

    planned["pledge_due"] += await plan_deadline_reminders(session, now, settings)
    return +planned


async def _plan_member_reminders(
    session: AsyncSession,
    cal: pm.Calendar,
    meeting: Meeting,
    rule: ReminderRule,
    kind: str,
    now: datetime,
    policy: routing.RoutePolicy,
) -> int:
    up = await pm.unit_period(session, cal, meeting, rule, now)
    count = 0
    for member in up.members:
        status = up.statuses[member.id]
        if status in (pm.EXEMPT, pm.EXCUSED):
            continue
        missing = status in (pm.MISSING, pm.NOT_SUBMITTED)
        if kind != "dayof" and not missing:
            continue
        reply = await _member_reminder(session, cal, meeting, member, kind, missing)
        key = f"{REMINDER}:{meeting.period}:{kind}:m{member.id}"
        fields = template_fields(member, cal, meeting)
        if await plan_to_member(
            session, member, reply, key, now, cal.tz, meeting.starts_at, rule, policy, fields
        ):
            count += 1
    return count


async def _member_reminder(
    session: AsyncSession,
    cal: pm.Calendar,
    meeting: Meeting,
    member: Member,
    kind: str,
    missing: bool,
) -> Reply:
    month, at = month_label(meeting.period), when(meeting.starts_at, cal.tz)
    if kind == "dayof":
        place = fmt(texts.REMINDER_PLACE, place=meeting.place) if meeting.place else ""
        text: str = fmt(texts.REMINDER_DAYOF, when=at, month=month, place=place)
        if missing:
            text += texts.REMINDER_DAYOF_MISSING.format(month=month)
    else:
        template = texts.REMINDER_D3 if kind == "d3" else texts.REMINDER_D1
        text = fmt(template, when=at, month=month)
    if not missing:
        return Reply(text)
    year = int(meeting.period[:4])
    if await store.approved(session, member.id, year) is None:
        return Reply(
            text + texts.REMINDER_NO_PLEDGE.format(year=year),
            [Choice(texts.BTN_DANGKY, "!cmd:dangky")],
        )
    return Reply(text, [Choice(texts.BTN_ASSESS_NOW, "!cmd:tudanhgia")])


async def reminded_today(session: AsyncSession, member_id: int, now: datetime, tz: str) -> bool:
    local = now.astimezone(ZoneInfo(tz))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    stmt = select(Delivery.id).where(
        Delivery.member_id == member_id,
        Delivery.kind == REMINDER,
        Delivery.created_at >= midnight,
        Delivery.created_at < midnight + timedelta(days=1),
    )
    return (await session.scalar(stmt)) is not None


async def plan_to_member(
    session: AsyncSession,
    member: Member,
    reply: Reply,
    key: str,
    now: datetime,
    tz: str,
    expires_at: datetime,
    rule: ReminderRule,
    policy: routing.RoutePolicy,
    fields: dict[str, str],
    template: str | None = None,
) -> bool:
    """Plan one reminder to a member, unless they cannot be reached, were reminded today, or
    it was planned before. It waits out quiet hours and expires when the meeting starts.
    True if a row was added."""
    if await reminded_today(session, member.id, now, tz):
        return False
    payload = reply.to_payload() | {"expires_at": expires_at.isoformat(), "fields": fields}
    if template is not None:  # the Zalo ZNS template kind, when not the meeting reminder's
        payload["template"] = template
    return await routing.plan(
        session,
        member,
        kind=REMINDER,
        dedupe_key=key,
        payload=payload,
        now=now,
        policy=policy,
        not_before=max(now, apply_quiet_hours(now, expires_at, rule, tz)),
    )


def template_fields(member: Member, cal: pm.Calendar, meeting: Meeting) -> dict[str, str]:
    """Plain values a Zalo ZNS template can carry when the chat window is closed (the names
    are what config.toml's [zalo_oa.templates] map to template parameters)."""
    local = meeting.starts_at.astimezone(ZoneInfo(cal.tz))
    return {
        "member_name": member.full_name,
        "unit_name": cal.unit.name,
        "month": month_label(meeting.period),
        "meeting_date": f"{local:%d/%m/%Y}",
        "meeting_time": f"{local:%H:%M}",
        "meeting_place": meeting.place or "",
    }


async def digest_recipients(session: AsyncSession, unit: OrgUnit) -> list[Member]:
    stmt = (
        select(Member)
        .join(Role, Role.member_id == Member.id)
        .where(Role.unit_id == unit.id, Role.role.in_(("secretary", "deputy", "observer")))
        .where(Member.active.is_(True))
        .order_by(Member.id)
    )
    return list((await session.scalars(stmt)).unique())


async def plan_digest(
    session: AsyncSession,
    cal: pm.Calendar,
    meeting: Meeting,
    rule: ReminderRule,
    now: datetime,
    settings: Settings,
) -> int:
    from handlers.digest import digest_reply

    reply = await digest_reply(session, cal, meeting, rule, now, settings.routes)
    count = 0
    for member in await digest_recipients(session, cal.unit):
        key = f"digest:{meeting.period}:u{cal.unit.id}:m{member.id}"
        if await routing.plan(
            session,
            member,
            kind="digest",
            dedupe_key=key,
            payload=reply.to_payload()
            | {
                "expires_at": meeting.starts_at.isoformat(),
                "fields": template_fields(member, cal, meeting),
            },
            now=now,
            policy=settings.routes,
            not_before=max(now, apply_quiet_hours(now, meeting.starts_at, rule, cal.tz)),
        ):
            count += 1
    return count
