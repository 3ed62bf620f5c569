"""`no-allocated-worker`: an open episode with a worker allocated by the end of the working day
after the referral that opened it."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.moments import parse_bound
from domain.rules import AlertStatus, Severity
from domain.rules import no_allocated_worker as rule
from tests.domain.rule_log import Log

RULES = [rule.check]


def test_no_allocated_worker_when_none_allocated_then_pending_until_next_working_day() -> None:
    # Given a referral accepted on Thursday 16 May 2013
    log = Log()
    referral = log.add("ReferralAccepted", "2013-05-16T15:00:00+01:00")

    # When judged at 23:59 on Friday 17 May
    [alert] = log.alerts("2013-05-17T23:59:00+01:00", rules=RULES)

    # Then it is pending, named by the referral, and says when it is due
    assert alert.rule == "no-allocated-worker"
    assert alert.status is AlertStatus.PENDING
    assert alert.severity is Severity.WARNING
    assert alert.event_ids == (referral,)
    assert alert.due_at == parse_bound("2013-05-17")
    assert alert.message == (
        "Referral accepted on 16 May 2013 has no allocated worker: due by 17 May 2013"
    )

    # And from the start of Saturday 18 May it is breached
    [later] = log.alerts("2013-05-18T00:00:00+01:00", rules=RULES)
    assert later.status is AlertStatus.BREACHED
    assert later.breached_at == datetime(2013, 5, 17, 23, 0, tzinfo=UTC)


def test_no_allocated_worker_when_worker_allocated_then_resolved_by_it() -> None:
    # Given a worker allocated the day after the referral
    log = Log()
    log.add("ReferralAccepted", "2013-05-16")
    allocated = log.add("WorkerAllocated", "2013-05-17")

    # Then the alert is resolved by the allocation, never breached
    [alert] = log.alerts("2013-06-01", rules=RULES)
    assert (alert.status, alert.resolved_by, alert.breached_at) == (
        AlertStatus.RESOLVED,
        allocated,
        None,
    )


def test_no_allocated_worker_when_allocated_while_contact_screened_then_resolved() -> None:
    # Given a worker allocated to the contact before the referral was accepted
    log = Log()
    log.add("ContactReceived", "2013-05-15")
    allocated = log.add("WorkerAllocated", "2013-05-15")
    log.add("ReferralAccepted", "2013-05-16")

    # Then the episode has its worker
    [alert] = log.alerts("2013-06-01", rules=RULES)
    assert (alert.status, alert.resolved_by) == (AlertStatus.RESOLVED, allocated)


def test_no_allocated_worker_when_episode_closes_unallocated_then_resolved_by_the_closing() -> None:
    # Given an episode closed a week after the referral with no worker allocated
    log = Log()
    log.add("ReferralAccepted", "2013-05-16")
    closed = log.add("CaseClosed", "2013-05-23")

    # Then the alert is resolved by the closing, keeping when it was breached
    [alert] = log.alerts("2013-06-01", rules=RULES)
    assert (alert.status, alert.resolved_by) == (AlertStatus.RESOLVED, closed)
    assert alert.breached_at == datetime(2013, 5, 17, 23, 0, tzinfo=UTC)


def test_no_allocated_worker_when_case_reopens_then_the_new_episode_needs_a_worker() -> None:
    # Given a first episode with a worker, closed, and the case reopened later
    log = Log()
    log.add("ReferralAccepted", "2013-05-16")
    log.add("WorkerAllocated", "2013-05-16")
    log.add("CaseClosed", "2013-07-01")
    reopened = log.add("CaseReopened", "2013-09-02")

    # Then the earlier allocation does not cover the new episode
    alerts = {a.event_ids[0]: a for a in log.alerts("2013-09-04", rules=RULES)}
    assert alerts[reopened].status is AlertStatus.BREACHED
    assert alerts[reopened].message.startswith("Case reopened on 2 September 2013")


def test_no_allocated_worker_when_contact_decided_nfa_then_its_worker_does_not_count() -> None:
    # Given a contact in May 2013 screened by a MASH worker and decided no further action, then
    # a referral accepted in June 2015 with nobody allocated
    log = Log()
    log.add("ContactReceived", "2013-05-02")
    log.add("WorkerAllocated", "2013-05-02", worker="Sam Patel", team="MASH")
    log.add("ContactDecisionMade", "2013-05-03", outcome="nfa")
    referral = log.add("ReferralAccepted", "2015-06-01")

    # Then the screening's allocation ended with the contact, and the referral has no worker
    [alert] = log.alerts("2015-06-10", rules=RULES)
    assert (alert.event_ids, alert.status) == ((referral,), AlertStatus.BREACHED)


def test_no_allocated_worker_when_referral_before_easter_then_due_after_the_holidays() -> None:
    # Given a referral on Thursday 17 April 2014 (Good Friday and Easter Monday are holidays)
    log = Log()
    log.add("ReferralAccepted", "2014-04-17")

    # Then it falls due at the end of Tuesday 22 April
    [alert] = log.alerts("2014-04-22", rules=RULES)
    assert alert.due_at == parse_bound("2014-04-22")
    assert alert.status is AlertStatus.PENDING
    assert log.alerts("2014-04-23", rules=RULES)[0].status is AlertStatus.BREACHED


def test_no_allocated_worker_when_allocation_recorded_late_then_open_on_what_was_known() -> None:
    # Given an allocation on 17 May recorded only on 22 May
    log = Log()
    log.add("ReferralAccepted", "2013-05-16")
    log.add("WorkerAllocated", "2013-05-17", "2013-05-22T09:00:00Z")

    # When judged on what was recorded by 21 May, then it was breached
    [before] = log.alerts("2013-05-21", known_at="2013-05-21", rules=RULES)
    assert before.status is AlertStatus.BREACHED

    # And on what is known now it was resolved in time
    assert log.alerts("2013-05-21", rules=RULES)[0].status is AlertStatus.RESOLVED
