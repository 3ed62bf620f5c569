"""Rows 6 and 7: reading the whole global log — a rebuild of the read models, and the feed.

Both read a store of their own, written in-process through the service's `CaseRecords` (the
use case every `POST` ends in: ids looked up, the case loaded, events sealed and hash-chained,
saved with their index rows) from the same catalogue events the other rows post, each batch
validated and put in its stored form as the API does. The store is written in rounds, one
batch to every case in turn, so that, as in a real log, each case's events are spread over the
whole log and each page of it touches many cases.

- Row 6 times `projections.rebuild.rebuild` of every read model of the registry in turn (what
  `casetrail projections rebuild` runs, minus the CLI's start-up and progress bar), in the bench
  process, with no server running.
- Row 7 pages `GET /feed?after=N&limit=L` from 0 to the empty page at the end of the log over
  HTTP, as an integrator of the owning authority, from `casetrail serve` on that store.
- Their baseline: the raw log read — `recorder.select_notifications(start, L,
  inclusive_of_start=False)` paged over the whole log, and `records.decode` of every state.

A sample is one whole pass over the log, so its units are the events in the log.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

from bench.events import Event, EventStream
from bench.plan import Plan
from bench.server import AGENCY, Service
from bench.timing import Loop, repeat
from projections.rebuild import RebuildResult, rebuild
from projections.registry import default_models
from service.api.models import AppendRequest
from service.principal import Principal
from service.records import CaseRecords
from service.settings import Settings

WRITER = Principal("bench", "Bench Worker", AGENCY, ("practitioner",))


def stored_forms(events: list[Event]) -> list[dict[str, object]]:
    """The events as the API hands them to `CaseRecords`: validated, in their stored form."""
    return [e.stored_form() for e in AppendRequest.model_validate({"events": events}).events]


def write_history(
    records: CaseRecords, plan: Plan, progress: Callable[[str], None] | None = None
) -> int:
    """Open `history_cases` cases, then append `history_batch` events to each in turn,
    `history_rounds` times; the number of events in the log afterwards."""
    cases = []
    for _ in range(plan.history_cases):
        stream = EventStream()
        opened = records.open_case(None, stored_forms([stream.opened()]), by=WRITER)
        cases.append((opened.case_id, stream))
    for round_ in range(plan.history_rounds):
        if progress is not None:
            progress(f"writing the log: round {round_ + 1} of {plan.history_rounds}")
        for case_id, stream in cases:
            records.record(case_id, stored_forms(stream.take(plan.history_batch)), by=WRITER)
    return log_size(records)


def log_size(records: CaseRecords) -> int:
    return int(records.recorder.max_notification_id() or 0)


def read_log(records: CaseRecords, page: int) -> int:
    """The baseline: every notification of the log, `page` at a time, each state decoded; the
    number of events read."""
    position, count = 0, 0
    while True:
        notifications = records.recorder.select_notifications(
            position, page, inclusive_of_start=False
        )
        if not notifications:
            return count
        for notification in notifications:
            records.decode(notification.state)
        count += len(notifications)
        position = notifications[-1].id


def rebuild_all(
    settings: Settings,
    records: CaseRecords,
    results: list[RebuildResult] | None = None,
    names: Sequence[str] | None = None,
) -> int:
    """`casetrail projections rebuild` of every read model (or those `names`d), in-process;
    the events the rebuilds applied (every model's, added up). Each model's result is added to
    `results`."""
    models = [m for m in default_models() if names is None or m.name in names]
    done = [rebuild(settings, records, model) for model in models]
    if results is not None:
        results.extend(done)
    return sum(result.events for result in done)


def per_model(results: list[RebuildResult]) -> str:
    """Each model's median rebuild time and rate, e.g. "cases 2.10 s (10,143 events/s)"."""
    seconds: dict[str, list[float]] = {}
    events: dict[str, int] = {}
    for result in results:
        seconds.setdefault(result.name, []).append(result.seconds)
        events[result.name] = result.events
    parts = []
    for name, taken in seconds.items():
        median = statistics.median(taken)
        rate = events[name] / median if median else 0.0
        parts.append(f"{name} {median:.2f} s ({rate:,.0f} events/s)")
    return ", ".join(parts)


def read_feed(service: Service, page: int) -> int:
    """`GET /feed` from the start of the log, following `next`, to the empty page at its end;
    the events it returned. (An empty page whose `next` moved on only skipped what the caller
    may not read: the pass goes on.)"""
    after, count = 0, 0
    while True:
        events, following = service.feed_page(after, page)
        if not events and following <= after:
            return count
        count, after = count + events, following


def expecting(action: Callable[[], int], expected: int, what: str) -> Callable[[], None]:
    """`action`, checked to have read the whole log (`expected` events) every time."""

    def checked() -> None:
        got = action()
        if got != expected:
            raise RuntimeError(f"{what} read {got:,} events, expected {expected:,}")

    return checked


def log_reads(records: CaseRecords, page: int, events: int, n: int) -> Loop[int]:
    return repeat(expecting(lambda: read_log(records, page), events, "the raw log read"), n, events)


def rebuilds(
    settings: Settings,
    records: CaseRecords,
    events: int,
    n: int,
    results: list[RebuildResult] | None = None,
    names: Sequence[str] | None = None,
) -> Loop[int]:
    models = len(names) if names is not None else len(default_models())
    check = expecting(
        lambda: rebuild_all(settings, records, results, names), events * models, "the rebuild"
    )
    return repeat(check, n, events)


def feed_passes(service: Service, page: int, events: int, n: int) -> Loop[int]:
    return repeat(expecting(lambda: read_feed(service, page), events, "the feed"), n, events)
