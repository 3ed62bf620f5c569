"""The reliability harness's parts: the real `casetrail serve` as a subprocess, a ledger of every
batch sent and what came back, and the checks the store must pass afterwards.

`CASETRAIL_RELIABILITY=full` (as `make reliability` sets) chooses the full run; anything else is
the short one `make test` runs. Everything runs on loopback, bounded in time and count.
"""

from __future__ import annotations

import math
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from projections.rebuild import rebuild
from projections.registry import default_models, model_named
from projections.runner import log_position
from projections.store import ReadModelStore
from service.auth import TokenService
from service.records import CaseRecords, derived_case_id
from service.settings import Settings
from tests.projections.support import dump, environment, opened, worker
from tests.support import event

FULL = os.environ.get("CASETRAIL_RELIABILITY", "").strip().lower() == "full"
MODE = "full" if FULL else "short"
CLI = [sys.executable, "-m", "service.cli"]
AGENCY = "csc:barsetshire"  # the local authority of tests.support's CaseOpened payload
RESULTS_FILE = Path(__file__).resolve().parent / "results.md"


# --- the server ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_environment(settings: Settings, **extra: str) -> dict[str, str]:
    """The process environment for `casetrail serve` (or any CLI command) on `settings`' store:
    no `CASETRAIL_*` of the test run leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASETRAIL_")}
    env.update(environment(settings))
    env.update({f"CASETRAIL_{k.upper()}": v for k, v in extra.items()})
    return env


class Server:
    """`casetrail serve` (one worker) on a store, started, killed and restarted by the test.

    Each start takes a fresh port; the output of every run goes to one log file, whose tail a
    failure shows.
    """

    def __init__(self, settings: Settings, log: Path, **extra_env: str) -> None:
        # The harness's clients are a few principals sending as fast as they can: no rate limit.
        self.env = server_environment(settings, **{"rate_limit_per_minute": "0", **extra_env})
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        self.starts = 0

    def start(self, timeout: float = 60.0) -> str:
        assert self.process is None, "already running"
        port = _free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        with self.log.open("ab") as out:
            out.write(f"\n--- start {self.starts + 1} on port {port} ---\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                [*CLI, "serve", "--port", str(port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return self.base_url
            except httpx.TransportError:
                time.sleep(0.05)
        self.kill()
        raise AssertionError(f"casetrail serve did not start:\n{self.tail()}")

    def kill(self) -> float:
        """`kill -9`: no shutdown of any kind. The moment it was sent (monotonic)."""
        at = time.monotonic()
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
            self.process = None
        return at

    def stop(self) -> None:
        """A clean stop (SIGTERM): the in-process projection runner finishes its page."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
            self.process = None

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def client(self, token: str, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )


def mint(settings: Settings, sub: str = "reliability", roles: Sequence[str] = ("manager",)) -> str:
    """A token of the store's local signing key (made here if the store has none yet)."""
    return TokenService(settings).mint(
        sub=sub, name="Reliability Harness", agency=AGENCY, roles=list(roles)
    )


def cli(settings: Settings, *args: str) -> tuple[int, str]:
    """Run a `casetrail` command in this process (the real command, on `settings`' store):
    its exit code and output."""
    from service.cli import app

    result = CliRunner().invoke(app, list(args), env=environment(settings))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


# --- what is sent -------------------------------------------------------------------------

_KINDS = ("CaseNoteRecorded", "ConcernObserved", "IdentifierLinked", "WorkerAllocated")
_WORKERS = ("Ann Worker", "Bo Lee", "Cy Okafor", "Dee Patel")


def some_events(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """`count` events of a few types that feed both read models, each with a fresh id."""
    events = []
    for _ in range(count):
        kind = rng.choice(_KINDS)
        day = (date(2013, 6, 1) + timedelta(days=rng.randrange(2500))).isoformat()
        if kind == "WorkerAllocated":
            name = rng.choice(_WORKERS)
            events.append(worker(name, f"Team {name[0]}", occurred_at=day))
        elif kind == "IdentifierLinked":
            data = {"scheme": "upn", "value": f"U{rng.randrange(10**6):06d}"}
            events.append(event(kind, day, data=data))
        else:
            events.append(event(kind, day))
    return events


def opening(rng: random.Random, more: int = 0) -> list[dict[str, Any]]:
    """A case's opening batch: `CaseOpened` for a child with a random name, then `more` events."""
    name = f"{rng.choice(['Amy', 'Ben', 'Cara', 'Dan', 'Eve'])} {rng.choice(['Smith', 'Jones'])}"
    dob = f"201{rng.randrange(10)}-0{rng.randrange(1, 10)}-1{rng.randrange(10)}"
    return [opened(name, dob), *some_events(rng, more)]


@dataclass
class Batch:
    """One request that writes, and the last answer it got (`status` None: no answer)."""

    case_id: str
    body: dict[str, Any]
    opening: bool = False
    if_match: str | None = None
    status: int | None = None
    answer: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    busy: int = 0  # 503s answered (and retried)
    no_answer_at: float | None = None  # when a transport error ended the last attempt
    never_connected: bool = False  # the last attempt could not even connect
    landed_unheard: bool | None = None  # for a batch that got no answer: found stored later?

    @classmethod
    def open(cls, events: list[dict[str, Any]], *, case_id: str | None = None) -> Batch:
        body: dict[str, Any] = {"events": events}
        if case_id is not None:
            body["case_id"] = case_id
        target = case_id or str(derived_case_id(events[0]["id"]))
        return cls(target, body, opening=True)

    @classmethod
    def append(
        cls, case_id: str, events: list[dict[str, Any]], *, if_match: str | None = None
    ) -> Batch:
        return cls(case_id, {"events": events}, if_match=if_match)

    @property
    def path(self) -> str:
        return "/cases" if self.opening else f"/cases/{self.case_id}/events"

    @property
    def ids(self) -> list[str]:
        return [e["id"] for e in self.body["events"]]

    @property
    def acknowledged(self) -> bool:
        return self.status in (200, 201)

    @property
    def unresolved(self) -> bool:
        """No answer, or only 503s: it may or may not be stored."""
        return self.status is None or self.status == 503


class NoAnswer(Exception):
    """The request got no HTTP answer (connection refused or dropped, or a client timeout)."""


def post(
    client: httpx.Client,
    batch: Batch,
    *,
    patience: float = 20.0,
    timeout: float | None = None,
) -> httpx.Response:
    """Send `batch` (again, with the same ids); a 503 is retried, as its Retry-After invites,
    for up to `patience` seconds. The last answer is noted on the batch. `timeout`: this
    request's client timeout (default: the client's)."""
    headers = {"If-Match": batch.if_match} if batch.if_match else {}
    deadline = time.monotonic() + patience
    while True:
        batch.attempts += 1
        try:
            response = client.post(
                batch.path,
                json=batch.body,
                headers=headers,
                timeout=client.timeout if timeout is None else timeout,
            )
        except httpx.TransportError as e:
            batch.status, batch.no_answer_at = None, time.monotonic()
            batch.never_connected = isinstance(e, httpx.ConnectError)
            raise NoAnswer(str(e)) from e
        batch.status = response.status_code
        if response.status_code == 503:
            batch.busy += 1
            if time.monotonic() < deadline:
                time.sleep(0.05)
                continue
        if response.is_success:
            batch.answer = response.json()
        return response


# --- what is stored -----------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    case_id: str
    version: int
    position: int


def fetch_case(client: httpx.Client, case_id: str) -> list[tuple[str, int]]:
    """Every stored event of a case over HTTP (`GET /cases/{id}/events`): (id, version) in
    version order; [] for a case that does not exist."""
    found: list[tuple[str, int]] = []
    after = 0
    while True:
        response = client.get(
            f"/cases/{case_id}/events", params={"after_version": after, "limit": 1000}
        )
        if response.status_code == 404:
            return found
        assert response.status_code == 200, response.text
        page = response.json()
        found += [(e["id"], e["version"]) for e in page["events"]]
        if page["next_after_version"] is None:
            return found
        after = page["next_after_version"]


def read_store(settings: Settings) -> dict[str, Stored]:
    """Every event in the log, read from the store itself: event id → where it is.

    Fails if an id is stored twice or a case's versions are not exactly 1..n.
    """
    records = CaseRecords(settings)
    try:
        stored: dict[str, Stored] = {}
        problems: list[str] = []
        for case_id in records.index.case_ids():
            events = records.events_of(case_id)
            versions = [e.version for e in events]
            if versions != list(range(1, len(events) + 1)):
                problems.append(f"case {case_id}: versions not contiguous from 1: {versions}")
            for e in events:
                if e.id in stored:
                    problems.append(f"event {e.id} stored twice: {stored[e.id]} and {case_id}")
                stored[e.id] = Stored(str(case_id), e.version, int(e.position or 0))
        assert not problems, "\n".join(problems[:20])
        return stored
    finally:
        records.close()


@dataclass
class LogCheck:
    cases: int
    events: int
    batches: int
    acknowledged_events: int


def check_log(
    settings: Settings, batches: Iterable[Batch], refused: Iterable[Batch] = ()
) -> LogCheck:
    """After the run: every acknowledged event stored exactly once, where and as its answer
    said, each batch whole and in order, one sent with `If-Match: "n"` right after version n
    (no lost update); nothing refused stored; nothing stored that was not sent; every case's
    versions 1..n."""
    stored = read_store(settings)
    problems: list[str] = []
    sent: set[str] = set()
    batches = list(batches)
    acknowledged = 0
    for batch in batches:
        sent.update(batch.ids)
        if not batch.acknowledged:
            problems.append(f"batch {batch.ids} was never acknowledged (last {batch.status})")
            continue
        answered = {e["id"]: e for e in batch.answer["events"]}
        if batch.answer["case_id"] != batch.case_id:
            problems.append(f"batch {batch.ids} answered for case {batch.answer['case_id']}")
        versions = []
        for event_id in batch.ids:
            where = stored.get(event_id)
            acknowledged += 1
            if where is None:
                problems.append(f"acknowledged event {event_id} is not stored (lost)")
                continue
            versions.append(where.version)
            if where.case_id != batch.case_id:
                problems.append(f"event {event_id} stored in {where.case_id}, not its case")
            answer = answered.get(event_id)
            if answer is None or (answer["version"], answer["position"]) != (
                where.version,
                where.position,
            ):
                problems.append(f"event {event_id}: answered {answer}, stored {where}")
        if versions and versions != list(range(versions[0], versions[0] + len(versions))):
            problems.append(f"batch {batch.ids} not stored whole and in order: {versions}")
        if versions and batch.if_match not in (None, "*"):
            expected = int(batch.if_match.strip('"'))
            if versions[0] != expected + 1:
                problems.append(
                    f"batch {batch.ids} sent with If-Match {batch.if_match} stored from version "
                    f"{versions[0]}, not {expected + 1} (a lost update)"
                )
    for batch in refused:
        sent.update(batch.ids)
        present = [i for i in batch.ids if i in stored]
        if present:
            problems.append(f"refused batch ({batch.status}) stored: {present}")
    phantoms = sorted(set(stored) - sent)
    if phantoms:
        problems.append(f"{len(phantoms)} stored events were never sent: {phantoms[:5]}")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:30])
    cases = len({s.case_id for s in stored.values()})
    return LogCheck(cases, len(stored), len(batches), acknowledged)


def check_chains(settings: Settings, cases: int) -> None:
    """`casetrail verify` exits 0 and says every chain of the `cases` cases is intact."""
    code, output = cli(settings, "verify")
    assert code == 0, output
    assert f"{cases} case(s)" in output and "every chain intact" in output, output


def check_projections(settings: Settings) -> dict[str, int]:
    """`casetrail projections run --once` catches every read model up with the log, and the
    live tables then hold exactly the rows a rebuild from the log gives. Rows per model."""
    code, output = cli(settings, "projections", "run", "--once")
    assert code == 0, output
    records = CaseRecords(settings)
    store = ReadModelStore(settings)
    rows: dict[str, int] = {}
    try:
        newest = log_position(records.recorder)
        for model in default_models():
            assert store.current(model.name) == newest, (model.name, store.current(model.name))
            live = dump(store, model)
            rebuild(settings, records, model_named(model.name), store=store)
            assert dump(store, model) == live, f"{model.name}: live tables differ from a rebuild"
            rows[model.name] = sum(len(r) for r in live.values())
    finally:
        store.close()
        records.close()
    return rows


# --- figures ------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]


class Results:
    """Figures the tests report, per section: printed at the end of the run, and in the full
    run written to tests/reliability/results.md (which the README quotes)."""

    def __init__(self) -> None:
        self.sections: dict[str, list[str]] = {}
        self.lock = threading.Lock()
        self.started = time.monotonic()

    def add(self, section: str, line: str) -> None:
        with self.lock:
            self.sections.setdefault(section, []).append(line)

    def markdown(self, outcome: str) -> str:
        lines = [
            "# Reliability harness: latest full run",
            "",
            f"Mode `{MODE}`; {time.strftime('%Y-%m-%d %H:%M %Z')}; {os.cpu_count()} cores, "
            f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}; load average at the end "
            f"{os.getloadavg()[0]:.1f}; outcome: {outcome}; "
            f"{time.monotonic() - self.started:.0f} s in all. "
            "Written by `make reliability` (`CASETRAIL_RELIABILITY=full`); a test that fails "
            "adds no line.",
        ]
        for section, rows in self.sections.items():
            lines += ["", f"## {section}", "", *rows]
        return "\n".join(lines) + "\n"


RESULTS = Results()


@dataclass
class Tally:
    """Thread-safe counters."""

    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counts[key] += n

    def __getitem__(self, key: str) -> int:
        return self.counts[key]


def run_threads(targets: Sequence[Callable[[], None]], timeout: float = 120.0) -> None:
    """Run each callable in its own thread, all started together; wait for every one. Fails if
    any of them raised (a client that got no answer from a server that died, say): a thread
    that stops early must not pass for one that finished."""
    raised: list[str] = []

    def guarded(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as e:
                raised.append(f"{type(e).__name__}: {e}")

        return run

    threads = [threading.Thread(target=guarded(t), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "a client thread is still running"
    assert not raised, f"{len(raised)} client thread(s) failed:\n" + "\n".join(raised[:10])
