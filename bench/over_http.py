"""The service's side of every measure, over HTTP: appends, and cold and warm reads.

A cold read is the first read of a case by a freshly started server (its decoded-event cache is
empty, so it decodes the whole stream); a warm read finds the case's events already decoded and
fetches only what was stored since. Likewise the first append to a long case after a restart
loads the case from its latest snapshot, where later ones find it in the aggregate cache.
Functions returning a `Loop` prepare the work (request bodies serialised) so that only the
requests are timed.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.events import EventStream
from bench.server import Service, ServiceError, running_service
from bench.timing import Loop, Timing, merge, repeat, time_loop

VIEWS = {"state": "", "chronology": "/chronology"}

Case = tuple[str, EventStream]


def open_cases(service: Service, count: int) -> list[Case]:
    cases = []
    for _ in range(count):
        stream = EventStream()
        cases.append((service.open_case(stream), stream))
    return cases


def single_appends(service: Service, cases: Sequence[Case], n: int) -> Loop[tuple[str, bytes]]:
    """POST one event per request, rotating over the cases."""
    rotation = itertools.islice(itertools.cycle(cases), n)
    work = [(case_id, service.body([stream.next()])) for case_id, stream in rotation]
    return Loop(work, lambda item: service.post(*item))


def batch_appends(service: Service, case: Case, batches: int, size: int) -> Loop[bytes]:
    """POST `size` events per request, `batches` times, to one case."""
    case_id, stream = case
    work = [service.body(stream.take(size)) for _ in range(batches)]
    return Loop(work, lambda body: service.post(case_id, body), size)


def view_path(case_id: str, view: str) -> str:
    return f"/cases/{case_id}{VIEWS[view]}"


def reads(service: Service, case_id: str, view: str, n: int) -> Loop[int]:
    path = view_path(case_id, view)
    return repeat(lambda: service.get(path), n)


def alert_reads(service: Service, case_id: str, n: int) -> Loop[int]:
    """`GET /cases/{id}/alerts`: every rule evaluated over the case's events, now."""
    path = f"/cases/{case_id}/alerts"
    return repeat(lambda: service.get(path), n)


@dataclass(frozen=True)
class Cold:
    """What only a freshly started server shows."""

    reads: dict[tuple[str, str], Timing]  # (view, case label) → first reads
    first_append: Timing  # first append to the long case: its aggregate is not cached yet


def after_restarts(
    env: dict[str, str],
    log: Path,
    token: str,
    cases: Mapping[str, str],
    warm_case: Case,
    long_case: Case,
    rounds: int,
) -> Cold:
    """For each round and view: restart the server, warm the process up on a small case (both
    views and an append), wait for its read models to catch up with the log (so that the timed
    read decodes the case without the projection runner working beside it), time the first
    read of each of `cases` (label → case id), then the first append to the long case."""
    first_reads: dict[tuple[str, str], list[Timing]] = {}
    first_appends: list[Timing] = []
    for _ in range(rounds):
        for view in VIEWS:
            with running_service(env, log, token) as service:
                for warm_view in VIEWS:
                    service.get(view_path(warm_case[0], warm_view))
                time_loop(single_appends(service, [warm_case], 1))
                wait_caught_up(service)
                for label, case_id in cases.items():
                    first = time_loop(reads(service, case_id, view, 1))
                    first_reads.setdefault((view, label), []).append(first)
                first_appends.append(time_loop(single_appends(service, [long_case], 1)))
    return Cold({key: merge(timings) for key, timings in first_reads.items()}, merge(first_appends))


def wait_caught_up(service: Service, timeout: float = 120.0) -> None:
    """Wait until `/ready` reports every read model at the log's position."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(p["lag"] == 0 for p in service.get_json("/ready")["projections"]):
            return
        time.sleep(0.05)
    raise ServiceError(f"the read models did not catch up within {timeout:g} s")
