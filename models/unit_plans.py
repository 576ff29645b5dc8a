"""The chi bộ's collective plan (kế hoạch của tập thể) for a year: its actions, its chuẩn mực
đạo đức and, from the nominations table, the mô hình it registered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.tables import Nomination, OrgUnit, UnitPlan


async def plan_of(session: AsyncSession, unit_id: int, year: int) -> UnitPlan | None:
    stmt = select(UnitPlan).where(UnitPlan.unit_id == unit_id, UnitPlan.year == year)
    return (await session.scalars(stmt)).first()


async def save(
    session: AsyncSession,
    unit: OrgUnit,
    year: int,
    *,
    items: list[dict[str, Any]],
    standards: list[str],
    by: int | None,
    now: datetime,
) -> UnitPlan:
    """Create or replace the unit's plan for the year (one row per unit and year)."""
    plan = await plan_of(session, unit.id, year)
    if plan is None:
        plan = UnitPlan(unit_id=unit.id, year=year, items=[], standards=[], updated_at=now)
        session.add(plan)
    plan.items, plan.standards = list(items), list(standards)
    plan.updated_by, plan.updated_at = by, now
    await session.flush()
    return plan


async def models_of(session: AsyncSession, unit_id: int, year: int) -> list[Nomination]:
    """The mô hình the unit registered for the year (nominations of kind mo_hinh)."""
    stmt = (
        select(Nomination)
        .where(
            Nomination.unit_id == unit_id,
            Nomination.year == year,
            Nomination.kind == "mo_hinh",
        )
        .order_by(Nomination.id)
    )
    return list(await session.scalars(stmt))
