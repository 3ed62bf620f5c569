"""Runs every measure on SQLite, and on PostgreSQL when it answers, and writes the report.

Per store, each service measure interleaved with its baseline:

1. one-event appends to small cases vs the library's load-then-append (1a; target: at least
   half its events/s), the library's raw one-event insert (1b), and a one-row transaction with
   the bare driver at the same durability (1c, `bench/raw_inserts.py`: the disk's limit);
2. 100-event appends (they build the long case) vs the library's 100-event transactions (2;
   target: at least half its events/s), and a 100-row transaction with the bare driver (2b);
4. cold reads (first read after a server restart) and warm reads of state and chronology, for a
   1,000-event case and the long case, vs cold `repository.get` of a library aggregate; and, as
   a note, the warm reads' milliseconds per 1,000 events of the case at both lengths;
3. one-event appends to the long case vs appends to the small cases (3a, the service against
   itself; target: ratio of medians at most 2), and vs the library's uncached load-then-append;
   and the first append to the long case after a restart;
5. warm chronology reads of the 1,000-event case by the service (every read audited) vs the
   same app without the audit write (`bench/unaudited.py`), served beside it on the same store;
   and, as a note, `AuditLog.record` alone, in-process on a fresh audit store;
6. on a store of its own with a long log of many cases (`bench/history.py`), a rebuild of each
   read model (6a, 6b, ...) and of every one in turn (6) vs the raw log read
   (`select_notifications` pages + `records.decode`);
7. on that store, paging `GET /feed` over the whole log vs the same raw log read;
8. warm `GET /cases/{id}/alerts` of the cases measure 4 reads vs warm `GET /cases/{id}` of the
   same case, on the same server, interleaved (8a, 8b; run right after measure 4, before
   measure 3's appends lengthen the long case); and the same alerts timings vs measure 4's cold
   `repository.get` of the library aggregate of the same length (8c, 8d);
9. on a store of its own with many small cases, each holding a pending alert
   (`bench/alerts.py`), the alerts read model's refresh once every deadline has passed vs the
   raw log read of that store;
10. on two stores of their own (`bench/store_size.py`), warm and cold reads of state,
    chronology and alerts of a 1,000-event case in a store of `big_store_events` events (1,000
    cases of 1,000 events in the full run) vs the same-shaped case in a store holding only it,
    both served at once, the warm reads interleaved: query time against the size of the store.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from bench import alerts, audit_write, history, library, over_http, raw_inserts, store_size
from bench.over_http import VIEWS
from bench.plan import FULL, QUICK, Plan
from bench.report import Report, Row, machine
from bench.server import Service, mint_token, running_service
from bench.stores import Store, postgres_store, postgres_url, postgres_version, sqlite_store
from bench.timing import Timing, interleave, merge, repeat, time_loop
from projections.rebuild import RebuildResult
from projections.registry import default_models
from service.clock import SettableClock
from service.records import CaseRecords

READ_TARGET_MS = 30.0
AUDITED_READS_FLOOR = 0.5  # audited chronology reads/s at least half the unaudited
# Rows 6 and 7 on SQLite: events/s of a rebuild of each read model, and of paging the feed.
REBUILD_TARGET_RATE = 20_000.0
FEED_TARGET_RATE = 20_000.0
ALERTS_TARGET_MS = 50.0  # row 8 on SQLite: GET alerts of the 1,000-event case, median
# Rows 1a and 2: the service's events/s at least this fraction of the library's.
APPEND_RATE_FLOOR = 0.5
# Row 3a: an append to the long case within this factor of one to a small case (medians).
LONG_APPEND_MAX_RATIO = 2.0


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@dataclass
class Context:
    """What one store's run shares between its phases."""

    store: Store
    plan: Plan
    env: dict[str, str]
    log: Path
    token: str
    app: library.Library
    raw: raw_inserts.RawStore
    notes: list[str]

    def row(
        self,
        id_: str,
        measure: str,
        service: Timing,
        baseline_label: str,
        baseline: Timing,
        *,
        rate: bool = False,
        target_ms: float | None = None,
        unit: str = "events",
        rate_floor: float | None = None,
        max_ratio: float | None = None,
    ) -> Row:
        return Row(
            id_,
            self.store.name,
            measure,
            service,
            baseline_label,
            baseline,
            rate,
            target_ms,
            unit,
            rate_floor,
            max_ratio=max_ratio,
        )

    def raw_label(self, rows: int) -> str:
        raw = self.raw
        per = "1 row per transaction" if rows == 1 else f"{rows} rows, one transaction"
        return f"raw {raw.driver}: {per}, plain table ({raw.durability})"

    def say(self, message: str) -> None:
        progress(f"{self.store.name}: {message}")


@dataclass(frozen=True)
class ReadCase:
    """A case read back in measure 4, on both sides."""

    label: str  # its number of events, e.g. "1,000"
    events: int  # the same, as a number
    case_id: str
    aggregate_id: UUID
    library_reads: int
    target_ms: float | None
    alerts_target_ms: float | None  # row 8's target, on SQLite


@dataclass
class Built:
    """What the write phase leaves for the read phase."""

    small_cases: list[over_http.Case]
    long_case: over_http.Case
    library_long: library.Target
    read_cases: list[ReadCase]


def run_store(ctx: Context) -> list[Row]:
    with running_service(ctx.env, ctx.log, ctx.token) as service:
        rows, built = _writes(ctx, service)
    ctx.say(f"4 — cold reads and appends ({ctx.plan.cold_rounds} restarts per view)")
    cold = over_http.after_restarts(
        ctx.env,
        ctx.log,
        ctx.token,
        {case.label: case.case_id for case in built.read_cases},
        built.small_cases[0],
        built.long_case,
        ctx.plan.cold_rounds,
    )
    with running_service(ctx.env, ctx.log, ctx.token) as service:
        read_rows, library_gets = _reads(ctx, service, built, cold.reads)
        rows += read_rows
        # Before measure 3's appends, so the long case still holds `long_events` events.
        alert_rows = _alert_reads(ctx, service, built.read_cases, library_gets)
        rows += _long_appends(ctx, service, built, cold.first_append)
        rows += _audited_reads(ctx, service, built.read_cases[0])
    return rows + alert_rows


def _writes(ctx: Context, service: Service) -> tuple[list[Row], Built]:
    plan = ctx.plan
    ctx.say("1 — one-event appends to small cases")
    rows, small_cases = _small_appends(ctx, service)
    ctx.say(f"2 — {plan.batch_size}-event appends, building the {plan.long_events:,}-event case")
    long_case = over_http.open_cases(service, 1)[0]
    builder = library.BatchBuilder(ctx.app, plan.long_batches, plan.batch_size)
    raw_rows = raw_inserts.Rows.of(plan.long_batches * plan.batch_size)
    batches, library_batches, raw_batches = interleave(
        over_http.batch_appends(service, long_case, plan.long_batches, plan.batch_size),
        builder.loop,
        raw_inserts.batch_inserts(ctx.raw, raw_rows, plan.batch_size),
    )
    label = f"POST {plan.batch_size} events/request to one case"
    rows += [
        ctx.row(
            "2",
            label,
            batches,
            f"library: {plan.batch_size} events, one `save`",
            library_batches,
            rate=True,
            rate_floor=APPEND_RATE_FLOOR,
        ),
        ctx.row("2b", label, batches, ctx.raw_label(plan.batch_size), raw_batches, rate=True),
    ]
    ctx.notes.append(
        f"{ctx.store.name}: rows 1c and 2b — {ctx.raw.driver} alone, {ctx.raw.how}; each row "
        "the orjson of one of the client event dicts the service is sent, mean "
        f"{raw_rows.mean_bytes:,.0f} bytes."
    )
    ctx.say(f"building the {plan.read_events:,}-event case")
    read_case, library_read = _build_read_case(ctx, service)
    read_cases = [
        ReadCase(
            f"{plan.read_events:,}",
            plan.read_events,
            read_case,
            library_read,
            plan.reads,
            READ_TARGET_MS,
            ALERTS_TARGET_MS if ctx.store.name == "sqlite" else None,
        ),
        ReadCase(
            f"{plan.long_events:,}",
            plan.long_events,
            long_case[0],
            builder.target[0],
            plan.library_long_reads,
            None,
            None,
        ),
    ]
    return rows, Built(small_cases, long_case, builder.target, read_cases)


def _small_appends(ctx: Context, service: Service) -> tuple[list[Row], list[over_http.Case]]:
    plan, app, n = ctx.plan, ctx.app, ctx.plan.single_appends
    cases = over_http.open_cases(service, plan.small_cases)
    aggregates = library.start_aggregates(app, plan.small_cases)
    over_http.wait_caught_up(service)  # the runner process has started and is idle
    interleave(
        over_http.single_appends(service, cases, plan.append_warmup),
        library.load_then_append(app, aggregates, plan.append_warmup),
    )
    appends, library_appends, raw, driver = interleave(
        over_http.single_appends(service, cases, n),
        library.load_then_append(app, aggregates, n),
        library.raw_inserts(app, n),
        raw_inserts.single_inserts(ctx.raw, raw_inserts.Rows.of(n)),
    )
    label = (
        f"POST 1 event/request to {plan.small_cases} small cases (≤{plan.small_case_events} events)"
    )
    rows = [
        ctx.row(
            "1a",
            label,
            appends,
            "library: `repository.get` + 1 event + `save`, no cache",
            library_appends,
            rate=True,
            rate_floor=APPEND_RATE_FLOOR,
        ),
        ctx.row(
            "1b",
            label,
            appends,
            "library: `recorder.insert_events` of 1 `StoredEvent`",
            raw,
            rate=True,
        ),
        ctx.row("1c", label, appends, ctx.raw_label(1), driver, rate=True),
    ]
    return rows, cases


def _build_read_case(ctx: Context, service: Service) -> tuple[str, UUID]:
    plan = ctx.plan
    case = over_http.open_cases(service, 1)[0]
    builder = library.BatchBuilder(ctx.app, plan.read_batches, plan.batch_size)
    interleave(
        over_http.batch_appends(service, case, plan.read_batches, plan.batch_size), builder.loop
    )
    return case[0], builder.target[0]


def _reads(
    ctx: Context, service: Service, built: Built, cold: dict[tuple[str, str], Timing]
) -> tuple[list[Row], dict[str, Timing]]:
    """Row 4; and the library's cold `repository.get` of each case, by its label (rows 8c
    and 8d compare the alerts with them)."""
    plan, app = ctx.plan, ctx.app
    ctx.say("4 — warm reads, and the library's reconstruction")
    rows: list[Row] = []
    floors: list[Timing] = []
    library_gets: dict[str, Timing] = {}
    warm_rows: dict[str, list[Row]] = {view: [] for view in VIEWS}
    ids = iter("abcdefgh")
    for case in built.read_cases:
        interleave(
            *(over_http.reads(service, case.case_id, view, plan.warmup) for view in VIEWS),
            library.cold_gets(app, case.aggregate_id, 1),
        )
        *warm, floor, baseline = interleave(
            *(over_http.reads(service, case.case_id, view, plan.reads) for view in VIEWS),
            repeat(lambda: service.get("/health"), plan.reads),
            library.cold_gets(app, case.aggregate_id, case.library_reads),
        )
        floors.append(floor)
        library_gets[case.label] = baseline
        base_label = f"library: `repository.get` of {case.label} events, no cache"
        for view, timing in zip(VIEWS, warm, strict=True):
            for kind, figure in (
                ("warm", timing),
                ("cold: first after restart", cold[view, case.label]),
            ):
                rows.append(
                    ctx.row(
                        f"4{next(ids)}",
                        f"GET {view}, {case.label} events, {kind}",
                        figure,
                        base_label,
                        baseline,
                        target_ms=case.target_ms,
                    )
                )
                if kind == "warm":
                    warm_rows[view].append(rows[-1])
    floor = merge(floors)
    ctx.notes.append(
        f"{ctx.store.name}: GET /health (no token, no store), interleaved with the warm reads: "
        f"median {floor.median_ms:.2f} ms, p95 {floor.p95_ms:.2f} ms — the HTTP floor."
    )
    ctx.notes.append(_length_note(ctx.store.name, built.read_cases, warm_rows))
    return rows, library_gets


def _length_note(name: str, cases: list[ReadCase], warm_rows: dict[str, list[Row]]) -> str:
    """Query time against the case's length: row 4's warm medians per 1,000 events."""
    parts = []
    for view, rows in warm_rows.items():
        per = [
            row.service.median_ms * 1000 / case.events
            for row, case in zip(rows, cases, strict=True)
        ]
        figures = ", ".join(
            f"{ms:.2f} ms at {case.label} events ({row.id})"
            for ms, case, row in zip(per, cases, rows, strict=True)
        )
        parts.append(f"{view} {figures} — {per[-1] / per[0]:.2f}x")
    return (
        f"{name}: query time against the case's length — row 4's warm medians per 1,000 events "
        f"of the case: {'; '.join(parts)} (1x: time grows in proportion to the case; below 1x: "
        "less than in proportion)."
    )


def _alert_reads(
    ctx: Context, service: Service, cases: list[ReadCase], library_gets: dict[str, Timing]
) -> list[Row]:
    """Row 8: warm `GET /cases/{id}/alerts` of each case measure 4 reads, interleaved with
    warm `GET /cases/{id}` of the same case (8a, 8b); and the same alerts timings beside row
    4's cold `repository.get` of the library aggregate of the same length (8c, 8d)."""
    plan, rows, sizes = ctx.plan, [], []
    against_library: list[Row] = []
    for id_, case in zip("ab", cases, strict=True):
        ctx.say(f"8 — warm GET alerts of the {case.label}-event case, and GET state")
        interleave(
            over_http.alert_reads(service, case.case_id, plan.warmup),
            over_http.reads(service, case.case_id, "state", plan.warmup),
        )
        alert_reads, state_reads = interleave(
            over_http.alert_reads(service, case.case_id, plan.alert_reads),
            over_http.reads(service, case.case_id, "state", plan.alert_reads),
        )
        shown = service.get_json(f"/cases/{case.case_id}/alerts")["alerts"]
        rules = Counter(alert["rule"] for alert in shown).most_common()
        by_rule = ", ".join(f"{rule} {count:,}" for rule, count in rules)
        sizes.append(f"the {case.label}-event case {len(shown):,} ({by_rule})")
        rows.append(
            ctx.row(
                f"8{id_}",
                f"GET /cases/{{id}}/alerts, {case.label} events, warm (every rule evaluated "
                "at request time)",
                alert_reads,
                "service: GET state (`GET /cases/{id}`) of the same case, warm, interleaved",
                state_reads,
                target_ms=case.alerts_target_ms,
            )
        )
        against_library.append(
            ctx.row(
                f"8{'cd'[len(against_library)]}",
                rows[-1].measure,
                alert_reads,
                f"library: `repository.get` of {case.label} events, no cache (row 4's, same run)",
                library_gets[case.label],
            )
        )
    ctx.notes.append(f"{ctx.store.name}: open alerts in row 8's responses — {'; '.join(sizes)}.")
    return rows + against_library


def _long_appends(ctx: Context, service: Service, built: Built, first_append: Timing) -> list[Row]:
    plan, app = ctx.plan, ctx.app
    ctx.say(f"3 — one-event appends to the {plan.long_events:,}-event case")
    interleave(
        over_http.single_appends(service, [built.long_case], plan.append_warmup),
        over_http.single_appends(service, built.small_cases, plan.append_warmup),
    )
    appends, small_appends, library_appends = interleave(
        over_http.single_appends(service, [built.long_case], plan.single_appends),
        over_http.single_appends(service, built.small_cases, plan.single_appends),
        library.load_then_append(app, [built.library_long], plan.library_long_appends),
    )
    label = f"POST 1 event/request to the {plan.long_events:,}-event case"
    library_label = (
        f"library: `repository.get` of {plan.long_events:,} events + 1 + `save`, no cache"
    )
    return [
        ctx.row(
            "3a",
            label,
            appends,
            "service: POST 1 event/request to the small cases of row 1a, interleaved",
            small_appends,
            rate=True,
            max_ratio=LONG_APPEND_MAX_RATIO,
        ),
        ctx.row("3b", label, appends, library_label, library_appends, rate=True),
        ctx.row(
            "3c",
            f"{label}, first after a restart (snapshot + later events)",
            first_append,
            library_label,
            library_appends,
        ),
    ]


def _audited_reads(ctx: Context, service: Service, case: ReadCase) -> list[Row]:
    plan, view = ctx.plan, "chronology"
    ctx.say(f"5 — warm chronology reads of the {case.label}-event case, audited and not")
    with running_service(ctx.env, ctx.log, ctx.token, audited=False) as unaudited:
        interleave(
            over_http.reads(service, case.case_id, view, plan.warmup),
            over_http.reads(unaudited, case.case_id, view, plan.warmup),
        )
        audited_reads, unaudited_reads = interleave(
            over_http.reads(service, case.case_id, view, plan.audit_reads),
            over_http.reads(unaudited, case.case_id, view, plan.audit_reads),
        )
    return [
        ctx.row(
            "5",
            f"GET chronology, {case.label} events, warm, audited (every read writes its "
            "audit record)",
            audited_reads,
            "service without the audit write (`bench/unaudited.py`), interleaved",
            unaudited_reads,
            rate=True,
            unit="reads",
            rate_floor=AUDITED_READS_FLOOR,
        )
    ]


def _audit_write_note(name: str, store_cm: AbstractContextManager[Store], plan: Plan) -> str:
    """The audit write alone, on a fresh store of the same kind."""
    progress(f"{name}: 5 — `AuditLog.record` in-process on a fresh audit store")
    with store_cm as store:
        timing = audit_write.record_cost(store.service, plan.audit_records, plan.warmup)
    where = (
        "its own SQLite file, WAL, synchronous=FULL"
        if name == "sqlite"
        else "its own tables in a fresh schema"
    )
    return (
        f"{name}: the audit write alone — `AuditLog.record` of one chronology read, called "
        f"in-process on a fresh audit store ({where}): median {timing.median_ms:.2f} ms, "
        f"p95 {timing.p95_ms:.2f} ms, n {timing.n}."
    )


def _log_rows(
    name: str, store_cm: AbstractContextManager[Store], plan: Plan, log: Path, notes: list[str]
) -> list[Row]:
    """Rows 6 and 7, on a fresh store of their own holding a long log of many cases."""

    def say(message: str) -> None:
        progress(f"{name}: {message}")

    with store_cm as store:
        records = CaseRecords(store.service)
        try:
            say(
                f"6, 7 — writing {plan.history_events:,} events over {plan.history_cases} cases "
                f"({plan.history_rounds} rounds of {plan.history_batch} events per case)"
            )
            events = history.write_history(records, plan, say)
            rows = _rebuild_rows(name, store, records, plan, events, say, notes)
            rows.append(_feed_row(name, store, records, plan, events, log, say))
        finally:
            records.close()
    return rows


def _log_label(plan: Plan, events: int) -> str:
    return (
        f"raw log read: `select_notifications` pages of {plan.log_page:,} + `records.decode`, "
        f"{events:,} events"
    )


def _rebuild_rows(
    name: str,
    store: Store,
    records: CaseRecords,
    plan: Plan,
    events: int,
    say: Callable[[str], None],
    notes: list[str],
) -> list[Row]:
    """Row 6 per read model (6a, 6b, ...: what `casetrail projections rebuild NAME` does, the
    target's measure), then every model in turn (6)."""
    settings = store.service
    say(f"6 — rebuilding each read model from {events:,} events")
    # Untimed: the first rebuild also creates the live tables; later ones replace them.
    interleave(
        history.rebuilds(settings, records, events, 1),
        history.log_reads(records, plan.log_page, events, 1),
    )
    target = REBUILD_TARGET_RATE if name == "sqlite" else None
    rows = []
    for letter, model in zip("abcdefgh", default_models(), strict=False):
        rebuilt, raw = interleave(
            history.rebuilds(settings, records, events, plan.rebuild_runs, names=[model.name]),
            history.log_reads(records, plan.log_page, events, plan.log_reads),
        )
        rows.append(
            Row(
                f"6{letter}",
                name,
                f"`casetrail projections rebuild {model.name}`, in-process: {events:,} events, "
                f"{plan.history_cases} cases",
                rebuilt,
                _log_label(plan, events),
                raw,
                rate=True,
                min_rate=target,
            )
        )
    results: list[RebuildResult] = []
    rebuilt, raw = interleave(
        history.rebuilds(settings, records, events, plan.rebuild_runs, results),
        history.log_reads(records, plan.log_page, events, plan.log_reads),
    )
    notes.append(
        f"{name}: row 6 by read model (median of {plan.rebuild_runs} rebuilds, each as "
        f"`rebuild` reports it): {history.per_model(results)}."
    )
    models = ", ".join(model.name for model in default_models())
    rows.append(
        Row(
            "6",
            name,
            f"`casetrail projections rebuild` of every read model in turn ({models}), "
            f"in-process: {events:,} events, {plan.history_cases} cases",
            rebuilt,
            _log_label(plan, events),
            raw,
            rate=True,
        )
    )
    return rows


def _feed_row(
    name: str,
    store: Store,
    records: CaseRecords,
    plan: Plan,
    events: int,
    log: Path,
    say: Callable[[str], None],
) -> Row:
    say(f"7 — paging GET /feed over {events:,} events, {plan.log_page:,} a page")
    env = store.service_environment()
    token = mint_token(env, role="integrator")
    # The rebuild left every read model at the end of the log: the server's runner is idle.
    with running_service(env, log, token) as service:
        time_loop(history.feed_passes(service, plan.log_page, events, 1))  # warm the server up
        fed, raw = interleave(
            history.feed_passes(service, plan.log_page, events, plan.feed_passes),
            history.log_reads(records, plan.log_page, events, plan.log_reads),
        )
    return Row(
        "7",
        name,
        f"GET /feed?after=N&limit={plan.log_page} from 0 to the end (integrator of the "
        f"owning authority): {events:,} events",
        fed,
        _log_label(plan, events),
        raw,
        rate=True,
        min_rate=FEED_TARGET_RATE if name == "sqlite" else None,
    )


def _store_run(
    name: str, store_of: StoreFactory, root: Path, plan: Plan, notes: list[str]
) -> list[Row]:
    with store_of(root / name) as store:
        env = store.service_environment()
        app = library.open_library(store.library)
        try:
            with raw_inserts.raw_store(store, app) as raw:
                context = Context(
                    store, plan, env, root / f"{name}-server.log", mint_token(env), app, raw, notes
                )
                rows = run_store(context)
        finally:
            app.close()
    notes.append(_audit_write_note(name, store_of(root / f"{name}-audit"), plan))
    log = root / f"{name}-server.log"
    rows += _log_rows(name, store_of(root / f"{name}-log"), plan, log, notes)
    rows.append(_alert_refresh_row(name, store_of(root / f"{name}-alerts"), plan, notes))
    rows += _store_size_rows(name, store_of, root, plan, notes)
    return rows


def _store_size_rows(
    name: str, store_of: StoreFactory, root: Path, plan: Plan, notes: list[str]
) -> list[Row]:
    """Row 10, on two fresh stores of their own: one holding only the measured case, one
    holding `big_store_events` events."""

    def say(message: str) -> None:
        progress(f"{name}: 10 — {message}")

    small_root, big_root = root / f"{name}-size-small", root / f"{name}-size-big"
    with store_of(small_root) as small_store, store_of(big_root) as big_store:
        say(f"writing a store holding one {plan.read_events:,}-event case")
        small = store_size.write_store(small_store, 1, plan.read_events, say)
        say(
            f"writing a store of {plan.big_store_cases:,} cases of {plan.read_events:,} events "
            f"({plan.big_store_cases * plan.read_events:,} events)"
        )
        big = store_size.write_store(big_store, plan.big_store_cases, plan.read_events, say)
        notes.append(
            f"{name}: row 10's stores, written in-process through `CaseRecords` in batches of up "
            f"to {big.batch} events (`max_batch_events`) — the big store {big.describe()}; the "
            f"small store {small.describe()}."
        )
        servers = (
            store_size.server_of(big, root / f"{name}-size-big-server.log"),
            store_size.server_of(small, root / f"{name}-size-small-server.log"),
        )
        say(f"warm reads of the {plan.read_events:,}-event case in both stores")
        warm = store_size.warm_reads(*servers, plan.reads, plan.warmup)
        say(f"cold reads ({plan.cold_rounds} restarts of both servers per view)")
        cold = store_size.cold_reads(*servers, plan.cold_rounds)
    if not big.store.service.is_postgres:  # the schemas are dropped; the files go now
        shutil.rmtree(big_root, ignore_errors=True)
    rows = []
    ids = iter("abcdef")
    for kind, timings in (("warm", warm), ("cold: first after restart", cold)):
        for view in store_size.VIEWS:
            in_big, in_small = timings[view]
            rows.append(
                Row(
                    f"10{next(ids)}",
                    name,
                    f"GET {view} of a {plan.read_events:,}-event case, {kind}, in a store of "
                    f"{big.events:,} events ({big.cases + 1:,} cases)",
                    in_big,
                    f"service: the same-shaped case, {kind}, in a store holding only it and a "
                    f"{store_size.WARM_CASE_EVENTS}-event case ({small.events:,} events)"
                    + (", interleaved" if kind == "warm" else ""),
                    in_small,
                )
            )
    return rows


def _alert_refresh_row(
    name: str, store_cm: AbstractContextManager[Store], plan: Plan, notes: list[str]
) -> Row:
    """Row 9, on a fresh store of its own holding many small cases, each with a pending alert."""

    def say(message: str) -> None:
        progress(f"{name}: {message}")

    cases = plan.alert_cases
    with store_cm as store:
        clock = SettableClock(alerts.WRITTEN_AT)
        records = CaseRecords(store.service, clock)
        try:
            say(f"9 — writing {cases:,} small cases, each with a contact awaiting a decision")
            started = time.perf_counter()
            events = alerts.write_cases(records, cases, say)
            written = time.perf_counter() - started
            say(f"9 — applying {events:,} events to the alerts read model")
            started = time.perf_counter()
            model = alerts.open_model(store.service, records, clock)
            applied = time.perf_counter() - started
            try:
                say(f"9 — refreshing the alerts of {cases:,} cases, every deadline passed")
                rounds = {
                    "cases": cases,
                    "events": events,
                    "page": plan.log_page,
                    "log_reads_per_round": max(1, plan.log_reads // plan.alert_refreshes),
                }
                alerts.refresh_rounds(model, records, rounds=1, **rounds)  # untimed: warm up
                refreshed, raw = alerts.refresh_rounds(
                    model, records, rounds=plan.alert_refreshes, **rounds
                )
            finally:
                model.runner.close()
        finally:
            records.close()
    notes.append(
        f"{name}: row 9's store — {cases:,} cases ({events:,} events) written through "
        f"`CaseRecords` in {written:.1f} s; the runner's first pass over them (each case "
        f"evaluated once, pages of the runner's default size) {applied:.1f} s "
        f"({events / applied:,.0f} events/s, {cases / applied:,.0f} cases/s)."
    )
    return Row(
        "9",
        name,
        f'alerts refresh (`Runner.refresh("alerts")`: what keeps `GET /alerts` current), '
        f"in-process: {cases:,} cases past their deadline, each pending alert → breached",
        refreshed,
        _log_label(plan, events),
        raw,
        rate=True,
        unit="cases",
        baseline_unit="events",
    )


StoreFactory = Callable[[Path], AbstractContextManager[Store]]


def _stores(use_postgres: bool, notes: list[str]) -> Iterator[tuple[str, StoreFactory]]:
    yield "sqlite", sqlite_store
    if not use_postgres:
        notes.append("PostgreSQL: skipped (--no-postgres).")
        return
    url = postgres_url()
    server_version, why = postgres_version(url)
    if server_version is None:
        notes.append(f"PostgreSQL: skipped, {url} did not answer ({why}).")
        return
    yield "postgresql", lambda root: postgres_store(root, url)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run (~1 min a store)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).parent,
        help="where results.md and results.json go (default: bench/)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    notes: list[str] = []
    rows: list[Row] = []
    pg_version = "not measured"
    with tempfile.TemporaryDirectory(prefix="casetrail-bench-") as tmp:
        root = Path(tmp)
        for name, store_of in _stores(not args.no_postgres, notes):
            if name == "postgresql":
                pg_version = postgres_version(postgres_url())[0] or pg_version
            progress(f"{name}: starting")
            rows += _store_run(name, store_of, root, plan, notes)
    report = Report(machine(pg_version), plan, rows, [*_standing_notes(plan), *notes])
    report.write(args.out)
    print(report.markdown())
    return 0


def _standing_notes(plan: Plan) -> list[str]:
    return [
        f"Run: {'quick' if plan is QUICK else 'full'} — {plan.as_dict()}.",
        "Service: `casetrail serve` (uvicorn, one worker, access log on, and its projection "
        "runner process: the defaults) in a subprocess on a fresh data directory; one "
        "keep-alive connection of `http.client`; bodies serialised before timing.",
        "Baseline: a plain `eventsourcing` `Application` (no aggregate cache, no snapshots) on "
        "its own SQLite file (WAL, default synchronous) or PostgreSQL schema; its events carry "
        "the same client event dicts the service is sent.",
        "Each service measure runs interleaved with its baseline (calls alternate, spread over "
        "the same stretch of time), so load from other processes falls on both sides.",
        f"One-event appends (1a, 3a) are timed after {plan.append_warmup} untimed appends of "
        "each side, and 1a once `/ready` reports the read models caught up: the server, and "
        "the runner process it starts beside it, past their start-up.",
        "Cold read: the first read of the case by a freshly restarted server, after reads of a "
        "small case to warm the process and once `/ready` reports its read models caught up "
        "with the log (the projection runner idle, not catching up beside the read); its "
        "baseline is the same cold `repository.get` as the warm row's. Warm read: the "
        "service's decoded-event cache already holds the case.",
        "events/s = events per second spent inside the timed calls.",
        "Rows 1a and 2, targets: the service's events/s at least "
        f"{APPEND_RATE_FLOOR:g}x the library's (1a: its load-then-append of one event; 2: its "
        f"{plan.batch_size}-event transactions).",
        "Rows 1c and 2b: the disk's limit — rows of a plain table (`id` primary key, `state`) "
        "inserted with the bare driver on a connection of its own, no library, mapper, index "
        f"or aggregate: one transaction per insert, of 1 row (1c) or {plan.batch_size} rows "
        "(2b), each row as large as a realistic event (the orjson of the same client event "
        "dicts), committed with the same durability as the service's event store. SQLite: the "
        "`sqlite3` module on a file of its own, opened as the library's SQLite datastore opens "
        "the service's (autocommit, an explicit `BEGIN`/`COMMIT` per transaction, WAL, "
        "`synchronous` left at SQLite's default: the value in force is in the row's label and "
        "checked to match the library baseline's connection); PostgreSQL: psycopg (the "
        "library's driver), a table in a fresh schema, `commit()` with the server's default "
        "`synchronous_commit`. Interleaved with the service's loop of the same run (1c with "
        "rows 1a/1b's appends, 2b with row 2's): the service's timing is theirs.",
        f"Row 3a, target: an append to the {plan.long_events:,}-event case within "
        f"{LONG_APPEND_MAX_RATIO:g}x of one to a small case (ratio of medians ≤"
        f"{LONG_APPEND_MAX_RATIO:g}).",
        "Query time against the case's length (a note per store): row 4's warm medians divided "
        f"by the case's thousands of events, at {plan.read_events:,} and at "
        f"{plan.long_events:,} events, and the second over the first.",
        "Row 5: the same warm chronology reads sent, call by call, to `casetrail serve` and to "
        "the same app whose audit log's `record` does nothing (`bench/unaudited.py`: a bench-only "
        "ASGI factory served by uvicorn as `serve` serves the real one, on the same store; it "
        "still decides access and builds the audit record — only the write is gone). Target: "
        f"audited reads/s at least {AUDITED_READS_FLOOR:g}x the unaudited (reads/s = reads per "
        "second spent inside the timed calls; the ratio column is still the medians').",
        "Rows 6 and 7: a fresh store of their own, written in-process through the service's "
        f"`CaseRecords` with the same catalogue events: {plan.history_cases} cases, each opened "
        f"and then given {plan.history_batch} events per round over {plan.history_rounds} "
        "rounds (every case in turn, so each case's events are spread over the whole log). "
        "A sample is one pass over the whole log, so events/s = log events per second. Rows "
        "6a, 6b, ... call `projections.rebuild.rebuild` for one read model each in the bench "
        "process (what `casetrail projections rebuild NAME` runs, without the CLI's start-up "
        "and progress bar), and row 6 for every read model of the registry in turn (what "
        "`casetrail projections rebuild` runs); no server running, after one untimed rebuild "
        "of every model (which creates the live tables). Row 7 pages `GET /feed` (token: "
        "`integrator` of the owning authority) from "
        "`after=0`, following `next`, to the empty page at the end, after one untimed pass; "
        "the server's projection runner is idle (the rebuild left it at the end of the log). "
        "Their baseline, in the bench process: `recorder.select_notifications(start, "
        f"{plan.log_page}, inclusive_of_start=False)` paged over the whole log and "
        "`records.decode` of every state. Targets (SQLite only): the rebuild of each read "
        f"model ≥{REBUILD_TARGET_RATE:,.0f} events/s (rows 6a, 6b, ...), "
        f"feed ≥{FEED_TARGET_RATE:,.0f} events/s.",
        "Row 8: `GET /cases/{id}/alerts` (open alerts, judged now: every rule of "
        "`domain.rules.evaluate` over the case's events at request time) of the same cases "
        "row 4 reads, on the same server right after row 4 (the decoded-event cache holds "
        f"them; {plan.warmup} untimed read{'s' if plan.warmup != 1 else ''} of each first), "
        "interleaved with `GET /cases/{id}` (state) of the same case. Target (SQLite, the "
        f"{plan.read_events:,}-event case): median under {ALERTS_TARGET_MS:g} ms. Rows 8c and "
        "8d: the same alerts timings as 8a and 8b beside row 4's baseline, the library's cold "
        "`repository.get` of an aggregate of the same length (measured in this run, interleaved "
        "with row 4's reads rather than these), so that state, chronology and alerts all stand "
        "against `repository.get` at both lengths.",
        "Row 9: a fresh store of its own: "
        f"{plan.alert_cases:,} cases, each a `CaseOpened` and a `ContactReceived` dated the "
        "day of the bench's clock (a `SettableClock` at "
        f"{alerts.WRITTEN_AT:%A %d %B %Y %H:%M} UTC), written in-process through `CaseRecords`; "
        "a `Runner` holding `[AlertList()]` applies the log, leaving one pending "
        "`decision-overdue` alert per case. The clock then moves past the deadline "
        f"({alerts.REFRESHED_AT:%A %d %B %Y %H:%M} UTC) and one sample is one "
        '`runner.refresh("alerts")` (what the server\'s runner runs on its schedule and '
        "`casetrail alerts refresh` runs), checked to re-evaluate every case and to leave every "
        "alert breached; before each sample the model's rows are put back as the apply left "
        "them (untimed), after one untimed round. cases/s = cases re-evaluated per second. "
        "Baseline, interleaved: the raw log read of that store, as rows 6 and 7 "
        "(events/s = log events per second).",
        f"Row 10: query time against the size of the whole store. Two fresh stores of their "
        f"own, written in-process through `CaseRecords` (as rows 6 and 7's) in batches of the "
        f"service's `max_batch_events`: one holding a {plan.read_events:,}-event case and a "
        f"{store_size.WARM_CASE_EVENTS}-event case; one holding the same "
        f"{store_size.WARM_CASE_EVENTS}-event case and {plan.big_store_cases:,} cases of "
        f"{plan.read_events:,} events, written one batch to every case in turn (each case's "
        "events spread over the log), the measured case the middle one. The two measured "
        "cases have the same shape (the same catalogue stream; only the ids differ). Both "
        "stores are served at once by `casetrail serve` with its projection runner off "
        "(`CASETRAIL_PROJECTIONS_IN_PROCESS=false`, on both: the big store's runner would "
        "otherwise be applying the whole log to the read models while the reads are timed; "
        "these reads never touch the read models). 10a to 10c: warm reads of the measured case in "
        f"each store, every view and store interleaved, after {plan.warmup} untimed "
        f"read{'s' if plan.warmup != 1 else ''} of each. 10d to 10f: the first read of the "
        "measured case after both servers restart, one view per restart, each server first "
        f"warmed up on its {store_size.WARM_CASE_EVENTS}-event case (every view); "
        f"{plan.cold_rounds} restart{'s' if plan.cold_rounds != 1 else ''} per view. Service: "
        "the big store; baseline: the store holding only the case. A ratio near 1: query time "
        "does not depend on the size of the store.",
        "Other processes may share the machine: treat small differences as noise.",
    ]
