"""The console channel: the same conversations in a terminal, choices as numbered lines."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.channels import plain
from handlers.messages import Reply

NAME = "console"


def render(reply: Reply) -> str:
    return plain.render(reply, indent="  ")


class ConsoleChannel:
    name = NAME

    def __init__(
        self,
        write: Callable[[str], None] = print,
        heading: Callable[[str], str | None] = lambda chat_id: None,
    ) -> None:
        self.write, self.heading = write, heading

    async def deliver(self, chat_id: str, kind: str, payload: dict[str, Any]) -> None:
        if kind == "ack":
            return
        heading = self.heading(chat_id)  # whose message it is, when it is not the current chat
        if heading:
            self.write(heading)
        self.write(render(Reply.from_payload(payload)) + "\n")
