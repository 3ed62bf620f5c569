"""`late-recording` ◦: an entry recorded more working days after it happened than its
significance allows (DOMAIN.md §4), visible until a manager acknowledges it."""

from __future__ import annotations

from domain.calendar import working_days_between
from domain.catalogue import Significance, type_label
from domain.moments import LONDON, Precision
from domain.rules.base import (
    Alert,
    CaseAtMoment,
    Severity,
    Timescale,
    day_text,
    london_day,
    standing_alert,
)
from domain.selection import Entry
from domain.state import NOT_ACTIVITY
from domain.values import AlertRule


def _local(significance: str, default: int) -> Timescale:
    return Timescale(
        AlertRule.LATE_RECORDING,
        f"{significance}_working_days",
        default,
        "working days",
        "local practice",
        local=True,
    )


CRITICAL = _local("critical", 1)
SIGNIFICANT = _local("significant", 2)
ROUTINE = _local("routine", 5)
TIMESCALES = (CRITICAL, SIGNIFICANT, ROUTINE)
_BY_SIGNIFICANCE = {
    Significance.CRITICAL: CRITICAL,
    Significance.SIGNIFICANT: SIGNIFICANT,
    Significance.ROUTINE: ROUTINE,
}

# The opening of the record is not a fact of the child's life, nor is what is not activity on
# the child's case (an acknowledgement: judging it would raise an alert about clearing one).
NOT_JUDGED = NOT_ACTIVITY | {"CaseOpened"}


def check(case: CaseAtMoment) -> list[Alert]:
    allowed = {significance: case.number(t) for significance, t in _BY_SIGNIFICANCE.items()}
    alerts = []
    for entry in case.entries:
        recorded_at = entry.event.recorded_at
        # As of a moment before it was recorded, it had not (yet) been recorded late.
        if entry.type in NOT_JUDGED or recorded_at > case.at:
            continue
        happened = entry.latest_day()
        if happened is None:
            continue
        significance = entry.significance
        late = working_days_between(happened, london_day(recorded_at))
        if late > allowed[significance]:
            alerts.append(_alert(entry, significance, late, allowed[significance]))
    return alerts


def _alert(entry: Entry, significance: Significance, late: int, allowed: int) -> Alert:
    happened = (
        entry.occurred.instant.astimezone(LONDON).strftime("%B %Y")
        if entry.precision is Precision.MONTH
        else day_text(entry.occurred.instant)
    )
    message = (
        f"{type_label(entry.type)} ({happened}) was recorded on "
        f"{day_text(entry.event.recorded_at)}, {late} working day{'s' * (late != 1)} after it "
        f"happened: {significance.label} entries are recorded within {allowed}"
    )
    return standing_alert(
        AlertRule.LATE_RECORDING,
        Severity.INFO,
        message,
        [entry.id],
        entry.event.recorded_at,
        None,
    )
