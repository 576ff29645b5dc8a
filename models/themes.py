"""Yearly themes (chuyên đề năm): published per unit, inherited down the tree."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.orgs import ancestor_ids
from models.tables import OrgUnit, Theme


async def theme_for(
    session: AsyncSession, unit: OrgUnit, year: int, *, term: bool = False
) -> Theme | None:
    """The nearest ancestor's (or the unit's own) theme covering the year: the yearly one, or
    with term=True the term-wide one (chuyên đề toàn khóa)."""
    chain = ancestor_ids(unit)
    stmt = select(Theme).where(
        Theme.unit_id.in_(chain),
        Theme.term.is_(term),
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
    term: bool = False,
) -> Theme:
    """Publish (or correct) a theme. A yearly theme hangs under the term-wide theme that
    covers its year; a term-wide theme adopts the yearly themes below it still without one."""
    stmt = select(Theme).where(Theme.unit_id == unit.id, Theme.year == year, Theme.term.is_(term))
    theme = (await session.scalars(stmt)).first()
    if theme is None:
        theme = Theme(
            unit_id=unit.id,
            year=year,
            term=term,
            title=title,
            created_at=now,
            created_by=created_by,
        )
        session.add(theme)
    theme.title, theme.until_year, theme.summary = title, until_year, summary
    theme.link, theme.deadline = link, deadline
    await session.flush()
    if term:
        below = select(OrgUnit.id).where(OrgUnit.path.startswith(unit.path))
        await session.execute(
            update(Theme)
            .where(
                Theme.term.is_(False),
                Theme.parent_id.is_(None),
                Theme.unit_id.in_(below),
                Theme.year >= year,
                Theme.year <= (until_year or year),
            )
            .values(parent_id=theme.id)
        )
    else:
        parent = await theme_for(session, unit, year, term=True)
        theme.parent_id = parent.id if parent else None
        await session.flush()
    return theme
