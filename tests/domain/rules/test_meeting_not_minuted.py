"""`meeting-not-minuted`: a meeting with no minutes recorded within 15 working days (local)."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.moments import parse_bound
from domain.rules import AlertStatus, Severity
from domain.rules import meeting_not_minuted as rule
from tests.domain.rule_log import Log

RULES = [rule.check]


def test_meeting_not_minuted_when_no_minutes_then_pending_until_the_15th_working_day() -> None:
    # Given a core group meeting on Thursday 16 May 2013
    log = Log()
    meeting = log.add("MeetingHeld", "2013-05-16", meeting_id="MTG-1")

    # When judged at 23:59 on Friday 7 June (15 working days on, past the 27 May bank holiday)
    [alert] = log.alerts("2013-06-07T23:59:00+01:00", rules=RULES)

    # Then it is pending, a warning named by the meeting, and says when it is due
    assert alert.rule == "meeting-not-minuted"
    assert alert.status is AlertStatus.PENDING
    assert alert.severity is Severity.WARNING
    assert alert.event_ids == (meeting,)
    assert alert.due_at == parse_bound("2013-06-07")
    assert alert.message == (
        "Core group meeting on 16 May 2013 has no recorded minutes: due by 7 June 2013"
    )

    # And from the start of Saturday 8 June it is breached
    [later] = log.alerts("2013-06-08T00:00:00+01:00", rules=RULES)
    assert later.status is AlertStatus.BREACHED
    assert later.breached_at == datetime(2013, 6, 7, 23, 0, tzinfo=UTC)


def test_meeting_not_minuted_when_minutes_recorded_then_resolved_by_them() -> None:
    # Given a meeting, minutes of another meeting, then its own minutes
    log = Log()
    log.add("MeetingHeld", "2013-05-16", meeting_id="MTG-1")
    log.add("MinutesRecorded", "2013-05-20", meeting_id="MTG-0")
    minutes = log.add("MinutesRecorded", "2013-05-21", meeting_id="MTG-1")

    # Then it is resolved by its own minutes, in time
    [alert] = log.alerts("2013-07-01", rules=RULES)
    assert (alert.status, alert.resolved_by, alert.breached_at) == (
        AlertStatus.RESOLVED,
        minutes,
        None,
    )


def test_meeting_not_minuted_when_held_before_christmas_then_due_after_the_bank_holidays() -> None:
    # Given a meeting on Monday 16 December 2013 (25, 26 Dec and 1 Jan are bank holidays)
    log = Log()
    log.add("MeetingHeld", "2013-12-16", meeting_id="MTG-1")

    # Then it falls due at the end of Thursday 9 January 2014
    [alert] = log.alerts("2014-01-09", rules=RULES)
    assert alert.due_at == parse_bound("2014-01-09")
    assert alert.status is AlertStatus.PENDING
    assert log.alerts("2014-01-10", rules=RULES)[0].status is AlertStatus.BREACHED


def test_meeting_not_minuted_when_timescale_set_then_counts_with_the_setting() -> None:
    # Given the authority allows 5 working days
    log = Log()
    log.add("MeetingHeld", "2013-05-16", meeting_id="MTG-1")
    timescales = {rule.WORKING_DAYS.key: 5}

    # Then the meeting falls due at the end of Thursday 23 May
    [alert] = log.alerts("2013-05-24", rules=RULES, timescales=timescales)
    assert alert.due_at == parse_bound("2013-05-23")
    assert alert.status is AlertStatus.BREACHED
    assert rule.WORKING_DAYS.setting == "CASETRAIL_RULE_MEETING_NOT_MINUTED_WORKING_DAYS"


def test_meeting_not_minuted_when_minutes_recorded_late_then_open_before_they_were_known() -> None:
    # Given minutes written on 20 May but recorded on 20 June
    log = Log()
    log.add("MeetingHeld", "2013-05-16", "2013-05-16T10:00:00Z", meeting_id="MTG-1")
    log.add("MinutesRecorded", "2013-05-20", "2013-06-20T10:00:00Z", meeting_id="MTG-1")

    # Then on 10 June, on what was recorded by then, it was breached
    [before] = log.alerts("2013-06-10", known_at="2013-06-10", rules=RULES)
    assert before.status is AlertStatus.BREACHED
    assert log.alerts("2013-06-10", rules=RULES)[0].status is AlertStatus.RESOLVED
