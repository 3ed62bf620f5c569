"""Working days in England: Monday to Friday, less England's bank holidays."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=256)
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (0 when `end` is not after `start`).

    An entry recorded the day after it happened, on a working day, is 1 working day late.
    """
    if end <= start:
        return 0
    count = 0
    day = start + timedelta(days=1)
    # Whole weeks hold five weekdays; only their bank holidays need looking up one by one.
    whole_weeks, _ = divmod((end - start).days, 7)
    if whole_weeks:
        skip_to = day + timedelta(weeks=whole_weeks)
        count = 5 * whole_weeks - sum(
            1
            for year in range(day.year, skip_to.year + 1)
            for holiday in _bank_holidays(year)
            if day <= holiday < skip_to and holiday.weekday() < 5
        )
        day = skip_to
    while day <= end:
        count += is_working_day(day)
        day += timedelta(days=1)
    return count


def add_working_days(start: date, n: int) -> date:
    """The N-th working day after `start` (the day of `start` itself is not counted)."""
    day = start
    while n > 0:
        day += timedelta(days=1)
        n -= is_working_day(day)
    return day
