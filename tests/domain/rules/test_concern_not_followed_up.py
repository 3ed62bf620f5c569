"""`concern-not-followed-up`: a concern needing follow-up with no follow-up, and no visit seeing
the child, by the end of the next working day."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.moments import parse_bound
from domain.rules import AlertStatus, Severity
from domain.rules import concern_not_followed_up as rule
from tests.domain.rule_log import Log

RULES = [rule.check]
SCHOOL = "school:st-marys-primary"


def test_concern_not_followed_up_when_no_follow_up_then_pending_until_next_working_day_ends() -> (
    None
):
    # Given bruising reported by the school on Thursday 16 May 2013
    log = Log()
    concern = log.add("ConcernObserved", "2013-05-16T11:00:00+01:00", agency=SCHOOL)

    # When judged at 23:59 on Friday 17 May (the 1st working day after it)
    [alert] = log.alerts("2013-05-17T23:59:00+01:00", rules=RULES)

    # Then it is pending, critical, named by the concern, and says what and when in words
    assert alert.rule == "concern-not-followed-up"
    assert alert.status is AlertStatus.PENDING
    assert alert.severity is Severity.CRITICAL
    assert alert.event_ids == (concern,)
    assert alert.due_at == parse_bound("2013-05-17")
    assert alert.message == (
        "Bruising reported by the school on 16 May 2013 has no recorded follow-up: "
        "due by 17 May 2013"
    )

    # And from the start of Saturday 18 May it is breached
    [later] = log.alerts("2013-05-18T00:00:00+01:00", rules=RULES)
    assert later.status is AlertStatus.BREACHED
    assert later.breached_at == datetime(2013, 5, 17, 23, 0, tzinfo=UTC)


def test_concern_not_followed_up_when_followed_up_then_resolved_by_the_follow_up() -> None:
    # Given a concern followed up the same day
    log = Log()
    concern = log.add("ConcernObserved", "2013-05-16", agency=SCHOOL)
    follow_up = log.add("ConcernFollowedUp", "2013-05-16", concern_event_id=concern)

    # Then it is resolved by the follow-up, never breached
    [alert] = log.alerts("2013-06-01", rules=RULES)
    assert (alert.status, alert.resolved_by, alert.breached_at) == (
        AlertStatus.RESOLVED,
        follow_up,
        None,
    )


def test_concern_not_followed_up_when_another_concern_followed_up_then_still_breached() -> None:
    # Given two concerns, only the second followed up
    log = Log()
    first = log.add("ConcernObserved", "2013-05-16", agency=SCHOOL)
    second = log.add("ConcernObserved", "2013-05-16", agency=SCHOOL, category="neglect")
    log.add("ConcernFollowedUp", "2013-05-16", concern_event_id=second)

    # Then the first stays breached
    alerts = {a.event_ids[0]: a for a in log.alerts("2013-06-01", rules=RULES)}
    assert alerts[first].status is AlertStatus.BREACHED
    assert alerts[second].status is AlertStatus.RESOLVED


def test_concern_not_followed_up_when_child_seen_on_a_visit_then_resolved_by_the_visit() -> None:
    # Given a concern, then a visit where the child was not seen, then one where they were
    log = Log()
    log.add("ConcernObserved", "2013-05-16T11:00:00+01:00", agency=SCHOOL)
    log.add("VisitMade", "2013-05-16T15:00:00+01:00", child_seen=False, seen_alone=False)
    seen = log.add("VisitMade", "2013-05-20T10:00:00+01:00")

    # Then only the visit seeing the child resolves it (late: after Friday 17 May)
    [alert] = log.alerts("2013-05-20", rules=RULES)
    assert (alert.status, alert.resolved_by) == (AlertStatus.RESOLVED, seen)
    assert alert.breached_at == datetime(2013, 5, 17, 23, 0, tzinfo=UTC)


def test_concern_not_followed_up_when_child_seen_earlier_that_day_then_not_resolved() -> None:
    # Given a morning visit seeing the child, then bruising reported that afternoon
    log = Log()
    log.add("VisitMade", "2013-05-16T09:00:00+01:00")
    log.add("ConcernObserved", "2013-05-16T15:00:00+01:00", agency=SCHOOL)

    # Then the morning visit did not follow the concern up
    [alert] = log.alerts("2013-05-20", rules=RULES)
    assert alert.status is AlertStatus.BREACHED


def test_concern_not_followed_up_when_noticed_at_a_visit_then_that_visit_does_not_resolve() -> None:
    # Given a visit on 4 August 2014 recorded that day, at which a bruise was seen; the bruise
    # recorded as its own concern (dated 4 August) after supervision on 6 August
    log = Log()
    log.add("VisitMade", "2014-08-04", "2014-08-04T16:00:00Z")
    log.add("ConcernObserved", "2014-08-04", "2014-08-06T14:30:00Z", category="bruising")

    # Then the visit where it was noticed did not follow it up
    [alert] = log.alerts("2014-08-06", rules=RULES)
    assert alert.status is AlertStatus.BREACHED
    assert alert.message.startswith("Bruising reported by children's social care on 4 August")


def test_concern_not_followed_up_when_no_follow_up_required_then_no_alert() -> None:
    log = Log()
    log.add("ConcernObserved", "2013-05-16", agency=SCHOOL, follow_up_required=False)
    assert log.alerts("2013-06-01", rules=RULES) == []


def test_concern_not_followed_up_when_reported_before_easter_then_due_after_the_holidays() -> None:
    # Given a concern on Thursday 17 April 2014 (Good Friday and Easter Monday are holidays)
    log = Log()
    log.add("ConcernObserved", "2014-04-17", agency=SCHOOL)

    # Then it falls due at the end of Tuesday 22 April
    [alert] = log.alerts("2014-04-22T23:59:00+01:00", rules=RULES)
    assert alert.due_at == parse_bound("2014-04-22")
    assert alert.status is AlertStatus.PENDING
    assert log.alerts("2014-04-23", rules=RULES)[0].status is AlertStatus.BREACHED


def test_concern_not_followed_up_when_child_unborn_then_still_applies() -> None:
    # Given domestic abuse reported by the police during a pregnancy
    log = Log(unborn=True, date_of_birth=None, expected_date_of_birth="2013-09-01", sex="U")
    log.add("ConcernObserved", "2013-05-16", agency="police:kent", category="domestic_abuse")

    # Then it still needs following up: only visits cannot resolve it before the birth
    [alert] = log.alerts("2013-05-20", rules=RULES)
    assert alert.status is AlertStatus.BREACHED
    assert alert.message.startswith("Domestic abuse concern reported by the police on 16 May 2013")


def test_concern_not_followed_up_when_timescale_set_then_statutory_one_day_stands() -> None:
    # Given a setting for the rule's number (it is not a local one)
    log = Log()
    log.add("ConcernObserved", "2013-05-16", agency=SCHOOL)

    # Then it is ignored: still due at the end of the next working day
    [alert] = log.alerts("2013-05-20", rules=RULES, timescales={rule.WORKING_DAYS.key: 5})
    assert alert.due_at == parse_bound("2013-05-17")
    assert not rule.WORKING_DAYS.local


def test_concern_not_followed_up_when_follow_up_recorded_late_then_open_before_it_was_known() -> (
    None
):
    # Given a follow-up done on 17 May but recorded on 24 May
    log = Log()
    log.add("ConcernObserved", "2013-05-16", "2013-05-16T10:00:00Z", agency=SCHOOL)
    concern = log.events[-1].id
    log.add("ConcernFollowedUp", "2013-05-17", "2013-05-24T10:00:00Z", concern_event_id=concern)

    # When judged on 20 May on what was recorded by 20 May
    [before] = log.alerts("2013-05-20", known_at="2013-05-20", rules=RULES)

    # Then it was breached; on what is known now it was resolved in time
    assert before.status is AlertStatus.BREACHED
    [now] = log.alerts("2013-05-20", rules=RULES)
    assert (now.status, now.breached_at) == (AlertStatus.RESOLVED, None)
