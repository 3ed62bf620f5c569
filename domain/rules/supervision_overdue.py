"""`supervision-overdue`: an open case with no supervision recorded for 8 weeks (*local*)
(DOMAIN.md §4)."""

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
from domain.rules.spans import periods, spans
from domain.selection import Entry
from domain.state import EPISODE_CLOSERS, EPISODE_OPENERS
from domain.values import AlertRule

WEEKS = Timescale(
    AlertRule.SUPERVISION_OVERDUE,
    "weeks",
    8,
    "weeks",
    "local practice",
    local=True,
)
TIMESCALES = (WEEKS,)


def check(case: CaseAtMoment) -> list[Alert]:
    entries = case.entries
    alerts = []
    for first, last in spans(case, EPISODE_OPENERS, EPISODE_CLOSERS):
        for start, end in periods(entries, first, last, _supervision):
            due_at = days_due(start.occurred.london_date, 7 * case.number(WEEKS))
            since = "the last supervision" if _supervision(start) else "the episode opened"
            message = (
                f"No supervision recorded since {since} on {day_text(start.occurred.instant)}: "
                f"due by {day_text(due_at)}"
            )
            alerts.append(
                deadline_alert(
                    case,
                    AlertRule.SUPERVISION_OVERDUE,
                    Severity.WARNING,
                    message,
                    [start.id],
                    due_at,
                    end,
                )
            )
    return alerts


def _supervision(entry: Entry) -> bool:
    return entry.type == "SupervisionHeld"


# --- recurring "no X for N days" periods (shared shape with the other recurring rules) ---------
