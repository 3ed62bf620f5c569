"""`assessment-overdue`: an assessment completed within 45 working days of the referral
(Working Together 2023); a recorded delay reason lowers the severity, it does not clear it."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.moments import parse_bound
from domain.rules import AlertStatus, Severity
from domain.rules import assessment_overdue as rule
from tests.domain.rule_log import Log

RULES = [rule.check]


def test_assessment_overdue_when_not_completed_then_pending_until_the_45th_working_day() -> None:
    # Given a referral accepted on Thursday 16 May 2013 (27 May is a bank holiday)
    log = Log()
    referral = log.add("ReferralAccepted", "2013-05-16")
    started = log.add("AssessmentStarted", "2013-05-17")

    # When judged at 23:59 on Friday 19 July, the 45th working day after it
    [alert] = log.alerts("2013-07-19T23:59:00+01:00", rules=RULES)

    # Then it is pending, named by the referral, a warning, and says when it is due
    assert alert.rule == "assessment-overdue"
    assert alert.status is AlertStatus.PENDING
    assert alert.severity is Severity.WARNING
    assert alert.event_ids == (referral, started)
    assert alert.due_at == parse_bound("2013-07-19")
    assert alert.message == (
        "Referral accepted on 16 May 2013 has no completed assessment: due by 19 July 2013"
    )

    # And from the start of Saturday 20 July it is breached
    [later] = log.alerts("2013-07-20T00:00:00+01:00", rules=RULES)
    assert later.status is AlertStatus.BREACHED
    assert later.breached_at == datetime(2013, 7, 19, 23, 0, tzinfo=UTC)


def test_assessment_overdue_when_completed_late_then_resolved_and_keeps_its_breach() -> None:
    # Given an assessment of the referral completed on 25 July 2013, after the deadline
    log = Log()
    log.add("ReferralAccepted", "2013-05-16")
    log.add("AssessmentStarted", "2013-05-17")
    completed = log.add("AssessmentCompleted", "2013-07-25")

    # Then it is resolved by the completion and still shows when it was breached
    [alert] = log.alerts("2013-08-01", rules=RULES)
    assert (alert.status, alert.resolved_by) == (AlertStatus.RESOLVED, completed)
    assert alert.breached_at == datetime(2013, 7, 19, 23, 0, tzinfo=UTC)


def test_assessment_overdue_when_completed_in_time_then_resolved_never_breached() -> None:
    # Given an assessment with no referral named, which belongs to the open episode's referral
    log = Log()
    log.add("ReferralAccepted", "2013-05-16")
    log.add("AssessmentStarted", "2013-05-17", referral_id=None)
    completed = log.add("AssessmentCompleted", "2013-06-20")

    # Then the referral's alert is resolved by it, in time
    [alert] = log.alerts("2013-08-01", rules=RULES)
    assert (alert.status, alert.resolved_by, alert.breached_at) == (
        AlertStatus.RESOLVED,
        completed,
        None,
    )


def test_assessment_overdue_when_delay_recorded_then_info_and_still_breached() -> None:
    # Given a reason for the delay recorded before the deadline
    log = Log()
    referral = log.add("ReferralAccepted", "2013-05-16")
    started = log.add("AssessmentStarted", "2013-05-17")
    delay = log.add("AssessmentDelayRecorded", "2013-07-15")

    # Then after the deadline it is breached, at info, naming the delay
    [alert] = log.alerts("2013-07-22", rules=RULES)
    assert alert.status is AlertStatus.BREACHED
    assert alert.severity is Severity.INFO
    assert alert.event_ids == (referral, started, delay)
    assert "reason for delay recorded on 15 July 2013" in alert.message

    # And before the delay was recorded it was a warning
    assert log.alerts("2013-07-14", rules=RULES)[0].severity is Severity.WARNING


def test_assessment_overdue_when_referral_before_christmas_then_due_after_the_holidays() -> None:
    # Given a referral on Friday 1 November 2013 (25, 26 Dec and 1 Jan are bank holidays)
    log = Log()
    log.add("ReferralAccepted", "2013-11-01")

    # Then it falls due at the end of Wednesday 8 January 2014
    [alert] = log.alerts("2014-01-08", rules=RULES)
    assert alert.due_at == parse_bound("2014-01-08")
    assert alert.status is AlertStatus.PENDING
    assert log.alerts("2014-01-09", rules=RULES)[0].status is AlertStatus.BREACHED


def test_assessment_overdue_when_completion_recorded_late_then_open_on_what_was_known() -> None:
    # Given a completion on 18 July recorded only on 29 July, after the deadline had passed
    log = Log()
    log.add("ReferralAccepted", "2013-05-16")
    log.add("AssessmentStarted", "2013-05-17")
    completed = log.add("AssessmentCompleted", "2013-07-18", "2013-07-29T09:00:00Z")

    # When judged on what was recorded by 26 July
    [before] = log.alerts("2013-07-26", known_at="2013-07-26", rules=RULES)

    # Then it was breached; on what is known now it was resolved in time
    assert before.status is AlertStatus.BREACHED
    [now] = log.alerts("2013-07-26", rules=RULES)
    assert (now.status, now.resolved_by, now.breached_at) == (
        AlertStatus.RESOLVED,
        completed,
        None,
    )


def test_assessment_overdue_when_another_referrals_assessment_completed_then_still_open() -> None:
    # Given a second referral whose assessment names the first referral
    log = Log()
    first = log.add("ReferralAccepted", "2013-05-16", referral_id="R-1")
    log.add("AssessmentStarted", "2013-05-17", assessment_id="A-1", referral_id="R-1")
    log.add("AssessmentCompleted", "2013-06-03", assessment_id="A-1")
    second = log.add("ReferralAccepted", "2013-06-10", referral_id="R-2")
    log.add("AssessmentStarted", "2013-06-11", assessment_id="A-2", referral_id="R-1")
    log.add("AssessmentCompleted", "2013-06-20", assessment_id="A-2")

    # Then the first referral is resolved and the second still waits for its own assessment
    alerts = {a.event_ids[0]: a for a in log.alerts("2013-07-01", rules=RULES)}
    assert alerts[first].status is AlertStatus.RESOLVED
    assert alerts[second].status is AlertStatus.PENDING


def test_assessment_overdue_when_episode_closes_unassessed_then_resolved_by_the_closing() -> None:
    # Given an episode closed (transferred to another authority) before any assessment
    log = Log()
    log.add("ReferralAccepted", "2013-05-16")
    transfer = log.add("CaseTransferred", "2013-08-01")

    # Then the alert is resolved by the transfer, keeping the breach before it
    [alert] = log.alerts("2013-09-01", rules=RULES)
    assert (alert.status, alert.resolved_by) == (AlertStatus.RESOLVED, transfer)
    assert alert.breached_at == datetime(2013, 7, 19, 23, 0, tzinfo=UTC)


def test_assessment_overdue_when_same_referral_recorded_twice_then_one_clock() -> None:
    # Given referral R-1 recorded twice on one day, and its assessment completed in time
    log = Log()
    log.add("ReferralAccepted", "2013-09-17", referral_id="R-1")
    log.add("ReferralAccepted", "2013-09-17", referral_id="R-1")
    log.add("AssessmentStarted", "2013-09-18", assessment_id="A-1", referral_id="R-1")
    done = log.add("AssessmentCompleted", "2013-10-01", assessment_id="A-1")

    # Then there is one alert, resolved by the completion
    alerts = log.alerts("2014-01-31", rules=[rule.check])
    assert [(a.status, a.resolved_by) for a in alerts] == [(AlertStatus.RESOLVED, done)]


def test_assessment_overdue_when_case_reopened_on_a_new_referral_then_its_clock_runs() -> None:
    # Given a case closed in July 2013 and reopened on referral R-2 on 1 October, the
    # assessment of R-2 started the next day and never completed
    log = Log()
    log.add("ReferralAccepted", "2013-05-16", referral_id="R-1")
    log.add("CaseClosed", "2013-07-01")
    reopened = log.add("CaseReopened", "2013-10-01", referral_id="R-2", reason="New referral")
    log.add("AssessmentStarted", "2013-10-02", assessment_id="A-2", referral_id="R-2")

    # Then the reopening starts R-2's clock, and the assessment is overdue after 45 working days
    *_, alert = log.alerts("2014-03-01", rules=RULES)
    assert (alert.event_ids[0], alert.status) == (reopened, AlertStatus.BREACHED)
    assert alert.message.startswith("Case reopened on a referral on 1 October 2013 has no ")

    # And R-2 accepted as well, the same day, is the same referral: one clock
    log.add("ReferralAccepted", "2013-10-01", referral_id="R-2")
    assert len(log.alerts("2014-03-01", rules=RULES)) == 2


def test_assessment_overdue_when_case_reopened_without_a_referral_then_no_clock() -> None:
    log = Log()
    log.add("CaseClosed", "2013-07-01")
    log.add("CaseReopened", "2013-10-01", data={"reason": "Closed in error"})
    assert log.alerts("2014-03-01", rules=RULES) == []
