"""/start, /trogiup and /huy: greeting, what this person can do (by role), cancelling."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from handlers import texts
from handlers.engine import Ctx, action, command, run_command
from handlers.messages import Choice, Reply
from handlers.text import fmt
from models.people import roles_of
from models.tables import Member

APPROVER = {"secretary", "deputy", "admin"}
READERS = {"secretary", "deputy", "observer", "admin"}


async def menu_for(session: AsyncSession, member: Member, year: int) -> Reply:
    roles = {r.role for r in await roles_of(session, member.id)}
    lines = [
        fmt(texts.HELP_HEADER, name=member.full_name, unit=member.unit.name),
        texts.HELP_MEMBER.format(year=year),
    ]
    choices = [
        Choice(texts.BTN_DANGKY, "!cmd:dangky"),
        Choice(texts.BTN_CAMKET, "!cmd:camket"),
        Choice(texts.BTN_TUDANHGIA, "!cmd:tudanhgia"),
    ]
    if roles & APPROVER:
        lines.append(texts.HELP_SECRETARY)
        choices.append(Choice(texts.BTN_CHIBO, "!cmd:chibo"))
    if roles & READERS:
        lines.append(texts.HELP_REPORTS)
        lines.append(texts.HELP_NOMINATIONS)
    if "admin" in roles:
        lines.append(texts.HELP_ADMIN)
    lines.append(texts.HELP_TYPING)
    return Reply("\n".join(lines), choices)


async def send_menu(ctx: Ctx) -> None:
    from handlers.common import pledge_year

    assert ctx.member is not None
    menu = await menu_for(ctx.session, ctx.member, pledge_year(ctx, ctx.member.unit))
    ctx.reply(menu.text, menu.choices)


@command("trogiup", needs_member=False, keeps_flow=True)
async def trogiup(ctx: Ctx, args: str) -> None:
    if ctx.member is None:
        ctx.reply(texts.HELP_UNLINKED)
        return
    await send_menu(ctx)


@command("huy", needs_member=False)
async def huy(ctx: Ctx, args: str) -> None:
    if ctx.conv.flow is None:
        ctx.reply(texts.NOTHING_TO_CANCEL)
        return
    ctx.end_flow()
    ctx.reply(texts.CANCELLED)


@action("cmd")
async def open_command(ctx: Ctx, name: str) -> None:
    """A menu button that runs a command, as if it had been typed."""
    await run_command(ctx, name, "")
