"""`minutes-not-circulated`: a meeting's minutes not sent, within 15 working days, to every agency
that attended or was invited (DOMAIN.md §4)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

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
from domain.selection import Entry
from domain.values import AlertRule, MeetingKind

# DOMAIN.md marks this number neither *local* nor statutory: a fixed number, not a setting.
WORKING_DAYS = Timescale(
    AlertRule.MINUTES_NOT_CIRCULATED,
    "working_days",
    15,
    "working days",
    "local practice",
)
TIMESCALES = (WORKING_DAYS,)


def check(case: CaseAtMoment) -> list[Alert]:
    circulated = case.of_type("MinutesCirculated")
    by_meeting = timelines(circulated, "meeting_id")
    recipients = {c.id: _agencies(c.data["recipients"]) for c in circulated}
    alerts = []
    for meeting in case.of_type("MeetingHeld"):
        data = meeting.data
        # The authority that held the meeting sends the minutes; it does not send them to itself.
        owners = {case.state.local_authority, meeting.agency}
        expected = _agencies([*data["attended"], *data["invited"], *data.get("apologies", ())])
        expected -= owners
        if not expected:
            continue
        day = meeting.occurred.london_date
        due_at = working_days_due(day, case.number(WORKING_DAYS))
        sent: set[str] = set()
        completed: Entry | None = None
        of_meeting = by_meeting.get(data["meeting_id"])
        # Meeting ids may be reused: a circulation before the meeting's day is another's.
        for circulation in of_meeting.from_day(day) if of_meeting else ():
            sent |= recipients[circulation.id]
            if expected <= sent:
                completed = circulation
                break
        meeting_text = (
            f"Minutes of the {MeetingKind(data['kind']).label.lower()} on "
            f"{day_text(meeting.occurred.instant)}"
        )
        missing = sorted(expected - sent)
        message = (
            f"{meeting_text} not sent to {', '.join(missing)}: due by {day_text(due_at)}"
            if missing
            else f"{meeting_text} sent to every agency invited: due by {day_text(due_at)}"
        )
        alerts.append(
            deadline_alert(
                case,
                AlertRule.MINUTES_NOT_CIRCULATED,
                Severity.WARNING,
                message,
                [meeting.id],
                due_at,
                completed,
            )
        )
    return alerts


def _agencies(people: Iterable[Mapping[str, Any]]) -> set[str]:
    """The agencies of professionals; family members have a role and no agency."""
    return {p["agency"] for p in people if p.get("agency")}
