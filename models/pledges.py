"""Pledges (bản đăng ký): versions, submission and the secretary's decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from models.tables import Member, Pledge, PledgeItem

PENDING, APPROVED, RETURNED, SUPERSEDED = "submitted", "approved", "returned", "superseded"


@dataclass
class DraftItem:
    action: str
    result: str
    deadline: str
    breakthrough: bool = False
    kept_vague: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DraftItem:
        return cls(
            action=data["action"],
            result=data["result"],
            deadline=data["deadline"],
            breakthrough=bool(data.get("breakthrough")),
            kept_vague=bool(data.get("kept_vague")),
        )


async def latest(session: AsyncSession, member_id: int, year: int) -> Pledge | None:
    """The newest version, whatever its status: what the member sees with /camket."""
    stmt = (
        select(Pledge)
        .where(Pledge.member_id == member_id, Pledge.year == year)
        .order_by(Pledge.version.desc())
    )
    return (await session.scalars(stmt)).first()


async def approved(session: AsyncSession, member_id: int, year: int) -> Pledge | None:
    """The version in force: the newest approved one."""
    stmt = (
        select(Pledge)
        .where(Pledge.member_id == member_id, Pledge.year == year, Pledge.status == APPROVED)
        .order_by(Pledge.version.desc())
    )
    return (await session.scalars(stmt)).first()


async def history(session: AsyncSession, member_id: int, year: int) -> list[Pledge]:
    stmt = (
        select(Pledge)
        .where(Pledge.member_id == member_id, Pledge.year == year)
        .order_by(Pledge.version)
    )
    return list(await session.scalars(stmt))


async def submit(
    session: AsyncSession,
    member: Member,
    *,
    year: int,
    theme_id: int | None,
    study: list[str],
    shortcomings: list[str],
    items: list[DraftItem],
    now: datetime,
) -> Pledge:
    """A new version awaiting approval. A version still waiting, or returned, is superseded;
    an approved one stays in force until the new one is approved."""
    previous = await latest(session, member.id, year)
    await session.execute(
        update(Pledge)
        .where(
            Pledge.member_id == member.id,
            Pledge.year == year,
            Pledge.status.in_((PENDING, RETURNED)),
        )
        .values(status=SUPERSEDED)
    )
    pledge = Pledge(
        member_id=member.id,
        year=year,
        version=(previous.version + 1) if previous else 1,
        status=PENDING,
        theme_id=theme_id,
        study=study,
        shortcomings=shortcomings,
        submitted_at=now,
        items=[
            PledgeItem(
                position=i,
                action=item.action,
                result=item.result,
                deadline=item.deadline,
                breakthrough=item.breakthrough,
                kept_vague=item.kept_vague,
            )
            for i, item in enumerate(items, start=1)
        ],
    )
    session.add(pledge)
    await session.flush()
    return pledge


async def decide(
    session: AsyncSession,
    pledge: Pledge,
    *,
    approve: bool,
    by: Member,
    now: datetime,
    comment: str | None = None,
) -> None:
    if approve:
        await session.execute(
            update(Pledge)
            .where(
                Pledge.member_id == pledge.member_id,
                Pledge.year == pledge.year,
                Pledge.status == APPROVED,
                Pledge.id != pledge.id,
            )
            .values(status=SUPERSEDED)
        )
    pledge.status = APPROVED if approve else RETURNED
    pledge.decided_by, pledge.decided_at, pledge.comment = by.id, now, comment
    await session.flush()


# The chi bộ's pledges waiting for the bí thư's approval. Built once; its own alias of members,
# so that the digest can use it as a subquery of a query over the members.
_AUTHOR = aliased(Member)
PENDING_COUNT = (
    select(func.count())
    .select_from(Pledge)
    .join(_AUTHOR, _AUTHOR.id == Pledge.member_id)
    .where(
        _AUTHOR.unit_id == bindparam("unit_id", type_=Integer),
        Pledge.year == bindparam("year", type_=Integer),
        Pledge.status == PENDING,
    )
)


async def pending_count(session: AsyncSession, unit_id: int, year: int) -> int:
    """The chi bộ's pledges waiting for the bí thư's approval."""
    return int(await session.scalar(PENDING_COUNT, {"unit_id": unit_id, "year": year}) or 0)
