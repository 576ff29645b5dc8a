"""Replies for channels without formatting or buttons (console, Zalo): plain text, the chart as
a line of text, a file as a note on where to get it, and the choices as a numbered list answered
by typing the number or the label."""

from __future__ import annotations

from handlers import texts
from handlers.messages import Reply
from handlers.text import strip_html


def numbered(reply: Reply, indent: str = "") -> str:
    return "\n".join(f"{indent}{n}. {c.label}" for n, c in enumerate(reply.choices, start=1))


def render(reply: Reply, *, with_choices: bool = True, indent: str = "") -> str:
    parts = [strip_html(reply.text)]
    if reply.chart:
        from documents.charts import chart_as_text

        parts.append(f"[{chart_as_text(reply.chart)}]")
    if reply.document:
        parts.append(texts.DOCUMENT_NOT_SENT.format(name=reply.document["name"]))
    if with_choices and reply.choices:
        parts.append(numbered(reply, indent))
    return "\n".join(parts)
