"""Rows 8 and 9: the alerts, read per case over HTTP and refreshed across every case in-process.

- Row 8 reads `GET /cases/{id}/alerts` of the cases row 4 reads (every rule evaluated over the
  case's events at request time), interleaved with `GET /cases/{id}` of the same case.
- Row 9 times the alerts read model's refresh (`Runner.refresh("alerts")`: what the server's
  runner runs on its schedule and `casetrail alerts refresh` runs at once, keeping `GET /alerts`
  current) on a store of its own: many small cases, each a `CaseOpened` and a `ContactReceived`
  dated the day the bench's clock says, written in-process through `CaseRecords` with a
  `SettableClock`, the log applied by a `Runner` holding `[AlertList()]` — so each case holds a
  pending `decision-overdue` alert due by the end of the next working day. The clock then moves
  past that deadline and a refresh re-evaluates every case: every alert becomes breached. Before
  each timed refresh the model's rows are put back as the apply left them (untimed), so every
  sample does the same work; each refresh is checked to have changed every case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, func, insert, select

from bench import history
from bench.events import Event
from bench.timing import Timing, interleave, merge, repeat
from projections.alerts import AlertList, AlertTables
from projections.runner import Runner
from service.clock import SettableClock
from service.records import CaseRecords
from service.settings import Settings
from tests.support import event, payload

# Row 9's clock: Thursday 26 November 2026, noon UTC. A contact that day is due by the end of
# Friday 27th (London time) and breached from Saturday 28th; the refresh runs on Monday 30th.
WRITTEN_AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
REFRESHED_AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
RULE = "decision-overdue"


def small_case(number: int, day: str) -> list[Event]:
    """A case opened on `day` with one contact received that day and no decision yet."""
    contact = payload("ContactReceived", contact_id=f"C-{number}")
    return [event("CaseOpened", day), event("ContactReceived", day, data=contact)]


def write_cases(records: CaseRecords, count: int, progress: Callable[[str], None]) -> int:
    """Open `count` small cases through `CaseRecords`; the number of events in the log."""
    day = records.clock().date().isoformat()
    step = max(1, count // 5)
    for number in range(count):
        if number and number % step == 0:
            progress(f"writing the cases: {number:,} of {count:,}")
        records.open_case(None, history.stored_forms(small_case(number, day)), by=history.WRITER)
    return history.log_size(records)


@dataclass
class AlertModel:
    """The alerts read model of row 9's store, kept by a `Runner`, its rows restorable."""

    runner: Runner
    clock: SettableClock
    saved: dict[str, list[dict[str, Any]]]

    @property
    def tables(self) -> AlertTables:
        tables: AlertTables = self.runner.tables["alerts"]
        return tables

    def counts(self) -> dict[str, int]:
        """The open alerts of `RULE` by status, e.g. {"pending": 200}."""
        alerts = self.tables.alerts
        with self.runner.store.begin_read() as conn:
            rows = conn.execute(
                select(alerts.c.status, func.count())
                .where(alerts.c.rule == RULE)
                .group_by(alerts.c.status)
            ).all()
        return {str(status): int(count) for status, count in rows}

    def save(self) -> None:
        with self.runner.store.begin_read() as conn:
            self.saved = {
                table.name: [dict(row._mapping) for row in conn.execute(select(table))]
                for table in self.tables.all()
            }

    def restore(self) -> None:
        """Put back the rows `save` kept (the model's position is untouched by a refresh)."""
        tables: tuple[Table, ...] = self.tables.all()
        with self.runner.store.begin_write() as conn:
            for table in reversed(tables):
                conn.execute(table.delete())
            for table in tables:
                if self.saved[table.name]:
                    conn.execute(insert(table), self.saved[table.name])


def open_model(settings: Settings, records: CaseRecords, clock: SettableClock) -> AlertModel:
    """A runner holding `[AlertList()]`, caught up with the log at the clock's time."""
    runner = Runner(settings, records, [AlertList()])
    runner.run_once()
    model = AlertModel(runner, clock, {})
    model.save()
    return model


def expect_counts(model: AlertModel, expected: dict[str, int], when: str) -> None:
    got = model.counts()
    if got != expected:
        raise RuntimeError(f"{when}: {RULE} alerts by status {got}, expected {expected}")


def refresh_rounds(
    model: AlertModel,
    records: CaseRecords,
    *,
    cases: int,
    events: int,
    page: int,
    rounds: int,
    log_reads_per_round: int,
) -> tuple[Timing, Timing]:
    """`rounds` timed refreshes of every case, each after restoring the model's rows as the
    apply left them and moving the clock past the deadline (untimed), each interleaved with
    `log_reads_per_round` raw log reads; every refresh is checked to have re-evaluated every
    case and turned every pending alert into a breached one."""

    def refresh() -> None:
        changed = model.runner.refresh("alerts")
        if changed != cases:
            raise RuntimeError(f"the refresh re-evaluated {changed:,} cases, expected {cases:,}")

    refreshed: list[Timing] = []
    raw: list[Timing] = []
    for _ in range(rounds):
        model.restore()
        model.clock.set(WRITTEN_AT)
        expect_counts(model, {"pending": cases}, "before the refresh")
        model.clock.set(REFRESHED_AT)
        timed, read = interleave(
            repeat(refresh, 1, cases),
            history.log_reads(records, page, events, log_reads_per_round),
        )
        expect_counts(model, {"breached": cases}, "after the refresh")
        refreshed.append(timed)
        raw.append(read)
    return merge(refreshed), merge(raw)
