"""`activity-on-closed-case` ◦: an entry made while the case is closed, so that someone reads
it (DOMAIN.md §4); resolved by a manager's acknowledgement or by the case reopening.

An entry is made while the case is closed when it falls, in business order, after a closure and
before an episode opens again; or when it was recorded while the record, as it stood, said the
case was closed (a school's late report of an earlier visit, recorded after the closure)."""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime

from domain.catalogue import type_label
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
from domain.state import EPISODE_CLOSERS, EPISODE_OPENERS, NOT_ACTIVITY, after_closing
from domain.values import AlertRule

TIMESCALES: tuple[Timescale, ...] = ()
TURNS = EPISODE_OPENERS | EPISODE_CLOSERS  # what opens or closes an episode
MAX_VERSION = 2**63  # above every version: a key after every turn of a moment


def check(case: CaseAtMoment) -> list[Alert]:
    flagged = {alert.event_ids[0]: alert for alert in _in_business_order(case)}
    for alert in _recorded_while_closed(case):
        flagged.setdefault(alert.event_ids[0], alert)
    if not flagged:
        return []
    return [flagged[e.id] for e in case.entries if e.id in flagged]


def _in_business_order(case: CaseAtMoment) -> list[Alert]:
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


def _recorded_while_closed(case: CaseAtMoment) -> list[Alert]:
    """The entries recorded, by the judged moment, on a later day than a closure that the
    record then held and no episode had followed; each resolved by the first episode opening
    after that closure recorded after it.

    One pass in recorded order: the turns (openings and closings) recorded before an entry are
    kept in business order, and the closure the case stood at is folded again only when they,
    or those that had happened by the entry's recording, change (a few times a case)."""
    turns = case.of_type(*TURNS)  # business order
    first_closure = min((t.version for t in turns if t.type in EPISODE_CLOSERS), default=None)
    if first_closure is None:
        return []
    candidates = [
        e
        for e in case.entries
        if e.version > first_closure
        and e.type not in NOT_ACTIVITY
        and e.type not in TURNS
        and e.event.recorded_at <= case.at
    ]
    unseen = sorted(turns, key=lambda t: t.version)
    known: list[Entry] = []  # the turns recorded before the entry at hand, in business order
    keys: list[tuple[datetime, int]] = []  # their business-order keys
    standing: dict[tuple[int, int], Entry | None] = {}
    alerts = []
    for entry in sorted(candidates, key=lambda e: e.version):
        while unseen and unseen[0].version < entry.version:
            turn = unseen.pop(0)
            at = bisect_right(keys, (turn.occurred.instant, turn.version))
            keys.insert(at, (turn.occurred.instant, turn.version))
            known.insert(at, turn)
        recorded_at = entry.event.recorded_at
        happened = bisect_right(keys, (recorded_at, MAX_VERSION))
        if (len(known), happened) not in standing:
            standing[len(known), happened] = _standing_closure(known[:happened])
        closure = standing[len(known), happened]
        if closure is None or london_day(recorded_at) <= closure.occurred.london_date:
            continue
        reopening = min(
            (t for t in _after(turns, closure) if t.version > entry.version),
            key=lambda t: t.version,
            default=None,
        )
        alerts.append(_alert(entry, closure, reopening, recorded=True))
    return alerts


def _standing_closure(turns: list[Entry]) -> Entry | None:
    """The closure the case stands at after these turns (in business order); None if an
    episode is open (or none has been)."""
    is_open, closure = False, None
    for turn in turns:
        if turn.type in EPISODE_OPENERS:
            is_open, closure = True, None
        elif is_open:
            is_open, closure = False, turn
    return closure


def _after(turns: list[Entry], closure: Entry) -> list[Entry]:
    """The episode openings that come after `closure` in business order."""
    return [t for t in turns[turns.index(closure) + 1 :] if t.type in EPISODE_OPENERS]


def _alert(
    entry: Entry, closure: Entry, reopened: Entry | None, *, recorded: bool = False
) -> Alert:
    message = (
        f"{type_label(entry.type)} ({entry.agency}, {day_text(entry.occurred.instant)}) was "
        f"recorded while the case was closed (since {day_text(closure.occurred.instant)})"
    )
    if recorded:
        message += f", on {day_text(entry.event.recorded_at)}"
    return standing_alert(
        AlertRule.ACTIVITY_ON_CLOSED_CASE,
        Severity.WARNING,
        message,
        [entry.id, closure.id],
        entry.event.recorded_at if recorded else entry.occurred.instant,
        reopened,
    )
