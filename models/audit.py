"""The audit log: who did what, for approvals and administrative actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models.tables import AuditLog


def record(
    session: AsyncSession,
    *,
    action: str,
    now: datetime,
    member_id: int | None = None,
    actor: str = "member",
    unit_id: int | None = None,
    refused: bool = False,
    **detail: Any,
) -> None:
    """Add an audit row to the caller's transaction. unit_id: the unit acted on (its history
    lists the row); refused: an attempt that was not allowed, kept like every admin action."""
    session.add(
        AuditLog(
            at=now,
            actor_member_id=member_id,
            actor=actor,
            action=action,
            detail=detail,
            refused=refused,
            unit_id=unit_id,
        )
    )
