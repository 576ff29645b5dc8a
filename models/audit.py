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
    **detail: Any,
) -> None:
    session.add(
        AuditLog(at=now, actor_member_id=member_id, actor=actor, action=action, detail=detail)
    )
