"""`lac-visit-overdue`: a looked-after child seen on a visit by children's social care within 1
week of a placement starting, then at least every 6 weeks (after a placement's first year: a
local setting) (reg 28)."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.moments import parse_bound
from domain.rules import AlertStatus, Severity
from domain.rules import lac_visit_overdue as rule
from tests.domain.rule_log import Log

RULES = [rule.check]


def test_lac_visit_overdue_when_no_visit_then_pending_until_a_week_after_the_placement() -> None:
    # Given a child placed in foster care on Thursday 16 May 2013
    log = Log()
    care = log.add("PeriodOfCareStarted", "2013-05-16")

    # When judged at 23:59 on Thursday 23 May
    [alert] = log.alerts("2013-05-23T23:59:00+01:00", rules=RULES)

    # Then it is pending, critical, named by the placement's start
    assert alert.rule == "lac-visit-overdue"
    assert alert.status is AlertStatus.PENDING
    assert alert.severity is Severity.CRITICAL
    assert alert.event_ids == (care,)
    assert alert.due_at == parse_bound("2013-05-23")
    assert alert.message == (
        "Looked-after child not seen on a visit by children's social care since the placement "
        "started on 16 May 2013: due by 23 May 2013"
    )

    # And from the start of Friday 24 May it is breached
    [later] = log.alerts("2013-05-24T00:00:00+01:00", rules=RULES)
    assert later.status is AlertStatus.BREACHED
    assert later.breached_at == datetime(2013, 5, 23, 23, 0, tzinfo=UTC)


def test_lac_visit_overdue_when_visited_then_resolved_and_next_due_six_weeks_on() -> None:
    # Given a placement on 16 May 2013; a school visit, a visit not seeing the child, then a
    # social worker's visit seeing the child on 20 May
    log = Log()
    care = log.add("PeriodOfCareStarted", "2013-05-16")
    log.add("VisitMade", "2013-05-17", agency="school:st-marys-primary")
    log.add("VisitMade", "2013-05-18", child_seen=False, seen_alone=False)
    visit = log.add("VisitMade", "2013-05-20")

    # Then the first week is resolved by that visit, and the next visit is due by 1 July
    first, second = log.alerts("2013-05-21", rules=RULES)
    assert (first.event_ids, first.status, first.resolved_by) == (
        (care,),
        AlertStatus.RESOLVED,
        visit,
    )
    assert (second.event_ids, second.status) == ((visit,), AlertStatus.PENDING)
    assert second.due_at == parse_bound("2013-07-01")
    assert "since the visit on 20 May 2013" in second.message


def test_lac_visit_overdue_when_placement_changes_then_a_new_week_starts() -> None:
    # Given a visit on 20 May 2013, then a move to a new placement on 3 June
    log = Log()
    log.add("PeriodOfCareStarted", "2013-05-16")
    visit = log.add("VisitMade", "2013-05-20")
    moved = log.add("PlacementChanged", "2013-06-03")

    # Then the move ends the 6 weeks from the visit, and a visit is due within a week of it
    alerts = {a.event_ids[0]: a for a in log.alerts("2013-06-04", rules=RULES)}
    assert alerts[visit].resolved_by == moved
    assert (alerts[moved].status, alerts[moved].due_at) == (
        AlertStatus.PENDING,
        parse_bound("2013-06-10"),
    )


def test_lac_visit_overdue_when_period_of_care_ends_then_resolved_by_the_end() -> None:
    log = Log()
    log.add("PeriodOfCareStarted", "2013-05-16")
    ended = log.add("PeriodOfCareEnded", "2013-05-20")
    [alert] = log.alerts("2013-07-01", rules=RULES)
    assert (alert.status, alert.resolved_by) == (AlertStatus.RESOLVED, ended)


def test_lac_visit_overdue_when_placement_past_its_first_year_then_counts_with_the_setting() -> (
    None
):
    # Given a placement from 16 May 2013 and a visit on 20 May 2014, in its second year
    log = Log()
    log.add("PeriodOfCareStarted", "2013-05-16")
    visit = log.add("VisitMade", "2014-05-20")

    # Then the next visit is due 6 weeks on by default, 13 weeks with the setting
    [*_, default] = log.alerts("2014-05-21", rules=RULES)
    assert (default.event_ids, default.due_at) == ((visit,), parse_bound("2014-07-01"))
    setting = {rule.AFTER_FIRST_YEAR_WEEKS.key: 13}
    [*_, local] = log.alerts("2014-05-21", rules=RULES, timescales=setting)
    assert local.due_at == parse_bound("2014-08-19")
    assert rule.AFTER_FIRST_YEAR_WEEKS.setting == (
        "CASETRAIL_RULE_LAC_VISIT_OVERDUE_AFTER_FIRST_YEAR_WEEKS"
    )


def test_lac_visit_overdue_when_visit_in_the_first_year_then_the_setting_does_not_apply() -> None:
    log = Log()
    log.add("PeriodOfCareStarted", "2013-05-16")
    log.add("VisitMade", "2014-05-15")
    setting = {rule.AFTER_FIRST_YEAR_WEEKS.key: 13}
    [*_, alert] = log.alerts("2014-05-16", rules=RULES, timescales=setting)
    assert alert.due_at == parse_bound("2014-06-26")


def test_lac_visit_overdue_when_week_spans_christmas_then_bank_holidays_do_not_move_it() -> None:
    # Given a placement on Wednesday 18 December 2013: a week is 7 calendar days
    log = Log()
    log.add("PeriodOfCareStarted", "2013-12-18")

    # Then the visit falls due at the end of Christmas Day
    [alert] = log.alerts("2013-12-25", rules=RULES)
    assert (alert.status, alert.due_at) == (AlertStatus.PENDING, parse_bound("2013-12-25"))
    assert log.alerts("2013-12-26", rules=RULES)[0].status is AlertStatus.BREACHED


def test_lac_visit_overdue_when_child_unborn_then_no_alert_until_birth() -> None:
    # Given (as recorded) a period of care starting before the birth on 10 June 2013
    log = Log(unborn=True, date_of_birth=None, expected_date_of_birth="2013-06-10", sex="U")
    log.add("PeriodOfCareStarted", "2013-05-16")
    birth = log.add("PersonDetailsChanged", "2013-06-10", unborn=False, date_of_birth="2013-06-10")

    # Then nothing is flagged while unborn, and from the birth a visit is due within a week
    assert log.alerts("2013-06-09", rules=RULES) == []
    [alert] = log.alerts("2013-06-11", rules=RULES)
    assert (alert.event_ids, alert.due_at) == ((birth,), parse_bound("2013-06-17"))
    assert "since the child's birth on 10 June 2013" in alert.message


def test_lac_visit_overdue_when_visit_recorded_late_then_open_before_it_was_known() -> None:
    # Given a visit on 20 May 2013 recorded on 30 May
    log = Log()
    log.add("PeriodOfCareStarted", "2013-05-16", "2013-05-16T10:00:00Z")
    log.add("VisitMade", "2013-05-20", "2013-05-30T10:00:00Z")

    # Then on 27 May, on what was recorded by then, the visit was overdue
    [before] = log.alerts("2013-05-27", known_at="2013-05-27", rules=RULES)
    assert before.status is AlertStatus.BREACHED
    assert log.alerts("2013-05-27", rules=RULES)[0].status is AlertStatus.RESOLVED
