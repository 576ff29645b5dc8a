"""The one entry point every channel uses: process an Incoming inside a transaction.

The caller (bot.inbox) opens the transaction, so the conversation's new position, the step's
effects and the planned replies are committed together, or not at all.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

# Importing the flows registers their commands, steps and actions with the engine.
from handlers import help, monthly, onboarding, pledge, review, secretary, texts  # noqa: F401
from handlers.engine import Ctx, conversation_key, dispatch, load_conversation
from handlers.messages import Incoming, Reply
from handlers.settings import Settings
from models import outbox
from models.people import identity_for, member_by_identity
from models.tables import Identity

log = logging.getLogger(__name__)


async def process(
    session: AsyncSession, inc: Incoming, *, update_id: int, now: datetime, settings: Settings
) -> int:
    """Handle one update; returns how many deliveries were planned."""
    member = await member_by_identity(session, inc.channel, inc.user_id)
    if member is not None:
        await _follow_chat(session, member.id, inc)
    conv = await load_conversation(session, conversation_key(inc, member), now)
    ctx = Ctx(session=session, inc=inc, member=member, conv=conv, now=now, settings=settings)
    await dispatch(ctx)
    for touched in (ctx.conv, *ctx.other_convs.values()):
        touched.updated_at = now
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
        if out.chat is not None:
            channel, chat_id = out.chat
        elif out.member_id is not None:
            identity = await identity_for(session, out.member_id)
            if identity is None:
                log.info("member %s has no linked account; message not planned", out.member_id)
                continue
            channel, chat_id = identity.channel, identity.chat_id
        else:
            channel, chat_id = inc.channel, inc.chat_id
        await outbox.plan(
            session,
            channel=channel,
            chat_id=chat_id,
            member_id=out.member_id or (ctx.member.id if ctx.member and not out.chat else None),
            kind="reply" if out.member_id is None and out.chat is None else "notice",
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


async def _follow_chat(session: AsyncSession, member_id: int, inc: Incoming) -> None:
    """Keep the chat id current (a user's chat id can change, e.g. a migrated account)."""
    identity = await identity_for(session, member_id)
    if (
        isinstance(identity, Identity)
        and identity.channel == inc.channel
        and (identity.user_id == inc.user_id and identity.chat_id != inc.chat_id)
    ):
        identity.chat_id = inc.chat_id
