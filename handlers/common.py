"""Small helpers shared by the flows."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from handlers import texts
from handlers.engine import Ctx
from models.orgs import full_name
from models.tables import Member, OrgUnit


def local_now(ctx: Ctx, unit: OrgUnit | None = None) -> datetime:
    tz = unit.timezone if unit is not None else ctx.settings.timezone
    return ctx.now.astimezone(ZoneInfo(tz))


def pledge_year(ctx: Ctx, unit: OrgUnit | None = None) -> int:
    """The year a pledge registered now is for: next year from December (configurable)."""
    now = local_now(ctx, unit)
    return now.year + 1 if now.month >= ctx.settings.next_year_from_month else now.year


def unit_label(unit: OrgUnit) -> str:
    """ "Chi bộ thôn 2" as the member knows it (the last path element)."""
    return unit.name


async def unit_path_label(session: AsyncSession, unit: OrgUnit) -> str:
    return await full_name(session, unit)


def require_member(ctx: Ctx) -> Member:
    if ctx.member is None:  # commands that need a member are gated by the engine
        raise RuntimeError("member required")
    return ctx.member


def month_label(period: str) -> str:
    """ "2026-12" -> "12/2026", as the month is written in Vietnamese."""
    year, month = period.split("-")
    return f"{int(month)}/{year}"


def when(moment: datetime, tz: str) -> str:
    """ "Thứ Năm, ngày 3/12/2026, lúc 19:30" in the unit's timezone."""
    local = moment.astimezone(ZoneInfo(tz))
    weekday = texts.WEEKDAY_NAMES[local.weekday()]
    return texts.MEETING_WHEN.format(
        weekday=weekday[:1].upper() + weekday[1:],
        date=f"{local.day}/{local.month}/{local.year}",
        time=f"{local:%H:%M}",
    )
