"""`cp-visit-overdue`: while a child protection plan is open, the child not seen on a visit by
children's social care for 10 working days (*local*) (DOMAIN.md §4)."""

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
from domain.rules.spans import born_from, periods, plan_spans
from domain.selection import Entry
from domain.values import AlertRule

WORKING_DAYS = Timescale(
    AlertRule.CP_VISIT_OVERDUE,
    "working_days",
    10,
    "working days",
    "local practice",
    local=True,
)
TIMESCALES = (WORKING_DAYS,)

# Visits stop counting with the episode too: nobody visits on a case closed or moved away
# (`plan_spans`), though the state shows the plan open until its end is recorded.
PLAN = "child_protection"


def check(case: CaseAtMoment) -> list[Alert]:
    entries = case.entries
    born = born_from(case)
    alerts = []
    for first, last in plan_spans(case, PLAN):
        # Seeing the child does not apply while the child is unborn: the clock starts at birth.
        if born is None or (last is not None and born > last):
            continue
        for start, end in periods(entries, max(first, born), last, _seen_by_csc):
            due_at = working_days_due(start.occurred.london_date, case.number(WORKING_DAYS))
            message = (
                f"Child on a child protection plan not seen on a visit by children's social care "
                f"since {_since(start)}: due by {day_text(due_at)}"
            )
            alerts.append(
                deadline_alert(
                    case,
                    AlertRule.CP_VISIT_OVERDUE,
                    Severity.CRITICAL,
                    message,
                    [start.id],
                    due_at,
                    end,
                )
            )
    return alerts


def _seen_by_csc(entry: Entry) -> bool:
    # Any authority's children's social care: a courtesy visit by another authority counts.
    return (
        entry.type == "VisitMade"
        and bool(entry.data["child_seen"])
        and entry.agency.startswith("csc:")
    )


def _since(start: Entry) -> str:
    day = day_text(start.occurred.instant)
    if start.type == "VisitMade":
        return f"the {start.data['visit_type']} visit on {day}"
    if start.type == "PersonDetailsChanged":
        return f"the child's birth on {day}"
    return f"the plan started on {day}"


# --- recurring "no X for N days" periods (shared shape with the other recurring rules) ---------
