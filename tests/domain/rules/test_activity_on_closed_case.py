"""`activity-on-closed-case` ◦: an entry made while the case is closed, so that someone reads
it; resolved by a manager's acknowledgement, or by the case reopening or a new referral."""

from __future__ import annotations

from domain.rules import AlertStatus, Severity
from domain.rules import activity_on_closed_case as rule
from tests.domain.rule_log import Log

RULES = [rule.check]
SCHOOL = "school:st-marys"


def _closed(closed_on: str = "2013-07-01") -> tuple[Log, str]:
    """A case referred on 16 May 2013 and closed on `closed_on`."""
    log = Log()
    log.add("ReferralAccepted", "2013-05-16")
    closure = log.add("CaseClosed", closed_on)
    return log, closure


def test_activity_on_closed_case_when_school_reports_after_closure_then_warning() -> None:
    # Given a case closed on 1 July 2013 and bruising reported by the school on 10 July
    log, closure = _closed()
    concern = log.add("ConcernObserved", "2013-07-10", agency=SCHOOL)

    # When judged after the report
    [alert] = log.alerts("2013-07-11", rules=RULES)

    # Then it is flagged from the report, naming the report and the closing, with no deadline
    assert alert.rule == "activity-on-closed-case"
    assert alert.status is AlertStatus.BREACHED
    assert alert.severity is Severity.WARNING
    assert alert.event_ids == (concern, closure)
    assert alert.due_at is None
    assert alert.breached_at == log.events[-1].occurred.instant
    assert alert.message == (
        "Concern observed (school:st-marys, 10 July 2013) was recorded while the case was "
        "closed (since 1 July 2013)"
    )

    # And before the report there is nothing to flag
    assert log.alerts("2013-07-09", rules=RULES) == []


def test_activity_on_closed_case_when_case_reopens_then_resolved_by_the_reopening() -> None:
    # Given a report on a closed case, and the case reopened
    log, _ = _closed()
    log.add("ConcernObserved", "2013-07-10", agency=SCHOOL)
    reopened = log.add("CaseReopened", "2013-07-12")
    log.add("VisitMade", "2013-07-15")

    # Then the alert is resolved by the reopening, which is not itself activity on a closed case
    [alert] = log.alerts("2013-07-31", rules=RULES)
    assert (alert.status, alert.resolved_by) == (AlertStatus.RESOLVED, reopened)


def test_activity_on_closed_case_when_new_referral_then_resolved_by_it() -> None:
    # Given a contact on a closed case that led to a new referral
    log, _ = _closed()
    contact = log.add("ContactReceived", "2013-09-02", agency=SCHOOL)
    decision = log.add("ContactDecisionMade", "2013-09-02T16:00:00+01:00", outcome="referral")
    referral = log.add("ReferralAccepted", "2013-09-03")

    # Then the contact and the decision were activity on the closed case, both resolved
    alerts = log.alerts("2013-09-30", rules=RULES)
    assert [a.event_ids[0] for a in alerts] == [contact, decision]
    assert {(a.status, a.resolved_by) for a in alerts} == {(AlertStatus.RESOLVED, referral)}


def test_activity_on_closed_case_when_transferred_then_later_entries_flagged() -> None:
    # Given a case transferred to another authority, and a note recorded afterwards
    log = Log()
    log.add("ReferralAccepted", "2013-05-16")
    transfer = log.add("CaseTransferred", "2013-07-01")
    visit = log.add("VisitMade", "2013-07-03", agency="health:kent-community-health")

    # Then the visit is flagged against the transfer
    [alert] = log.alerts("2013-07-31", rules=RULES)
    assert alert.event_ids == (visit, transfer)


def test_activity_on_closed_case_when_dated_the_day_of_closure_then_not_flagged() -> None:
    # Given the closing worker's last visit, dated the day the case closed, recorded after it
    log, _ = _closed()
    log.add("VisitMade", "2013-07-01")

    # Then which came first that day is not known: nothing is flagged
    assert log.alerts("2013-07-31", rules=RULES) == []


def test_activity_on_closed_case_when_recorded_after_closure_then_flagged_from_its_recording() -> (
    None
):
    # Given a school's visit of 28 June recorded only on 5 July, after the case closed on 1 July
    log, closure = _closed()
    visit = log.add("VisitMade", "2013-06-28", "2013-07-05T09:00:00Z", agency=SCHOOL)

    # Then it was recorded while the case stood closed: flagged from its recording, so that
    # someone reads it, though it happened while the episode was open
    [alert] = log.alerts("2013-07-31", rules=RULES)
    assert (alert.event_ids, alert.status) == ((visit, closure), AlertStatus.BREACHED)
    assert alert.breached_at == log.events[-1].recorded_at
    assert alert.message == (
        "Visit made (school:st-marys, 28 June 2013) was recorded while the case was closed "
        "(since 1 July 2013), on 5 July 2013"
    )

    # And not before it was recorded, nor as the record stood before then
    assert log.alerts("2013-07-04", rules=RULES) == []
    assert log.alerts("2013-07-31", known_at="2013-07-04", rules=RULES) == []


def test_activity_on_closed_case_when_recorded_after_closure_then_resolved_by_reopening() -> None:
    # Given a late report recorded on a closed case, then the case reopened
    log, _ = _closed()
    log.add("ConcernObserved", "2013-06-28", "2013-07-05T09:00:00Z", agency=SCHOOL)
    reopened = log.add("CaseReopened", "2013-07-08")

    # Then the reopening resolves it: the case is worked on again
    [alert] = log.alerts("2013-07-31", rules=RULES)
    assert (alert.status, alert.resolved_by) == (AlertStatus.RESOLVED, reopened)


def test_activity_on_closed_case_when_recorded_before_the_closure_was_then_not_flagged() -> None:
    # Given a visit of 28 June recorded on 30 June, and the closure of 1 July recorded on 5 July
    log = Log()
    log.add("ReferralAccepted", "2013-05-16")
    log.add("VisitMade", "2013-06-28", "2013-06-30T09:00:00Z", agency=SCHOOL)
    log.add("CaseClosed", "2013-07-01", "2013-07-05T09:00:00Z")

    # Then the case was open when the visit was recorded: nothing to flag
    assert log.alerts("2013-07-31", rules=RULES) == []


def test_activity_on_closed_case_when_history_recorded_after_a_backdated_closure_then_flagged() -> (
    None
):
    # Given a closure recorded with its date, and a referral of an earlier episode recorded
    # afterwards: it opens no episode after the closure
    log, _ = _closed()
    history = log.add("ContactReceived", "2013-05-10", "2013-07-05T09:00:00Z", agency=SCHOOL)
    log.add("ReferralAccepted", "2013-05-10", "2013-07-05T10:00:00Z")

    # Then the contact is flagged (someone should read what arrives on a closed case), and the
    # earlier referral neither resolves it nor is flagged itself (it opens an episode)
    [alert] = log.alerts("2013-07-31", rules=RULES)
    assert (alert.event_ids[0], alert.status) == (history, AlertStatus.BREACHED)


def test_activity_on_closed_case_when_case_never_had_an_episode_then_no_alert() -> None:
    # Given contacts on a case that never had a referral accepted
    log = Log()
    log.add("ContactReceived", "2013-05-16", agency=SCHOOL)
    log.add("ContactDecisionMade", "2013-05-17", outcome="nfa")

    # Then it is not closed, so nothing is flagged
    assert log.alerts("2013-07-31", rules=RULES) == []


def test_activity_on_closed_case_when_acknowledged_then_resolved_and_acknowledgement_ignored() -> (
    None
):
    # Given a report on a closed case and a manager's acknowledgement recorded days later
    log, _ = _closed()
    concern = log.add("ConcernObserved", "2013-07-10", agency=SCHOOL)
    ack = log.add(
        "AlertAcknowledged",
        "2013-07-11",
        "2013-07-15T09:00:00Z",
        rule="activity-on-closed-case",
        event_ids=[concern],
    )

    # When judged on what was recorded before the acknowledgement, then it is still open
    [before] = log.alerts("2013-07-12", known_at="2013-07-12", rules=RULES)
    assert before.status is AlertStatus.BREACHED

    # And now it is resolved by the acknowledgement, which is not activity of its own
    [after] = log.alerts("2013-07-31", rules=RULES)
    assert (after.event_ids[0], after.status, after.resolved_by) == (
        concern,
        AlertStatus.RESOLVED,
        ack,
    )
