"""/dienhinh: điển hình and mô hình put forward by a chi bộ (domain.md §1.4, §8.5).

Anyone who reads a unit's reports (bí thư, phó bí thư, theo dõi, quản trị) sees this year's
nominations of their units and every unit below. A bí thư or phó bí thư (or an admin above)
puts one forward: the unit, the kind, the name, a description and the result, then a preview.
They may withdraw one of their units' nominations; an admin marks a mô hình nhân rộng. Every
button names a nomination or a unit and is checked again when pressed (a forged or outdated one
is refused and the refusal audited); every change is audited. The command line
(`python -m bot nomination add|list`) does the same for the operator.
"""

from __future__ import annotations

from handlers import texts
from handlers.common import local_now
from handlers.engine import Answer, Ctx, Flow, Step, action, command, flow
from handlers.messages import Choice
from handlers.scopes import pick_unit, refuse, unit_from, unit_options, units_for
from handlers.text import Html, fmt, number_vi, short
from models import access, audit, nominations
from models.nominations import CA_NHAN, DIEN_HINH, MAX_NAME, MAX_TEXT, MO_HINH, TAP_THE
from models.orgs import full_name
from models.tables import Nomination, OrgUnit

MAX_LINES = 30  # nominations listed in the chat; the command line lists them all
MAX_BUTTONS = 40  # withdraw / nhân rộng buttons under the list
SUMMARY_CHARS = 80
LABEL_CHARS = 40

# The kinds a secretary chooses from: (kind, subject, party member).
KIND_CODES: dict[str, tuple[str, str, bool]] = {
    "dp": (DIEN_HINH, CA_NHAN, True),
    "dq": (DIEN_HINH, CA_NHAN, False),
    "dt": (DIEN_HINH, TAP_THE, True),
    "mt": (MO_HINH, TAP_THE, True),
    "mc": (MO_HINH, CA_NHAN, True),
}


def kind_label(nomination: Nomination) -> str:
    """ "Điển hình cá nhân", "Mô hình tập thể" …"""
    return texts.NOMINATION_KIND_NAMES[(nomination.kind, nomination.subject)]


def who_label(nomination: Nomination) -> str:
    """ "đảng viên" / "quần chúng" for an individual điển hình; "" otherwise."""
    if nomination.kind != DIEN_HINH or nomination.subject != CA_NHAN:
        return ""
    return texts.NOMINATION_PARTY if nomination.party_member else texts.NOMINATION_MASSES


# -- the list ----------------------------------------------------------------------------------


@command("dienhinh", keeps_flow=True)
async def dienhinh(ctx: Ctx, args: str) -> None:
    units = await units_for(ctx, access.READ)
    if not units:
        refuse(ctx, "nomination_view", texts.NOMINATION_NO_RIGHT)
        return
    await show_list(ctx, units)


async def show_list(ctx: Ctx, units: list[OrgUnit]) -> None:
    """This year's nominations of the units' subtrees, by unit, with what the person may do."""
    assert ctx.member is not None
    year = local_now(ctx).year
    rows: list[tuple[Nomination, OrgUnit]] = []
    for unit in units:
        rows += await nominations.in_subtree(ctx.session, unit, year)
    lines = [texts.NOMINATION_LIST_HEADER.format(year=year)]
    if not rows:
        lines.append(texts.NOMINATION_LIST_EMPTY.format(year=year))
    shown = rows[:MAX_LINES]
    current: int | None = None
    for nomination, unit in shown:
        if unit.id != current:
            lines.append(fmt(texts.NOMINATION_LIST_UNIT, unit=unit.name))
            current = unit.id
        lines.append(_line(nomination))
    if len(rows) > len(shown):
        lines.append(texts.NOMINATION_MORE.format(n=number_vi(len(rows) - len(shown))))
        for unit in units:
            path = await full_name(ctx.session, unit)
            lines.append(fmt(texts.NOMINATION_MORE_HINT, path=path, year=year))

    choices: list[Choice] = []
    if await units_for(ctx, access.MANAGE):
        choices.append(Choice(texts.BTN_NOMINATION_NEW, "!dhm"))
    manage: dict[int, bool] = {}
    publish: dict[int, bool] = {}
    actions: list[Choice] = []
    for nomination, unit in shown:
        if unit.id not in manage:
            manage[unit.id] = await access.allowed(ctx.session, ctx.member.id, unit, access.MANAGE)
            publish[unit.id] = await access.allowed(
                ctx.session, ctx.member.id, unit, access.PUBLISH
            )
        label = short(nomination.name, LABEL_CHARS)
        if manage[unit.id]:
            actions.append(
                Choice(texts.BTN_NOMINATION_WITHDRAW.format(name=label), f"!dhx:{nomination.id}")
            )
        if publish[unit.id] and nomination.kind == MO_HINH:
            if nomination.replicated:
                button = texts.BTN_NOMINATION_UNREPLICATE.format(name=label)
                actions.append(Choice(button, f"!dhn:{nomination.id}:0"))
            else:
                button = texts.BTN_NOMINATION_REPLICATE.format(name=label)
                actions.append(Choice(button, f"!dhn:{nomination.id}:1"))
    choices += actions[:MAX_BUTTONS]
    ctx.reply(Html("\n".join(lines)), choices)


def _line(nomination: Nomination) -> Html:
    who = who_label(nomination)
    return fmt(
        texts.NOMINATION_LINE,
        kind=kind_label(nomination),
        who=texts.NOMINATION_WHO.format(who=who) if who else "",
        name=short(nomination.name, 100),
        summary=short(nomination.description, SUMMARY_CHARS),
        mark=texts.NOMINATION_REPLICATED_MARK if nomination.replicated else "",
    )


# -- withdraw, nhân rộng -----------------------------------------------------------------------


async def _nomination(ctx: Ctx, arg: str) -> Nomination | None:
    nomination = await ctx.session.get(Nomination, int(arg)) if arg.isdigit() else None
    if nomination is None:
        ctx.reply(texts.NOMINATION_GONE, [Choice(texts.BTN_NOMINATION_LIST, "!cmd:dienhinh")])
    return nomination


@action("dhx")
async def withdraw_action(ctx: Ctx, args: str) -> None:
    """!dhx:<id>: ask to withdraw the nomination; !dhx:<id>:ok: withdraw it."""
    arg, _, confirmed = args.partition(":")
    nomination = await _nomination(ctx, arg)
    if nomination is None:
        return
    unit = await unit_from(
        ctx, str(nomination.unit_id), access.MANAGE, action="nomination_withdraw"
    )
    if unit is None or ctx.member is None:
        return
    if confirmed != "ok":
        ctx.reply(
            fmt(
                texts.NOMINATION_WITHDRAW_ASK,
                name=nomination.name,
                kind=kind_label(nomination),
                unit=unit.name,
            ),
            [
                Choice(texts.BTN_NOMINATION_WITHDRAW_CONFIRM, f"!dhx:{nomination.id}:ok"),
                Choice(texts.BTN_NOMINATION_KEEP, "!cmd:dienhinh"),
            ],
        )
        return
    audit.record(
        ctx.session,
        action="nomination_withdraw",
        now=ctx.now,
        member_id=ctx.member.id,
        unit_id=unit.id,
        nomination=nomination.id,
        year=nomination.year,
        kind=nomination.kind,
        subject=nomination.subject,
        name=nomination.name,
    )
    name = nomination.name
    await nominations.withdraw(ctx.session, nomination)
    ctx.reply(
        fmt(texts.NOMINATION_WITHDRAWN, name=name, unit=unit.name),
        [Choice(texts.BTN_NOMINATION_LIST, "!cmd:dienhinh")],
    )


@action("dhn")
async def replicate_action(ctx: Ctx, args: str) -> None:
    """!dhn:<id>:1 marks a mô hình nhân rộng, !dhn:<id>:0 takes the mark away (admins)."""
    arg, _, state = args.partition(":")
    if state not in ("0", "1"):
        ctx.reply(texts.STALE_BUTTON)
        return
    nomination = await _nomination(ctx, arg)
    if nomination is None:
        return
    if nomination.kind != MO_HINH:
        ctx.reply(texts.STALE_BUTTON)
        return
    unit = await unit_from(
        ctx, str(nomination.unit_id), access.PUBLISH, action="nomination_replicate"
    )
    if unit is None or ctx.member is None:
        return
    wanted = state == "1"
    if not await nominations.set_replicated(ctx.session, nomination, wanted):
        already = texts.NOMINATION_ALREADY_REPLICATED if wanted else texts.NOMINATION_NOT_REPLICATED
        ctx.reply(fmt(already, name=nomination.name))
        return
    audit.record(
        ctx.session,
        action="nomination_replicate",
        now=ctx.now,
        member_id=ctx.member.id,
        unit_id=unit.id,
        nomination=nomination.id,
        replicated=wanted,
    )
    done = texts.NOMINATION_REPLICATED if wanted else texts.NOMINATION_UNREPLICATED
    label = short(nomination.name, LABEL_CHARS)
    undo = (
        Choice(texts.BTN_NOMINATION_UNREPLICATE.format(name=label), f"!dhn:{nomination.id}:0")
        if wanted
        else Choice(texts.BTN_NOMINATION_REPLICATE.format(name=label), f"!dhn:{nomination.id}:1")
    )
    ctx.reply(
        fmt(done, name=nomination.name, unit=unit.name),
        [undo, Choice(texts.BTN_NOMINATION_LIST, "!cmd:dienhinh")],
    )


# -- a new nomination --------------------------------------------------------------------------


@action("dhm")
async def new_action(ctx: Ctx, args: str) -> None:
    """!dhm: put a nomination forward (the flow below)."""
    units = await units_for(ctx, access.MANAGE)
    if not units:
        refuse(ctx, "nomination_add", texts.NOMINATION_MANAGE_ONLY)
        return
    ctx.start_flow("nomination", {"scopes": [u.id for u in units]})
    options = await unit_options(ctx, ctx.data["scopes"], texts.BTN_NOMINATION_UNIT)
    if len(options) == 1:  # a secretary's own chi bộ: nothing to choose
        ctx.data["unit_id"] = int(options[0][1])
        ctx.touch_data()
        await ctx.goto("kind")
        return
    await ctx.goto("unit")


async def _unit(ctx: Ctx) -> OrgUnit:
    unit = await ctx.session.get(OrgUnit, ctx.data["unit_id"])
    assert unit is not None
    return unit


async def _prompt_unit(ctx: Ctx) -> None:
    options = await unit_options(ctx, ctx.data["scopes"], texts.BTN_NOMINATION_UNIT)
    ctx.ask(texts.NOMINATION_ASK_UNIT, options)


async def _answer_unit(ctx: Ctx, answer: Answer) -> None:
    if await pick_unit(ctx, answer, access.MANAGE, action="nomination_add"):
        await ctx.goto("kind")


async def _prompt_kind(ctx: Ctx) -> None:
    unit = await _unit(ctx)
    options = [(texts.NOMINATION_KIND_BUTTONS[code], code) for code in KIND_CODES]
    ctx.ask(fmt(texts.NOMINATION_ASK_KIND, unit=unit.name), options)


async def _answer_kind(ctx: Ctx, answer: Answer) -> None:
    if answer.value not in KIND_CODES:
        ctx.reply(texts.CHOOSE_FROM_BUTTONS)
        await ctx.goto("kind")
        return
    ctx.data["kind"] = answer.value
    ctx.touch_data()
    await ctx.goto("name")


async def _prompt_name(ctx: Ctx) -> None:
    ctx.ask(texts.NOMINATION_ASK_NAME[ctx.data["kind"]].format(limit=MAX_NAME))


async def _answer_name(ctx: Ctx, answer: Answer) -> None:
    if not answer.text or answer.value is not None:
        await ctx.goto("name")
        return
    name, member_id = answer.text, None
    if ctx.data["kind"] == "dp":  # a đảng viên: linked when the name is on the roster
        member = await nominations.member_named(ctx.session, await _unit(ctx), name)
        if member is not None:
            name, member_id = member.full_name, member.id
    ctx.data["name"], ctx.data["member_id"] = name, member_id
    ctx.touch_data()
    await ctx.goto("description")


async def _prompt_description(ctx: Ctx) -> None:
    ctx.ask(texts.NOMINATION_ASK_DESCRIPTION.format(limit=number_vi(MAX_TEXT)))


async def _answer_description(ctx: Ctx, answer: Answer) -> None:
    if not answer.text or answer.value is not None:
        await ctx.goto("description")
        return
    ctx.data["description"] = answer.text
    ctx.touch_data()
    await ctx.goto("result")


async def _prompt_result(ctx: Ctx) -> None:
    ctx.ask(
        texts.NOMINATION_ASK_RESULT.format(limit=number_vi(MAX_TEXT)),
        [(texts.BTN_SKIP, "skip")],
    )


async def _answer_result(ctx: Ctx, answer: Answer) -> None:
    if answer.value == "skip":
        ctx.data["result"] = None
    elif answer.value is not None or not answer.text:
        ctx.reply(texts.CHOOSE_FROM_BUTTONS)
        await ctx.goto("result")
        return
    else:
        ctx.data["result"] = answer.text
    ctx.touch_data()
    await ctx.goto("confirm")


async def _prompt_confirm(ctx: Ctx) -> None:
    unit = await _unit(ctx)
    d = ctx.data
    lines: list[str] = [
        fmt(texts.NOMINATION_PREVIEW, unit=unit.name, year=local_now(ctx, unit).year),
        fmt(texts.NOMINATION_PREVIEW_KIND, kind=texts.NOMINATION_KIND_BUTTONS[d["kind"]]),
        fmt(texts.NOMINATION_PREVIEW_NAME, name=d["name"]),
    ]
    if d["kind"] == "dp":
        lines.append(
            texts.NOMINATION_ON_ROSTER if d.get("member_id") else texts.NOMINATION_NOT_ON_ROSTER
        )
    lines.append(fmt(texts.NOMINATION_PREVIEW_DESCRIPTION, description=d["description"]))
    lines.append(fmt(texts.NOMINATION_PREVIEW_RESULT, result=d.get("result") or "—"))
    ctx.ask(
        "\n".join(lines),
        [(texts.BTN_NOMINATION_SAVE, "save"), (texts.BTN_CANCEL, "cancel")],
    )


async def _answer_confirm(ctx: Ctx, answer: Answer) -> None:
    if answer.value == "cancel":
        ctx.reply(texts.CANCELLED)
        await ctx.finish()
        return
    if answer.value != "save":
        ctx.reply(texts.CHOOSE_FROM_BUTTONS)
        await ctx.goto("confirm")
        return
    unit = await unit_from(ctx, str(ctx.data["unit_id"]), access.MANAGE, action="nomination_add")
    if unit is None or ctx.member is None:
        ctx.end_flow()
        return
    d = ctx.data
    kind, subject, party_member = KIND_CODES[d["kind"]]
    year = local_now(ctx, unit).year
    nomination = await nominations.add(
        ctx.session,
        unit,
        year=year,
        kind=kind,
        subject=subject,
        name=d["name"],
        description=d["description"],
        result=d.get("result"),
        member_id=d.get("member_id"),
        party_member=party_member,
        nominated_by=ctx.member.id,
        now=ctx.now,
    )
    audit.record(
        ctx.session,
        action="nomination_add",
        now=ctx.now,
        member_id=ctx.member.id,
        unit_id=unit.id,
        nomination=nomination.id,
        year=year,
        kind=kind,
        subject=subject,
    )
    ctx.reply(
        fmt(
            texts.NOMINATION_SAVED,
            name=nomination.name,
            kind=texts.NOMINATION_KIND_BUTTONS[d["kind"]],
            unit=unit.name,
            year=year,
        ),
        [
            Choice(texts.BTN_NOMINATION_LIST, "!cmd:dienhinh"),
            Choice(texts.BTN_NOMINATION_ANOTHER, "!dhm"),
        ],
    )
    await ctx.finish()


flow(
    Flow(
        "nomination",
        {
            "unit": Step(_prompt_unit, _answer_unit),
            "kind": Step(_prompt_kind, _answer_kind),
            "name": Step(_prompt_name, _answer_name, max_chars=MAX_NAME),
            "description": Step(_prompt_description, _answer_description, max_chars=MAX_TEXT),
            "result": Step(_prompt_result, _answer_result, max_chars=MAX_TEXT),
            "confirm": Step(_prompt_confirm, _answer_confirm),
        },
        title="đề xuất điển hình, mô hình",
    )
)
