"""`core-group-overdue`: the first core group within 10 working days (*local*) of an initial
conference that decided a child protection plan."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.moments import parse_bound
from domain.rules import AlertStatus, Severity
from domain.rules import core_group_overdue as rule
from tests.domain.rule_log import Log
from tests.support import payload

RULES = [rule.check]


def _meeting(meeting_kind: str) -> dict[str, object]:
    return payload("MeetingHeld") | {"kind": meeting_kind}


def _conference(conference_kind: str, decision: str) -> dict[str, object]:
    return payload("ConferenceHeld") | {"kind": conference_kind, "decision": decision}


def test_core_group_overdue_when_plan_decided_then_pending_until_the_10th_working_day() -> None:
    # Given an initial conference on Thursday 16 May 2013 that decided a plan
    log = Log()
    conference = log.add("ConferenceHeld", "2013-05-16")  # initial, cp_plan

    # When judged at 23:59 on Friday 31 May (10 working days on, past the 27 May bank holiday)
    [alert] = log.alerts("2013-05-31T23:59:00+01:00", rules=RULES)

    # Then it is pending, named by the conference, a warning, and says when it is due
    assert alert.rule == "core-group-overdue"
    assert alert.status is AlertStatus.PENDING
    assert alert.severity is Severity.WARNING
    assert alert.event_ids == (conference,)
    assert alert.due_at == parse_bound("2013-05-31")
    assert "initial conference on 16 May 2013 has no core group meeting" in alert.message
    assert "due by 31 May 2013" in alert.message

    # And from the start of Saturday 1 June it is breached
    [later] = log.alerts("2013-06-01T00:00:00+01:00", rules=RULES)
    assert later.status is AlertStatus.BREACHED
    assert later.breached_at == datetime(2013, 5, 31, 23, 0, tzinfo=UTC)


def test_core_group_overdue_when_no_plan_decided_then_no_alert() -> None:
    # Given an initial conference that decided no plan, and a review conference
    log = Log()
    log.add("ConferenceHeld", "2013-05-16", data=_conference("initial", "no_plan"))
    log.add("ConferenceHeld", "2013-08-16", data=_conference("review", "continue"))

    # Then no core group is due
    assert log.alerts("2013-09-01", rules=RULES) == []


def test_core_group_overdue_when_pre_birth_conference_decides_a_plan_then_due() -> None:
    # Given a pre-birth conference for an unborn child that decided a plan
    log = Log(unborn=True, date_of_birth=None, expected_date_of_birth="2013-08-01", sex="U")
    conference = log.add("ConferenceHeld", "2013-05-16", data=_conference("pre_birth", "cp_plan"))

    # Then a core group is due all the same: it is not about seeing the child
    [alert] = log.alerts("2013-06-03", rules=RULES)
    assert (alert.event_ids, alert.status) == ((conference,), AlertStatus.BREACHED)


def test_core_group_overdue_when_conference_before_christmas_then_due_after_bank_holidays() -> None:
    # Given a plan decided on Monday 16 December 2013 (25, 26 Dec and 1 Jan are holidays)
    log = Log()
    log.add("ConferenceHeld", "2013-12-16")

    # Then the core group is due by the end of Thursday 2 January 2014
    [alert] = log.alerts("2014-01-02", rules=RULES)
    assert alert.due_at == parse_bound("2014-01-02")
    assert alert.status is AlertStatus.PENDING
    assert log.alerts("2014-01-03", rules=RULES)[0].status is AlertStatus.BREACHED


def test_core_group_overdue_when_core_group_met_then_resolved_by_it() -> None:
    # Given a professionals meeting, then a core group, after the conference
    log = Log()
    log.add("ConferenceHeld", "2013-05-16")
    log.add("MeetingHeld", "2013-05-20", data=_meeting("professionals"))
    core_group = log.add("MeetingHeld", "2013-05-29")  # core_group

    # Then the professionals meeting left it open and the core group resolved it in time
    assert log.alerts("2013-05-24", rules=RULES)[0].status is AlertStatus.PENDING
    [alert] = log.alerts("2013-07-01", rules=RULES)
    assert (alert.status, alert.resolved_by, alert.breached_at) == (
        AlertStatus.RESOLVED,
        core_group,
        None,
    )


def test_core_group_overdue_when_plan_ends_before_a_core_group_then_resolved_by_the_end() -> None:
    # Given a plan that ended before any core group met
    log = Log()
    log.add("ConferenceHeld", "2013-05-16")
    ended = log.add("ChildProtectionPlanEnded", "2013-06-10")

    # Then the alert was breached, and is resolved by the plan's end
    [alert] = log.alerts("2013-07-01", rules=RULES)
    assert (alert.status, alert.resolved_by) == (AlertStatus.RESOLVED, ended)
    assert alert.breached_at == datetime(2013, 5, 31, 23, 0, tzinfo=UTC)


def test_core_group_overdue_when_an_older_plan_ends_then_the_new_plans_core_group_still_due() -> (
    None
):
    # Given plan CPP-7 (conference CP-3) still open when conference CP-9 decided plan CPP-8
    log = Log()
    log.add("ConferenceHeld", "2013-05-16")
    log.add("ChildProtectionPlanStarted", "2013-05-16")  # CPP-7, CP-3
    core_group = log.add("MeetingHeld", "2013-05-23")  # core_group
    new = log.add(
        "ConferenceHeld", "2014-05-15", data=payload("ConferenceHeld", conference_id="CP-9")
    )
    log.add(
        "ChildProtectionPlanStarted",
        "2014-05-15",
        data=payload("ChildProtectionPlanStarted", plan_id="CPP-8", conference_id="CP-9"),
    )
    # When CPP-7's end is recorded the next day, and no core group meets
    log.add("ChildProtectionPlanEnded", "2014-05-16")  # names CPP-7

    # Then the new plan's core group is still due, and breached after 10 working days
    first, second = log.alerts("2014-06-02", rules=RULES)
    assert (first.status, first.resolved_by) == (AlertStatus.RESOLVED, core_group)
    assert (second.event_ids, second.status) == ((new,), AlertStatus.BREACHED)


def test_core_group_overdue_when_local_timescale_is_5_working_days_then_due_sooner() -> None:
    # Given a local setting of 5 working days
    log = Log()
    log.add("ConferenceHeld", "2013-05-16")
    five = {rule.WORKING_DAYS.key: 5}

    # Then the core group is due by the end of Thursday 23 May
    [alert] = log.alerts("2013-05-23", rules=RULES, timescales=five)
    assert alert.due_at == parse_bound("2013-05-23")
    assert log.alerts("2013-05-24", rules=RULES, timescales=five)[0].status is (
        AlertStatus.BREACHED
    )
    assert rule.WORKING_DAYS.setting == "CASETRAIL_RULE_CORE_GROUP_OVERDUE_WORKING_DAYS"


def test_core_group_overdue_when_core_group_recorded_late_then_open_on_what_was_known() -> None:
    # Given a core group held on 29 May but recorded only on 10 June
    log = Log()
    log.add("ConferenceHeld", "2013-05-16")
    core_group = log.add("MeetingHeld", "2013-05-29", "2013-06-10")

    # When judged on 3 June on what had been recorded by then
    [before] = log.alerts("2013-06-03", known_at="2013-06-03", rules=RULES)

    # Then it was breached; on what is known now it was resolved in time
    assert before.status is AlertStatus.BREACHED
    [now] = log.alerts("2013-06-03", rules=RULES)
    assert (now.status, now.resolved_by) == (AlertStatus.RESOLVED, core_group)
