"""The alert rules of DOMAIN.md §4, each in its own module, and their evaluation over a case.

`evaluate` selects the case's entries by `as_of`/`known_at`, runs every rule, and applies the
managers' `AlertAcknowledged` entries: an acknowledgement resolves the alerts of its rule whose
naming event (the first of `event_ids`) it lists, and stays visible as `resolved_by`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from types import ModuleType
from uuid import UUID

from domain.envelope import RecordedEvent
from domain.rules import (
    action_overdue,
    activity_on_closed_case,
    assessment_overdue,
    break_glass_access,
    child_not_seen,
    cin_review_overdue,
    concern_not_followed_up,
    core_group_overdue,
    cp_visit_overdue,
    decision_overdue,
    icpc_overdue,
    information_request_unanswered,
    lac_review_overdue,
    lac_visit_overdue,
    late_recording,
    meeting_not_minuted,
    minutes_not_circulated,
    no_allocated_worker,
    plan_conflict,
    repeat_referral,
    review_conference_overdue,
    sharing_omitted_concerns,
    supervision_overdue,
    voice_not_recorded,
)
from domain.rules.base import (
    Alert,
    AlertStatus,
    BreakGlassRead,
    CaseAtMoment,
    Rule,
    Severity,
    Timescale,
    breach_moment,
)
from domain.selection import Entry, next_occurrence, select
from domain.state import CaseState, NothingRecorded, fold

# Each rule module has `check(case) -> list[Alert]` and `TIMESCALES` (the numbers it counts with).
# In DOMAIN.md §4's order.
RULE_MODULES: tuple[ModuleType, ...] = (
    decision_overdue,
    assessment_overdue,
    icpc_overdue,
    core_group_overdue,
    review_conference_overdue,
    cp_visit_overdue,
    cin_review_overdue,
    concern_not_followed_up,
    meeting_not_minuted,
    minutes_not_circulated,
    voice_not_recorded,
    child_not_seen,
    supervision_overdue,
    action_overdue,
    information_request_unanswered,
    sharing_omitted_concerns,
    repeat_referral,
    late_recording,
    no_allocated_worker,
    activity_on_closed_case,
    plan_conflict,
    lac_review_overdue,
    lac_visit_overdue,
    break_glass_access,
)
RULES: tuple[Rule, ...] = tuple(module.check for module in RULE_MODULES)
TIMESCALES: tuple[Timescale, ...] = tuple(t for m in RULE_MODULES for t in m.TIMESCALES)
LOCAL_TIMESCALES: dict[str, Timescale] = {t.key: t for t in TIMESCALES if t.local}

__all__ = [
    "LOCAL_TIMESCALES",
    "RULES",
    "TIMESCALES",
    "Alert",
    "AlertStatus",
    "BreakGlassRead",
    "Evaluation",
    "Severity",
    "Timescale",
    "evaluate",
]


@dataclass(frozen=True)
class Evaluation:
    """The alerts of a case as judged at `as_of`, and the first moment after it at which they
    may change with no new event (an open alert's deadline passing, or an entry dated after
    `as_of` happening), if any."""

    alerts: list[Alert]
    next_change: datetime | None
    state: CaseState

    @property
    def open(self) -> list[Alert]:
        return [a for a in self.alerts if a.is_open]


def evaluate(
    case_id: UUID,
    events: Iterable[RecordedEvent],
    *,
    as_of: datetime,
    known_at: datetime,
    rules: Sequence[Rule] = RULES,
    timescales: Mapping[str, int] | None = None,
    break_glass_reads: Sequence[BreakGlassRead] = (),
) -> Evaluation:
    """Every rule's alerts for the case as of `as_of`, on what was recorded by `known_at`
    (break-glass reads, from the access audit, count from the moment they happened)."""
    entries = select(events, as_of=as_of, known_at=known_at)
    if not entries or entries[0].type != "CaseOpened":
        raise NothingRecorded(case_id)
    state = fold(case_id, entries, as_of=as_of, known_at=known_at)
    reads = [r for r in break_glass_reads if r.at <= min(as_of, known_at)]
    case = CaseAtMoment(entries, state, as_of, timescales or {}, reads)
    alerts = [alert for rule in rules for alert in rule(case)]
    alerts = _acknowledged(alerts, case)
    # `a.rule` is a StrEnum: it sorts as its value.
    alerts.sort(key=lambda a: (a.due_at or a.breached_at or as_of, a.rule, a.event_ids))
    changes = [
        breach_moment(a.due_at) for a in alerts if a.status is AlertStatus.PENDING and a.due_at
    ]
    # An entry dated after `as_of` changes the case when it happens.
    upcoming = next_occurrence(events, as_of=as_of, known_at=known_at)
    if upcoming is not None:
        changes.append(upcoming)
    return Evaluation(alerts, min(changes, default=None), state)


def _acknowledged(alerts: list[Alert], case: CaseAtMoment) -> list[Alert]:
    acknowledgements: dict[tuple[str, str], Entry] = {}
    for ack in case.of_type("AlertAcknowledged"):
        for event_id in ack.data["event_ids"]:
            acknowledgements.setdefault((ack.data["rule"], str(event_id)), ack)
    if not acknowledgements:
        return alerts
    return [
        _resolved(a, by)
        if a.is_open and (by := acknowledgements.get((a.rule.value, a.event_ids[0])))
        else a
        for a in alerts
    ]


def _resolved(alert: Alert, ack: Entry) -> Alert:
    """The alert resolved by a manager's acknowledgement: one acknowledged before its deadline
    passed was never breached (as with the event its rule names); one resolved late keeps the
    moment it was breached. An acknowledgement is an act on the record: it was made when it was
    recorded, whatever earlier date it gives."""
    breached_at = alert.breached_at
    made = max(ack.occurred.instant, ack.event.recorded_at)
    if alert.due_at is not None and breached_at is not None and made < breached_at:
        breached_at = None
    return replace(alert, status=AlertStatus.RESOLVED, breached_at=breached_at, resolved_by=ack.id)
