"""The alert rules' shared lifecycle (pending, breached, resolved, acknowledged), shown with
`decision-overdue`: a contact with no decision by the end of the next working day."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.moments import parse_bound
from domain.rules import AlertStatus, evaluate
from tests.domain.rule_log import CASE_ID, Log


def test_decision_overdue_when_no_decision_then_pending_until_next_working_day_ends() -> None:
    # Given a contact on Friday 17 May 2013
    log = Log()
    contact = log.add("ContactReceived", "2013-05-17T10:00:00+01:00", "2013-05-17T10:00:00Z")

    # When judged on the Monday (the 1st working day after it)
    [alert] = log.alerts("2013-05-20")

    # Then it is pending, due at the end of Monday, and says so in words
    assert alert.rule == "decision-overdue"
    assert alert.status is AlertStatus.PENDING
    assert alert.event_ids == (contact,)
    assert alert.alert_id == f"decision-overdue:{contact}"
    assert alert.due_at == parse_bound("2013-05-20")
    assert alert.breached_at is None
    assert "on 17 May 2013 has no recorded decision: due by 20 May 2013" in alert.message

    # And on Tuesday it is breached, from the start of that day
    [later] = log.alerts("2013-05-21T00:00:00+01:00")
    assert later.status is AlertStatus.BREACHED
    assert later.breached_at == datetime(2013, 5, 20, 23, 0, tzinfo=UTC)


def test_decision_overdue_when_contact_on_christmas_eve_then_due_after_the_bank_holidays() -> None:
    # Given a contact on Tuesday 24 December 2013 (25 and 26 December are bank holidays)
    log = Log()
    log.add("ContactReceived", "2013-12-24", "2013-12-24T10:00:00Z")

    # Then it falls due at the end of Friday 27 December
    [alert] = log.alerts("2013-12-27")
    assert alert.due_at == parse_bound("2013-12-27")
    assert alert.status is AlertStatus.PENDING
    assert log.alerts("2013-12-28")[0].status is AlertStatus.BREACHED


def test_decision_overdue_when_decision_recorded_then_resolved_by_it() -> None:
    # Given a contact decided two working days later (late)
    log = Log()
    log.add("ContactReceived", "2013-05-16", "2013-05-16T10:00:00Z")
    decision = log.add("ContactDecisionMade", "2013-05-20", "2013-05-20T10:00:00Z")

    # Then as of the decision it is resolved by it, and keeps when it was breached
    [alert] = log.alerts("2013-05-20")
    assert alert.status is AlertStatus.RESOLVED
    assert alert.resolved_by == decision
    assert alert.breached_at == datetime(2013, 5, 17, 23, 0, tzinfo=UTC)  # 18 May, London

    # And judged on what was recorded before the decision, it was still breached
    [before] = log.alerts("2013-05-20", known_at="2013-05-19")
    assert before.status is AlertStatus.BREACHED


def test_alerts_when_asked_before_the_contact_then_none() -> None:
    log = Log()
    log.add("ContactReceived", "2013-05-16", "2013-05-16T10:00:00Z")
    assert log.alerts("2013-05-15") == []


def test_acknowledgement_when_manager_acknowledges_then_resolved_by_it_visibly() -> None:
    # Given an overdue contact a manager acknowledged
    log = Log()
    contact = log.add("ContactReceived", "2013-05-16", "2013-05-16T10:00:00Z")
    ack = log.add(
        "AlertAcknowledged",
        "2013-05-22",
        "2013-05-22T10:00:00Z",
        rule="decision-overdue",
        event_ids=[contact],
    )

    # Then the alert is resolved by the acknowledgement from that day, and breached before it
    [alert] = log.alerts("2013-05-22")
    assert (alert.status, alert.resolved_by) == (AlertStatus.RESOLVED, ack)
    assert log.alerts("2013-05-21")[0].status is AlertStatus.BREACHED


def test_acknowledgement_when_recorded_after_the_breach_but_dated_before_then_breach_kept() -> None:
    # Given a contact due a decision by the end of 17 May, acknowledged on 22 May with the date
    # of 17 May
    log = Log()
    contact = log.add("ContactReceived", "2013-05-16", "2013-05-16T10:00:00Z")
    log.add(
        "AlertAcknowledged",
        "2013-05-17",
        "2013-05-22T10:00:00Z",
        rule="decision-overdue",
        event_ids=[contact],
    )

    # Then it was made when it was recorded: resolved, and breached from 18 May as before
    [alert] = log.alerts("2013-05-22")
    assert alert.status is AlertStatus.RESOLVED
    assert alert.breached_at is not None


def test_acknowledgement_when_another_rule_named_then_alert_stays_open() -> None:
    log = Log()
    contact = log.add("ContactReceived", "2013-05-16", "2013-05-16T10:00:00Z")
    log.add(
        "AlertAcknowledged",
        "2013-05-22",
        "2013-05-22T10:00:00Z",
        rule="repeat-referral",
        event_ids=[contact],
    )
    assert log.alerts("2013-05-22")[0].status is AlertStatus.BREACHED


def test_next_change_when_alert_pending_then_the_moment_it_is_breached() -> None:
    log = Log()
    log.add("ContactReceived", "2013-05-16", "2013-05-16T10:00:00Z")
    evaluation = evaluate(
        CASE_ID,
        log.events,
        as_of=parse_bound("2013-05-16"),
        known_at=datetime(9999, 1, 1, tzinfo=UTC),
    )
    assert evaluation.next_change == datetime(2013, 5, 17, 23, 0, tzinfo=UTC)


def test_next_change_when_entry_dated_ahead_of_the_clock_then_the_moment_it_happens() -> None:
    # Given a contact with no decision due for days, and a visit recorded at 10:00:00 but
    # dated 10:00:30 (the recorder's clock a little fast)
    log = Log()
    log.add("ContactReceived", "2013-05-16", "2013-05-16T09:00:00Z")
    log.add("VisitMade", "2013-05-16T10:00:30Z", "2013-05-16T10:00:00Z")

    # When the case is judged at 10:00:00
    evaluation = evaluate(
        CASE_ID,
        log.events,
        as_of=datetime(2013, 5, 16, 10, 0, tzinfo=UTC),
        known_at=datetime(2013, 5, 16, 10, 0, tzinfo=UTC),
    )

    # Then it is judged again when the visit happens, not when the decision falls due
    assert evaluation.next_change == datetime(2013, 5, 16, 10, 0, 30, tzinfo=UTC)


def test_decision_overdue_when_decision_revised_later_then_the_first_decision_answered_it() -> None:
    # Given a contact decided in time, and the decision revised days later
    log = Log()
    contact_id = "C-1"
    log.add("ContactReceived", "2013-09-13", contact_id=contact_id)
    first = log.add("ContactDecisionMade", "2013-09-16", contact_id=contact_id, outcome="advice")
    log.add("ContactDecisionMade", "2013-09-20", contact_id=contact_id)

    # Then it was resolved in time by the first decision, never breached
    [alert] = log.alerts("2013-09-21")
    assert (alert.status, alert.resolved_by, alert.breached_at) == (
        AlertStatus.RESOLVED,
        first,
        None,
    )


def test_decision_overdue_when_contact_id_reused_then_old_decision_does_not_answer_it() -> None:
    # Given a contact decided in 2013, and a new contact a year later reusing its id
    log = Log()
    log.add("ContactReceived", "2013-09-13", contact_id="C-1")
    log.add("ContactDecisionMade", "2013-09-13", contact_id="C-1")
    log.add("ContactReceived", "2014-09-12", contact_id="C-1")

    # Then the new contact is undecided: breached after Monday 15 September 2014
    statuses = [a.status for a in log.alerts("2014-09-20")]
    assert statuses == [AlertStatus.RESOLVED, AlertStatus.BREACHED]
