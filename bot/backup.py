"""python -m bot db backup / restore: a consistent copy of the database, and putting one back.

- **SQLite**: the backup is made with the online backup API of the stdlib sqlite3 module, in one
  step under a read transaction: consistent while the bot runs (WAL: it keeps writing). The copy
  is a single file (journal mode DELETE), checked, then renamed into place. A restore copies the
  backup into a temp file next to the database, checks it (PRAGMA integrity_check, and that it
  is a lamtheo database), then renames it over the database: the database is either the old
  one or the whole backup, never half of each.
- **PostgreSQL**: `pg_dump -Fc`; a restore is `pg_restore --clean --if-exists --no-owner`. The
  archive is first turned into SQL in full (a damaged or truncated archive fails there, before
  the database is touched), then applied by psql in one transaction that first drops the bot's
  tables (a table or constraint made by a newer migration would otherwise block the --clean
  drops through its foreign keys): on any error, nothing changes. The programs are found on PATH or
  in /usr/lib/postgresql/N/bin (the newest); the connection comes from the database URL through
  PG* environment variables (the password never on a command line).

Backups hold personal data: files are created readable by their owner only. The caller runs the
migrations after a restore, so a backup made by an older version is upgraded.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.cli_common import UserError
from handlers import texts
from models.db import create_engine, is_sqlite
from models.tables import Assessment, Base, Delivery, Member, Pledge

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"
PG_TIMEOUT = 6 * 3600  # seconds; a big database takes a while, a hung server must not hang us
# A table entry of `pg_restore --list`: "218; 1259 16394 TABLE public members postgres".
_TOC_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (\S+) (\S+) ")


@dataclass(frozen=True)
class Counts:
    members: int = 0  # active ones
    pledges: int = 0
    assessments: int = 0
    deliveries: int = 0
    empty: bool = True  # no row in any of the bot's tables (the migrations' own table aside)


def describe(url: str) -> str:
    """The database for a message: the SQLite file, or the URL without its password."""
    if is_sqlite(url):
        return str(_sqlite_path(url))
    return make_url(url).render_as_string(hide_password=True)


# -- counting -----------------------------------------------------------------------------------


async def counts(url: str) -> Counts:
    """What the database holds; a SQLite file that does not exist holds nothing."""
    if is_sqlite(url) and not _sqlite_path(url).exists():
        return Counts()
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            present = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            empty = True
            for table in Base.metadata.sorted_tables:
                if table.name in present:
                    row = await conn.execute(select(text("1")).select_from(table).limit(1))
                    if row.first() is not None:
                        empty = False
                        break
            if empty:
                return Counts()
            found = {}
            for name, stmt in (
                ("members", select(func.count()).where(Member.active.is_(True))),
                ("pledges", select(func.count()).select_from(Pledge)),
                ("assessments", select(func.count()).select_from(Assessment)),
                ("deliveries", select(func.count()).select_from(Delivery)),
            ):
                if name in present:
                    found[name] = int(await conn.scalar(stmt) or 0)
            return Counts(**found, empty=False)
    except (OSError, SQLAlchemyError) as e:
        raise UserError(texts.CLI_DB_ERROR.format(error=_first_line(str(e)))) from None
    finally:
        await engine.dispose()


# -- backup -------------------------------------------------------------------------------------


def backup(url: str, out: Path) -> int:
    """Write a backup of the database to `out` (replaced if it exists); returns its size."""
    with _temp_next_to(out) as tmp:
        if is_sqlite(url):
            _sqlite_backup(_sqlite_path(url), tmp)
        else:
            _pg_backup(url, tmp)
        _fsync(tmp)
        os.replace(tmp, out)
    _fsync_dir(out.parent)
    return out.stat().st_size


def _sqlite_backup(db: Path, tmp: Path) -> None:
    if not db.is_file():
        raise UserError(texts.CLI_BACKUP_NO_DB.format(path=db))
    try:
        src = sqlite3.connect(db, timeout=30)
        try:
            dst = sqlite3.connect(tmp)
            try:
                src.backup(dst)  # one step: a consistent snapshot
                dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
                problem = _integrity_problem(dst)
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as e:
        raise UserError(texts.CLI_BACKUP_FAILED.format(error=e)) from None
    if problem:
        raise UserError(texts.CLI_BACKUP_FAILED.format(error=problem))


def _pg_backup(url: str, tmp: Path) -> None:
    env, _ = pg_environment(url)
    _run_pg(
        [find_pg_bin("pg_dump"), "--format=custom", "--no-password", "--file", str(tmp)],
        env,
        texts.CLI_BACKUP_FAILED,
    )


# -- restore ------------------------------------------------------------------------------------


def check_file(url: str, file: Path) -> None:
    """A quick look before anything else: the file is a backup of the database's kind."""
    try:
        with file.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError:
        raise _bad_file(file, "unreadable") from None
    if is_sqlite(url) and not head.startswith(SQLITE_MAGIC):
        raise _bad_file(file, "not_sqlite")
    if not is_sqlite(url) and not head.startswith(PG_MAGIC):
        raise _bad_file(file, "not_pg")


def restore(url: str, file: Path) -> None:
    """Replace the database's content with the backup's. A bad backup changes nothing."""
    check_file(url, file)
    if is_sqlite(url):
        _sqlite_restore(_sqlite_path(url), file)
    else:
        _pg_restore(url, file)


def _sqlite_restore(db: Path, file: Path) -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    with _temp_next_to(db) as tmp:
        try:
            # immutable: read the backup as a plain file (no lock, no -shm beside it)
            src = sqlite3.connect(f"file:{quote(str(file.resolve()))}?immutable=1", uri=True)
            try:
                dst = sqlite3.connect(tmp)
                try:
                    src.backup(dst)
                    dst.execute("PRAGMA journal_mode=DELETE")
                    problem = _integrity_problem(dst)
                    tables = {r[0] for r in dst.execute("SELECT name FROM sqlite_master")}
                finally:
                    dst.close()
            finally:
                src.close()
        except sqlite3.DatabaseError:
            raise _bad_file(file, "corrupt") from None
        if problem:
            raise _bad_file(file, "corrupt")
        if not {"alembic_version", "members"} <= tables:
            raise _bad_file(file, "not_lamtheo")
        _fsync(tmp)
        if db.exists():
            # Fold the old database's write-ahead log in, so nothing of it is left beside the
            # new file to be replayed into it.
            with contextlib.suppress(sqlite3.Error):
                old = sqlite3.connect(db, timeout=30)
                try:
                    old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                finally:
                    old.close()
        os.replace(tmp, db)
    for suffix in ("-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{db}{suffix}").unlink()
    _fsync_dir(db.parent)


def _integrity_problem(conn: sqlite3.Connection) -> str | None:
    rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    return None if rows == ["ok"] else "; ".join(str(r) for r in rows[:3])


def _pg_restore(url: str, file: Path) -> None:
    env, _ = pg_environment(url)
    pg_restore = find_pg_bin("pg_restore")
    try:
        listing = subprocess.run(
            [pg_restore, "--list", str(file)],
            capture_output=True,
            text=True,
            timeout=PG_TIMEOUT,
            check=False,
        )
    except OSError as e:
        raise UserError(texts.CLI_RESTORE_FAILED.format(error=e)) from None
    if listing.returncode != 0:
        raise _bad_file(file, "corrupt")
    in_backup = {
        m.group(2) for m in map(_TOC_TABLE.match, listing.stdout.splitlines()) if m is not None
    }
    if not {"alembic_version", "members"} <= in_backup:
        raise _bad_file(file, "not_lamtheo")
    # Every table of ours goes first: tables or constraints a newer migration added would block
    # the --clean drops (their foreign keys depend on the backup's tables). Tables that are
    # neither the bot's nor the backup's stay.
    ours = in_backup | set(Base.metadata.tables) | {"alembic_version"}
    drop = _pg_tables(url) & ours
    workdir = Path(tempfile.mkdtemp(prefix="lamtheo-restore-"))  # mode 700
    try:
        script = workdir / "restore.sql"
        with script.open("w", encoding="utf-8") as f:
            for name in sorted(drop):
                f.write(f"DROP TABLE IF EXISTS {_quote_ident(name)} CASCADE;\n")
            f.flush()
            try:
                made = subprocess.run(
                    [pg_restore, "--clean", "--if-exists", "--no-owner", "--file=-", str(file)],
                    stdout=f,
                    stderr=subprocess.PIPE,
                    text=True,
                    timeout=PG_TIMEOUT,
                    check=False,
                )
            except OSError as e:
                raise UserError(texts.CLI_RESTORE_FAILED.format(error=e)) from None
        if made.returncode != 0:
            raise _bad_file(file, "corrupt")
        psql = [
            find_pg_bin("psql"),
            "--no-psqlrc",
            "--no-password",
            "--quiet",
            "--single-transaction",
            "--set=ON_ERROR_STOP=1",
            "--file",
            str(script),
        ]
        _run_pg(psql, env, texts.CLI_RESTORE_FAILED)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _pg_tables(url: str) -> set[str]:
    """The tables of the database's current schema (psql: no asyncio in this path)."""
    env, _ = pg_environment(url)
    query = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    done = _run_pg(
        [
            find_pg_bin("psql"),
            "--no-psqlrc",
            "--no-password",
            "--tuples-only",
            "--no-align",
            "--command",
            query,
        ],
        env,
        texts.CLI_RESTORE_FAILED,
    )
    return {line.strip() for line in done.splitlines() if line.strip()}


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -- PostgreSQL programs --------------------------------------------------------------------------


def find_pg_bin(name: str) -> str:
    """Path of a PostgreSQL program: PATH first, then Debian's /usr/lib/postgresql/N/bin (the
    newest version), as tests/support/postgres.py finds the server's."""
    found = shutil.which(name)
    if found:
        return found

    def version(path: str) -> float:
        m = re.search(r"/postgresql/([0-9.]+)/", path)
        return float(m.group(1)) if m else 0.0

    candidates = [
        c
        for c in glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
        + glob.glob(f"/usr/local/pgsql/bin/{name}")
        if os.access(c, os.X_OK)
    ]
    if candidates:
        return max(candidates, key=version)
    raise UserError(texts.CLI_PG_TOOL_MISSING.format(name=name))


def pg_environment(url: str) -> tuple[dict[str, str], URL]:
    """The environment for pg_dump, pg_restore and psql: the connection as PG* variables, so no
    password appears in a process list. Variables the URL does not set are inherited."""
    parsed = make_url(url)
    env = dict(os.environ)
    query = {k: v if isinstance(v, str) else v[-1] for k, v in parsed.query.items()}
    settings = {
        "PGHOST": query.get("host") or parsed.host,
        "PGPORT": query.get("port") or (str(parsed.port) if parsed.port else None),
        "PGUSER": query.get("user") or parsed.username,
        "PGPASSWORD": query.get("password") or parsed.password,
        "PGDATABASE": parsed.database,
        "PGSSLMODE": query.get("sslmode") or query.get("ssl"),
        "PGAPPNAME": "lamtheo-backup",
    }
    for key, value in settings.items():
        if value:
            env[key] = str(value)
    return env, parsed


def _run_pg(cmd: list[str], env: dict[str, str], failed: str) -> str:
    try:
        done = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=PG_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise UserError(failed.format(error=e)) from None
    if done.returncode != 0:
        raise UserError(failed.format(error=_first_error(done.stderr)))
    return done.stdout


def _first_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower() or "fatal" in line.lower()]
    return (errors or lines or ["?"])[0]


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else message


# -- files ------------------------------------------------------------------------------------


def _sqlite_path(url: str) -> Path:
    path = make_url(url).database
    if not path or path == ":memory:":
        raise UserError(texts.CLI_BACKUP_NO_DB.format(path=path or ":memory:"))
    return Path(path)


@contextlib.contextmanager
def _temp_next_to(target: Path) -> Iterator[Path]:
    """An empty file (owner-only) in the target's folder, so the final rename is atomic; removed
    unless the caller renamed it into place."""
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError as e:
        raise UserError(texts.CLI_CANNOT_WRITE.format(path=target, error=e)) from None
    os.close(fd)
    try:
        yield tmp
    finally:
        for path in (tmp, Path(f"{tmp}-journal"), Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _bad_file(file: Path, reason: str) -> UserError:
    return UserError(
        texts.CLI_RESTORE_BAD_FILE.format(path=file, reason=texts.CLI_RESTORE_REASONS[reason])
    )


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        _fsync(path)
