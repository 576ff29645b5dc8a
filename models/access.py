"""Who may do what where, and the record of it.

Rights hang on units: a secretary or deputy leads one chi bộ; an observer receives a unit's
digests and reports; an admin (the higher committee's propaganda board) covers the unit's whole
subtree. Every grant, every administrative action and every refused attempt is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import audit
from models.orgs import ancestor_ids
from models.tables import Member, OrgUnit, Role

ADMIN, SECRETARY, DEPUTY, OBSERVER = "admin", "secretary", "deputy", "observer"
ROLES = (ADMIN, SECRETARY, DEPUTY, OBSERVER)

# What each kind of work needs on the unit itself (admin of an ancestor always qualifies).
READ = (SECRETARY, DEPUTY, OBSERVER)  # reports, digests
MANAGE = (SECRETARY, DEPUTY)  # exports, nominations, the collective plan
PUBLISH = (ADMIN,)  # themes, broadcasts (admin only, over the subtree)


@dataclass(frozen=True)
class Scope:
    """A unit the person holds a right on, with the role that gives it."""

    unit: OrgUnit
    role: str


async def scopes(session: AsyncSession, member_id: int) -> list[Scope]:
    """The units the member holds a role on, top of the tree first."""
    stmt = (
        select(OrgUnit, Role.role)
        .join(Role, Role.unit_id == OrgUnit.id)
        .where(Role.member_id == member_id, OrgUnit.closed_at.is_(None))
        .order_by(OrgUnit.path, Role.role)
    )
    return [Scope(unit, role) for unit, role in await session.execute(stmt)]


async def allowed(
    session: AsyncSession, member_id: int, unit: OrgUnit, roles: tuple[str, ...]
) -> bool:
    """A role among roles on the unit itself, or admin on the unit or any ancestor."""
    stmt = select(Role.id).where(
        Role.member_id == member_id,
        or_(
            (Role.unit_id == unit.id) & Role.role.in_(roles),
            Role.unit_id.in_(ancestor_ids(unit)) & (Role.role == ADMIN),
        ),
    )
    return (await session.scalars(stmt.limit(1))).first() is not None


async def check(
    session: AsyncSession,
    member: Member,
    unit: OrgUnit,
    roles: tuple[str, ...],
    *,
    action: str,
    now: datetime,
) -> bool:
    """allowed(), with a refusal written to the audit log (in the caller's transaction)."""
    if await allowed(session, member.id, unit, roles):
        return True
    audit.record(
        session, action=action, now=now, member_id=member.id, unit_id=unit.id, refused=True
    )
    return False


async def grant(
    session: AsyncSession,
    member: Member,
    unit: OrgUnit,
    role: str,
    *,
    now: datetime,
    actor: str = "cli",
    actor_member_id: int | None = None,
) -> bool:
    """Give the role; False when the member already had it. Audited either way."""
    if role not in ROLES:
        raise ValueError(role)
    held = await session.scalars(
        select(Role.id).where(
            Role.member_id == member.id, Role.unit_id == unit.id, Role.role == role
        )
    )
    created = held.first() is None
    if created:
        session.add(Role(member_id=member.id, unit_id=unit.id, role=role, created_at=now))
        await session.flush()
    audit.record(
        session,
        action="role_grant",
        now=now,
        member_id=actor_member_id,
        actor=actor,
        unit_id=unit.id,
        target=member.id,
        role=role,
        changed=created,
    )
    return created


async def revoke(
    session: AsyncSession,
    member: Member,
    unit: OrgUnit,
    role: str,
    *,
    now: datetime,
    actor: str = "cli",
    actor_member_id: int | None = None,
) -> bool:
    """Take the role away; False when the member did not have it. Audited either way."""
    result = await session.execute(
        delete(Role).where(Role.member_id == member.id, Role.unit_id == unit.id, Role.role == role)
    )
    removed = bool(result.rowcount)  # type: ignore[attr-defined]
    audit.record(
        session,
        action="role_revoke",
        now=now,
        member_id=actor_member_id,
        actor=actor,
        unit_id=unit.id,
        target=member.id,
        role=role,
        changed=removed,
    )
    return removed


async def holders(session: AsyncSession, unit: OrgUnit) -> list[tuple[Member, str, OrgUnit]]:
    """Everyone with a right on the unit: its own roles and the admins of its ancestors."""
    stmt = (
        select(Member, Role.role, OrgUnit)
        .join(Role, Role.member_id == Member.id)
        .join(OrgUnit, OrgUnit.id == Role.unit_id)
        .where(
            or_(
                Role.unit_id == unit.id,
                Role.unit_id.in_(ancestor_ids(unit)) & (Role.role == ADMIN),
            )
        )
        .order_by(OrgUnit.path, Role.role, Member.full_name)
    )
    return [(m, role, u) for m, role, u in await session.execute(stmt)]
