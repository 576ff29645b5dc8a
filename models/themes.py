"""Yearly themes (chuyên đề năm): published per unit, inherited down the tree."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.orgs import ancestor_ids
from models.tables import OrgUnit, Theme


async def theme_for(session: AsyncSession, unit: OrgUnit, year: int) -> Theme | None:
    """The nearest ancestor's (or the unit's own) theme covering the year."""
    chain = ancestor_ids(unit)
    stmt = select(Theme).where(
        Theme.unit_id.in_(chain),
        Theme.year <= year,
        func.coalesce(Theme.until_year, Theme.year) >= year,
    )
    themes = list(await session.scalars(stmt))
    if not themes:
        return None
    depth = {unit_id: i for i, unit_id in enumerate(chain)}
    return max(themes, key=lambda t: (depth[t.unit_id], t.year))


async def set_theme(
    session: AsyncSession,
    unit: OrgUnit,
    *,
    year: int,
    title: str,
    now: datetime,
    until_year: int | None = None,
    summary: str | None = None,
    link: str | None = None,
    deadline: date | None = None,
    created_by: int | None = None,
) -> Theme:
    stmt = select(Theme).where(Theme.unit_id == unit.id, Theme.year == year)
    theme = (await session.scalars(stmt)).first()
    if theme is None:
        theme = Theme(
            unit_id=unit.id, year=year, title=title, created_at=now, created_by=created_by
        )
        session.add(theme)
    theme.title, theme.until_year, theme.summary = title, until_year, summary
    theme.link, theme.deadline = link, deadline
    await session.flush()
    return theme
