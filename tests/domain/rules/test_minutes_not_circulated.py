"""`minutes-not-circulated`: minutes sent, within 15 working days of the meeting, to every agency
that attended or was invited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domain.moments import parse_bound
from domain.rules import AlertStatus, Severity
from domain.rules import minutes_not_circulated as rule
from tests.domain.rule_log import LA, Log

RULES = [rule.check]
SOCIAL_WORKER = {"name": "Sam Patel", "agency": LA}
TEACHER = {"name": "Ann Jones", "agency": "school:st-marys-primary"}
NURSE = {"name": "Dr Ruth Green", "agency": "health:kent-community-health"}
MOTHER = {"name": "Kelly Smith", "role": "mother"}


def _meeting(log: Log, day: str, **fields: Any) -> str:
    """A core group meeting: the school and health invited, health sent apologies."""
    people: dict[str, Any] = {
        "meeting_id": "MTG-1",
        "invited": [SOCIAL_WORKER, TEACHER, NURSE, MOTHER],
        "attended": [SOCIAL_WORKER, TEACHER, MOTHER],
        "apologies": [NURSE],
    }
    return log.add("MeetingHeld", day, **{**people, **fields})


def test_minutes_not_circulated_when_one_agency_left_out_then_message_names_it() -> None:
    # Given a meeting on Thursday 16 May 2013 whose minutes went to health and the mother only
    log = Log()
    meeting = _meeting(log, "2013-05-16")
    log.add("MinutesCirculated", "2013-05-20", meeting_id="MTG-1", recipients=[NURSE, MOTHER])

    # When judged at 23:59 on Friday 7 June (15 working days on, past the 27 May bank holiday)
    [alert] = log.alerts("2013-06-07T23:59:00+01:00", rules=RULES)

    # Then it is pending, named by the meeting, and names the school as still missing
    assert alert.rule == "minutes-not-circulated"
    assert alert.status is AlertStatus.PENDING
    assert alert.severity is Severity.WARNING
    assert alert.event_ids == (meeting,)
    assert alert.due_at == parse_bound("2013-06-07")
    assert alert.message == (
        "Minutes of the core group meeting on 16 May 2013 not sent to "
        "school:st-marys-primary: due by 7 June 2013"
    )

    # And from the start of Saturday 8 June it is breached
    [later] = log.alerts("2013-06-08T00:00:00+01:00", rules=RULES)
    assert later.status is AlertStatus.BREACHED
    assert later.breached_at == datetime(2013, 6, 7, 23, 0, tzinfo=UTC)


def test_minutes_not_circulated_when_every_agency_sent_them_then_resolved_by_the_last() -> None:
    # Given minutes sent to the school, then (late) to health
    log = Log()
    _meeting(log, "2013-05-16")
    log.add("MinutesCirculated", "2013-05-20", meeting_id="MTG-1", recipients=[TEACHER])
    last = log.add("MinutesCirculated", "2013-06-10", meeting_id="MTG-1", recipients=[NURSE])

    # Then the circulation completing the list resolves it, late
    [alert] = log.alerts("2013-06-10", rules=RULES)
    assert (alert.status, alert.resolved_by) == (AlertStatus.RESOLVED, last)
    assert alert.breached_at == datetime(2013, 6, 7, 23, 0, tzinfo=UTC)
    assert "sent to every agency invited" in alert.message


def test_minutes_not_circulated_when_minutes_of_another_meeting_sent_then_not_resolved() -> None:
    log = Log()
    _meeting(log, "2013-05-16")
    log.add("MinutesCirculated", "2013-05-20", meeting_id="MTG-2", recipients=[TEACHER, NURSE])
    [alert] = log.alerts("2013-06-10", rules=RULES)
    assert alert.status is AlertStatus.BREACHED
    assert "school:st-marys-primary, health:kent-community-health" not in alert.message
    assert "health:kent-community-health, school:st-marys-primary" in alert.message


def test_minutes_not_circulated_when_only_the_authority_and_family_attended_then_no_alert() -> None:
    # Given a family meeting with no other agency
    log = Log()
    _meeting(log, "2013-05-16", invited=[MOTHER], attended=[SOCIAL_WORKER, MOTHER], apologies=[])

    # Then there is nobody the minutes must go to
    assert log.alerts("2013-07-01", rules=RULES) == []


def test_minutes_not_circulated_when_held_before_christmas_then_due_after_the_holidays() -> None:
    # Given a meeting on Monday 16 December 2013 (25, 26 Dec and 1 Jan are bank holidays)
    log = Log()
    _meeting(log, "2013-12-16")

    # Then it falls due at the end of Thursday 9 January 2014
    [alert] = log.alerts("2014-01-09", rules=RULES)
    assert alert.due_at == parse_bound("2014-01-09")
    assert alert.status is AlertStatus.PENDING
    assert log.alerts("2014-01-10", rules=RULES)[0].status is AlertStatus.BREACHED


def test_minutes_not_circulated_when_sent_but_recorded_late_then_open_before_it_was_known() -> None:
    # Given minutes sent to everyone on 20 May, recorded on 20 June
    log = Log()
    _meeting(log, "2013-05-16")
    log.add(
        "MinutesCirculated",
        "2013-05-20",
        "2013-06-20T10:00:00Z",
        meeting_id="MTG-1",
        recipients=[TEACHER, NURSE],
    )

    # Then on 10 June, on what was recorded by then, it was breached
    [before] = log.alerts("2013-06-10", known_at="2013-06-10", rules=RULES)
    assert before.status is AlertStatus.BREACHED
    [now] = log.alerts("2013-06-10", rules=RULES)
    assert (now.status, now.breached_at) == (AlertStatus.RESOLVED, None)
