"""The planning tick: APScheduler runs it every few minutes; it plans, it never sends.

On PostgreSQL a transaction-level advisory lock makes one process plan at a time (the dedupe
keys would make a second planner harmless, but it would be wasted work). A bot that was down
across a fire time catches up on its first tick: plan_due() looks at what is due now.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.reminders import plan_due
from handlers.settings import Settings

log = logging.getLogger(__name__)

LOCK_KEY = 0x6C616D74  # "lamt": the planner's advisory lock on PostgreSQL


async def tick(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> Counter[str]:
    async with sessions() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            got = await session.scalar(
                text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_KEY}
            )
            if not got:
                return Counter()  # another process is planning right now
        return await plan_due(session, now, settings)


class Scheduler:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        clock: Callable[[], datetime],
        on_planned: Callable[[], None],
        every_minutes: int = 5,
    ) -> None:
        self.sessions, self.settings, self.clock = sessions, settings, clock
        self.on_planned = on_planned
        self._scheduler = AsyncIOScheduler(timezone=settings.timezone)
        self._scheduler.add_job(
            self.run_once,
            CronTrigger(minute=f"*/{every_minutes}", timezone=settings.timezone),
            coalesce=True,
            max_instances=1,
            misfire_grace_time=3600,
            # A first tick at start catches up after downtime. APScheduler keeps real time;
            # only the planning reads the (injectable) clock.
            next_run_time=datetime.now(UTC),
        )

    async def run_once(self) -> Counter[str]:
        try:
            planned = await tick(self.sessions, self.settings, self.clock())
        except Exception:
            log.exception("planning tick failed")
            return Counter()
        if planned:
            log.info("planned %s", dict(planned))
            self.on_planned()
        return planned

    def start(self, *, paused: bool = False) -> None:
        self._scheduler.start(paused=paused)

    def pause(self) -> None:
        """Only the leading process plans (bot/leader.py)."""
        self._scheduler.pause()

    def resume(self) -> None:
        """Due ticks missed while paused run once now (coalesced): planning catches up."""
        self._scheduler.resume()

    def stop(self) -> None:
        self._scheduler.shutdown(wait=False)
