"""`icpc-overdue`: no initial child protection conference within 15 working days of the strategy
discussion that started a section 47 enquiry (DOMAIN.md §4)."""

from __future__ import annotations

from collections.abc import Sequence

from domain.rules.base import (
    Alert,
    CaseAtMoment,
    Severity,
    Timescale,
    day_text,
    deadline_alert,
    working_days_due,
)
from domain.selection import Entry
from domain.state import EPISODE_CLOSERS
from domain.values import AlertRule

WORKING_DAYS = Timescale(
    AlertRule.ICPC_OVERDUE,
    "working_days",
    15,
    "working days",
    "Working Together to Safeguard Children 2023: an initial child protection conference within "
    "15 working days of the strategy discussion at which section 47 enquiries were initiated",
)
TIMESCALES = (WORKING_DAYS,)

# A pre-birth conference is the initial conference for an unborn child.
INITIAL_KINDS = frozenset({"initial", "pre_birth"})


def check(case: CaseAtMoment) -> list[Alert]:
    entries = case.entries
    alerts: dict[str, Alert] = {}
    for enquiry in case.of_type("Section47Started"):
        start = _strategy_discussion(entries, enquiry)
        if start.id in alerts:  # one conference answers every enquiry a discussion started
            continue
        due_at = working_days_due(start.occurred.london_date, case.number(WORKING_DAYS))
        message = (
            f"Section 47 enquiry started after the strategy discussion on "
            f"{day_text(start.occurred.instant)} has no initial child protection conference: "
            f"due by {day_text(due_at)}"
        )
        alerts[start.id] = deadline_alert(
            case,
            AlertRule.ICPC_OVERDUE,
            Severity.CRITICAL,
            message,
            [start.id, enquiry.id],
            due_at,
            _resolution(entries, start, enquiry.data["s47_id"]),
        )
    return list(alerts.values())


def _strategy_discussion(entries: Sequence[Entry], enquiry: Entry) -> Entry:
    """The discussion the enquiry names: the latest held with its id by the time the enquiry
    started; the enquiry itself if none is recorded (the clock then starts with it)."""
    named = [
        e
        for e in entries
        if e.type == "StrategyDiscussionHeld"
        and e.data["strategy_id"] == enquiry.data["strategy_id"]
    ]
    before = [e for e in named if e.occurred.instant <= enquiry.occurred.instant]
    return before[-1] if before else named[0] if named else enquiry


def _resolution(entries: Sequence[Entry], start: Entry, s47_id: str) -> Entry | None:
    """The first initial conference after the discussion, the enquiry's conclusion that no
    conference is required, or the case's closure or transfer (as the other deadlines of an
    episode stop there), whichever came first."""
    for entry in entries:
        if entry.sort_key() <= start.sort_key():
            continue
        if entry.type == "ConferenceHeld" and entry.data["kind"] in INITIAL_KINDS:
            return entry
        if entry.type in EPISODE_CLOSERS:
            return entry
        if (
            entry.type == "Section47Concluded"
            and entry.data["s47_id"] == s47_id
            and not entry.data["conference_required"]
        ):
            return entry
    return None
