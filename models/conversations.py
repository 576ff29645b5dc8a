"""Where each person is in a conversation (the conversations table), keyed by member or chat."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models.tables import Conversation


def member_key(member_id: int) -> str:
    return f"m:{member_id}"


async def load(session: AsyncSession, key: str, now: datetime) -> Conversation:
    conv = await session.get(Conversation, key)
    if conv is None:
        conv = Conversation(key=key, flow=None, step=None, seq=0, data={}, menu=[], updated_at=now)
        session.add(conv)
    return conv


async def offer(session: AsyncSession, member_id: int, choices: list[Any], now: datetime) -> None:
    """A message's choices become the member's typed-answer menu: on a channel without buttons
    the member answers it by number or label, whoever or whatever sent it."""
    conv = await load(session, member_key(member_id), now)
    conv.menu, conv.updated_at = [list(c) for c in choices], now
