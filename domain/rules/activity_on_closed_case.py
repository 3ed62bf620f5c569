"""`activity-on-closed-case` ◦: an entry made while the case is closed, so that someone reads
it (DOMAIN.md §4); resolved by a manager's acknowledgement or by the case reopening."""

from __future__ import annotations

from domain.catalogue import type_label
from domain.rules.base import Alert, CaseAtMoment, Severity, Timescale, day_text, standing_alert
from domain.selection import Entry
from domain.state import EPISODE_CLOSERS, EPISODE_OPENERS, NOT_ACTIVITY, after_closing
from domain.values import AlertRule

TIMESCALES: tuple[Timescale, ...] = ()


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
        elif (
            closure is not None and entry.type not in NOT_ACTIVITY and after_closing(entry, closure)
        ):
            waiting.append(entry)
    if closure is not None:
        alerts += [_alert(e, closure, None) for e in waiting]
    return alerts


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
