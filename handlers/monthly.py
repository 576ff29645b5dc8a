"""The monthly cycle: /lich (next meeting), /lichhop (the secretary's schedule), /tudanhgia.

```mermaid
stateDiagram-v2
    state "/lichhop" as S {
        [*] --> menu
        menu --> ask_rule: Đặt lịch hằng tháng
        ask_rule --> ask_time --> ask_place --> confirm --> [*]: Lưu
        menu --> move_date: Dời buổi họp tháng M
        move_date --> move_time --> [*]
        menu --> cancel_confirm: Hủy buổi họp tháng M
        cancel_confirm --> [*]
    }
    state "/tudanhgia" as A {
        [*] --> period: several periods open (catch-up)
        [*] --> confirm_edit: already submitted, before the meeting
        [*] --> item
        period --> item
        confirm_edit --> item: Sửa
        item --> note: a status (last month's pre-selected)
        note --> item: next pledge item
        note --> difficulties: after the last item
        difficulties --> summary
        summary --> item: Làm lại
        summary --> [*]: Gửi (refused once the meeting has started)
    }
```
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from handlers import deadlines, texts
from handlers.common import month_label, when
from handlers.engine import Answer, Ctx, Flow, Step, command, flow
from handlers.messages import Choice
from handlers.schedule import (
    Meeting,
    MeetingRule,
    meeting_for_period,
    opens_at,
    parse_date,
    parse_rule,
    parse_time,
)
from handlers.scopes import refuse
from handlers.text import Html, esc, fmt
from models import audit
from models import periods as pm
from models import pledges as store
from models.people import has_role
from models.tables import MeetingOverride, Member, OrgUnit, Pledge

# -- shared wording -------------------------------------------------------------------------------


def _unit(ctx: Ctx) -> OrgUnit:
    assert ctx.member is not None
    return ctx.member.unit


async def _status(ctx: Ctx, cal: pm.Calendar, meeting: Meeting) -> str:
    assert ctx.member is not None
    reminders = pm.reminder_rule_of(cal.unit, ctx.settings.reminders)
    submitted = await pm.assessment(ctx.session, ctx.member.id, meeting.period)
    mark = await pm.mark_of(ctx.session, ctx.member.id, meeting.period)
    return pm.status_of(
        ctx.member.exempt,
        submitted.late if submitted else None,
        mark.excuse if mark else None,
        meeting,
        pm.next_opens(cal, meeting, reminders),
        ctx.now,
    )


# -- /lich -----------------------------------------------------------------------------------------


@command("lich", keeps_flow=True)
async def lich(ctx: Ctx, args: str) -> None:
    cal = await pm.calendar_of(ctx.session, _unit(ctx))
    if cal is None:
        ctx.reply(texts.NO_SCHEDULE)
        return
    meeting = cal.next(ctx.now)
    if meeting is None:
        ctx.reply(texts.NO_NEXT_MEETING)
        return
    status = await _status(ctx, cal, meeting)
    ctx.reply(
        fmt(
            texts.NEXT_MEETING,
            month=month_label(meeting.period),
            when=when(meeting.starts_at, cal.tz),
            place=fmt(texts.MEETING_PLACE, place=meeting.place) if meeting.place else "",
            moved=Html(texts.MEETING_MOVED) if meeting.moved else "",
            status=texts.PERIOD_STATUS[status],
        )
    )


# -- /lichhop --------------------------------------------------------------------------------------


@command("lichhop")
async def lichhop(ctx: Ctx, args: str) -> None:
    assert ctx.member is not None
    unit = _unit(ctx)
    if not await has_role(ctx.session, ctx.member.id, unit, ("secretary", "deputy")):
        refuse(ctx, "schedule", texts.SCHEDULE_NOT_SECRETARY, unit_id=unit.id)
        return
    ctx.start_flow("schedule", {"unit_id": unit.id})
    await ctx.goto("menu")


async def _sched_unit(ctx: Ctx) -> OrgUnit:
    unit = await ctx.session.get(OrgUnit, ctx.data["unit_id"])
    assert unit is not None
    return unit


async def _prompt_menu(ctx: Ctx) -> None:
    unit = await _sched_unit(ctx)
    cal = await pm.calendar_of(ctx.session, unit)
    current = (
        texts.MEETING_RULE_IS.format(rule=cal.rule.describe())
        if cal
        else texts.SCHEDULE_CURRENT_NONE
    )
    options = [(texts.BTN_SET_RULE, "rule")]
    meeting = cal.next(ctx.now) if cal else None
    if meeting is not None:
        month = month_label(meeting.period)
        ctx.data["period"] = meeting.period
        ctx.touch_data()
        options += [
            (texts.BTN_MOVE.format(month=month), "move"),
            (texts.BTN_CANCEL_MEETING.format(month=month), "cancel"),
        ]
    options.append((texts.BTN_CLOSE, "close"))
    ctx.ask(fmt(texts.SCHEDULE_MENU, unit=unit.name, current=current), options)


async def _answer_menu(ctx: Ctx, answer: Answer) -> None:
    step = {"rule": "ask_rule", "move": "move_date", "cancel": "cancel_confirm"}.get(
        answer.value or ""
    )
    if answer.value == "close":
        ctx.reply(texts.SCHEDULE_CLOSED)
        await ctx.finish()
    elif step is not None and (step == "ask_rule" or ctx.data.get("period")):
        await ctx.goto(step)
    else:
        await ctx.goto("menu")


async def _prompt_rule(ctx: Ctx) -> None:
    ctx.ask(texts.SCHEDULE_ASK_RULE)


async def _answer_rule(ctx: Ctx, answer: Answer) -> None:
    rule = parse_rule(answer.text) if answer.text else None
    if rule is None:
        ctx.reply(fmt(texts.SCHEDULE_BAD_RULE, text=answer.text))
        await ctx.goto("ask_rule")
        return
    ctx.data["rule"] = rule.to_json()
    ctx.touch_data()
    await ctx.goto("ask_time")


async def _prompt_time(ctx: Ctx) -> None:
    ctx.ask(texts.SCHEDULE_ASK_TIME)


async def _answer_time(ctx: Ctx, answer: Answer) -> None:
    at = parse_time(answer.text) if answer.text else None
    if at is None:
        ctx.reply(fmt(texts.SCHEDULE_BAD_TIME, text=answer.text))
        await ctx.goto("ask_time")
        return
    ctx.data["rule"]["time"] = f"{at:%H:%M}"
    ctx.touch_data()
    await ctx.goto("ask_place")


async def _prompt_place(ctx: Ctx) -> None:
    ctx.ask(texts.SCHEDULE_ASK_PLACE, [(texts.BTN_SKIP, "skip")])


async def _answer_place(ctx: Ctx, answer: Answer) -> None:
    ctx.data["rule"]["place"] = "" if answer.value == "skip" else answer.text[:200]
    ctx.touch_data()
    await ctx.goto("confirm")


async def _prompt_confirm(ctx: Ctx) -> None:
    unit = await _sched_unit(ctx)
    rule = MeetingRule.from_json(ctx.data["rule"])
    cal = pm.Calendar(unit, rule, await pm.overrides_of(ctx.session, unit.id))
    dates, moment = [], ctx.now
    for _ in range(3):
        meeting = cal.next(moment)
        if meeting is None:
            break
        dates.append("• " + when(meeting.starts_at, cal.tz))
        moment = meeting.starts_at
    text = fmt(texts.SCHEDULE_CONFIRM, rule=rule.describe(), dates=Html(esc("\n".join(dates))))
    ctx.ask(text, [(texts.BTN_SAVE, "save"), (texts.BTN_CANCEL, "cancel")], row_width=2)


async def _answer_confirm(ctx: Ctx, answer: Answer) -> None:
    if answer.value == "save":
        unit = await _sched_unit(ctx)
        rule = MeetingRule.from_json(ctx.data["rule"])
        unit.meeting_rule = rule.to_json()
        audit.record(
            ctx.session,
            action="meeting_rule",
            now=ctx.now,
            member_id=ctx.member.id if ctx.member else None,
            unit=unit.id,
            rule=rule.to_json(),
        )
        ctx.reply(fmt(texts.SCHEDULE_SAVED, rule=rule.describe()))
        await ctx.finish()
    elif answer.value == "cancel":
        await ctx.goto("menu")
    else:
        await ctx.goto("confirm")


async def _regular(ctx: Ctx) -> tuple[pm.Calendar, Meeting]:
    unit = await _sched_unit(ctx)
    cal = await pm.calendar_of(ctx.session, unit)
    assert cal is not None
    regular = meeting_for_period(cal.rule, ctx.data["period"], {}, cal.tz)
    assert regular is not None
    return cal, regular


async def _prompt_move_date(ctx: Ctx) -> None:
    cal, regular = await _regular(ctx)
    local = regular.starts_at.astimezone(ZoneInfo(cal.tz))
    ctx.ask(
        fmt(
            texts.MOVE_ASK_DATE,
            month=month_label(regular.period),
            regular=when(regular.starts_at, cal.tz),
            example=f"{local.day}/{local.month}",
        )
    )


async def _answer_move_date(ctx: Ctx, answer: Answer) -> None:
    cal, regular = await _regular(ctx)
    local = regular.starts_at.astimezone(ZoneInfo(cal.tz))
    day = parse_date(answer.text, local.year) if answer.text else None
    if day is None:
        ctx.reply(fmt(texts.MOVE_BAD_DATE, text=answer.text, example=f"{local.day}/{local.month}"))
        await ctx.goto("move_date")
        return
    if day < ctx.now.astimezone(ZoneInfo(cal.tz)).date():
        ctx.reply(texts.MOVE_PAST)
        await ctx.goto("move_date")
        return
    ctx.data["date"] = day.isoformat()
    ctx.touch_data()
    await ctx.goto("move_time")


async def _prompt_move_time(ctx: Ctx) -> None:
    cal, regular = await _regular(ctx)
    at = f"{regular.starts_at.astimezone(ZoneInfo(cal.tz)):%H:%M}"
    ctx.ask(texts.MOVE_ASK_TIME.format(time=at), [(texts.BTN_KEEP_TIME.format(time=at), "keep")])


async def _answer_move_time(ctx: Ctx, answer: Answer) -> None:
    cal, regular = await _regular(ctx)
    tz = ZoneInfo(cal.tz)
    at: time | None = regular.starts_at.astimezone(tz).time()
    if answer.value != "keep":
        at = parse_time(answer.text) if answer.text else None
    if at is None:
        ctx.reply(fmt(texts.SCHEDULE_BAD_TIME, text=answer.text))
        await ctx.goto("move_time")
        return
    starts = datetime.combine(date.fromisoformat(ctx.data["date"]), at, tz)
    await _override(ctx, cal.unit, regular.period, starts_at=starts, place=regular.place)
    ctx.reply(texts.MOVED.format(month=month_label(regular.period), when=when(starts, cal.tz)))
    await ctx.finish()


async def _prompt_cancel(ctx: Ctx) -> None:
    cal, regular = await _regular(ctx)
    meeting = cal.meeting(regular.period) or regular
    ctx.ask(
        texts.CANCEL_CONFIRM.format(
            month=month_label(regular.period), when=when(meeting.starts_at, cal.tz)
        ),
        [(texts.BTN_CONFIRM_CANCEL, "yes"), (texts.BTN_BACK, "back")],
        row_width=2,
    )


async def _answer_cancel(ctx: Ctx, answer: Answer) -> None:
    if answer.value == "yes":
        cal, regular = await _regular(ctx)
        await _override(ctx, cal.unit, regular.period, starts_at=None, place=None)
        ctx.reply(texts.CANCELLED_MEETING.format(month=month_label(regular.period)))
        await ctx.finish()
    else:
        await ctx.goto("menu")


async def _override(
    ctx: Ctx, unit: OrgUnit, period: str, *, starts_at: datetime | None, place: str | None
) -> None:
    row = (
        await ctx.session.scalars(
            select(MeetingOverride).where(
                MeetingOverride.unit_id == unit.id, MeetingOverride.period == period
            )
        )
    ).first()
    if row is None:
        row = MeetingOverride(unit_id=unit.id, period=period, created_at=ctx.now)
        ctx.session.add(row)
    row.starts_at, row.place, row.cancelled = starts_at, place, starts_at is None
    row.created_by = ctx.member.id if ctx.member else None
    audit.record(
        ctx.session,
        action="meeting_override",
        now=ctx.now,
        member_id=row.created_by,
        unit=unit.id,
        period=period,
        cancelled=starts_at is None,
    )


flow(
    Flow(
        name="schedule",
        title=texts.FLOW_SCHEDULE,
        steps={
            "menu": Step(_prompt_menu, _answer_menu),
            "ask_rule": Step(_prompt_rule, _answer_rule, max_chars=100),
            "ask_time": Step(_prompt_time, _answer_time, max_chars=50),
            "ask_place": Step(_prompt_place, _answer_place, max_chars=200),
            "confirm": Step(_prompt_confirm, _answer_confirm),
            "move_date": Step(_prompt_move_date, _answer_move_date, max_chars=50),
            "move_time": Step(_prompt_move_time, _answer_move_time, max_chars=50),
            "cancel_confirm": Step(_prompt_cancel, _answer_cancel),
        },
    )
)


# -- /tudanhgia ------------------------------------------------------------------------------------


@command("tudanhgia")
async def tudanhgia(ctx: Ctx, args: str) -> None:
    assert ctx.member is not None
    if ctx.conv.flow == "assess" and ctx.conv.step:
        ctx.reply(texts.RESUME_DRAFT)
        await ctx.goto(ctx.conv.step)
        return
    cal = await pm.calendar_of(ctx.session, _unit(ctx))
    if cal is None:
        ctx.reply(texts.NO_SCHEDULE)
        return
    reminders = pm.reminder_rule_of(cal.unit, ctx.settings.reminders)
    open_now = await pm.open_periods(ctx.session, ctx.member, cal, reminders, ctx.now)
    if not open_now:
        meeting = cal.next(ctx.now)
        if meeting is None:
            ctx.reply(texts.NO_NEXT_MEETING)
            return
        opens = opens_at(meeting, reminders, cal.tz).astimezone(ZoneInfo(cal.tz))
        ctx.reply(
            texts.ASSESS_NOT_OPEN.format(
                month=month_label(meeting.period),
                opens=f"{opens.day}/{opens.month}",
                when=when(meeting.starts_at, cal.tz),
            )
        )
        return
    periods = [_period_data(p) for p in open_now]
    ctx.start_flow("assess", {"periods": periods, "member_id": ctx.member.id, "on_behalf": False})
    if len(open_now) > 1:
        await ctx.goto("period")
    else:
        await _begin(ctx, 0)


def _period_data(p: pm.OpenPeriod) -> dict[str, Any]:
    return {"period": p.meeting.period, "late": p.late, "starts": p.meeting.starts_at.isoformat()}


async def start_assessment(
    ctx: Ctx, member: Member, meeting: Meeting, *, late: bool, on_behalf: bool
) -> None:
    """Enter the assessment steps for `member` (the secretary's entry on behalf uses this);
    the flow in progress, if any, resumes afterwards."""
    period = _period_data(pm.OpenPeriod(meeting, late))
    ctx.start_flow("assess", {"periods": [period], "member_id": member.id, "on_behalf": on_behalf})
    await _begin(ctx, 0)


async def _subject(ctx: Ctx) -> Member:
    """Whose assessment this is: the member, or the one the secretary enters it for."""
    member = await ctx.session.get(Member, ctx.data["member_id"])
    assert member is not None
    return member


async def _prompt_period(ctx: Ctx) -> None:
    options = [
        (
            (texts.BTN_PERIOD_LATE if p["late"] else texts.BTN_PERIOD).format(
                month=month_label(p["period"])
            ),
            str(i),
        )
        for i, p in enumerate(ctx.data["periods"])
    ]
    ctx.ask(texts.ASSESS_CHOOSE_PERIOD, options)


async def _answer_period(ctx: Ctx, answer: Answer) -> None:
    if answer.value and answer.value.isdigit() and int(answer.value) < len(ctx.data["periods"]):
        await _begin(ctx, int(answer.value))
    else:
        await ctx.goto("period")


async def _begin(ctx: Ctx, index: int) -> None:
    """Load the period's pledge items and what pre-fills them; ask to edit if already sent."""
    subject = await _subject(ctx)
    chosen = ctx.data["periods"][index]
    period = chosen["period"]
    pledge = await store.approved(ctx.session, subject.id, int(period[:4]))
    if pledge is None:
        if ctx.data["on_behalf"]:
            ctx.reply(
                fmt(texts.REVIEW_ON_BEHALF_NO_PLEDGE, name=subject.full_name, year=period[:4])
            )
            await ctx.finish()
            return
        ctx.end_flow()
        ctx.reply(
            texts.ASSESS_NO_PLEDGE.format(year=period[:4]),
            [Choice(texts.BTN_DANGKY, "!cmd:dangky")],
        )
        return
    existing = await pm.assessment(ctx.session, subject.id, period)
    before = existing or await pm.previous_assessment(ctx.session, subject.id, period)
    previous = {e.pledge_item_id: e.status for e in before.entries} if before else {}
    ctx.data.update(
        period=period,
        late=chosen["late"],
        starts=chosen["starts"],
        pledge_id=pledge.id,
        items=[
            {"id": i.id, "action": i.action, "result": i.result, "deadline": i.deadline}
            for i in pledge.items
        ],
        previous={str(k): v for k, v in previous.items()},
        i=0,
        entries=[],
        difficulties=existing.difficulties if existing else None,
    )
    ctx.touch_data()
    if existing is not None and not chosen["late"] and not ctx.data["on_behalf"]:
        await ctx.goto("confirm_edit")
    else:
        await ctx.goto("item")


async def _prompt_confirm_edit(ctx: Ctx) -> None:
    tz = _unit(ctx).timezone
    ctx.ask(
        texts.ASSESS_ALREADY.format(
            month=month_label(ctx.data["period"]),
            when=when(datetime.fromisoformat(ctx.data["starts"]), tz),
        ),
        [(texts.BTN_EDIT_ASSESSMENT, "edit"), (texts.BTN_CLOSE, "close")],
        row_width=2,
    )


async def _answer_confirm_edit(ctx: Ctx, answer: Answer) -> None:
    if answer.value == "edit":
        await ctx.goto("item")
    elif answer.value == "close":
        ctx.reply(texts.ASSESS_LEFT_AS_SENT.format(month=month_label(ctx.data["period"])))
        await ctx.finish()
    else:
        await ctx.goto("confirm_edit")


async def _prompt_item(ctx: Ctx) -> None:
    d = ctx.data
    item = d["items"][d["i"]]
    text: str = fmt(
        texts.ASSESS_HEADER, month=month_label(d["period"]), n=d["i"] + 1, total=len(d["items"])
    )
    text += fmt(
        texts.ASSESS_ITEM,
        action=item["action"],
        result=item["result"],
        deadline=deadlines.describe(item["deadline"]),
    )
    before = d["previous"].get(str(item["id"]))
    if before in texts.ASSESS_SCALE:
        text += texts.ASSESS_PREVIOUS.format(status=texts.ASSESS_SCALE[before])
    text += texts.ASSESS_ASK_STATUS
    options = [
        (texts.BTN_AS_BEFORE.format(status=label) if key == before else label, key)
        for key, label in texts.ASSESS_SCALE.items()
    ]
    ctx.ask(text, options)


async def _answer_item(ctx: Ctx, answer: Answer) -> None:
    if answer.value not in texts.ASSESS_SCALE:
        await ctx.goto("item")
        return
    d = ctx.data
    d["entries"] = [*d["entries"][: d["i"]], {"status": answer.value, "note": None}]
    ctx.touch_data()
    await ctx.goto("note")


async def _prompt_note(ctx: Ctx) -> None:
    ctx.ask(texts.ASSESS_ASK_NOTE, [(texts.BTN_SKIP, "skip")])


async def _answer_note(ctx: Ctx, answer: Answer) -> None:
    d = ctx.data
    if answer.value != "skip":
        d["entries"][d["i"]]["note"] = answer.text
    d["i"] += 1
    ctx.touch_data()
    await ctx.goto("item" if d["i"] < len(d["items"]) else "difficulties")


async def _prompt_difficulties(ctx: Ctx) -> None:
    ctx.ask(texts.ASSESS_ASK_DIFFICULTIES, [(texts.BTN_NONE, "none")])


async def _answer_difficulties(ctx: Ctx, answer: Answer) -> None:
    ctx.data["difficulties"] = None if answer.value == "none" else answer.text
    ctx.touch_data()
    await ctx.goto("summary")


async def _prompt_summary(ctx: Ctx) -> None:
    d = ctx.data
    lines = [
        fmt(
            texts.ASSESS_SUMMARY_LINE,
            n=n,
            action=item["action"],
            status=texts.ASSESS_SCALE[entry["status"]],
            note=f" — {entry['note']}" if entry["note"] else "",
        )
        for n, (item, entry) in enumerate(zip(d["items"], d["entries"], strict=True), start=1)
    ]
    difficulties = (
        fmt(texts.ASSESS_DIFFICULTIES_LINE, text=d["difficulties"]) if d["difficulties"] else ""
    )
    text: str = fmt(
        texts.ASSESS_SUMMARY,
        month=month_label(d["period"]),
        lines=Html("\n".join(lines)),
        difficulties=Html(difficulties),
    )
    options = [(texts.BTN_SEND, "send"), (texts.BTN_REDO, "redo"), (texts.BTN_CANCEL, "cancel")]
    ctx.ask(text, options, row_width=3)


async def _answer_summary(ctx: Ctx, answer: Answer) -> None:
    d = ctx.data
    if answer.value == "redo":
        d["i"], d["entries"] = 0, []
        ctx.touch_data()
        await ctx.goto("item")
    elif answer.value == "cancel":
        ctx.end_flow()
        ctx.reply(texts.CANCELLED)
    elif answer.value == "send":
        await _send(ctx)
    else:
        await ctx.goto("summary")


async def _send(ctx: Ctx) -> None:
    assert ctx.member is not None
    d = ctx.data
    subject = await _subject(ctx)
    month = month_label(d["period"])
    on_behalf = bool(d["on_behalf"])
    if not d["late"] and not on_behalf and ctx.now >= datetime.fromisoformat(d["starts"]):
        ctx.end_flow()
        ctx.reply(texts.ASSESS_CLOSED.format(month=month))
        return
    pledge = await ctx.session.get(Pledge, d["pledge_id"])
    if pledge is None or pledge.status != store.APPROVED:  # a newer version was approved meanwhile
        ctx.end_flow()
        ctx.reply(texts.STALE_BUTTON)
        return
    await pm.save_assessment(
        ctx.session,
        subject,
        period=d["period"],
        pledge_id=pledge.id,
        entries=[
            pm.EntryDraft(item["id"], entry["status"], entry["note"])
            for item, entry in zip(d["items"], d["entries"], strict=True)
        ],
        difficulties=d["difficulties"],
        late=d["late"] and not on_behalf,
        now=ctx.now,
        entered_by=ctx.member.id if on_behalf else None,
    )
    audit.record(
        ctx.session,
        action="assessment_submit",
        now=ctx.now,
        member_id=ctx.member.id,
        subject=subject.id,
        period=d["period"],
        late=d["late"],
    )
    late = d["late"] and not on_behalf
    sent = (texts.ASSESS_SENT_LATE if late else texts.ASSESS_SENT).format(month=month)
    ctx.reply(sent + (texts.ON_BEHALF_NOTE if on_behalf else ""))
    await ctx.finish()


flow(
    Flow(
        name="assess",
        title=texts.FLOW_ASSESS,
        steps={
            "period": Step(_prompt_period, _answer_period),
            "confirm_edit": Step(_prompt_confirm_edit, _answer_confirm_edit),
            "item": Step(_prompt_item, _answer_item),
            "note": Step(_prompt_note, _answer_note, item_text=True),
            "difficulties": Step(_prompt_difficulties, _answer_difficulties),
            "summary": Step(_prompt_summary, _answer_summary),
        },
    )
)
