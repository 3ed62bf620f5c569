"""`lac-review-overdue`: a looked-after child's first review within 20 working days of the period
of care starting, the second within 3 months of it, later ones within 6 months (reg 33)."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.moments import parse_bound
from domain.rules import AlertStatus, Severity
from domain.rules import lac_review_overdue as rule
from tests.domain.rule_log import Log
from tests.support import payload

RULES = [rule.check]


def _review(log: Log, day: str, recorded_at: str | None = None, kind: str = "cla_review") -> str:
    """A meeting of `kind` (the builders take `kind` as the event type: the payload is built)."""
    data = {**payload("MeetingHeld"), "kind": kind, "meeting_id": f"MTG-{day}"}
    return log.add("MeetingHeld", day, recorded_at, data=data)


def test_lac_review_overdue_when_no_first_review_then_pending_until_the_20th_working_day() -> None:
    # Given a child who became looked after on Thursday 16 May 2013
    log = Log()
    care = log.add("PeriodOfCareStarted", "2013-05-16")

    # When judged at 23:59 on Friday 14 June (20 working days on, past the 27 May bank holiday)
    [alert] = log.alerts("2013-06-14T23:59:00+01:00", rules=RULES)

    # Then it is pending, critical, named by the start of the period of care
    assert alert.rule == "lac-review-overdue"
    assert alert.status is AlertStatus.PENDING
    assert alert.severity is Severity.CRITICAL
    assert alert.event_ids == (care,)
    assert alert.due_at == parse_bound("2013-06-14")
    assert alert.message == (
        "First looked-after review since the child became looked after on 16 May 2013 not held: "
        "due by 14 June 2013"
    )

    # And from the start of Saturday 15 June it is breached
    [later] = log.alerts("2013-06-15T00:00:00+01:00", rules=RULES)
    assert later.status is AlertStatus.BREACHED
    assert later.breached_at == datetime(2013, 6, 14, 23, 0, tzinfo=UTC)


def test_lac_review_overdue_when_reviews_held_then_each_resolves_and_starts_the_next() -> None:
    # Given a period of care from 16 May 2013, reviews on 10 June and 2 September 2013
    log = Log()
    care = log.add("PeriodOfCareStarted", "2013-05-16")
    _review(log, "2013-06-05", kind="core_group")  # not a looked-after review
    first = _review(log, "2013-06-10")
    second = _review(log, "2013-09-02")

    # When judged on 1 October 2013
    alerts = log.alerts("2013-10-01", rules=RULES)

    # Then the first two intervals are resolved by the reviews; the third is due 6 months on
    by_start = {a.event_ids[0]: a for a in alerts}
    assert by_start[care].resolved_by == first
    assert (by_start[first].resolved_by, by_start[first].due_at) == (
        second,
        parse_bound("2013-09-10"),
    )
    assert by_start[second].status is AlertStatus.PENDING
    assert by_start[second].due_at == parse_bound("2014-03-02")
    assert "following the review on 2 September 2013" in by_start[second].message


def test_lac_review_overdue_when_the_period_of_care_ends_then_resolved_by_the_end() -> None:
    log = Log()
    log.add("PeriodOfCareStarted", "2013-05-16")
    ended = log.add("PeriodOfCareEnded", "2013-05-30")
    [alert] = log.alerts("2013-07-01", rules=RULES)
    assert (alert.status, alert.resolved_by, alert.breached_at) == (
        AlertStatus.RESOLVED,
        ended,
        None,
    )


def test_lac_review_overdue_when_looked_after_before_christmas_then_due_after_the_holidays() -> (
    None
):
    # Given a child looked after from Wednesday 4 December 2013 (25, 26 Dec and 1 Jan are holidays)
    log = Log()
    log.add("PeriodOfCareStarted", "2013-12-04")

    # Then the first review falls due at the end of Monday 6 January 2014
    [alert] = log.alerts("2014-01-06", rules=RULES)
    assert alert.due_at == parse_bound("2014-01-06")
    assert alert.status is AlertStatus.PENDING
    assert log.alerts("2014-01-07", rules=RULES)[0].status is AlertStatus.BREACHED


def test_lac_review_overdue_when_timescale_set_then_statutory_numbers_stand() -> None:
    log = Log()
    log.add("PeriodOfCareStarted", "2013-05-16")
    [alert] = log.alerts("2013-05-20", rules=RULES, timescales={rule.FIRST_WORKING_DAYS.key: 5})
    assert alert.due_at == parse_bound("2013-06-14")
    assert not any(t.local for t in rule.TIMESCALES)


def test_lac_review_overdue_when_review_recorded_late_then_open_before_it_was_known() -> None:
    # Given a first review held on 10 June 2013, recorded on 28 June
    log = Log()
    log.add("PeriodOfCareStarted", "2013-05-16", "2013-05-16T10:00:00Z")
    _review(log, "2013-06-10", "2013-06-28T10:00:00Z")

    # Then on 20 June, on what was recorded by then, the first review was overdue
    [before] = log.alerts("2013-06-20", known_at="2013-06-20", rules=RULES)
    assert before.status is AlertStatus.BREACHED
    first = log.alerts("2013-06-20", rules=RULES)
    assert [a.status for a in first] == [AlertStatus.RESOLVED, AlertStatus.PENDING]
