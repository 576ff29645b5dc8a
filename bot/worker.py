"""The loop the inbox and delivery workers share: drain, then sleep until kicked."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from models import db

log = logging.getLogger(__name__)

FAILURE_BACKOFF_CAP = 30.0  # seconds between rounds while the database keeps failing


class Worker:
    def __init__(self, poll_interval: float = 1.0) -> None:
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()

    def kick(self) -> None:
        """New work was stored: drain now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Until cancelled: a round that fails (the database away, full, read-only) is logged
        once, with its traceback, and tried again after a growing pause; the loop never dies."""
        failures = 0
        while True:
            self._wake.clear()
            try:
                done = await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                name = type(self).__name__
                if failures == 1:
                    log.exception("%s: a round failed; trying again until it works", name)
                else:
                    log.debug("%s: round %s failed too: %r", name, failures, exc)
                # A busy database (another writer held the lock too long) is no outage.
                grow = 0 if db.fault(exc) == db.BUSY else min(failures - 1, 8)
                pause = min(FAILURE_BACKOFF_CAP, self.poll_interval * 2**grow)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), pause)
                continue
            if failures:
                log.warning("%s works again, after %s failed rounds", type(self).__name__, failures)
                failures = 0
            if done == 0:
                # Polling too: work planned by another process never kicks this one.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def drain(self) -> int:
        """Do what is due now; return how much was done."""
        raise NotImplementedError
