"""`icpc-overdue`: an initial child protection conference within 15 working days of the strategy
discussion that started the section 47 enquiry (Working Together 2023)."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.moments import parse_bound
from domain.rules import AlertStatus, Severity
from domain.rules import icpc_overdue as rule
from tests.domain.rule_log import Log
from tests.support import payload

RULES = [rule.check]


def _enquiry(log: Log, day: str) -> tuple[str, str]:
    """A strategy discussion on `day` that started a section 47 enquiry the same day."""
    strategy = log.add("StrategyDiscussionHeld", day)
    enquiry = log.add("Section47Started", day)
    return strategy, enquiry


def test_icpc_overdue_when_enquiry_started_then_pending_until_the_15th_working_day() -> None:
    # Given a strategy discussion on Thursday 16 May 2013 that started a section 47 enquiry
    log = Log()
    strategy, enquiry = _enquiry(log, "2013-05-16")

    # When judged at 23:59 on Friday 7 June (15 working days on, past the 27 May bank holiday)
    [alert] = log.alerts("2013-06-07T23:59:00+01:00", rules=RULES)

    # Then it is pending, named by the strategy discussion, critical, and says when it is due
    assert alert.rule == "icpc-overdue"
    assert alert.status is AlertStatus.PENDING
    assert alert.severity is Severity.CRITICAL
    assert alert.event_ids == (strategy, enquiry)
    assert alert.alert_id == f"icpc-overdue:{strategy}"
    assert alert.due_at == parse_bound("2013-06-07")
    assert "strategy discussion on 16 May 2013" in alert.message
    assert "due by 7 June 2013" in alert.message

    # And from the start of Saturday 8 June it is breached
    [later] = log.alerts("2013-06-08T00:00:00+01:00", rules=RULES)
    assert later.status is AlertStatus.BREACHED
    assert later.breached_at == datetime(2013, 6, 7, 23, 0, tzinfo=UTC)


def test_icpc_overdue_when_only_a_strategy_discussion_then_no_alert() -> None:
    # Given a strategy discussion with no section 47 enquiry started
    log = Log()
    log.add("StrategyDiscussionHeld", "2013-05-16", decision="no_s47")

    # Then no conference is due
    assert log.alerts("2013-07-01", rules=RULES) == []


def test_icpc_overdue_when_discussion_before_christmas_then_due_after_the_bank_holidays() -> None:
    # Given an enquiry started on Monday 16 December 2013 (25, 26 Dec and 1 Jan are holidays)
    log = Log()
    _enquiry(log, "2013-12-16")

    # Then the conference is due by the end of Thursday 9 January 2014
    [alert] = log.alerts("2014-01-09", rules=RULES)
    assert alert.due_at == parse_bound("2014-01-09")
    assert alert.status is AlertStatus.PENDING
    assert log.alerts("2014-01-10", rules=RULES)[0].status is AlertStatus.BREACHED


def test_icpc_overdue_when_initial_conference_held_then_resolved_by_it() -> None:
    # Given an enquiry and an initial conference 12 working days later
    log = Log()
    _enquiry(log, "2013-05-16")
    conference = log.add("ConferenceHeld", "2013-06-04")  # the example is an initial conference

    # Then the alert is resolved by the conference, never breached
    [alert] = log.alerts("2013-07-01", rules=RULES)
    assert (alert.status, alert.resolved_by) == (AlertStatus.RESOLVED, conference)
    assert alert.breached_at is None


def test_icpc_overdue_when_conference_late_then_resolved_and_keeps_breach() -> None:
    # Given an initial conference held on 12 June, after the 7 June deadline
    log = Log()
    _enquiry(log, "2013-05-16")
    conference = log.add("ConferenceHeld", "2013-06-12")  # the example is an initial conference

    # Then it is resolved by the conference and shows it was breached from 8 June
    [alert] = log.alerts("2013-06-12", rules=RULES)
    assert alert.resolved_by == conference
    assert alert.breached_at == datetime(2013, 6, 7, 23, 0, tzinfo=UTC)


def test_icpc_overdue_when_case_moves_to_another_authority_then_resolved_by_the_transfer() -> None:
    # Given an enquiry started on 16 May 2013, and the case transferred on 20 June, after the
    # 7 June deadline, with no conference
    log = Log()
    _enquiry(log, "2013-05-16")
    transferred = log.add("CaseTransferred", "2013-06-20")

    # Then a year on the alert is resolved by the transfer, and shows it was breached from 8 June
    [alert] = log.alerts("2014-06-20", rules=RULES)
    assert alert.resolved_by == transferred
    assert alert.breached_at == datetime(2013, 6, 7, 23, 0, tzinfo=UTC)


def test_icpc_overdue_when_review_conference_held_then_still_open() -> None:
    # Given only a review conference after the enquiry (not an initial one)
    log = Log()
    _enquiry(log, "2013-05-16")
    log.add(
        "ConferenceHeld",
        "2013-06-04",
        data=payload("ConferenceHeld") | {"kind": "review", "decision": "continue"},
    )

    # Then the initial conference is still overdue
    assert log.alerts("2013-06-10", rules=RULES)[0].status is AlertStatus.BREACHED


def test_icpc_overdue_when_enquiry_concludes_no_conference_required_then_resolved_by_it() -> None:
    # Given an enquiry that concluded no conference was required
    log = Log()
    _enquiry(log, "2013-05-16")
    concluded = log.add("Section47Concluded", "2013-05-30", conference_required=False)

    # Then the alert is resolved by the conclusion
    [alert] = log.alerts("2013-07-01", rules=RULES)
    assert (alert.status, alert.resolved_by) == (AlertStatus.RESOLVED, concluded)


def test_icpc_overdue_when_enquiry_concludes_a_conference_is_required_then_still_due() -> None:
    # Given an enquiry that concluded a conference is required, and no conference
    log = Log()
    _enquiry(log, "2013-05-16")
    log.add("Section47Concluded", "2013-05-30", conference_required=True)

    # Then the conference is still due, and breached after the deadline
    assert log.alerts("2013-06-07", rules=RULES)[0].status is AlertStatus.PENDING
    assert log.alerts("2013-06-10", rules=RULES)[0].status is AlertStatus.BREACHED


def test_icpc_overdue_when_enquiry_starts_days_after_the_discussion_then_counted_from_it() -> None:
    # Given a strategy discussion on 16 May and the enquiry it decided recorded as started 20 May
    log = Log()
    strategy = log.add("StrategyDiscussionHeld", "2013-05-16")
    log.add("Section47Started", "2013-05-20")

    # Then the clock runs from the discussion
    [alert] = log.alerts("2013-05-20", rules=RULES)
    assert alert.event_ids[0] == strategy
    assert alert.due_at == parse_bound("2013-06-07")


def test_icpc_overdue_when_conference_recorded_late_then_open_on_what_was_known() -> None:
    # Given an initial conference held on 4 June but recorded only on 20 June
    log = Log()
    _enquiry(log, "2013-05-16")
    conference = log.add("ConferenceHeld", "2013-06-04", "2013-06-20")  # initial

    # When judged on 10 June on what had been recorded by then
    [before] = log.alerts("2013-06-10", known_at="2013-06-10", rules=RULES)

    # Then it was breached; on what is known now it was resolved in time
    assert before.status is AlertStatus.BREACHED
    [now] = log.alerts("2013-06-10", rules=RULES)
    assert (now.status, now.resolved_by, now.breached_at) == (
        AlertStatus.RESOLVED,
        conference,
        None,
    )
