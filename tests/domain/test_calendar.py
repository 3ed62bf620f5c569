"""Working days in England: the unit every statutory timescale and `late_by_days` is counted in."""

from __future__ import annotations

from datetime import date, timedelta

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendar import add_working_days, is_working_day, working_days_between

# Every England bank holiday the library knows for the years the property test draws from, looked
# up independently of domain.calendar's cache.
_YEARS = range(2010, 2031)
_BANK_HOLIDAYS = frozenset(holidays.country_holidays("GB", subdiv="ENG", years=_YEARS))


def _naive_count(start: date, end: date) -> int:
    """Day by day: working days after `start` up to and including `end`."""
    count = 0
    day = start + timedelta(days=1)
    while day <= end:
        if day.weekday() < 5 and day not in _BANK_HOLIDAYS:
            count += 1
        day += timedelta(days=1)
    return count


def test_working_days_between_when_friday_to_monday_then_one() -> None:
    # Given a Friday and the Monday after it (no bank holiday between)
    friday, monday = date(2013, 6, 14), date(2013, 6, 17)

    # When
    days = working_days_between(friday, monday)

    # Then the weekend does not count
    assert days == 1


def test_working_days_between_when_same_day_or_backwards_then_zero() -> None:
    # Given a day
    day = date(2013, 6, 14)

    # When / Then an entry recorded the day it happened, or "before" it, is not late
    assert working_days_between(day, day) == 0
    assert working_days_between(day, day - timedelta(days=10)) == 0


def test_working_days_between_when_next_working_day_then_one() -> None:
    # Given a Tuesday and the Wednesday after it
    # When / Then
    assert working_days_between(date(2013, 6, 11), date(2013, 6, 12)) == 1


def test_working_days_between_when_weekend_only_then_zero() -> None:
    # Given a Friday and the Sunday after it
    # When / Then nothing after the Friday up to the Sunday is a working day
    assert working_days_between(date(2013, 6, 14), date(2013, 6, 16)) == 0


def test_working_days_between_when_spanning_christmas_2013_then_bank_holidays_skipped() -> None:
    # Given Friday 20 December 2013 and Thursday 2 January 2014
    start, end = date(2013, 12, 20), date(2014, 1, 2)

    # When
    days = working_days_between(start, end)

    # Then: Mon 23, Tue 24, (Wed 25 Christmas, Thu 26 Boxing Day), Fri 27, Mon 30, Tue 31,
    # (Wed 1 January New Year's Day), Thu 2 = 6 working days
    assert days == 6


def test_working_days_between_when_spanning_easter_2014_then_friday_and_monday_skipped() -> None:
    # Given Thursday 17 April 2014 (Maundy Thursday) and Tuesday 22 April 2014
    start, end = date(2014, 4, 17), date(2014, 4, 22)

    # When
    days = working_days_between(start, end)

    # Then: (Fri 18 Good Friday), (Sat), (Sun), (Mon 21 Easter Monday), Tue 22 = 1 working day
    assert days == 1


def test_working_days_between_when_spanning_early_may_bank_holiday_then_it_is_skipped() -> None:
    # Given Friday 2 May 2014 and Friday 9 May 2014 (Monday 5 May 2014 is the early May holiday)
    start, end = date(2014, 5, 2), date(2014, 5, 9)

    # When
    days = working_days_between(start, end)

    # Then: (Mon 5), Tue 6, Wed 7, Thu 8, Fri 9 = 4
    assert days == 4


def test_working_days_between_when_may_holiday_moved_in_2020_then_friday_8_skipped() -> None:
    # Given the week of 4 May 2020: that year the early May bank holiday moved to Friday 8 May
    # (the VE Day anniversary) and Monday 4 May was a working day
    # When / Then
    assert is_working_day(date(2020, 5, 4))
    assert not is_working_day(date(2020, 5, 8))
    # Fri 1 May 2020 → Mon 11 May 2020: Mon 4, Tue 5, Wed 6, Thu 7, (Fri 8), Mon 11 = 5
    assert working_days_between(date(2020, 5, 1), date(2020, 5, 11)) == 5


def test_working_days_between_when_boxing_day_on_saturday_then_substitute_monday_skipped() -> None:
    # Given Christmas 2020: Christmas Day Friday 25, Boxing Day Saturday 26, so Monday 28 December
    # is the substitute bank holiday
    start, end = date(2020, 12, 24), date(2020, 12, 31)

    # When
    days = working_days_between(start, end)

    # Then: (Fri 25), (Sat 26), (Sun 27), (Mon 28 substitute), Tue 29, Wed 30, Thu 31 = 3
    assert not is_working_day(date(2020, 12, 28))
    assert days == 3


def test_working_days_between_when_many_whole_weeks_then_holidays_in_them_are_skipped() -> None:
    # Given a span of several whole weeks holding the spring and late summer bank holidays of
    # 2013 (Monday 27 May, Monday 26 August)
    start, end = date(2013, 5, 20), date(2013, 9, 2)  # both Mondays, 15 weeks apart

    # When
    days = working_days_between(start, end)

    # Then 15 weeks of 5 weekdays, less the two bank holidays
    assert days == 15 * 5 - 2


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        # Friday + 1 working day is the Monday after
        (date(2013, 6, 14), 1, date(2013, 6, 17)),
        # zero working days after a day is that day
        (date(2013, 6, 15), 0, date(2013, 6, 15)),
        # from a Saturday, the first working day is the Monday
        (date(2013, 6, 15), 1, date(2013, 6, 17)),
        # Tue 24 Dec 2013 + 1 skips Christmas and Boxing Day: Fri 27
        (date(2013, 12, 24), 1, date(2013, 12, 27)),
        # Fri 20 Dec 2013 + 6: Mon 23, Tue 24, Fri 27, Mon 30, Tue 31, Thu 2 Jan 2014
        (date(2013, 12, 20), 6, date(2014, 1, 2)),
        # Thu 17 Apr 2014 + 1 skips Good Friday, the weekend and Easter Monday: Tue 22
        (date(2014, 4, 17), 1, date(2014, 4, 22)),
        # Thu 24 Dec 2020 + 1 skips the substitute Monday 28: Tue 29
        (date(2020, 12, 24), 1, date(2020, 12, 29)),
        # a 15-working-day ICPC deadline from Mon 9 Dec 2013: Tue 10 … Tue 24 is 11, then
        # Fri 27, Mon 30, Tue 31 and (after New Year's Day) Thu 2 Jan 2014
        (date(2013, 12, 9), 15, date(2014, 1, 2)),
    ],
)
def test_add_working_days_when_counting_forward_then_skips_weekends_and_bank_holidays(
    start: date, n: int, expected: date
) -> None:
    # Given a start day and a number of working days
    # When
    due = add_working_days(start, n)

    # Then
    assert due == expected


_days = st.dates(min_value=date(2010, 1, 1), max_value=date(2030, 12, 31))


@settings(max_examples=300, deadline=None)
@given(start=_days, length=st.integers(min_value=-10, max_value=800))
def test_working_days_between_when_any_span_then_equals_day_by_day_count(
    start: date, length: int
) -> None:
    # Given any span of up to two years (or a backwards one)
    end = start + timedelta(days=length)
    if end.year > 2030:
        end = date(2030, 12, 31)

    # When
    days = working_days_between(start, end)

    # Then the fast count agrees with counting day by day
    assert days == _naive_count(start, end)


@settings(max_examples=200, deadline=None)
@given(
    start=st.dates(min_value=date(2010, 1, 1), max_value=date(2028, 12, 31)),
    n=st.integers(min_value=0, max_value=300),
)
def test_add_working_days_when_any_count_then_inverse_of_working_days_between(
    start: date, n: int
) -> None:
    # Given any start and count
    # When
    due = add_working_days(start, n)

    # Then exactly n working days lie after start up to the due day, and the due day (unless no
    # days were added) is itself a working day
    assert working_days_between(start, due) == n
    if n:
        assert is_working_day(due)
