"""`lac-visit-overdue`: a looked-after child not visited by children's social care within 1 week
of a placement starting, then at least every 6 weeks (DOMAIN.md §4).

Regulation 28 sets 6 weeks for the first year of a placement; after it the interval is a setting
(`after_first_year_weeks`, default 6: an authority may set up to 13, the three months reg 28
allows for a long-term placement). Each interval is one alert, named by the event that started it
(the placement's start, the last visit, or the child's birth), and resolved by the next visit, a
new placement (which starts its own week), or the end of the period of care.
"""

from __future__ import annotations

from datetime import datetime

from domain.moments import months_after
from domain.rules.base import (
    Alert,
    CaseAtMoment,
    Severity,
    Timescale,
    day_text,
    days_due,
    deadline_alert,
)
from domain.rules.spans import born_from, plan_spans
from domain.selection import Entry
from domain.values import AlertRule

REGULATIONS = "Care Planning, Placement and Case Review (England) Regulations 2010, reg 28"
FIRST_VISIT_WEEKS = Timescale(
    AlertRule.LAC_VISIT_OVERDUE, "first_visit_weeks", 1, "weeks", REGULATIONS
)
FIRST_YEAR_WEEKS = Timescale(
    AlertRule.LAC_VISIT_OVERDUE, "first_year_weeks", 6, "weeks", REGULATIONS
)
FIRST_YEAR_MONTHS = Timescale(
    AlertRule.LAC_VISIT_OVERDUE, "first_year_months", 12, "months", REGULATIONS
)
AFTER_FIRST_YEAR_WEEKS = Timescale(
    AlertRule.LAC_VISIT_OVERDUE,
    "after_first_year_weeks",
    6,
    "weeks",
    "local practice",
    local=True,
)
TIMESCALES = (FIRST_VISIT_WEEKS, FIRST_YEAR_WEEKS, FIRST_YEAR_MONTHS, AFTER_FIRST_YEAR_WEEKS)

# Visits stop counting with the episode too: this authority visits no case closed or moved away
# (`plan_spans`), though the state shows the period open until its end is recorded.
PLAN = "looked_after"


def check(case: CaseAtMoment) -> list[Alert]:
    entries = case.entries
    born = born_from(case)
    alerts = []
    for first, last in plan_spans(case, PLAN):
        # Seeing the child does not apply while the child is unborn: the clock starts at birth.
        if born is None or (last is not None and born > last):
            continue
        placement, start = entries[first], max(first, born)
        for position in range(first + 1, len(entries) if last is None else last):
            entry = entries[position]
            if position > start and (_visited(entry) or entry.type == "PlacementChanged"):
                alerts.append(_alert(case, entries[start], placement, entry))
                start = position
            if entry.type == "PlacementChanged":
                placement = entry
        end = None if last is None else entries[last]
        alerts.append(_alert(case, entries[start], placement, end))
    return alerts


def _visited(entry: Entry) -> bool:
    """A statutory visit: children's social care (any authority's) saw the child."""
    return (
        entry.type == "VisitMade"
        and bool(entry.data["child_seen"])
        and entry.agency.startswith("csc:")
    )


def _alert(case: CaseAtMoment, start: Entry, placement: Entry, end: Entry | None) -> Alert:
    day, since = start.occurred.london_date, day_text(start.occurred.instant)
    due_at: datetime
    if start.type == "VisitMade":
        first_year = day < months_after(
            placement.occurred.london_date, case.number(FIRST_YEAR_MONTHS)
        )
        weeks = case.number(FIRST_YEAR_WEEKS if first_year else AFTER_FIRST_YEAR_WEEKS)
        due_at = days_due(day, 7 * weeks)
        what = f"since the visit on {since}"
    else:
        due_at = days_due(day, 7 * case.number(FIRST_VISIT_WEEKS))
        what = (
            f"since the child's birth on {since}"
            if start.type == "PersonDetailsChanged"
            else f"since the placement started on {since}"
        )
    return deadline_alert(
        case,
        AlertRule.LAC_VISIT_OVERDUE,
        Severity.CRITICAL,
        f"Looked-after child not seen on a visit by children's social care {what}: "
        f"due by {day_text(due_at)}",
        [start.id],
        due_at,
        end,
    )
