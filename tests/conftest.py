"""Shared fixtures: every database test runs on SQLite and on a throwaway PostgreSQL.

LAMTHEO_TEST_DBS=sqlite (or postgresql) narrows the run while developing; `make test` runs both.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from models.db import create_engine, session_factory, upgrade
from tests.fakes import telegram_api, zalo_bot_api
from tests.support import platforms
from tests.support.secrets_scan import Scanner, known

DBS = [d for d in os.environ.get("LAMTHEO_TEST_DBS", "sqlite,postgresql").split(",") if d]
SCANNER = Scanner()


def pytest_configure(config: pytest.Config) -> None:
    """Read every INFO+ log record of the suite for secrets (see tests/support/secrets_scan)."""
    root = logging.getLogger()
    root.addHandler(SCANNER)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    known(
        telegram_api.DEFAULT_TOKEN,
        zalo_bot_api.DEFAULT_TOKEN,
        platforms.TELEGRAM_SECRET,
        platforms.ZALO_BOT_SECRET,
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if SCANNER.leaks:
        print(f"\n{len(SCANNER.leaks)} log lines carried a secret:", *SCANNER.leaks[:20], sep="\n")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once; each test gets a copy of the migrated file."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[object]:
    from tests.support.postgres import PostgresCluster

    cluster = PostgresCluster().start()
    cluster.create_database("lamtheo_template")
    upgrade(cluster.dsn("lamtheo_template"))
    yield cluster
    cluster.stop()


@pytest.fixture(params=DBS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "lamtheo.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    cluster = request.getfixturevalue("pg_cluster")
    name = f"t_{uuid.uuid4().hex[:12]}"
    cluster.create_database(name, template="lamtheo_template")  # type: ignore[attr-defined]
    yield cluster.dsn(name)  # type: ignore[attr-defined]
    cluster.drop_database(name)  # type: ignore[attr-defined]


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
def roster_codes(db_url: str) -> dict[str, str]:
    """The example roster imported with the real CLI; each member's personal invite code."""
    from tests.support.operator import cli, invite_codes

    assert cli(db_url, "org", "import", "examples/roster.csv").returncode == 0
    return invite_codes(db_url)[0]
