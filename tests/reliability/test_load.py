"""Load (full harness only): a minute of mixed reads and writes on loopback against the real
server, with throughput and p50/p99 latencies reported (and written to results.md).

Client threads, each on its own keep-alive connection, pick an operation at random: the state,
the chronology, a page of the raw events, a page of the feed, an append of 1-3 events, or an
append with `If-Match` on the newest version seen (which loses, deliberately, to the others'
appends now and then: 412). No answer may be an error other than those 412s, and afterwards
every acknowledged event is stored once and every chain verifies.
"""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import pytest

from service.settings import Settings
from tests.reliability.harness import (
    FULL,
    RESULTS,
    Batch,
    Server,
    check_chains,
    check_log,
    mint,
    opening,
    percentile,
    post,
    run_threads,
    some_events,
)

pytestmark = pytest.mark.reliability

SECONDS = float(os.environ.get("CASETRAIL_RELIABILITY_LOAD_SECONDS", "60"))
CLIENTS = 4
CASES = 20
SEED = 60
# Operation → its share of the requests.
MIX = {
    "GET state": 35,
    "GET chronology": 15,
    "GET events": 10,
    "GET feed": 5,
    "POST append": 30,
    "POST append If-Match": 5,
}


class LoadRun:
    def __init__(self, settings: Settings, log: Path) -> None:
        self.server = Server(settings, log)
        self.token = mint(settings)
        self.lock = threading.Lock()
        self.batches: list[Batch] = []
        self.refused: list[Batch] = []
        self.latencies: dict[str, list[float]] = {op: [] for op in MIX}
        self.statuses: dict[str, dict[int, int]] = {op: {} for op in MIX}
        self.errors: list[str] = []
        self.seen: dict[str, int] = {}
        self.cases: list[str] = []

    def seed(self) -> None:
        rng = random.Random(SEED)
        with self.server.client(self.token) as client:
            for _ in range(CASES):
                batch = Batch.open(opening(rng, more=10))
                assert post(client, batch).status_code == 201
                self.batches.append(batch)
                self.cases.append(batch.case_id)
                self.seen[batch.case_id] = batch.answer["version"]

    def client(self, index: int, until: float) -> None:
        rng = random.Random(SEED * 10 + index)
        ops, weights = list(MIX), list(MIX.values())
        with self.server.client(self.token) as client:
            while time.monotonic() < until:
                op = rng.choices(ops, weights)[0]
                case_id = rng.choice(self.cases)
                batch = None
                started = time.perf_counter()
                if op == "GET state":
                    response = client.get(f"/cases/{case_id}")
                elif op == "GET chronology":
                    response = client.get(f"/cases/{case_id}/chronology")
                elif op == "GET events":
                    response = client.get(f"/cases/{case_id}/events", params={"limit": 100})
                elif op == "GET feed":
                    after = rng.randrange(max(1, sum(self.seen.values())))
                    response = client.get("/feed", params={"after": after, "limit": 100})
                else:
                    if_match = f'"{self.seen[case_id]}"' if op.endswith("If-Match") else None
                    events = some_events(rng, rng.randint(1, 3))
                    batch = Batch.append(case_id, events, if_match=if_match)
                    response = post(client, batch, patience=0)
                elapsed = time.perf_counter() - started
                self.note(op, response.status_code, elapsed, batch, response.text)

    def note(self, op: str, status: int, elapsed: float, batch: Batch | None, text: str) -> None:
        with self.lock:
            self.latencies[op].append(elapsed)
            self.statuses[op][status] = self.statuses[op].get(status, 0) + 1
            if batch is not None and batch.acknowledged:
                self.batches.append(batch)
                self.seen[batch.case_id] = max(self.seen[batch.case_id], batch.answer["version"])
            elif batch is not None and status == 412 and batch.if_match:
                self.refused.append(batch)
            elif not 200 <= status < 300:
                self.errors.append(f"{op}: {status} {text[:300]}")


def test_load_when_mixed_reads_and_writes_for_a_minute_then_no_errors(
    settings: Settings, tmp_path: Path
) -> None:
    if not FULL:
        pytest.skip("the load test runs in the full harness only: make reliability")
    run = LoadRun(settings, tmp_path / "serve.log")
    try:
        run.server.start()
        run.seed()
        # Given CLIENTS threads sending mixed reads and writes as fast as answers come
        started = time.monotonic()
        run_threads(
            [lambda i=i: run.client(i, started + SECONDS) for i in range(CLIENTS)],
            timeout=SECONDS + 120,
        )
        elapsed = time.monotonic() - started
        run.server.stop()
    finally:
        run.server.kill()

    # Then no answer was an error but the deliberate 412s
    assert not run.errors, f"{len(run.errors)} errors:\n" + "\n".join(run.errors[:20])
    # And every acknowledged event is stored once, nothing refused is, every chain verifies
    log = check_log(settings, run.batches, run.refused)
    check_chains(settings, log.cases)

    store = "PostgreSQL" if settings.is_postgres else "SQLite"
    every = [t for times in run.latencies.values() for t in times]
    reads = [t for op, times in run.latencies.items() if op.startswith("GET") for t in times]
    writes = [t for op, times in run.latencies.items() if op.startswith("POST") for t in times]
    appended = log.acknowledged_events - sum(len(b.ids) for b in run.batches[:CASES])
    refused = run.statuses["POST append If-Match"].get(412, 0)
    rows = [
        f"- {store}: {CLIENTS} client threads for {elapsed:.0f} s, one server worker: "
        f"{len(every):,} requests, {len(every) / elapsed:,.0f} requests/s ({len(reads):,} "
        f"reads, {len(writes):,} writes storing {appended:,} events, {appended / elapsed:,.0f} "
        f"events/s); {refused} deliberate 412s, no other error; p50 / p99: all "
        f"{_ms(every)}, reads {_ms(reads)}, writes {_ms(writes)}",
        "",
        f"| {store} operation | requests | p50 ms | p99 ms |",
        "|---|---|---|---|",
        *(
            f"| {op} | {len(times):,} | {percentile(times, 50) * 1000:.1f} | "
            f"{percentile(times, 99) * 1000:.1f} |"
            for op, times in run.latencies.items()
        ),
        "",
    ]
    for row in rows:
        RESULTS.add("Load (mixed reads and writes on loopback)", row)


def _ms(times: list[float]) -> str:
    return f"{percentile(times, 50) * 1000:.1f} / {percentile(times, 99) * 1000:.1f} ms"
