"""`late-recording` ◦: an entry recorded more working days after it happened than its
significance allows (local: critical 1, significant 2, routine 5), until acknowledged."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.rules import AlertStatus, Severity
from domain.rules import late_recording as rule
from tests.domain.rule_log import Log
from tests.support import payload

RULES = [rule.check]


def test_late_recording_when_routine_entry_six_working_days_late_then_info_alert() -> None:
    # Given a move on Thursday 16 May 2013 recorded on Friday 24 May (6 working days on)
    log = Log()
    entry = log.add("AddressChanged", "2013-05-16", "2013-05-24T09:00:00Z")

    # When judged once it was recorded
    [alert] = log.alerts("2013-05-24", rules=RULES)

    # Then it is flagged from its recording, with no deadline, in words
    assert alert.rule == "late-recording"
    assert alert.status is AlertStatus.BREACHED
    assert alert.severity is Severity.INFO
    assert alert.event_ids == (entry,)
    assert alert.due_at is None
    assert alert.breached_at == datetime(2013, 5, 24, 9, 0, tzinfo=UTC)
    assert alert.message == (
        "Address changed (16 May 2013) was recorded on 24 May 2013, 6 working days after it "
        "happened: routine entries are recorded within 5"
    )

    # And as of the day before it was recorded it had not (yet) been recorded late
    assert log.alerts("2013-05-23", rules=RULES) == []


def test_late_recording_when_routine_entry_five_working_days_late_then_no_alert() -> None:
    log = Log()
    log.add("AddressChanged", "2013-05-16", "2013-05-23T16:00:00Z")
    assert log.alerts("2013-06-01", rules=RULES) == []


def test_late_recording_when_critical_entry_then_one_working_day_allowed() -> None:
    # Given strategy discussions on Thursday 16 May 2013, one recorded the next day and one on
    # the Monday after
    next_day, monday = Log(), Log()
    next_day.add("StrategyDiscussionHeld", "2013-05-16", "2013-05-17T18:00:00Z")
    late = monday.add("StrategyDiscussionHeld", "2013-05-16", "2013-05-20T09:00:00Z")

    # Then only the one recorded two working days later is flagged
    assert next_day.alerts("2013-06-01", rules=RULES) == []
    [alert] = monday.alerts("2013-06-01", rules=RULES)
    assert alert.event_ids == (late,)
    assert "critical entries are recorded within 1" in alert.message


def test_late_recording_when_recorded_after_christmas_then_bank_holidays_not_counted() -> None:
    # Given strategy discussions on Tuesday 24 December 2013 (25 and 26 are bank holidays)
    friday, monday = Log(), Log()
    friday.add("StrategyDiscussionHeld", "2013-12-24", "2013-12-27T09:00:00Z")
    monday.add("StrategyDiscussionHeld", "2013-12-24", "2013-12-30T09:00:00Z")

    # Then Friday 27 December is 1 working day later and Monday 30 December is 2
    assert friday.alerts("2014-01-31", rules=RULES) == []
    assert len(monday.alerts("2014-01-31", rules=RULES)) == 1


def test_late_recording_when_significance_reassessed_then_its_new_timescale_applies() -> None:
    # Given a routine entry recorded 2 working days late, later judged critical
    log = Log()
    entry = log.add("AddressChanged", "2013-05-16", "2013-05-20T09:00:00Z")
    assert log.alerts("2013-06-01", rules=RULES) == []
    log.add(
        "SignificanceAssessed",
        "2013-05-21",
        target_event_id=entry,
        significance="critical",
        rationale="The child moved in with a violent adult",
    )

    # Then it is judged as a critical entry
    [alert] = log.alerts("2013-06-01", rules=RULES)
    assert alert.event_ids == (entry,)


def test_late_recording_when_local_timescale_raised_then_no_alert() -> None:
    # Given a routine entry 6 working days late, where routine entries may take 10
    log = Log()
    log.add("AddressChanged", "2013-05-16", "2013-05-24T09:00:00Z")

    # Then nothing is flagged
    timescales = {rule.ROUTINE.key: 10}
    assert rule.ROUTINE.setting == "CASETRAIL_RULE_LATE_RECORDING_ROUTINE_WORKING_DAYS"
    assert log.alerts("2013-06-01", rules=RULES, timescales=timescales) == []


def test_late_recording_when_date_known_only_to_the_month_then_judged_from_its_end() -> None:
    # Given an address change dated 20 May 2013 recorded on 6 June, then corrected to "May 2013"
    log = Log()
    entry = log.add("AddressChanged", "2013-05-20", "2013-06-06T09:00:00Z")
    assert len(log.alerts("2013-06-30", rules=RULES)) == 1
    correction = payload("EntryCorrected", target_event_id=entry, occurred_at="2013-05-01")
    correction["occurred_precision"] = "month"
    correction["data"] = payload("AddressChanged")
    log.add("EntryCorrected", "2013-06-07", data=correction)

    # Then it may have happened as late as 31 May: 4 working days before it was recorded
    assert log.alerts("2013-06-30", rules=RULES) == []


def test_late_recording_when_date_approximate_then_not_judged() -> None:
    # Given an address change dated "about May 2012", recorded a year later
    log = Log()
    entry = log.add("AddressChanged", "2012-05-01", "2013-06-06T09:00:00Z")
    assert len(log.alerts("2013-06-30", rules=RULES)) == 1
    correction = payload("EntryCorrected", target_event_id=entry, occurred_at="2012-05-01")
    correction["occurred_precision"] = "approximate"
    correction["data"] = payload("AddressChanged")
    log.add("EntryCorrected", "2013-06-07", data=correction)

    # Then its lateness cannot be judged
    assert log.alerts("2013-06-30", rules=RULES) == []


def test_late_recording_when_partner_records_late_then_flagged_too() -> None:
    # Given bruising seen at school on 16 May and recorded by the school on 21 May
    log = Log()
    concern = log.add(
        "ConcernObserved", "2013-05-16", "2013-05-21T09:00:00Z", agency="school:st-marys"
    )

    # Then, critical, it is flagged
    [alert] = log.alerts("2013-06-01", rules=RULES)
    assert alert.event_ids == (concern,)
    assert alert.message.startswith("Concern observed (16 May 2013)")


def test_late_recording_when_the_childs_voice_recorded_late_then_named_in_plain_words() -> None:
    # Given the child's views heard on 16 May 2013 and recorded on 20 June
    log = Log()
    log.add("ChildsVoiceRecorded", "2013-05-16", "2013-06-20T09:00:00Z")

    # Then the alert names the entry's type as a person would write it
    [alert] = log.alerts("2013-07-01", rules=RULES)
    assert alert.message.startswith("Child's voice recorded (16 May 2013) was recorded on")


def test_late_recording_when_acknowledged_then_resolved_and_the_acknowledgement_not_judged() -> (
    None
):
    # Given a late entry and a manager's acknowledgement, itself recorded days after it was made
    log = Log()
    entry = log.add("AddressChanged", "2013-05-16", "2013-05-24T09:00:00Z")
    ack = log.add(
        "AlertAcknowledged",
        "2013-06-03",
        "2013-06-14T09:00:00Z",
        rule="late-recording",
        event_ids=[entry],
    )

    # When judged on what was recorded before the acknowledgement, then it is still open
    [before] = log.alerts("2013-06-13", known_at="2013-06-13", rules=RULES)
    assert before.status is AlertStatus.BREACHED

    # And now it is resolved by the acknowledgement, which raises no alert of its own
    [after] = log.alerts("2013-06-30", rules=RULES)
    assert (after.event_ids, after.status, after.resolved_by) == (
        (entry,),
        AlertStatus.RESOLVED,
        ack,
    )
