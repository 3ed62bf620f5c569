"""`review-conference-overdue`: a child protection plan's first review conference not within 3
months of the initial conference, later ones not within 6 months of the previous review
(DOMAIN.md §4)."""

from __future__ import annotations

from collections.abc import Iterator

from domain.rules.base import (
    Alert,
    CaseAtMoment,
    Severity,
    Timescale,
    day_text,
    deadline_alert,
    months_due,
)
from domain.rules.spans import decided_plan_ends
from domain.selection import Entry
from domain.values import AlertRule

_SOURCE = (
    "Working Together to Safeguard Children 2023: the first review conference within 3 months of "
    "the initial conference, later ones at intervals of no more than 6 months"
)
FIRST_MONTHS = Timescale(AlertRule.REVIEW_CONFERENCE_OVERDUE, "first_months", 3, "months", _SOURCE)
LATER_MONTHS = Timescale(AlertRule.REVIEW_CONFERENCE_OVERDUE, "later_months", 6, "months", _SOURCE)
TIMESCALES = (FIRST_MONTHS, LATER_MONTHS)

# A pre-birth conference is the initial conference for an unborn child.
INITIAL_KINDS = frozenset({"initial", "pre_birth"})
# The plan is over: the case closed or moved to another authority (or the plan ended).
CASE_ENDS = frozenset({"CaseClosed", "CaseTransferred"})
# A review that decides the plan should end is the last one due.
ENDING_DECISIONS = frozenset({"end_plan", "no_plan"})


def check(case: CaseAtMoment) -> list[Alert]:
    alerts = []
    for position in case.positions("ConferenceHeld"):
        initial = case.entries[position]
        if not _decides_a_plan(initial):
            continue
        for start, end in _reviews(case, position):
            months = case.number(LATER_MONTHS if start is not initial else FIRST_MONTHS)
            due_at = months_due(start.occurred.london_date, months)
            since = "initial" if start is initial else "last review"
            message = (
                f"No child protection review conference since the {since} conference on "
                f"{day_text(start.occurred.instant)}: due by {day_text(due_at)}"
            )
            alerts.append(
                deadline_alert(
                    case,
                    AlertRule.REVIEW_CONFERENCE_OVERDUE,
                    Severity.CRITICAL,
                    message,
                    [start.id],
                    due_at,
                    end,
                )
            )
    return alerts


def _decides_a_plan(entry: Entry) -> bool:
    return entry.data["kind"] in INITIAL_KINDS and entry.data["decision"] == "cp_plan"


def _reviews(case: CaseAtMoment, initial_at: int) -> Iterator[tuple[Entry, Entry | None]]:
    """Each interval a review is due in: from the initial conference (at `initial_at`) or the
    last review, to the next review, the end of the plan it decided (`decided_plan_ends`), the
    case's closure or transfer, or a new initial conference (None while still open)."""
    initial = case.entries[initial_at]
    plan_ends = decided_plan_ends(case, initial)
    start = initial
    for position in range(initial_at + 1, len(case.entries)):
        entry = case.entries[position]
        if (
            entry.type in CASE_ENDS
            or position in plan_ends
            or (entry.type == "ConferenceHeld" and _decides_a_plan(entry))
        ):
            yield start, entry
            return
        if entry.type == "ConferenceHeld" and entry.data["kind"] == "review":
            yield start, entry
            if entry.data["decision"] in ENDING_DECISIONS:
                return
            start = entry
    yield start, None
