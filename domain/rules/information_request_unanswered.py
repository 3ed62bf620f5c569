"""`information-request-unanswered`: an information request with no answer or decline within
2 working days (DOMAIN.md §4, local practice)."""

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
from domain.values import AlertRule

WORKING_DAYS = Timescale(
    AlertRule.INFORMATION_REQUEST_UNANSWERED,
    "working_days",
    2,
    "working days",
    "local practice",
    local=True,
)
TIMESCALES = (WORKING_DAYS,)

REPLIES = ("InformationRequestAnswered", "InformationRequestDeclined")


def check(case: CaseAtMoment) -> list[Alert]:
    replies = case.of_type(*REPLIES)
    alerts = []
    for request in case.of_type("InformationRequested"):
        # The first reply of its id not known to come before it: a reply answers every request
        # of that id still waiting, the first and any sent again to chase it, but not one asked
        # after it. On the request's day, a dated reply (or a reply to a dated request) may have
        # come after it; a timed reply to a timed request came after it or did not.
        reply = next(
            (
                r
                for r in replies
                if r.data["request_id"] == request.data["request_id"] and _not_before(r, request)
            ),
            None,
        )
        alerts.append(_alert(case, request, reply))
    return alerts


def _not_before(reply: Entry, request: Entry) -> bool:
    if reply.occurred.is_date or request.occurred.is_date:
        return reply.occurred.london_date >= request.occurred.london_date
    return reply.occurred.instant >= request.occurred.instant


def _alert(case: CaseAtMoment, request: Entry, reply: Entry | None) -> Alert:
    due_at = working_days_due(request.occurred.london_date, case.number(WORKING_DAYS))
    data = request.data
    message = (
        f"Information request from {data['from_agency']} to {data['to_agency']} on "
        f"{day_text(request.occurred.instant)} has no answer or decline: "
        f"due by {day_text(due_at)}"
    )
    return deadline_alert(
        case,
        AlertRule.INFORMATION_REQUEST_UNANSWERED,
        Severity.WARNING,
        message,
        [request.id],
        due_at,
        reply,
    )
