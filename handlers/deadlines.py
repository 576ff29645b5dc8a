"""Deadlines of pledge items, stored as short codes and shown in words.

Codes: "monthly", "quarterly", "year", "Q1".."Q4", "M1".."M12", or an ISO date "2026-09-30".
"""

from __future__ import annotations

import re
from datetime import date

from handlers import texts
from handlers.text import fmt, fold

ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}
_ROMAN_BACK = {"i": 1, "ii": 2, "iii": 3, "iv": 4}


def describe(code: str) -> str:
    if code == "monthly":
        return texts.DEADLINE_MONTHLY
    if code == "quarterly":
        return texts.DEADLINE_QUARTERLY
    if code == "year":
        return texts.DEADLINE_YEAR
    if code.startswith("Q"):
        return texts.DEADLINE_QUARTER.format(roman=ROMAN[int(code[1:])])
    if code.startswith("M"):
        return texts.DEADLINE_MONTH.format(month=int(code[1:]))
    day = date.fromisoformat(code)
    return texts.DEADLINE_DATE.format(date=f"{day.day}/{day.month}/{day.year}")


def button_options() -> list[tuple[str, str]]:
    """The choices offered as buttons; any other deadline is typed."""
    codes = ["monthly", "quarterly", "Q1", "Q2", "Q3", "Q4", "year"]
    return [(describe(code), code) for code in codes]


def parse(text: str, year: int) -> str | None:
    """A typed deadline as a code, or None. Dates without a year fall in the pledge's year."""
    t = fold(text).replace(".", "/").replace("-", "/")
    if t in {"hang thang", "moi thang", "thang nao cung", "hangthang"}:
        return "monthly"
    if t in {"hang quy", "moi quy"}:
        return "quarterly"
    if t in {"ca nam", "trong nam", "cuoi nam", "den 31/12"}:
        return "year"
    m = re.fullmatch(r"quy\s*([1-4]|iv|iii|ii|i)", t)
    if m:
        q = m.group(1)
        return f"Q{int(q) if q.isdigit() else _ROMAN_BACK[q]}"
    m = re.fullmatch(r"(?:thang\s*)(\d{1,2})(?:/(\d{4}))?", t) or re.fullmatch(
        r"(\d{1,2})/(\d{4})", t
    )
    if m and (m.group(2) is None or int(m.group(2)) == year) and 1 <= int(m.group(1)) <= 12:
        return f"M{int(m.group(1))}"
    m = re.fullmatch(r"(?:ngay\s*)?(\d{1,2})/(\d{1,2})(?:/(\d{4}))?", t)
    if m:
        try:
            day = date(int(m.group(3) or year), int(m.group(2)), int(m.group(1)))
        except ValueError:
            return None
        return day.isoformat()
    return None


def read_answer(value: str | None, text: str, year: int, today: date) -> tuple[str | None, str]:
    """A deadline step's answer (a pressed button or typed text) as (code, ""), or
    (None, the message saying what is wrong) for a pledge or plan of the year."""
    if value is not None and value in {code for _, code in button_options()}:
        return value, ""
    code = parse(text, year)
    if code is None:
        return None, fmt(texts.DEADLINE_BAD, text=text, year=year)
    if code[:1].isdigit():
        day = date.fromisoformat(code)
        if day.year != year:
            return None, texts.DEADLINE_OTHER_YEAR.format(year=year)
        if day < today:
            shown = f"{day.day}/{day.month}/{day.year}"
            return None, texts.DEADLINE_PAST.format(date=shown, year=year)
    return code, ""
