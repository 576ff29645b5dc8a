"""Telegram's overall rate limit, kept request by request (a PTB rate limiter).

PTB's AIORateLimiter is a leaky bucket: a full bucket's worth (30) may go at once and as many
more while it drains, so up to ~60 requests reach Telegram in one second; it also takes a
token before it waits out a retry_after pause, so every request queued during the pause goes at
once when it ends, and any request finishing during the pause ends the pause early. Measured
against the fake Bot API at 30/s, that meant 429s. Here requests to a chat start one at a time,
at least 1/rate seconds apart, and none starts during a retry_after pause; a request that gets
a 429 is retried (up to `max_retries` times) after the pause, in turn with the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]
RETRY_AFTER_MARGIN = 0.1  # seconds added to Telegram's retry_after, as PTB does


class SteadyRateLimiter(BaseRateLimiter[int]):
    """Requests that name a chat start at least 1/`rate` s apart (rate 0: no limit) and never
    during a retry_after pause; others (getMe, getUpdates, answerCallbackQuery) are not paced.
    `rate_limit_args`, where a call passes one, overrides `max_retries` for it."""

    def __init__(self, rate: float, *, max_retries: int = 2) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.max_retries = max_retries
        self._next = 0.0  # loop time before which no paced request may start
        self._turn: asyncio.Lock | None = None

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def _wait_turn(self) -> None:
        if self._turn is None:
            self._turn = asyncio.Lock()
        async with self._turn:  # FIFO: requests start in the order they asked
            loop = asyncio.get_running_loop()
            # A deadline, not a condition to poll: it only moves when a 429 pauses everyone.
            while (wait := self._next - loop.time()) > 0:  # noqa: ASYNC110
                await asyncio.sleep(wait)
            # On a grid: the next start is one interval after this one was due, not after the
            # moment the sleep happened to end (that lag, ~1 ms a send, cost 3% of the rate).
            # After an idle spell the grid restarts from now, so no burst makes up for it.
            now = loop.time()
            due = self._next if now - self._next < self.interval else now
            self._next = due + self.interval

    def _pause(self, seconds: float) -> None:
        until = asyncio.get_running_loop().time() + seconds
        self._next = max(self._next, until)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        retries = self.max_retries if rate_limit_args is None else rate_limit_args
        paced = self.interval > 0 and data.get("chat_id") is not None
        attempt = 0
        while True:
            if paced:
                await self._wait_turn()
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                delay = exc.retry_after
                seconds = float(delay.total_seconds() if hasattr(delay, "total_seconds") else delay)
                self._pause(seconds + RETRY_AFTER_MARGIN)  # everyone waits, not only this one
                if attempt >= retries:
                    raise
                attempt += 1
                log.info("Telegram flood control on %s: retrying after %.1f s", endpoint, seconds)
                if not paced:  # not queued behind the pause: wait it out here
                    await asyncio.sleep(seconds + RETRY_AFTER_MARGIN)
