"""One leader among the bot processes that share a database.

Two processes started by mistake (or a standby on purpose) must not both poll a platform, plan
reminders or send: only the leader does. Every process serves webhooks, because storing an
update is safe anywhere (keyed by its platform id); the leader processes it.

What makes a leader depends on the database:
- **PostgreSQL** (processes may be on several hosts): the "main" row of the leases table
  (models/leases.py). The leader renews it every third of `lease_seconds`; the lease it writes
  runs `EXPIRY_SHARE` of that, and a standby asks every tenth, so a leader killed at any moment
  is replaced within 90% of `lease_seconds`. A leader that cannot renew (the database is away,
  or does not answer) steps down at `STEP_DOWN_SHARE`, before its lease can have run out, so
  two never lead at once; it leads again once it can take the lease back. Lease times come
  from each process's clock: hosts need synchronised clocks (NTP), and the margin between
  stepping down and expiry is what absorbs a skew.
- **SQLite** (one file, so one host): an exclusive lock (flock) on a file beside the database.
  The kernel releases it the moment its process dies, and taking it writes nothing, so a busy
  database never delays it (SQLite has one writer; a lease row would queue behind a broadcast).

A clean stop gives the lease up: the standby takes over at its next look.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import leases

log = logging.getLogger(__name__)

LEASE = "main"
EXPIRY_SHARE = 0.8  # of lease_seconds: a standby looks again at most lease/10 after expiry
RENEW_SHARE = 1 / 3  # how often the leader renews
LOOK_SHARE = 1 / 10  # how often a standby looks
STEP_DOWN_SHARE = 0.7  # a leader unable to renew this long (since its last renewal began) stops


class Claim(Protocol):
    async def take(self) -> bool:
        """Take or keep the leadership; False while another process has it."""

    async def release(self) -> None: ...


class TableLease:
    """The leases table's "main" row (PostgreSQL, or SQLite in the tests of the lease itself)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime],
        holder: str,
        ttl: timedelta,
    ) -> None:
        self.sessions, self.clock, self.holder, self.ttl = sessions, clock, holder, ttl

    async def take(self) -> bool:
        async with self.sessions() as session, session.begin():
            return await leases.take(session, LEASE, self.holder, now=self.clock(), ttl=self.ttl)

    async def release(self) -> None:
        async with self.sessions() as session, session.begin():
            await leases.release(session, LEASE, self.holder)


class FileLock:
    """An exclusive flock on `path`, held for as long as the file stays open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    async def take(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None


def claim_for(
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
    clock: Callable[[], datetime],
    holder: str,
    lease_seconds: float,
) -> Claim:
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return FileLock(Path(f"{url.database}.leader"))
    return TableLease(sessions, clock, holder, timedelta(seconds=lease_seconds * EXPIRY_SHARE))


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Leadership:
    def __init__(
        self,
        claim: Claim,
        *,
        lease_seconds: float,
        on_elected: Callable[[], Awaitable[None]],
        on_deposed: Callable[[], Awaitable[None]],
        holder: str = "",
    ) -> None:
        self.claim, self.lease_seconds = claim, lease_seconds
        self.on_elected, self.on_deposed = on_elected, on_deposed
        self.holder = holder or holder_name()
        self.leading = False
        self._renewed = 0.0  # time.monotonic() when the last successful renewal began

    async def run(self) -> None:
        """Take or renew the lease for as long as the process runs; give it up when stopped."""
        try:
            while True:
                renewed = await self.step()
                share = RENEW_SHARE if renewed else LOOK_SHARE  # a failed renewal: retry soon
                await asyncio.sleep(self.lease_seconds * share)
        finally:
            if self.leading:
                self.leading = False
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._release())

    async def step(self) -> bool:
        """One look: become leader, stay leader, or step down. True if this process leads."""
        began = time.monotonic()
        # A leader's attempt may take only until it must step down (a hung database call
        # must not keep it leading past its lease).
        deadline = self._renewed + self.lease_seconds * STEP_DOWN_SHARE
        patience = max(0.05, deadline - began) if self.leading else self.lease_seconds
        try:
            held = await asyncio.wait_for(self.claim.take(), patience)
        except Exception as exc:
            if self.leading and time.monotonic() >= deadline:
                log.error("cannot renew the lease (%r): this process stops leading", exc)
                await self._depose()
            else:
                log.warning("cannot reach the database for the lease: %r", exc)
            return False
        if held:
            self._renewed = began
            if not self.leading:
                self.leading = True
                log.info("this process leads (%s)", self.holder)
                await self.on_elected()
        elif self.leading:
            log.error("another process took the lease: this process stops leading")
            await self._depose()
        return held

    async def _depose(self) -> None:
        self.leading = False
        await self.on_deposed()

    async def _release(self) -> None:
        try:
            await self.claim.release()
            log.info("lease given up (%s)", self.holder)
        except Exception:
            log.exception("could not give the lease up; it expires by itself")
