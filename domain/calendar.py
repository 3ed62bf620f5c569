"""Working days in England: Monday to Friday, less England's bank holidays."""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, timedelta
from functools import lru_cache

import holidays

# England's calendar, loaded when this module is: the package imports every country's module the
# first time any is asked for (tens of milliseconds), which would otherwise fall on the first
# request that counts working days after each restart.
ENGLAND = type(holidays.country_holidays("GB", subdiv="ENG"))


@lru_cache(maxsize=512)
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(ENGLAND(subdiv="ENG", years=year))


@lru_cache(maxsize=512)
def _weekday_holidays(year: int) -> list[int]:
    """The ordinals of the year's bank holidays that fall on a weekday, sorted."""
    return sorted(d.toordinal() for d in _bank_holidays(year) if d.weekday() < 5)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def _weekdays_through(ordinal: int) -> int:
    # Ordinal 1 (1 January of year 1) was a Monday, so each run of 7 ordinals holds 5 weekdays.
    weeks, rest = divmod(ordinal, 7)
    return 5 * weeks + min(rest, 5)


def _holidays_through(day: date) -> int:
    """Weekday bank holidays from the start of `day`'s year up to and including `day`."""
    return bisect_right(_weekday_holidays(day.year), day.toordinal())


@lru_cache(maxsize=65536)
def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (0 when `end` is not after `start`).

    An entry recorded the day after it happened, on a working day, is 1 working day late.
    """
    if end <= start:
        return 0
    weekdays = _weekdays_through(end.toordinal()) - _weekdays_through(start.toordinal())
    holidays_in = _holidays_through(end) - _holidays_through(start)
    holidays_in += _weekday_holidays_in_years(start.year, end.year)
    return weekdays - holidays_in


@lru_cache(maxsize=4096)
def _weekday_holidays_in_years(first: int, stop: int) -> int:
    """Weekday bank holidays in the years from `first` up to, not including, `stop`."""
    return sum(len(_weekday_holidays(year)) for year in range(first, stop))


def add_working_days(start: date, n: int) -> date:
    """The N-th working day after `start` (the day of `start` itself is not counted)."""
    day = start
    while n > 0:
        day += timedelta(days=1)
        n -= is_working_day(day)
    return day
