"""Mô hình and điển hình a unit puts forward (domain.md §1.4, §5, §8.5).

A row is one nomination of one year: kind "mo_hinh" (a model practice, of a collective or of a
person; an admin may mark it nhân rộng, to be replicated) or "dien_hinh" (an exemplary
collective or person; a person is a đảng viên or quần chúng). models.reports counts them up the
tree by exactly these values, so nothing else may be stored in kind and subject.

The table has no status: withdrawing a nomination deletes the row (the audit log keeps what it
was), so the reports never count it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.tables import Member, Nomination, OrgUnit

MO_HINH, DIEN_HINH = "mo_hinh", "dien_hinh"
KINDS = (DIEN_HINH, MO_HINH)
CA_NHAN, TAP_THE = "ca_nhan", "tap_the"
SUBJECTS = (CA_NHAN, TAP_THE)
MAX_NAME = 200  # the column's size
MAX_TEXT = 1000  # description, result


async def add(
    session: AsyncSession,
    unit: OrgUnit,
    *,
    year: int,
    kind: str,
    subject: str,
    name: str,
    description: str,
    now: datetime,
    result: str | None = None,
    member_id: int | None = None,
    party_member: bool = True,
    nominated_by: int | None = None,
) -> Nomination:
    """Store a nomination of the unit. A collective is never linked to a member, and counts
    as neither đảng viên nor quần chúng (party_member keeps its default)."""
    if kind not in KINDS or subject not in SUBJECTS:
        raise ValueError(f"kind {kind!r} / subject {subject!r}")
    if not name.strip() or len(name) > MAX_NAME:
        raise ValueError("name")
    if not description.strip():
        raise ValueError("description")
    if subject == TAP_THE:
        member_id, party_member = None, True
    elif member_id is not None:
        party_member = True  # a member of the roster is a đảng viên
    nomination = Nomination(
        unit_id=unit.id,
        year=year,
        kind=kind,
        subject=subject,
        member_id=member_id,
        party_member=party_member,
        name=name,
        description=description,
        result=result or None,
        replicated=False,
        nominated_by=nominated_by,
        created_at=now,
    )
    session.add(nomination)
    await session.flush()
    return nomination


async def withdraw(session: AsyncSession, nomination: Nomination) -> None:
    """Take the nomination back: it is no longer listed or counted."""
    await session.delete(nomination)
    await session.flush()


async def set_replicated(session: AsyncSession, nomination: Nomination, replicated: bool) -> bool:
    """Mark (or unmark) a mô hình as nhân rộng. False when nothing changed."""
    if nomination.kind != MO_HINH:
        raise ValueError("only a mô hình is replicated")
    if nomination.replicated == replicated:
        return False
    nomination.replicated = replicated
    await session.flush()
    return True


async def in_subtree(
    session: AsyncSession, unit: OrgUnit, year: int
) -> list[tuple[Nomination, OrgUnit]]:
    """The year's nominations of the unit and every open unit below it, by unit path, then in
    the order they were made. A closed unit below is left out, as in the reports (its
    nominations moved with a merge)."""
    stmt = (
        select(Nomination, OrgUnit)
        .join(OrgUnit, OrgUnit.id == Nomination.unit_id)
        .where(
            OrgUnit.path.startswith(unit.path),
            or_(OrgUnit.closed_at.is_(None), OrgUnit.id == unit.id),
            Nomination.year == year,
        )
        .order_by(OrgUnit.path, Nomination.id)
    )
    return [(n, u) for n, u in await session.execute(stmt)]


async def member_named(session: AsyncSession, unit: OrgUnit, name: str) -> Member | None:
    """The one active member of the unit's subtree with this name (diacritics and case
    optional); None when there is none, or more than one."""
    from handlers.text import fold

    stmt = (
        select(Member)
        .join(OrgUnit, OrgUnit.id == Member.unit_id)
        .where(
            OrgUnit.path.startswith(unit.path),
            Member.active.is_(True),
            Member.name_key == fold(name),
        )
        .limit(2)
    )
    found = list(await session.scalars(stmt))
    return found[0] if len(found) == 1 else None
