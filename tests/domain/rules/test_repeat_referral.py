"""`repeat-referral` ◦: a referral within 12 months of an earlier one (a CIN census re-referral),
shown until a manager acknowledges it."""

from __future__ import annotations

from domain.rules import AlertStatus, Severity
from domain.rules import repeat_referral as rule
from tests.domain.rule_log import Log

RULES = [rule.check]


def _referred_twice(first: str, second: str) -> tuple[Log, str, str]:
    log = Log(opened="2012-01-02")
    earlier = log.add("ReferralAccepted", first, referral_id="R-1")
    log.add("CaseClosed", first)
    later = log.add("ReferralAccepted", second, referral_id="R-2")
    return log, earlier, later


def test_repeat_referral_when_referred_again_within_a_year_then_standing_info_alert() -> None:
    # Given referrals on 16 May 2013 and 3 March 2014
    log, earlier, later = _referred_twice("2013-05-16", "2014-03-03")

    # When judged after the second
    [alert] = log.alerts("2014-03-04", rules=RULES)

    # Then a re-referral is flagged from the second referral, naming both, with no deadline
    assert alert.rule == "repeat-referral"
    assert alert.status is AlertStatus.BREACHED
    assert alert.severity is Severity.INFO
    assert alert.event_ids == (later, earlier)
    assert alert.due_at is None
    assert alert.breached_at == log.events[-1].occurred.instant
    assert alert.message == (
        "Re-referral: referral accepted on 3 March 2014 is within 12 months of the referral of "
        "16 May 2013"
    )

    # And before the second referral there is nothing to flag
    assert log.alerts("2014-03-02", rules=RULES) == []


def test_repeat_referral_when_twelve_months_to_the_day_then_still_a_re_referral() -> None:
    # Given a second referral on the same day a year later, and another case a day after that
    on_the_day, _, _ = _referred_twice("2013-05-16", "2014-05-16")
    day_after, _, _ = _referred_twice("2013-05-16", "2014-05-17")

    # Then only the first is a re-referral
    assert len(on_the_day.alerts("2014-06-01", rules=RULES)) == 1
    assert day_after.alerts("2014-06-01", rules=RULES) == []


def test_repeat_referral_when_earlier_referral_on_29_february_then_a_year_ends_28_february() -> (
    None
):
    # Given a referral on 29 February 2012: twelve calendar months later is 28 February 2013
    inside, _, _ = _referred_twice("2012-02-29", "2013-02-28")
    outside, _, _ = _referred_twice("2012-02-29", "2013-03-01")

    # Then 28 February is within the year and 1 March is not
    assert len(inside.alerts("2013-03-31", rules=RULES)) == 1
    assert outside.alerts("2013-03-31", rules=RULES) == []


def test_repeat_referral_when_same_referral_recorded_twice_then_no_alert() -> None:
    # Given one referral recorded twice under its own id
    log = Log()
    log.add("ReferralAccepted", "2013-05-16", referral_id="R-1")
    log.add("ReferralAccepted", "2013-05-17", referral_id="R-1")

    # Then it is not a re-referral
    assert log.alerts("2013-06-01", rules=RULES) == []


def test_repeat_referral_when_a_referral_is_recorded_again_later_then_counted_from_its_first() -> (
    None
):
    # Given referral R-1 of January 2020, recorded again under its id in June 2021 (the case
    # reopened on it), and a new referral R-2 in March 2022
    log = Log(opened="2019-01-02")
    log.add("ReferralAccepted", "2020-01-06", referral_id="R-1")
    log.add("CaseClosed", "2021-05-03")
    log.add("CaseReopened", "2021-06-01", referral_id="R-1", reason="Same referral")
    log.add("ReferralAccepted", "2022-03-01", referral_id="R-2")

    # Then R-2 came 26 months after R-1: not a re-referral
    assert log.alerts("2022-03-02", rules=RULES) == []


def test_repeat_referral_when_acknowledged_then_resolved_only_by_the_acknowledgement() -> None:
    # Given a re-referral, the case closed again, and a manager's acknowledgement recorded late
    log, _, later = _referred_twice("2013-05-16", "2014-03-03")
    log.add("WorkerAllocated", "2014-03-04")
    log.add("CaseClosed", "2014-06-02")
    ack = log.add(
        "AlertAcknowledged",
        "2014-06-10",
        "2014-06-20T09:00:00Z",
        rule="repeat-referral",
        event_ids=[later],
    )

    # When judged on what was recorded before the acknowledgement, then it is still open
    [before] = log.alerts("2014-06-15", known_at="2014-06-15", rules=RULES)
    assert before.status is AlertStatus.BREACHED

    # And the acknowledgement resolves it, visibly
    [after] = log.alerts("2014-06-15", rules=RULES)
    assert (after.status, after.resolved_by) == (AlertStatus.RESOLVED, ack)


def test_repeat_referral_when_case_reopened_on_a_new_referral_then_a_re_referral() -> None:
    # Given referral R-1 on 16 May 2013, the case closed, and reopened on referral R-2 on
    # 1 October
    log = Log(opened="2012-01-02")
    earlier = log.add("ReferralAccepted", "2013-05-16", referral_id="R-1")
    log.add("CaseClosed", "2013-07-01")
    reopened = log.add("CaseReopened", "2013-10-01", referral_id="R-2", reason="New referral")

    # Then the reopening is a re-referral, within 12 months of R-1
    [alert] = log.alerts("2013-10-02", rules=RULES)
    assert alert.event_ids == (reopened, earlier)
    assert alert.message == (
        "Re-referral: case reopened on a referral on 1 October 2013 is within 12 months of the "
        "referral of 16 May 2013"
    )

    # And R-2 also recorded as accepted is the same referral, not another re-referral
    log.add("ReferralAccepted", "2013-10-01", referral_id="R-2")
    assert len(log.alerts("2013-10-02", rules=RULES)) == 1
