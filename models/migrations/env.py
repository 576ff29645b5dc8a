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
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=is_sqlite(url),  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    engine = create_engine(url)
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


def _run_migrations(**_: Any) -> None:
    asyncio.run(_main())


_run_migrations()
