"""`no-allocated-worker`: an open episode with no allocated worker 1 working day after the
referral that opened it (DOMAIN.md §4)."""

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
from domain.selection import Entry
from domain.state import EPISODE_OPENERS, ends_allocation
from domain.values import AlertRule

WORKING_DAYS = Timescale(
    AlertRule.NO_ALLOCATED_WORKER,
    "working_days",
    1,
    "working days",
    "Working Together to Safeguard Children 2023: a referral accepted by children's social care "
    "is led by a social worker, decided on within one working day",
)
TIMESCALES = (WORKING_DAYS,)

_OPENED = {
    "ReferralAccepted": "Referral accepted",
    "CaseReopened": "Case reopened",
    "PeriodOfCareStarted": "Child became looked after",
}


def check(case: CaseAtMoment) -> list[Alert]:
    """One alert per episode, resolved by the first allocation still standing when it opens
    (a worker allocated while the contact that led to it was screened counts) or made in it, or
    by the episode closing. An allocation ends as the state's `allocated_worker` does: with the
    episode, or with a contact decided without one."""
    alerts = []
    opened: Entry | None = None
    allocated: Entry | None = None
    for entry in case.entries:
        if entry.type == "WorkerAllocated":
            allocated = allocated or entry
        elif entry.type in EPISODE_OPENERS and opened is None:
            opened = entry
        elif ends_allocation(entry, is_open=opened is not None):
            if opened is not None:
                alerts.append(_alert(case, opened, allocated or entry))
            opened = allocated = None
    if opened is not None:
        alerts.append(_alert(case, opened, allocated))
    return alerts


def _alert(case: CaseAtMoment, opened: Entry, resolved_by: Entry | None) -> Alert:
    due_at = working_days_due(opened.occurred.london_date, case.number(WORKING_DAYS))
    what = _OPENED.get(opened.type, "Episode opened")
    message = (
        f"{what} on {day_text(opened.occurred.instant)} has no allocated worker: "
        f"due by {day_text(due_at)}"
    )
    return deadline_alert(
        case,
        AlertRule.NO_ALLOCATED_WORKER,
        Severity.WARNING,
        message,
        [opened.id],
        due_at,
        resolved_by,
    )
