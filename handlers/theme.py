"""/chuyende: an admin publishes the yearly theme (chuyên đề năm) for a unit's subtree, then may
broadcast it; before the pledge deadline, members still without a pledge are reminded.

The nearest ancestor's theme applies to a member (models.themes.theme_for); the command line
(`python -m bot theme set`) does the same with more options (a theme spanning two years).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import texts
from handlers.broadcast import take_link
from handlers.common import local_now
from handlers.engine import Answer, Ctx, Flow, Step, action, command, flow
from handlers.messages import Choice, Reply
from handlers.reminders import plan_to_member
from handlers.scopes import pick_unit, refuse, unit_from, unit_options, units_for
from handlers.settings import Settings
from handlers.text import esc, fmt
from models import access, audit
from models.tables import Member, OrgUnit, Pledge, Theme
from models.themes import set_theme, theme_for

MAX_TITLE = 500
MAX_SUMMARY = 1500
# Members without a pledge are reminded this many days before the theme's deadline, at 08:00.
DEADLINE_REMINDERS = {"d7": 7, "d1": 1}
DEADLINE_REMINDER_AT = time(8, 0)


@command("chuyende")
async def chuyende(ctx: Ctx, args: str) -> None:
    units = await units_for(ctx, access.PUBLISH)
    if not units:
        refuse(ctx, "theme_set", texts.THEME_ADMIN_ONLY)
        return
    ctx.start_flow("theme", {"scopes": [u.id for u in units]})
    await ctx.goto("unit")


async def _prompt_unit(ctx: Ctx) -> None:
    options = await unit_options(ctx, ctx.data["scopes"], texts.BTN_THEME_UNIT)
    ctx.ask(texts.THEME_ASK_UNIT, options)


async def _answer_unit(ctx: Ctx, answer: Answer) -> None:
    if await pick_unit(ctx, answer, access.PUBLISH, action="theme_set"):
        await ctx.goto("year")


async def _prompt_year(ctx: Ctx) -> None:
    year = local_now(ctx).year
    ctx.ask(texts.THEME_ASK_YEAR, [(str(year), str(year)), (str(year + 1), str(year + 1))], 2)


async def _answer_year(ctx: Ctx, answer: Answer) -> None:
    year = local_now(ctx).year
    chosen = answer.value or answer.text
    if not chosen.isdecimal() or int(chosen) not in (year, year + 1):
        ctx.reply(texts.CHOOSE_FROM_BUTTONS)
        await ctx.goto("year")
        return
    ctx.data["year"] = int(chosen)
    ctx.touch_data()
    await ctx.goto("title")


async def _prompt_title(ctx: Ctx) -> None:
    ctx.ask(texts.THEME_ASK_TITLE.format(year=ctx.data["year"]))


async def _answer_title(ctx: Ctx, answer: Answer) -> None:
    if not answer.text:
        await ctx.goto("title")
        return
    ctx.data["title"] = answer.text
    ctx.touch_data()
    await ctx.goto("summary")


async def _prompt_summary(ctx: Ctx) -> None:
    ctx.ask(texts.THEME_ASK_SUMMARY, [(texts.BTN_SKIP, "skip")])


async def _answer_summary(ctx: Ctx, answer: Answer) -> None:
    ctx.data["summary"] = None if answer.value == "skip" else answer.text or None
    ctx.touch_data()
    await ctx.goto("link")


async def _prompt_link(ctx: Ctx) -> None:
    ctx.ask(texts.THEME_ASK_LINK, [(texts.BTN_SKIP, "skip")])


async def _answer_link(ctx: Ctx, answer: Answer) -> None:
    if await take_link(ctx, answer, none_value="skip"):
        await ctx.goto("deadline")


async def _prompt_deadline(ctx: Ctx) -> None:
    ctx.ask(texts.THEME_ASK_DEADLINE.format(year=ctx.data["year"]), [(texts.BTN_SKIP, "skip")])


async def _answer_deadline(ctx: Ctx, answer: Answer) -> None:
    if answer.value == "skip":
        ctx.data["deadline"] = None
    else:
        deadline = _parse_date(answer.text)
        if deadline is None or deadline < local_now(ctx).date():
            ctx.reply(texts.THEME_BAD_DEADLINE)
            await ctx.goto("deadline")
            return
        ctx.data["deadline"] = deadline.isoformat()
    ctx.touch_data()
    await ctx.goto("confirm")


def _parse_date(text: str) -> date | None:
    """ "31/3/2027" or "31-03-2027" as Vietnamese write dates."""
    parts = text.replace("-", "/").replace(".", "/").split("/")
    if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
        return None
    try:
        return date(int(parts[2]), int(parts[1]), int(parts[0]))
    except ValueError:
        return None


async def _prompt_confirm(ctx: Ctx) -> None:
    unit = await ctx.session.get(OrgUnit, ctx.data["unit_id"])
    assert unit is not None
    lines = [fmt(texts.THEME_PREVIEW, unit=unit.name), esc(_theme_text(ctx.data))]
    ctx.ask("\n".join(lines), [(texts.BTN_THEME_SAVE, "save"), (texts.BTN_CANCEL, "cancel")])


async def _answer_confirm(ctx: Ctx, answer: Answer) -> None:
    if answer.value == "cancel":
        ctx.end_flow()
        ctx.reply(texts.CANCELLED)
        return
    if answer.value != "save":
        ctx.reply(texts.CHOOSE_FROM_BUTTONS)
        await ctx.goto("confirm")
        return
    unit = await unit_from(ctx, str(ctx.data["unit_id"]), access.PUBLISH, action="theme_set")
    if unit is None or ctx.member is None:
        ctx.end_flow()
        return
    d = ctx.data
    theme = await set_theme(
        ctx.session,
        unit,
        year=d["year"],
        title=d["title"],
        now=ctx.now,
        summary=d.get("summary"),
        link=d.get("link"),
        deadline=date.fromisoformat(d["deadline"]) if d.get("deadline") else None,
        created_by=ctx.member.id,
    )
    audit.record(
        ctx.session,
        action="theme_set",
        now=ctx.now,
        member_id=ctx.member.id,
        unit_id=unit.id,
        theme=theme.id,
        year=theme.year,
    )
    ctx.end_flow()
    label = texts.BTN_THEME_BROADCAST.format(unit=unit.name)
    ctx.reply(
        fmt(texts.THEME_SAVED, year=theme.year, unit=unit.name),
        [Choice(label, f"!tb:{theme.id}")],
    )


def _theme_text(d: dict[str, object]) -> str:
    """What members read about the theme (also the broadcast's text, without HTML)."""
    parts = [texts.THEME_INTRO_PLAIN.format(year=d["year"], title=d["title"])]
    if d.get("summary"):
        parts.append(str(d["summary"]))
    if d.get("deadline"):
        deadline = date.fromisoformat(str(d["deadline"]))
        parts.append(texts.THEME_DEADLINE_LINE.format(date=f"{deadline:%d/%m/%Y}"))
    parts.append(texts.THEME_HOW_TO_REGISTER)
    return "\n".join(parts)


@action("tb")
async def broadcast_theme(ctx: Ctx, args: str) -> None:
    """!tb:<theme id>: the broadcast flow, filled in with the theme, at its preview."""
    theme = await ctx.session.get(Theme, int(args)) if args.isdigit() else None
    if theme is None:
        ctx.reply(texts.STALE_BUTTON)
        return
    unit = await unit_from(ctx, str(theme.unit_id), access.PUBLISH, action="broadcast")
    if unit is None:
        return
    d = {
        "year": theme.year,
        "title": theme.title,
        "summary": theme.summary,
        "deadline": theme.deadline.isoformat() if theme.deadline else None,
    }
    ctx.start_flow(
        "broadcast",
        {"scopes": [unit.id], "text": _theme_text(d), "link": theme.link, "unit_id": unit.id},
    )
    await ctx.goto("confirm")


flow(
    Flow(
        "theme",
        {
            "unit": Step(_prompt_unit, _answer_unit),
            "year": Step(_prompt_year, _answer_year, max_chars=10),
            "title": Step(_prompt_title, _answer_title, max_chars=MAX_TITLE),
            "summary": Step(_prompt_summary, _answer_summary, max_chars=MAX_SUMMARY),
            "link": Step(_prompt_link, _answer_link, max_chars=500),
            "deadline": Step(_prompt_deadline, _answer_deadline, max_chars=20),
            "confirm": Step(_prompt_confirm, _answer_confirm),
        },
        title="công bố chuyên đề năm",
    )
)


# -- before the pledge deadline ----------------------------------------------------------------


async def plan_deadline_reminders(session: AsyncSession, now: datetime, settings: Settings) -> int:
    """Remind members without a pledge before their theme's deadline (D-7, D-1 at 08:00; only
    the latest due one; idempotent through the dedupe key)."""
    planned = 0
    themes = await session.scalars(
        select(Theme).where(Theme.deadline.is_not(None), Theme.term.is_(False))
    )
    for theme in list(themes):
        unit = await session.get(OrgUnit, theme.unit_id)
        if unit is None or unit.closed_at is not None or theme.deadline is None:
            continue
        tz = ZoneInfo(unit.timezone)
        ends = datetime.combine(theme.deadline + timedelta(days=1), time(0), tz)
        due = [
            key
            for key, days in DEADLINE_REMINDERS.items()
            if datetime.combine(theme.deadline - timedelta(days=days), DEADLINE_REMINDER_AT, tz)
            <= now
            < ends
        ]
        if not due:
            continue
        key = min(due, key=lambda k: DEADLINE_REMINDERS[k])  # the latest one
        applies: dict[int, bool] = {}  # per unit: is this its nearest theme?
        for member in await _without_pledge(session, unit, theme):
            # A nearer unit's own theme (and its deadline) may apply to the member instead.
            if member.unit_id not in applies:
                nearest = await theme_for(session, member.unit, theme.year)
                applies[member.unit_id] = nearest is not None and nearest.id == theme.id
            if not applies[member.unit_id]:
                continue
            reply = Reply(
                fmt(
                    texts.PLEDGE_DEADLINE_REMINDER,
                    year=theme.year,
                    date=f"{theme.deadline:%d/%m/%Y}",
                    title=theme.title,
                ),
                [Choice(texts.BTN_DANGKY, "!cmd:dangky")],
            )
            fields = {"member_name": member.full_name, "unit_name": member.unit.name}
            if await plan_to_member(
                session,
                member,
                reply,
                f"pledge-due:{theme.id}:{key}:m{member.id}",
                now,
                unit.timezone,
                ends,
                settings.reminders,
                settings.routes,
                fields,
                template="notice",  # a meeting reminder's ZNS template would not fit
            ):
                planned += 1
    return planned


async def _without_pledge(session: AsyncSession, unit: OrgUnit, theme: Theme) -> list[Member]:
    has_pledge = exists().where(Pledge.member_id == Member.id, Pledge.year == theme.year)
    stmt = (
        select(Member)
        .join(OrgUnit, OrgUnit.id == Member.unit_id)
        .where(
            OrgUnit.path.startswith(unit.path),
            Member.active.is_(True),
            Member.exempt.is_(False),
            ~has_pledge,
        )
        .order_by(Member.id)
    )
    return list(await session.scalars(stmt))
