"""`cin-review-overdue`: while a child in need plan is open, a review at least every 12 weeks
(*local*)."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.moments import parse_bound
from domain.rules import AlertStatus, Severity
from domain.rules import cin_review_overdue as rule
from tests.domain.rule_log import Log
from tests.support import payload

RULES = [rule.check]


def _meeting(meeting_kind: str) -> dict[str, object]:
    return payload("MeetingHeld") | {"kind": meeting_kind}


CIN_REVIEW = _meeting("cin_review")


def test_cin_review_overdue_when_plan_starts_then_pending_for_12_weeks() -> None:
    # Given a child in need plan started on Thursday 16 May 2013
    log = Log()
    plan = log.add("ChildInNeedPlanStarted", "2013-05-16")

    # When judged at 23:59 on Thursday 8 August (12 weeks on)
    [alert] = log.alerts("2013-08-08T23:59:00+01:00", rules=RULES)

    # Then a review is pending, named by the plan's start, a warning
    assert alert.rule == "cin-review-overdue"
    assert alert.status is AlertStatus.PENDING
    assert alert.severity is Severity.WARNING
    assert alert.event_ids == (plan,)
    assert alert.due_at == parse_bound("2013-08-08")
    assert alert.message == (
        "No child in need review since the plan started on 16 May 2013: due by 8 August 2013"
    )

    # And from the start of Friday 9 August it is breached
    [later] = log.alerts("2013-08-09T00:00:00+01:00", rules=RULES)
    assert later.status is AlertStatus.BREACHED
    assert later.breached_at == datetime(2013, 8, 8, 23, 0, tzinfo=UTC)


def test_cin_review_overdue_when_due_on_boxing_day_then_weeks_ignore_bank_holidays() -> None:
    # Given a plan started on Thursday 3 October 2013: 12 weeks on is 26 December, a bank holiday
    log = Log()
    log.add("ChildInNeedPlanStarted", "2013-10-03")

    # Then the review is still due by the end of that day
    [alert] = log.alerts("2013-12-26", rules=RULES)
    assert alert.due_at == parse_bound("2013-12-26")
    assert alert.status is AlertStatus.PENDING
    assert log.alerts("2013-12-27", rules=RULES)[0].status is AlertStatus.BREACHED


def test_cin_review_overdue_when_reviewed_then_resolved_and_next_review_due() -> None:
    # Given a core group (not a review) on 1 July, then a review on 1 August
    log = Log()
    plan = log.add("ChildInNeedPlanStarted", "2013-05-16")
    log.add("MeetingHeld", "2013-07-01", data=_meeting("core_group"))
    review = log.add("MeetingHeld", "2013-08-01", data=CIN_REVIEW)

    # When judged on 1 September
    first, second = log.alerts("2013-09-01", rules=RULES)

    # Then the review resolved the plan's alert, and the next is due 12 weeks after it
    assert (first.event_ids, first.status, first.resolved_by) == (
        (plan,),
        AlertStatus.RESOLVED,
        review,
    )
    assert (second.event_ids, second.status) == ((review,), AlertStatus.PENDING)
    assert second.due_at == parse_bound("2013-10-24")
    assert "since the last review on 1 August 2013" in second.message


def test_cin_review_overdue_when_plan_ends_then_resolved_by_the_end() -> None:
    # Given a plan that ended after its review fell due
    log = Log()
    log.add("ChildInNeedPlanStarted", "2013-05-16")
    ended = log.add("ChildInNeedPlanEnded", "2013-08-20")

    # Then the alert is resolved by the end, keeping its breach, and no other follows
    [alert] = log.alerts("2014-01-01", rules=RULES)
    assert (alert.status, alert.resolved_by) == (AlertStatus.RESOLVED, ended)
    assert alert.breached_at == datetime(2013, 8, 8, 23, 0, tzinfo=UTC)


def test_cin_review_overdue_when_new_plan_starts_before_old_one_ends_then_reviews_still_due() -> (
    None
):
    # Given plan CIN-4, reviewed on 1 July 2013; on 1 August plan CIN-5 recorded as started and
    # then CIN-4 as ended
    log = Log()
    log.add("ChildInNeedPlanStarted", "2013-05-16", plan_id="CIN-4")
    review = log.add("MeetingHeld", "2013-07-01", data=CIN_REVIEW)
    log.add("ChildInNeedPlanStarted", "2013-08-01", plan_id="CIN-5")
    log.add("ChildInNeedPlanEnded", "2013-08-01", plan_id="CIN-4")

    # When judged on 1 October
    alerts = log.alerts("2013-10-01", rules=RULES)

    # Then the next review is still due 12 weeks after the last one, on the open plan
    assert (alerts[-1].event_ids, alerts[-1].status) == ((review,), AlertStatus.BREACHED)
    assert alerts[-1].due_at == parse_bound("2013-09-23")


def test_cin_review_overdue_when_local_timescale_is_6_weeks_then_due_sooner() -> None:
    # Given a local setting of 6 weeks
    log = Log()
    log.add("ChildInNeedPlanStarted", "2013-05-16")
    six = {rule.WEEKS.key: 6}

    # Then the review is due by the end of Thursday 27 June
    [alert] = log.alerts("2013-06-27", rules=RULES, timescales=six)
    assert alert.due_at == parse_bound("2013-06-27")
    assert log.alerts("2013-06-28", rules=RULES, timescales=six)[0].status is (AlertStatus.BREACHED)
    assert rule.WEEKS.setting == "CASETRAIL_RULE_CIN_REVIEW_OVERDUE_WEEKS"


def test_cin_review_overdue_when_review_recorded_late_then_open_on_what_was_known() -> None:
    # Given a review on 5 August recorded only on 20 August
    log = Log()
    plan = log.add("ChildInNeedPlanStarted", "2013-05-16")
    review = log.add("MeetingHeld", "2013-08-05", "2013-08-20", data=CIN_REVIEW)

    # When judged on 12 August on what had been recorded by then
    [before] = log.alerts("2013-08-12", known_at="2013-08-12", rules=RULES)

    # Then it was breached; on what is known now the review resolved it in time
    assert (before.event_ids, before.status) == ((plan,), AlertStatus.BREACHED)
    first, _ = log.alerts("2013-08-12", rules=RULES)
    assert (first.status, first.resolved_by, first.breached_at) == (
        AlertStatus.RESOLVED,
        review,
        None,
    )
