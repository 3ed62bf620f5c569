"""`sharing-omitted-concerns`: information shared with police or health must reference every
concern of the 12 months before it that was on the record. No deadline: it starts breached."""

from __future__ import annotations

from typing import Any

from domain.moments import Moment
from domain.rules import AlertStatus, Severity
from domain.rules import sharing_omitted_concerns as rule
from tests.domain.rule_log import Log

RULES = [rule.check]
SCHOOL = "school:st-marys-primary"
POLICE = "police:kent"
HEALTH = "health:kent-community-health"


def _share(log: Log, day: str, *agencies: str, concerns: list[str], **more: Any) -> str:
    """Information shared with `agencies`, referencing the `concerns`."""
    return log.add(
        "InformationShared",
        day,
        **{"with": [{"agency": a} for a in agencies]},
        concern_event_ids=concerns,
        **more,
    )


def test_sharing_omitted_concerns_when_bruising_left_out_then_breached_from_the_share() -> None:
    # Given bruising reported by the school on 16 May 2013, followed up, then a referral to the
    # police on 20 May that does not mention it
    log = Log()
    bruising = log.add("ConcernObserved", "2013-05-16", agency=SCHOOL)
    log.add("ConcernFollowedUp", "2013-05-16", concern_event_id=bruising)
    share = _share(log, "2013-05-20", POLICE, concerns=[])

    # When judged that day
    [alert] = log.alerts("2013-05-20", rules=RULES)

    # Then it is breached since the share, critical, and names the concern by date and agency
    assert alert.rule == "sharing-omitted-concerns"
    assert alert.status is AlertStatus.BREACHED
    assert alert.severity is Severity.CRITICAL
    assert alert.event_ids == (share, bruising)
    assert alert.due_at is None
    assert alert.breached_at == Moment.parse("2013-05-20").instant
    assert alert.message == (
        "Information shared with police:kent on 20 May 2013 left out earlier concerns: "
        "bruising reported by the school on 16 May 2013"
    )


def test_sharing_omitted_concerns_when_every_concern_referenced_then_no_alert() -> None:
    log = Log()
    bruising = log.add("ConcernObserved", "2013-05-16", agency=SCHOOL)
    _share(log, "2013-05-20", POLICE, HEALTH, concerns=[bruising])
    assert log.alerts("2013-05-20", rules=RULES) == []


def test_sharing_omitted_concerns_when_shared_with_the_school_only_then_no_alert() -> None:
    log = Log()
    log.add("ConcernObserved", "2013-05-16", agency=SCHOOL)
    _share(log, "2013-05-20", SCHOOL, concerns=[])
    assert log.alerts("2013-05-20", rules=RULES) == []


def test_sharing_omitted_concerns_when_concern_older_than_12_months_then_not_required() -> None:
    # Given a concern on 19 May 2012 and one on 20 May 2012, and a share on 20 May 2013
    log = Log(opened="2012-01-02")
    log.add("ConcernObserved", "2012-05-19", agency=SCHOOL, category="neglect")
    within = log.add("ConcernObserved", "2012-05-20", agency=HEALTH)
    _share(log, "2013-05-20", HEALTH, concerns=[])

    # Then only the one 12 months (to the day) before the share is required
    [alert] = log.alerts("2013-05-20", rules=RULES)
    assert alert.event_ids[1:] == (within,)
    assert "bruising reported by health on 20 May 2012" in alert.message


def test_sharing_omitted_concerns_when_concern_recorded_after_the_share_then_not_required() -> None:
    # Given a concern of 16 May recorded only after the 20 May share was recorded
    log = Log()
    _share(log, "2013-05-20", POLICE, concerns=[])
    log.add("ConcernObserved", "2013-05-16", "2013-05-22T10:00:00Z", agency=SCHOOL)

    # Then the share could not have referenced it
    assert log.alerts("2013-05-30", rules=RULES) == []


def test_sharing_omitted_concerns_when_dated_share_follows_a_concern_that_day_then_breached() -> (
    None
):
    # Given bruising of 30 September recorded at 09:00 on 1 October, then a referral to the
    # police entered as of 1 October (a date, no time), recorded at 15:00 that day, without it
    log = Log()
    bruising = log.add("ConcernObserved", "2013-09-30", "2013-10-01T09:00:00+01:00", agency=SCHOOL)
    share = _share(log, "2013-10-01", POLICE, concerns=[], recorded_at="2013-10-01T15:00:00+01:00")

    # When judged the next day
    [alert] = log.alerts("2013-10-02", rules=RULES)

    # Then the bruising was on the record when the share was made: it is flagged
    assert alert.event_ids == (share, bruising)
    assert alert.status is AlertStatus.BREACHED


def test_sharing_omitted_concerns_when_dated_share_recorded_before_concern_then_not_required() -> (
    None
):
    # Given a referral to the police entered as of 1 October (a date), recorded at 11:00, and a
    # concern of that morning recorded only at 15:00
    log = Log()
    _share(log, "2013-10-01", POLICE, concerns=[], recorded_at="2013-10-01T11:00:00+01:00")
    log.add("ConcernObserved", "2013-10-01T08:30:00+01:00", "2013-10-01T15:00:00+01:00")

    # Then the share could not have referenced it
    assert log.alerts("2013-10-02", rules=RULES) == []


def test_sharing_omitted_concerns_when_dated_share_entered_days_later_then_its_day_counts() -> None:
    # Given a referral to the police made on 1 October (a date) but entered only on 8 October,
    # and a concern of 30 September recorded on 4 October
    log = Log()
    log.add("ConcernObserved", "2013-09-30", "2013-10-04T10:00:00+01:00", agency=SCHOOL)
    _share(log, "2013-10-01", POLICE, concerns=[], recorded_at="2013-10-08T10:00:00+01:00")

    # Then the concern was not on the record on the day the share was made
    assert log.alerts("2013-10-10", rules=RULES) == []


def test_sharing_omitted_concerns_when_later_share_to_that_agency_has_it_then_resolved() -> None:
    # Given a police referral leaving out the bruising, a later share to health with it, then a
    # later share to the police with it
    log = Log()
    bruising = log.add("ConcernObserved", "2013-05-16", agency=SCHOOL)
    _share(log, "2013-05-20", POLICE, concerns=[])
    _share(log, "2013-05-21", HEALTH, concerns=[bruising])
    to_police = _share(log, "2013-05-22", POLICE, concerns=[bruising])

    # Then the share to health did not put it right; the one to the police did
    [still] = log.alerts("2013-05-21", rules=RULES)
    assert still.status is AlertStatus.BREACHED
    [alert] = log.alerts("2013-05-22", rules=RULES)
    assert (alert.status, alert.resolved_by) == (AlertStatus.RESOLVED, to_police)


def test_sharing_omitted_concerns_when_the_holidays_pass_then_still_breached() -> None:
    # Given a share on Christmas Eve 2013 leaving out a concern: no deadline, no working days
    log = Log()
    log.add("ConcernObserved", "2013-12-20", agency=SCHOOL)
    _share(log, "2013-12-24", POLICE, concerns=[])

    # Then it is breached from the share, over the bank holidays
    [alert] = log.alerts("2013-12-27", rules=RULES)
    assert alert.status is AlertStatus.BREACHED
    assert alert.breached_at == Moment.parse("2013-12-24").instant


def test_sharing_omitted_concerns_when_correcting_share_recorded_late_then_open_before() -> None:
    # Given the follow-up share of 22 May recorded only on 30 May
    log = Log()
    bruising = log.add("ConcernObserved", "2013-05-16", "2013-05-16T10:00:00Z", agency=SCHOOL)
    _share(log, "2013-05-20", POLICE, concerns=[], recorded_at="2013-05-20T10:00:00Z")
    _share(log, "2013-05-22", POLICE, concerns=[bruising], recorded_at="2013-05-30T10:00:00Z")

    # Then on 25 May, on what was recorded by then, it was breached
    [before] = log.alerts("2013-05-25", known_at="2013-05-25", rules=RULES)
    assert before.status is AlertStatus.BREACHED
    assert log.alerts("2013-05-25", rules=RULES)[0].status is AlertStatus.RESOLVED
