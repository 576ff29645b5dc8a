"""/tongketnam: the year-end summary of a member's pledge (tổng kết năm), and a draft paragraph
for the "học tập và làm theo Bác" part of the bản kiểm điểm, which the member keeps or rewrites.

The summary shows each item's final status (the latest self-assessment) and how many months it
was assessed; the figures are models.year_reviews'. The draft is built from them, always the
same for the same data. Grading is the chi bộ's and the cấp ủy's (Quy định 366-QĐ/TW): the bot
never computes or suggests a grade, and says so under every paragraph.

```mermaid
stateDiagram-v2
    [*] --> menu: /tongketnam [năm] (the summary, then the saved paragraph, else a draft)
    menu --> [*]: Giữ đoạn này (the draft is saved) | Đóng
    menu --> edit: Sửa đoạn văn
    menu --> menu: Tạo lại bản nháp (a saved one exists; it stays until a draft is kept)
    edit --> [*]: the member's own text (at most 3,000 characters), saved as is
    edit --> menu: Quay lại
```
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

from handlers import deadlines, texts
from handlers.common import local_now, month_label, require_member
from handlers.engine import Answer, Ctx, Flow, Step, command, flow
from handlers.messages import Choice
from handlers.text import Html, esc, fmt, fold, number_vi
from models import audit
from models import year_reviews as store
from models.tables import Member, Theme
from models.themes import theme_for

MAX_TEXT = 3000  # the member's own paragraph
_YEAR = re.compile(r"(?:nam\s*)?(\d{4})")


@command("tongketnam")
async def tongketnam(ctx: Ctx, args: str) -> None:
    member = require_member(ctx)
    current = local_now(ctx, member.unit).year
    year = current
    if args:
        m = _YEAR.fullmatch(fold(args))
        if m is None:
            ctx.reply(texts.YEAR_END_BAD_YEAR.format(year=current))
            return
        year = int(m.group(1))
    summary = await store.summarise(ctx.session, member, year, ctx.now)
    if summary is None:
        await _no_pledge(ctx, member, year, current)
        return
    theme = await theme_for(ctx.session, member.unit, year)
    ctx.reply(render_summary(member, summary, theme))
    data: dict[str, Any] = {"year": year, "saved": False, "had_saved": False}
    saved = await store.get(ctx.session, member.id, year)
    if saved is not None:
        local = saved.updated_at.astimezone(ZoneInfo(member.unit.timezone))
        data.update(text=saved.text, saved=True, saved_on=f"{local.day}/{local.month}/{local.year}")
    else:
        data["text"] = draft_paragraph(summary, theme)
    ctx.start_flow("year_end", data)
    await ctx.goto("menu")


async def _no_pledge(ctx: Ctx, member: Member, year: int, current: int) -> None:
    years = await store.pledge_years(ctx.session, member.id)
    if year >= current:
        lines = [texts.YEAR_END_NO_PLEDGE.format(year=year)]
        choices = [Choice(texts.BTN_DANGKY, "!cmd:dangky")]
    else:
        lines = [texts.YEAR_END_NO_PLEDGE_YEAR.format(year=year)]
        choices = []
    if years:
        shown = ", ".join(str(y) for y in years)
        lines.append(texts.YEAR_END_OTHER_YEARS.format(years=shown, example=years[-1]))
    elif not choices:
        lines.append(texts.YEAR_END_NO_PLEDGE.format(year=current))
        choices = [Choice(texts.BTN_DANGKY, "!cmd:dangky")]
    ctx.reply("\n".join(lines), choices)


# -- the summary -------------------------------------------------------------------------------


def _status_label(key: str | None) -> str:
    if key is None:
        return texts.YEAR_END_NOT_ASSESSED
    return texts.ASSESS_SCALE.get(key, key)


def render_summary(member: Member, s: store.YearSummary, theme: Theme | None) -> Html:
    pledge = s.pledge
    lines: list[str] = [
        fmt(texts.YEAR_END_HEADER, year=s.year, name=member.full_name, unit=member.unit.name)
    ]
    if theme is not None:
        lines.append(fmt(texts.YEAR_END_THEME, year=s.year, title=theme.title))
    lines.append(
        fmt(texts.YEAR_END_VERSION, version=pledge.version, status=texts.STATUS[pledge.status])
    )
    if not s.approved:
        lines.append(texts.YEAR_END_NOT_APPROVED)
    elif s.newer is not None:
        lines.append(
            fmt(
                texts.YEAR_END_NEWER,
                version=s.newer.version,
                status=texts.STATUS[s.newer.status],
                shown=pledge.version,
            )
        )
    lines += ["", texts.YEAR_END_ITEMS]
    for n, r in enumerate(s.items, start=1):
        count = (
            texts.YEAR_END_COUNT.format(n=r.assessed, total=s.periods)
            if s.periods
            else texts.YEAR_END_NO_PERIODS
        )
        block = fmt(
            texts.YEAR_END_ITEM,
            n=n,
            action=r.item.action,
            breakthrough=Html(texts.PLEDGE_ITEM_BREAKTHROUGH if r.item.breakthrough else ""),
            result=r.item.result,
            deadline=deadlines.describe(r.item.deadline),
            status=_status_label(r.status),
            when=fmt(texts.YEAR_END_ITEM_WHEN, month=month_label(r.period)) if r.period else "",
            count=count,
        )
        if r.note:
            block = Html(block + fmt(texts.YEAR_END_ITEM_NOTE, note=r.note))
        lines.append(block)
    lines += ["", texts.YEAR_END_SHORTCOMINGS]
    lines += [f"• {esc(x)}" for x in pledge.shortcomings] or [texts.YEAR_END_NO_SHORTCOMINGS]
    lines += ["", texts.YEAR_END_PERIODS_NOTE]
    return Html("\n".join(lines))


# -- the draft paragraph -----------------------------------------------------------------------


def _quoted(values: list[str]) -> str:
    """«a», «b»: each on one line, without the full stop it may end with."""
    return ", ".join(f"«{' '.join(v.split()).rstrip(' .;,:')}»" for v in values)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def draft_paragraph(s: store.YearSummary, theme: Theme | None) -> str:
    """The draft, in the first person, from the summary alone (plain text, not HTML)."""
    pledge = s.pledge
    opening = texts.YEAR_END_P_THEME.format(year=s.year, title=theme.title) if theme else ""
    sentences = [texts.YEAR_END_P_OPEN.format(year=s.year, n=len(s.items), theme=opening)]
    if pledge.study:
        sentences.append(texts.YEAR_END_P_STUDY.format(items=_quoted(list(pledge.study))))
    # Grouped by final status, in the order of the scale; unknown keys, then never assessed.
    unknown = sorted({r.status for r in s.items if r.status} - set(texts.ASSESS_SCALE))
    groups = []
    for key in [*texts.ASSESS_SCALE, *unknown, None]:
        found = [r.item.action for r in s.items if r.status == key]
        if found:
            groups.append(
                texts.YEAR_END_P_GROUP.format(
                    label=_lower_first(_status_label(key)), n=len(found), items=_quoted(found)
                )
            )
    if s.last_period is not None and any(r.status for r in s.items):
        sentences.append(
            texts.YEAR_END_P_RESULTS.format(
                month=month_label(s.last_period), groups="; ".join(groups)
            )
        )
    else:
        actions = [r.item.action for r in s.items]
        sentences.append(texts.YEAR_END_P_RESULTS_NONE.format(items=_quoted(actions)))
    if pledge.shortcomings:
        sentences.append(
            texts.YEAR_END_P_SHORTCOMINGS.format(items=_quoted(list(pledge.shortcomings)))
        )
    # The scale's first level is the finished one ("Đã thực hiện").
    finished = next(iter(texts.ASSESS_SCALE))
    all_done = bool(s.items) and all(r.status == finished for r in s.items)
    sentences.append(texts.YEAR_END_P_NEXT_DONE if all_done else texts.YEAR_END_P_NEXT_UNFINISHED)
    return " ".join(sentences)


# -- the flow ----------------------------------------------------------------------------------


async def _prompt_menu(ctx: Ctx) -> None:
    d = ctx.data
    if d["saved"]:
        parts: list[str] = [fmt(texts.YEAR_END_SAVED_TITLE, year=d["year"], date=d["saved_on"])]
        options = [
            (texts.BTN_YEAR_END_EDIT, "edit"),
            (texts.BTN_YEAR_END_REDRAFT, "redraft"),
            (texts.BTN_CLOSE, "close"),
        ]
        question = texts.YEAR_END_ASK_SAVED
    else:
        parts = [fmt(texts.YEAR_END_DRAFT_TITLE, year=d["year"])]
        options = [
            (texts.BTN_YEAR_END_KEEP, "keep"),
            (texts.BTN_YEAR_END_EDIT, "edit"),
            (texts.BTN_CLOSE, "close"),
        ]
        question = texts.YEAR_END_ASK_DRAFT
    parts += ["", esc(d["text"]), "", texts.YEAR_END_NO_GRADE]
    if d["had_saved"] and not d["saved"]:
        parts.append(texts.YEAR_END_REDRAFT_NOTE)
    parts += ["", question]
    ctx.ask("\n".join(parts), options)


async def _answer_menu(ctx: Ctx, answer: Answer) -> None:
    d = ctx.data
    if answer.value == "keep" and not d["saved"]:
        await _save(ctx, d["text"])
    elif answer.value == "edit":
        await ctx.goto("edit")
    elif answer.value == "redraft" and d["saved"]:
        await _redraft(ctx)
    elif answer.value == "close":
        ctx.reply(texts.YEAR_END_CLOSED)
        await ctx.finish()
    else:
        ctx.reply(texts.CHOOSE_FROM_BUTTONS)
        await ctx.goto("menu")


async def _redraft(ctx: Ctx) -> None:
    member = require_member(ctx)
    year = ctx.data["year"]
    summary = await store.summarise(ctx.session, member, year, ctx.now)
    if summary is None:  # cannot happen: pledges are never deleted
        ctx.end_flow()
        ctx.reply(texts.STALE_BUTTON)
        return
    theme = await theme_for(ctx.session, member.unit, year)
    ctx.data.update(text=draft_paragraph(summary, theme), saved=False, had_saved=True)
    ctx.touch_data()
    await ctx.goto("menu")


async def _prompt_edit(ctx: Ctx) -> None:
    ctx.ask(texts.YEAR_END_ASK_TEXT.format(limit=number_vi(MAX_TEXT)), [(texts.BTN_BACK, "back")])


async def _answer_edit(ctx: Ctx, answer: Answer) -> None:
    if answer.value == "back":
        await ctx.goto("menu")
        return
    if answer.value is not None or not answer.text:
        await ctx.goto("edit")
        return
    if len(answer.text) > MAX_TEXT:  # the engine refuses it first; kept for safety
        ctx.reply(Html(texts.TOO_LONG.format(limit=MAX_TEXT, length=len(answer.text))))
        await ctx.goto("edit")
        return
    await _save(ctx, answer.text)


async def _save(ctx: Ctx, text: str) -> None:
    member = require_member(ctx)
    year = ctx.data["year"]
    review = await store.save(ctx.session, member.id, year, text, ctx.now)
    audit.record(
        ctx.session,
        action="year_review_save",
        now=ctx.now,
        member_id=member.id,
        year=year,
        review=review.id,
        chars=len(text),
    )
    ctx.reply(texts.YEAR_END_SAVED.format(year=year))
    ctx.reply(esc(text))  # alone in its message, to copy into the bản kiểm điểm
    await ctx.finish()


flow(
    Flow(
        name="year_end",
        title=texts.FLOW_YEAR_END,
        steps={
            "menu": Step(_prompt_menu, _answer_menu),
            "edit": Step(_prompt_edit, _answer_edit, max_chars=MAX_TEXT),
        },
    )
)
