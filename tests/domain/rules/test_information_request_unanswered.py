"""`information-request-unanswered`: an information request answered or declined within 2
working days (local practice)."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.moments import parse_bound
from domain.rules import AlertStatus, Severity
from domain.rules import information_request_unanswered as rule
from tests.domain.rule_log import Log

RULES = [rule.check]


def test_information_request_unanswered_when_no_reply_then_pending_until_2nd_working_day() -> None:
    # Given a request to the GP on Thursday 16 May 2013
    log = Log()
    request = log.add("InformationRequested", "2013-05-16T11:00:00+01:00")

    # When judged at 23:59 on Monday 20 May, the 2nd working day after it
    [alert] = log.alerts("2013-05-20T23:59:00+01:00", rules=RULES)

    # Then it is pending, named by the request, and says who asked whom and when it is due
    assert alert.rule == "information-request-unanswered"
    assert alert.status is AlertStatus.PENDING
    assert alert.severity is Severity.WARNING
    assert alert.event_ids == (request,)
    assert alert.due_at == parse_bound("2013-05-20")
    assert alert.message == (
        "Information request from csc:kent to health:maidstone-gp on 16 May 2013 has no answer "
        "or decline: due by 20 May 2013"
    )

    # And from the start of Tuesday 21 May it is breached
    [later] = log.alerts("2013-05-21T00:00:00+01:00", rules=RULES)
    assert later.status is AlertStatus.BREACHED
    assert later.breached_at == datetime(2013, 5, 20, 23, 0, tzinfo=UTC)


def test_information_request_unanswered_when_answered_then_resolved_by_the_answer() -> None:
    # Given a request answered on the day it was made (the answer dated, the request timed)
    log = Log()
    log.add("InformationRequested", "2013-05-16T11:00:00+01:00")
    answer = log.add("InformationRequestAnswered", "2013-05-16")

    # Then it is resolved by the answer, never breached
    [alert] = log.alerts("2013-06-01", rules=RULES)
    assert (alert.status, alert.resolved_by, alert.breached_at) == (
        AlertStatus.RESOLVED,
        answer,
        None,
    )


def test_information_request_unanswered_when_declined_late_then_resolved_and_keeps_breach() -> None:
    # Given a request declined on Wednesday 22 May, after the deadline
    log = Log()
    log.add("InformationRequested", "2013-05-16")
    declined = log.add("InformationRequestDeclined", "2013-05-22")

    # Then it is resolved by the decline and shows when it was breached
    [alert] = log.alerts("2013-06-01", rules=RULES)
    assert (alert.status, alert.resolved_by) == (AlertStatus.RESOLVED, declined)
    assert alert.breached_at == datetime(2013, 5, 20, 23, 0, tzinfo=UTC)


def test_information_request_unanswered_when_other_request_answered_then_still_open() -> None:
    # Given two requests, only the second answered
    log = Log()
    first = log.add("InformationRequested", "2013-05-16", request_id="IR-1")
    log.add("InformationRequested", "2013-05-16", request_id="IR-2")
    log.add("InformationRequestAnswered", "2013-05-17", request_id="IR-2")

    # Then the first is still waiting
    alerts = {a.event_ids[0]: a for a in log.alerts("2013-05-21", rules=RULES)}
    assert alerts[first].status is AlertStatus.BREACHED
    assert [a.status for a in alerts.values()].count(AlertStatus.RESOLVED) == 1


def test_information_request_unanswered_when_asked_again_then_the_new_request_waits() -> None:
    # Given a request answered, then asked again under the same id
    log = Log()
    log.add("InformationRequested", "2013-05-16")
    log.add("InformationRequestAnswered", "2013-05-17")
    again = log.add("InformationRequested", "2013-06-03")

    # Then the earlier answer does not answer the new request
    alerts = {a.event_ids[0]: a for a in log.alerts("2013-06-04", rules=RULES)}
    assert alerts[again].status is AlertStatus.PENDING


def test_information_request_unanswered_when_asked_again_later_the_same_day_then_it_waits() -> None:
    # Given a request at 10:00, its answer at 11:00, and the same request asked again at 15:00
    log = Log()
    first = log.add("InformationRequested", "2013-05-16T10:00:00+01:00", request_id="IR-1")
    answer = log.add("InformationRequestAnswered", "2013-05-16T11:00:00+01:00", request_id="IR-1")
    again = log.add("InformationRequested", "2013-05-16T15:00:00+01:00", request_id="IR-1")

    # Then the answer resolves the first, and the afternoon's request still waits
    by_request = {a.event_ids[0]: a for a in log.alerts("2013-05-17", rules=RULES)}
    assert (by_request[first].status, by_request[first].resolved_by) == (
        AlertStatus.RESOLVED,
        answer,
    )
    assert by_request[again].status is AlertStatus.PENDING


def test_information_request_unanswered_when_chased_then_one_answer_resolves_both() -> None:
    # Given a request on Friday 3 May 2013 (Monday 6 May a bank holiday: due by the end of 8
    # May), chased on 8 May under the same id, answered on 9 May
    log = Log()
    first = log.add("InformationRequested", "2013-05-03", request_id="IR-1")
    chaser = log.add("InformationRequested", "2013-05-08", request_id="IR-1")
    answer = log.add("InformationRequestAnswered", "2013-05-09", request_id="IR-1")

    # When judged weeks later
    alerts = {a.event_ids[0]: a for a in log.alerts("2013-06-20", rules=RULES)}

    # Then the answer resolves the request and its chaser, each on its own deadline
    assert (alerts[first].status, alerts[first].resolved_by) == (AlertStatus.RESOLVED, answer)
    assert alerts[first].breached_at == datetime(2013, 5, 8, 23, 0, tzinfo=UTC)
    assert (alerts[chaser].status, alerts[chaser].resolved_by) == (AlertStatus.RESOLVED, answer)
    assert alerts[chaser].breached_at is None


def test_information_request_unanswered_when_before_easter_then_due_after_the_holidays() -> None:
    # Given a request on Thursday 17 April 2014 (Good Friday and Easter Monday are holidays)
    log = Log()
    log.add("InformationRequested", "2014-04-17")

    # Then it falls due at the end of Wednesday 23 April
    [alert] = log.alerts("2014-04-23", rules=RULES)
    assert alert.due_at == parse_bound("2014-04-23")
    assert alert.status is AlertStatus.PENDING
    assert log.alerts("2014-04-24", rules=RULES)[0].status is AlertStatus.BREACHED


def test_information_request_unanswered_when_local_timescale_set_then_it_counts() -> None:
    # Given a request on Thursday 16 May 2013 where requests may take 5 working days
    log = Log()
    log.add("InformationRequested", "2013-05-16")
    timescales = {rule.WORKING_DAYS.key: 5}

    # Then it falls due at the end of Thursday 23 May
    [alert] = log.alerts("2013-05-21", rules=RULES, timescales=timescales)
    assert alert.due_at == parse_bound("2013-05-23")
    assert alert.status is AlertStatus.PENDING
    assert rule.WORKING_DAYS.setting == (
        "CASETRAIL_RULE_INFORMATION_REQUEST_UNANSWERED_WORKING_DAYS"
    )


def test_information_request_unanswered_when_answer_recorded_late_then_open_on_what_was_known() -> (
    None
):
    # Given an answer on 17 May recorded only on 22 May
    log = Log()
    log.add("InformationRequested", "2013-05-16")
    log.add("InformationRequestAnswered", "2013-05-17", "2013-05-22T09:00:00Z")

    # When judged on what was recorded by 21 May, then it was breached
    [before] = log.alerts("2013-05-21", known_at="2013-05-21", rules=RULES)
    assert before.status is AlertStatus.BREACHED

    # And on what is known now it was answered in time
    assert log.alerts("2013-05-21", rules=RULES)[0].status is AlertStatus.RESOLVED
