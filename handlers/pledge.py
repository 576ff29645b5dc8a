"""/dangky (register or edit the yearly pledge), /camket (show it), and its approval.

```mermaid
stateDiagram-v2
    [*] --> study: /dangky (no pledge yet)
    [*] --> review: /dangky (a pledge exists: edit it as a new version)
    study --> shortcomings: Tiếp tục (1/5 → 2/5)
    shortcomings --> item_action: 3 items or Xong
    item_action --> item_result
    item_result --> item_vague: slogan, or nothing measurable (asked once)
    item_vague --> item_action: Viết lại
    item_vague --> item_deadline: Giữ nguyên
    item_result --> item_deadline: concrete
    item_deadline --> item_more: saved (fewer than 5)
    item_more --> item_action: Thêm việc làm
    item_more --> breakthrough: Xong
    item_deadline --> breakthrough: 5 items
    breakthrough --> review
    review --> items_pick: Sửa việc làm
    items_pick --> item_edit
    item_edit --> item_action: Viết lại
    item_edit --> review: Xóa
    review --> study: Sửa nội dung học tập
    review --> shortcomings: Sửa hạn chế
    review --> [*]: Gửi → chờ duyệt → secretary: Duyệt | Trả lại (with a comment)
```
Every step takes /huy; every step's answer may be typed (number or label, diacritics optional).
"""

from __future__ import annotations

from typing import Any

from handlers import deadlines, texts
from handlers.common import local_now, pledge_year
from handlers.engine import Answer, Ctx, Flow, Step, action, command, flow
from handlers.messages import Choice, Reply
from handlers.scopes import refuse
from handlers.text import Html, esc, fmt, short
from handlers.vagueness import example_for, vagueness
from models import audit
from models import pledges as store
from models.people import approvers, has_role, identity_for
from models.tables import Member, OrgUnit, Pledge
from models.themes import theme_for

MAX_ITEMS = 5
MAX_SHORTCOMINGS = 3
MAX_STUDY = 8
STEP_NUMBER = {
    "study": 1,
    "shortcomings": 2,
    "item_action": 3,
    "item_result": 3,
    "item_vague": 3,
    "item_deadline": 3,
    "item_more": 3,
    "breakthrough": 4,
    "review": 5,
    "items_pick": 5,
    "item_edit": 5,
}
STEP_TITLE = {
    1: texts.STUDY_TITLE,
    2: texts.SHORTCOMINGS_TITLE,
    3: texts.ITEMS_TITLE,
    4: texts.BREAKTHROUGH_TITLE,
    5: texts.REVIEW_TITLE,
}


def _header(ctx: Ctx) -> str:
    n = STEP_NUMBER[ctx.conv.step or "review"]
    return texts.STEP.format(n=n, title=STEP_TITLE[n])


def _member(ctx: Ctx) -> Member:
    assert ctx.member is not None
    return ctx.member


# -- rendering ---------------------------------------------------------------------------------


def render_pledge(
    member: Member,
    year: int,
    study: list[str],
    shortcomings: list[str],
    items: list[dict[str, Any]],
    *,
    version: int | None = None,
    status: str | None = None,
    comment: str | None = None,
) -> Html:
    lines: list[str] = [
        fmt(texts.PLEDGE_HEADER, year=year, name=member.full_name, unit=member.unit.name)
    ]
    if version is not None and status is not None:
        lines.append(texts.PLEDGE_VERSION.format(version=version, status=texts.STATUS[status]))
    lines += ["", texts.PLEDGE_STUDY]
    lines += [f"• {esc(s)}" for s in study]
    lines += ["", texts.PLEDGE_SHORTCOMINGS]
    lines += [f"• {esc(s)}" for s in shortcomings]
    lines += ["", texts.PLEDGE_ITEMS]
    for n, item in enumerate(items, start=1):
        line = fmt(
            texts.PLEDGE_ITEM,
            n=n,
            action=item["action"],
            result=item["result"],
            deadline=deadlines.describe(item["deadline"]),
        )
        if item.get("breakthrough"):
            line = Html(line.replace("\n", texts.PLEDGE_ITEM_BREAKTHROUGH + "\n", 1))
        lines.append(line)
    if comment:
        lines += ["", fmt(texts.PLEDGE_COMMENT, comment=comment)]
    return Html("\n".join(lines))


def _pledge_items(pledge: Pledge) -> list[dict[str, Any]]:
    return [
        {
            "action": i.action,
            "result": i.result,
            "deadline": i.deadline,
            "breakthrough": i.breakthrough,
            "kept_vague": i.kept_vague,
        }
        for i in pledge.items
    ]


def render_stored(member: Member, pledge: Pledge) -> Html:
    return render_pledge(
        member,
        pledge.year,
        list(pledge.study),
        list(pledge.shortcomings),
        _pledge_items(pledge),
        version=pledge.version,
        status=pledge.status,
        comment=pledge.comment if pledge.status == store.RETURNED else None,
    )


# -- /dangky -----------------------------------------------------------------------------------


@command("dangky")
async def dangky(ctx: Ctx, args: str) -> None:
    member = _member(ctx)
    if ctx.conv.flow == "pledge" and ctx.conv.step:
        ctx.reply(texts.RESUME_DRAFT)
        await ctx.goto(ctx.conv.step)
        return
    year = pledge_year(ctx, member.unit)
    theme = await theme_for(ctx.session, member.unit, year)
    term = await theme_for(ctx.session, member.unit, year, term=True)
    options = []
    if theme is not None:
        options.append(texts.STUDY_THEME_OPTION.format(year=year, title=theme.title))
    if term is not None:  # the named chuyên đề toàn khóa instead of the generic line
        options.append(texts.STUDY_TERM_OPTION.format(title=term.title))
        options += texts.STUDY_STANDARD_OPTIONS[1:]
    else:
        options += texts.STUDY_STANDARD_OPTIONS
    data: dict[str, Any] = {
        "year": year,
        "theme_id": theme.id if theme else None,
        "term_id": term.id if term else None,
        "options": options,
        "study": [],
        "shortcomings": [],
        "items": [],
        "cur": None,
        "edit_index": None,
        "editing": False,
    }
    existing = await store.latest(ctx.session, member.id, year)
    if existing is not None:
        data.update(
            study=list(existing.study),
            shortcomings=list(existing.shortcomings),
            items=_pledge_items(existing),
            editing=True,
        )
        data["options"] += [s for s in existing.study if s not in options]
        ctx.start_flow("pledge", data)
        ctx.reply(
            texts.RESUME_EXISTING.format(
                year=year, version=existing.version, status=texts.STATUS[existing.status]
            )
        )
        await ctx.goto("review")
        return
    ctx.start_flow("pledge", data)
    await ctx.goto("study")


async def _theme_block(ctx: Ctx) -> str:
    year = ctx.data["year"]
    theme_id = ctx.data.get("theme_id")
    from models.tables import Theme

    theme = await ctx.session.get(Theme, theme_id) if theme_id else None
    term_id = ctx.data.get("term_id")
    term = await ctx.session.get(Theme, term_id) if term_id else None
    above = fmt(texts.TERM_THEME_INTRO, title=term.title) + "\n" if term else ""
    if theme is None:
        return above + texts.THEME_NONE.format(year=year)
    block: str = above + fmt(texts.THEME_INTRO, year=year, title=theme.title)
    if theme.summary:
        block += fmt(texts.THEME_SUMMARY, summary=theme.summary)
    if theme.link:
        block += fmt(texts.THEME_LINK, link=theme.link)
    return block


async def _prompt_study(ctx: Ctx) -> None:
    chosen = set(ctx.data["study"])
    options = [
        ((texts.CHECKED if opt in chosen else "") + opt, f"t{i}")
        for i, opt in enumerate(ctx.data["options"])
    ]
    options.append((texts.BTN_CONTINUE, "done"))
    text = _header(ctx) + await _theme_block(ctx) + "\n\n" + texts.STUDY_ASK
    if ctx.data["study"]:
        chosen_lines = "\n".join(f"• {esc(s)}" for s in ctx.data["study"])
        text += f"\n\n{texts.STUDY_CHOSEN}\n{chosen_lines}"
    ctx.ask(text, options)


async def _answer_study(ctx: Ctx, answer: Answer) -> None:
    study: list[str] = ctx.data["study"]
    options: list[str] = ctx.data["options"]
    if answer.value == "done":
        if not study:
            ctx.reply(texts.STUDY_NEED_ONE)
            await ctx.goto("study")
            return
        # Keep the order of the list, not the order of the taps.
        ctx.data["study"] = [o for o in options if o in study]
        ctx.touch_data()
        await ctx.goto("review" if ctx.data["editing"] else "shortcomings")
        return
    if answer.value and answer.value.startswith("t") and answer.value[1:].isdigit():
        index = int(answer.value[1:])
        if index < len(options):
            option = options[index]
            if option in study:
                study.remove(option)
            elif len(study) < MAX_STUDY:
                study.append(option)
            else:
                ctx.reply(texts.STUDY_TOO_MANY.format(n=MAX_STUDY))
    elif answer.text:
        if len(study) >= MAX_STUDY:
            ctx.reply(texts.STUDY_TOO_MANY.format(n=MAX_STUDY))
        elif answer.text not in options:
            options.append(answer.text)
            study.append(answer.text)
        elif answer.text not in study:
            study.append(answer.text)
    ctx.touch_data()
    await ctx.goto("study")


async def _prompt_shortcomings(ctx: Ctx) -> None:
    found: list[str] = ctx.data["shortcomings"]
    text = _header(ctx) + texts.SHORTCOMINGS_ASK.format(n=len(found) + 1)
    if found:
        text += "\n\n" + texts.SHORTCOMINGS_SO_FAR + "\n" + "\n".join(f"• {esc(s)}" for s in found)
    ctx.ask(text, [(texts.BTN_DONE, "done")] if found else [])


async def _answer_shortcomings(ctx: Ctx, answer: Answer) -> None:
    found: list[str] = ctx.data["shortcomings"]
    if answer.value == "done" and found:
        await _after_shortcomings(ctx)
        return
    if answer.text and answer.value is None:
        found.append(answer.text)
        ctx.touch_data()
        if len(found) >= MAX_SHORTCOMINGS:
            await _after_shortcomings(ctx)
            return
    await ctx.goto("shortcomings")


async def _after_shortcomings(ctx: Ctx) -> None:
    if ctx.data["editing"]:
        await ctx.goto("review")
    else:
        await _new_item(ctx)


async def _new_item(ctx: Ctx, edit_index: int | None = None) -> None:
    ctx.data["cur"] = {"action": "", "result": "", "checked": False, "kept_vague": False}
    ctx.data["edit_index"] = edit_index
    ctx.touch_data()
    await ctx.goto("item_action")


def _item_number(ctx: Ctx) -> int:
    index = ctx.data.get("edit_index")
    return (index if index is not None else len(ctx.data["items"])) + 1


async def _prompt_item_action(ctx: Ctx) -> None:
    example = example_for(_member(ctx).position)
    ctx.ask(_header(ctx) + fmt(texts.ITEM_ASK_ACTION, n=_item_number(ctx), example=example))


async def _answer_item_action(ctx: Ctx, answer: Answer) -> None:
    if not answer.text or answer.value is not None:
        await ctx.goto("item_action")
        return
    ctx.data["cur"]["action"] = answer.text
    ctx.touch_data()
    await ctx.goto("item_result")


async def _prompt_item_result(ctx: Ctx) -> None:
    cur = ctx.data["cur"]
    ctx.ask(_header(ctx) + fmt(texts.ITEM_ASK_RESULT, n=_item_number(ctx), action=cur["action"]))


async def _answer_item_result(ctx: Ctx, answer: Answer) -> None:
    if not answer.text or answer.value is not None:
        await ctx.goto("item_result")
        return
    cur = ctx.data["cur"]
    cur["result"] = answer.text
    ctx.touch_data()
    if not cur["checked"]:
        reason = vagueness(cur["action"], cur["result"])
        if reason is not None:
            cur["reason"] = reason
            cur["checked"] = True  # questioned once only
            await ctx.goto("item_vague")
            return
    await ctx.goto("item_deadline")


async def _prompt_item_vague(ctx: Ctx) -> None:
    cur = ctx.data["cur"]
    text = _header(ctx) + fmt(
        texts.ITEM_VAGUE, reason=cur["reason"], example=example_for(_member(ctx).position)
    )
    ctx.ask(text, [(texts.BTN_REPHRASE, "rephrase"), (texts.BTN_KEEP, "keep")], row_width=2)


async def _answer_item_vague(ctx: Ctx, answer: Answer) -> None:
    if answer.value == "rephrase":
        await ctx.goto("item_action")
    elif answer.value == "keep":
        ctx.data["cur"]["kept_vague"] = True
        ctx.touch_data()
        await ctx.goto("item_deadline")
    else:
        await ctx.goto("item_vague")


async def _prompt_item_deadline(ctx: Ctx) -> None:
    text = _header(ctx) + texts.ITEM_ASK_DEADLINE.format(n=_item_number(ctx), year=ctx.data["year"])
    ctx.ask(text, deadlines.button_options(), row_width=2)


async def _answer_item_deadline(ctx: Ctx, answer: Answer) -> None:
    today = local_now(ctx, _member(ctx).unit).date()
    code, problem = deadlines.read_answer(answer.value, answer.text, ctx.data["year"], today)
    if code is None:
        ctx.reply(problem)
        await ctx.goto("item_deadline")
        return
    cur = ctx.data["cur"]
    item = {
        "action": cur["action"],
        "result": cur["result"],
        "deadline": code,
        "breakthrough": False,
        "kept_vague": cur["kept_vague"],
    }
    items: list[dict[str, Any]] = ctx.data["items"]
    index = ctx.data.get("edit_index")
    if index is not None and index < len(items):
        item["breakthrough"] = items[index].get("breakthrough", False)
        items[index] = item
    else:
        items.append(item)
    number = index + 1 if index is not None else len(items)
    ctx.data["cur"], ctx.data["edit_index"] = None, None
    ctx.touch_data()
    ctx.reply(texts.ITEM_SAVED.format(n=number))
    if ctx.data["editing"]:
        await ctx.goto("review")
    elif len(items) >= MAX_ITEMS:
        ctx.reply(texts.ITEMS_FULL)
        await ctx.goto("breakthrough")
    else:
        await ctx.goto("item_more")


async def _prompt_item_more(ctx: Ctx) -> None:
    n = len(ctx.data["items"])
    ctx.ask(
        _header(ctx) + texts.ITEM_MORE.format(n=n),
        [(texts.BTN_ADD_ITEM, "add"), (texts.BTN_ITEMS_DONE, "done")],
    )


async def _answer_item_more(ctx: Ctx, answer: Answer) -> None:
    if answer.value == "add":
        await _new_item(ctx)
    elif answer.value == "done":
        await ctx.goto("breakthrough")
    elif answer.text:
        # Typing the next item straight away is the quickest way to add one.
        await _new_item(ctx)
        await _answer_item_action(ctx, answer)
    else:
        await ctx.goto("item_more")


async def _prompt_breakthrough(ctx: Ctx) -> None:
    options = [
        (texts.EDIT_ITEM_LABEL.format(n=n, action=short(item["action"])), f"b{n}")
        for n, item in enumerate(ctx.data["items"], start=1)
    ]
    options.append((texts.BTN_NO_BREAKTHROUGH, "none"))
    ctx.ask(_header(ctx) + texts.BREAKTHROUGH_ASK, options)


async def _answer_breakthrough(ctx: Ctx, answer: Answer) -> None:
    value = answer.value or ""
    items: list[dict[str, Any]] = ctx.data["items"]
    if value == "none" or (value[:1] == "b" and value[1:].isdigit()):
        chosen = int(value[1:]) if value != "none" else 0
        for n, item in enumerate(items, start=1):
            item["breakthrough"] = n == chosen
        ctx.data["editing"] = True
        ctx.touch_data()
        await ctx.goto("review")
    else:
        await ctx.goto("breakthrough")


async def _prompt_review(ctx: Ctx) -> None:
    d = ctx.data
    ctx.data["editing"] = True
    ctx.touch_data()
    body = render_pledge(_member(ctx), d["year"], d["study"], d["shortcomings"], d["items"])
    options = [
        (texts.BTN_SUBMIT, "submit"),
        (texts.BTN_EDIT_STUDY, "study"),
        (texts.BTN_EDIT_SHORTCOMINGS, "shortcomings"),
        (texts.BTN_EDIT_ITEMS, "items"),
        (texts.BREAKTHROUGH_TITLE, "breakthrough"),
        (texts.BTN_CANCEL, "cancel"),
    ]
    ctx.ask(_header(ctx) + body + "\n\n" + texts.REVIEW_ASK, options)


async def _answer_review(ctx: Ctx, answer: Answer) -> None:
    if answer.value == "submit":
        await _submit(ctx)
    elif answer.value == "study":
        await ctx.goto("study")
    elif answer.value == "shortcomings":
        ctx.data["shortcomings"] = []
        ctx.touch_data()
        await ctx.goto("shortcomings")
    elif answer.value == "items":
        await ctx.goto("items_pick")
    elif answer.value == "breakthrough":
        await ctx.goto("breakthrough")
    elif answer.value == "cancel":
        ctx.end_flow()
        ctx.reply(texts.CANCELLED)
    else:
        await ctx.goto("review")


async def _prompt_items_pick(ctx: Ctx) -> None:
    items = ctx.data["items"]
    options = [
        (texts.EDIT_ITEM_LABEL.format(n=n, action=short(item["action"])), f"e{n - 1}")
        for n, item in enumerate(items, start=1)
    ]
    if len(items) < MAX_ITEMS:
        options.append((texts.BTN_ADD_ITEM, "add"))
    options.append((texts.BTN_BACK, "back"))
    ctx.ask(_header(ctx) + texts.EDIT_ITEMS_ASK, options)


async def _answer_items_pick(ctx: Ctx, answer: Answer) -> None:
    value = answer.value or ""
    if value == "add" and len(ctx.data["items"]) < MAX_ITEMS:
        await _new_item(ctx)
    elif value == "back":
        await ctx.goto("review")
    elif value[:1] == "e" and value[1:].isdigit() and int(value[1:]) < len(ctx.data["items"]):
        ctx.data["pick"] = int(value[1:])
        ctx.touch_data()
        await ctx.goto("item_edit")
    else:
        await ctx.goto("items_pick")


async def _prompt_item_edit(ctx: Ctx) -> None:
    index = ctx.data["pick"]
    item = ctx.data["items"][index]
    options = [(texts.BTN_REWRITE, "rewrite")]
    if len(ctx.data["items"]) > 1:
        options.append((texts.BTN_DELETE, "delete"))
    options.append((texts.BTN_BACK, "back"))
    text = _header(ctx) + fmt(texts.EDIT_ITEM_ASK, n=index + 1, action=item["action"])
    ctx.ask(text, options, row_width=3)


async def _answer_item_edit(ctx: Ctx, answer: Answer) -> None:
    index = ctx.data["pick"]
    items: list[dict[str, Any]] = ctx.data["items"]
    if answer.value == "rewrite":
        await _new_item(ctx, edit_index=index)
    elif answer.value == "delete" and len(items) > 1:
        del items[index]
        ctx.touch_data()
        ctx.reply(texts.ITEM_DELETED.format(n=index + 1))
        await ctx.goto("review")
    elif answer.value == "back":
        await ctx.goto("items_pick")
    else:
        await ctx.goto("item_edit")


async def _submit(ctx: Ctx) -> None:
    member, d = _member(ctx), ctx.data
    pledge = await store.submit(
        ctx.session,
        member,
        year=d["year"],
        theme_id=d.get("theme_id"),
        study=d["study"],
        shortcomings=d["shortcomings"],
        items=[store.DraftItem.from_dict(i) for i in d["items"]],
        now=ctx.now,
    )
    audit.record(
        ctx.session,
        action="pledge_submit",
        now=ctx.now,
        member_id=member.id,
        pledge=pledge.id,
        version=pledge.version,
    )
    reached = await _ask_approval(ctx, member, pledge)
    text = texts.SUBMITTED.format(year=pledge.year, version=pledge.version)
    ctx.end_flow()
    ctx.reply(text + ("" if reached else texts.SUBMITTED_NO_APPROVER))


def approval_reply(member: Member, pledge: Pledge) -> Reply:
    text = texts.APPROVAL_REQUEST.format(pledge=render_stored(member, pledge))
    buttons = [
        Choice(texts.BTN_APPROVE, f"!pa:{pledge.id}"),
        Choice(texts.BTN_RETURN, f"!pr:{pledge.id}"),
    ]
    return Reply(text, buttons, row_width=2)


async def _ask_approval(ctx: Ctx, member: Member, pledge: Pledge) -> bool:
    """Send the pledge to the chi bộ's secretary and deputies (not to its own author)."""
    reached = False
    reply = approval_reply(member, pledge)
    for approver in await approvers(ctx.session, member.unit_id):
        if approver.id != member.id and await identity_for(ctx.session, approver.id):
            await ctx.notify(approver.id, reply)
            reached = True
    return reached


# -- /camket -----------------------------------------------------------------------------------


@command("camket", keeps_flow=True)
async def camket(ctx: Ctx, args: str) -> None:
    member = _member(ctx)
    year = pledge_year(ctx, member.unit)
    pledge = await store.latest(ctx.session, member.id, year)
    if pledge is None:
        ctx.reply(texts.CAMKET_NONE.format(year=year))
        return
    lines: list[str] = [render_stored(member, pledge)]
    if pledge.status == store.RETURNED:
        lines.append(texts.CAMKET_RETURNED_HINT)
    elif pledge.status == store.PENDING:
        in_force = await store.approved(ctx.session, member.id, year)
        if in_force is not None:
            lines.append(texts.PLEDGE_IN_FORCE.format(version=in_force.version))
    else:
        lines.append(texts.CAMKET_EDIT_HINT)
    ctx.reply("\n\n".join(lines))


# -- the secretary's decision -----------------------------------------------------------------


async def _pledge_for_decision(ctx: Ctx, args: str) -> tuple[Pledge, Member] | None:
    """The pledge a button names, if this person may decide on it and it still waits."""
    pledge = await ctx.session.get(Pledge, int(args)) if args.isdigit() else None
    author = await ctx.session.get(Member, pledge.member_id) if pledge else None
    if pledge is None or author is None:
        ctx.reply(texts.PLEDGE_NOT_FOUND)
        return None
    unit = await ctx.session.get(OrgUnit, author.unit_id)
    assert unit is not None
    actor = ctx.member
    allowed = (
        actor is not None
        and actor.id != author.id
        and await has_role(ctx.session, actor.id, unit, ("secretary", "deputy"))
    )
    if not allowed:
        refuse(ctx, "refused:pledge_decide", texts.NOT_ALLOWED, unit_id=unit.id, pledge=pledge.id)
        return None
    if pledge.status != store.PENDING:
        ctx.reply(texts.PLEDGE_ALREADY_DECIDED.format(status=texts.STATUS[pledge.status]))
        return None
    return pledge, author


@action("pa")
async def approve(ctx: Ctx, args: str) -> None:
    found = await _pledge_for_decision(ctx, args)
    if found is None:
        return
    pledge, author = found
    assert ctx.member is not None
    await store.decide(ctx.session, pledge, approve=True, by=ctx.member, now=ctx.now)
    audit.record(
        ctx.session, action="pledge_approve", now=ctx.now, member_id=ctx.member.id, pledge=pledge.id
    )
    ctx.reply(fmt(texts.APPROVED_TO_SECRETARY, year=pledge.year, name=author.full_name))
    await ctx.notify(
        author.id,
        Reply(
            fmt(
                texts.APPROVED_TO_MEMBER,
                year=pledge.year,
                version=pledge.version,
                by=ctx.member.full_name,
            )
        ),
    )


@action("pr")
async def start_return(ctx: Ctx, args: str) -> None:
    found = await _pledge_for_decision(ctx, args)
    if found is None:
        return
    pledge, author = found
    ctx.start_flow("return", {"pledge_id": pledge.id, "name": author.full_name})
    await ctx.goto("comment")


@action("pv")
async def view_pending(ctx: Ctx, args: str) -> None:
    found = await _pledge_for_decision(ctx, args)
    if found is not None:
        reply = approval_reply(found[1], found[0])
        ctx.reply(reply.text, reply.choices, reply.row_width)


async def _prompt_comment(ctx: Ctx) -> None:
    ctx.ask(fmt(texts.RETURN_ASK_COMMENT, name=ctx.data["name"]))


async def _answer_comment(ctx: Ctx, answer: Answer) -> None:
    if not answer.text or answer.value is not None:
        await ctx.goto("comment")
        return
    found = await _pledge_for_decision(ctx, str(ctx.data["pledge_id"]))
    if found is None:  # decided meanwhile by the deputy, or replaced by a new version
        await ctx.finish()
        return
    pledge, author = found
    assert ctx.member is not None
    await store.decide(
        ctx.session, pledge, approve=False, by=ctx.member, now=ctx.now, comment=answer.text
    )
    audit.record(
        ctx.session, action="pledge_return", now=ctx.now, member_id=ctx.member.id, pledge=pledge.id
    )
    ctx.reply(fmt(texts.RETURNED_TO_SECRETARY, name=author.full_name))
    await ctx.notify(
        author.id,
        Reply(
            fmt(
                texts.RETURNED_TO_MEMBER,
                year=pledge.year,
                version=pledge.version,
                by=ctx.member.full_name,
                comment=answer.text,
            )
        ),
    )
    await ctx.finish()


flow(
    Flow(
        name="pledge",
        title=texts.FLOW_PLEDGE,
        steps={
            "study": Step(_prompt_study, _answer_study, item_text=True),
            "shortcomings": Step(_prompt_shortcomings, _answer_shortcomings, item_text=True),
            "item_action": Step(_prompt_item_action, _answer_item_action, item_text=True),
            "item_result": Step(_prompt_item_result, _answer_item_result, item_text=True),
            "item_vague": Step(_prompt_item_vague, _answer_item_vague),
            "item_deadline": Step(_prompt_item_deadline, _answer_item_deadline),
            "item_more": Step(_prompt_item_more, _answer_item_more, item_text=True),
            "breakthrough": Step(_prompt_breakthrough, _answer_breakthrough),
            "review": Step(_prompt_review, _answer_review),
            "items_pick": Step(_prompt_items_pick, _answer_items_pick),
            "item_edit": Step(_prompt_item_edit, _answer_item_edit),
        },
    )
)
flow(
    Flow(
        name="return",
        title=texts.FLOW_RETURN,
        steps={"comment": Step(_prompt_comment, _answer_comment)},
    )
)
