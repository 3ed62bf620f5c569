"""`cin-review-overdue`: while a child in need plan is open, no child in need review for 12 weeks
(*local*) (DOMAIN.md §4)."""

from __future__ import annotations

from domain.rules.base import (
    Alert,
    CaseAtMoment,
    Severity,
    Timescale,
    day_text,
    days_due,
    deadline_alert,
)
from domain.rules.spans import periods, plan_spans
from domain.selection import Entry
from domain.values import AlertRule

WEEKS = Timescale(
    AlertRule.CIN_REVIEW_OVERDUE,
    "weeks",
    12,
    "weeks",
    "local practice",
    local=True,
)
TIMESCALES = (WEEKS,)

# Reviews stop counting with the episode too: nothing is reviewed on a case closed or moved away
# (`plan_spans`), though the state shows the plan open until its end is recorded.
PLAN = "child_in_need"


def check(case: CaseAtMoment) -> list[Alert]:
    entries = case.entries
    alerts = []
    for first, last in plan_spans(case, PLAN):
        for start, end in periods(entries, first, last, _cin_review):
            due_at = days_due(start.occurred.london_date, 7 * case.number(WEEKS))
            since = "the last review" if _cin_review(start) else "the plan started"
            message = (
                f"No child in need review since {since} on {day_text(start.occurred.instant)}: "
                f"due by {day_text(due_at)}"
            )
            alerts.append(
                deadline_alert(
                    case,
                    AlertRule.CIN_REVIEW_OVERDUE,
                    Severity.WARNING,
                    message,
                    [start.id],
                    due_at,
                    end,
                )
            )
    return alerts


def _cin_review(entry: Entry) -> bool:
    return entry.type == "MeetingHeld" and entry.data["kind"] == "cin_review"


# --- recurring "no X for N days" periods (shared shape with the other recurring rules) ---------
