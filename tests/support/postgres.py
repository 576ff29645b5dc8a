"""A throwaway PostgreSQL cluster for tests and benchmarks.

``with PostgresCluster() as pg: engine = create_async_engine(pg.dsn("postgres"))``

The cluster lives in a temp dir, listens on 127.0.0.1 on a free port with trust auth and
durability switched off (fsync, synchronous_commit, full_page_writes) for speed.  PostgreSQL
refuses to run as root, so as root the server runs as the ``postgres`` system user (created if
missing) via ``runuser``.  Clean-up is guaranteed three ways: ``stop()``, an ``atexit`` hook, and
a watchdog process that stops the server and deletes the dir if this process dies without
either (SIGKILL, SIGTERM).
"""

from __future__ import annotations

import asyncio
import atexit
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import suppress
from pathlib import Path
from types import TracebackType

PG_USER = "postgres"
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_$-]{0,62}")

# Runs in a separate process: waits for EOF on stdin (our pipe closes when the parent dies,
# however it dies), then stops the server and removes the dir if they are still there.
_WATCHDOG = """
import os, shutil, signal, subprocess, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
sys.stdin.buffer.read()
base, cmd = sys.argv[1], sys.argv[2:]
if os.path.isdir(base):
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    shutil.rmtree(base, ignore_errors=True)
"""


def find_pg_bin(name: str) -> str:
    """Path of a PostgreSQL program: PATH first, then Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = glob.glob(f"/usr/lib/postgresql/*/bin/{name}") + glob.glob(
        f"/usr/local/pgsql/bin/{name}"
    )

    def version(path: str) -> float:
        m = re.search(r"/postgresql/([0-9.]+)/", path)
        return float(m.group(1)) if m else 0.0

    candidates = [c for c in candidates if os.access(c, os.X_OK)]
    if candidates:
        return max(candidates, key=version)
    raise RuntimeError(
        f"PostgreSQL program {name!r} not found on PATH nor in /usr/lib/postgresql/*/bin; "
        "install the server (e.g. `apt-get install postgresql`) to run PostgreSQL tests"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _quote_ident(name: str) -> str:
    if not _IDENT_RE.fullmatch(name):
        raise ValueError(f"unsafe database name: {name!r}")
    return '"' + name + '"'


class PostgresCluster:
    """A private PostgreSQL server; ``start()`` it, use ``dsn()``, ``stop()`` it."""

    def __init__(self, *, base_dir: str | None = None, start_timeout: float = 60.0) -> None:
        self._base_parent = base_dir
        self._start_timeout = start_timeout
        self.base_dir: Path | None = None
        self.port = 0
        self._as_root = os.geteuid() == 0
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._lock = threading.RLock()  # start() calls stop() on failure

    # --- paths -----------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        assert self.base_dir is not None, "cluster not started"
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.base_dir is not None, "cluster not started"
        return self.base_dir / "sock"

    @property
    def log_file(self) -> Path:
        assert self.base_dir is not None, "cluster not started"
        return self.base_dir / "server.log"

    @property
    def running(self) -> bool:
        return self.base_dir is not None and self.port != 0

    def dsn(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL (asyncpg driver)."""
        return f"postgresql+asyncpg://{PG_USER}@127.0.0.1:{self.port}/{dbname}"

    def raw_dsn(self, dbname: str = "postgres") -> str:
        """libpq-style URL, for asyncpg.connect() or psql."""
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{dbname}"

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> PostgresCluster:
        with self._lock:
            if self.running:
                return self
            initdb, pg_ctl = find_pg_bin("initdb"), find_pg_bin("pg_ctl")
            find_pg_bin("postgres")  # fail early and clearly if only part is installed
            if self._as_root:
                self._ensure_pg_user()
            self.base_dir = Path(tempfile.mkdtemp(prefix="lamtheo-pg-", dir=self._base_parent))
            try:
                self.socket_dir.mkdir()
                if self._as_root:
                    pw = pwd.getpwnam(PG_USER)
                    for path in (self.base_dir, self.socket_dir):
                        os.chown(path, pw.pw_uid, pw.pw_gid)
                self._run(
                    [
                        initdb,
                        "-D",
                        str(self.data_dir),
                        "-U",
                        PG_USER,
                        "-A",
                        "trust",
                        "-E",
                        "UTF8",
                        "--locale=C",
                        "--no-sync",
                    ]
                )
                self._start_watchdog(pg_ctl)
                atexit.register(self.stop)
                self._start_server(pg_ctl)
            except BaseException:
                self.stop()
                raise
            return self

    def stop(self) -> None:
        """Stop the server at once (-m immediate) and delete its directory. Idempotent."""
        with self._lock:
            atexit.unregister(self.stop)
            base = self.base_dir
            if base is None:
                return
            if (self.data_dir / "postmaster.pid").exists():
                with suppress(OSError, RuntimeError, subprocess.TimeoutExpired):
                    self._run(
                        [
                            find_pg_bin("pg_ctl"),
                            "-D",
                            str(self.data_dir),
                            "-m",
                            "immediate",
                            "-w",
                            "stop",
                        ],
                        check=False,
                    )
            shutil.rmtree(base, ignore_errors=True)
            self.base_dir, self.port = None, 0
            if self._watchdog is not None:
                assert self._watchdog.stdin is not None
                self._watchdog.stdin.close()  # nothing left to clean: it exits at once
                with suppress(OSError, RuntimeError, subprocess.TimeoutExpired):
                    self._watchdog.wait(timeout=10)
                self._watchdog = None

    def restart(self, pause: float = 0.0, mode: str = "fast") -> None:
        """Stop the server (`pg_ctl stop -m mode`: every session is ended), wait `pause`
        seconds, start it again on the same port and data. Blocks: from a running event loop,
        call it through asyncio.to_thread."""
        assert self.running, "cluster not started"
        pg_ctl = find_pg_bin("pg_ctl")
        self._run([pg_ctl, "-D", str(self.data_dir), "-m", mode, "-w", "stop"])
        time.sleep(pause)
        self._run(
            [
                pg_ctl,
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                str(int(self._start_timeout)),
                "start",
            ]
        )

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- databases -------------------------------------------------------------------------

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create ``name`` (optionally from ``template``); returns its dsn()."""
        sql = f"CREATE DATABASE {_quote_ident(name)}"
        if template:
            sql += f" TEMPLATE {_quote_ident(template)}"
        # Copying a template needs it to have no sessions; a pool that was just disposed may
        # still be closing its connections, so retry that one error for a few seconds.
        for attempt in range(50):
            try:
                self.execute(sql)
                break
            except Exception as exc:
                if "is being accessed by other users" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.1)
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        # FORCE ends connections a test left open, which would otherwise block the drop.
        self.execute(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")

    def execute(self, sql: str, dbname: str = "postgres") -> None:
        """Run one statement, synchronously, whether or not an event loop is running.

        asyncpg in a short-lived thread with its own loop: works from sync code and from
        inside a running loop alike, and needs no psql or runuser (TCP + trust auth).
        """
        assert self.running, "cluster not started"
        error: list[BaseException] = []

        async def run() -> None:
            # The project's driver; imported lazily to keep importing this module cheap.
            import asyncpg  # type: ignore[import-untyped]

            conn = await asyncpg.connect(self.raw_dsn(dbname), timeout=30)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        def target() -> None:
            try:
                asyncio.run(run())
            except BaseException as exc:
                error.append(exc)

        thread = threading.Thread(target=target, name="pg-execute")
        thread.start()
        thread.join()
        if error:
            raise error[0]

    # --- internals -------------------------------------------------------------------------

    def _as_pg(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", PG_USER, "--", *cmd] if self._as_root else cmd

    def _run(self, cmd: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        env.pop("PGDATA", None)
        proc = subprocess.run(
            self._as_pg(cmd),
            capture_output=True,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=self._start_timeout + 30,
            cwd="/",
        )
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    @staticmethod
    def _ensure_pg_user() -> None:
        try:
            pwd.getpwnam(PG_USER)
        except KeyError:
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--user-group",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    PG_USER,
                ],
                check=True,
                capture_output=True,
            )

    def _start_server(self, pg_ctl: str) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            "shared_buffers": "64MB",
            "logging_collector": "off",
            "log_min_messages": "warning",
        }
        # A free port can be taken between probing and binding: retry with another.
        for attempt in range(3):
            self.port = _free_port()
            conf = "".join(f"{k} = {v}\n" for k, v in {**settings, "port": str(self.port)}.items())
            (self.data_dir / "postgresql.auto.conf").write_text(conf)
            self.log_file.unlink(missing_ok=True)
            proc = self._run(
                [
                    pg_ctl,
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-w",
                    "-t",
                    str(int(self._start_timeout)),
                    "start",
                ],
                check=False,
            )
            if proc.returncode == 0:
                return
            log = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
            if ("could not bind" not in log and "already in use" not in log) or attempt == 2:
                self.port = 0
                raise RuntimeError(
                    f"PostgreSQL did not start ({proc.returncode}):\n"
                    f"{proc.stdout}{proc.stderr}\n--- server log ---\n{log}"
                )

    def _start_watchdog(self, pg_ctl: str) -> None:
        assert self.base_dir is not None
        stop_cmd = self._as_pg([pg_ctl, "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"])
        # New session: a Ctrl-C aimed at the test run must not kill the watchdog first.
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(self.base_dir), *stop_cmd],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
