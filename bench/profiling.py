"""Where a request's time goes: each step of an append and of a read, and cProfile's top functions.

`python -m bench.profiling [--events 1000] [--postgres]` builds a case in-process with the
service's own `CaseRecords` (a temporary SQLite store, or a fresh PostgreSQL schema) and times,
as the median of several runs, the steps a request does inside its handler:

- append (1 event and 100 events): validate the request body, take each event's stored form,
  `records.record` (look ids up, load the case, seal and hash, save), serialise the response;
- read: verify the token, fetch the stream's rows, fetch and decode them (cold: empty
  decoded-event cache; warm: only what is new), fold them into state or chronology (the
  chronology also with its headline cache empty, as after a restart), serialise the view.

What an HTTP request costs beyond these steps is uvicorn, Starlette, FastAPI and the client.
It then prints cProfile's top functions for a 100-event append and for cold and warm reads.
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar
from uuid import UUID

import orjson

from bench.events import EventStream
from bench.stores import (
    DEFAULT_POSTGRES_URL,
    POSTGRES_URL_VARIABLE,
    postgres_store,
    postgres_url,
    sqlite_store,
)
from domain import chronology as chronology_module
from domain.catalogue import catalogue
from service.api.models import AppendRequest, AppendResponse
from service.auth import TokenService
from service.principal import Principal
from service.records import CaseRecords, EventCache
from service.settings import Settings

T = TypeVar("T")

PRINCIPAL = Principal("bench", "Bench Worker", "csc:barsetshire", ("practitioner",))


def build(records: CaseRecords, events: int, batch: int = 100) -> tuple[UUID, EventStream]:
    stream = EventStream()
    case_id = records.open_case(None, [stream.opened()], by=PRINCIPAL).case_id
    for start in range(0, events, batch):
        records.record(case_id, stream.take(min(batch, events - start)), by=PRINCIPAL)
    return case_id, stream


def median_ms(action: Callable[[], object], n: int) -> float:
    samples = []
    for _ in range(n):
        before = time.perf_counter()
        action()
        samples.append((time.perf_counter() - before) * 1000)
    return statistics.median(samples)


def append_steps(
    records: CaseRecords, case_id: UUID, stream: EventStream, size: int, n: int
) -> list[tuple[str, float]]:
    bodies = [orjson.dumps({"events": stream.take(size)}) for _ in range(n)]
    requests = [AppendRequest.model_validate_json(body) for body in bodies]
    batches = iter([request.stored_forms() for request in requests])
    result = records.record(case_id, next(batches), by=PRINCIPAL, validated=True)
    return [
        (f"{size} event(s): validate the body", _each(AppendRequest.model_validate_json, bodies)),
        (
            f"{size} event(s): stored forms",
            _each(lambda r: r.stored_forms(), requests),
        ),
        (
            f"{size} event(s): records.record",
            median_ms(
                lambda: records.record(case_id, next(batches), by=PRINCIPAL, validated=True), n - 1
            ),
        ),
        (
            f"{size} event(s): serialise the response",
            median_ms(lambda: AppendResponse.render(result), n),
        ),
    ]


def _each(action: Callable[[T], object], items: Sequence[T]) -> float:
    work = iter(items)
    return median_ms(lambda: action(next(work)), len(items))


def read_steps(settings: Settings, case_id: UUID, n: int) -> list[tuple[str, float]]:
    records = CaseRecords(settings)
    tokens = TokenService(settings)
    token = tokens.mint(sub="bench", name="Bench", agency="csc:barsetshire", roles=["practitioner"])

    def cold_fetch() -> None:
        records.event_cache = EventCache(settings.event_cache_size)
        records._all_events(case_id)

    def cold_headlines() -> None:
        # The headline cache is the chronology's own (process-wide); a restart empties it.
        chronology_module._HEADLINES.clear()
        records.chronology(case_id)

    state = records.case_state(case_id)
    chronology = records.chronology(case_id)
    steps = [
        ("verify the bearer token", median_ms(lambda: tokens.verify(token), n)),
        (
            "fetch the stream's rows (SQL only)",
            median_ms(lambda: records.index.case_rows(case_id), n),
        ),
        ("fetch + decode the stream (cold cache)", median_ms(cold_fetch, n)),
        ("fetch what is new (warm cache)", median_ms(lambda: records._all_events(case_id), n)),
        ("state: fold", median_ms(lambda: records.case_state(case_id), n)),
        ("state: serialise", median_ms(state.model_dump_json, n)),
        ("chronology: fold", median_ms(lambda: records.chronology(case_id), n)),
        ("chronology: fold, headline cache empty", median_ms(cold_headlines, n)),
        ("chronology: serialise", median_ms(lambda: orjson.dumps(chronology), n)),
    ]
    records.close()
    return steps


def profile(label: str, action: Callable[[], object], top: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    action()
    profiler.disable()
    out = io.StringIO()
    out.write(f"\n## {label}\n")
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def profiles(
    settings: Settings, case_id: UUID, append_case: UUID, stream: EventStream, top: int
) -> str:
    records = CaseRecords(settings)
    records.repository.get(append_case)  # as in a running service: the aggregate is cached
    batch = AppendRequest.model_validate_json(orjson.dumps({"events": stream.take(100)}))
    text = profile(
        "append 100 events (records.record, aggregate cached)",
        lambda: records.record(append_case, batch.stored_forms(), by=PRINCIPAL, validated=True),
        top,
    )
    records.close()
    records = CaseRecords(settings)
    chronology_module._HEADLINES.clear()

    def chronology() -> str:
        return orjson.dumps(records.chronology(case_id)).decode()

    text += profile("cold chronology (fetch, decode, headlines, fold, serialise)", chronology, top)
    text += profile("warm chronology (fold, serialise)", chronology, top)
    text += profile(
        "warm state (fold, serialise)", lambda: records.case_state(case_id).model_dump_json(), top
    )
    records.close()
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profiling", description=__doc__)
    parser.add_argument("--events", type=int, default=1000, help="events in the case")
    parser.add_argument("--runs", type=int, default=15, help="timed runs per step")
    parser.add_argument("--top", type=int, default=20, help="functions per profile")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help=f"on a fresh schema of {POSTGRES_URL_VARIABLE} (default {DEFAULT_POSTGRES_URL})",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="casetrail-profile-") as tmp:
        root = Path(tmp)
        store = postgres_store(root, postgres_url()) if args.postgres else sqlite_store(root)
        with store as chosen:
            report(chosen.service, args.events, args.runs, args.top)
    return 0


def report(settings: Settings, events: int, runs: int, top: int) -> None:
    for kind in catalogue:  # read at start by the service, as its first appends would
        _ = kind.plain_json
    records = CaseRecords(settings)
    # Appends go to a case of their own, so the read case keeps exactly `events` events.
    read_case, _ = build(records, events)
    append_case, stream = build(records, events)
    store = "PostgreSQL" if settings.is_postgres else "SQLite"
    print(f"# Steps of requests on a {events:,}-event case, {store} (median of {runs}, ms)\n")
    steps = append_steps(records, append_case, stream, 1, runs)
    steps += append_steps(records, append_case, stream, 100, runs)
    records.close()
    steps += read_steps(settings, read_case, runs)
    for step, ms in steps:
        print(f"- {step}: {ms:.2f}")
    print(profiles(settings, read_case, append_case, stream, top))


if __name__ == "__main__":
    raise SystemExit(main())
