"""`core-group-overdue`: no core group meeting within 10 working days (*local*) of an initial
child protection conference that decided a child protection plan (DOMAIN.md §4)."""

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
from domain.rules.spans import decided_plan_ends
from domain.selection import Entry
from domain.values import AlertRule

WORKING_DAYS = Timescale(
    AlertRule.CORE_GROUP_OVERDUE,
    "working_days",
    10,
    "working days",
    "local practice",
    local=True,
)
TIMESCALES = (WORKING_DAYS,)

# A pre-birth conference is the initial conference for an unborn child.
INITIAL_KINDS = frozenset({"initial", "pre_birth"})
# Once the case closed or moved away (or the plan ended) no core group is due.
CASE_ENDS = frozenset({"CaseClosed", "CaseTransferred"})


def check(case: CaseAtMoment) -> list[Alert]:
    alerts = []
    for position in case.positions("ConferenceHeld"):
        conference = case.entries[position]
        if conference.data["kind"] not in INITIAL_KINDS or conference.data["decision"] != "cp_plan":
            continue
        due_at = working_days_due(conference.occurred.london_date, case.number(WORKING_DAYS))
        message = (
            f"Child protection plan decided at the initial conference on "
            f"{day_text(conference.occurred.instant)} has no core group meeting: "
            f"due by {day_text(due_at)}"
        )
        alerts.append(
            deadline_alert(
                case,
                AlertRule.CORE_GROUP_OVERDUE,
                Severity.WARNING,
                message,
                [conference.id],
                due_at,
                _resolution(case, position),
            )
        )
    return alerts


def _resolution(case: CaseAtMoment, conference_at: int) -> Entry | None:
    """The first core group after the conference (at `conference_at`), or the end of the plan it
    decided (`decided_plan_ends`), or the case's closure or transfer, if that came first."""
    plan_ends = decided_plan_ends(case, case.entries[conference_at])
    for position in range(conference_at + 1, len(case.entries)):
        entry = case.entries[position]
        if entry.type == "MeetingHeld" and entry.data["kind"] == "core_group":
            return entry
        if entry.type in CASE_ENDS or position in plan_ends:
            return entry
    return None
