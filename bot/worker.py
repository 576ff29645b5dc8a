"""The loop the inbox and delivery workers share: drain, then sleep until kicked."""

from __future__ import annotations

import asyncio
import contextlib


class Worker:
    def __init__(self, poll_interval: float = 1.0) -> None:
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()

    def kick(self) -> None:
        """New work was stored: drain now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            if await self.drain() == 0:
                # Polling too: work planned by another process never kicks this one.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def drain(self) -> int:
        """Do what is due now; return how much was done."""
        raise NotImplementedError
