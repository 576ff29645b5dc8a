"""Planning messages into the outbox (the deliveries table), in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models import db
from models.tables import BULK_KINDS, Delivery


async def plan(
    session: AsyncSession,
    *,
    channel: str,
    chat_id: str,
    kind: str,
    dedupe_key: str,
    payload: dict[str, Any],
    now: datetime,
    member_id: int | None = None,
    not_before: datetime | None = None,
) -> bool:
    """Insert a delivery unless one with the same dedupe key exists. True if it was new.
    not_before holds it back (quiet hours); payload["expires_at"] drops it once passed."""
    values = {
        "channel": channel,
        "chat_id": chat_id,
        "member_id": member_id,
        "kind": kind,
        "bulk": kind in BULK_KINDS,
        # A broadcast's message keeps its broadcast when it moves to another channel.
        "broadcast_id": payload.get("broadcast"),
        "dedupe_key": dedupe_key,
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": not_before or now,
        "created_at": now,
    }
    result = await session.execute(_PLAN[session.get_bind().dialect.name], values)
    return bool(getattr(result, "rowcount", 0))


# Built once (building it cost as much as running it).
_PLAN = db.insert_if_new(Delivery.__table__, "dedupe_key")
