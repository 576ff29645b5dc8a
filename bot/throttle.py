"""Flood throttling: a token bucket per chat, decided when an update is stored.

Every chat (channel, chat id) may send `burst` updates at once, then `per_second` more per
second; text, button presses and stickers all count (Zalo OA's follow/unfollow events do not:
nobody typed them). An update over the budget is still stored, with status "throttled", so a
redelivery of it still finds its row and the operator sees it, but it is never processed: no
reply, no acknowledgement, nothing in front of other members in the inbox worker's queue, no
share of the outgoing budget. The first throttled update of a burst gets one notice
(texts.FLOOD_NOTICE), at most one per chat every `notice_seconds`.

A throttled update spends the partial refill too: a member who keeps sending faster than
`per_second` stays throttled until they slow down (a pause of 1/per_second seconds is enough
to be served again).

The decision is taken just before the insert, so a throttled update costs one INSERT like any
other; a redelivery (the insert finds the row) or a failed store undoes it: counted once.

The buckets live in memory, per process (like the per-chat pacing of the outbox): a restart
forgives everyone. Idle chats are forgotten, and at most `max_chats` are kept.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from sqlalchemy.ext.asyncio import AsyncSession

from handlers import texts
from handlers.messages import Incoming, Reply
from handlers.settings import Settings
from models import outbox

NOT_THROTTLED_EVENTS = frozenset({"follow", "unfollow"})  # what nobody typed
NOTICE_SECONDS = 60.0  # one notice per chat at most this often, however many bursts
MAX_CHATS = 100_000  # buckets kept at most (the least recently seen go first)


class Verdict(Enum):
    ACCEPT = "accept"  # within the budget: process it
    NOTICE = "notice"  # over: throttle it, and tell the person once
    DROP = "drop"  # over, and already told: throttle it silently

    @property
    def throttled(self) -> bool:
        return self is not Verdict.ACCEPT


@dataclass
class _Bucket:
    tokens: float
    seen: float  # clock() at the chat's last update
    told: bool = False  # a notice went out since the last accepted update
    told_at: float | None = None  # clock() of the last notice
    takes: int = 0  # updates counted (to tell whether a take can be undone exactly)


Chat = tuple[str, str]


class FloodThrottle:
    def __init__(
        self,
        burst: int,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        notice_seconds: float = NOTICE_SECONDS,
        max_chats: int = MAX_CHATS,
    ) -> None:
        if burst < 1 or per_second <= 0:
            raise ValueError("burst must be at least 1 and per_second positive")
        self.burst, self.per_second, self.clock = burst, per_second, clock
        self.notice_seconds, self.max_chats = notice_seconds, max_chats
        # A chat idle this long has a full bucket and no notice to remember: a new one is equal.
        self.forget_after = max(burst / per_second, notice_seconds)
        self._buckets: OrderedDict[Chat, _Bucket] = OrderedDict()  # least recently seen first

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, channel: str, chat_id: str) -> Decision:
        """Count one update from the chat: what to do with it (undo() if it was not new)."""
        now = self.clock()
        self._forget_idle(now)
        key = (channel, chat_id)
        bucket = self._buckets.pop(key, None)
        before = replace(bucket) if bucket is not None else None
        if bucket is None:
            bucket = _Bucket(tokens=float(self.burst), seen=now)
        self._buckets[key] = bucket  # the most recently seen: last
        elapsed = max(0.0, now - bucket.seen)
        tokens = min(float(self.burst), bucket.tokens + elapsed * self.per_second)
        bucket.seen, bucket.takes = now, bucket.takes + 1
        if tokens >= 1.0:
            bucket.tokens, bucket.told = tokens - 1.0, False
            verdict = Verdict.ACCEPT
        else:
            bucket.tokens = 0.0  # the partial refill is spent: keep flooding, stay throttled
            recently = bucket.told_at is not None and now - bucket.told_at < self.notice_seconds
            verdict = Verdict.DROP if bucket.told or recently else Verdict.NOTICE
            if verdict is Verdict.NOTICE:
                bucket.told_at = now
            bucket.told = True
        return Decision(verdict, self, key, before, bucket.takes)

    def _undo(self, decision: Decision) -> None:
        """Forget a take (the update was a redelivery, or was not stored): exactly, unless the
        chat sent something else meanwhile; then only its token is given back."""
        bucket = self._buckets.get(decision.key)
        if bucket is None:
            return
        if bucket.takes == decision.takes:
            if decision.before is None:
                del self._buckets[decision.key]
            else:
                self._buckets[decision.key] = decision.before
        elif decision.verdict is Verdict.ACCEPT:
            bucket.tokens = min(float(self.burst), bucket.tokens + 1.0)

    def _forget_idle(self, now: float) -> None:
        buckets = self._buckets
        while buckets:
            key, oldest = next(iter(buckets.items()))
            if now - oldest.seen < self.forget_after and len(buckets) < self.max_chats:
                break
            del buckets[key]


@dataclass
class Decision:
    """What the throttle said about one update, before the update is stored."""

    verdict: Verdict = Verdict.ACCEPT
    throttle: FloodThrottle | None = None
    key: Chat = ("", "")
    before: _Bucket | None = None
    takes: int = 0

    @property
    def status(self) -> str:
        """The inbox row's status: the worker processes only "pending" ones."""
        return "throttled" if self.verdict.throttled else "pending"

    def undo(self) -> None:
        if self.throttle is not None:
            self.throttle._undo(self)
            self.throttle = None

    async def stored(
        self, session: AsyncSession, inc: Incoming, *, update_key: str, now: datetime
    ) -> None:
        """The update was new: the first throttled one of a burst plans the notice, in the
        transaction that stores it (one per update at most: redeliveries plan nothing)."""
        if self.verdict is Verdict.NOTICE:
            await outbox.plan(
                session,
                channel=inc.channel,
                chat_id=inc.chat_id,
                kind="reply",
                dedupe_key=f"flood:{inc.channel}:{update_key}",
                payload=Reply(texts.FLOOD_NOTICE).to_payload(),
                now=now,
            )


def decide(throttle: FloodThrottle | None, inc: Incoming) -> Decision:
    """Count an update about to be stored; no throttle, or an event nobody typed: accepted."""
    if throttle is None or inc.event in NOT_THROTTLED_EVENTS:
        return Decision()
    return throttle.take(inc.channel, inc.chat_id)


def throttle_for(
    settings: Settings, clock: Callable[[], float] = time.monotonic
) -> FloodThrottle | None:
    """The running bot's throttle, as configured ([limits] flood_burst = 0: none)."""
    if settings.flood_burst <= 0:
        return None
    return FloodThrottle(settings.flood_burst, settings.flood_per_second, clock=clock)
