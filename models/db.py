"""Engine, sessions and migrations for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql.dml import Insert

MIGRATIONS = Path(__file__).parent / "migrations"


def utcnow() -> datetime:
    return datetime.now(UTC)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    if is_sqlite(url):
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers run beside the one writer; busy_timeout waits instead of failing.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


_DIALECTS: dict[str, Any] = {"postgresql": postgresql, "sqlite": sqlite}


def insert_for(session: AsyncSession) -> Any:
    """The session's database's own INSERT (the one with ON CONFLICT …)."""
    return _DIALECTS[session.get_bind().dialect.name].insert


def insert_if_new(table: Any, *keys: str) -> dict[str, Insert]:
    """INSERT … ON CONFLICT (keys) DO NOTHING, built once per dialect (pick by the session's
    dialect name; the values are parameters): rowcount says whether the row was new. On the
    table, not the entity: the ORM takes a dict of values as a bulk insert, without rowcount."""
    return {
        name: dialect.insert(table).on_conflict_do_nothing(index_elements=list(keys))
        for name, dialect in _DIALECTS.items()
    }


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with sessions() as session, session.begin():
        yield session


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["database_url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply the migrations (synchronous: run it before the event loop, or in a thread)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


# -- the database failing: what kind of failure, for the workers and the command line ----------
FULL, READ_ONLY, UNAVAILABLE, BUSY = "full", "read_only", "unavailable", "busy"
# SQLite's primary result codes (extended codes carry them in the low byte)
_SQLITE = {13: FULL, 8: READ_ONLY, 5: BUSY, 6: BUSY, 10: UNAVAILABLE, 14: UNAVAILABLE, 7: BUSY}
# PostgreSQL SQLSTATEs: exact codes first, then classes (the first two characters)
_PG = {"53100": FULL, "25006": READ_ONLY, "40001": BUSY, "40P01": BUSY, "55P03": BUSY}
_PG_CLASSES = {"08": UNAVAILABLE, "57": UNAVAILABLE, "53": UNAVAILABLE}


def fault(exc: BaseException, url: str | None = None) -> str | None:
    """What went wrong with the database itself, if that is what `exc` is: FULL (disk or
    quota), READ_ONLY, UNAVAILABLE (the server is away, the connection was lost, I/O error) or
    BUSY (locked, a deadlock or serialization failure). None: anything else (a bug, bad data),
    which trying again would not mend. The work that met a fault should be tried again later.

    With the SQLite `url`, an I/O error on a file system without a free block is FULL: a full
    disk often surfaces as "disk I/O error" (the WAL index cannot be allocated)."""
    kind = _fault(exc)
    if kind == UNAVAILABLE and url is not None and is_sqlite(url):
        path = make_url(url).database
        if path and path != ":memory:":
            try:
                if os.statvfs(Path(path).resolve().parent).f_bavail == 0:
                    return FULL
            except OSError:
                pass
    return kind


def _fault(exc: BaseException) -> str | None:
    from sqlalchemy import exc as sa_exc

    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        code = getattr(e, "sqlite_errorcode", None)
        if isinstance(code, int) and (code & 0xFF) in _SQLITE:
            return _SQLITE[code & 0xFF]
        state = getattr(e, "sqlstate", None)
        if isinstance(state, str) and state:
            found = _PG.get(state) or _PG_CLASSES.get(state[:2])
            if found:
                return found
        if isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated:
            return UNAVAILABLE
        if isinstance(e, OSError | TimeoutError | sa_exc.TimeoutError):
            return UNAVAILABLE  # refused, reset, unreachable; the pool or a call timed out
        name = type(e).__name__
        if name in ("ConnectionDoesNotExistError", "InternalClientError") or (
            name == "InterfaceError" and "connection" in str(e).lower()
        ):
            return UNAVAILABLE  # asyncpg: a connection lost, or left broken by its loss
        todo += [getattr(e, "orig", None), e.__cause__, e.__context__]
    return None
