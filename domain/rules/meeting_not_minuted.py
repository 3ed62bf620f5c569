"""`meeting-not-minuted`: a meeting with no minutes recorded within 15 working days (*local*)
(DOMAIN.md §4)."""

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
from domain.values import AlertRule, MeetingKind

WORKING_DAYS = Timescale(
    AlertRule.MEETING_NOT_MINUTED,
    "working_days",
    15,
    "working days",
    "local practice",
    local=True,
)
TIMESCALES = (WORKING_DAYS,)


def check(case: CaseAtMoment) -> list[Alert]:
    minutes = timelines(case.of_type("MinutesRecorded"), "meeting_id")
    alerts = []
    for meeting in case.of_type("MeetingHeld"):
        day = meeting.occurred.london_date
        due_at = working_days_due(day, case.number(WORKING_DAYS))
        # Meeting ids are the recorder's own and may be reused: minutes before the day do not count.
        of_meeting = minutes.get(meeting.data["meeting_id"])
        recorded = of_meeting.first_from(day) if of_meeting else None
        message = (
            f"{MeetingKind(meeting.data['kind']).label} on {day_text(meeting.occurred.instant)} "
            f"has no recorded minutes: due by {day_text(due_at)}"
        )
        alerts.append(
            deadline_alert(
                case,
                AlertRule.MEETING_NOT_MINUTED,
                Severity.WARNING,
                message,
                [meeting.id],
                due_at,
                recorded,
            )
        )
    return alerts
