"""`supervision-overdue`: an open case supervised at least every 8 weeks (*local*)."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.moments import parse_bound
from domain.rules import AlertStatus, Severity
from domain.rules import supervision_overdue as rule
from tests.domain.rule_log import Log

RULES = [rule.check]


def test_supervision_overdue_when_episode_opens_then_pending_for_8_weeks() -> None:
    # Given a referral accepted on Thursday 16 May 2013
    log = Log()
    referral = log.add("ReferralAccepted", "2013-05-16")

    # When judged at 23:59 on Thursday 11 July (8 weeks on)
    [alert] = log.alerts("2013-07-11T23:59:00+01:00", rules=RULES)

    # Then supervision is pending, named by the referral, a warning
    assert alert.rule == "supervision-overdue"
    assert alert.status is AlertStatus.PENDING
    assert alert.severity is Severity.WARNING
    assert alert.event_ids == (referral,)
    assert alert.due_at == parse_bound("2013-07-11")
    assert alert.message == (
        "No supervision recorded since the episode opened on 16 May 2013: due by 11 July 2013"
    )

    # And from the start of Friday 12 July it is breached
    [later] = log.alerts("2013-07-12T00:00:00+01:00", rules=RULES)
    assert later.status is AlertStatus.BREACHED
    assert later.breached_at == datetime(2013, 7, 11, 23, 0, tzinfo=UTC)


def test_supervision_overdue_when_only_a_contact_then_no_alert() -> None:
    log = Log()
    log.add("ContactReceived", "2013-05-16")
    assert log.alerts("2013-09-01", rules=RULES) == []


def test_supervision_overdue_when_due_on_boxing_day_then_weeks_ignore_bank_holidays() -> None:
    # Given a referral on Thursday 31 October 2013: 8 weeks on is 26 December, a bank holiday
    log = Log()
    log.add("ReferralAccepted", "2013-10-31")

    # Then supervision is still due by the end of that day (GMT: breached from midnight UTC)
    [alert] = log.alerts("2013-12-26", rules=RULES)
    assert alert.due_at == parse_bound("2013-12-26")
    assert alert.status is AlertStatus.PENDING
    [later] = log.alerts("2013-12-27", rules=RULES)
    assert later.breached_at == datetime(2013, 12, 27, 0, 0, tzinfo=UTC)


def test_supervision_overdue_when_supervised_then_resolved_and_next_due_8_weeks_on() -> None:
    # Given an episode supervised on 1 July
    log = Log()
    referral = log.add("ReferralAccepted", "2013-05-16")
    supervision = log.add("SupervisionHeld", "2013-07-01")

    # When judged on 1 September
    first, second = log.alerts("2013-09-01", rules=RULES)

    # Then the supervision resolved the episode's alert, and the next fell due 8 weeks after it
    assert (first.event_ids, first.status, first.resolved_by) == (
        (referral,),
        AlertStatus.RESOLVED,
        supervision,
    )
    assert (second.event_ids, second.status) == ((supervision,), AlertStatus.BREACHED)
    assert second.due_at == parse_bound("2013-08-26")
    assert "since the last supervision on 1 July 2013" in second.message


def test_supervision_overdue_when_case_closes_then_resolved_by_the_closure() -> None:
    # Given an episode closed before supervision fell due
    log = Log()
    log.add("ReferralAccepted", "2013-05-16")
    closed = log.add("CaseClosed", "2013-06-20")

    # Then the alert is resolved by the closure, never breached, and nothing follows
    [alert] = log.alerts("2014-01-01", rules=RULES)
    assert (alert.status, alert.resolved_by, alert.breached_at) == (
        AlertStatus.RESOLVED,
        closed,
        None,
    )


def test_supervision_overdue_when_local_timescale_is_4_weeks_then_due_sooner() -> None:
    # Given a local setting of 4 weeks
    log = Log()
    log.add("ReferralAccepted", "2013-05-16")
    four = {rule.WEEKS.key: 4}

    # Then supervision is due by the end of Thursday 13 June
    [alert] = log.alerts("2013-06-13", rules=RULES, timescales=four)
    assert alert.due_at == parse_bound("2013-06-13")
    assert log.alerts("2013-06-14", rules=RULES, timescales=four)[0].status is (
        AlertStatus.BREACHED
    )
    assert rule.WEEKS.setting == "CASETRAIL_RULE_SUPERVISION_OVERDUE_WEEKS"


def test_supervision_overdue_when_supervision_recorded_late_then_open_on_what_was_known() -> None:
    # Given supervision on 8 July recorded only on 22 July
    log = Log()
    referral = log.add("ReferralAccepted", "2013-05-16")
    supervision = log.add("SupervisionHeld", "2013-07-08", "2013-07-22")

    # When judged on 15 July on what had been recorded by then
    [before] = log.alerts("2013-07-15", known_at="2013-07-15", rules=RULES)

    # Then it was breached; on what is known now it was resolved in time
    assert (before.event_ids, before.status) == ((referral,), AlertStatus.BREACHED)
    first, _ = log.alerts("2013-07-15", rules=RULES)
    assert (first.status, first.resolved_by, first.breached_at) == (
        AlertStatus.RESOLVED,
        supervision,
        None,
    )
