"""Row 10: the reads of one case against the size of the whole store.

Two stores of their own, written in-process through the service's `CaseRecords` (as
`bench/history.py` writes rows 6 and 7's log: each batch validated and put in its stored form
as the API does), in batches as large as the service accepts (`max_batch_events`):

- the small store holds one case of `read_events` events (the measured case) and a two-event
  case that a restarted server reads first, to warm its process up;
- the big store holds the same two-event case first, then `big_store_cases` cases of
  `read_events` events each, the measured case among them (the middle one), written in rounds
  of one batch to every case in turn, so every case's events are spread over the log.

The measured cases have the same shape (the same catalogue stream: types, dates and sizes; only
the ids differ). Both stores are served at once by `casetrail serve`, each with its own data
directory and its projection runner off (`CASETRAIL_PROJECTIONS_IN_PROCESS=false`: otherwise
the big store's server would spend its first minutes applying the whole log to the read models
while it is measured; these reads never touch the read models). Warm reads of the measured case
(state, chronology, alerts) go to both servers, interleaved; a cold read is the first read of
the measured case by a freshly restarted pair of servers, after reads of the two-event case.
The service's side of each row is the big store; its baseline, the store holding only the case.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from bench import history, over_http
from bench.events import EventStream
from bench.server import Service, mint_token, running_service
from bench.stores import Store
from bench.timing import Loop, Timing, interleave, merge, time_loop
from service.records import CaseRecords

VIEWS = ("state", "chronology", "alerts")
WARM_CASE_EVENTS = 2  # the small case a restarted server reads before the timed cold read


@dataclass(frozen=True)
class Written:
    """A store written for row 10, and how long the writing took."""

    store: Store
    case_id: str  # the measured case
    warm_case_id: str  # the two-event case, read first after a restart
    cases: int  # cases of `case_events` events (the two-event case aside)
    case_events: int
    events: int  # every event in the log
    batch: int  # events per `CaseRecords` call, at most
    seconds: float  # writing every case, the two-event case included

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def describe(self) -> str:
        return (
            f"{self.events:,} events ({self.cases:,} "
            f"case{'s' if self.cases != 1 else ''} of {self.case_events:,} events and one of "
            f"{WARM_CASE_EVENTS}) written in {self.seconds:.1f} s ({self.rate:,.0f} events/s)"
        )


def write_store(
    store: Store, cases: int, case_events: int, progress: Callable[[str], None]
) -> Written:
    """The two-event case, then `cases` cases of `case_events` events (each a `CaseOpened` and
    then the catalogue stream), one batch of up to `max_batch_events` to every case in turn."""
    records = CaseRecords(store.service)
    batch = store.service.max_batch_events
    try:
        started = time.perf_counter()
        warm = EventStream()
        opened = records.open_case(
            None,
            history.stored_forms([warm.opened(), *warm.take(WARM_CASE_EVENTS - 1)]),
            by=history.WRITER,
        )
        warm_case = str(opened.case_id)
        streams = [EventStream() for _ in range(cases)]
        left = [case_events] * cases
        ids: list[UUID] = []
        rounds = -(-case_events // batch)
        step = max(1, cases // 4)
        for round_ in range(rounds):
            for number, stream in enumerate(streams):
                if cases >= 100 and number % step == 0:
                    progress(
                        f"writing round {round_ + 1} of {rounds}: case {number:,} of "
                        f"{cases:,}, {time.perf_counter() - started:.0f} s so far"
                    )
                size = min(batch, left[number])
                left[number] -= size
                if round_ == 0:
                    events = [stream.opened(), *stream.take(size - 1)]
                    result = records.open_case(
                        None, history.stored_forms(events), by=history.WRITER
                    )
                    ids.append(result.case_id)
                elif size:
                    records.record(
                        ids[number], history.stored_forms(stream.take(size)), by=history.WRITER
                    )
        seconds = time.perf_counter() - started
        events_in_log = history.log_size(records)
    finally:
        records.close()
    return Written(
        store,
        str(ids[cases // 2]),
        warm_case,
        cases,
        case_events,
        events_in_log,
        batch,
        seconds,
    )


def view_reads(service: Service, case_id: str, view: str, n: int) -> Loop[int]:
    """`n` reads of one view of the case: state, chronology or alerts."""
    if view == "alerts":
        return over_http.alert_reads(service, case_id, n)
    return over_http.reads(service, case_id, view, n)


@dataclass
class Server:
    """One of row 10's stores, its server's environment, token and log."""

    written: Written
    env: dict[str, str]
    token: str
    log: Path


def server_of(written: Written, log: Path) -> Server:
    env = written.store.service_environment()
    env["CASETRAIL_PROJECTIONS_IN_PROCESS"] = "false"
    return Server(written, env, mint_token(env), log)


@contextmanager
def both_running(big: Server, small: Server) -> Iterator[tuple[Service, Service]]:
    with ExitStack() as stack:
        services = [
            stack.enter_context(running_service(server.env, server.log, server.token))
            for server in (big, small)
        ]
        yield services[0], services[1]


def warm_reads(big: Server, small: Server, n: int, warmup: int) -> dict[str, tuple[Timing, Timing]]:
    """View → (big store, small store): `n` warm reads of the measured case per view and store,
    all interleaved, after `warmup` untimed reads of each."""
    with both_running(big, small) as services:

        def loops(count: int) -> list[Loop[int]]:
            return [
                view_reads(service, server.written.case_id, view, count)
                for view in VIEWS
                for service, server in zip(services, (big, small), strict=True)
            ]

        interleave(*loops(warmup))
        timings = interleave(*loops(n))
    return {view: (timings[2 * k], timings[2 * k + 1]) for k, view in enumerate(VIEWS)}


def cold_reads(big: Server, small: Server, rounds: int) -> dict[str, tuple[Timing, Timing]]:
    """View → (big store, small store): per round and view, both servers restarted, each warmed
    up on its two-event case (every view), then the first read of the measured case timed on
    each (the big store's first in even rounds, the small store's in odd)."""
    firsts: dict[str, tuple[list[Timing], list[Timing]]] = {view: ([], []) for view in VIEWS}
    for round_ in range(rounds):
        for view in VIEWS:
            with both_running(big, small) as services:
                pairs = list(zip(services, (big, small), firsts[view], strict=True))
                for service, server, _ in pairs:
                    for warm_view in VIEWS:
                        time_loop(view_reads(service, server.written.warm_case_id, warm_view, 1))
                for service, server, timings in pairs if round_ % 2 == 0 else pairs[::-1]:
                    timings.append(time_loop(view_reads(service, server.written.case_id, view, 1)))
    return {view: (merge(b), merge(s)) for view, (b, s) in firsts.items()}
