"""Reading the cross-case read models that only the owning authority and reviewers see: the open
alerts (`GET /alerts`) and the caseloads (`GET /caseloads`, from the case list's tables).

Access (DESIGN.md "Who may see what"): partner agencies never read alerts or caseloads, so a
caller sees the rows of the cases its agency owns and, as a reviewer, the cases its token names
(every case with `*`); `Visibility` says which.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, false, func, or_, select, true

from projections.alerts import AlertList, AlertTables
from projections.case_search import Visibility
from projections.cases import CaseTables
from projections.store import ReadModelStore

PLANS = ("looked_after", "child_protection", "child_in_need", "early_help", "none")


class BadAlertCursor(ValueError):
    """A cursor the alert list did not hand out."""


def owned_or_named(
    local_authority: Any, case_id: Any, visible: Visibility | None
) -> ColumnElement[bool]:
    """Rows of the cases `visible` sees in full: its agency's own, and a reviewer's (None:
    every row, for trusted callers only)."""
    if visible is None or visible.all_cases:
        return true()
    terms: list[ColumnElement[bool]] = []
    if visible.agency is not None:
        terms.append(local_authority == visible.agency)
    if visible.case_ids:
        terms.append(case_id.in_(sorted(visible.case_ids)))
    return or_(*terms) if terms else false()


@dataclass(frozen=True)
class AlertFilters:
    rule: str | None = None
    severity: str | None = None
    status: str | None = None  # pending or breached: the list holds open alerts only
    worker: str | None = None
    team: str | None = None


@dataclass(frozen=True)
class AlertSummary:
    """An open alert of a case (DOMAIN.md §4), with who holds the case."""

    case_id: str
    alert_id: str
    rule: str
    severity: str
    status: str
    message: str
    event_ids: list[str]
    due_at: str | None
    breached_at: str | None
    resolved_by: str | None
    allocated_worker: str | None
    team: str | None
    local_authority: str


@dataclass(frozen=True)
class AlertPage:
    alerts: list[AlertSummary]
    next_cursor: str | None
    position: int
    case_ids: list[str] = field(default_factory=list)  # for the audit, each once


_CURSOR = re.compile(
    r"(?P<since>[0-9TZ:.\-]{0,32})\|(?P<case>[0-9a-f-]{36})\|(?P<alert>[^|]{1,100})"
)


class AlertSearch:
    """Queries over the alerts read model's live tables."""

    def __init__(self, store: ReadModelStore, *, ensure: bool = True) -> None:
        self.store = store
        self.model = AlertList()
        self.tables: AlertTables = store.ensure(self.model) if ensure else store.tables(self.model)

    def list_alerts(
        self,
        filters: AlertFilters = AlertFilters(),
        *,
        visible: Visibility | None = None,
        after_cursor: str | None = None,
        limit: int = 100,
        extra: Sequence[AlertSummary] = (),
    ) -> AlertPage:
        """The open alerts `visible` may see, most overdue first (by when they fell due); the
        cursor is the last alert's place in that order. Alerts are re-evaluated as time passes,
        so an alert can change status during a walk; none is skipped that stayed open.

        `extra` are open alerts from outside the log (break-glass reads, from the access audit)
        that `visible` may see: filtered and ordered with the model's rows. At most `limit`,
        which the caller clamps (the service to `CASETRAIL_MAX_PAGE`)."""
        limit = max(1, limit)
        alerts = self.tables.alerts
        query = select(alerts).where(
            owned_or_named(alerts.c.local_authority, alerts.c.case_id, visible),
            *(
                alerts.c[name] == value
                for name, value in (
                    ("rule", filters.rule),
                    ("severity", filters.severity),
                    ("status", filters.status),
                    ("allocated_worker", filters.worker),
                    ("team", filters.team),
                )
                if value is not None
            ),
        )
        after = _parse_cursor(after_cursor) if after_cursor is not None else None
        if after is not None:
            since, case_id, alert_id = after
            query = query.where(
                or_(
                    alerts.c.since > since,
                    and_(alerts.c.since == since, alerts.c.case_id > case_id),
                    and_(
                        alerts.c.since == since,
                        alerts.c.case_id == case_id,
                        alerts.c.alert_id > alert_id,
                    ),
                )
            )
        query = query.order_by(alerts.c.since, alerts.c.case_id, alerts.c.alert_id).limit(limit + 1)
        with self.store.begin_read() as conn:
            position = self.store.position(conn, self.model.name) or 0
            rows = [row._mapping for row in conn.execute(query)]
        merged = sorted(
            [*(_alert(row) for row in rows), *(a for a in extra if _matches(a, filters, after))],
            key=_order,
        )
        more = len(merged) > limit
        summaries = merged[:limit]
        cursor = "|".join(_order(summaries[-1])) if more and summaries else None
        return AlertPage(
            summaries, cursor, position, list(dict.fromkeys(s.case_id for s in summaries))
        )


def _order(alert: AlertSummary) -> tuple[str, str, str]:
    """The list's order (and cursor): when the alert fell due, or was breached; case; alert."""
    return (alert.due_at or alert.breached_at or "", alert.case_id, alert.alert_id)


def _matches(
    alert: AlertSummary, filters: AlertFilters, after: tuple[str, str, str] | None
) -> bool:
    wanted = (
        (filters.rule, alert.rule),
        (filters.severity, alert.severity),
        (filters.status, alert.status),
        (filters.worker, alert.allocated_worker),
        (filters.team, alert.team),
    )
    return all(w is None or w == value for w, value in wanted) and (
        after is None or _order(alert) > after
    )


def _parse_cursor(text: str) -> tuple[str, str, str]:
    match = _CURSOR.fullmatch(text)
    if match is None:
        raise BadAlertCursor("an alert cursor is the `next_cursor` of the previous page")
    return match["since"], match["case"], match["alert"]


def _alert(row: Any) -> AlertSummary:
    return AlertSummary(
        case_id=row["case_id"],
        alert_id=row["alert_id"],
        rule=row["rule"],
        severity=row["severity"],
        status=row["status"],
        message=row["message"],
        event_ids=orjson.loads(row["event_ids"]),
        due_at=row["due_at"],
        breached_at=row["breached_at"],
        resolved_by=None,  # the list holds open alerts only
        allocated_worker=row["allocated_worker"],
        team=row["team"],
        local_authority=row["local_authority"],
    )


# --- caseloads -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerLoad:
    local_authority: str
    worker: str
    teams: list[str]
    open_cases: int
    by_plan: dict[str, int]
    over_threshold: bool


@dataclass(frozen=True)
class TeamLoad:
    local_authority: str
    team: str | None  # None: cases with no team recorded
    open_cases: int
    by_plan: dict[str, int]
    workers: int


@dataclass(frozen=True)
class Caseloads:
    """Open cases per worker and per team, by plan; workers holding more than `threshold`
    open cases are flagged. Unallocated open cases are counted per team (worker None)."""

    threshold: int
    workers: list[WorkerLoad]
    teams: list[TeamLoad]
    unallocated: int
    position: int


def caseloads(
    store: ReadModelStore,
    tables: CaseTables,
    position_of: str,
    *,
    visible: Visibility | None,
    threshold: int,
    team: str | None = None,
) -> Caseloads:
    """Counted from the case list's rows (`position_of`: its model name, for the position).
    With `team`, that team's counts, and the workers holding its cases with all they hold."""
    cases = tables.cases
    query = (
        select(
            cases.c.local_authority,
            cases.c.allocated_worker,
            cases.c.team,
            cases.c.plan,
            func.count().label("n"),
        )
        .where(
            cases.c.status == "open",
            owned_or_named(cases.c.local_authority, cases.c.case_id, visible),
        )
        .group_by(cases.c.local_authority, cases.c.allocated_worker, cases.c.team, cases.c.plan)
    )
    with store.begin_read() as conn:
        position = store.position(conn, position_of) or 0
        counts = conn.execute(query).all()
    workers: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"teams": set(), "by_plan": defaultdict(int)}
    )
    teams: dict[tuple[str, str | None], dict[str, Any]] = defaultdict(
        lambda: {"workers": set(), "by_plan": defaultdict(int)}
    )
    unallocated = 0
    for authority, worker, team_name, plan, n in counts:
        in_team = team is None or team_name == team
        if in_team:
            teams[(authority, team_name)]["by_plan"][plan] += n
        if worker is None:
            unallocated += n if in_team else 0
            continue
        if in_team:
            teams[(authority, team_name)]["workers"].add(worker)
        workers[(authority, worker)]["by_plan"][plan] += n
        if team_name is not None:
            workers[(authority, worker)]["teams"].add(team_name)
    worker_loads = [
        WorkerLoad(
            authority,
            worker,
            sorted(load["teams"]),
            sum(load["by_plan"].values()),
            _plans(load["by_plan"]),
            sum(load["by_plan"].values()) > threshold,
        )
        for (authority, worker), load in workers.items()
        # A team's workers, each with the whole caseload it holds: one over the threshold is
        # flagged whichever of its teams the manager looks at.
        if team is None or team in load["teams"]
    ]
    worker_loads.sort(key=lambda w: (-w.open_cases, w.local_authority, w.worker))
    team_loads = [
        TeamLoad(
            authority,
            team_name,
            sum(load["by_plan"].values()),
            _plans(load["by_plan"]),
            len(load["workers"]),
        )
        for (authority, team_name), load in teams.items()
    ]
    team_loads.sort(key=lambda t: (t.local_authority, t.team is None, t.team or ""))
    return Caseloads(threshold, worker_loads, team_loads, unallocated, position)


def _plans(counts: dict[str, int]) -> dict[str, int]:
    """Every plan named, in the order of precedence (zero where none)."""
    return {plan: counts.get(plan, 0) for plan in PLANS}
