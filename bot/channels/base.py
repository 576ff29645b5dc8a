"""What the delivery worker needs from a channel, and how a channel reports failure."""

from __future__ import annotations

from typing import Any, Protocol


class DeliveryError(Exception):
    """A send that failed. `permanent` ones are not retried; `retry_after` paces a retry."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        unreachable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent or unreachable
        self.unreachable = unreachable  # the person blocked the bot or left the platform
        self.retry_after = retry_after


class Channel(Protocol):
    name: str

    async def deliver(self, chat_id: str, kind: str, payload: dict[str, Any]) -> None:
        """Send one planned delivery; raise DeliveryError on failure."""
