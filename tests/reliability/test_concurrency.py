"""Concurrency: many writers at once against the real server, on one case and across cases.

Phase 1: writer threads append to a hot case (most of the time) and a few others, half of the
time with `If-Match` on the newest version any of them has seen (now and then on the one before
it, which the case has certainly passed). Without `If-Match` every append must succeed (201);
with it, 201 or 412 (the case moved on), a 412 only ever with `If-Match`, and always one on a
version passed; a batch stored with `If-Match: "n"` is stored right after version n.

Phase 2: idempotent retries after client timeouts. Each thread sends with a very short client
timeout (1-50 ms, so some requests never arrive, some are cut mid-way and some are still being
stored when the client gives up), and retries each that timed out with the same ids and a
patient client: the answer must be 200 (it had been stored) or 201, never 409 or 412 (the
conditional ones go to a case the thread alone writes).

Then: no lost update (every 2xx event stored, where and as answered, a conditional batch right
after the version it named), no duplicate version, no duplicate id, nothing refused stored, and
every chain verifies.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import httpx
import pytest

from service.settings import Settings
from tests.reliability.harness import (
    FULL,
    RESULTS,
    Batch,
    NoAnswer,
    Server,
    Tally,
    check_chains,
    check_log,
    mint,
    opening,
    post,
    run_threads,
    some_events,
)

pytestmark = pytest.mark.reliability

WRITERS = 8
REQUESTS = 60 if FULL else 12  # per writer, in each phase
SEED = 6


class ConcurrencyRun:
    def __init__(self, settings: Settings, log: Path) -> None:
        self.server = Server(settings, log)
        self.token = mint(settings)
        self.lock = threading.Lock()
        self.batches: list[Batch] = []
        self.refused: list[Batch] = []
        self.failures: list[str] = []
        self.seen: dict[str, int] = {}  # the newest version any writer has seen, per case
        self.tally = Tally()
        self.hot = ""
        self.others: list[str] = []
        self.own: list[str] = []

    def open_cases(self) -> None:
        rng = random.Random(SEED)
        with self.server.client(self.token) as client:
            for i in range(4 + WRITERS):
                batch = Batch.open(opening(rng, more=1))
                response = post(client, batch)
                assert response.status_code == 201, response.text
                self.batches.append(batch)
                self.seen[batch.case_id] = batch.answer["version"]
                (self.others if i < 4 else self.own).append(batch.case_id)
        self.hot = self.others.pop()

    def note(self, batch: Batch) -> None:
        with self.lock:
            self.batches.append(batch)
            self.seen[batch.case_id] = max(self.seen[batch.case_id], batch.answer["version"])

    def fail(self, what: str, response: httpx.Response) -> None:
        with self.lock:
            self.failures.append(f"{what}: {response.status_code} {response.text[:300]}")

    # --- phase 1 -----------------------------------------------------------------------

    def contender(self, index: int, start: threading.Barrier) -> None:
        rng = random.Random(SEED * 100 + index)
        with self.server.client(self.token) as client:
            start.wait()
            for _ in range(REQUESTS):
                case_id = self.hot if rng.random() < 0.7 else rng.choice(self.others)
                if_match = f'"{self.seen[case_id]}"' if rng.random() < 0.5 else None
                # Now and then a version the case is known to have passed: always a 412.
                stale = if_match is not None and rng.random() < 0.2
                if stale:
                    if_match = f'"{self.seen[case_id] - 1}"'
                    self.tally.add("stale")
                batch = Batch.append(
                    case_id, some_events(rng, rng.randint(1, 3)), if_match=if_match
                )
                response = post(client, batch)
                self.tally.add("busy", batch.busy)
                self.tally.add("conditional" if if_match else "unconditional")
                if stale and response.status_code != 412:
                    self.fail(f"If-Match {if_match}, a version the case had passed", response)
                elif response.status_code == 201 or (response.status_code == 200 and batch.busy):
                    self.note(batch)
                elif response.status_code == 412 and if_match:
                    problem = response.json()
                    if problem["current_version"] == problem["expected_version"]:
                        self.fail("412 at the expected version", response)
                    with self.lock:
                        self.refused.append(batch)
                        self.seen[case_id] = max(self.seen[case_id], problem["current_version"])
                    self.tally.add("412")
                else:
                    self.fail(f"{'conditional' if if_match else 'unconditional'} append", response)

    # --- phase 2 -----------------------------------------------------------------------

    def impatient(self, index: int, start: threading.Barrier) -> None:
        rng = random.Random(SEED * 1000 + index)
        own = self.own[index]
        with self.server.client(self.token) as client:
            start.wait()
            for _ in range(REQUESTS):
                events = some_events(rng, rng.randint(1, 3))
                if rng.random() < 0.5:
                    batch = Batch.append(own, events, if_match=f'"{self.seen[own]}"')
                else:
                    batch = Batch.append(rng.choice([self.hot, *self.others]), events)
                try:
                    response = post(client, batch, timeout=rng.choice([0.001, 0.005, 0.02, 0.05]))
                    retried = False
                except NoAnswer:
                    self.tally.add("timed out")
                    try:
                        response = post(client, batch)  # the same ids, a patient client
                    except NoAnswer as e:
                        with self.lock:
                            self.failures.append(f"retry got no answer: {e}")
                        continue
                    retried = True
                self.tally.add("busy", batch.busy)
                if response.status_code == 201 or (
                    response.status_code == 200 and (retried or batch.busy)
                ):
                    self.note(batch)
                    if retried:
                        self.tally.add(f"retry {response.status_code}")
                else:
                    self.fail(f"{'retry' if retried else 'append'} after a timeout", response)


def test_concurrency_when_many_writers_then_no_lost_update_and_no_duplicate(
    settings: Settings, tmp_path: Path
) -> None:
    started = time.monotonic()
    run = ConcurrencyRun(settings, tmp_path / "serve.log")
    try:
        run.server.start()
        run.open_cases()
        # Given WRITERS threads released at once, contending for one case (phase 1), then
        # giving up on their requests after a few milliseconds and retrying them (phase 2)
        for writer in (run.contender, run.impatient):
            start = threading.Barrier(WRITERS)
            # When each sends REQUESTS appends
            run_threads([lambda i=i, w=writer, b=start: w(i, b) for i in range(WRITERS)])
        run.server.stop()
    finally:
        run.server.kill()

    # Then every answer was one the contract allows
    assert not run.failures, "\n".join(run.failures[:20]) + "\n" + run.server.tail()
    # And every acknowledged event is stored once, where its answer said; nothing refused is
    log = check_log(settings, run.batches, run.refused)
    # And every chain verifies
    check_chains(settings, log.cases)

    store = "PostgreSQL" if settings.is_postgres else "SQLite"
    t = run.tally
    RESULTS.add(
        "Concurrency",
        f"- {store}: {WRITERS} writer threads. Contention: {WRITERS} x {REQUESTS} appends (70% "
        f"to one case): {t['unconditional']} without If-Match, every one stored; "
        f"{t['conditional']} with If-Match, {t['412']} answered 412 (none of them stored; "
        f"{t['stale']} of them on a version the case had passed). "
        f"Client timeouts: {WRITERS} x {REQUESTS} appends with a 1-50 ms client timeout, "
        f"{t['timed out']} timed out and were retried with the same ids: {t['retry 200']} "
        f"replays (200: stored before), {t['retry 201']} created (201). 503s retried: "
        f"{t['busy']}. {log.acknowledged_events} acknowledged events checked, no duplicate "
        f"version or id, chains verified; {time.monotonic() - started:.0f} s",
    )
