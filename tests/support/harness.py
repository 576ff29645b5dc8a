"""Drive the real pipeline (inbox → conversation core → outbox → a channel) from a test.

The channel at the end only collects what it is asked to send; everything before it is the
production code on a real database.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.inbox import InboxWorker, store
from bot.outbox import DeliveryWorker
from bot.throttle import FloodThrottle
from handlers.messages import Incoming, Reply
from handlers.settings import Settings

CHANNEL = "test"


class Clock:
    def __init__(self, now: datetime | None = None) -> None:
        # A weekday in March: pledges registered now are for the same year.
        self.now = now or datetime(2026, 3, 2, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class Sent:
    chat_id: str
    kind: str
    reply: Reply | None
    ack_ref: str | None = None


@dataclass
class Collector:
    name: str = CHANNEL
    sent: list[Sent] = field(default_factory=list)

    async def deliver(self, chat_id: str, kind: str, payload: dict[str, Any]) -> None:
        if kind == "ack":
            self.sent.append(Sent(chat_id, kind, None, payload["ack_ref"]))
        else:
            self.sent.append(Sent(chat_id, kind, Reply.from_payload(payload)))


class Harness:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings or Settings()
        self.clock = clock or Clock()
        self.channel = Collector()
        self.throttle: FloodThrottle | None = None  # none unless a test sets one
        self._ids = itertools.count(1)
        self.restart()

    def restart(self) -> None:
        """New workers, as after a process restart: only the database carries state."""
        # No per-chat pacing: the collector is not Telegram, and drain() must not sleep.
        self.delivery = DeliveryWorker(
            self.sessions, {CHANNEL: self.channel}, self.clock, per_chat_interval=0
        )
        self.inbox = InboxWorker(self.sessions, self.settings, self.clock, on_planned=lambda: None)

    async def deliver(self, inc: Incoming, update_key: str | None = None) -> list[Reply]:
        """Store an update, process what is pending, send what was planned; return the replies
        that reached the update's own chat."""
        before = len(self.channel.sent)
        await store(
            self.sessions,
            inc,
            update_key=update_key or f"u{next(self._ids)}",
            now=self.clock(),
            throttle=self.throttle,
        )
        await self.inbox.drain()
        await self.delivery.drain()
        return [s.reply for s in self.channel.sent[before:] if s.chat_id == inc.chat_id and s.reply]

    async def say(self, chat: str, text: str, *, name: str = "Người dùng") -> list[Reply]:
        return await self.deliver(
            Incoming(channel=CHANNEL, chat_id=chat, user_id=chat, text=text, display_name=name)
        )

    async def press(self, chat: str, label: str, *, within: Reply | None = None) -> list[Reply]:
        """Press the button whose label contains `label` on the newest message that has it."""
        reply = within or self.with_choice(chat, label)
        choice = next(c for c in reply.choices if label.casefold() in c.label.casefold())
        return await self.deliver(
            Incoming(
                channel=CHANNEL,
                chat_id=chat,
                user_id=chat,
                choice=choice.data,
                ack_ref=f"ack-{next(self._ids)}",
            )
        )

    def with_choice(self, chat: str, label: str) -> Reply:
        for sent in reversed(self.channel.sent):
            if (
                sent.chat_id == chat
                and sent.reply is not None
                and any(label.casefold() in c.label.casefold() for c in sent.reply.choices)
            ):
                return sent.reply
        raise AssertionError(f"no message to {chat} has a button {label!r}")

    def to(self, chat: str) -> list[Reply]:
        return [s.reply for s in self.channel.sent if s.chat_id == chat and s.reply]

    def last(self, chat: str) -> Reply:
        return self.to(chat)[-1]


def text_of(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)
