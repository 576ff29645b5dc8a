"""The organisation tree: units addressed by their "/"-separated path of names."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import texts
from models.tables import OrgUnit

SEPARATOR = "/"


class ClosedUnitError(ValueError):
    """ensure_unit() met a closed (dissolved or merged) unit on the way: nothing goes into it."""

    def __init__(self, path: str, unit: OrgUnit) -> None:
        super().__init__(texts.ROSTER_ERRORS["closed_unit"].format(value=path))
        self.path = path  # the names down to the closed unit
        self.unit = unit


def split_path(path: str) -> list[str]:
    return [part.strip() for part in path.split(SEPARATOR) if part.strip()]


def kind_for(name: str) -> str:
    """A unit's kind from its usual name; kinds are data, so an unknown name is just "don_vi"."""
    lowered = name.casefold()
    for prefix, kind in (("chi bộ", "chi_bo"), ("đảng bộ", "dang_bo"), ("tổ đảng", "to_dang")):
        if lowered.startswith(prefix):
            return kind
    return "don_vi"


def ancestor_ids(unit: OrgUnit) -> list[int]:
    """Ids from the root down to the unit itself."""
    return [int(part) for part in unit.path.strip("/").split("/") if part]


async def find_unit(session: AsyncSession, path: str) -> OrgUnit | None:
    parent: OrgUnit | None = None
    for name in split_path(path):
        stmt = select(OrgUnit).where(OrgUnit.name == name)
        stmt = stmt.where(OrgUnit.parent_id == parent.id if parent else OrgUnit.parent_id.is_(None))
        parent = (await session.scalars(stmt)).first()
        if parent is None:
            return None
    return parent


async def ensure_unit(
    session: AsyncSession, path: str, now: datetime, created: list[str] | None = None
) -> OrgUnit:
    """The unit at path, creating missing units on the way (their names appended to created).

    Raises ClosedUnitError when the unit or one above it is closed: a dissolved or merged unit
    takes no new members and no new units (find_unit still finds it, for history)."""
    parent: OrgUnit | None = None
    names = split_path(path)
    for depth, name in enumerate(names):
        stmt = select(OrgUnit).where(
            OrgUnit.name == name,
            OrgUnit.parent_id == parent.id if parent else OrgUnit.parent_id.is_(None),
        )
        unit = (await session.scalars(stmt)).first()
        if unit is None:
            unit = OrgUnit(
                parent_id=parent.id if parent else None,
                kind=kind_for(name),
                name=name,
                path="",
                created_at=now,
            )
            session.add(unit)
            await session.flush()  # the id is part of the path
            unit.path = f"{parent.path if parent else '/'}{unit.id}/"
            if created is not None:
                created.append(name)
        elif unit.closed_at is not None:
            raise ClosedUnitError(SEPARATOR.join(names[: depth + 1]), unit)
        parent = unit
    if parent is None:
        raise ValueError("empty unit path")
    return parent


async def full_name(session: AsyncSession, unit: OrgUnit) -> str:
    """ "Đảng bộ xã Hưng Bình/Chi bộ thôn 2" for display and the CLI."""
    ids = ancestor_ids(unit)
    rows = {u.id: u.name for u in await session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)))}
    return SEPARATOR.join(rows[i] for i in ids if i in rows)


async def subtree(session: AsyncSession, unit: OrgUnit) -> list[OrgUnit]:
    stmt = select(OrgUnit).where(OrgUnit.path.startswith(unit.path)).order_by(OrgUnit.path)
    return list(await session.scalars(stmt))
