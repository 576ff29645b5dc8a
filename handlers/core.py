"""The one entry point every channel uses: process an Incoming inside a transaction.

The caller (bot.inbox) opens the transaction, so the conversation's new position, the step's
effects and the planned replies are committed together, or not at all.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

# Importing the flows registers their commands, steps and actions with the engine.
from handlers import (  # noqa: F401
    accounts,
    broadcast,
    digest,
    export,
    help,
    monthly,
    nominations,
    onboarding,
    pledge,
    report,
    review,
    secretary,
    texts,
    theme,
    unit_plan,
    year_end,
)
from handlers.engine import Ctx, conversation_key, dispatch, load_conversation
from handlers.messages import Incoming, Reply
from handlers.settings import Settings
from handlers.text import one_line
from models import outbox, routing
from models.people import identity_and_member
from models.tables import Member

log = logging.getLogger(__name__)

DISPLAY_NAME_CHARS = 200  # models.tables.Identity.display_name


async def process(
    session: AsyncSession, inc: Incoming, *, update_id: int, now: datetime, settings: Settings
) -> int:
    """Handle one update; returns how many deliveries were planned."""
    # The name the platform reports is typed by the person too: shown to a bí thư, stored.
    inc = replace(inc, display_name=one_line(inc.display_name, DISPLAY_NAME_CHARS))
    identity, member = await identity_and_member(session, inc.channel, inc.user_id)
    if inc.event == "unfollow":
        # Left the Zalo OA: nothing can be sent there; their other channels still work.
        await routing.mark_unreachable(session, inc.channel, inc.chat_id, now)
        return 0
    routing.seen(identity, inc.chat_id, now)
    conv = await load_conversation(session, conversation_key(inc, member), now)
    ctx = Ctx(session=session, inc=inc, member=member, conv=conv, now=now, settings=settings)
    await dispatch(ctx)
    ctx.conv.updated_at = now
    planned = 0
    if inc.ack_ref is not None:
        await outbox.plan(
            session,
            channel=inc.channel,
            chat_id=inc.chat_id,
            kind="ack",
            dedupe_key=f"in:{update_id}:ack",
            payload={"ack_ref": inc.ack_ref},
            now=now,
        )
        planned += 1
    for n, out in enumerate(ctx.out):
        if out.member_id is not None and out.chat is None:
            recipient = await session.get(Member, out.member_id)
            if recipient is not None and await routing.plan(
                session,
                recipient,
                kind="notice",
                dedupe_key=f"in:{update_id}:{n}",
                payload=out.reply.to_payload(),
                now=now,
                policy=settings.routes,
            ):
                planned += 1
            else:
                log.info("member %s has no linked account; message not planned", out.member_id)
            continue
        channel, chat_id = out.chat if out.chat is not None else (inc.channel, inc.chat_id)
        await outbox.plan(
            session,
            channel=channel,
            chat_id=chat_id,
            member_id=ctx.member.id if ctx.member and not out.chat else None,
            kind="reply" if out.chat is None else "notice",
            dedupe_key=f"in:{update_id}:{n}",
            payload=out.reply.to_payload(),
            now=now,
        )
        planned += 1
    return planned


async def plan_error_reply(
    session: AsyncSession, inc: Incoming, *, update_id: int, now: datetime
) -> None:
    """One polite reply when handling failed; the update itself is marked failed by the caller."""
    await outbox.plan(
        session,
        channel=inc.channel,
        chat_id=inc.chat_id,
        kind="error",
        dedupe_key=f"in:{update_id}:error",
        payload=Reply(texts.ERROR).to_payload(),
        now=now,
    )
