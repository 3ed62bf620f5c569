"""`lac-review-overdue`: a looked-after child's reviews not held on time: the first within 20
working days of the period of care starting, the second within 3 months of the first, later ones
within 6 months of the one before (DOMAIN.md §4).

Each interval is one alert, named by the event that started it (the start of the period of care,
or the review before), and resolved by the next review or by the end of the period of care.
"""

from __future__ import annotations

from datetime import datetime

from domain.rules.base import (
    Alert,
    CaseAtMoment,
    Severity,
    Timescale,
    day_text,
    deadline_alert,
    months_due,
    working_days_due,
)
from domain.selection import Entry
from domain.values import AlertRule

REGULATIONS = "Care Planning, Placement and Case Review (England) Regulations 2010, reg 33"
FIRST_WORKING_DAYS = Timescale(
    AlertRule.LAC_REVIEW_OVERDUE, "first_working_days", 20, "working days", REGULATIONS
)
SECOND_MONTHS = Timescale(AlertRule.LAC_REVIEW_OVERDUE, "second_months", 3, "months", REGULATIONS)
LATER_MONTHS = Timescale(AlertRule.LAC_REVIEW_OVERDUE, "later_months", 6, "months", REGULATIONS)
TIMESCALES = (FIRST_WORKING_DAYS, SECOND_MONTHS, LATER_MONTHS)

# A period of care also ends with its episode: this authority reviews no case closed or moved away.
PERIOD_ENDS = frozenset({"PeriodOfCareEnded", "CaseClosed", "CaseTransferred"})


def check(case: CaseAtMoment) -> list[Alert]:
    alerts = []
    clock: Entry | None = None  # the period's start, or the last review in it
    held = 0
    for entry in case.entries:
        if clock is None:
            if entry.type == "PeriodOfCareStarted":
                clock, held = entry, 0
        elif entry.type == "MeetingHeld" and entry.data["kind"] == "cla_review":
            alerts.append(_alert(case, clock, held, entry))
            clock, held = entry, held + 1
        elif entry.type in PERIOD_ENDS:
            alerts.append(_alert(case, clock, held, entry))
            clock = None
    if clock is not None:
        alerts.append(_alert(case, clock, held, None))
    return alerts


def _alert(case: CaseAtMoment, clock: Entry, held: int, resolved_by: Entry | None) -> Alert:
    day, since = clock.occurred.london_date, day_text(clock.occurred.instant)
    due_at: datetime
    if held == 0:
        due_at = working_days_due(day, case.number(FIRST_WORKING_DAYS))
        what = f"First looked-after review since the child became looked after on {since}"
    else:
        due_at = months_due(day, case.number(SECOND_MONTHS if held == 1 else LATER_MONTHS))
        what = f"Looked-after review following the review on {since}"
    return deadline_alert(
        case,
        AlertRule.LAC_REVIEW_OVERDUE,
        Severity.CRITICAL,
        f"{what} not held: due by {day_text(due_at)}",
        [clock.id],
        due_at,
        resolved_by,
    )
