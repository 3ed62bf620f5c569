"""Dates and times as the record states them: a day in London, or an instant with a zone."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")

# The record holds a child's life and the lives of the adults around it; nothing before this is
# a plausible entry, and bounding the range keeps every date arithmetic well inside datetime's.
EARLIEST = date(1900, 1, 1)
LATEST = date(9000, 12, 31)


class Precision(enum.StrEnum):
    """How exactly an event's date is known."""

    EXACT = "exact"
    DAY = "day"
    MONTH = "month"
    APPROXIMATE = "approximate"


class BadMoment(ValueError):
    """A date or date-time the record cannot accept."""


@dataclass(frozen=True, order=True)
class Moment:
    """When something happened, as the client said it: a London day or a zoned instant.

    `instant` is what it sorts by: a date sorts at the start of its day in London.
    """

    instant: datetime
    text: str

    @property
    def is_date(self) -> bool:
        return len(self.text) == 10

    @property
    def london_date(self) -> date:
        return self.instant.astimezone(LONDON).date()

    @classmethod
    def parse(cls, text: str) -> Moment:
        """Parse `2013-05-16` (that day, Europe/London) or an ISO date-time with a zone."""
        return _parse_moment(text.strip())

    def default_precision(self) -> Precision:
        return Precision.DAY if self.is_date else Precision.EXACT


# Cached: a long case repeats the same days, and the folds parse every entry on every read.
@lru_cache(maxsize=65536)
def _parse_moment(text: str) -> Moment:
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise BadMoment(f"{text!r} is not a date (YYYY-MM-DD)") from None
        if day.isoformat() != text:  # e.g. a week date, 2013-W20-1: it would not come back as sent
            raise BadMoment(f"{text!r} is not a date (YYYY-MM-DD)")
        _check_range(day, text)
        return Moment(start_of_day(day), day.isoformat())
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadMoment(
            f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 date-time with a zone"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise BadMoment(f"{text!r} has no time zone: add 'Z' or an offset such as +01:00")
    _check_range(moment.date(), text)
    return Moment(moment.astimezone(UTC), moment.isoformat())


def _check_range(day: date, text: str) -> None:
    if not EARLIEST <= day <= LATEST:
        raise BadMoment(f"{text!r} is outside {EARLIEST.isoformat()} to {LATEST.isoformat()}")


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time.min, LONDON).astimezone(UTC)


def years_after(day: date, years: int) -> date:
    """The same calendar day `years` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def months_after(day: date, months: int) -> date:
    """Calendar months: 12 months after 31 Jan is 31 Jan; 1 month after 31 Jan is 28/29 Feb."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def end_of_day(day: date) -> datetime:
    """The last instant of a London day: what a date-only `as_of` or `known_at` means."""
    return start_of_day(day + timedelta(days=1)) - timedelta(microseconds=1)


def parse_bound(text: str) -> datetime:
    """A query's `as_of` or `known_at`: a date means the end of that day in London."""
    moment = Moment.parse(text)
    return end_of_day(moment.london_date) if moment.is_date else moment.instant


def parse_lower_bound(text: str) -> datetime:
    """A query's `since`: a date means the start of that day in London, so the day is in."""
    return Moment.parse(text).instant


def format_utc(instant: datetime) -> str:
    """The one textual form of a server time (`recorded_at`): UTC, microseconds, `Z`."""
    # Equal datetimes are one instant, but for a wall time repeated when the clocks go back,
    # which only `fold` tells apart.
    return _utc_text(instant, instant.fold)


@lru_cache(maxsize=65536)
def _utc_text(instant: datetime, fold: int) -> str:
    """`format_utc`, cached: a batch's events share one recording time."""
    # `isoformat` (several times cheaper than `strftime`) ends `+00:00` in UTC.
    return instant.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


@lru_cache(maxsize=65536)
def parse_utc(text: str) -> datetime:
    """A stored `recorded_at` (cached: a batch's events share one)."""
    return datetime.fromisoformat(text)


@lru_cache(maxsize=65536)
def display(moment: Moment, precision: Precision) -> str:
    """A chronology's date column: `16 May 2013`, `May 2013`, `?May 2013`, `16 May 2013 14:05`."""
    local = moment.instant.astimezone(LONDON)
    if precision is Precision.MONTH:
        return local.strftime("%B %Y")
    if precision is Precision.APPROXIMATE:
        return "?" + local.strftime("%B %Y")
    day = f"{local.day} {local.strftime('%B %Y')}"
    if precision is Precision.EXACT and not moment.is_date:
        return f"{day} {local.strftime('%H:%M')}"
    return day
