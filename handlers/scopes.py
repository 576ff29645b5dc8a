"""The units a person may work on, for the committee's commands (/baocao, /xuat, /thongbao).

Buttons carry unit ids; a pressed id is checked again every time, so a forged or outdated
button is refused (and the refusal audited) like any other attempt without the right.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from handlers import texts
from handlers.engine import Answer, Ctx
from handlers.text import fmt
from models import access, audit
from models.tables import OrgUnit

PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


async def units_for(ctx: Ctx, roles: tuple[str, ...]) -> list[OrgUnit]:
    """Units where the member holds one of roles, or admin; a unit inside another listed
    admin subtree is left out (it is reached by drilling down)."""
    if ctx.member is None:
        return []
    found: list[OrgUnit] = []
    for scope in await access.scopes(ctx.session, ctx.member.id):
        if scope.role not in roles and scope.role != access.ADMIN:
            continue
        if any(scope.unit.path.startswith(u.path) for u in found):
            continue
        found.append(scope.unit)
    return found


async def unit_from(ctx: Ctx, arg: str, roles: tuple[str, ...], *, action: str) -> OrgUnit | None:
    """The unit a button names, if the member may do action there; else a reply and None."""
    unit = await ctx.session.get(OrgUnit, int(arg)) if arg.isdigit() else None
    if unit is None or unit.closed_at is not None:
        ctx.reply(texts.STALE_BUTTON)
        return None
    if ctx.member is None:  # a button pressed from an account not linked to anyone
        audit.record(ctx.session, action=action, now=ctx.now, unit_id=unit.id, refused=True)
        ctx.reply(texts.STALE_BUTTON)
        return None
    if not await access.check(ctx.session, ctx.member, unit, roles, action=action, now=ctx.now):
        ctx.reply(fmt(texts.NOT_ALLOWED_UNIT, unit=unit.name))
        return None
    return unit


async def children(ctx: Ctx, unit: OrgUnit) -> list[OrgUnit]:
    stmt = (
        select(OrgUnit)
        .where(OrgUnit.parent_id == unit.id, OrgUnit.closed_at.is_(None))
        .order_by(OrgUnit.name)
    )
    return list(await ctx.session.scalars(stmt))


def refuse(
    ctx: Ctx,
    action: str,
    message: str = texts.NO_ADMIN_SCOPE,
    *,
    unit_id: int | None = None,
    **detail: Any,
) -> None:
    """Someone without the right for this tried it: say so, and keep a record."""
    member_id = ctx.member.id if ctx.member is not None else None
    audit.record(
        ctx.session,
        action=action,
        now=ctx.now,
        member_id=member_id,
        unit_id=unit_id,
        refused=True,
        **detail,
    )
    ctx.reply(message)


async def unit_options(
    ctx: Ctx, scope_ids: list[int], whole: str, limit: int = 30
) -> list[tuple[str, str]]:
    """Buttons for the scope units (labelled with `whole`) and their open child units."""
    options: list[tuple[str, str]] = []
    for unit_id in scope_ids:
        unit = await ctx.session.get(OrgUnit, unit_id)
        if unit is None or unit.closed_at is not None:
            continue
        options.append((whole.format(name=unit.name), str(unit.id)))
        options += [
            (texts.BTN_UNIT_CHILD.format(name=c.name), str(c.id)) for c in await children(ctx, unit)
        ]
    return options[:limit]


async def pick_unit(ctx: Ctx, answer: Answer, roles: tuple[str, ...], *, action: str) -> bool:
    """A flow's unit step: keep the chosen unit in ctx.data["unit_id"] if the member may do
    action there; else say why and ask again. True when a unit was kept."""
    unit = None
    if answer.value is None:
        ctx.reply(texts.CHOOSE_FROM_BUTTONS)
    else:
        unit = await unit_from(ctx, answer.value, roles, action=action)
    if unit is None:
        await ctx.goto(ctx.conv.step or "")
        return False
    ctx.data["unit_id"] = unit.id
    ctx.touch_data()
    return True
