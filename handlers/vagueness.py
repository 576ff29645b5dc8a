"""The vagueness check on a pledge item: a stock phrase, or nothing that can be measured."""

from __future__ import annotations

import re

from handlers import texts
from handlers.text import fold

# Slogans that say nothing checkable (folded: no diacritics, lower case).
STOCK_PHRASES = (
    "hoan thanh tot nhiem vu",
    "hoan thanh nhiem vu duoc giao",
    "hoc tap va lam theo bac",
    "hoc tap va lam theo tu tuong",
    "lam theo tam guong dao duc",
    "giu gin pham chat dao duc",
    "giu gin pham chat chinh tri",
    "can kiem liem chinh",
    "chi cong vo tu",
    "tu duong ren luyen",
    "nang cao y thuc",
    "chap hanh tot chu truong",
    "thuc hien tot chu truong",
    "khong ngung hoc tap",
)

# What makes a result checkable: a number (in digits or words), a share, or a frequency.
# Folding merges words ("hằng"/"hàng", "mỗi"/"mới"), so a unit alone ("hộ", "lần") is not enough.
_MEASURE = re.compile(
    r"\d|%|\b(mot|hai|ba|bon|tu|sau|bay|tam|chin|muoi|tram|nghin|ngan|trieu)\b"
    r"|\b(hang|moi) (ngay|tuan|thang|quy|nam|ky|buoi|lan)\b"
    r"|\b(tat ca|toan bo|day du|dung han|dung hen|khong con|khong de|khong co)\b"
)

_KINDS = (
    (
        "teacher",
        ("giao vien", "hieu truong", "giang vien", "tong phu trach", "co giao", "thay giao"),
    ),
    ("security", ("cong an", "dan quan", "bao ve", "an ninh")),
    (
        "officer",
        (
            "can bo",
            "cong chuc",
            "chu tich",
            "van phong",
            "dia chinh",
            "ke toan",
            "truong thon",
            "pho thon",
            "uy ban",
            "chuyen vien",
            "thu ky",
            "hoi truong",
        ),
    ),
    ("retiree", ("huu tri", "nghi huu", "cuu chien binh", "huu")),
    ("farmer", ("nong dan", "lam ruong", "chan nuoi", "trong trot", "lam vuon")),
    ("worker", ("cong nhan", "ky thuat", "tho", "lao dong")),
    ("student", ("sinh vien", "hoc sinh", "hoc vien")),
)


def stock_phrase(text: str) -> str | None:
    folded = fold(text)
    for phrase in STOCK_PHRASES:
        if fold(phrase) in folded:
            return phrase
    return None


def vagueness(action: str, result: str) -> str | None:
    """Why the item is vague (a sentence for the member), or None if it is concrete."""
    combined = f"{action} {result}"
    phrase = stock_phrase(combined)
    if phrase is not None:
        # Quote the member's own wording, not our folded form.
        start = fold(combined).find(fold(phrase))
        original = combined[start : start + len(phrase)] if start >= 0 else phrase
        return texts.VAGUE_STOCK.format(phrase=original)
    if not _MEASURE.search(fold(combined)):
        return texts.VAGUE_NO_MEASURE
    return None


def work_kind(position: str) -> str:
    folded = f" {fold(position)} "
    for kind, words in _KINDS:
        if any(f" {w} " in folded or folded.strip().startswith(w) for w in words):
            return kind
    return "general"


def example_for(position: str) -> str:
    return texts.ITEM_EXAMPLES[work_kind(position)]
