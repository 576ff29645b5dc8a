"""The monthly chi bộ meeting (sinh hoạt chi bộ định kỳ): when it is, and when to remind.

Pure functions: no database, no I/O, no clock. Every instant that comes in or goes out is an
aware datetime (results are in UTC); calendar arithmetic happens in the unit's timezone
(``tz``, an IANA name such as "Asia/Ho_Chi_Minh"), never in the host's.

A rule is either a day of the month ("ngày 3"; past the month's end it means the last day) or
the nth weekday ("thứ Hai tuần đầu tiên" = the first Monday of the month, "thứ Sáu cuối tháng" =
the last Friday). A period is the month a meeting belongs to, "YYYY-MM"; the secretary may move
or cancel one period's meeting with an Override.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from handlers import texts
from handlers.text import fold

DEFAULT_TZ = "Asia/Ho_Chi_Minh"
WEEKDAYS = range(7)  # 0 = thứ Hai (Monday) … 6 = Chủ nhật, as datetime.weekday()
NTHS = (1, 2, 3, 4, -1)  # -1: the last one of the month
LOOKAROUND_MONTHS = 13

_PERIOD = re.compile(r"(\d{4})-(\d{2})")
_HHMM = re.compile(r"(\d{1,2}):(\d{2})")


# -- small helpers -------------------------------------------------------------------------------
def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {moment!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _hhmm(at: time) -> str:
    return f"{at.hour:02d}:{at.minute:02d}"


def _time_from_json(value: Any, name: str) -> time:
    """ "19:30" (or a TOML time without seconds) -> time(19, 30)."""
    if isinstance(value, time):
        if value.tzinfo is not None or value.second or value.microsecond:
            raise ValueError(f"{name}: need a whole minute without timezone, got {value!r}")
        return value
    if not isinstance(value, str):
        raise ValueError(f"{name}: need a time as 'HH:MM', got {value!r}")
    m = _HHMM.fullmatch(value.strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ValueError(f"{name}: need a time as 'HH:MM', got {value!r}")
    return time(int(m.group(1)), int(m.group(2)))


def _check_wall_time(at: time, name: str) -> None:
    if at.tzinfo is not None or at.second or at.microsecond:
        raise ValueError(f"{name}: need a whole minute without timezone, got {at!r}")


def _local(d: date, at: time, tz: str) -> datetime:
    """The instant (UTC) of wall-clock time `at` on day `d` in `tz`.

    A wall time skipped by a DST change lands after the gap; a repeated one takes its first
    occurrence. (Vietnam has no DST; this only matters for units elsewhere.)"""
    return datetime.combine(d, at, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def _local_date(moment: datetime, tz: str) -> date:
    return moment.astimezone(ZoneInfo(tz)).date()


# -- periods -------------------------------------------------------------------------------------
def period_key(year: int, month: int) -> str:
    """(2026, 3) -> "2026-03"."""
    if not 1 <= month <= 12 or not 1 <= year <= 9999:
        raise ValueError(f"no such month: {year}-{month}")
    return f"{year:04d}-{month:02d}"


def parse_period(period: str) -> tuple[int, int]:
    """ "2026-03" -> (2026, 3); ValueError for anything else."""
    m = _PERIOD.fullmatch(period) if isinstance(period, str) else None
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1:
        raise ValueError(f"a period is 'YYYY-MM', got {period!r}")
    return int(m.group(1)), int(m.group(2))


def shift_period(period: str, months: int) -> str:
    """("2026-12", 1) -> "2027-01"; negative months go back."""
    year, month = parse_period(period)
    index = year * 12 + (month - 1) + months
    return period_key(index // 12, index % 12 + 1)


def _period_of(moment: datetime, tz: str) -> str:
    local = _local_date(moment, tz)
    return period_key(local.year, local.month)


# -- the regular rule ----------------------------------------------------------------------------
@dataclass(frozen=True)
class MeetingRule:
    """When a chi bộ meets every month. Invalid combinations raise ValueError."""

    kind: str  # "day" | "weekday"
    day: int | None = None  # 1..31 for kind "day"
    weekday: int | None = None  # 0..6 for kind "weekday" (0 = thứ Hai)
    nth: int | None = None  # 1..4, or -1 for the last one, for kind "weekday"
    at: time = time(7, 30)
    place: str = ""

    def __post_init__(self) -> None:
        if self.kind == "day":
            if not _is_int(self.day) or not 1 <= int(self.day or 0) <= 31:
                raise ValueError(f"day rule needs day 1..31, got {self.day!r}")
            if self.weekday is not None or self.nth is not None:
                raise ValueError("day rule takes no weekday or nth")
        elif self.kind == "weekday":
            if not _is_int(self.weekday) or self.weekday not in WEEKDAYS:
                raise ValueError(f"weekday rule needs weekday 0..6, got {self.weekday!r}")
            if not _is_int(self.nth) or self.nth not in NTHS:
                raise ValueError(f"weekday rule needs nth 1..4 or -1, got {self.nth!r}")
            if self.day is not None:
                raise ValueError("weekday rule takes no day")
        else:
            raise ValueError(f"rule kind is 'day' or 'weekday', got {self.kind!r}")
        if not isinstance(self.at, time):
            raise ValueError(f"at must be a time, got {self.at!r}")
        _check_wall_time(self.at, "at")
        if not isinstance(self.place, str):
            raise ValueError(f"place must be text, got {self.place!r}")

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "day": self.day,
            "weekday": self.weekday,
            "nth": self.nth,
            "time": _hhmm(self.at),
            "place": self.place,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MeetingRule:
        """The inverse of to_json. "time" defaults to 07:30 and "place" to ""; unknown keys,
        wrong types and impossible values raise ValueError."""
        if not isinstance(data, dict):
            raise ValueError(f"a meeting rule is an object, got {data!r}")
        unknown = set(data) - {"kind", "day", "weekday", "nth", "time", "place"}
        if unknown:
            raise ValueError(f"unknown keys in meeting rule: {sorted(unknown)}")
        at = _time_from_json(data["time"], "time") if "time" in data else time(7, 30)
        place = data.get("place")
        if place is None:
            place = ""
        return cls(
            kind=data.get("kind", ""),  # checked in __post_init__
            day=data.get("day"),
            weekday=data.get("weekday"),
            nth=data.get("nth"),
            at=at,
            place=place,
        )

    def describe(self) -> str:
        """In words, e.g. "thứ Sáu cuối tháng, lúc 19:30, tại Nhà văn hóa thôn".

        Plain text (the place is user input): fill it into a template with handlers.text.fmt."""
        if self.kind == "day":
            rule = texts.RULE_DAY.format(day=self.day)
        else:
            weekday = texts.WEEKDAY_NAMES[int(self.weekday or 0)]
            if self.nth == -1:
                rule = texts.RULE_LAST_WEEKDAY.format(weekday=weekday)
            else:
                week = texts.WEEK_NAMES[int(self.nth or 1) - 1]
                rule = texts.RULE_NTH_WEEKDAY.format(weekday=weekday, week=week)
        words = texts.RULE_WITH_TIME.format(rule=rule, time=_hhmm(self.at))
        if self.place.strip():
            words = texts.RULE_WITH_PLACE.format(rule=words, place=self.place.strip())
        return words


def meeting_day(rule: MeetingRule, year: int, month: int) -> date:
    """The local calendar day of that month's regular meeting."""
    last = calendar.monthrange(year, month)[1]
    if rule.kind == "day":
        return date(year, month, min(int(rule.day or 1), last))
    weekday, nth = int(rule.weekday or 0), int(rule.nth or 1)
    if nth == -1:
        last_weekday = date(year, month, last).weekday()
        return date(year, month, last - (last_weekday - weekday) % 7)
    first_weekday = date(year, month, 1).weekday()
    return date(year, month, 1 + (weekday - first_weekday) % 7 + 7 * (nth - 1))


def meeting_in_month(rule: MeetingRule, year: int, month: int, tz: str) -> datetime:
    """The regular meeting of that month, as an aware UTC datetime."""
    return _local(meeting_day(rule, year, month), rule.at, tz)


# -- actual meetings: the rule plus the secretary's changes --------------------------------------
@dataclass(frozen=True)
class Override:
    """One month's meeting moved (starts_at set, place optionally changed) or cancelled."""

    period: str  # "YYYY-MM"
    starts_at: datetime | None  # aware; None = cancelled
    place: str | None = None  # None: the rule's place

    def __post_init__(self) -> None:
        parse_period(self.period)
        if self.starts_at is not None:
            _require_aware(self.starts_at, "Override.starts_at")


@dataclass(frozen=True)
class Meeting:
    period: str  # "YYYY-MM": the month the meeting belongs to (its assessment period)
    starts_at: datetime  # aware, UTC
    place: str
    moved: bool  # True when an Override set it


def meeting_for_period(
    rule: MeetingRule, period: str, overrides: Mapping[str, Override], tz: str
) -> Meeting | None:
    """That period's meeting, or None if the secretary cancelled it."""
    year, month = parse_period(period)
    override = overrides.get(period)
    if override is not None:
        if override.starts_at is None:
            return None
        place = rule.place if override.place is None else override.place
        return Meeting(period, override.starts_at.astimezone(UTC), place, moved=True)
    return Meeting(period, meeting_in_month(rule, year, month, tz), rule.place, moved=False)


def _meetings_around(
    rule: MeetingRule, overrides: Mapping[str, Override], now: datetime, tz: str, months: range
) -> list[Meeting]:
    base = _period_of(now, tz)
    found = [meeting_for_period(rule, shift_period(base, k), overrides, tz) for k in months]
    return [m for m in found if m is not None]


def next_meeting(
    rule: MeetingRule, overrides: Mapping[str, Override], now: datetime, tz: str
) -> Meeting | None:
    """The first meeting that starts after `now` (strictly), cancelled months skipped, looking
    at most 13 months ahead. Last month's period is considered too, in case it was postponed
    into this month."""
    _require_aware(now, "now")
    later = [
        m
        for m in _meetings_around(rule, overrides, now, tz, range(-1, LOOKAROUND_MONTHS + 1))
        if m.starts_at > now
    ]
    return min(later, key=lambda m: (m.starts_at, m.period), default=None)


def previous_meeting(
    rule: MeetingRule, overrides: Mapping[str, Override], now: datetime, tz: str
) -> Meeting | None:
    """The latest meeting that started at or before `now`, within 13 months back."""
    _require_aware(now, "now")
    earlier = [
        m
        for m in _meetings_around(rule, overrides, now, tz, range(-LOOKAROUND_MONTHS, 2))
        if m.starts_at <= now
    ]
    return max(earlier, key=lambda m: (m.starts_at, m.period), default=None)


# -- reminders -----------------------------------------------------------------------------------
_REMINDER_DAYS = ("d3_days", "d1_days", "digest_days", "open_days")
_REMINDER_TIMES = ("d3_at", "d1_at", "digest_at", "quiet_start", "quiet_end", "evening_at")


@dataclass(frozen=True)
class ReminderRule:
    """When members and the secretary are reminded before a meeting (all local wall times).

    Quiet hours run from quiet_start to quiet_end (across midnight when start > end; equal
    times turn them off). A reminder that falls inside goes to quiet_end the morning after;
    if that is at or after the meeting start, it goes to evening_at on the evening before the
    quiet night instead."""

    d3_days: int = 3
    d3_at: time = time(8, 0)
    d1_days: int = 1
    d1_at: time = time(8, 0)
    dayof_hours: float = 2.0
    digest_days: int = 1
    digest_at: time = time(18, 0)
    quiet_start: time = time(21, 0)
    quiet_end: time = time(7, 0)
    open_days: int = 7
    evening_at: time = time(20, 0)

    def __post_init__(self) -> None:
        for name in _REMINDER_DAYS:
            value = getattr(self, name)
            if not _is_int(value) or value < 0:
                raise ValueError(f"{name} must be a whole number of days >= 0, got {value!r}")
        hours = self.dayof_hours
        if not isinstance(hours, int | float) or isinstance(hours, bool):
            raise ValueError(f"dayof_hours must be a number, got {hours!r}")
        if not math.isfinite(hours) or not 0 <= hours <= 24 * 7:
            raise ValueError(f"dayof_hours must be between 0 and 168, got {hours!r}")
        for name in _REMINDER_TIMES:
            value = getattr(self, name)
            if not isinstance(value, time):
                raise ValueError(f"{name} must be a time, got {value!r}")
            _check_wall_time(value, name)
        if self.in_quiet_hours(self.evening_at):
            raise ValueError("evening_at must be outside the quiet hours")

    def in_quiet_hours(self, at: time) -> bool:
        start, end = self.quiet_start, self.quiet_end
        if start == end:
            return False
        if start < end:
            return start <= at < end
        return at >= start or at < end

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {name: getattr(self, name) for name in _REMINDER_DAYS}
        data["dayof_hours"] = float(self.dayof_hours)
        data.update({name: _hhmm(getattr(self, name)) for name in _REMINDER_TIMES})
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReminderRule:
        """The inverse of to_json. Missing keys take the defaults (so a partial config works);
        unknown keys, wrong types and impossible values raise ValueError."""
        if not isinstance(data, dict):
            raise ValueError(f"a reminder rule is an object, got {data!r}")
        allowed = {*_REMINDER_DAYS, *_REMINDER_TIMES, "dayof_hours"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown keys in reminder rule: {sorted(unknown)}")
        values: dict[str, Any] = {}
        for name, value in data.items():
            values[name] = _time_from_json(value, name) if name in _REMINDER_TIMES else value
        return cls(**values)


def apply_quiet_hours(
    moment: datetime, meeting_start: datetime, rule: ReminderRule, tz: str
) -> datetime:
    """`moment` (UTC) moved out of the quiet hours, as described on ReminderRule."""
    _require_aware(moment, "moment")
    _require_aware(meeting_start, "meeting_start")
    zone = ZoneInfo(tz)
    local = moment.astimezone(zone)
    if not rule.in_quiet_hours(local.time()):
        return moment.astimezone(UTC)
    crosses_midnight = rule.quiet_start > rule.quiet_end
    # The quiet night holding `moment` started on `night` at quiet_start: after midnight, that
    # was the day before.
    after_midnight = crosses_midnight and local.time() < rule.quiet_end
    night = local.date() - timedelta(days=1 if after_midnight else 0)
    morning = night + timedelta(days=1) if crosses_midnight else night
    pushed = _local(morning, rule.quiet_end, tz)
    if pushed < meeting_start:
        return pushed
    # evening_at is outside the quiet hours: the latest one before the night starts.
    evening = night if rule.evening_at < rule.quiet_start else night - timedelta(days=1)
    return _local(evening, rule.evening_at, tz)


def reminder_times(meeting: Meeting, rule: ReminderRule, tz: str) -> dict[str, datetime]:
    """When to send each reminder for `meeting`, in UTC:
    "d3" (members who have not submitted), "d1" (follow-up), "dayof" (everyone),
    "digest" (the secretary). Quiet hours applied; a reminder that would not come before the
    meeting start is left out."""
    start = meeting.starts_at
    _require_aware(start, "meeting.starts_at")
    day = _local_date(start, tz)
    raw = {
        "d3": _local(day - timedelta(days=rule.d3_days), rule.d3_at, tz),
        "d1": _local(day - timedelta(days=rule.d1_days), rule.d1_at, tz),
        "dayof": start.astimezone(UTC) - timedelta(hours=rule.dayof_hours),
        "digest": _local(day - timedelta(days=rule.digest_days), rule.digest_at, tz),
    }
    times: dict[str, datetime] = {}
    for key, moment in raw.items():
        if moment >= start:
            continue
        moved = apply_quiet_hours(moment, start, rule, tz)
        if moved < start:
            times[key] = moved
    return times


def opens_at(meeting: Meeting, rule: ReminderRule, tz: str) -> datetime:
    """When the self-assessment for the meeting's period opens: 00:00 local, open_days before
    the meeting day. (It stays editable until meeting.starts_at.)"""
    day = _local_date(meeting.starts_at, tz) - timedelta(days=rule.open_days)
    return _local(day, time(0, 0), tz)


# -- what a secretary types ----------------------------------------------------------------------
_PUNCT = re.compile(r"[,;!?()]+")
_WEEKDAY_WORDS = {"hai": 0, "ba": 1, "tu": 2, "nam": 3, "sau": 4, "bay": 5}
_ORDINALS = {
    "dau tien": 1,
    "dau": 1,
    "thu nhat": 1,
    "nhat": 1,
    "thu 1": 1,
    "1": 1,
    "mot": 1,
    "thu hai": 2,
    "thu 2": 2,
    "hai": 2,
    "2": 2,
    "thu ba": 3,
    "thu 3": 3,
    "ba": 3,
    "3": 3,
    "thu tu": 4,
    "thu 4": 4,
    "tu": 4,
    "4": 4,
    "cuoi cung": -1,
    "cuoi": -1,
}
_ORD_ALT = "|".join(sorted(map(re.escape, _ORDINALS), key=len, reverse=True))
_MONTH_SUFFIX = r"(?:\s*(?:cua|trong|hang|moi)?\s*thang)?"
_DAY_RULE = re.compile(
    r"(?:vao\s+)?(?:ngay\s*)?(?:(?:mung|mong)\s*)?(?P<day>\d{1,2})"
    r"(?:\s+(?:cua|trong|hang|moi)\s+thang)?"
)
_WEEKDAY_RULE = re.compile(
    r"(?:vao\s+)?(?:ngay\s+)?"
    r"(?:thu\s*(?P<wd>hai|ba|tu|nam|sau|bay|[2-7])|t(?P<wdn>[2-7])|(?P<cn>chu\s*nhat|cn))"
    r"\s*(?:tuan\s*(?P<ord>"
    + _ORD_ALT
    + r")|(?P<edge>dau tien|dau|cuoi cung|cuoi))"
    + _MONTH_SUFFIX
)


def parse_rule(text: str) -> MeetingRule | None:
    """A typed rule: "ngày 3", "mùng 10", "thứ Hai tuần đầu", "thu sau cuoi thang",
    "chủ nhật tuần thứ hai", "thứ 4 tuần 3"… The time and place are asked separately
    (the result has the defaults). None when not understood."""
    t = " ".join(_PUNCT.sub(" ", fold(text)).split())
    m = _DAY_RULE.fullmatch(t)
    if m:
        day = int(m.group("day"))
        return MeetingRule(kind="day", day=day) if 1 <= day <= 31 else None
    m = _WEEKDAY_RULE.fullmatch(t)
    if not m:
        return None
    if m.group("cn"):
        weekday = 6
    elif m.group("wdn"):
        weekday = int(m.group("wdn")) - 2
    elif m.group("wd").isdigit():
        weekday = int(m.group("wd")) - 2
    else:
        weekday = _WEEKDAY_WORDS[m.group("wd")]
    nth = _ORDINALS[m.group("ord") or m.group("edge")]
    return MeetingRule(kind="weekday", weekday=weekday, nth=nth)


_TIME = re.compile(
    r"(?P<h>\d{1,2})\s*"
    r"(?:(?P<sep>[:.])\s*(?P<m1>\d{2})"
    r"|(?:h|g|gio)\s*(?:(?P<m2>\d{2})\s*(?:phut|p)?|(?P<half>ruoi))?)"
    r"\s*(?P<part>sang|trua|chieu|toi)?"
)


def parse_time(text: str) -> time | None:
    """A typed time: "19:30", "19h30", "19h", "7g30", "7 giờ 30", "07.30", "19 giờ",
    "7 giờ rưỡi", "7h30 tối" (sáng/trưa/chiều/tối). A bare number is not a time."""
    m = _TIME.fullmatch(fold(text))
    if not m:
        return None
    hour = int(m.group("h"))
    minute = 30 if m.group("half") else int(m.group("m1") or m.group("m2") or 0)
    part = m.group("part")
    if part == "sang" and hour > 11:
        return None
    if part == "trua":
        if hour in (1, 2):
            hour += 12
        elif hour not in (11, 12, 13, 14):
            return None
    if part == "chieu":
        if 1 <= hour <= 11:
            hour += 12
        elif not 12 <= hour <= 23:
            return None
    if part == "toi":
        if 6 <= hour <= 11:
            hour += 12
        elif not 18 <= hour <= 23:
            return None
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


_DATE = re.compile(r"(?:ngay\s*)?(\d{1,2})([/.-])(\d{1,2})(?:\2(\d{4}))?")


def parse_date(text: str, year: int) -> date | None:
    """A typed date: "25/12" (in `year`), "25/12/2026", "25-12-2026", "25.12.2026".
    Day first, as Vietnamese write it; None for impossible dates."""
    m = _DATE.fullmatch(fold(text))
    if not m:
        return None
    try:
        return date(int(m.group(4) or year), int(m.group(3)), int(m.group(1)))
    except ValueError:
        return None
