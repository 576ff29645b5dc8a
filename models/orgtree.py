"""Changes to the organisation tree after a reform: rename, move (re-parent), merge, close.

The 2025 reform ended the district level and merged communes: chi bộ were re-parented to new
đảng bộ xã, and chi bộ or đảng bộ were merged. A change keeps history: a merged or dissolved
unit is closed (closed_at, merged_into_id), never deleted, so what was recorded under it still
names it; pledges and assessments hang on members and follow them untouched.

Every function works inside the caller's transaction, checks everything before it writes
(a refused change raises TreeError and has written nothing), and writes one audit row.

The materialised path ("/1/5/12/") of a moved unit and of its whole subtree is rewritten by one
UPDATE: new prefix || substr(path, len(old prefix) + 1), for the rows whose path starts with the
old prefix; the same SQL on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, CursorResult, String, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from handlers import texts
from handlers.text import fold
from models import audit
from models.orgs import SEPARATOR, full_name
from models.tables import (
    Assessment,
    Invite,
    JoinRequest,
    MeetingOverride,
    Member,
    Nomination,
    OrgUnit,
    Pledge,
    Role,
    Theme,
    UnitPeriod,
    UnitPlan,
)

MAX_NAME = 200  # org_units.name
MAX_MEMBER_NAME = 120  # members.full_name, members.name_key


class TreeError(Exception):
    """A refused change; the message is Vietnamese, for the operator. Nothing was written."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class MergeResult:
    members: int = 0  # the source's own members moved to the target (inactive ones included)
    inactive: int = 0  # of those, members no longer active
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (before, after) name clashes
    units: list[str] = field(default_factory=list)  # child units moved under the target
    unit_members: int = 0  # members of those child units (and below), moved with their unit
    pledges: int = 0  # pledge versions of every member moved (directly or with a unit)
    assessments: int = 0  # self-assessments of every member moved
    roles: int = 0  # roles on the source moved to the target
    roles_dropped: int = 0  # roles the member already held on the target
    invites: int = 0  # unused, unrevoked codes moved
    join_requests: int = 0  # pending requests moved
    nominations: int = 0
    # unit_plans, themes, meeting_overrides, unit_periods moved: table -> rows
    moved: dict[str, int] = field(default_factory=dict)
    # Kept on the closed source because the target has its own: (table, year or period).
    # unit_periods never appear here: a review by either unit counts, the target keeps one.
    kept: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class CloseResult:
    units: int = 0  # units closed below the unit itself (force)
    members: int = 0  # members set inactive (force)
    invites: int = 0  # unused codes revoked


# ---------------------------------------------------------------------------------------------


async def rename(
    session: AsyncSession,
    unit: OrgUnit,
    new_name: str,
    now: datetime,
    *,
    actor: str = "cli",
    member_id: int | None = None,
) -> None:
    """Give the unit a new name; its path of ids, and so its subtree, is unchanged.

    A closed unit may be renamed too (to free its name for a sibling, say)."""
    name = " ".join(new_name.split())
    if not name or SEPARATOR in name or len(name) > MAX_NAME:
        raise TreeError(texts.TREE_BAD_NAME.format(name=new_name, limit=MAX_NAME))
    if name == unit.name:
        raise TreeError(texts.TREE_SAME_NAME.format(name=name))
    await _check_name_free(session, unit.parent_id, name, unit)
    old = unit.name
    unit.name = name
    await session.flush()
    audit.record(
        session,
        action="org_rename",
        now=now,
        actor=actor,
        member_id=member_id,
        unit_id=unit.id,
        old=old,
        new=name,
    )


async def move(
    session: AsyncSession,
    unit: OrgUnit,
    new_parent: OrgUnit | None,
    now: datetime,
    *,
    actor: str = "cli",
    member_id: int | None = None,
) -> int:
    """Re-parent the unit (None: to the top level) with its whole subtree; returns how many
    units' paths were rewritten (the unit and everything below it)."""
    await _check_open(session, unit, texts.TREE_UNIT_CLOSED)
    new_parent_id = new_parent.id if new_parent else None
    if new_parent is not None:
        if new_parent.path.startswith(unit.path):
            raise TreeError(
                texts.TREE_INTO_ITSELF.format(
                    unit=await full_name(session, unit),
                    parent=await full_name(session, new_parent),
                )
            )
        await _check_open(session, new_parent, texts.TREE_PARENT_CLOSED)
    if unit.parent_id == new_parent_id:
        name = await full_name(session, unit)
        if new_parent is None:
            raise TreeError(texts.TREE_ALREADY_ROOT.format(unit=name))
        raise TreeError(
            texts.TREE_ALREADY_THERE.format(unit=name, parent=await full_name(session, new_parent))
        )
    await _check_name_free(session, new_parent_id, unit.name, unit)
    old_path, old_parent_id = unit.path, unit.parent_id
    old_name = await full_name(session, unit)
    new_path = f"{new_parent.path if new_parent else SEPARATOR}{unit.id}/"
    unit.parent_id = new_parent_id
    count = await _rewrite_paths(session, old_path, new_path)
    audit.record(
        session,
        action="org_move",
        now=now,
        actor=actor,
        member_id=member_id,
        unit_id=unit.id,
        old_parent=old_parent_id,
        new_parent=new_parent_id,
        old_path=old_path,
        new_path=new_path,
        old_name=old_name,
        units=count,
    )
    return count


async def merge(
    session: AsyncSession,
    source: OrgUnit,
    target: OrgUnit,
    now: datetime,
    *,
    actor: str = "cli",
    member_id: int | None = None,
) -> MergeResult:
    """Merge source into target (the target survives) and close the source.

    Moved to the target: every member of the source (a name already used in the target gets
    " (2)", " (3)"… so nobody is lost), its child units with their subtrees, its roles (minus
    those the member already holds there), unused invites, pending join requests, nominations,
    and the yearly/monthly rows the target has none of for that year or period. The source keeps
    the rest and stays, closed, for history."""
    if source.id == target.id:
        raise TreeError(texts.TREE_MERGE_ITSELF)
    await _check_open(session, source, texts.TREE_UNIT_CLOSED)
    if target.path.startswith(source.path):
        raise TreeError(
            texts.TREE_MERGE_DESCENDANT.format(
                unit=await full_name(session, source), target=await full_name(session, target)
            )
        )
    await _check_open(session, target, texts.TREE_MERGE_TARGET_CLOSED, key="target")

    children = list(
        await session.scalars(
            select(OrgUnit).where(OrgUnit.parent_id == source.id).order_by(OrgUnit.name)
        )
    )
    taken = set(await session.scalars(select(OrgUnit.name).where(OrgUnit.parent_id == target.id)))
    clashes = [c.name for c in children if c.name in taken]
    if clashes:
        raise TreeError(
            texts.TREE_MERGE_CHILD_CLASH.format(
                unit=await full_name(session, source),
                target=await full_name(session, target),
                names=", ".join(f"«{n}»" for n in clashes),
            )
        )

    result = MergeResult()
    # What follows the members: counted before anything moves, for the report and dry run.
    below = select(OrgUnit.id).where(OrgUnit.path.startswith(source.path), OrgUnit.id != source.id)
    moving = select(Member.id).where(
        (Member.unit_id == source.id) | Member.unit_id.in_(below.scalar_subquery())
    )
    result.unit_members = await _count(
        select(func.count(Member.id)).where(Member.unit_id.in_(below.scalar_subquery())),
        session,
    )
    result.pledges = await _count(
        select(func.count(Pledge.id)).where(Pledge.member_id.in_(moving.scalar_subquery())),
        session,
    )
    result.assessments = await _count(
        select(func.count(Assessment.id)).where(Assessment.member_id.in_(moving.scalar_subquery())),
        session,
    )

    await _move_members(session, source, target, now, result)

    # Child units, with their subtrees: one parent change, one path rewrite.
    if children:
        result.units = [c.name for c in children]
        await session.execute(
            update(OrgUnit).where(OrgUnit.parent_id == source.id).values(parent_id=target.id)
        )
        await _rewrite_paths(session, source.path, target.path, keep_id=source.id)

    # Roles: a right the member already has on the target is dropped, not doubled.
    held = {
        (r.member_id, r.role)
        for r in await session.execute(
            select(Role.member_id, Role.role).where(Role.unit_id == target.id)
        )
    }
    for role in await session.scalars(select(Role).where(Role.unit_id == source.id)):
        if (role.member_id, role.role) in held:
            await session.delete(role)
            result.roles_dropped += 1
        else:
            role.unit_id = target.id
            result.roles += 1

    result.invites = await _reassign(
        session,
        update(Invite).where(
            Invite.unit_id == source.id, Invite.used_at.is_(None), Invite.revoked_at.is_(None)
        ),
        target.id,
    )
    result.join_requests = await _reassign(
        session,
        update(JoinRequest).where(
            JoinRequest.unit_id == source.id, JoinRequest.status == "pending"
        ),
        target.id,
    )
    result.nominations = await _reassign(
        session, update(Nomination).where(Nomination.unit_id == source.id), target.id
    )

    # One row per unit and year or period: moved when the target has none, else kept.
    keyed: Sequence[tuple[str, Any, Any]] = (
        ("unit_plans", UnitPlan, UnitPlan.year),
        ("themes", Theme, Theme.year),
        ("meeting_overrides", MeetingOverride, MeetingOverride.period),
        ("unit_periods", UnitPeriod, UnitPeriod.period),
    )
    for table, model, key in keyed:
        own = set(await session.scalars(select(key).where(model.unit_id == target.id)))
        rows = await session.scalars(select(model).where(model.unit_id == source.id).order_by(key))
        result.moved[table] = 0
        for row in rows:
            value = getattr(row, key.key)
            if value in own:
                if table != "unit_periods":  # reviewed by the target: the review counts
                    result.kept.append((table, str(value)))
                continue
            row.unit_id = target.id
            result.moved[table] += 1

    source.closed_at = now
    source.merged_into_id = target.id
    await session.flush()
    audit.record(
        session,
        action="org_merge",
        now=now,
        actor=actor,
        member_id=member_id,
        unit_id=source.id,
        into=target.id,
        members=result.members,
        inactive=result.inactive,
        renamed=[list(pair) for pair in result.renamed],
        units=result.units,
        unit_members=result.unit_members,
        pledges=result.pledges,
        assessments=result.assessments,
        roles=result.roles,
        roles_dropped=result.roles_dropped,
        invites=result.invites,
        join_requests=result.join_requests,
        nominations=result.nominations,
        moved=result.moved,
        kept=[list(pair) for pair in result.kept],
    )
    return result


async def close(
    session: AsyncSession,
    unit: OrgUnit,
    now: datetime,
    *,
    force: bool = False,
    actor: str = "cli",
    member_id: int | None = None,
) -> CloseResult:
    """Close (dissolve) the unit. Refused while it has active members or open child units,
    unless force: then the whole subtree is closed and its members set inactive. Unused
    invite codes of the closed units are revoked (nobody joins a closed unit)."""
    await _check_open(session, unit, texts.TREE_ALREADY_CLOSED)
    in_subtree = select(OrgUnit.id).where(OrgUnit.path.startswith(unit.path)).scalar_subquery()
    members = await _count(
        select(func.count(Member.id)).where(Member.unit_id == unit.id, Member.active.is_(True)),
        session,
    )
    open_children = await _count(
        select(func.count(OrgUnit.id)).where(
            OrgUnit.parent_id == unit.id, OrgUnit.closed_at.is_(None)
        ),
        session,
    )
    if (members or open_children) and not force:
        raise TreeError(
            texts.TREE_CLOSE_BUSY.format(
                unit=await full_name(session, unit), members=members, units=open_children
            )
        )
    result = CloseResult()
    result.members = await _rowcount(
        session,
        update(Member)
        .where(Member.unit_id.in_(in_subtree), Member.active.is_(True))
        .values(active=False, updated_at=now),
    )
    result.invites = await _rowcount(
        session,
        update(Invite)
        .where(
            Invite.unit_id.in_(in_subtree), Invite.used_at.is_(None), Invite.revoked_at.is_(None)
        )
        .values(revoked_at=now),
    )
    result.units = await _rowcount(
        session,
        update(OrgUnit)
        .where(
            OrgUnit.path.startswith(unit.path),
            OrgUnit.id != unit.id,
            OrgUnit.closed_at.is_(None),
        )
        .values(closed_at=now),
    )
    unit.closed_at = now
    await session.flush()
    audit.record(
        session,
        action="org_close",
        now=now,
        actor=actor,
        member_id=member_id,
        unit_id=unit.id,
        force=force,
        units=result.units,
        members=result.members,
        invites=result.invites,
    )
    return result


# ---------------------------------------------------------------------------------------------


async def _rewrite_paths(
    session: AsyncSession, old: str, new: str, *, keep_id: int | None = None
) -> int:
    """Replace the path prefix old by new for every unit whose path starts with old (but
    keep_id's own row), in one UPDATE; units loaded in the session see their new path."""
    tail = func.substr(OrgUnit.path, len(old) + 1)
    where: list[ColumnElement[bool]] = [OrgUnit.path.startswith(old)]
    if keep_id is not None:
        where.append(OrgUnit.id != keep_id)
    stmt = (
        update(OrgUnit)
        .where(*where)
        .values(path=literal(new, String()) + tail)
        .execution_options(synchronize_session=False)
    )
    count = await _rowcount(session, stmt)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, OrgUnit) and obj.id != keep_id and obj.path.startswith(old):
            set_committed_value(obj, "path", new + obj.path[len(old) :])
    return count


async def _move_members(
    session: AsyncSession, source: OrgUnit, target: OrgUnit, now: datetime, result: MergeResult
) -> None:
    members = list(
        await session.scalars(select(Member).where(Member.unit_id == source.id).order_by(Member.id))
    )
    keys = set(await session.scalars(select(Member.name_key).where(Member.unit_id == target.id)))
    clashing = {m.name_key for m in members} & keys
    keys |= {m.name_key for m in members}  # a new name must not clash on either side
    for m in members:
        if m.name_key in clashing:
            before = m.full_name
            m.full_name, m.name_key = _distinct_name(m.full_name, keys)
            keys.add(m.name_key)
            result.renamed.append((before, m.full_name))
        m.unit = target
        m.updated_at = now
        result.members += 1
        result.inactive += not m.active
    await session.flush()


def _distinct_name(name: str, taken: set[str]) -> tuple[str, str]:
    """name " (2)", " (3)"… (shortened to fit the column) whose folded key is not taken."""
    n = 2
    while True:
        suffix = f" ({n})"
        candidate = name[: MAX_MEMBER_NAME - len(suffix)].rstrip() + suffix
        key = fold(candidate)
        if key not in taken and len(key) <= MAX_MEMBER_NAME:
            return candidate, key
        n += 1


async def _reassign(session: AsyncSession, stmt: Any, unit_id: int) -> int:
    return await _rowcount(session, stmt.values(unit_id=unit_id))


async def _rowcount(session: AsyncSession, stmt: Any) -> int:
    result = cast(CursorResult[Any], await session.execute(stmt))
    return int(result.rowcount)


async def _count(stmt: Any, session: AsyncSession) -> int:
    return int(await session.scalar(stmt) or 0)


async def _check_name_free(
    session: AsyncSession, parent_id: int | None, name: str, unit: OrgUnit
) -> None:
    """No sibling under parent_id (open or closed: names are unique per parent) has name."""
    parent_is = OrgUnit.parent_id == parent_id if parent_id else OrgUnit.parent_id.is_(None)
    stmt = select(OrgUnit).where(parent_is, OrgUnit.name == name, OrgUnit.id != unit.id)
    other = (await session.scalars(stmt)).first()
    if other is None:
        return
    closed = texts.TREE_NAME_TAKEN_CLOSED if other.closed_at else ""
    parent = await session.get(OrgUnit, parent_id) if parent_id else None
    if parent is None:
        raise TreeError(texts.TREE_NAME_TAKEN_ROOT.format(name=name, closed=closed))
    parent_name = await full_name(session, parent)
    raise TreeError(texts.TREE_NAME_TAKEN.format(parent=parent_name, name=name, closed=closed))


async def _check_open(
    session: AsyncSession,
    unit: OrgUnit,
    template: str,
    *,
    key: str = "unit",
) -> None:
    if unit.closed_at is None:
        return
    local = unit.closed_at.astimezone(ZoneInfo(unit.timezone))
    day = f"{local.day:02d}/{local.month:02d}/{local.year}"
    raise TreeError(template.format(**{key: await full_name(session, unit), "date": day}))
