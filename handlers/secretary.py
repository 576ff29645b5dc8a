"""/chibo: the secretary's overview of the chi bộ, with what waits for a decision; a member
reads the chi bộ's collective plan there."""

from __future__ import annotations

from sqlalchemy import func, select

from handlers import texts
from handlers.common import pledge_year
from handlers.engine import Ctx, action, command
from handlers.messages import Choice
from handlers.onboarding import join_request_reply
from handlers.scopes import refuse
from handlers.text import fmt
from handlers.unit_plan import plan_line, show_plan
from models import pledges as store
from models.people import has_role
from models.tables import Identity, JoinRequest, Member, OrgUnit, Pledge, Role

MAX_NAMES = 40


@command("chibo", keeps_flow=True)
async def chibo(ctx: Ctx, args: str) -> None:
    assert ctx.member is not None
    units = list(
        await ctx.session.scalars(
            select(OrgUnit)
            .join(Role, Role.unit_id == OrgUnit.id)
            .where(Role.member_id == ctx.member.id, Role.role.in_(("secretary", "deputy")))
        )
    )
    if not units:  # a member reads the chi bộ's collective plan
        await show_plan(ctx, ctx.member)
        return
    for unit in units:
        await _overview(ctx, unit)
        await _digest(ctx, unit)


async def _digest(ctx: Ctx, unit: OrgUnit) -> None:
    """The pre-meeting digest on demand, for the coming meeting."""
    from handlers.digest import digest_reply
    from handlers.review import review_button
    from models import periods as pm

    cal = await pm.calendar_of(ctx.session, unit)
    if cal is None:
        return
    meeting = cal.next(ctx.now)
    review = await review_button(ctx, cal)
    extra = [review] if review else []
    if meeting is not None:
        rule = pm.reminder_rule_of(unit, ctx.settings.reminders)
        reply = await digest_reply(ctx.session, cal, meeting, rule, ctx.now, ctx.settings.routes)
        ctx.reply(reply.text, reply.choices + extra)
    elif extra:
        ctx.reply(texts.NO_NEXT_MEETING, extra)


async def _overview(ctx: Ctx, unit: OrgUnit) -> None:
    s = ctx.session
    year = pledge_year(ctx, unit)
    members = list(
        await s.scalars(
            select(Member)
            .where(Member.unit_id == unit.id, Member.active.is_(True))
            .order_by(Member.full_name)
        )
    )
    ids = [m.id for m in members]
    linked = set(await s.scalars(select(Identity.member_id).where(Identity.member_id.in_(ids))))
    # The newest version per member decides "registered / pending / returned".
    newest = (
        select(Pledge.member_id, func.max(Pledge.version).label("v"))
        .where(Pledge.member_id.in_(ids), Pledge.year == year)
        .group_by(Pledge.member_id)
        .subquery()
    )
    latest = list(
        await s.scalars(
            select(Pledge)
            .join(newest, (Pledge.member_id == newest.c.member_id) & (Pledge.version == newest.c.v))
            .where(Pledge.year == year)
        )
    )
    approved_ids = set(
        await s.scalars(
            select(Pledge.member_id).where(
                Pledge.member_id.in_(ids), Pledge.year == year, Pledge.status == store.APPROVED
            )
        )
    )
    by_member = {p.member_id: p for p in latest}
    required = [m for m in members if not m.exempt]
    pending = [p for p in latest if p.status == store.PENDING]
    lines = [
        fmt(texts.CHIBO_HEADER, unit=unit.name, year=year),
        texts.CHIBO_COUNTS.format(
            total=len(members),
            exempt=len(members) - len(required),
            linked=len(linked),
            registered=sum(1 for m in required if m.id in by_member),
            required=len(required),
            approved=len(approved_ids),
            pending=len(pending),
            returned=sum(1 for p in latest if p.status == store.RETURNED),
        ),
        await plan_line(ctx, unit),
    ]
    missing = [m.full_name for m in required if m.id not in by_member]
    if missing:
        shown = ", ".join(missing[:MAX_NAMES]) + ("…" if len(missing) > MAX_NAMES else "")
        lines.append(fmt(texts.CHIBO_NOT_REGISTERED, names=shown))
    names = {m.id: m.full_name for m in members}
    choices = [
        Choice(texts.BTN_VIEW_PLEDGE.format(name=names[p.member_id]), f"!pv:{p.id}")
        for p in pending
    ]
    lines.append(texts.CHIBO_PENDING if pending else texts.CHIBO_NONE_PENDING)
    joins = list(
        await s.scalars(
            select(JoinRequest).where(
                JoinRequest.unit_id == unit.id, JoinRequest.status == "pending"
            )
        )
    )
    if joins:
        lines.append(texts.CHIBO_JOINS.format(n=len(joins)))
        choices += [
            Choice(texts.BTN_VIEW_JOIN.format(name=j.full_name), f"!jv:{j.id}") for j in joins
        ]
    ctx.reply("\n".join(lines), choices)


@action("jv")
async def view_join(ctx: Ctx, args: str) -> None:
    request = await ctx.session.get(JoinRequest, int(args)) if args.isdigit() else None
    unit = await ctx.session.get(OrgUnit, request.unit_id) if request else None
    if request is None or unit is None or request.status != "pending":
        ctx.reply(texts.JOIN_ALREADY_DECIDED)
        return
    if ctx.member is None or not await has_role(
        ctx.session, ctx.member.id, unit, ("secretary", "deputy")
    ):
        refuse(ctx, "refused:join_view", texts.NOT_ALLOWED, unit_id=unit.id, request=request.id)
        return
    reply = await join_request_reply(ctx, request)
    ctx.reply(reply.text, reply.choices, reply.row_width)
