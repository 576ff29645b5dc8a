"""Absences and the work after a meeting.

/xinvang: a member asks to be excused from the coming meeting, the secretary agrees or not.
After the meeting the secretary (from /chibo) goes through the members: a comment the member
then sees, vắng có lý do, reopening the period for a late submission, or entering the
assessment on behalf of a member without a phone; then records that the chi bộ reviewed it.

```mermaid
stateDiagram-v2
    [*] --> reason: /xinvang
    reason --> [*]: request → secretary: Đồng ý | Không đồng ý
    [*] --> pick: /chibo → Xem xét sau sinh hoạt tháng M
    pick --> member: a member
    member --> comment: Nhận xét
    comment --> pick
    member --> pick: Vắng có lý do | Mở lại cho nộp muộn
    member --> item: Nhập tự đánh giá thay (the /tudanhgia steps, recorded as entered by)
    pick --> [*]: Ghi nhận chi bộ đã xem xét
```
"""

from __future__ import annotations

from sqlalchemy import select

from handlers import texts
from handlers.common import month_label, when
from handlers.engine import Answer, Ctx, Flow, Step, action, command, flow
from handlers.messages import Choice, Reply
from handlers.schedule import Meeting, shift_period
from handlers.scopes import refuse
from handlers.text import Html, fmt
from models import audit
from models import periods as pm
from models.people import approvers, has_role, identity_for
from models.tables import Member, MemberPeriod, OrgUnit, UnitPeriod

# -- /xinvang --------------------------------------------------------------------------------------


@command("xinvang")
async def xinvang(ctx: Ctx, args: str) -> None:
    assert ctx.member is not None
    cal = await pm.calendar_of(ctx.session, ctx.member.unit)
    meeting = cal.next(ctx.now) if cal else None
    if cal is None or meeting is None:
        ctx.reply(texts.NO_SCHEDULE)
        return
    mark = await pm.mark_of(ctx.session, ctx.member.id, meeting.period)
    if mark is not None and mark.excuse:
        ctx.reply(
            texts.EXCUSE_ALREADY.format(
                month=month_label(meeting.period), status=texts.EXCUSE_STATUS[mark.excuse]
            )
        )
        return
    ctx.start_flow("excuse", {"period": meeting.period, "when": when(meeting.starts_at, cal.tz)})
    await ctx.goto("reason")


async def _prompt_reason(ctx: Ctx) -> None:
    ctx.ask(texts.EXCUSE_ASK.format(month=month_label(ctx.data["period"]), when=ctx.data["when"]))


async def _answer_reason(ctx: Ctx, answer: Answer) -> None:
    assert ctx.member is not None
    if not answer.text or answer.value is not None:
        await ctx.goto("reason")
        return
    period = ctx.data["period"]
    mark = await pm.ensure_mark(ctx.session, ctx.member.id, period, ctx.now)
    mark.excuse, mark.excuse_reason = "requested", answer.text
    await ctx.session.flush()
    month = month_label(period)
    request = Reply(
        fmt(texts.EXCUSE_TO_SECRETARY, month=month, name=ctx.member.full_name, reason=answer.text),
        [Choice(texts.BTN_AGREE, f"!xa:{mark.id}"), Choice(texts.BTN_DISAGREE, f"!xr:{mark.id}")],
        row_width=2,
    )
    for approver in await approvers(ctx.session, ctx.member.unit_id):
        if approver.id != ctx.member.id and await identity_for(ctx.session, approver.id):
            await ctx.notify(approver.id, request)
    await ctx.finish()
    ctx.reply(texts.EXCUSE_SENT.format(month=month))


@action("xa")
async def agree(ctx: Ctx, args: str) -> None:
    await _decide_excuse(ctx, args, approve=True)


@action("xr")
async def disagree(ctx: Ctx, args: str) -> None:
    await _decide_excuse(ctx, args, approve=False)


async def _secretary_of(ctx: Ctx, unit: OrgUnit) -> bool:
    allowed = ctx.member is not None and await has_role(
        ctx.session, ctx.member.id, unit, ("secretary", "deputy")
    )
    if not allowed:
        refuse(ctx, "refused:review", texts.NOT_ALLOWED, unit_id=unit.id)
    return allowed


async def _decide_excuse(ctx: Ctx, args: str, *, approve: bool) -> None:
    mark = await ctx.session.get(MemberPeriod, int(args)) if args.isdigit() else None
    member = await ctx.session.get(Member, mark.member_id) if mark else None
    if mark is None or member is None:
        ctx.reply(texts.STALE_BUTTON)
        return
    if not await _secretary_of(ctx, member.unit) or ctx.member is None:
        return
    if ctx.member.id == member.id:  # one's own absence is for the deputy (or an admin) to decide
        refuse(ctx, "refused:review", texts.NOT_ALLOWED, unit_id=member.unit_id, subject=member.id)
        return
    status = "approved" if approve else "rejected"
    if mark.excuse != "requested":
        ctx.reply(
            texts.EXCUSE_ALREADY.format(
                month=month_label(mark.period), status=texts.EXCUSE_STATUS[mark.excuse or status]
            )
        )
        return
    mark.excuse, mark.decided_by, mark.updated_at = status, ctx.member.id, ctx.now
    audit.record(
        ctx.session,
        action=f"excuse_{status}",
        now=ctx.now,
        member_id=ctx.member.id,
        subject=member.id,
        period=mark.period,
    )
    month = month_label(mark.period)
    ctx.reply(fmt(texts.EXCUSE_DECIDED, name=member.full_name, status=texts.EXCUSE_STATUS[status]))
    template = texts.EXCUSE_APPROVED if approve else texts.EXCUSE_REJECTED
    await ctx.notify(member.id, Reply(template.format(month=month)))


flow(
    Flow(
        name="excuse",
        title=texts.FLOW_EXCUSE,
        steps={"reason": Step(_prompt_reason, _answer_reason, item_text=True)},
    )
)


# -- after the meeting --------------------------------------------------------------------------


async def review_button(ctx: Ctx, cal: pm.Calendar) -> Choice | None:
    """For /chibo: the last meeting's review, until the next period opens."""
    meeting = cal.previous(ctx.now)
    if meeting is None:
        return None
    following = cal.meeting(shift_period(meeting.period, 1))
    if following is not None and ctx.now >= following.starts_at:
        return None
    return Choice(
        texts.BTN_REVIEW.format(month=month_label(meeting.period)),
        f"!rv:{cal.unit.id}:{meeting.period}",
    )


@action("rv")
async def start_review(ctx: Ctx, args: str) -> None:
    unit_id, _, period = args.partition(":")
    unit = await ctx.session.get(OrgUnit, int(unit_id)) if unit_id.isdigit() else None
    if unit is None or not await _secretary_of(ctx, unit):
        return
    ctx.start_flow("review", {"unit_id": unit.id, "period": period})
    await ctx.goto("pick")


async def _context(ctx: Ctx) -> tuple[pm.Calendar, Meeting, pm.UnitPeriod]:
    unit = await ctx.session.get(OrgUnit, ctx.data["unit_id"])
    assert unit is not None
    cal = await pm.calendar_of(ctx.session, unit)
    assert cal is not None
    meeting = cal.meeting(ctx.data["period"])
    assert meeting is not None
    rule = pm.reminder_rule_of(unit, ctx.settings.reminders)
    return cal, meeting, await pm.unit_period(ctx.session, cal, meeting, rule, ctx.now)


async def _prompt_pick(ctx: Ctx) -> None:
    cal, meeting, up = await _context(ctx)
    month = month_label(meeting.period)
    options = [
        (
            texts.BTN_REVIEW_MEMBER.format(
                name=m.full_name, status=texts.PERIOD_STATUS[up.statuses[m.id]]
            ),
            f"m{m.id}",
        )
        for m in up.members
        if up.statuses[m.id] != pm.EXEMPT
    ]
    done = texts.BTN_REVIEW_DONE.format(month=month)
    options += [(done, "done"), (texts.BTN_CLOSE, "close")]
    ctx.ask(fmt(texts.REVIEW_PICK, month=month, unit=cal.unit.name, done=done), options)


async def _answer_pick(ctx: Ctx, answer: Answer) -> None:
    value = answer.value or ""
    if value == "close":
        ctx.reply(texts.REVIEW_CLOSED)
        await ctx.finish()
    elif value == "done":
        await _record_reviewed(ctx)
    elif value[:1] == "m" and value[1:].isdigit():
        ctx.data["member_id"] = int(value[1:])
        ctx.touch_data()
        await ctx.goto("member")
    else:
        await ctx.goto("pick")


async def _subject(ctx: Ctx) -> Member:
    member = await ctx.session.get(Member, ctx.data["member_id"])
    assert member is not None and member.unit_id == ctx.data["unit_id"]
    return member


async def _prompt_member(ctx: Ctx) -> None:
    _, meeting, up = await _context(ctx)
    member = await _subject(ctx)
    mark = await pm.mark_of(ctx.session, member.id, meeting.period)
    comment = (
        fmt(texts.REVIEW_COMMENT_SHOWN, comment=mark.review_comment)
        if mark and mark.review_comment
        else ""
    )
    text = fmt(
        texts.REVIEW_MEMBER,
        name=member.full_name,
        month=month_label(meeting.period),
        status=texts.PERIOD_STATUS[up.statuses[member.id]],
        comment=Html(comment),
    )
    options = [(texts.BTN_COMMENT, "comment"), (texts.BTN_EXCUSE, "excuse")]
    if up.statuses[member.id] in (pm.MISSING, pm.NOT_SUBMITTED):
        options += [(texts.BTN_REOPEN, "reopen"), (texts.BTN_ON_BEHALF, "behalf")]
    options.append((texts.BTN_BACK, "back"))
    ctx.ask(text, options)


async def _answer_member(ctx: Ctx, answer: Answer) -> None:
    assert ctx.member is not None
    member = await _subject(ctx)
    period = ctx.data["period"]
    month = month_label(period)
    if answer.value == "comment":
        await ctx.goto("comment")
    elif answer.value == "excuse":
        mark = await pm.ensure_mark(ctx.session, member.id, period, ctx.now)
        mark.excuse, mark.decided_by = "approved", ctx.member.id
        audit.record(
            ctx.session,
            action="excuse_approved",
            now=ctx.now,
            member_id=ctx.member.id,
            subject=member.id,
            period=period,
        )
        ctx.reply(texts.REVIEW_SAVED)
        await ctx.goto("pick")
    elif answer.value == "reopen":
        mark = await pm.ensure_mark(ctx.session, member.id, period, ctx.now)
        mark.reopened_at, mark.decided_by = ctx.now, ctx.member.id
        audit.record(
            ctx.session,
            action="reopen",
            now=ctx.now,
            member_id=ctx.member.id,
            subject=member.id,
            period=period,
        )
        await ctx.notify(member.id, Reply(texts.REVIEW_REOPENED_TO_MEMBER.format(month=month)))
        ctx.reply(texts.REVIEW_SAVED)
        await ctx.goto("pick")
    elif answer.value == "behalf":
        await _on_behalf(ctx, member)
    elif answer.value == "back":
        await ctx.goto("pick")
    else:
        await ctx.goto("member")


async def _prompt_comment(ctx: Ctx) -> None:
    member = await _subject(ctx)
    ctx.ask(
        fmt(texts.REVIEW_ASK_COMMENT, name=member.full_name, month=month_label(ctx.data["period"]))
    )


async def _answer_comment(ctx: Ctx, answer: Answer) -> None:
    assert ctx.member is not None
    if not answer.text or answer.value is not None:
        await ctx.goto("comment")
        return
    member = await _subject(ctx)
    period = ctx.data["period"]
    mark = await pm.ensure_mark(ctx.session, member.id, period, ctx.now)
    mark.review_comment, mark.reviewed_at, mark.decided_by = answer.text, ctx.now, ctx.member.id
    await ctx.notify(
        member.id,
        Reply(fmt(texts.REVIEW_COMMENT_TO_MEMBER, month=month_label(period), comment=answer.text)),
    )
    ctx.reply(texts.REVIEW_SAVED)
    await ctx.goto("pick")


async def _on_behalf(ctx: Ctx, member: Member) -> None:
    """The /tudanhgia steps, for this member, recorded as entered by the secretary."""
    from handlers.monthly import start_assessment

    _, meeting, _ = await _context(ctx)
    ctx.conv.step = "pick"  # where the review resumes once the entry is sent
    await start_assessment(ctx, member, meeting, late=True, on_behalf=True)


async def _record_reviewed(ctx: Ctx) -> None:
    assert ctx.member is not None
    unit_id, period = ctx.data["unit_id"], ctx.data["period"]
    row = (
        await ctx.session.scalars(
            select(UnitPeriod).where(UnitPeriod.unit_id == unit_id, UnitPeriod.period == period)
        )
    ).first()
    if row is None:
        ctx.session.add(
            UnitPeriod(
                unit_id=unit_id, period=period, reviewed_at=ctx.now, reviewed_by=ctx.member.id
            )
        )
    audit.record(
        ctx.session,
        action="unit_reviewed",
        now=ctx.now,
        member_id=ctx.member.id,
        unit=unit_id,
        period=period,
    )
    ctx.reply(texts.REVIEW_RECORDED.format(month=month_label(period)))
    await ctx.finish()


flow(
    Flow(
        name="review",
        title=texts.FLOW_REVIEW,
        steps={
            "pick": Step(_prompt_pick, _answer_pick),
            "member": Step(_prompt_member, _answer_member),
            "comment": Step(_prompt_comment, _answer_comment),
        },
    )
)
