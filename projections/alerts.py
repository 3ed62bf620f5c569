"""The alerts read model (`GET /alerts`): the open alerts of every case, judged now.

A case's alerts are evaluated by `domain.rules` over its events up to the newest one applied, at
the log reader's clock, whenever events of the case arrive (once per case per page). An alert
also changes with no new event, when its deadline passes: each case keeps `next_check`, the
first moment its alerts would change by time alone, and `refresh` (run by the runner on a
schedule and by `casetrail alerts refresh`) re-evaluates the cases whose moment has come, from
exactly the versions the model has applied.

Rows hold what the owning authority and reviewers see; partner agencies never read alerts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import (
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    select,
)

from domain.envelope import RecordedEvent
from domain.moments import format_utc
from domain.rules import Alert, AlertStatus, Severity, evaluate
from domain.values import AlertRule
from projections.model import LogReader
from projections.per_case import PerCaseModel, replace_rows

ALERTS = "casetrail_alerts"
ALERT_CASES = "casetrail_alert_cases"
SEVERITY_RANK = {Severity.INFO: 1, Severity.WARNING: 2, Severity.CRITICAL: 3}
# Each member's text, looked up (an enum's `.value` costs a descriptor call, thrice a row).
_TEXT: dict[Any, str] = {m: m.value for kind in (AlertRule, Severity, AlertStatus) for m in kind}
_CHUNK = 500
REFRESH_BATCH = 500


@dataclass(frozen=True)
class AlertTables:
    alerts: Table
    cases: Table

    def all(self) -> tuple[Table, Table]:
        return (self.cases, self.alerts)


def alert_tables(metadata: MetaData, suffix: str = "") -> AlertTables:
    alerts = Table(
        ALERTS + suffix,
        metadata,
        Column("case_id", String(36), nullable=False),
        Column("alert_id", String(100), nullable=False),
        Column("rule", String(40), nullable=False),
        Column("severity", String(10), nullable=False),
        Column("severity_rank", Integer, nullable=False),
        Column("status", String(10), nullable=False),
        Column("message", Text, nullable=False),
        Column("event_ids", Text, nullable=False),  # a JSON list
        Column("due_at", String(32)),
        Column("breached_at", String(32)),
        # The listing's order: when the alert fell due (or, with no deadline, was breached).
        Column("since", String(32), nullable=False),
        Column("local_authority", String(200), nullable=False),
        Column("allocated_worker", Text),
        Column("team", Text),
        PrimaryKeyConstraint("case_id", "alert_id", name=f"{ALERTS}_pkey{suffix}"),
        Index(f"{ALERTS}_by_authority{suffix}", "local_authority", "since", "case_id", "alert_id"),
        Index(f"{ALERTS}_by_since{suffix}", "since", "case_id", "alert_id"),
    )
    cases = Table(
        ALERT_CASES + suffix,
        metadata,
        Column("case_id", String(36), nullable=False),
        Column("version", Integer, nullable=False),
        # The first moment the case's alerts change with no new event (null: never).
        Column("next_check", String(32)),
        PrimaryKeyConstraint("case_id", name=f"{ALERT_CASES}_pkey{suffix}"),
        Index(f"{ALERT_CASES}_by_next_check{suffix}", "next_check"),
    )
    return AlertTables(alerts, cases)


@dataclass(frozen=True)
class CaseAlerts:
    """A case's rows: its entry in the cases table and its open alerts (tuples in the order of
    the alerts table's columns: a case can hold thousands)."""

    case: dict[str, Any]
    alerts: list[tuple[Any, ...]]


def case_alerts(case_id: UUID, events: Sequence[RecordedEvent], log: LogReader) -> CaseAlerts:
    """The case's open alerts as judged now, on everything recorded (versions 1..n)."""
    now = log.clock()
    known_at = max(now, events[-1].recorded_at)  # recorded_at never decreases along a case
    evaluation = evaluate(
        case_id, events, as_of=now, known_at=known_at, timescales=log.rule_timescales
    )
    state = evaluation.state
    key = str(case_id)
    case = {
        "case_id": key,
        "version": events[-1].version,
        "next_check": format_utc(evaluation.next_change) if evaluation.next_change else None,
    }
    return CaseAlerts(
        case,
        [
            _row(key, alert, state.local_authority, state.allocated_worker, state.team)
            for alert in evaluation.open
        ],
    )


def _row(
    case_id: str, alert: Alert, authority: str, worker: str | None, team: str | None
) -> tuple[Any, ...]:
    """The alert's row, in the order of `alert_tables`' columns."""
    due = format_utc(alert.due_at) if alert.due_at else None
    breached = format_utc(alert.breached_at) if alert.breached_at else None
    return (
        case_id,
        alert.alert_id,
        _TEXT[alert.rule],
        _TEXT[alert.severity],
        SEVERITY_RANK[alert.severity],
        _TEXT[alert.status],
        alert.message,
        orjson.dumps(list(alert.event_ids)).decode(),
        due,
        breached,
        due or breached or "",  # since
        authority,
        worker,
        team,
    )


class AlertList(PerCaseModel[AlertTables, CaseAlerts]):
    """The open alerts of every case, re-evaluated when its events arrive and when time passes."""

    name = "alerts"

    def define(self, metadata: MetaData, suffix: str = "") -> AlertTables:
        return alert_tables(metadata, suffix)

    def table_list(self, tables: AlertTables) -> Sequence[Table]:
        return tables.all()

    def rows_of(self, case_id: UUID, events: Sequence[RecordedEvent], log: LogReader) -> CaseAlerts:
        return case_alerts(case_id, events, log)

    def refresh(self, conn: Connection, tables: AlertTables, log: LogReader) -> int:
        """Re-evaluate (at most `REFRESH_BATCH` of) the cases whose alerts have changed by time
        alone since they were last evaluated, from the versions already applied (never ahead
        of the model's position)."""
        now = format_utc(log.clock())
        due = conn.execute(
            select(tables.cases.c.case_id, tables.cases.c.version)
            .where(tables.cases.c.next_check <= now)
            .order_by(tables.cases.c.next_check)
            .limit(REFRESH_BATCH)
        ).all()
        rows = [
            case_alerts(UUID(case_id), log.events_of(UUID(case_id), limit=version), log)
            for case_id, version in due
        ]
        self.write(conn, tables, rows)
        return len(rows)

    def write(self, conn: Connection, tables: AlertTables, rows: Sequence[CaseAlerts]) -> None:
        replace_rows(
            conn,
            [r.case["case_id"] for r in rows],
            [
                (tables.cases, [r.case for r in rows]),
                (tables.alerts, [a for r in rows for a in r.alerts]),
            ],
        )
