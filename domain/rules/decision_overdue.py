"""`decision-overdue`: a contact with no decision within 1 working day (DOMAIN.md §4)."""

from __future__ import annotations

from domain.rules.base import (
    Alert,
    CaseAtMoment,
    Severity,
    Timescale,
    day_text,
    deadline_alert,
    timelines,
    working_days_due,
)
from domain.values import AlertRule

WORKING_DAYS = Timescale(
    AlertRule.DECISION_OVERDUE,
    "working_days",
    1,
    "working days",
    "Working Together to Safeguard Children 2023: a decision within one working day of a referral",
)
TIMESCALES = (WORKING_DAYS,)


def check(case: CaseAtMoment) -> list[Alert]:
    # A contact is answered by the first decision on its id from its day on: a later revision
    # does not rewrite when it was decided, and an earlier contact's decision does not answer a
    # new contact that reuses the id.
    decisions = timelines(case.of_type("ContactDecisionMade"), "contact_id")
    alerts = []
    for contact in case.of_type("ContactReceived"):
        answers = decisions.get(contact.data["contact_id"])
        due_at = working_days_due(contact.occurred.london_date, case.number(WORKING_DAYS))
        referrer = contact.data["referrer"]
        source = ", ".join(x for x in (referrer.get("role"), referrer.get("agency")) if x)
        message = (
            f"Contact from {referrer['name']} ({source}) on {day_text(contact.occurred.instant)} "
            f"has no recorded decision: due by {day_text(due_at)}"
        )
        alerts.append(
            deadline_alert(
                case,
                AlertRule.DECISION_OVERDUE,
                Severity.WARNING,
                message,
                [contact.id],
                due_at,
                answers.first_from(contact.occurred.london_date) if answers else None,
            )
        )
    return alerts
