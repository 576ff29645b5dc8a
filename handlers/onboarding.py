"""Joining: a personal invite code links an account; a chi bộ code asks the secretary.

```mermaid
stateDiagram-v2
    [*] --> Unlinked
    Unlinked --> Linked: personal code (/start CODE or typed)
    Unlinked --> AskName: chi bộ join code
    AskName --> Waiting: full name → request to secretary & deputies
    Waiting --> Linked: Chấp nhận
    Waiting --> Unlinked: Từ chối
    Unlinked --> Locked: 5 wrong codes in 10 minutes
    Locked --> Unlinked: after the lock-out
```
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from handlers import texts
from handlers.accounts import announce_link
from handlers.common import local_now
from handlers.engine import (
    Answer,
    Ctx,
    Flow,
    Step,
    action,
    command,
    fallback_unlinked,
    flow,
    load_conversation,
)
from handlers.help import menu_for, send_menu
from handlers.messages import Choice, Reply
from handlers.scopes import refuse
from handlers.text import Html, fmt, fold
from models import audit, conversations, invites
from models.people import approvers, find_by_name, has_role, identity_for, link_identity
from models.tables import Identity, Invite, JoinRequest, Member, OrgUnit

_NAME = re.compile(r"^[^\W\d_]+(?:[ '\-][^\W\d_]+)+$")


@command("start", needs_member=False, keeps_flow=True)
async def start(ctx: Ctx, args: str) -> None:
    if args:
        await try_code(ctx, args)
    elif ctx.member is not None:
        await send_menu(ctx)
    else:
        ctx.reply(texts.WELCOME_UNLINKED)


async def _unlinked_text(ctx: Ctx, text: str) -> None:
    if invites.normalize_code(text) is None:
        ctx.reply(texts.NOT_A_CODE)
        return
    await try_code(ctx, text)


fallback_unlinked.append(_unlinked_text)


async def try_code(ctx: Ctx, raw: str) -> None:
    inc, s = ctx.inc, ctx.settings
    code = invites.normalize_code(raw) or raw.strip().upper()[:16]
    invite = await invites.find(ctx.session, code)
    if ctx.member is not None:
        # Already linked: a code changes nothing (and is not counted as an attempt).
        ctx.reply(fmt(texts.ALREADY_LINKED, name=ctx.member.full_name))
        return
    until = await invites.locked_until(
        ctx.session,
        inc.channel,
        inc.chat_id,
        ctx.now,
        attempts=s.lockout_attempts,
        window=timedelta(minutes=s.lockout_window_minutes),
        lockout=timedelta(minutes=s.lockout_minutes),
    )
    if until is not None:
        ctx.reply(texts.CODE_LOCKED.format(until=_clock(ctx, until)))
        return
    problem = _problem(ctx, invite)
    if problem is not None or invite is None:
        await invites.record_failure(ctx.session, inc.channel, inc.chat_id, ctx.now)
        ctx.reply(fmt(problem or texts.CODE_UNKNOWN, code=code))
        return
    unit = await ctx.session.get(OrgUnit, invite.unit_id)
    assert unit is not None
    if invite.member_id is None:
        await _start_join(ctx, unit)
        return
    member = await ctx.session.get(Member, invite.member_id)
    if member is None or not member.active:
        await invites.record_failure(ctx.session, inc.channel, inc.chat_id, ctx.now)
        ctx.reply(fmt(texts.CODE_EXPIRED, code=code))
        return
    invite.used_at = ctx.now
    await _link(ctx, member)


def _problem(ctx: Ctx, invite: Invite | None) -> str | None:
    if invite is None:
        return texts.CODE_UNKNOWN
    if invite.used_at is not None:
        return texts.CODE_USED
    if invite.revoked_at is not None or invite.expires_at <= ctx.now:
        return texts.CODE_EXPIRED
    return None


def _clock(ctx: Ctx, moment: object) -> str:
    from datetime import datetime

    assert isinstance(moment, datetime)
    local = moment.astimezone(local_now(ctx).tzinfo)
    return f"{local:%H:%M} ngày {local.day}/{local.month}"


async def _link(ctx: Ctx, member: Member) -> None:
    inc = ctx.inc
    await link_identity(
        ctx.session,
        member,
        channel=inc.channel,
        user_id=inc.user_id,
        chat_id=inc.chat_id,
        display_name=inc.display_name,
        now=ctx.now,
    )
    audit.record(ctx.session, action="link", now=ctx.now, member_id=member.id, channel=inc.channel)
    # From now on this person's conversation is keyed by the member, not the chat.
    ctx.end_flow()
    ctx.member = member
    ctx.conv = await load_conversation(ctx.session, conversations.member_key(member.id), ctx.now)
    if await announce_link(ctx, member):
        return
    ctx.reply(fmt(texts.LINKED_GREETING, name=member.full_name, unit=member.unit.name))
    await send_menu(ctx)


# -- joining with the chi bộ code ---------------------------------------------------------------


async def _start_join(ctx: Ctx, unit: OrgUnit) -> None:
    pending = await ctx.session.scalar(
        select(JoinRequest.id).where(
            JoinRequest.channel == ctx.inc.channel,
            JoinRequest.user_id == ctx.inc.user_id,
            JoinRequest.status == "pending",
        )
    )
    if pending is not None:
        ctx.reply(texts.JOIN_PENDING)
        return
    ctx.start_flow("join", {"unit_id": unit.id, "unit": unit.name})
    await ctx.goto("name")


async def _ask_name(ctx: Ctx) -> None:
    ctx.ask(fmt(texts.JOIN_ASK_NAME, unit=ctx.data["unit"]))


async def _got_name(ctx: Ctx, answer: Answer) -> None:
    name = answer.text
    if len(name) > 120 or not _NAME.match(name):
        ctx.reply(texts.JOIN_BAD_NAME)
        return
    name = " ".join(part[:1].upper() + part[1:] for part in name.split())
    inc = ctx.inc
    request = JoinRequest(
        unit_id=ctx.data["unit_id"],
        channel=inc.channel,
        user_id=inc.user_id,
        chat_id=inc.chat_id,
        full_name=name,
        created_at=ctx.now,
    )
    ctx.session.add(request)
    await ctx.session.flush()
    reached = await _ask_approvers(ctx, request)
    template = texts.JOIN_SENT if reached else texts.JOIN_SENT_NO_APPROVER
    ctx.reply(fmt(template, unit=ctx.data["unit"], name=name))
    await ctx.finish()


async def join_request_reply(ctx: Ctx, request: JoinRequest, display: str = "") -> Reply:
    """The question put to the secretary, with the roster member the name matches, if any."""
    match = await find_by_name(ctx.session, request.unit_id, fold(request.full_name))
    match_line = (
        fmt(texts.JOIN_MATCH_ROSTER, name=match.full_name, position=match.position or "—")
        if match
        else Html(texts.JOIN_NO_MATCH)
    )
    text = fmt(
        texts.JOIN_REQUEST_TO_SECRETARY,
        name=request.full_name,
        display=display or "—",
        match=match_line,
    )
    buttons = [
        Choice(texts.BTN_ACCEPT, f"!ja:{request.id}"),
        Choice(texts.BTN_REJECT, f"!jr:{request.id}"),
    ]
    return Reply(text, buttons, row_width=2)


async def _ask_approvers(ctx: Ctx, request: JoinRequest) -> bool:
    reply = await join_request_reply(ctx, request, ctx.inc.display_name)
    reached = False
    for approver in await approvers(ctx.session, request.unit_id):
        if await identity_for(ctx.session, approver.id) is not None:
            await ctx.notify(approver.id, reply)
            reached = True
    return reached


flow(
    Flow(
        name="join",
        title=texts.FLOW_JOIN,
        steps={"name": Step(_ask_name, _got_name, max_chars=120)},
    )
)


@action("ja")
async def accept_join(ctx: Ctx, args: str) -> None:
    await _decide_join(ctx, args, accept=True)


@action("jr")
async def reject_join(ctx: Ctx, args: str) -> None:
    await _decide_join(ctx, args, accept=False)


async def _decide_join(ctx: Ctx, args: str, *, accept: bool) -> None:
    request = await ctx.session.get(JoinRequest, int(args)) if args.isdigit() else None
    unit = await ctx.session.get(OrgUnit, request.unit_id) if request else None
    if request is None or unit is None:
        ctx.reply(texts.JOIN_ALREADY_DECIDED)
        return
    if ctx.member is None or not await has_role(
        ctx.session, ctx.member.id, unit, ("secretary", "deputy")
    ):
        refuse(ctx, "refused:join_decide", texts.NOT_ALLOWED, unit_id=unit.id, request=request.id)
        return
    if request.status != "pending":
        ctx.reply(texts.JOIN_ALREADY_DECIDED)
        return
    already = await ctx.session.scalar(
        select(Identity.id).where(
            Identity.channel == request.channel, Identity.user_id == request.user_id
        )
    )
    if already is not None:  # linked meanwhile with a personal code
        request.status, request.decided_at, request.decided_by = "approved", ctx.now, ctx.member.id
        ctx.reply(texts.JOIN_ALREADY_DECIDED)
        return
    if not accept:
        request.status, request.decided_at, request.decided_by = "rejected", ctx.now, ctx.member.id
        audit.record(
            ctx.session,
            action="join_reject",
            now=ctx.now,
            member_id=ctx.member.id,
            request=request.id,
        )
        ctx.reply(fmt(texts.JOIN_REJECTED_TO_SECRETARY, name=request.full_name))
        ctx.send_to_chat(request.channel, request.chat_id, Reply(texts.JOIN_REJECTED))
        return
    member = await find_by_name(ctx.session, unit.id, fold(request.full_name))
    if member is not None:
        taken = await ctx.session.scalar(
            select(Identity.id).where(
                Identity.member_id == member.id, Identity.channel == request.channel
            )
        )
        if taken is not None:
            ctx.reply(fmt(texts.JOIN_NAME_TAKEN, name=member.full_name))
            return
    else:
        member = Member(
            unit_id=unit.id,
            full_name=request.full_name,
            name_key=fold(request.full_name),
            position="",
            created_at=ctx.now,
            updated_at=ctx.now,
        )
        ctx.session.add(member)
        await ctx.session.flush()
        await ctx.session.refresh(member, ["unit"])
    await link_identity(
        ctx.session,
        member,
        channel=request.channel,
        user_id=request.user_id,
        chat_id=request.chat_id,
        display_name="",
        now=ctx.now,
    )
    request.status, request.member_id = "approved", member.id
    request.decided_at, request.decided_by = ctx.now, ctx.member.id
    audit.record(
        ctx.session,
        action="join_accept",
        now=ctx.now,
        member_id=ctx.member.id,
        request=request.id,
        joined=member.id,
    )
    ctx.reply(fmt(texts.JOIN_APPROVED_TO_SECRETARY, name=member.full_name))
    from handlers.common import pledge_year

    greeting = fmt(texts.LINKED_GREETING, name=member.full_name, unit=unit.name)
    menu = await menu_for(ctx.session, member, pledge_year(ctx, unit))
    await ctx.notify(member.id, Reply(f"{greeting}\n\n{menu.text}", menu.choices))
