"""/kehoach: the secretary registers the chi bộ's collective plan (kế hoạch của tập thể) for
the year: its actions (like a pledge's items), its chuẩn mực đạo đức (the five of Quy định
144-QĐ/TW by default) and the mô hình it registered (with /dienhinh). Members read it in /chibo.

The plan is edited as a draft in the conversation and written in one go by "Lưu kế hoạch".
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from handlers import deadlines, texts
from handlers.common import local_now, pledge_year
from handlers.engine import Answer, Ctx, Flow, Step, command, flow
from handlers.scopes import pick_unit, refuse, unit_from, unit_options, units_for
from handlers.text import Html, esc, fmt, short
from handlers.vagueness import vagueness
from models import access, audit, unit_plans
from models.tables import Member, OrgUnit, UnitPlan

MAX_ITEMS = 10
MAX_STANDARDS = 10
MAX_STANDARD_CHARS = 200


@command("kehoach")
async def kehoach(ctx: Ctx, args: str) -> None:
    units = await units_for(ctx, access.MANAGE)
    if not units:
        refuse(ctx, "unit_plan", texts.PLAN_MANAGERS_ONLY)
        return
    ctx.start_flow("unit_plan", {"scopes": [u.id for u in units]})
    options = await unit_options(ctx, ctx.data["scopes"], texts.BTN_PLAN_UNIT)
    if len(options) == 1:  # a secretary of one chi bộ: nothing to choose
        await _open(ctx, units[0])
    else:
        await ctx.goto("unit")


async def _prompt_unit(ctx: Ctx) -> None:
    options = await unit_options(ctx, ctx.data["scopes"], texts.BTN_PLAN_UNIT)
    ctx.ask(texts.PLAN_ASK_UNIT, options)


async def _answer_unit(ctx: Ctx, answer: Answer) -> None:
    if await pick_unit(ctx, answer, access.MANAGE, action="unit_plan"):
        unit = await ctx.session.get(OrgUnit, ctx.data["unit_id"])
        assert unit is not None
        await _open(ctx, unit)


async def _open(ctx: Ctx, unit: OrgUnit) -> None:
    """Start the draft from the stored plan, or from the defaults."""
    year = pledge_year(ctx, unit)
    plan = await unit_plans.plan_of(ctx.session, unit.id, year)
    ctx.data.update(
        unit_id=unit.id,
        year=year,
        items=list(plan.items) if plan else [],
        standards=list(plan.standards) if plan else list(texts.QD144_STANDARDS),
    )
    ctx.touch_data()
    await ctx.goto("menu")


# -- the draft and what to do with it ----------------------------------------------------------


async def _prompt_menu(ctx: Ctx) -> None:
    unit = await ctx.session.get(OrgUnit, ctx.data["unit_id"])
    assert unit is not None
    d = ctx.data
    models = await unit_plans.models_of(ctx.session, unit.id, d["year"])
    body = render_plan(unit, d["year"], d["items"], d["standards"], [m.name for m in models])
    options = []
    if len(d["items"]) < MAX_ITEMS:
        options.append((texts.BTN_PLAN_ADD, "add"))
    if d["items"]:
        options.append((texts.BTN_PLAN_REMOVE, "remove"))
    options += [
        (texts.BTN_PLAN_STANDARDS, "standards"),
        (texts.BTN_PLAN_SAVE, "save"),
        (texts.BTN_CANCEL, "cancel"),
    ]
    text = "\n".join([body, texts.PLAN_DRAFT_NOTE, texts.PLAN_MODELS_HINT, texts.PLAN_MENU_ASK])
    ctx.ask(text, options)


async def _answer_menu(ctx: Ctx, answer: Answer) -> None:
    if answer.value == "add":
        if len(ctx.data["items"]) >= MAX_ITEMS:
            ctx.reply(texts.PLAN_ITEMS_FULL.format(n=MAX_ITEMS))
            await ctx.goto("menu")
            return
        ctx.data["cur"] = {}
        ctx.touch_data()
        await ctx.goto("item_action")
    elif answer.value == "remove" and ctx.data["items"]:
        await ctx.goto("remove")
    elif answer.value == "standards":
        await ctx.goto("standards")
    elif answer.value == "save":
        await _save(ctx)
    elif answer.value == "cancel":
        ctx.end_flow()
        ctx.reply(texts.CANCELLED)
    else:
        ctx.reply(texts.CHOOSE_FROM_BUTTONS)
        await ctx.goto("menu")


async def _save(ctx: Ctx) -> None:
    # Rights are checked again: they may have changed while the draft was open.
    unit = await unit_from(ctx, str(ctx.data["unit_id"]), access.MANAGE, action="unit_plan")
    if unit is None or ctx.member is None:
        ctx.end_flow()
        return
    d = ctx.data
    plan = await unit_plans.save(
        ctx.session,
        unit,
        d["year"],
        items=d["items"],
        standards=d["standards"],
        by=ctx.member.id,
        now=ctx.now,
    )
    audit.record(
        ctx.session,
        action="unit_plan",
        now=ctx.now,
        member_id=ctx.member.id,
        unit_id=unit.id,
        year=plan.year,
        items=len(plan.items),
        standards=len(plan.standards),
    )
    ctx.end_flow()
    ctx.reply(fmt(texts.PLAN_SAVED, year=plan.year, unit=unit.name))


# -- one action of the collective --------------------------------------------------------------


def _number(ctx: Ctx) -> int:
    return len(ctx.data["items"]) + 1


async def _prompt_item_action(ctx: Ctx) -> None:
    ctx.ask(texts.PLAN_ASK_ACTION.format(n=_number(ctx)))


async def _answer_item_action(ctx: Ctx, answer: Answer) -> None:
    if not answer.text or answer.value is not None:
        await ctx.goto("item_action")
        return
    ctx.data["cur"]["action"] = answer.text
    ctx.touch_data()
    await ctx.goto("item_result")


async def _prompt_item_result(ctx: Ctx) -> None:
    action = ctx.data["cur"]["action"]
    ctx.ask(fmt(texts.PLAN_ASK_RESULT, n=_number(ctx), action=action))


async def _answer_item_result(ctx: Ctx, answer: Answer) -> None:
    if not answer.text or answer.value is not None:
        await ctx.goto("item_result")
        return
    cur = ctx.data["cur"]
    cur["result"] = answer.text
    ctx.touch_data()
    reason = vagueness(cur["action"], cur["result"])
    if reason is not None:  # a collective plan is the secretary's call: a note, not a question
        ctx.reply(texts.PLAN_ITEM_VAGUE.format(reason=reason))
    await ctx.goto("item_deadline")


async def _prompt_item_deadline(ctx: Ctx) -> None:
    text = texts.PLAN_ASK_DEADLINE.format(n=_number(ctx), year=ctx.data["year"])
    ctx.ask(text, deadlines.button_options(), row_width=2)


async def _answer_item_deadline(ctx: Ctx, answer: Answer) -> None:
    unit = await ctx.session.get(OrgUnit, ctx.data["unit_id"])
    today = local_now(ctx, unit).date()
    code, problem = deadlines.read_answer(answer.value, answer.text, ctx.data["year"], today)
    if code is None:
        ctx.reply(problem)
        await ctx.goto("item_deadline")
        return
    cur = ctx.data.pop("cur")
    ctx.data["items"].append({"action": cur["action"], "result": cur["result"], "deadline": code})
    ctx.touch_data()
    await ctx.goto("menu")


async def _prompt_remove(ctx: Ctx) -> None:
    options = [
        (f"{n}. {short(item['action'])}", str(n - 1))
        for n, item in enumerate(ctx.data["items"], start=1)
    ]
    ctx.ask(texts.PLAN_ASK_REMOVE, [*options, (texts.BTN_BACK_TO_PLAN, "back")])


async def _answer_remove(ctx: Ctx, answer: Answer) -> None:
    value = answer.value or ""
    items: list[dict[str, Any]] = ctx.data["items"]
    if value.isdigit() and int(value) < len(items):
        removed = items.pop(int(value))
        ctx.touch_data()
        ctx.reply(fmt(texts.PLAN_ITEM_REMOVED, action=removed["action"]))
    elif value != "back":
        ctx.reply(texts.CHOOSE_FROM_BUTTONS)
        await ctx.goto("remove")
        return
    await ctx.goto("menu")


# -- chuẩn mực đạo đức -------------------------------------------------------------------------


async def _prompt_standards(ctx: Ctx) -> None:
    shown = Html("\n".join(f"• {esc(s)}" for s in ctx.data["standards"]))
    ctx.ask(
        fmt(texts.PLAN_ASK_STANDARDS, standards=shown, max=MAX_STANDARDS),
        [(texts.BTN_PLAN_QD144, "qd144"), (texts.BTN_PLAN_KEEP, "keep")],
    )


async def _answer_standards(ctx: Ctx, answer: Answer) -> None:
    if answer.value == "qd144":
        ctx.data["standards"] = list(texts.QD144_STANDARDS)
    elif answer.value != "keep":
        lines = [line.strip(" •-–\t") for line in answer.text.splitlines()]
        lines = [line for line in lines if line]
        problem = _standards_problem(lines)
        if problem:
            ctx.reply(problem)
            await ctx.goto("standards")
            return
        ctx.data["standards"] = lines
    ctx.touch_data()
    await ctx.goto("menu")


def _standards_problem(lines: list[str]) -> str | None:
    if not lines:
        return texts.CHOOSE_FROM_BUTTONS
    if len(lines) > MAX_STANDARDS:
        return texts.PLAN_STANDARDS_TOO_MANY.format(max=MAX_STANDARDS, n=len(lines))
    for n, line in enumerate(lines, start=1):
        if len(line) > MAX_STANDARD_CHARS:
            return texts.PLAN_STANDARD_TOO_LONG.format(
                max=MAX_STANDARD_CHARS, n=n, length=len(line)
            )
    return None


flow(
    Flow(
        "unit_plan",
        {
            "unit": Step(_prompt_unit, _answer_unit),
            "menu": Step(_prompt_menu, _answer_menu),
            "item_action": Step(_prompt_item_action, _answer_item_action, item_text=True),
            "item_result": Step(_prompt_item_result, _answer_item_result, item_text=True),
            "item_deadline": Step(_prompt_item_deadline, _answer_item_deadline),
            "remove": Step(_prompt_remove, _answer_remove),
            "standards": Step(
                _prompt_standards,
                _answer_standards,
                max_chars=MAX_STANDARDS * (MAX_STANDARD_CHARS + 1),
            ),
        },
        title="kế hoạch tập thể của chi bộ",
    )
)


# -- reading it --------------------------------------------------------------------------------


def render_plan(
    unit: OrgUnit, year: int, items: list[dict[str, Any]], standards: list[str], models: list[str]
) -> Html:
    lines = [fmt(texts.PLAN_HEADER, year=year, unit=unit.name), texts.PLAN_ITEMS]
    lines += [
        fmt(
            texts.PLAN_ITEM,
            n=n,
            action=item["action"],
            result=item["result"],
            deadline=deadlines.describe(item["deadline"]),
        )
        for n, item in enumerate(items, start=1)
    ] or [texts.PLAN_NO_ITEMS]
    lines.append(texts.PLAN_STANDARDS)
    lines += [f"{n}. {esc(s)}" for n, s in enumerate(standards, start=1)]
    if models:
        lines.append(texts.PLAN_MODELS)
        lines += [f"• {esc(name)}" for name in models]
    return Html("\n".join(lines))


async def stored_plan(ctx: Ctx, unit: OrgUnit) -> tuple[int, UnitPlan | None]:
    """The plan a member reads now: the coming pledge year's, else this year's."""
    year = pledge_year(ctx, unit)
    plan = await unit_plans.plan_of(ctx.session, unit.id, year)
    this_year = local_now(ctx, unit).year
    if plan is None and year != this_year:
        older = await unit_plans.plan_of(ctx.session, unit.id, this_year)
        if older is not None:
            return this_year, older
    return year, plan


async def show_plan(ctx: Ctx, member: Member) -> None:
    """/chibo for a member: their chi bộ's collective plan."""
    unit = member.unit
    year, plan = await stored_plan(ctx, unit)
    if plan is None:
        ctx.reply(fmt(texts.PLAN_NONE, unit=unit.name, year=year))
        return
    models = await unit_plans.models_of(ctx.session, unit.id, year)
    body = render_plan(unit, year, plan.items, plan.standards, [m.name for m in models])
    updated = plan.updated_at.astimezone(ZoneInfo(unit.timezone))
    ctx.reply(body + "\n\n" + texts.PLAN_UPDATED.format(date=f"{updated:%d/%m/%Y}"))


async def plan_line(ctx: Ctx, unit: OrgUnit) -> str:
    """One line for the secretary's overview."""
    year, plan = await stored_plan(ctx, unit)
    if plan is None:
        return texts.PLAN_LINE_NONE.format(year=year) + texts.PLAN_LINE_HINT
    line = texts.PLAN_LINE.format(year=year, items=len(plan.items), standards=len(plan.standards))
    return line + texts.PLAN_LINE_HINT
