"""`action-overdue`: actions agreed at a meeting or in supervision past their due date without an
`ActionCompleted` (DOMAIN.md §4).

An alert is named by the event that set the actions, so one meeting's actions share one alert
(its id must be an event a manager can acknowledge). It falls due with the earliest of its
actions outstanding or completed late, at the end of that action's due date, and is resolved once
every action is completed: an action done late keeps it breached while others are outstanding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from domain.moments import end_of_day
from domain.rules.base import (
    Alert,
    CaseAtMoment,
    Severity,
    Timeline,
    Timescale,
    breach_moment,
    day_text,
    deadline_alert,
    timelines,
)
from domain.selection import Entry
from domain.values import AlertRule, MeetingKind

TIMESCALES: tuple[Timescale, ...] = ()  # no number: see the docstring

SOURCES = frozenset({"MeetingHeld", "SupervisionHeld", "StrategyDiscussionHeld"})


@dataclass(frozen=True, slots=True)
class _Action:
    action_id: str
    due_at: datetime
    completed: Entry | None


def check(case: CaseAtMoment) -> list[Alert]:
    completions = timelines(case.of_type("ActionCompleted"), "action_id")
    alerts = []
    for source in case.of_type(*SOURCES):
        actions = [_action(item, source, completions) for item in source.data.get("actions", ())]
        if not actions:
            continue
        outstanding = [a for a in actions if a.completed is None]
        # Breached from the first action not completed by its due date, until every one is.
        done_late = [a for a in actions if a.completed and _late(a.completed, a.due_at)]
        late = [a.due_at for a in done_late]
        if outstanding:
            due_at, resolved_by = min(late + [a.due_at for a in outstanding]), None
            message = (
                f"{_what(source)} has actions not recorded as completed: {_listed(outstanding)}"
            )
            if done_late:
                message += f"; completed late: {_listed(done_late)}"
        else:
            due_at = min(late) if late else max(a.due_at for a in actions)
            resolved_by = max((a.completed for a in actions if a.completed), key=Entry.sort_key)
            listed = ", ".join(a.action_id for a in actions)
            message = f"{_what(source)}: every action recorded as completed ({listed})"
        alerts.append(
            deadline_alert(
                case,
                AlertRule.ACTION_OVERDUE,
                Severity.WARNING,
                message,
                [source.id],
                due_at,
                resolved_by,
            )
        )
    return alerts


def _action(item: Mapping[str, Any], source: Entry, completions: Mapping[Any, Timeline]) -> _Action:
    # Action ids are the recorder's own and may be carried from meeting to meeting: a completion
    # counts for the actions set on or before its day.
    of_action = completions.get(item["action_id"])
    completed = of_action.first_from(source.occurred.london_date) if of_action else None
    return _Action(item["action_id"], _end_of(item["due"]), completed)


def _listed(actions: Sequence[_Action]) -> str:
    return ", ".join(f"{a.action_id} (due {day_text(a.due_at)})" for a in actions)


@lru_cache(maxsize=65536)
def _end_of(due: str) -> datetime:
    """The end (London) of an action's due date."""
    return end_of_day(date.fromisoformat(due))


def _late(completed: Entry, due_at: datetime) -> bool:
    return completed.occurred.instant >= breach_moment(due_at)


def _what(source: Entry) -> str:
    day = day_text(source.occurred.instant)
    if source.type == "SupervisionHeld":
        return f"Supervision on {day}"
    if source.type == "StrategyDiscussionHeld":
        return f"Strategy discussion on {day}"
    return f"{MeetingKind(source.data['kind']).label} on {day}"
