"""Members, their channel identities and their roles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.tables import Identity, Member, OrgUnit, Role

APPROVER_ROLES = ("secretary", "deputy")


async def member_by_identity(session: AsyncSession, channel: str, user_id: str) -> Member | None:
    return (await identity_and_member(session, channel, user_id))[1]


async def identity_and_member(
    session: AsyncSession, channel: str, user_id: str
) -> tuple[Identity | None, Member | None]:
    """The account that wrote and, if it is linked to an active member, that member: one query
    (every incoming update needs both)."""
    params = {"channel": channel, "user_id": user_id}
    row = (await session.execute(_IDENTITY_AND_MEMBER, params)).first()
    return (None, None) if row is None else (row[0], row[1])


# Built once (per update, building it cost a third of running it).
_IDENTITY_AND_MEMBER = (
    select(Identity, Member)
    .outerjoin(Member, and_(Member.id == Identity.member_id, Member.active.is_(True)))
    .where(Identity.channel == bindparam("channel"), Identity.user_id == bindparam("user_id"))
)


async def link_identity(
    session: AsyncSession,
    member: Member,
    *,
    channel: str,
    user_id: str,
    chat_id: str,
    display_name: str,
    now: datetime,
) -> Identity:
    """Link this account to the member; an older account of theirs on the channel is replaced."""
    await session.execute(
        delete(Identity).where(Identity.member_id == member.id, Identity.channel == channel)
    )
    await session.flush()
    identity = Identity(
        member_id=member.id,
        channel=channel,
        user_id=user_id,
        chat_id=chat_id,
        display_name=display_name or None,
        created_at=now,
        last_inbound_at=now,
    )
    session.add(identity)
    await session.flush()
    return identity


async def identity_for(session: AsyncSession, member_id: int) -> Identity | None:
    """Where to reach a member: their most recently linked account."""
    stmt = (
        select(Identity)
        .where(Identity.member_id == member_id)
        .order_by(Identity.created_at.desc(), Identity.id.desc())
    )
    return (await session.scalars(stmt)).first()


async def roles_of(session: AsyncSession, member_id: int) -> list[Role]:
    return list(await session.scalars(select(Role).where(Role.member_id == member_id)))


async def has_role(
    session: AsyncSession, member_id: int, unit: OrgUnit, roles: tuple[str, ...]
) -> bool:
    """A role on the unit itself, or admin on any ancestor (admin covers the subtree)."""
    from models.orgs import ancestor_ids

    stmt = select(Role.role, Role.unit_id).where(Role.member_id == member_id)
    ancestors = set(ancestor_ids(unit))
    for role, unit_id in await session.execute(stmt):
        if role in roles and unit_id == unit.id:
            return True
        if role == "admin" and unit_id in ancestors:
            return True
    return False


async def approvers(session: AsyncSession, unit_id: int) -> list[Member]:
    """The chi bộ's secretary and deputies, who approve pledges and join requests."""
    stmt = (
        select(Member)
        .join(Role, Role.member_id == Member.id)
        .where(Role.unit_id == unit_id, Role.role.in_(APPROVER_ROLES), Member.active.is_(True))
        .order_by(Member.id)
    )
    return list((await session.scalars(stmt)).unique())


async def find_by_name(session: AsyncSession, unit_id: int, name_key: str) -> Member | None:
    stmt = select(Member).where(Member.unit_id == unit_id, Member.name_key == name_key)
    return (await session.scalars(stmt)).first()


async def find_members(session: AsyncSession, ref: str) -> list[Member]:
    """Members a command-line reference means: an id ("#12" or "12"), a phone number, a
    "Unit/Path/Full name", or a bare full name (which may match people in several units)."""
    from handlers.text import fold
    from models.orgs import SEPARATOR, find_unit

    ref = ref.strip()
    digits = ref.lstrip("#")
    if digits.isdigit() and len(digits) < 9:
        member = await session.get(Member, int(digits))
        return [member] if member is not None else []
    stmt = select(Member).order_by(Member.unit_id, Member.id)
    if ref.lstrip("+").replace(" ", "").isdigit():
        wanted = ref.replace(" ", "")
        return list(await session.scalars(stmt.where(Member.phone == wanted)))
    path, _, name = ref.rpartition(SEPARATOR)
    if path:
        unit = await find_unit(session, path)
        if unit is None:
            return []
        stmt = stmt.where(Member.unit_id == unit.id)
    return list(await session.scalars(stmt.where(Member.name_key == fold(name))))
