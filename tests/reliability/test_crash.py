"""Crash: `kill -9` of the real server under concurrent appends, then restart on the same store.

Each cycle starts `casetrail serve`, lets several client threads append (new cases, batches of
several events, appends with `If-Match` to a case each thread alone writes, `If-Match: *`, reads),
kills the server at a random moment, and restarts it. Before anything else is sent after a
restart, every request that got no answer is looked up: its events must be all stored or none
(a batch is atomic); it is then sent again with the same ids, and must answer 200 (a replay)
exactly when it was stored, 201 when it was not, never a conflict. The last few acknowledged
requests are sent again too, and must answer 200 with the results first given. After the last
cycle: every acknowledged event stored exactly once where its answer said, versions 1..n per
case, nothing stored that was not sent, every chain verifies (`casetrail verify`), and the read
models caught up by `casetrail projections run --once` hold exactly the rows a rebuild gives.

Short (`make test`): 3 cycles per store; full (`make reliability`): 20.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass
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
    check_projections,
    fetch_case,
    mint,
    opening,
    post,
    run_threads,
    some_events,
)

pytestmark = pytest.mark.reliability

CYCLES = 20 if FULL else 3
WRITERS = 4
LOAD_SECONDS = (0.3, 2.5) if FULL else (0.5, 1.5)  # how long the clients run before the kill
SEED = 20261126  # the choices of cases, sizes and delays (the timing itself is the machine's)


@dataclass
class Owned:
    """A case one writer alone appends to, with If-Match: a 412 there is always a bug."""

    case_id: str
    version: int | None = None  # None until its opening is acknowledged


class CrashRun:
    def __init__(self, settings: Settings, log: Path, seed: int) -> None:
        # The runner polls often and snapshots come every 7 versions, so kills land in both.
        self.server = Server(settings, log, projection_poll_seconds="0.05", snapshot_interval="7")
        self.settings = settings
        self.token = mint(settings)
        self.rng = random.Random(seed)
        self.seed = seed
        self.lock = threading.Lock()
        self.batches: list[Batch] = []
        self.pool: list[str] = []  # shared cases, opened and acknowledged
        self.owned = [Owned(str(uuid.uuid4())) for _ in range(WRITERS)]
        self.failures: list[str] = []
        self.unheard_reads: list[float] = []
        self.tally = Tally()

    # --- one cycle ---------------------------------------------------------------------

    def cycle(self, number: int) -> None:
        self.server.start()
        self.resolve()
        self.resend_acknowledged()
        if not self.pool:
            with self.server.client(self.token) as client:
                for _ in range(3):
                    batch = Batch.open(opening(self.rng, more=2))
                    self.send(client, batch)
        self.unheard_reads.clear()
        stop = threading.Event()
        killed: list[float] = []
        delay = self.rng.uniform(*LOAD_SECONDS)

        def killer() -> None:
            time.sleep(delay)
            killed.append(self.server.kill())
            stop.set()  # writers between requests stop; the others find the server gone

        run_threads([killer, *(lambda i=i: self.writer(i, number, stop) for i in range(WRITERS))])
        self.tally.add("cycles")
        with self.lock:
            early = [
                b for b in self.batches if b.no_answer_at is not None and b.no_answer_at < killed[0]
            ]
        early_reads = [t for t in self.unheard_reads if t < killed[0]]
        if early or early_reads:
            self.failures.append(
                f"cycle {number}: {len(early) + len(early_reads)} requests lost their "
                "connection before the kill"
            )

    def writer(self, index: int, cycle: int, stop: threading.Event) -> None:
        rng = random.Random(self.seed * 1000 + cycle * 10 + index)
        owned = self.owned[index]
        with self.server.client(self.token) as client:
            try:
                while not stop.is_set():
                    roll = rng.random()
                    if owned.version is None:
                        events = opening(rng, more=rng.randrange(3))
                        self.send(client, Batch.open(events, case_id=owned.case_id))
                    elif roll < 0.15:
                        self.send(client, Batch.open(opening(rng, more=rng.randrange(3))))
                    elif roll < 0.55:
                        with self.lock:
                            case_id = rng.choice(self.pool)
                        if_match = "*" if rng.random() < 0.2 else None
                        events = some_events(rng, rng.randint(1, 5))
                        self.send(client, Batch.append(case_id, events, if_match=if_match))
                    elif roll < 0.85:
                        events = some_events(rng, rng.randint(1, 3))
                        if_match = f'"{owned.version}"'
                        self.send(client, Batch.append(owned.case_id, events, if_match=if_match))
                    else:
                        self.read(client, rng)
            except NoAnswer:
                return  # the server is gone; what this request did is resolved after restart

    def send(self, client: httpx.Client, batch: Batch) -> None:
        with self.lock:
            self.batches.append(batch)
        self.tally.add("batches")
        response = post(client, batch)
        self.tally.add("busy", batch.busy)
        # A fresh batch is a 201; a 200 only after a 503 that had in fact stored it.
        expected = {201, 200} if batch.busy else {201}
        if response.status_code not in expected:
            self.failures.append(
                f"{batch.path} ({batch.if_match or 'no If-Match'}): {response.status_code} "
                f"{response.text[:300]}"
            )
            raise NoAnswer("unexpected answer: this writer stops")
        self.acknowledged(batch)

    def acknowledged(self, batch: Batch) -> None:
        for owned in self.owned:
            if owned.case_id == batch.case_id:
                owned.version = batch.answer["version"]
                return
        if batch.opening:
            with self.lock:
                self.pool.append(batch.case_id)

    def read(self, client: httpx.Client, rng: random.Random) -> None:
        with self.lock:
            case_id = rng.choice(self.pool)
        path = rng.choice([f"/cases/{case_id}", f"/cases/{case_id}/events"])
        try:
            response = client.get(path, params={"limit": 10} if "events" in path else None)
        except httpx.TransportError as e:
            self.unheard_reads.append(time.monotonic())
            raise NoAnswer(str(e)) from e
        self.tally.add("reads")
        if response.status_code != 200:
            self.failures.append(f"GET {path}: {response.status_code} {response.text[:300]}")

    # --- after a restart ---------------------------------------------------------------

    def resend_acknowledged(self, count: int = 3) -> None:
        """Send the last few acknowledged batches again, with the same ids, as a client whose
        answer the kill cut off would: each must be a replay (200) of the results it was first
        given, never stored again or refused."""
        with self.lock:
            last = [b for b in self.batches if b.acknowledged][-count:]
        with self.server.client(self.token) as client:
            for sent in last:
                again = Batch(sent.case_id, sent.body, opening=sent.opening, if_match=sent.if_match)
                try:
                    response = post(client, again)
                except NoAnswer as e:
                    self.failures.append(f"resend of {sent.ids} after restart got no answer: {e}")
                    continue
                first = [(e["id"], e["version"], e["position"]) for e in sent.answer["events"]]
                now = [
                    (e["id"], e["version"], e["position"]) for e in again.answer.get("events", [])
                ]
                if response.status_code != 200 or now != first:
                    self.failures.append(
                        f"resend of {sent.path} ({sent.if_match or 'no If-Match'}), acknowledged "
                        f"before the kill: {response.status_code} {response.text[:300]}"
                    )
                self.tally.add("resent")

    def resolve(self) -> None:
        """Look up every request that got no answer (all or none of it stored?), then send it
        again with the same ids: 200 if it was stored, 201 if not, never anything else."""
        unresolved = [b for b in self.batches if b.unresolved]
        if not unresolved:
            return
        with self.server.client(self.token) as client:
            cases = {b.case_id: dict(fetch_case(client, b.case_id)) for b in unresolved}
            for batch in unresolved:
                versions = [cases[batch.case_id].get(i) for i in batch.ids]
                present = [v for v in versions if v is not None]
                if present and len(present) != len(versions):
                    self.failures.append(f"batch half stored after a kill: {batch.ids} {versions}")
                elif present and present != list(range(present[0], present[0] + len(present))):
                    self.failures.append(f"batch stored out of order: {batch.ids} {versions}")
                batch.landed_unheard = bool(present)
                if batch.never_connected:
                    self.tally.add("not sent")  # after the kill: it never reached the server
                else:
                    self.tally.add("unheard landed" if present else "unheard lost")
            for batch in unresolved:
                batch.no_answer_at = None
                try:
                    response = post(client, batch)
                except NoAnswer as e:
                    self.failures.append(f"retry of {batch.ids} after restart got no answer: {e}")
                    continue
                expected = 200 if batch.landed_unheard else 201
                if response.status_code != expected:
                    self.failures.append(
                        f"retry of {batch.path} ({batch.if_match or 'no If-Match'}), "
                        f"{'stored' if batch.landed_unheard else 'not stored'} before: "
                        f"{response.status_code} {response.text[:300]}"
                    )
                    continue
                self.acknowledged(batch)


def test_crash_when_killed_under_concurrent_appends_then_nothing_lost_or_half_written(
    settings: Settings, tmp_path: Path
) -> None:
    started = time.monotonic()
    run = CrashRun(settings, tmp_path / "serve.log", SEED)
    try:
        # Given the real server, killed with -9 at a random moment in each of CYCLES cycles of
        # concurrent appends, and restarted on the same store
        for number in range(CYCLES):
            run.cycle(number)
            assert not run.failures, "\n".join(run.failures[:20]) + "\n" + run.server.tail()
        # When it is started once more (and every unanswered request resolved), then stopped
        run.server.start()
        run.resolve()
        run.server.stop()
    finally:
        run.server.kill()
    assert not run.failures, "\n".join(run.failures[:20]) + "\n" + run.server.tail()

    # Then every acknowledged event is stored exactly once, batches whole, versions 1..n
    log = check_log(settings, run.batches)
    # And every chain verifies
    check_chains(settings, log.cases)
    # And the read models, caught up, equal a rebuild from the log
    rows = check_projections(settings)

    store = "PostgreSQL" if settings.is_postgres else "SQLite"
    t = run.tally
    RESULTS.add(
        "Crash (kill -9 under concurrent appends)",
        f"- {store}: {t['cycles']} kill -9 cycles, {WRITERS} writer threads; {t['batches']} "
        f"write requests ({log.acknowledged_events} acknowledged events checked, "
        f"{log.cases} cases), {t['reads']} reads; requests cut by a kill: "
        f"{t['unheard landed']} had been stored (retry answered 200), {t['unheard lost']} had "
        f"not (retry answered 201), none half stored; {t['resent']} acknowledged before a kill "
        f"and sent again after the restart, each a replay (200) of its first results; "
        f"{t['not sent']} more found the server "
        f"down (retried: 201); 503s retried: {t['busy']}; "
        f"every chain verified; read models ({rows['cases']} + {rows['alerts']} rows) equal a "
        f"rebuild; {time.monotonic() - started:.0f} s",
    )
