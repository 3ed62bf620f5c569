"""`child-not-seen`: an open case where nobody has seen the child for 20 working days
(*local*)."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.moments import parse_bound
from domain.rules import AlertStatus, Severity
from domain.rules import child_not_seen as rule
from tests.domain.rule_log import Log

RULES = [rule.check]


def test_child_not_seen_when_episode_opens_then_pending_until_the_20th_working_day() -> None:
    # Given a referral accepted on Thursday 16 May 2013
    log = Log()
    referral = log.add("ReferralAccepted", "2013-05-16")

    # When judged at 23:59 on Friday 14 June (20 working days on, past the 27 May bank holiday)
    [alert] = log.alerts("2013-06-14T23:59:00+01:00", rules=RULES)

    # Then it is pending, named by the referral, critical
    assert alert.rule == "child-not-seen"
    assert alert.status is AlertStatus.PENDING
    assert alert.severity is Severity.CRITICAL
    assert alert.event_ids == (referral,)
    assert alert.due_at == parse_bound("2013-06-14")
    assert alert.message == (
        "Child not seen since the episode opened on 16 May 2013: due by 14 June 2013"
    )

    # And from the start of Saturday 15 June it is breached
    [later] = log.alerts("2013-06-15T00:00:00+01:00", rules=RULES)
    assert later.status is AlertStatus.BREACHED
    assert later.breached_at == datetime(2013, 6, 14, 23, 0, tzinfo=UTC)


def test_child_not_seen_when_only_a_contact_then_no_alert() -> None:
    # Given a contact with no episode opened
    log = Log()
    log.add("ContactReceived", "2013-05-16")
    assert log.alerts("2013-07-01", rules=RULES) == []


def test_child_not_seen_when_referral_before_christmas_then_due_after_the_holidays() -> None:
    # Given a referral on Monday 16 December 2013 (25, 26 Dec and 1 Jan are holidays)
    log = Log()
    log.add("ReferralAccepted", "2013-12-16")

    # Then the child is due to be seen by the end of Thursday 16 January 2014
    [alert] = log.alerts("2014-01-16", rules=RULES)
    assert alert.due_at == parse_bound("2014-01-16")
    assert alert.status is AlertStatus.PENDING
    assert log.alerts("2014-01-17", rules=RULES)[0].status is AlertStatus.BREACHED


def test_child_not_seen_when_any_agency_sees_the_child_then_resolved_and_clock_restarts() -> None:
    # Given an episode and a health visitor's home visit seeing the child on 10 June
    log = Log()
    referral = log.add("ReferralAccepted", "2013-05-16")
    visit = log.add("VisitMade", "2013-06-10", agency="health:barsetshire-community")

    # When judged on 1 July
    first, second = log.alerts("2013-07-01", rules=RULES)

    # Then the visit resolved the episode's alert and started the next period
    assert (first.event_ids, first.status, first.resolved_by) == (
        (referral,),
        AlertStatus.RESOLVED,
        visit,
    )
    assert (second.event_ids, second.status) == ((visit,), AlertStatus.PENDING)
    assert second.due_at == parse_bound("2013-07-08")
    assert "since the home visit on 10 June 2013 (health:barsetshire-community)" in (second.message)


def test_child_not_seen_when_views_recorded_seeing_the_child_alone_then_it_counts() -> None:
    # Given the child's views recorded once without seeing them alone, once seeing them alone
    log = Log()
    log.add("ReferralAccepted", "2013-05-16")
    log.add("ChildsVoiceRecorded", "2013-05-20", method="advocate", seen_alone=False)
    voice = log.add("ChildsVoiceRecorded", "2013-06-10")  # seen alone

    # Then only the second resolved the episode's alert
    first, _ = log.alerts("2013-07-01", rules=RULES)
    assert first.resolved_by == voice


def test_child_not_seen_when_visit_did_not_see_the_child_then_still_open() -> None:
    log = Log()
    referral = log.add("ReferralAccepted", "2013-05-16")
    log.add("VisitMade", "2013-06-10", child_seen=False, seen_alone=False, bedroom_seen=False)
    [alert] = log.alerts("2013-06-17", rules=RULES)
    assert (alert.event_ids, alert.status) == ((referral,), AlertStatus.BREACHED)


def test_child_not_seen_when_case_closes_and_reopens_then_history_and_a_new_period() -> None:
    # Given an episode closed on 20 June without the child seen, then reopened on 1 August
    log = Log()
    log.add("ReferralAccepted", "2013-05-16")
    closed = log.add("CaseClosed", "2013-06-20")
    reopened = log.add("CaseReopened", "2013-08-01")

    # Then the first episode's alert is resolved by the closure, keeping its breach
    first, second = log.alerts("2013-08-02", rules=RULES)
    assert (first.status, first.resolved_by) == (AlertStatus.RESOLVED, closed)
    assert first.breached_at == datetime(2013, 6, 14, 23, 0, tzinfo=UTC)
    # And the reopening starts a new period
    assert (second.event_ids, second.status) == ((reopened,), AlertStatus.PENDING)


def test_child_not_seen_when_child_unborn_then_clock_starts_at_birth() -> None:
    # Given a pre-birth referral on 16 May 2013
    log = Log(unborn=True, date_of_birth=None, expected_date_of_birth="2013-07-01", sex="U")
    log.add("ReferralAccepted", "2013-05-16")

    # Then nothing is due while the child is unborn
    assert log.alerts("2013-06-28", rules=RULES) == []

    # When the child is born on Monday 1 July
    birth = log.add("PersonDetailsChanged", "2013-07-01", unborn=False, date_of_birth="2013-07-01")

    # Then the child is due to be seen 20 working days after the birth
    [alert] = log.alerts("2013-07-02", rules=RULES)
    assert (alert.event_ids, alert.status) == ((birth,), AlertStatus.PENDING)
    assert alert.due_at == parse_bound("2013-07-29")


def test_child_not_seen_when_only_an_expected_date_of_birth_then_unborn_until_born() -> None:
    # Given a pre-birth referral for a child with an expected date of birth, not marked unborn
    log = Log(date_of_birth=None, expected_date_of_birth="2013-07-01", sex="U")
    log.add("ReferralAccepted", "2013-05-16")

    # Then the child is unborn: nothing is due
    assert log.alerts("2013-06-28", rules=RULES) == []

    # When the birth is recorded by its date of birth alone
    birth = log.add("PersonDetailsChanged", "2013-07-01", date_of_birth="2013-07-01")

    # Then the clock starts at the birth
    [alert] = log.alerts("2013-07-02", rules=RULES)
    assert (alert.event_ids, alert.status) == ((birth,), AlertStatus.PENDING)


def test_child_not_seen_when_local_timescale_is_10_working_days_then_due_sooner() -> None:
    # Given a local setting of 10 working days
    log = Log()
    log.add("ReferralAccepted", "2013-05-16")
    ten = {rule.WORKING_DAYS.key: 10}

    # Then the child is due to be seen by the end of Friday 31 May
    [alert] = log.alerts("2013-05-31", rules=RULES, timescales=ten)
    assert alert.due_at == parse_bound("2013-05-31")
    assert log.alerts("2013-06-01", rules=RULES, timescales=ten)[0].status is (AlertStatus.BREACHED)
    assert rule.WORKING_DAYS.setting == "CASETRAIL_RULE_CHILD_NOT_SEEN_WORKING_DAYS"


def test_child_not_seen_when_visit_recorded_late_then_open_on_what_was_known() -> None:
    # Given a visit on 12 June recorded only on 24 June
    log = Log()
    referral = log.add("ReferralAccepted", "2013-05-16")
    visit = log.add("VisitMade", "2013-06-12", "2013-06-24")

    # When judged on 17 June on what had been recorded by then
    [before] = log.alerts("2013-06-17", known_at="2013-06-17", rules=RULES)

    # Then it was breached; on what is known now the visit resolved it in time
    assert (before.event_ids, before.status) == ((referral,), AlertStatus.BREACHED)
    first, _ = log.alerts("2013-06-17", rules=RULES)
    assert (first.status, first.resolved_by, first.breached_at) == (
        AlertStatus.RESOLVED,
        visit,
        None,
    )
