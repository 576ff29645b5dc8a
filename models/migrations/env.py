"""Alembic environment: the same migrations for SQLite and PostgreSQL, run through asyncio."""

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from models.db import create_engine, is_sqlite
from models.tables import Base

config = context.config
url: str = config.attributes["database_url"]


def _run(connection: Connection) -> None:
    sqlite = is_sqlite(url)
    if sqlite:
        # SQLite alters a table by copying it and dropping the old one, which foreign keys from
        # rows elsewhere would forbid; the keys are checked once at the end instead. (The
        # pragma only takes effect outside a transaction: before anything else runs.)
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=sqlite,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    if sqlite:
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken by the migration: {broken[:5]}")


async def _main() -> None:
    engine = create_engine(url)
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


def _run_migrations(**_: Any) -> None:
    asyncio.run(_main())


_run_migrations()
