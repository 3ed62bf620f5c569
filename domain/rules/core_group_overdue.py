"""`core-group-overdue`: no core group meeting within 10 working days (*local*) of an initial
child protection conference that decided a child protection plan (DOMAIN.md §4)."""

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
# Once the plan has ended (or the case closed or moved away) no core group is due.
PLAN_ENDS = frozenset({"ChildProtectionPlanEnded", "CaseClosed", "CaseTransferred"})


def check(case: CaseAtMoment) -> list[Alert]:
    alerts = []
    for conference in case.of_type("ConferenceHeld"):
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
                _resolution(case.entries, conference),
            )
        )
    return alerts


def _resolution(entries: Sequence[Entry], conference: Entry) -> Entry | None:
    """The first core group after the conference, or the end of the plan if that came first."""
    for entry in entries:
        if entry.sort_key() <= conference.sort_key():
            continue
        if entry.type == "MeetingHeld" and entry.data["kind"] == "core_group":
            return entry
        if entry.type in PLAN_ENDS:
            return entry
    return None
