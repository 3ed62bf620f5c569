"""`cp-visit-overdue`: while a child protection plan is open, the child seen on a visit by
children's social care at least every 10 working days (*local*)."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.moments import parse_bound
from domain.rules import AlertStatus, Severity
from domain.rules import cp_visit_overdue as rule
from tests.domain.rule_log import Log

RULES = [rule.check]


def test_cp_visit_overdue_when_plan_starts_then_pending_until_the_10th_working_day() -> None:
    # Given a child protection plan started on Thursday 16 May 2013
    log = Log()
    plan = log.add("ChildProtectionPlanStarted", "2013-05-16")

    # When judged at 23:59 on Friday 31 May (10 working days on, past the 27 May bank holiday)
    [alert] = log.alerts("2013-05-31T23:59:00+01:00", rules=RULES)

    # Then a visit is pending, named by the plan's start, and critical
    assert alert.rule == "cp-visit-overdue"
    assert alert.status is AlertStatus.PENDING
    assert alert.severity is Severity.CRITICAL
    assert alert.event_ids == (plan,)
    assert alert.due_at == parse_bound("2013-05-31")
    assert "since the plan started on 16 May 2013: due by 31 May 2013" in alert.message

    # And from the start of Saturday 1 June it is breached
    [later] = log.alerts("2013-06-01T00:00:00+01:00", rules=RULES)
    assert later.status is AlertStatus.BREACHED
    assert later.breached_at == datetime(2013, 5, 31, 23, 0, tzinfo=UTC)


def test_cp_visit_overdue_when_no_plan_then_no_alert() -> None:
    log = Log()
    log.add("ReferralAccepted", "2013-05-16")
    assert log.alerts("2013-07-01", rules=RULES) == []


def test_cp_visit_overdue_when_plan_starts_before_christmas_then_due_after_holidays() -> None:
    # Given a plan started on Monday 16 December 2013 (25, 26 Dec and 1 Jan are holidays)
    log = Log()
    log.add("ChildProtectionPlanStarted", "2013-12-16")

    # Then the first visit is due by the end of Thursday 2 January 2014
    [alert] = log.alerts("2014-01-02", rules=RULES)
    assert alert.due_at == parse_bound("2014-01-02")
    assert alert.status is AlertStatus.PENDING
    assert log.alerts("2014-01-03", rules=RULES)[0].status is AlertStatus.BREACHED


def test_cp_visit_overdue_when_child_seen_then_resolved_and_next_visit_due() -> None:
    # Given a plan started 16 May and a social care visit seeing the child on Friday 24 May
    log = Log()
    plan = log.add("ChildProtectionPlanStarted", "2013-05-16")
    visit = log.add("VisitMade", "2013-05-24")  # child seen

    # When judged on 11 June
    first, second = log.alerts("2013-06-11", rules=RULES)

    # Then the visit resolved the plan's alert in time
    assert (first.event_ids, first.status, first.resolved_by) == (
        (plan,),
        AlertStatus.RESOLVED,
        visit,
    )
    assert first.breached_at is None
    # And started the next period, due 10 working days after it (Monday 10 June), now breached
    assert second.event_ids == (visit,)
    assert second.due_at == parse_bound("2013-06-10")
    assert second.status is AlertStatus.BREACHED
    assert "since the home visit on 24 May 2013" in second.message


def test_cp_visit_overdue_when_child_not_seen_or_visit_by_another_agency_then_still_open() -> None:
    # Given a social care visit where the child was not seen, and a health visit seeing them
    log = Log()
    plan = log.add("ChildProtectionPlanStarted", "2013-05-16")
    log.add(
        "VisitMade",
        "2013-05-20",
        child_seen=False,
        seen_alone=False,
        reason_not_seen="Child at nursery",
    )
    log.add("VisitMade", "2013-05-22", agency="health:barsetshire-community")

    # Then neither counts: the plan's alert is breached after 31 May
    [alert] = log.alerts("2013-06-03", rules=RULES)
    assert (alert.event_ids, alert.status) == ((plan,), AlertStatus.BREACHED)


def test_cp_visit_overdue_when_plan_ends_then_last_period_resolved_by_the_end() -> None:
    # Given a plan visited once, then ended
    log = Log()
    log.add("ChildProtectionPlanStarted", "2013-05-16")
    log.add("VisitMade", "2013-05-24")
    ended = log.add("ChildProtectionPlanEnded", "2013-06-05")

    # Then every alert is resolved, the last by the plan's end, and none follows
    alerts = log.alerts("2013-09-01", rules=RULES)
    assert [a.status for a in alerts] == [AlertStatus.RESOLVED, AlertStatus.RESOLVED]
    assert alerts[-1].resolved_by == ended


def test_cp_visit_overdue_when_child_unborn_then_clock_starts_at_birth() -> None:
    # Given a plan for an unborn child, started 16 May 2013
    log = Log(unborn=True, date_of_birth=None, expected_date_of_birth="2013-07-01", sex="U")
    log.add("ChildProtectionPlanStarted", "2013-05-16")

    # Then no visit is due while the child is unborn
    assert log.alerts("2013-06-28", rules=RULES) == []

    # When the child is born on Monday 1 July
    birth = log.add("PersonDetailsChanged", "2013-07-01", unborn=False, date_of_birth="2013-07-01")

    # Then the first visit is due 10 working days after the birth
    [alert] = log.alerts("2013-07-02", rules=RULES)
    assert (alert.event_ids, alert.status) == ((birth,), AlertStatus.PENDING)
    assert alert.due_at == parse_bound("2013-07-15")
    assert "since the child's birth on 1 July 2013" in alert.message


def test_cp_visit_overdue_when_local_timescale_is_5_working_days_then_due_sooner() -> None:
    # Given a local setting of 5 working days
    log = Log()
    log.add("ChildProtectionPlanStarted", "2013-05-16")
    five = {rule.WORKING_DAYS.key: 5}

    # Then the visit is due by the end of Thursday 23 May
    [alert] = log.alerts("2013-05-23", rules=RULES, timescales=five)
    assert alert.due_at == parse_bound("2013-05-23")
    assert log.alerts("2013-05-24", rules=RULES, timescales=five)[0].status is (
        AlertStatus.BREACHED
    )
    assert rule.WORKING_DAYS.setting == "CASETRAIL_RULE_CP_VISIT_OVERDUE_WORKING_DAYS"


def test_cp_visit_overdue_when_visit_recorded_late_then_open_on_what_was_known() -> None:
    # Given a visit on 30 May recorded only on 10 June
    log = Log()
    plan = log.add("ChildProtectionPlanStarted", "2013-05-16")
    visit = log.add("VisitMade", "2013-05-30", "2013-06-10")

    # When judged on 3 June on what had been recorded by then
    [before] = log.alerts("2013-06-03", known_at="2013-06-03", rules=RULES)

    # Then the plan's alert was breached; on what is known now the visit resolved it in time
    assert (before.event_ids, before.status) == ((plan,), AlertStatus.BREACHED)
    first, second = log.alerts("2013-06-03", rules=RULES)
    assert (first.status, first.resolved_by) == (AlertStatus.RESOLVED, visit)
    assert (second.event_ids, second.status) == ((visit,), AlertStatus.PENDING)
