"""What every command-line command shares: the user-facing error and one transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Config
from handlers import texts
from models.db import create_engine, session_factory, upgrade


class UserError(Exception):
    """A mistake in what the user asked for, worded for them."""


def migrate(config: Config) -> None:
    try:
        upgrade(config.database_url)
    except OSError as e:
        raise UserError(texts.CLI_DB_ERROR.format(error=e)) from None


@asynccontextmanager
async def transaction(config: Config) -> AsyncIterator[AsyncSession]:
    """A session in one transaction, committed when the block ends without an error."""
    engine = create_engine(config.database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            yield session
    finally:
        await engine.dispose()


def print_table(rows: list[list[str]]) -> None:
    """Aligned columns for the terminal."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
