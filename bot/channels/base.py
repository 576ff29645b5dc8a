"""What the delivery worker needs from a channel, and how a channel reports failure."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Protocol

# The id of the delivery (outbox row) being sent, for a channel's own log lines; set by the
# delivery worker around each deliver() call.
delivery_id: ContextVar[int | None] = ContextVar("delivery_id", default=None)


class DeliveryError(Exception):
    """A send that failed. `permanent` ones are not retried; `retry_after` paces a retry.

    `reroute`: this channel cannot reach the person now (outside Zalo OA's window, the plan's
    quota used up), but another of their channels may: a message of the bot's own goes there.
    With no other channel left, a permanent error is final and a transient one is retried.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        unreachable: bool = False,
        reroute: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent or unreachable
        self.unreachable = unreachable  # the person blocked the bot or left the platform
        self.reroute = reroute or unreachable
        self.retry_after = retry_after


class NotStored(Exception):
    """An incoming update the database could not take; the failure is logged where it
    happened (bot.app, once per outage). A webhook answers non-2xx: the platform sends it again."""


class Channel(Protocol):
    name: str

    async def deliver(self, chat_id: str, kind: str, payload: dict[str, Any]) -> str | None:
        """Send one planned delivery; raise DeliveryError on failure. Returns the platform's id
        of the (last) message sent where it has one, so a later "edit" delivery can change it;
        an "edit" (payload["message_id"]) is sent as a new message where editing is impossible."""
