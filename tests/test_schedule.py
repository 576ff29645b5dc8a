"""The monthly meeting schedule: rules, overrides, reminders, quiet hours, typed input.

Pure tests: no database. Expected instants are written out by hand in UTC (Vietnam is UTC+7
all year) so the tests do not share the code's arithmetic.
"""

from __future__ import annotations

import calendar
import os
import time as time_module
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers import texts
from handlers.schedule import (
    DEFAULT_TZ,
    Meeting,
    MeetingRule,
    Override,
    ReminderRule,
    apply_quiet_hours,
    meeting_for_period,
    meeting_in_month,
    next_meeting,
    opens_at,
    parse_date,
    parse_period,
    parse_rule,
    parse_time,
    period_key,
    previous_meeting,
    reminder_times,
    shift_period,
)

VN = DEFAULT_TZ
ICT = ZoneInfo(VN)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def vn(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Vietnam wall-clock time, as the UTC instant it is."""
    return datetime(year, month, day, hour, minute, tzinfo=ICT).astimezone(UTC)


def day_rule(day: int, at: time = time(19, 30), place: str = "") -> MeetingRule:
    return MeetingRule(kind="day", day=day, at=at, place=place)


def wd_rule(weekday: int, nth: int, at: time = time(19, 30), place: str = "") -> MeetingRule:
    return MeetingRule(kind="weekday", weekday=weekday, nth=nth, at=at, place=place)


def local_day(moment: datetime, tz: str = VN) -> date:
    return moment.astimezone(ZoneInfo(tz)).date()


NO_OVERRIDES: dict[str, Override] = {}
NTHS = (1, 2, 3, 4, -1)


# -- day N of the month --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("day", "year", "month", "expected"),
    [
        (31, 2026, 2, 28),
        (31, 2028, 2, 29),  # leap year
        (30, 2026, 2, 28),
        (30, 2028, 2, 29),
        (29, 2026, 2, 28),
        (29, 2028, 2, 29),
        (28, 2026, 2, 28),
        (31, 2026, 4, 30),
        (31, 2026, 6, 30),
        (31, 2026, 1, 31),
        (31, 2026, 12, 31),
        (30, 2026, 4, 30),
        (1, 2026, 2, 1),
        (3, 2026, 3, 3),
    ],
)
def test_day_rule_clamps_to_the_month_end(day: int, year: int, month: int, expected: int) -> None:
    got = meeting_in_month(day_rule(day), year, month, VN)
    assert got == vn(year, month, expected, 19, 30)


def test_evening_meeting_is_the_right_utc_instant() -> None:
    got = meeting_in_month(day_rule(3, time(19, 30)), 2026, 3, VN)
    assert got == utc(2026, 3, 3, 12, 30)
    assert got.tzinfo is UTC
    # Early morning in Vietnam is the previous day in UTC.
    assert meeting_in_month(day_rule(1, time(6, 30)), 2026, 3, VN) == utc(2026, 2, 28, 23, 30)
    # Another timezone: same wall time, other instant.
    assert meeting_in_month(day_rule(3, time(19, 30)), 2026, 3, "Europe/Berlin") == utc(
        2026, 3, 3, 18, 30
    )


# -- nth weekday ---------------------------------------------------------------------------------
def test_nth_weekday_in_a_month_that_starts_on_that_weekday() -> None:
    # June 2026 starts on a Monday and has five Mondays (1, 8, 15, 22, 29).
    assert date(2026, 6, 1).weekday() == 0
    mondays = {nth: local_day(meeting_in_month(wd_rule(0, nth), 2026, 6, VN)) for nth in NTHS}
    assert mondays == {
        1: date(2026, 6, 1),
        2: date(2026, 6, 8),
        3: date(2026, 6, 15),
        4: date(2026, 6, 22),
        -1: date(2026, 6, 29),  # the fifth: "last" is not "fourth" here
    }


def test_nth_weekday_in_a_four_week_month() -> None:
    # February 2026 starts on a Sunday and has exactly four of every weekday.
    assert date(2026, 2, 1).weekday() == 6
    mondays = {nth: local_day(meeting_in_month(wd_rule(0, nth), 2026, 2, VN)) for nth in NTHS}
    assert mondays == {
        1: date(2026, 2, 2),
        2: date(2026, 2, 9),
        3: date(2026, 2, 16),
        4: date(2026, 2, 23),
        -1: date(2026, 2, 23),  # last == fourth
    }
    sundays = [local_day(meeting_in_month(wd_rule(6, nth), 2026, 2, VN)) for nth in NTHS]
    assert sundays == [date(2026, 2, d) for d in (1, 8, 15, 22, 22)]


def test_first_weekday_the_day_before_the_month_starts() -> None:
    # March 2026 starts on a Sunday: its first Saturday is the 7th, its first Sunday the 1st.
    assert local_day(meeting_in_month(wd_rule(5, 1), 2026, 3, VN)) == date(2026, 3, 7)
    assert local_day(meeting_in_month(wd_rule(6, 1), 2026, 3, VN)) == date(2026, 3, 1)


@pytest.mark.parametrize("month", range(1, 13))
def test_last_friday_of_every_month_of_2026(month: int) -> None:
    fridays = [
        week[calendar.FRIDAY]
        for week in calendar.monthcalendar(2026, month)
        if week[calendar.FRIDAY] != 0
    ]
    got = meeting_in_month(wd_rule(4, -1, time(19, 30)), 2026, month, VN)
    assert got == vn(2026, month, fridays[-1], 19, 30)
    first = meeting_in_month(wd_rule(4, 1, time(19, 30)), 2026, month, VN)
    assert first == vn(2026, month, fridays[0], 19, 30)


ZONES = (VN, "UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "America/New_York")
rules = st.one_of(
    st.builds(
        MeetingRule,
        kind=st.just("day"),
        day=st.integers(1, 31),
        at=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    ),
    st.builds(
        MeetingRule,
        kind=st.just("weekday"),
        weekday=st.integers(0, 6),
        nth=st.sampled_from(NTHS),
        at=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    rule=rules,
    year=st.integers(2020, 2035),
    month=st.integers(1, 12),
    tz=st.sampled_from(ZONES),
)
def test_property_meeting_is_in_its_month(
    rule: MeetingRule, year: int, month: int, tz: str
) -> None:
    got = meeting_in_month(rule, year, month, tz)
    assert got.tzinfo is UTC
    local = got.astimezone(ZoneInfo(tz))
    assert (local.year, local.month) == (year, month)
    last = calendar.monthrange(year, month)[1]
    if rule.kind == "day":
        assert rule.day is not None
        assert local.day == min(rule.day, last)
    else:
        assert local.weekday() == rule.weekday
        if rule.nth == -1:
            assert local.day + 7 > last
        else:
            assert rule.nth is not None
            assert (local.day - 1) // 7 == rule.nth - 1
    if tz != "America/New_York":  # no DST: the wall time is exactly the rule's
        assert local.time() == rule.at


def test_every_rule_every_month_2020_2035_exhaustively() -> None:
    """The property above, for all 31 + 35 rules and all 192 months, in Vietnam time."""
    all_rules = [day_rule(d) for d in range(1, 32)]
    all_rules += [wd_rule(w, n) for w in range(7) for n in NTHS]
    for year in range(2020, 2036):
        for month in range(1, 13):
            last = calendar.monthrange(year, month)[1]
            for rule in all_rules:
                local = meeting_in_month(rule, year, month, VN).astimezone(ICT)
                assert (local.year, local.month, local.time()) == (year, month, time(19, 30))
                if rule.kind == "day":
                    assert local.day == min(rule.day or 0, last)
                else:
                    assert local.weekday() == rule.weekday


# -- timezone independence -----------------------------------------------------------------------
@pytest.fixture
def host_tz() -> Iterator[None]:
    """Run with a host timezone far from Vietnam; restore it afterwards."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "America/Los_Angeles"
    time_module.tzset()
    try:
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time_module.tzset()


def _snapshot() -> list[Any]:
    rule = day_rule(1, time(6, 30))
    now = utc(2026, 3, 15)
    meeting = next_meeting(rule, NO_OVERRIDES, now, VN)
    assert meeting is not None
    return [
        meeting_in_month(rule, 2026, 3, VN),
        meeting,
        previous_meeting(rule, NO_OVERRIDES, now, VN),
        reminder_times(meeting, ReminderRule(), VN),
        opens_at(meeting, ReminderRule(), VN),
    ]


def test_results_do_not_depend_on_the_host_timezone(host_tz: None) -> None:
    assert time_module.localtime(0).tm_hour == 16  # the host really is in Los Angeles
    away = _snapshot()
    os.environ["TZ"] = "Asia/Tokyo"
    time_module.tzset()
    assert _snapshot() == away
    os.environ["TZ"] = "UTC"
    time_module.tzset()
    assert _snapshot() == away
    # and the values are the Vietnamese ones
    assert away[0] == vn(2026, 3, 1, 6, 30) == utc(2026, 2, 28, 23, 30)
    assert away[1].starts_at == vn(2026, 4, 1, 6, 30)


# -- periods -------------------------------------------------------------------------------------
def test_period_keys() -> None:
    assert period_key(2026, 3) == "2026-03"
    assert period_key(2026, 12) == "2026-12"
    assert shift_period("2026-12", 1) == "2027-01"
    assert shift_period("2027-01", -1) == "2026-12"
    assert shift_period("2026-03", 0) == "2026-03"
    assert shift_period("2026-03", 13) == "2027-04"
    assert shift_period("2026-03", -15) == "2024-12"
    assert shift_period("2026-01", -24) == "2024-01"
    assert parse_period("2026-03") == (2026, 3)
    for bad in ("2026-13", "2026-00", "2026-3", "26-03", "2026/03", "", "abcd-ef"):
        with pytest.raises(ValueError):
            parse_period(bad)
    with pytest.raises(ValueError):
        period_key(2026, 13)


# -- overrides, next and previous ----------------------------------------------------------------
RULE3 = day_rule(3, time(19, 30), "Nhà văn hóa thôn")


def test_meeting_for_period_regular_moved_cancelled() -> None:
    regular = meeting_for_period(RULE3, "2026-03", NO_OVERRIDES, VN)
    assert regular == Meeting("2026-03", vn(2026, 3, 3, 19, 30), "Nhà văn hóa thôn", moved=False)

    moved_at = datetime(2026, 3, 5, 14, 0, tzinfo=ICT)  # given in local time: stored as UTC
    overrides = {
        "2026-03": Override("2026-03", moved_at, place="Hội trường xã"),
        "2026-04": Override("2026-04", None),
        "2026-05": Override("2026-05", vn(2026, 5, 4, 19, 30)),
    }
    moved = meeting_for_period(RULE3, "2026-03", overrides, VN)
    assert moved == Meeting("2026-03", utc(2026, 3, 5, 7, 0), "Hội trường xã", moved=True)
    assert moved is not None and moved.starts_at.tzinfo is UTC
    assert meeting_for_period(RULE3, "2026-04", overrides, VN) is None
    may = meeting_for_period(RULE3, "2026-05", overrides, VN)
    assert may is not None and may.place == "Nhà văn hóa thôn" and may.moved


def test_next_meeting_skips_a_cancelled_month() -> None:
    overrides = {"2026-04": Override("2026-04", None)}
    got = next_meeting(RULE3, overrides, vn(2026, 3, 20), VN)
    assert got is not None
    assert (got.period, got.starts_at) == ("2026-05", vn(2026, 5, 3, 19, 30))
    # previous_meeting skips it too
    prev = previous_meeting(RULE3, overrides, vn(2026, 5, 1), VN)
    assert prev is not None and prev.period == "2026-03"


def test_next_meeting_follows_a_moved_meeting() -> None:
    # April's meeting brought forward to 30 March: on 25 March it is next, before 3 April.
    overrides = {"2026-04": Override("2026-04", vn(2026, 3, 30, 19, 30))}
    got = next_meeting(RULE3, overrides, vn(2026, 3, 25), VN)
    assert got is not None and (got.period, got.moved) == ("2026-04", True)
    after = next_meeting(RULE3, overrides, vn(2026, 3, 31), VN)
    assert after is not None and after.period == "2026-05"


def test_next_meeting_sees_last_months_meeting_postponed_into_this_month() -> None:
    overrides = {"2026-03": Override("2026-03", vn(2026, 4, 2, 19, 30))}
    got = next_meeting(RULE3, overrides, vn(2026, 4, 1, 12), VN)
    assert got is not None and (got.period, got.starts_at) == ("2026-03", vn(2026, 4, 2, 19, 30))
    then = next_meeting(RULE3, overrides, vn(2026, 4, 2, 20), VN)
    assert then is not None and then.period == "2026-04"


def test_next_and_previous_around_a_meeting_start() -> None:
    start = vn(2026, 3, 3, 19, 30)
    second = timedelta(seconds=1)
    before = next_meeting(RULE3, NO_OVERRIDES, start - second, VN)
    assert before is not None and before.starts_at == start
    at = next_meeting(RULE3, NO_OVERRIDES, start, VN)
    assert at is not None and at.period == "2026-04"  # strictly after now
    after = next_meeting(RULE3, NO_OVERRIDES, start + second, VN)
    assert after is not None and after.starts_at == vn(2026, 4, 3, 19, 30)

    prev_before = previous_meeting(RULE3, NO_OVERRIDES, start - second, VN)
    assert prev_before is not None and prev_before.period == "2026-02"
    prev_at = previous_meeting(RULE3, NO_OVERRIDES, start, VN)
    assert prev_at is not None and prev_at.starts_at == start  # at or before now
    # `now` in any timezone means the same instant
    tokyo = next_meeting(
        RULE3, NO_OVERRIDES, (start - second).astimezone(ZoneInfo("Asia/Tokyo")), VN
    )
    assert tokyo == before


def test_next_meeting_across_the_year_boundary() -> None:
    got = next_meeting(RULE3, NO_OVERRIDES, vn(2026, 12, 20), VN)
    assert got is not None and (got.period, got.starts_at) == ("2027-01", vn(2027, 1, 3, 19, 30))
    prev = previous_meeting(RULE3, NO_OVERRIDES, vn(2027, 1, 1), VN)
    assert prev is not None and prev.period == "2026-12"
    # Last Friday at 19:30 on 31 Dec 2027 (a Friday): local December, UTC also December.
    last_friday = wd_rule(4, -1)
    dec = next_meeting(last_friday, NO_OVERRIDES, vn(2027, 12, 30), VN)
    assert dec is not None and (dec.period, dec.starts_at) == ("2027-12", vn(2027, 12, 31, 19, 30))
    # Day 1 at 06:30 local is still the previous year in UTC; its period is the local month.
    early = next_meeting(day_rule(1, time(6, 30)), NO_OVERRIDES, vn(2026, 12, 20), VN)
    assert early is not None and early.period == "2027-01"
    assert early.starts_at == utc(2026, 12, 31, 23, 30)


def test_everything_cancelled_gives_none() -> None:
    now = vn(2026, 3, 10)
    overrides = {
        shift_period("2026-03", k): Override(shift_period("2026-03", k), None)
        for k in range(-14, 15)
    }
    assert next_meeting(RULE3, overrides, now, VN) is None
    assert previous_meeting(RULE3, overrides, now, VN) is None
    # 13 months ahead is still looked at; 14 is not.
    open_13 = dict(overrides)
    del open_13["2027-04"]
    got = next_meeting(RULE3, open_13, now, VN)
    assert got is not None and got.period == "2027-04"
    open_14 = dict(overrides)
    del open_14["2027-05"]
    assert next_meeting(RULE3, open_14, now, VN) is None


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        next_meeting(RULE3, NO_OVERRIDES, datetime(2026, 3, 1), VN)
    with pytest.raises(ValueError):
        previous_meeting(RULE3, NO_OVERRIDES, datetime(2026, 3, 1), VN)
    with pytest.raises(ValueError):
        Override("2026-03", datetime(2026, 3, 5, 19, 30))
    with pytest.raises(ValueError):
        Override("2026-3", None)


# -- reminders and quiet hours -------------------------------------------------------------------
def meeting_at(local: datetime) -> Meeting:
    return Meeting(period_key(local.year, local.month), local.astimezone(UTC), "", moved=False)


def test_reminders_for_an_evening_meeting() -> None:
    m = meeting_at(datetime(2026, 3, 3, 19, 30, tzinfo=ICT))
    assert reminder_times(m, ReminderRule(), VN) == {
        "d3": vn(2026, 2, 28, 8, 0),  # across the month end
        "d1": vn(2026, 3, 2, 8, 0),
        "dayof": vn(2026, 3, 3, 17, 30),
        "digest": vn(2026, 3, 2, 18, 0),
    }


def test_morning_meeting_dayof_reminder_pushed_to_seven() -> None:
    m = meeting_at(datetime(2026, 3, 3, 7, 30, tzinfo=ICT))
    got = reminder_times(m, ReminderRule(), VN)
    assert got["dayof"] == vn(2026, 3, 3, 7, 0)  # 05:30 is in quiet hours
    assert got["d3"] == vn(2026, 2, 28, 8, 0)  # 08:00 reminders untouched
    assert got["d1"] == vn(2026, 3, 2, 8, 0)
    assert got["digest"] == vn(2026, 3, 2, 18, 0)


def test_very_early_meeting_dayof_reminder_moved_to_the_evening_before() -> None:
    m = meeting_at(datetime(2026, 3, 3, 6, 30, tzinfo=ICT))
    got = reminder_times(m, ReminderRule(), VN)
    # 04:30 is quiet; 07:00 would be after the 06:30 start: 20:00 the evening before instead.
    assert got["dayof"] == vn(2026, 3, 2, 20, 0)
    assert got["d1"] == vn(2026, 3, 2, 8, 0)
    assert all(t < m.starts_at for t in got.values())


def test_late_reminder_time_pushed_to_the_next_morning() -> None:
    rule = ReminderRule(digest_at=time(22, 0), d1_at=time(21, 0))
    m = meeting_at(datetime(2026, 3, 3, 19, 30, tzinfo=ICT))
    got = reminder_times(m, rule, VN)
    assert got["digest"] == vn(2026, 3, 3, 7, 0)  # 22:00 on D-1 -> 07:00 on the day
    assert got["d1"] == vn(2026, 3, 3, 7, 0)  # 21:00 is already quiet
    # the same, when 07:00 would be too late for a 06:45 meeting
    early = meeting_at(datetime(2026, 3, 3, 6, 45, tzinfo=ICT))
    assert reminder_times(early, rule, VN)["digest"] == vn(2026, 3, 2, 20, 0)


def test_quiet_hours_edges() -> None:
    rule = ReminderRule()
    far = vn(2026, 3, 10, 19, 30)
    assert apply_quiet_hours(vn(2026, 3, 3, 20, 59), far, rule, VN) == vn(2026, 3, 3, 20, 59)
    assert apply_quiet_hours(vn(2026, 3, 3, 21, 0), far, rule, VN) == vn(2026, 3, 4, 7, 0)
    assert apply_quiet_hours(vn(2026, 3, 3, 23, 59), far, rule, VN) == vn(2026, 3, 4, 7, 0)
    assert apply_quiet_hours(vn(2026, 3, 4, 0, 0), far, rule, VN) == vn(2026, 3, 4, 7, 0)
    assert apply_quiet_hours(vn(2026, 3, 4, 6, 59), far, rule, VN) == vn(2026, 3, 4, 7, 0)
    assert apply_quiet_hours(vn(2026, 3, 4, 7, 0), far, rule, VN) == vn(2026, 3, 4, 7, 0)
    # pushing to 07:00 exactly at the start is not allowed either: back to 20:00
    start7 = vn(2026, 3, 4, 7, 0)
    assert apply_quiet_hours(vn(2026, 3, 4, 5, 0), start7, rule, VN) == vn(2026, 3, 3, 20, 0)
    # a meeting late in the evening: its 21:30 reminder goes back to 20:00 that same evening
    start23 = vn(2026, 3, 3, 23, 30)
    assert apply_quiet_hours(vn(2026, 3, 3, 21, 30), start23, rule, VN) == vn(2026, 3, 3, 20, 0)
    # result is UTC whatever the input zone
    got = apply_quiet_hours(datetime(2026, 3, 3, 12, 0, tzinfo=UTC), far, rule, VN)
    assert got.tzinfo is UTC


def test_quiet_hours_not_across_midnight_and_turned_off() -> None:
    night = ReminderRule(quiet_start=time(0, 0), quiet_end=time(6, 0))
    far = vn(2026, 3, 10)
    assert apply_quiet_hours(vn(2026, 3, 4, 2, 0), far, night, VN) == vn(2026, 3, 4, 6, 0)
    assert apply_quiet_hours(vn(2026, 3, 3, 23, 0), far, night, VN) == vn(2026, 3, 3, 23, 0)
    start = vn(2026, 3, 4, 5, 30)
    assert apply_quiet_hours(vn(2026, 3, 4, 2, 0), start, night, VN) == vn(2026, 3, 3, 20, 0)
    off = ReminderRule(quiet_start=time(21, 0), quiet_end=time(21, 0))
    assert apply_quiet_hours(vn(2026, 3, 4, 2, 0), far, off, VN) == vn(2026, 3, 4, 2, 0)


def test_reminders_that_would_not_precede_the_meeting_are_left_out() -> None:
    m = meeting_at(datetime(2026, 3, 3, 7, 30, tzinfo=ICT))
    same_day = ReminderRule(digest_days=0, d1_days=0, dayof_hours=0)
    got = reminder_times(m, same_day, VN)
    assert "digest" not in got  # 18:00 on the day is after 07:30
    assert "dayof" not in got  # 0 hours before = at the start
    assert "d1" not in got  # 08:00 on the day is after 07:30: not pulled earlier
    assert set(got) == {"d3"}
    # Inside quiet hours too: a reminder at/after the start is not pulled back to 20:00.
    dawn = meeting_at(datetime(2026, 3, 3, 6, 30, tzinfo=ICT))
    got = reminder_times(dawn, ReminderRule(dayof_hours=0, d1_days=0, d1_at=time(6, 45)), VN)
    assert set(got) == {"d3", "digest"}


def test_reminder_keys_are_all_present_normally() -> None:
    m = meeting_at(datetime(2026, 3, 31, 19, 30, tzinfo=ICT))
    got = reminder_times(m, ReminderRule(), VN)
    assert set(got) == {"d3", "d1", "dayof", "digest"}
    assert all(t.tzinfo is UTC and t < m.starts_at for t in got.values())


def test_opens_at() -> None:
    m = meeting_at(datetime(2026, 3, 3, 19, 30, tzinfo=ICT))
    assert opens_at(m, ReminderRule(), VN) == vn(2026, 2, 24, 0, 0) == utc(2026, 2, 23, 17, 0)
    assert opens_at(m, ReminderRule(open_days=0), VN) == vn(2026, 3, 3, 0, 0)
    # a meeting at 06:30 local is on the previous UTC day; the local day counts
    early = meeting_at(datetime(2026, 3, 3, 6, 30, tzinfo=ICT))
    assert opens_at(early, ReminderRule(), VN) == vn(2026, 2, 24, 0, 0)


# -- typed input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "kind", "value", "nth"),
    [
        ("ngày 3", "day", 3, None),
        ("Ngày 3", "day", 3, None),
        ("mùng 3", "day", 3, None),
        ("mồng 3", "day", 3, None),
        ("mung 10", "day", 10, None),
        ("3", "day", 3, None),
        ("03", "day", 3, None),
        ("ngày 31", "day", 31, None),
        ("NGÀY 31", "day", 31, None),
        ("ngay 1", "day", 1, None),
        ("ngày mùng 4", "day", 4, None),
        ("ngày 3 hằng tháng", "day", 3, None),
        ("ngày 20 hàng tháng", "day", 20, None),
        ("  ngày   5 ", "day", 5, None),
        ("thứ hai tuần đầu", "weekday", 0, 1),
        ("Thứ Hai tuần đầu tiên", "weekday", 0, 1),
        ("thứ 2 đầu tháng", "weekday", 0, 1),
        ("thu hai dau thang", "weekday", 0, 1),
        ("thứ hai đầu tiên của tháng", "weekday", 0, 1),
        ("thứ ba tuần 1", "weekday", 1, 1),
        ("thu sau cuoi thang", "weekday", 4, -1),
        ("thứ 6 tuần cuối", "weekday", 4, -1),
        ("Thứ Sáu cuối cùng của tháng", "weekday", 4, -1),
        ("thứ sáu tuần cuối cùng", "weekday", 4, -1),
        ("chủ nhật tuần thứ hai", "weekday", 6, 2),
        ("Chủ Nhật tuần 2", "weekday", 6, 2),
        ("CN cuối tháng", "weekday", 6, -1),
        ("thứ tư tuần 3", "weekday", 2, 3),
        ("thứ tư tuần thứ tư", "weekday", 2, 4),
        ("thứ 4 tuần thứ 4", "weekday", 2, 4),
        ("thứ năm tuần thứ ba", "weekday", 3, 3),
        ("thứ bảy tuần thứ hai", "weekday", 5, 2),
        ("thứ 7, tuần đầu", "weekday", 5, 1),
        ("T7 cuối tháng", "weekday", 5, -1),
        ("vào thứ hai tuần đầu hằng tháng", "weekday", 0, 1),
    ],
)
def test_parse_rule_accepts(text: str, kind: str, value: int, nth: int | None) -> None:
    rule = parse_rule(text)
    assert rule is not None, text
    assert rule.kind == kind
    if kind == "day":
        assert (rule.day, rule.weekday, rule.nth) == (value, None, None)
    else:
        assert (rule.day, rule.weekday, rule.nth) == (None, value, nth)
    assert (rule.at, rule.place) == (time(7, 30), "")  # asked separately


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "0",
        "ngày 0",
        "ngày 32",
        "mùng 40",
        "100",
        "3 tháng",  # three months, not the 3rd
        "ngày 3/5",
        "thứ hai",  # which week?
        "thứ 8 tuần đầu",
        "thứ 1 tuần đầu",
        "thứ hai tuần 5",
        "thứ hai tuần thứ năm",
        "thứ hai thứ hai",
        "tuần đầu",
        "cuối tháng",
        "19:30",
    ],
)
def test_parse_rule_rejects(text: str) -> None:
    assert parse_rule(text) is None


def test_parse_rule_reads_what_describe_writes() -> None:
    for weekday in range(7):
        for nth in NTHS:
            rule = wd_rule(weekday, nth, time(7, 30))
            words = rule.describe().split(", ")[0]
            assert parse_rule(words) == rule, words
    for day in range(1, 32):
        assert parse_rule(day_rule(day, time(7, 30)).describe().split(", ")[0]) == day_rule(
            day, time(7, 30)
        )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("19:30", time(19, 30)),
        ("19h30", time(19, 30)),
        ("19H30", time(19, 30)),
        ("19h", time(19, 0)),
        ("7h30", time(7, 30)),
        ("7 giờ 30", time(7, 30)),
        ("7 giờ 30 phút", time(7, 30)),
        ("7g30", time(7, 30)),
        ("07.30", time(7, 30)),
        ("19 gio", time(19, 0)),
        ("19 giờ", time(19, 0)),
        ("7:05", time(7, 5)),
        ("0:00", time(0, 0)),
        ("23:59", time(23, 59)),
        (" 19 : 30 ", time(19, 30)),
        ("7 giờ rưỡi", time(7, 30)),
        ("7h30 tối", time(19, 30)),
        ("7 giờ tối", time(19, 0)),
        ("19h30 tối", time(19, 30)),
        ("2 giờ chiều", time(14, 0)),
        ("14h chiều", time(14, 0)),
        ("7h sáng", time(7, 0)),
        ("12 giờ trưa", time(12, 0)),
        ("1 giờ trưa", time(13, 0)),
    ],
)
def test_parse_time_accepts(text: str, expected: time) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "25:00",
        "24:00",
        "19:60",
        "7h75",
        "19",  # a bare number: ambiguous
        "1930",
        "19:3",
        "19.",
        "19:30:00",
        "-1:00",
        "19h sáng",
        "12 giờ tối",
        "3 giờ tối",
        "7h30 đêm",
        "ngày 3",
    ],
)
def test_parse_time_rejects(text: str) -> None:
    assert parse_time(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("25/12", date(2026, 12, 25)),
        ("5/1", date(2026, 1, 5)),
        ("25/12/2026", date(2026, 12, 25)),
        ("25-12-2026", date(2026, 12, 25)),
        ("25.12.2026", date(2026, 12, 25)),
        ("05/01/2027", date(2027, 1, 5)),
        ("ngày 25/12", date(2026, 12, 25)),
        ("29/2/2028", date(2028, 2, 29)),
        (" 3/4 ", date(2026, 4, 3)),
    ],
)
def test_parse_date_accepts(text: str, expected: date) -> None:
    assert parse_date(text, 2026) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "25",
        "32/12",
        "31/4",
        "29/2",  # 2026 is not a leap year
        "29/2/2026",
        "25/13/2026",
        "0/1",
        "25/12/26",
        "25/12-2026",
        "2026-12-25",
        "25//12",
    ],
)
def test_parse_date_rejects(text: str) -> None:
    assert parse_date(text, 2026) is None


# -- describe and JSON ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rule", "words"),
    [
        (
            day_rule(3, time(19, 30), "Nhà văn hóa thôn"),
            "ngày 3 hằng tháng, lúc 19:30, tại Nhà văn hóa thôn",
        ),
        (day_rule(31, time(7, 0)), "ngày 31 hằng tháng, lúc 07:00"),
        (wd_rule(0, 1, time(7, 30)), "thứ Hai tuần đầu tiên của tháng, lúc 07:30"),
        (wd_rule(4, -1, time(19, 30)), "thứ Sáu cuối tháng, lúc 19:30"),
        (wd_rule(6, 2, time(8, 0)), "Chủ nhật tuần thứ hai của tháng, lúc 08:00"),
        (
            wd_rule(2, 3, time(14, 0), "Hội trường"),
            "thứ Tư tuần thứ ba của tháng, lúc 14:00, tại Hội trường",
        ),
        (wd_rule(5, 4, time(19, 0), "   "), "thứ Bảy tuần thứ tư của tháng, lúc 19:00"),
    ],
)
def test_describe(rule: MeetingRule, words: str) -> None:
    assert rule.describe() == words


def test_describe_uses_texts() -> None:
    assert len(texts.WEEKDAY_NAMES) == 7 and len(texts.WEEK_NAMES) == 4
    assert texts.RULE_DAY.format(day=3) in day_rule(3).describe()


def test_default_time_is_0730() -> None:
    assert MeetingRule(kind="day", day=3).at == time(7, 30)


@pytest.mark.parametrize(
    "rule",
    [
        day_rule(3, time(19, 30), "Nhà văn hóa thôn"),
        day_rule(31, time(0, 0)),
        wd_rule(0, 1, time(7, 30)),
        wd_rule(4, -1, time(23, 59), 'Hội trường <UBND> & "xã"'),
        wd_rule(6, 4),
    ],
)
def test_meeting_rule_json_round_trip(rule: MeetingRule) -> None:
    data = rule.to_json()
    assert set(data) == {"kind", "day", "weekday", "nth", "time", "place"}
    assert MeetingRule.from_json(data) == rule


def test_meeting_rule_json_shape() -> None:
    assert day_rule(3, time(19, 30), "Nhà văn hóa thôn").to_json() == {
        "kind": "day",
        "day": 3,
        "weekday": None,
        "nth": None,
        "time": "19:30",
        "place": "Nhà văn hóa thôn",
    }
    assert wd_rule(0, -1, time(7, 5)).to_json()["time"] == "07:05"
    # the shape documented in models/tables.py, with missing optional keys
    assert MeetingRule.from_json({"kind": "weekday", "weekday": 0, "nth": 1, "time": "07:30"}) == (
        wd_rule(0, 1, time(7, 30))
    )
    assert MeetingRule.from_json({"kind": "day", "day": 3}) == day_rule(3, time(7, 30))
    assert MeetingRule.from_json({"kind": "day", "day": 3, "place": None}).place == ""


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"kind": "week", "day": 3},
        {"kind": "day"},
        {"kind": "day", "day": 0},
        {"kind": "day", "day": 32},
        {"kind": "day", "day": "3"},
        {"kind": "day", "day": 3.0},
        {"kind": "day", "day": True},
        {"kind": "day", "day": 3, "weekday": 1},
        {"kind": "day", "day": 3, "time": "25:00"},
        {"kind": "day", "day": 3, "time": "19h30"},
        {"kind": "day", "day": 3, "time": 1930},
        {"kind": "day", "day": 3, "time": None},
        {"kind": "day", "day": 3, "place": 5},
        {"kind": "day", "day": 3, "colour": "red"},
        {"kind": "weekday", "weekday": 7, "nth": 1},
        {"kind": "weekday", "weekday": -1, "nth": 1},
        {"kind": "weekday", "weekday": 0, "nth": 5},
        {"kind": "weekday", "weekday": 0, "nth": 0},
        {"kind": "weekday", "weekday": 0, "nth": -2},
        {"kind": "weekday", "weekday": 0},
        {"kind": "weekday", "nth": 1},
        {"kind": "weekday", "weekday": 0, "nth": 1, "day": 3},
    ],
)
def test_meeting_rule_from_json_rejects(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        MeetingRule.from_json(data)


def test_meeting_rule_from_json_rejects_non_objects() -> None:
    bad: Any
    for bad in (None, [], "day 3"):
        with pytest.raises(ValueError):
            MeetingRule.from_json(bad)


def test_meeting_rule_constructor_validates() -> None:
    with pytest.raises(ValueError):
        MeetingRule(kind="day", day=3, at=time(19, 30, 15))
    with pytest.raises(ValueError):
        MeetingRule(kind="day", day=3, at=time(19, 30, tzinfo=UTC))


def test_reminder_rule_json() -> None:
    default = ReminderRule()
    data = default.to_json()
    assert data == {
        "d3_days": 3,
        "d3_at": "08:00",
        "d1_days": 1,
        "d1_at": "08:00",
        "dayof_hours": 2.0,
        "digest_days": 1,
        "digest_at": "18:00",
        "quiet_start": "21:00",
        "quiet_end": "07:00",
        "open_days": 7,
        "evening_at": "20:00",
    }
    assert ReminderRule.from_json(data) == default
    custom = ReminderRule(d3_days=5, dayof_hours=1.5, digest_at=time(17, 30), open_days=10)
    assert ReminderRule.from_json(custom.to_json()) == custom
    # partial (a config section): the rest are defaults; TOML times are accepted
    assert ReminderRule.from_json({"dayof_hours": 3}) == ReminderRule(dayof_hours=3)
    assert ReminderRule.from_json({"d1_at": time(9, 0)}) == ReminderRule(d1_at=time(9, 0))


@pytest.mark.parametrize(
    "data",
    [
        {"d3_days": -1},
        {"d3_days": "3"},
        {"d3_days": 1.5},
        {"open_days": True},
        {"dayof_hours": -1},
        {"dayof_hours": float("nan")},
        {"dayof_hours": "2"},
        {"d3_at": "8h"},
        {"d3_at": "24:00"},
        {"quiet_start": None},
        {"evening_at": "22:00"},  # inside the quiet hours
        {"unknown": 1},
    ],
)
def test_reminder_rule_from_json_rejects(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ReminderRule.from_json(data)
