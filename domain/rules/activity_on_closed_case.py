"""`activity-on-closed-case` ◦: an entry made while the case is closed, so that someone reads
it (DOMAIN.md §4); resolved by a manager's acknowledgement or by the case reopening."""

from __future__ import annotations

from domain.catalogue import type_label
from domain.rules.base import Alert, CaseAtMoment, Severity, Timescale, day_text, standing_alert
from domain.selection import Entry
from domain.state import EPISODE_CLOSERS, EPISODE_OPENERS
from domain.values import AlertRule

TIMESCALES: tuple[Timescale, ...] = ()

# An acknowledgement is a decision about an alert, not activity on the child's case (judging it
# would raise an alert about clearing one). Corrections, retractions, annotations and
# reassessments never reach a rule: selection applies them to their target.
NOT_ACTIVITY = frozenset({"AlertAcknowledged"})


def check(case: CaseAtMoment) -> list[Alert]:
    """Walks the case in business order, as the state folds it: the case is closed from a
    closing until an episode opens again (a reopening, a referral or a period of care), which
    resolves the alerts raised meanwhile."""
    alerts = []
    is_open = False
    closure: Entry | None = None  # the closing of the latest episode, while none is open
    waiting: list[Entry] = []  # entries made since that closing
    for entry in case.entries:
        if entry.type in EPISODE_OPENERS:
            if closure is not None:
                alerts += [_alert(e, closure, entry) for e in waiting]
            is_open, closure, waiting = True, None, []
        elif entry.type in EPISODE_CLOSERS and is_open:
            is_open, closure = False, entry
        elif closure is not None and _after_closure(entry, closure):
            waiting.append(entry)
    if closure is not None:
        alerts += [_alert(e, closure, None) for e in waiting]
    return alerts


def _after_closure(entry: Entry, closure: Entry) -> bool:
    """Activity known to come after the closing. On the closing's own day, when either is dated
    rather than timed, which came first is not known: the closing worker's last note of the day
    is not activity on a closed case."""
    same_day = entry.occurred.london_date == closure.occurred.london_date
    unordered = same_day and (entry.occurred.is_date or closure.occurred.is_date)
    return entry.type not in NOT_ACTIVITY and not unordered


def _alert(entry: Entry, closure: Entry, reopened: Entry | None) -> Alert:
    message = (
        f"{type_label(entry.type)} ({entry.agency}, {day_text(entry.occurred.instant)}) was "
        f"recorded while the case was closed (since {day_text(closure.occurred.instant)})"
    )
    return standing_alert(
        AlertRule.ACTIVITY_ON_CLOSED_CASE,
        Severity.WARNING,
        message,
        [entry.id, closure.id],
        entry.occurred.instant,
        reopened,
    )
