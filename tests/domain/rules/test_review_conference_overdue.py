"""`review-conference-overdue`: the first review conference within 3 months of the initial
conference, later ones within 6 months of the previous review (Working Together 2023)."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.moments import parse_bound
from domain.rules import AlertStatus, Severity
from domain.rules import review_conference_overdue as rule
from tests.domain.rule_log import Log
from tests.support import payload

RULES = [rule.check]


def _conference(conference_kind: str, decision: str) -> dict[str, object]:
    return payload("ConferenceHeld") | {"kind": conference_kind, "decision": decision}


REVIEW = _conference("review", "continue")


def test_review_conference_overdue_when_plan_decided_then_pending_for_3_months() -> None:
    # Given an initial conference on 16 May 2013 that decided a plan
    log = Log()
    initial = log.add("ConferenceHeld", "2013-05-16")  # initial, cp_plan

    # When judged at 23:59 on 16 August 2013
    [alert] = log.alerts("2013-08-16T23:59:00+01:00", rules=RULES)

    # Then the first review is pending, named by the initial conference, and critical
    assert alert.rule == "review-conference-overdue"
    assert alert.status is AlertStatus.PENDING
    assert alert.severity is Severity.CRITICAL
    assert alert.event_ids == (initial,)
    assert alert.due_at == parse_bound("2013-08-16")
    assert "since the initial conference on 16 May 2013: due by 16 August 2013" in alert.message

    # And from the start of 17 August it is breached
    [later] = log.alerts("2013-08-17T00:00:00+01:00", rules=RULES)
    assert later.status is AlertStatus.BREACHED
    assert later.breached_at == datetime(2013, 8, 16, 23, 0, tzinfo=UTC)


def test_review_conference_overdue_when_no_plan_decided_then_no_alert() -> None:
    log = Log()
    log.add("ConferenceHeld", "2013-05-16", data=_conference("initial", "no_plan"))
    assert log.alerts("2013-12-01", rules=RULES) == []


def test_review_conference_overdue_when_reviewed_then_next_review_due_in_6_months() -> None:
    # Given a plan decided on 16 May 2013 and reviewed on 12 August 2013
    log = Log()
    initial = log.add("ConferenceHeld", "2013-05-16")
    review = log.add("ConferenceHeld", "2013-08-12", data=REVIEW)

    # When judged on 1 March 2014
    first, second = log.alerts("2014-03-01", rules=RULES)

    # Then the first review resolved the initial conference's alert in time
    assert (first.event_ids, first.status, first.resolved_by) == (
        (initial,),
        AlertStatus.RESOLVED,
        review,
    )
    assert first.breached_at is None
    # And the next review was due 6 months after it, by 12 February 2014, and is breached
    assert second.event_ids == (review,)
    assert second.due_at == parse_bound("2014-02-12")
    assert second.status is AlertStatus.BREACHED
    assert "since the last review conference on 12 August 2013" in second.message


def test_review_conference_overdue_when_initial_on_30_november_then_due_28_february() -> None:
    # Given a plan decided on 30 November 2013: 3 calendar months on has no 30th
    log = Log()
    log.add("ConferenceHeld", "2013-11-30")

    # Then the review is due by the end of 28 February 2014
    [alert] = log.alerts("2014-02-28", rules=RULES)
    assert alert.due_at == parse_bound("2014-02-28")
    assert alert.status is AlertStatus.PENDING


def test_review_conference_overdue_when_due_on_boxing_day_then_bank_holiday_not_skipped() -> None:
    # Given a plan decided on 26 September 2013: calendar months ignore bank holidays
    log = Log()
    log.add("ConferenceHeld", "2013-09-26")

    # Then the review is due by the end of Thursday 26 December 2013, a bank holiday
    [alert] = log.alerts("2013-12-26", rules=RULES)
    assert alert.due_at == parse_bound("2013-12-26")
    assert log.alerts("2013-12-27", rules=RULES)[0].status is AlertStatus.BREACHED


def test_review_conference_overdue_when_review_ends_the_plan_then_no_further_review_due() -> None:
    # Given a review on 12 August 2013 that decided the plan should end
    log = Log()
    log.add("ConferenceHeld", "2013-05-16")
    log.add("ConferenceHeld", "2013-08-12", data=_conference("review", "end_plan"))

    # Then, a year on, only the resolved first alert is there
    [alert] = log.alerts("2014-08-12", rules=RULES)
    assert alert.status is AlertStatus.RESOLVED


def test_review_conference_overdue_when_plan_ends_then_resolved_by_the_end() -> None:
    # Given a plan reviewed once, then ended
    log = Log()
    log.add("ConferenceHeld", "2013-05-16")
    review = log.add("ConferenceHeld", "2013-08-12", data=REVIEW)
    ended = log.add("ChildProtectionPlanEnded", "2013-11-01")

    # Then the period after the review is resolved by the plan's end
    _, alert = log.alerts("2014-08-12", rules=RULES)
    assert (alert.event_ids, alert.status, alert.resolved_by) == (
        (review,),
        AlertStatus.RESOLVED,
        ended,
    )


def test_review_conference_overdue_when_an_older_plan_ends_then_the_new_plans_reviews_go_on() -> (
    None
):
    # Given plan CPP-7 (conference CP-3) still open when conference CP-9 decided plan CPP-8,
    # and CPP-7's end recorded a week later
    log = Log()
    log.add("ConferenceHeld", "2013-05-16")
    log.add("ChildProtectionPlanStarted", "2013-05-16")  # CPP-7, CP-3
    new = log.add(
        "ConferenceHeld", "2014-05-15", data=payload("ConferenceHeld", conference_id="CP-9")
    )
    log.add(
        "ChildProtectionPlanStarted",
        "2014-05-15",
        data=payload("ChildProtectionPlanStarted", plan_id="CPP-8", conference_id="CP-9"),
    )
    log.add("ChildProtectionPlanEnded", "2014-05-22")  # names CPP-7

    # When judged after the new plan's first review was due
    *_, alert = log.alerts("2014-09-01", rules=RULES)

    # Then the end of the old plan did not end the new one's reviews: its first is overdue
    assert (alert.event_ids, alert.status) == ((new,), AlertStatus.BREACHED)
    assert alert.due_at == parse_bound("2014-08-15")

    # And the end of the new plan ends them
    ended = log.add(
        "ChildProtectionPlanEnded",
        "2014-06-20",
        data=payload("ChildProtectionPlanEnded", plan_id="CPP-8"),
    )
    *_, alert = log.alerts("2014-09-01", rules=RULES)
    assert (alert.event_ids, alert.status, alert.resolved_by) == (
        (new,),
        AlertStatus.RESOLVED,
        ended,
    )


def test_review_conference_overdue_when_a_new_plan_is_decided_then_old_reviews_stop() -> None:
    # Given a plan ended without its end recorded, then a new plan decided a year later
    log = Log()
    old = log.add("ConferenceHeld", "2013-05-16")
    new = log.add("ConferenceHeld", "2014-05-15")

    # Then the old plan's review alert is resolved by the new initial conference
    old_alert, new_alert = log.alerts("2014-06-01", rules=RULES)
    assert (old_alert.event_ids, old_alert.resolved_by) == ((old,), new)
    assert (new_alert.event_ids, new_alert.status) == ((new,), AlertStatus.PENDING)


def test_review_conference_overdue_when_review_recorded_late_then_open_on_what_was_known() -> None:
    # Given a review held on 12 August 2013 but recorded only on 2 September
    log = Log()
    initial = log.add("ConferenceHeld", "2013-05-16")
    review = log.add("ConferenceHeld", "2013-08-12", "2013-09-02", data=REVIEW)

    # When judged on 20 August on what had been recorded by then
    [before] = log.alerts("2013-08-20", known_at="2013-08-20", rules=RULES)

    # Then it was breached; on what is known now it was resolved in time
    assert (before.event_ids, before.status) == ((initial,), AlertStatus.BREACHED)
    first, _ = log.alerts("2013-08-20", rules=RULES)
    assert (first.status, first.resolved_by, first.breached_at) == (
        AlertStatus.RESOLVED,
        review,
        None,
    )
