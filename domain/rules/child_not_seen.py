"""`child-not-seen`: an open case where the child has not been seen for 20 working days (*local*)
(DOMAIN.md §4)."""

from __future__ import annotations

from domain.rules.base import (
    Alert,
    CaseAtMoment,
    Severity,
    Timescale,
    day_text,
    deadline_alert,
    working_days_due,
)
from domain.rules.spans import born_from, periods, spans
from domain.selection import Entry
from domain.state import EPISODE_CLOSERS, EPISODE_OPENERS, sees_child
from domain.values import AlertRule

WORKING_DAYS = Timescale(
    AlertRule.CHILD_NOT_SEEN,
    "working_days",
    20,
    "working days",
    "local practice",
    local=True,
)
TIMESCALES = (WORKING_DAYS,)


def check(case: CaseAtMoment) -> list[Alert]:
    entries = case.entries
    born = born_from(case)
    alerts = []
    for first, last in spans(case, EPISODE_OPENERS, EPISODE_CLOSERS):
        # Seeing the child does not apply while the child is unborn: the clock starts at birth.
        if born is None or (last is not None and born > last):
            continue
        for start, end in periods(entries, max(first, born), last, sees_child):
            due_at = working_days_due(start.occurred.london_date, case.number(WORKING_DAYS))
            message = f"Child not seen since {_since(start)}: due by {day_text(due_at)}"
            alerts.append(
                deadline_alert(
                    case,
                    AlertRule.CHILD_NOT_SEEN,
                    Severity.CRITICAL,
                    message,
                    [start.id],
                    due_at,
                    end,
                )
            )
    return alerts


def _since(start: Entry) -> str:
    day = day_text(start.occurred.instant)
    if start.type == "VisitMade":
        return f"the {start.data['visit_type']} visit on {day} ({start.agency})"
    if start.type == "ChildsVoiceRecorded":
        return f"the child's views were recorded on {day} ({start.agency})"
    if start.type == "PersonDetailsChanged":
        return f"the child's birth on {day}"
    return f"the episode opened on {day}"


# --- recurring "no X for N days" periods (shared shape with the other recurring rules) ---------
