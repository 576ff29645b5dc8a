"""Splitting long replies for platforms with a message size limit."""

from __future__ import annotations

from handlers.text import strip_html


def split_text(text: str, limit: int, *, html: bool = True) -> list[str]:
    """Pieces of at most `limit` characters, cut at paragraphs, then lines, then spaces.

    Our markup never spans lines, so cutting between lines keeps every piece well-formed; a
    single over-long line loses its markup before it is cut. html=False: plain text.
    """
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        if len(line) > limit:
            if current:
                pieces.append(current)
                current = ""
            pieces.extend(_cut_words(strip_html_safe(line) if html else line, limit, html))
            continue
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit:
            current = candidate
        else:
            pieces.append(current)
            current = line
    if current:
        pieces.append(current)
    # Prefer paragraph boundaries: a piece should not start with an empty line.
    return [p.strip("\n") for p in pieces if p.strip()]


def strip_html_safe(line: str) -> str:
    """Plain text re-escaped, so it is still valid HTML when sent with parse_mode=HTML."""
    import html

    return html.escape(strip_html(line), quote=False)


def _cut_words(line: str, limit: int, html: bool) -> list[str]:
    out: list[str] = []
    while len(line) > limit:
        cut = line.rfind(" ", 0, limit)
        cut = cut if cut > limit // 2 else limit
        # Never cut an escape such as &amp; in two.
        amp = line.rfind("&", max(0, cut - 6), cut) if html else -1
        if amp != -1 and ";" not in line[amp:cut]:
            cut = amp
        out.append(line[:cut])
        line = line[cut:].lstrip(" ")
    if line:
        out.append(line)
    return out
