"""Channel-neutral messages: what a channel adapter hands the core and gets back."""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Incoming:
    """One thing a person did: typed text, a command, or a pressed choice."""

    channel: str
    chat_id: str
    user_id: str
    text: str = ""
    choice: str | None = None  # the data of a pressed button
    display_name: str = ""
    ack_ref: str | None = None  # what the channel needs to acknowledge a button press
    # Not a message: "unsupported" (Zalo withheld the content), "follow"/"unfollow" (Zalo OA).
    event: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Incoming:
        return cls(**data)


@dataclass(frozen=True)
class Choice:
    label: str  # plain text (button labels are not formatted on any platform)
    data: str


@dataclass
class Reply:
    """Text in the small HTML subset every channel can render or strip (<b>, <i>).

    User-provided values inside it are already escaped (see handlers.text.fmt).
    """

    text: str
    choices: list[Choice] = field(default_factory=list)
    row_width: int = 1  # buttons per row where a channel has buttons
    # A chart sent with the text where a channel can show pictures (see documents/charts.py):
    # {"title": str, "bars": [[label, value], ...]}, or {"kind": "rates", ...} for /baocao.
    chart: dict[str, Any] | None = None
    # A file sent with the text where a channel can send files (an export, a report):
    # {"name": "bao-cao.xlsx", "data": base64 of the bytes}. See attach().
    document: dict[str, str] | None = None

    def attach(self, name: str, content: bytes) -> Reply:
        self.document = {"name": name, "data": base64.b64encode(content).decode("ascii")}
        return self

    def document_bytes(self) -> bytes:
        return base64.b64decode(self.document["data"]) if self.document else b""

    def to_payload(self) -> dict[str, Any]:
        return (
            {
                "text": self.text,
                "choices": [[c.label, c.data] for c in self.choices],
                "row_width": self.row_width,
            }
            | ({"chart": self.chart} if self.chart else {})
            | ({"document": self.document} if self.document else {})
        )

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Reply:
        return cls(
            text=payload["text"],
            choices=[Choice(label, data) for label, data in payload.get("choices", [])],
            row_width=payload.get("row_width", 1),
            chart=payload.get("chart"),
            document=payload.get("document"),
        )
