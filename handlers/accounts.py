"""One member, several channels: /lienket hands out a code to link another channel's account,
/kenh chooses which channel reminders and notices go to first.

A link code is a personal invite (models.invites, purpose "link") that expires in minutes; the
person types it on the other channel, where onboarding links the account as for any invite.
"""

from __future__ import annotations

from handlers import texts
from handlers.engine import Ctx, action, command
from handlers.messages import Choice, Reply
from handlers.text import fmt
from models import audit, invites, routing
from models.tables import Member


def channel_name(channel: str) -> str:
    return texts.CHANNEL_NAMES.get(channel, channel)


@command("lienket", keeps_flow=True)
async def lienket(ctx: Ctx, args: str) -> None:
    assert ctx.member is not None
    invite = await invites.issue_link_code(
        ctx.session, ctx.member, ctx.now, minutes=ctx.settings.link_minutes
    )
    ctx.reply(texts.LINK_CODE.format(code=invite.code, minutes=ctx.settings.link_minutes))


@command("kenh", keeps_flow=True)
async def kenh(ctx: Ctx, args: str) -> None:
    assert ctx.member is not None
    member, policy = ctx.member, ctx.settings.routes
    accounts = (await routing.identities(ctx.session, [member.id]))[member.id]
    preferred = _preferred(member, [a.channel for a in accounts])
    lines = [texts.CHANNELS_HEADER]
    for account in sorted(accounts, key=lambda a: a.channel != preferred):
        state = ""
        if account.unreachable_at is not None:
            state = texts.CHANNEL_BLOCKED
        elif not policy.can_reach(account, "reminder", ctx.now):
            days = policy.windows[account.channel].days
            state = texts.CHANNEL_WINDOW_CLOSED.format(days=days)
        mark = texts.CHANNEL_PREFERRED_MARK if account.channel == preferred else ""
        lines.append(
            texts.CHANNEL_LINE.format(
                channel=channel_name(account.channel), preferred=mark, state=state
            )
        )
    if len(accounts) < 2:
        lines.append(texts.CHANNELS_ONLY_ONE)
        ctx.reply("\n".join(lines))
        return
    lines.append(texts.CHANNELS_PICK)
    choices = [
        Choice(texts.BTN_PREFER.format(channel=channel_name(a.channel)), f"!kenh:{a.channel}")
        for a in accounts
        if a.channel != preferred
    ]
    ctx.reply("\n".join(lines), choices)


@action("kenh")
async def prefer(ctx: Ctx, channel: str) -> None:
    if ctx.member is None:
        audit.record(ctx.session, action="not_linked", now=ctx.now, refused=True, command="kenh")
        ctx.reply(texts.NOT_LINKED)
        return
    accounts = (await routing.identities(ctx.session, [ctx.member.id]))[ctx.member.id]
    if channel not in {a.channel for a in accounts}:
        ctx.reply(texts.CHANNEL_NOT_LINKED.format(channel=channel_name(channel)))
        return
    ctx.member.preferred_channel = channel
    ctx.reply(texts.CHANNEL_PREFERRED_SET.format(channel=channel_name(channel)))


def _preferred(member: Member, channels: list[str]) -> str | None:
    """The channel tried first: the chosen one if still linked, else none in particular."""
    return member.preferred_channel if member.preferred_channel in channels else None


async def announce_link(ctx: Ctx, member: Member) -> bool:
    """After linking an account: if the member has others, say so here and warn there.
    True when this was an additional channel (the caller then skips the first-time greeting)."""
    accounts = (await routing.identities(ctx.session, [member.id]))[member.id]
    others = [a for a in accounts if a.channel != ctx.inc.channel]
    if not others:
        return False
    here = channel_name(ctx.inc.channel)
    channels = sorted({channel_name(a.channel) for a in accounts})
    preferred = _preferred(member, [a.channel for a in accounts])
    ctx.reply(
        fmt(
            texts.LINKED_ANOTHER_CHANNEL,
            channel=here,
            name=member.full_name,
            channels=" và ".join(channels),
            preferred=channel_name(preferred) if preferred else texts.CHANNEL_LAST_USED,
        )
    )
    warning = Reply(fmt(texts.LINKED_NOTICE_OTHER, channel=here, name=member.full_name))
    for account in others:
        ctx.send_to_chat(account.channel, account.chat_id, warning)
    return True
