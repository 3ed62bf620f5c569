"""`plan-conflict` ◦: a child in need plan and a child protection plan open at once, or two
plans of one kind; shown until a manager acknowledges it."""

from __future__ import annotations

from domain.rules import AlertStatus, Severity
from domain.rules import plan_conflict as rule
from tests.domain.rule_log import Log

RULES = [rule.check]


def test_plan_conflict_when_cp_plan_starts_while_cin_plan_open_then_warning() -> None:
    # Given a child in need plan from 3 June 2013 and a child protection plan from 1 August
    log = Log()
    cin = log.add("ChildInNeedPlanStarted", "2013-06-03", plan_id="CIN-1")
    cp = log.add("ChildProtectionPlanStarted", "2013-08-01", plan_id="CPP-1")

    # When judged after the second start
    [alert] = log.alerts("2013-08-02", rules=RULES)

    # Then it is flagged from the later start, naming both, with no deadline
    assert alert.rule == "plan-conflict"
    assert alert.status is AlertStatus.BREACHED
    assert alert.severity is Severity.WARNING
    assert alert.event_ids == (cp, cin)
    assert alert.due_at is None
    assert alert.breached_at == log.events[-1].occurred.instant
    assert alert.message == (
        "A child protection plan started on 1 August 2013 while a child in need plan started "
        "on 3 June 2013 was still open"
    )

    # And before it there is nothing to flag
    assert log.alerts("2013-07-31", rules=RULES) == []


def test_plan_conflict_when_second_plan_of_one_kind_then_flagged() -> None:
    # Given two child in need plans started with no end between them
    log = Log()
    first = log.add("ChildInNeedPlanStarted", "2013-06-03", plan_id="CIN-1")
    second = log.add("ChildInNeedPlanStarted", "2013-09-02", plan_id="CIN-2")

    # Then the second is flagged
    [alert] = log.alerts("2013-09-30", rules=RULES)
    assert alert.event_ids == (second, first)
    assert "while another child in need plan started on 3 June 2013" in alert.message


def test_plan_conflict_when_one_plan_recorded_twice_then_no_alert() -> None:
    # Given the same child protection plan started twice (one plan_id), as the state holds it
    log = Log()
    log.add("ChildProtectionPlanStarted", "2013-06-03", plan_id="CPP-1")
    log.add("ChildProtectionPlanStarted", "2013-06-03", plan_id="CPP-1")

    # Then the second start takes the first's place: nothing is flagged
    assert log.alerts("2013-06-10", rules=RULES) == []


def test_plan_conflict_when_plan_started_again_then_it_ends_once() -> None:
    # Given a child protection plan recorded twice, ended once, then a child in need plan
    log = Log()
    log.add("ChildProtectionPlanStarted", "2013-06-03", plan_id="CPP-1")
    log.add("ChildProtectionPlanStarted", "2013-06-05", plan_id="CPP-1")
    log.add("ChildProtectionPlanEnded", "2013-09-02", plan_id="CPP-1")
    log.add("ChildInNeedPlanStarted", "2013-09-03", plan_id="CIN-1")

    # Then the end closed the plan: the child in need plan clashes with nothing
    assert log.alerts("2013-09-30", rules=RULES) == []


def test_plan_conflict_when_plan_ended_before_the_next_then_no_alert() -> None:
    # Given a child protection plan ended on 2 September and a child in need plan from 3 September
    log = Log()
    log.add("ChildProtectionPlanStarted", "2013-06-03", plan_id="CPP-1")
    log.add("ChildProtectionPlanEnded", "2013-09-02", plan_id="CPP-1")
    log.add("ChildInNeedPlanStarted", "2013-09-03", plan_id="CIN-1")

    # Then nothing is flagged
    assert log.alerts("2013-09-30", rules=RULES) == []


def test_plan_conflict_when_step_down_recorded_start_first_on_the_same_day_then_no_alert() -> None:
    # Given a step down on 2 September: the child in need plan recorded before the end of the
    # child protection plan, both dated that day
    log = Log()
    log.add("ChildProtectionPlanStarted", "2013-06-03", plan_id="CPP-1")
    log.add("ChildInNeedPlanStarted", "2013-09-02", plan_id="CIN-1")
    log.add("ChildProtectionPlanEnded", "2013-09-02", plan_id="CPP-1")

    # Then it is a handover, not a conflict
    assert log.alerts("2013-09-30", rules=RULES) == []


def test_plan_conflict_when_end_names_an_unknown_plan_then_it_ends_the_open_plan_of_its_kind() -> (
    None
):
    # Given a child in need plan whose end was recorded with a mistyped plan id
    log = Log()
    log.add("ChildInNeedPlanStarted", "2013-06-03", plan_id="CIN-1")
    log.add("ChildInNeedPlanEnded", "2013-08-30", plan_id="CIN-l")
    log.add("ChildProtectionPlanStarted", "2013-09-02", plan_id="CPP-1")

    # Then the plans did not overlap
    assert log.alerts("2013-09-30", rules=RULES) == []


def test_plan_conflict_when_acknowledged_then_resolved_only_by_the_acknowledgement() -> None:
    # Given overlapping plans, the older one later ended, and an acknowledgement recorded late
    log = Log()
    log.add("ChildInNeedPlanStarted", "2013-06-03", plan_id="CIN-1")
    cp = log.add("ChildProtectionPlanStarted", "2013-08-01", plan_id="CPP-1")
    log.add("ChildInNeedPlanEnded", "2013-08-05", plan_id="CIN-1")
    ack = log.add(
        "AlertAcknowledged",
        "2013-08-06",
        "2013-08-09T09:00:00Z",
        rule="plan-conflict",
        event_ids=[cp],
    )

    # When judged on what was recorded before the acknowledgement, then it is still open
    [before] = log.alerts("2013-08-07", known_at="2013-08-07", rules=RULES)
    assert before.status is AlertStatus.BREACHED

    # And the acknowledgement resolves it, visibly
    [after] = log.alerts("2013-08-31", rules=RULES)
    assert (after.status, after.resolved_by) == (AlertStatus.RESOLVED, ack)
