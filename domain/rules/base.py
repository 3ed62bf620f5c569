"""What every alert rule shares: the alert's shape, its lifecycle, and the deadline conventions.

DOMAIN.md §4. A rule is a pure function of a case as selected by `as_of`/`known_at` and of the
moment it is judged at (`as_of`): it returns the alerts the record raises then. An alert is
`pending` until its deadline passes, then `breached` (from the start of the next London day),
and `resolved` by the event its rule names or by a manager's `AlertAcknowledged`.
"""

from __future__ import annotations

import enum
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property, lru_cache
from typing import Any

from domain.calendar import add_working_days
from domain.moments import LONDON, end_of_day, months_after, start_of_day
from domain.selection import Entry
from domain.state import CaseState
from domain.values import AlertRule


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertStatus(enum.StrEnum):
    PENDING = "pending"
    BREACHED = "breached"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: the rule, the events behind it (the first names it), when it fell due and when
    it was breached (None until then, and for rules with no deadline that start breached: the
    moment of their event), and what resolved it."""

    rule: AlertRule
    severity: Severity
    status: AlertStatus
    message: str
    event_ids: tuple[str, ...]
    due_at: datetime | None
    breached_at: datetime | None
    resolved_by: str | None = None

    @property
    def alert_id(self) -> str:
        """Stable across evaluations: the rule and the event that started the alert."""
        return f"{self.rule.value}:{self.event_ids[0]}"

    @property
    def is_open(self) -> bool:
        return self.status is not AlertStatus.RESOLVED


@dataclass(frozen=True, slots=True)
class Timescale:
    """A number a rule counts with: its default, unit and source. A *local* one is a setting,
    `CASETRAIL_RULE_<RULE>_<NAME>` (e.g. `CASETRAIL_RULE_CP_VISIT_OVERDUE_WORKING_DAYS`)."""

    rule: AlertRule
    name: str  # e.g. "working_days", "weeks", "months"
    default: int
    unit: str  # how the README prints it: "working days", "weeks", "months"
    source: str  # "local" or the statutory guidance it comes from
    local: bool = False

    @property
    def key(self) -> str:
        return f"{self.rule.value.replace('-', '_')}_{self.name}"

    @property
    def setting(self) -> str:
        return f"CASETRAIL_RULE_{self.key.upper()}"


@dataclass(frozen=True)
class BreakGlassRead:
    """A read of the case by break-glass, from the access audit (not the log): who, when, why.
    `read_id` names it in its alert and in the `AlertAcknowledged` that resolves it."""

    read_id: str
    at: datetime
    name: str
    agency: str
    purpose: str | None


@dataclass(frozen=True)
class CaseAtMoment:
    """What a rule reads: the entries selected (in business-time order), the state they fold to,
    the moment the case is judged at (`as_of`), the local timescales set (by key), and the
    break-glass reads of the case audited by then.

    Rules ask for entries by type: the entries are indexed by type once, when first asked, for
    every rule of the evaluation."""

    entries: Sequence[Entry]
    state: CaseState
    at: datetime
    timescales: Mapping[str, int] = field(default_factory=dict)
    break_glass_reads: Sequence[BreakGlassRead] = ()

    def of_type(self, *types: str) -> list[Entry]:
        """The entries of these types, in business-time order."""
        return [self.entries[p] for p in self.positions(*types)]

    def positions(self, *types: str) -> Sequence[int]:
        """The positions in `entries` of the entries of these types, in order."""
        if len(types) == 1:
            return self._positions.get(types[0], ())
        key = frozenset(types)
        merged = self._merged.get(key)
        if merged is None:  # several rules ask for the same types: merged once
            merged = tuple(sorted(p for kind in key for p in self._positions.get(kind, ())))
            self._merged[key] = merged
        return merged

    @cached_property
    def _merged(self) -> dict[frozenset[str], tuple[int, ...]]:
        return {}

    @cached_property
    def _positions(self) -> dict[str, tuple[int, ...]]:
        positions: dict[str, list[int]] = {}
        for position, entry in enumerate(self.entries):
            positions.setdefault(entry.type, []).append(position)
        return {kind: tuple(found) for kind, found in positions.items()}

    def number(self, timescale: Timescale) -> int:
        """The timescale's value: the setting for a local one, else its default."""
        if timescale.local:
            return self.timescales.get(timescale.key, timescale.default)
        return timescale.default


Rule = Callable[[CaseAtMoment], list[Alert]]


class Timeline:
    """Entries in business order (no `CaseOpened`), to find those from a London day on by
    bisection rather than by reading them all: in business order their days never go back."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries = list(entries)
        self._days = [london_day(e.occurred.instant) for e in self.entries]

    def from_day(self, day: date) -> list[Entry]:
        """Those that occurred on `day` or later, in business order."""
        return self.entries[bisect_left(self._days, day) :]

    def first_from(self, day: date) -> Entry | None:
        """The first that occurred on `day` or later."""
        found = bisect_left(self._days, day)
        return self.entries[found] if found < len(self.entries) else None


def timelines(entries: Iterable[Entry], key: str) -> dict[Any, Timeline]:
    """The entries' timelines by the value of their payload's `key` (e.g. `meeting_id`)."""
    grouped: dict[Any, list[Entry]] = {}
    for entry in entries:
        grouped.setdefault(entry.data[key], []).append(entry)
    return {value: Timeline(group) for value, group in grouped.items()}


# What starts a referral's clocks: its acceptance, or a closed case reopened on a new referral
# (`CaseReopened` naming a `referral_id`). The same referral recorded both ways is one.
REFERRALS = ("ReferralAccepted", "CaseReopened")


def is_referral(entry: Entry) -> bool:
    return entry.type == "ReferralAccepted" or (
        entry.type == "CaseReopened" and entry.data.get("referral_id") is not None
    )


def referral_words(referral: Entry) -> str:
    """`referral accepted on 3 March 2014`, or `case reopened on a referral on ...`."""
    how = "referral accepted"
    if referral.type == "CaseReopened":
        how = "case reopened on a referral"
    return f"{how} on {day_text(referral.occurred.instant)}"


# The deadlines and words below are cached: a long case repeats the same days, and every rule
# asks for them again on every evaluation.
@lru_cache(maxsize=65536)
def working_days_due(day: date, n: int) -> datetime:
    """The end (London) of the N-th working day after `day` (the day itself not counted)."""
    return end_of_day(add_working_days(day, n))


def days_due(day: date, days: int) -> datetime:
    """The end (London) of the day `days` calendar days after `day` (weeks: 7 * n)."""
    return end_of_day(day + timedelta(days=days))


def months_due(day: date, months: int) -> datetime:
    """The end (London) of the same day `months` calendar months after `day`."""
    return end_of_day(months_after(day, months))


@lru_cache(maxsize=65536)
def breach_moment(due_at: datetime) -> datetime:
    """An alert is breached from the start of the London day after the day it fell due."""
    return start_of_day(due_at.astimezone(LONDON).date() + timedelta(days=1))


def deadline_alert(
    case: CaseAtMoment,
    rule: AlertRule,
    severity: Severity,
    message: str,
    event_ids: Sequence[str],
    due_at: datetime,
    resolved_by: Entry | None,
) -> Alert:
    """An alert with a deadline, as it stood at `case.at`: resolved by `resolved_by` (an entry
    selected by then), else breached once the deadline has passed, else pending. An alert
    resolved late keeps the moment it was breached."""
    breached = breach_moment(due_at)
    if resolved_by is not None:
        late = resolved_by.occurred.instant >= breached
        return Alert(
            rule,
            severity,
            AlertStatus.RESOLVED,
            message,
            tuple(event_ids),
            due_at,
            breached if late else None,
            resolved_by.id,
        )
    if case.at >= breached:
        return Alert(
            rule, severity, AlertStatus.BREACHED, message, tuple(event_ids), due_at, breached
        )
    return Alert(rule, severity, AlertStatus.PENDING, message, tuple(event_ids), due_at, None)


def standing_alert(
    rule: AlertRule,
    severity: Severity,
    message: str,
    event_ids: Sequence[str],
    since: datetime,
    resolved_by: Entry | None,
) -> Alert:
    """An alert with no deadline: breached from `since` (the moment of the event behind it)
    until `resolved_by` (an entry selected by then), if any."""
    if resolved_by is not None:
        return Alert(
            rule,
            severity,
            AlertStatus.RESOLVED,
            message,
            tuple(event_ids),
            None,
            since,
            resolved_by.id,
        )
    return Alert(rule, severity, AlertStatus.BREACHED, message, tuple(event_ids), None, since)


@lru_cache(maxsize=65536)
def day_text(instant: datetime) -> str:
    """A date as a practitioner writes it: `16 May 2013` (London). Cached: the messages of a
    case's alerts name the same few days again and again."""
    local = instant.astimezone(LONDON)
    return f"{local.day} {local.strftime('%B %Y')}"


@lru_cache(maxsize=65536)
def london_day(instant: datetime) -> date:
    """The London day of an instant, as `Moment.london_date`: for the rules' loops."""
    return instant.astimezone(LONDON).date()
