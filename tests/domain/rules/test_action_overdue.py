"""`action-overdue`: actions from a meeting or supervision past their due date (the end of that
day) without an `ActionCompleted`; one alert per meeting or supervision."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.moments import parse_bound
from domain.rules import AlertStatus, Severity
from domain.rules import action_overdue as rule
from tests.domain.rule_log import Log

RULES = [rule.check]


def _action(action_id: str, due: str) -> dict[str, str]:
    return {"action_id": action_id, "description": "Health check", "owner": "Ann", "due": due}


def test_action_overdue_when_not_completed_then_pending_until_its_due_date_ends() -> None:
    # Given a core group meeting on 16 May 2013 agreeing an action due on Friday 14 June
    log = Log()
    meeting = log.add("MeetingHeld", "2013-05-16", actions=[_action("A-1", "2013-06-14")])

    # When judged at 23:59 on the due date
    [alert] = log.alerts("2013-06-14T23:59:00+01:00", rules=RULES)

    # Then it is pending, a warning named by the meeting, and names the action
    assert alert.rule == "action-overdue"
    assert alert.status is AlertStatus.PENDING
    assert alert.severity is Severity.WARNING
    assert alert.event_ids == (meeting,)
    assert alert.due_at == parse_bound("2013-06-14")
    assert alert.message == (
        "Core group meeting on 16 May 2013 has actions not recorded as completed: "
        "A-1 (due 14 June 2013)"
    )

    # And from the start of the next day it is breached
    [later] = log.alerts("2013-06-15T00:00:00+01:00", rules=RULES)
    assert later.status is AlertStatus.BREACHED
    assert later.breached_at == datetime(2013, 6, 14, 23, 0, tzinfo=UTC)


def test_action_overdue_when_completed_then_resolved_by_the_completion() -> None:
    log = Log()
    log.add("SupervisionHeld", "2013-05-16", actions=[_action("A-1", "2013-06-14")])
    done = log.add("ActionCompleted", "2013-06-10", action_id="A-1")
    [alert] = log.alerts("2013-07-01", rules=RULES)
    assert (alert.status, alert.resolved_by, alert.breached_at) == (
        AlertStatus.RESOLVED,
        done,
        None,
    )
    assert alert.message.startswith("Supervision on 16 May 2013: every action recorded")


def test_action_overdue_when_one_of_two_done_then_due_with_the_one_outstanding() -> None:
    # Given two actions, the earlier one done on time
    log = Log()
    log.add(
        "MeetingHeld",
        "2013-05-16",
        actions=[_action("A-1", "2013-06-14"), _action("A-2", "2013-07-05")],
    )
    log.add("ActionCompleted", "2013-06-10", action_id="A-1")

    # Then the alert waits for the second, and names only it
    [alert] = log.alerts("2013-06-20", rules=RULES)
    assert alert.status is AlertStatus.PENDING
    assert alert.due_at == parse_bound("2013-07-05")
    assert "A-2 (due 5 July 2013)" in alert.message
    assert "A-1" not in alert.message


def test_action_overdue_when_completed_late_then_resolved_keeping_the_breach() -> None:
    # Given two actions, one done late and one on time
    log = Log()
    log.add(
        "MeetingHeld",
        "2013-05-16",
        actions=[_action("A-1", "2013-06-14"), _action("A-2", "2013-07-05")],
    )
    log.add("ActionCompleted", "2013-06-20", action_id="A-1")
    last = log.add("ActionCompleted", "2013-07-01", action_id="A-2")

    # Then it is resolved by the last completion, breached from the day after A-1 was due
    [alert] = log.alerts("2013-07-10", rules=RULES)
    assert (alert.status, alert.resolved_by) == (AlertStatus.RESOLVED, last)
    assert alert.breached_at == datetime(2013, 6, 14, 23, 0, tzinfo=UTC)


def test_action_overdue_when_one_done_late_and_one_outstanding_then_stays_breached() -> None:
    # Given two actions of a meeting, A-1 due on 10 June and A-2 on 30 August, and A-1 done
    # late, on 20 June
    log = Log()
    log.add(
        "MeetingHeld",
        "2013-06-03",
        actions=[_action("A-1", "2013-06-10"), _action("A-2", "2013-08-30")],
    )
    log.add("ActionCompleted", "2013-06-20", action_id="A-1")

    # When judged on 25 June, with A-2 not yet due
    [alert] = log.alerts("2013-06-25", rules=RULES)

    # Then it stays breached from the day after A-1 was due, naming A-2 as still outstanding
    # and A-1 as the one done late
    assert alert.status is AlertStatus.BREACHED
    assert alert.due_at == parse_bound("2013-06-10")
    assert alert.breached_at == datetime(2013, 6, 10, 23, 0, tzinfo=UTC)
    assert alert.message.endswith(
        "has actions not recorded as completed: A-2 (due 30 August 2013); completed late: "
        "A-1 (due 10 June 2013)"
    )


def test_action_overdue_when_completion_predates_the_action_then_not_resolved() -> None:
    # Given action id A-1 completed in April, then set again at a meeting in May
    log = Log()
    log.add("ActionCompleted", "2013-04-20", action_id="A-1")
    log.add("MeetingHeld", "2013-05-16", actions=[_action("A-1", "2013-06-14")])

    # Then the earlier completion was another action's
    [alert] = log.alerts("2013-06-20", rules=RULES)
    assert alert.status is AlertStatus.BREACHED


def test_action_overdue_when_due_on_a_bank_holiday_then_due_at_the_end_of_that_day() -> None:
    # Given an action due on Christmas Day 2013: the due date is a date, not a working day count
    log = Log()
    log.add("StrategyDiscussionHeld", "2013-12-16", actions=[_action("A-1", "2013-12-25")])

    # Then it falls due at the end of 25 December, and is breached on Boxing Day
    [alert] = log.alerts("2013-12-25", rules=RULES)
    assert (alert.status, alert.due_at) == (AlertStatus.PENDING, parse_bound("2013-12-25"))
    assert log.alerts("2013-12-26", rules=RULES)[0].status is AlertStatus.BREACHED


def test_action_overdue_when_no_actions_then_no_alert() -> None:
    log = Log()
    log.add("MeetingHeld", "2013-05-16", actions=[])
    assert log.alerts("2013-07-01", rules=RULES) == []


def test_action_overdue_when_completion_recorded_late_then_open_before_it_was_known() -> None:
    # Given an action done on 10 June but recorded on 20 June
    log = Log()
    log.add("MeetingHeld", "2013-05-16", actions=[_action("A-1", "2013-06-14")])
    log.add("ActionCompleted", "2013-06-10", "2013-06-20T10:00:00Z", action_id="A-1")

    # Then on 17 June, on what was recorded by then, it was breached
    [before] = log.alerts("2013-06-17", known_at="2013-06-17", rules=RULES)
    assert before.status is AlertStatus.BREACHED
    [now] = log.alerts("2013-06-17", rules=RULES)
    assert (now.status, now.breached_at) == (AlertStatus.RESOLVED, None)
