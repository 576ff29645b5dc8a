"""Issue 6 #7: the database fails under the bot.

- PostgreSQL restarted under load (a cluster of the test's own): the pool reconnects, the
  workers keep going, and no update is lost: a store that fails answers non-2xx, the platform
  delivers the update again, and each is processed exactly once.
- SQLite: `org import` of a large roster SIGKILLed at several moments of its write; then
  `PRAGMA integrity_check` is ok, no foreign key is broken, and the import is all or nothing;
  run again, it completes.
- A full disk (a small tmpfs filled up; where mounting is not permitted, SQLite's
  `max_page_count`: the same SQLITE_FULL) and a read-only database (`PRAGMA query_only`:
  SQLITE_READONLY, as on a read-only file system; on PostgreSQL `default_transaction_read_only`):
  the command line says so in one Vietnamese line and keeps nothing of the import; the running
  bot answers the webhook non-2xx, logs it once, and processes the redelivered update once when
  the database can be written again. (A full disk on PostgreSQL would need a quota: not tried.)
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import Engine

from bot.app import App
from handlers import texts
from models.db import upgrade
from models.tables import Delivery, InboxUpdate
from tests.conftest import DBS
from tests.support.platforms import TelegramPlatform, free_port, open_platform

PG = [d for d in DBS if d == "postgresql"]
SQLITE = [d for d in DBS if d == "sqlite"]
ROOT = Path(__file__).resolve().parent.parent
E2E_CONFIG = ROOT / "tests" / "data" / "e2e.toml"
STORE_FAILED = "cannot store incoming updates"


def tracebacks(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    return [r for r in records if r.exc_info and r.levelno >= logging.WARNING]


async def wait_leading(app: App) -> None:
    for _ in range(400):
        if app.leadership.leading:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the app never led")


# -- PostgreSQL restarted under load ------------------------------------------------------------
CHATS, PER_CHAT = 100, 3  # 300 updates
STREAM_SECONDS = 6.0  # pushed steadily over this long
RESTART_AT = 2.0  # seconds into the stream
OUTAGE = 2.0  # seconds the server stays down


@pytest.fixture
def own_cluster() -> Iterator[Any]:
    """A PostgreSQL of this test's own: restarting the shared one would break other tests."""
    from tests.support.postgres import PostgresCluster

    cluster = PostgresCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.mark.parametrize("db", PG)
async def test_postgresql_restart_under_load_loses_no_update(
    db: str, own_cluster: Any, caplog: pytest.LogCaptureFixture
) -> None:
    pg = own_cluster
    db_url = pg.create_database("faults")
    await asyncio.to_thread(upgrade, db_url)
    total = CHATS * PER_CHAT
    async with open_platform("telegram") as platform:
        fake = platform.fake
        # Telegram retries an unacknowledged webhook push for hours; here for 60 s.
        fake.webhook_retries, fake.webhook_retry_delay = 600, 0.1
        app = App(platform.config(db_url, "webhook", free_port()))
        await app.start()
        try:
            await wait_leading(app)
            workers = list(app._led)  # the inbox and delivery loops, among others
            assert workers
            engine = app.engine
            sent_by_chat: Counter[int] = Counter()
            window: list[float] = []  # time.time() the restart began, and ended

            async def traffic() -> None:
                began = time.monotonic()
                for n in range(total):
                    chat = 7001 + n % CHATS
                    fake.inject_message(chat, "/trogiup")
                    sent_by_chat[chat] += 1
                    due = began + STREAM_SECONDS * (n + 1) / total
                    await asyncio.sleep(max(0.0, due - time.monotonic()))

            async def restart() -> None:
                await asyncio.sleep(RESTART_AT)
                window.append(time.time())
                await asyncio.to_thread(pg.restart, OUTAGE)
                window.append(time.time())

            await asyncio.gather(traffic(), restart())
            began, back = window

            async def done() -> int:
                async with app.sessions() as s:
                    stmt = select(func.count()).where(InboxUpdate.status == "done")
                    return int(await s.scalar(stmt.select_from(InboxUpdate)) or 0)

            deadline = time.monotonic() + 90
            while await done() < total:
                assert time.monotonic() < deadline, fake.dump()
                await asyncio.sleep(0.2)
            await fake.wait_for(lambda: len(fake.calls("sendMessage")) >= total, timeout=30)
            await fake.drain(timeout=30)
            await asyncio.sleep(0.5)  # a duplicate reply, if any, would show by now

            # The loops of before the restart are the ones still running: none died, the same
            # pool serves, and this process still leads.
            assert [t for t in workers if t.done()] == []
            assert app.engine is engine and app.leadership.leading

            pushes = fake.webhook_deliveries
            refused = [d for d in pushes if not (d.status and d.status < 300)]
            during = [d for d in refused if began - 0.5 <= d.time <= back + 5]
            redelivered = {d.update_id for d in pushes if d.attempt > 1}
            first_ok = min(d.time for d in pushes if d.time > back and d.status == 200)
            print(
                f"\nPostgreSQL restart: {total} updates, server down {back - began:.1f} s, "
                f"{len(refused)} pushes refused ({len(during)} in the restart), "
                f"{len(redelivered)} updates redelivered, stores again {first_ok - back:.2f} s "
                "after the server was back"
            )
            # The precondition: the restart really hit the traffic.
            assert during, "no webhook push was refused during the restart"
            assert redelivered

            async with app.sessions() as s:
                statuses = Counter(await s.scalars(select(InboxUpdate.status)))
                keys = list(await s.scalars(select(InboxUpdate.update_key)))
                replies = list(await s.execute(select(Delivery.dedupe_key, Delivery.status)))
                stuck = await s.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND state LIKE 'idle in transaction%'"
                        # left open, not between two statements of live work right now
                        " AND state_change < now() - interval '2 seconds'"
                    )
                )
            assert statuses == {"done": total}, statuses
            assert len(keys) == len(set(keys)) == total
            assert Counter(status for _, status in replies) == {"sent": total}, replies
            assert set(Counter(key.split(":")[1] for key, _ in replies).values()) == {1}
            got = Counter(int(r["chat_id"]) for r in fake.calls("sendMessage"))
            assert got == sent_by_chat, (got - sent_by_chat, sent_by_chat - got)
            assert stuck == 0  # no transaction left open by a lost connection

            # Logged, not stormed: a few tracebacks, never one per refused push.
            store_errors = [r for r in caplog.records if STORE_FAILED in r.getMessage()]
            assert 1 <= len(store_errors) <= 3, [r.getMessage() for r in store_errors]
            assert len(tracebacks(caplog.records)) <= 12 < len(refused) + 12
        finally:
            await app.stop()


# -- SQLite: SIGKILL in the middle of a bulk write ----------------------------------------------
KILL_ROSTER = 30_000  # members; the WAL grows by some megabytes before the commit
KILL_AT_WAL = (100_000, 1_000_000, 2_000_000)  # bytes of WAL written when the import is killed
PREFIX = "Đảng bộ xã Thử"


def write_roster(path: Path, rows: int, prefix: str = PREFIX) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["Đơn vị", "Họ và tên", "Vai trò"])
        for i in range(rows):
            role = "Bí thư" if i % 50 == 0 else "Đảng viên"
            out.writerow([f"{prefix} {i // 5000}/Chi bộ {i // 50}", f"Nguyễn Văn {i}", role])
    return path


def sqlite_state(path: Path, prefix: str = PREFIX) -> tuple[str, list[Any], int, int]:
    """integrity_check, foreign_key_check, members and units of the generated roster."""
    con = sqlite3.connect(path)
    try:
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        broken = con.execute("PRAGMA foreign_key_check").fetchall()
        units = con.execute(
            "SELECT count(*) FROM org_units WHERE name LIKE ?", (f"{prefix}%",)
        ).fetchone()[0]
        members = con.execute(
            "SELECT count(*) FROM members m JOIN org_units u ON u.id = m.unit_id"
            " JOIN org_units top ON top.parent_id IS NULL AND top.name LIKE ?"
            " AND u.path LIKE top.path || '%'",
            (f"{prefix}%",),
        ).fetchone()[0]
    finally:
        con.close()
    return integrity, broken, members, units


def cli_process(db_path: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LAMTHEO_DATABASE_URL": f"sqlite+aiosqlite:///{db_path}"}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(E2E_CONFIG), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wal_size(db_path: Path) -> int:
    try:
        return os.path.getsize(f"{db_path}-wal")
    except FileNotFoundError:
        return 0


@pytest.mark.parametrize("db", SQLITE)
def test_sigkill_in_the_middle_of_a_roster_import(
    db: str, sqlite_template: Path, tmp_path: Path
) -> None:
    roster = write_roster(tmp_path / "roster.csv", KILL_ROSTER)
    results = []
    for n, threshold in enumerate(KILL_AT_WAL):
        path = tmp_path / f"kill{n}.db"
        shutil.copy(sqlite_template, path)
        proc = cli_process(path, "org", "import", str(roster))
        try:
            deadline = time.monotonic() + 120
            while (size := wal_size(path)) < threshold:
                assert proc.poll() is None, f"the import ended first: {proc.communicate()}"
                assert time.monotonic() < deadline, "the WAL never grew"
                time.sleep(0.002)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            _, err = proc.communicate(timeout=30)
        # The precondition: killed while writing, not after it finished.
        assert proc.returncode == -signal.SIGKILL, (proc.returncode, err)
        integrity, broken, members, units = sqlite_state(path)
        results.append((size, integrity, len(broken), members, units))
        assert integrity == "ok"
        assert broken == []
        # All or nothing: one transaction, and the kill came before its commit.
        assert (members, units) == (0, 0), results
    print(f"\nSIGKILLs (WAL bytes, integrity, broken keys, members, units): {results}")

    # Run again on the last killed database: it completes, with every member.
    proc = cli_process(path, "org", "import", str(roster))
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err.decode()
    integrity, broken, members, units = sqlite_state(path)
    assert (integrity, broken, members) == ("ok", [], KILL_ROSTER), (integrity, broken[:5])
    assert units == KILL_ROSTER // 5000 + (1 if KILL_ROSTER % 5000 else 0)


# -- a full disk, a read-only database --------------------------------------------------------
class Disk:
    """Where the database file lives, and a way to fill it up and free it again.

    A small tmpfs, really filled (SQLite then fails with SQLITE_FULL); where mounting is not
    permitted, SQLite's `max_page_count` pinned to the file's size on every new connection: the
    same SQLITE_FULL. `read_only` instead: `PRAGMA query_only` on every new connection
    (SQLITE_READONLY, the error a read-only file system gives too)."""

    def __init__(self, folder: Path, how: str) -> None:
        """how: "full" (a tmpfs, else max_page_count), "full_pages" (max_page_count),
        "read_only"."""
        self.folder = folder
        self.fault = "read_only" if how == "read_only" else "full"
        self.mounted = False
        self.broken = False
        folder.mkdir(parents=True, exist_ok=True)
        if how == "full":
            done = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(folder)],
                capture_output=True,
            )
            self.mounted = done.returncode == 0
        self.how = (
            "tmpfs" if self.mounted else "max_page_count" if self.fault == "full" else "query_only"
        )

    def hook(self, dbapi_conn: Any, _record: Any) -> None:
        if not self.broken or self.mounted:
            return
        cur = dbapi_conn.cursor()
        if self.fault == "full":
            cur.execute("PRAGMA page_count")
            pages = cur.fetchone()[0]
            cur.execute(f"PRAGMA max_page_count = {int(pages)}")
        else:
            cur.execute("PRAGMA query_only = ON")
        cur.close()

    def break_(self, db_path: Path | None = None) -> None:
        self.broken = True
        if self.mounted:
            if db_path is not None:
                # An empty WAL: the next commit needs new blocks (a WAL that has been written
                # and checkpointed is overwritten in place, and would take a few more commits).
                con = sqlite3.connect(db_path)
                busy = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                con.close()
                assert busy[0] == 0 and wal_size(db_path) == 0, busy
            filler = self.folder / "filler"
            with filler.open("wb", buffering=0) as f, contextlib.suppress(OSError):
                while f.write(b"\0" * 4096):
                    pass
            stat = os.statvfs(self.folder)
            assert stat.f_bavail == 0, "the tmpfs is not full"

    def mend(self) -> None:
        self.broken = False
        (self.folder / "filler").unlink(missing_ok=True)

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.folder)], capture_output=True)
            self.mounted = False


FAULTS = ["full", "full_pages", "read_only"]


@pytest.fixture
def disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Disk]:
    d = Disk(tmp_path / "disk", request.param)
    try:
        yield d
    finally:
        d.close()


def vacuumed_copy(template: Path, path: Path) -> None:
    """The migrated database without free pages, so new rows need new pages."""
    shutil.copy(template, path)
    con = sqlite3.connect(path)
    con.execute("VACUUM")
    con.close()


@pytest.mark.parametrize("db", SQLITE)
@pytest.mark.parametrize("disk", FAULTS, indirect=True)
def test_cli_import_on_a_full_or_read_only_disk(
    db: str,
    disk: Disk,
    sqlite_template: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot import cli

    path = disk.folder / "lamtheo.db"
    vacuumed_copy(sqlite_template, path)
    roster = write_roster(tmp_path / "roster.csv", 3000)
    monkeypatch.setenv("LAMTHEO_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    argv = ["--config", str(E2E_CONFIG), "org", "import", str(roster)]
    event.listen(Engine, "connect", disk.hook)
    try:
        disk.break_()
        code = cli.main(argv)
        err = capsys.readouterr().err
        disk.mend()
    finally:
        event.remove(Engine, "connect", disk.hook)
    print(f"\n{disk.fault} ({disk.how}): exit {code}: {err.strip()}")
    assert code == 1
    assert err.strip() == texts.CLI_DB_FAULTS[disk.fault], err
    assert "Traceback" not in err
    integrity, broken, members, units = sqlite_state(path)
    assert (integrity, broken, members, units) == ("ok", [], 0, 0)

    # Writable again: the same command completes.
    assert cli.main(argv) == 0, capsys.readouterr().err
    assert sqlite_state(path)[2] == 3000


@pytest.mark.parametrize("db", PG)
def test_cli_import_on_a_read_only_postgresql(
    db: str,
    pg_cluster: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """As on a hot standby: every transaction is read-only (SQLSTATE 25006)."""
    from bot import cli

    name = f"t_{uuid.uuid4().hex[:12]}"
    db_url = pg_cluster.create_database(name, template="lamtheo_template")
    roster = write_roster(tmp_path / "roster.csv", 3000)
    monkeypatch.setenv("LAMTHEO_DATABASE_URL", db_url)
    argv = ["--config", str(E2E_CONFIG), "org", "import", str(roster)]
    try:
        pg_cluster.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        code = cli.main(argv)
        err = capsys.readouterr().err
        pg_cluster.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
        print(f"\nread-only PostgreSQL: exit {code}: {err.strip()}")
        assert code == 1
        assert err.strip() == texts.CLI_DB_FAULTS["read_only"], err
        assert cli.main(argv) == 0, capsys.readouterr().err  # writable again: it completes
    finally:
        pg_cluster.drop_database(name)


# -- the running bot on a full or read-only disk ------------------------------------------------
@pytest.fixture
async def telegram() -> AsyncIterator[TelegramPlatform]:
    async with open_platform("telegram") as opened:
        yield opened


@pytest.mark.parametrize("db", SQLITE)
@pytest.mark.parametrize("disk", FAULTS, indirect=True)
async def test_the_bot_on_a_full_or_read_only_disk(
    db: str,
    disk: Disk,
    sqlite_template: Path,
    telegram: TelegramPlatform,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = telegram.fake
    fake.webhook_retries, fake.webhook_retry_delay = 600, 0.1
    path = disk.folder / "lamtheo.db"
    vacuumed_copy(sqlite_template, path)
    app = App(telegram.config(f"sqlite+aiosqlite:///{path}", "webhook", free_port()))
    event.listen(app.engine.sync_engine, "connect", disk.hook)
    await app.start()
    try:
        await wait_leading(app)
        first, second = 8001, 8002
        fake.inject_message(first, "/trogiup")
        await fake.wait_messages(first, 1)  # it works before the fault

        await asyncio.sleep(0.5)  # its delivery recorded: the database is idle
        disk.break_(path)
        await app.engine.dispose()  # new connections: the hook applies
        caplog.clear()
        # A long message: its row needs new pages (and on tmpfs, new WAL frames).
        long_text = "Tôi xin gửi ý kiến về nghị quyết. " * 60
        update = fake.inject_message(second, long_text)
        uid = int(update["update_id"])

        def refused() -> list[Any]:
            return [d for d in fake.webhook_deliveries if d.update_id == uid and d.status != 200]

        await fake.wait_for(lambda: len(refused()) >= 5, timeout=30)
        # The precondition: the fault is the one meant, and the update is not in the inbox.
        store_errors = [r for r in caplog.records if STORE_FAILED in r.getMessage()]
        assert len(store_errors) == 1, [r.getMessage() for r in store_errors]
        assert f"({disk.fault}: " in store_errors[0].getMessage(), store_errors[0].getMessage()
        assert all(d.status and d.status >= 500 for d in refused())
        assert len(tracebacks(caplog.records)) == 1  # once, not per refused push

        disk.mend()
        await app.engine.dispose()
        msgs = await fake.wait_messages(second, 1, timeout=30)
        await fake.drain(timeout=30)
        await asyncio.sleep(0.5)  # a second reply, if any, would show by now
        print(
            f"\n{disk.fault} ({disk.how}): {len(refused())} pushes refused, then "
            f"stored and answered once"
        )
        assert len(fake.messages_to(second)) == len(msgs) == 1
        async with app.sessions() as s:
            rows = list(await s.execute(select(InboxUpdate.update_key, InboxUpdate.status)))
        assert sorted(rows) == sorted([(str(uid - 1), "done"), (str(uid), "done")]), rows
        assert any("stored again" in r.getMessage() for r in caplog.records)
    finally:
        await app.stop()
    integrity, broken, _, _ = sqlite_state(path)
    assert (integrity, broken) == ("ok", [])
