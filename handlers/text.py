"""Vietnamese text handling: normalisation, folding for loose matching, safe formatting."""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"[ \t]+")


class Html(str):
    """A fragment that is already safe HTML: fmt() inserts it unescaped."""


def clean(text: str) -> str:
    """NFC, no control or invisible direction characters, trimmed: how text is stored."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r", "").split("\n")]
    return "\n".join(lines).strip()


def one_line(text: str, limit: int) -> str:
    """clean(), on one line, at most `limit` characters: a name as a platform reports it."""
    return " ".join(clean(text).split())[:limit]


def fold(text: str) -> str:
    """Lower case without diacritics: "Hoàn Thành" and "hoan thanh" fold alike."""
    text = unicodedata.normalize("NFD", clean(text)).replace("đ", "d").replace("Đ", "D")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(text.casefold().split())


def is_link(text: str) -> bool:
    """A web address a document can be read at (documents go as links, never as files)."""
    return text.startswith(("https://", "http://")) and not any(ch.isspace() for ch in text)


def esc(value: Any) -> str:
    if isinstance(value, Html):
        return str(value)
    return html.escape(str(value), quote=False)


def fmt(template: str, **values: Any) -> Html:
    """Fill a template from texts.py, escaping every value that is not already Html."""
    return Html(template.format(**{k: esc(v) for k, v in values.items()}))


def strip_html(text: str) -> str:
    """For channels without formatting: drop our tags, then unescape what users typed."""
    return html.unescape(re.sub(r"</?(b|i|u|s|code)>", "", text))


def number_vi(n: int) -> str:
    """3554 -> "3.554" (Vietnamese thousands separator)."""
    return f"{n:,}".replace(",", ".")


def percent_vi(n: int, total: int) -> str:
    """97,1% — Vietnamese decimal comma; "—" when there is nothing to count."""
    if total == 0:
        return "—"
    return f"{100 * n / total:.1f}%".replace(".", ",")


def short(text: str, limit: int = 40) -> str:
    """One line, cut at a word with "…" when longer than limit (button labels, lists)."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1].rsplit(" ", 1)[0] or line[: limit - 1]
    return cut.rstrip(" ,.;:") + "…"
