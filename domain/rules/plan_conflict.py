"""`plan-conflict` ◦: a child in need plan and a child protection plan open at once, or two
plans of one kind (DOMAIN.md §4); visible until a manager acknowledges it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.rules.base import Alert, CaseAtMoment, Severity, Timescale, day_text, standing_alert
from domain.selection import Entry
from domain.state import PlanKey, named_plan, plan_key
from domain.values import AlertRule

TIMESCALES: tuple[Timescale, ...] = ()

_STARTS = {
    "ChildInNeedPlanStarted": "child in need",
    "ChildProtectionPlanStarted": "child protection",
}
_ENDS = {"ChildInNeedPlanEnded": "child in need", "ChildProtectionPlanEnded": "child protection"}


@dataclass
class _Plan:
    kind: str
    started: Entry
    at: int  # its place in business order
    ended: Entry | None = None
    ended_at: int | None = None

    def open_when(self, other: _Plan) -> bool:
        """Whether this plan was still open when `other` started. A plan ending on the day the
        other starts was handed over (a step down from child protection to child in need): one
        day's dated entries fold in the order they were recorded, not the order of that day."""
        if self.at > other.at:
            return False
        if self.ended is None or self.ended_at is None:
            return True
        same_day = self.ended.occurred.london_date == other.started.occurred.london_date
        return self.ended_at > other.at and not same_day


def check(case: CaseAtMoment) -> list[Alert]:
    plans = _plans(case.entries)
    alerts = []
    for plan in plans:
        clashes = [p for p in plans if p is not plan and p.open_when(plan)]
        if clashes:
            alerts.append(_alert(plan, clashes))
    return alerts


def _plans(entries: Sequence[Entry]) -> list[_Plan]:
    """Every plan with its end, paired as the state pairs them: a start of a plan already open
    (the same `plan_id`) takes its place, ending it there, and an end closes the plan it names,
    or if it names none open, the oldest open plan of its kind."""
    plans: list[_Plan] = []
    open_plans: list[tuple[PlanKey, _Plan]] = []  # oldest first
    for at, entry in enumerate(entries):
        if entry.type in _STARTS:
            started = plan_key(entry)
            for key, plan in open_plans:
                if key == started:
                    plan.ended, plan.ended_at = entry, at
            plan = _Plan(_STARTS[entry.type], entry, at)
            plans.append(plan)
            open_plans = [*((k, p) for k, p in open_plans if k != started), (started, plan)]
        elif entry.type in _ENDS:
            closed = named_plan([key for key, _ in open_plans], entry)
            if closed is not None:
                _, plan = open_plans.pop(closed)
                plan.ended, plan.ended_at = entry, at
    return plans


def _alert(plan: _Plan, clashes: list[_Plan]) -> Alert:
    others = " and ".join(
        f"{'another' if c.kind == plan.kind else 'a'} {c.kind} plan started on "
        f"{day_text(c.started.occurred.instant)}"
        for c in clashes
    )
    message = (
        f"A {plan.kind} plan started on {day_text(plan.started.occurred.instant)} while "
        f"{others} was still open"
    )
    return standing_alert(
        AlertRule.PLAN_CONFLICT,
        Severity.WARNING,
        message,
        [plan.started.id, *(c.started.id for c in clashes)],
        plan.started.occurred.instant,
        None,
    )
