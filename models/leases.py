"""A named lease in the database: held by one holder until it expires or is renewed.

One statement takes or renews it (an upsert that only overwrites a lease that is ours or has
expired), so two processes asking at once never both get it, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.db import insert_for
from models.tables import Lease


async def take(
    session: AsyncSession, name: str, holder: str, *, now: datetime, ttl: timedelta
) -> bool:
    """Take the lease, or renew it if it is ours; False while another holder's is current."""
    insert = insert_for(session)
    new = insert(Lease).values(name=name, holder=holder, acquired_at=now, expires_at=now + ttl)
    stmt = new.on_conflict_do_update(
        index_elements=[Lease.name],
        set_={
            "holder": new.excluded.holder,
            "expires_at": new.excluded.expires_at,
            # A renewal keeps the time the lease was first taken.
            "acquired_at": case(
                (Lease.holder == new.excluded.holder, Lease.acquired_at),
                else_=new.excluded.acquired_at,
            ),
        },
        where=or_(Lease.holder == new.excluded.holder, Lease.expires_at <= now),
    ).returning(Lease.holder)
    return (await session.execute(stmt)).first() is not None


async def release(session: AsyncSession, name: str, holder: str) -> None:
    """Give the lease up at once (a clean stop), so another process need not wait it out."""
    await session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))


async def current(session: AsyncSession, name: str) -> Lease | None:
    return await session.scalar(select(Lease).where(Lease.name == name))
