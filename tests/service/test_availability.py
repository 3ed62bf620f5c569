"""When the store cannot be reached: writes and reads answer 503 (never 500), `/ready` promptly."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy.exc
from eventsourcing.persistence import InterfaceError, OperationalError, PersistenceError
from fastapi.testclient import TestClient
from httpx import Response

from service import readiness
from service.api.app import create_app, store_unreachable
from service.clock import SettableClock
from service.settings import Settings
from tests.support import append, event, open_case

Headers = dict[str, str]

PROBLEM_JSON = "application/problem+json"
UNREACHABLE_POSTGRES = "postgresql://root@127.0.0.1:1/test"  # nothing listens on port 1


def assert_store_unavailable(response: Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.headers["Retry-After"] == "5"
    body = response.json()
    assert body["type"] == "urn:casetrail:problem:store-unavailable"
    assert body["status"] == 503
    assert body["title"] and body["detail"]


@pytest.fixture
def short_lock_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """The library's SQLite lock timeout cut to 1 second, so a held lock fails a write quickly."""
    original = Settings.library_environment

    def library_environment(self: Settings) -> dict[str, str]:
        env = original(self)
        if not self.is_postgres:
            env["SQLITE_LOCK_TIMEOUT"] = "1"
        return env

    monkeypatch.setattr(Settings, "library_environment", library_environment)


@pytest.fixture
def sqlite_client(
    tmp_path: Path, clock: SettableClock, short_lock_timeout: None
) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=tmp_path / "data"), clock)) as client:
        yield client


@pytest.fixture
def writer(sqlite_client: TestClient) -> Headers:
    tokens = sqlite_client.app.state.tokens  # type: ignore[attr-defined]
    jwt = tokens.mint(
        sub="ann", name="Ann Worker", agency="csc:barsetshire", roles=["practitioner"]
    )
    return {"Authorization": f"Bearer {jwt}"}


def test_append_when_sqlite_locked_beyond_timeout_then_503_nothing_stored_then_works(
    sqlite_client: TestClient, writer: Headers
) -> None:
    # Given a case, and another connection holding an exclusive lock on the log file
    case_id, _ = open_case(sqlite_client, writer)
    settings: Settings = sqlite_client.app.state.settings  # type: ignore[attr-defined]
    blocker = sqlite3.connect(settings.sqlite_path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    concern = event("ConcernObserved", "2013-05-20")
    try:
        # When an append is posted while the lock is held
        started = time.monotonic()
        refused = append(sqlite_client, writer, case_id, concern)
        # Then it is a 503 store-unavailable problem with Retry-After, soon after the timeout
        assert_store_unavailable(refused)
        assert time.monotonic() - started < 8
    finally:
        blocker.rollback()
        blocker.close()
    # And nothing was stored
    events = sqlite_client.get(f"/cases/{case_id}/events", headers=writer).json()["events"]
    assert [e["type"] for e in events] == ["CaseOpened"]
    # And once the lock is released the same append is stored as new
    retried = append(sqlite_client, writer, case_id, concern)
    assert retried.status_code == 201, retried.text
    assert [e["version"] for e in retried.json()["events"]] == [2]
    assert not retried.json()["events"][0]["replayed"]


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("connection refused"),
        InterfaceError("connection already closed"),
        PersistenceError("server closed the connection unexpectedly"),
    ],
    ids=["operational", "interface", "persistence"],
)
def test_read_when_store_raises_persistence_error_then_503_store_unavailable(
    client: TestClient, headers: Headers, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    # Given a case, and a store that fails as PostgreSQL does when it goes away
    case_id, _ = open_case(client, headers)
    records: Any = client.app.state.records  # type: ignore[attr-defined]

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(records, "state_and_next_change", fail)
    # When the state is read
    response = client.get(f"/cases/{case_id}", headers=headers)
    # Then the answer is a 503 problem, not a 500
    assert_store_unavailable(response)


# --- /ready ----------------------------------------------------------------------------------


def test_ready_probe_when_postgres_port_closed_then_unreachable_promptly() -> None:
    # Given settings for a PostgreSQL server that is not there (create_app would fail at start:
    # it opens the store eagerly, so the probe is exercised directly)
    settings = Settings(database_url=UNREACHABLE_POSTGRES)
    # When the store is probed
    started = time.monotonic()
    problem = store_unreachable(settings)
    # Then it says why, within the probe's own short timeout
    assert problem is not None
    assert time.monotonic() - started < 5


def test_ready_probe_when_sqlite_file_missing_then_unreachable_and_not_created(
    tmp_path: Path,
) -> None:
    # Given an SQLite store whose log file does not exist
    settings = Settings(data_dir=tmp_path / "nowhere")
    settings.prepare()
    # When the store is probed
    problem = store_unreachable(settings)
    # Then it is not ready, and the probe did not create the file
    assert problem is not None
    assert not settings.sqlite_path.exists()


def test_ready_probe_when_store_answers_then_none(settings: Settings, client: TestClient) -> None:
    # Given a running app on a real store (SQLite, or PostgreSQL when configured)
    # When the store is probed
    # Then it answers
    assert store_unreachable(settings) is None
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


def test_ready_when_postgres_unreachable_then_503_retry_after_and_readiness_body(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an app whose settings now point at a PostgreSQL server that is not there
    app: Any = client.app
    monkeypatch.setattr(app.state, "settings", Settings(database_url=UNREACHABLE_POSTGRES))
    # When readiness is asked for
    started = time.monotonic()
    response = client.get("/ready")
    # Then it answers promptly: 503, Retry-After, and a Readiness body naming the store
    assert time.monotonic() - started < 5
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["store"] == "postgresql"
    assert body["detail"]


@pytest.fixture
def locked_sqlite(sqlite_client: TestClient) -> Iterator[Callable[[], None]]:
    """Hold, then release, an exclusive lock on the app's SQLite log file."""
    settings: Settings = sqlite_client.app.state.settings  # type: ignore[attr-defined]
    blocker = sqlite3.connect(settings.sqlite_path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    yield blocker.rollback
    blocker.close()


def test_ready_when_sqlite_write_locked_then_still_answers_promptly(
    sqlite_client: TestClient, locked_sqlite: Callable[[], None]
) -> None:
    # Given another connection holding the log file's write lock (WAL: readers go on)
    # When readiness is asked for
    started = time.monotonic()
    response = sqlite_client.get("/ready")
    # Then it answers within the probe's timeout (whatever it concludes), never hangs or 500s
    assert time.monotonic() - started < 5
    assert response.status_code in (200, 503), response.text


# --- /ready: every store, and the read models' lag ---------------------------------------------


def test_ready_when_read_models_lag_then_still_ready_and_lag_reported_per_model(
    start_app: Callable[..., TestClient],
) -> None:
    # (No `token` fixture: it starts the default app on this store, whose runner would catch up.)
    # Given an app whose read models are not kept current (no runner), and a case in the log
    app = start_app(projections_in_process=False)
    tokens = app.app.state.tokens  # type: ignore[attr-defined]
    jwt = tokens.mint(sub="ann", name="Ann", agency="csc:barsetshire", roles=["practitioner"])
    open_case(app, {"Authorization": f"Bearer {jwt}"})
    # When readiness is asked for
    response = app.get("/ready")
    # Then it is ready: lag alone never makes it unready
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["detail"] is None
    assert body["stores"] == {
        name: {"reachable": True, "detail": None} for name in ("log", "audit", "read_models")
    }
    # And each read model's lag behind the log is reported
    lags = {p["name"]: p for p in body["projections"]}
    assert set(lags) == {"cases", "alerts"}
    for lag in lags.values():
        assert lag["log_position"] >= 1
        assert lag["lag"] == lag["log_position"] - lag["position"]
        assert lag["lag"] >= 1


def test_ready_when_audit_store_missing_then_503_naming_the_audit_store(
    sqlite_client: TestClient,
) -> None:
    # Given an embedded store whose access audit file has gone
    settings: Settings = sqlite_client.app.state.settings  # type: ignore[attr-defined]
    settings.audit_path.rename(settings.audit_path.with_suffix(".moved"))
    # When readiness is asked for
    response = sqlite_client.get("/ready")
    # Then it is unavailable, with Retry-After, and says which store and why
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["stores"]["audit"]["reachable"] is False
    assert body["stores"]["log"]["reachable"] is True
    assert body["stores"]["read_models"]["reachable"] is True
    assert body["detail"].startswith("audit: ")
    # And the probe did not create the missing file
    assert not settings.audit_path.exists()


def test_ready_when_store_answers_then_store_unreachable_is_none_for_every_store(
    settings: Settings, client: TestClient
) -> None:
    # Given a running app (SQLite, or PostgreSQL when configured)
    # When every store is probed
    # Then each answers (the log, the audit, the read models)
    assert store_unreachable(settings) is None
    body = client.get("/ready").json()
    assert all(store["reachable"] for store in body["stores"].values())
    assert body["store"] == ("postgresql" if settings.is_postgres else "sqlite")


# --- the request deadline ----------------------------------------------------------------------


def test_request_when_work_outlasts_deadline_then_503_at_the_deadline(
    start_app: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a one-second deadline, and a read that would take three seconds (a hung store)
    app = start_app(request_deadline_seconds=1)
    tokens = app.app.state.tokens  # type: ignore[attr-defined]
    jwt = tokens.mint(sub="ann", name="Ann", agency="csc:barsetshire", roles=["practitioner"])
    writer = {"Authorization": f"Bearer {jwt}"}
    case_id, _ = open_case(app, writer)
    records: Any = app.app.state.records  # type: ignore[attr-defined]
    original = records.state_and_next_change

    def hung(*args: Any, **kwargs: Any) -> Any:
        time.sleep(3)
        return original(*args, **kwargs)

    monkeypatch.setattr(records, "state_and_next_change", hung)
    # When the state is read
    started = time.monotonic()
    response = app.get(f"/cases/{case_id}", headers=writer)
    elapsed = time.monotonic() - started
    # Then the answer is a 503 problem with Retry-After at the deadline, not after the work
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["type"] == "urn:casetrail:problem:deadline-exceeded"
    assert 0.9 < elapsed < 2.5
    # And the next request is served as usual
    monkeypatch.setattr(records, "state_and_next_change", original)
    assert app.get(f"/cases/{case_id}", headers=writer).status_code == 200


def test_request_deadline_when_handler_runs_in_a_thread_then_it_sees_the_time_left(
    start_app: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a four-second deadline, and a read that notes the time its store calls have left
    from service.deadline import time_left

    app = start_app(request_deadline_seconds=4)
    tokens = app.app.state.tokens  # type: ignore[attr-defined]
    jwt = tokens.mint(sub="ann", name="Ann", agency="csc:barsetshire", roles=["practitioner"])
    writer = {"Authorization": f"Bearer {jwt}"}
    case_id, _ = open_case(app, writer)
    records: Any = app.app.state.records  # type: ignore[attr-defined]
    original = records.state_and_next_change
    seen: list[float] = []

    def noting(*args: Any, **kwargs: Any) -> Any:
        seen.append(time_left(1000.0))
        return original(*args, **kwargs)

    monkeypatch.setattr(records, "state_and_next_change", noting)
    # When the state is read
    assert app.get(f"/cases/{case_id}", headers=writer).status_code == 200
    # Then the worker thread saw the request's deadline, not the outside-a-request default
    assert len(seen) == 1
    assert 0 < seen[0] <= 4


def test_feed_long_poll_when_wait_exceeds_deadline_then_wait_is_added_not_cut(
    start_app: Callable[..., TestClient],
) -> None:
    # Given a two-second deadline
    app = start_app(request_deadline_seconds=2)
    tokens = app.app.state.tokens  # type: ignore[attr-defined]
    jwt = tokens.mint(sub="ian", name="Ian", agency="csc:barsetshire", roles=["integrator"])
    # When a long-poll waits four seconds for events that never come
    started = time.monotonic()
    response = app.get("/feed?after=999999&wait=4", headers={"Authorization": f"Bearer {jwt}"})
    # Then it is an empty page after the wait (the deadline is six seconds), not a 503 at two
    assert response.status_code == 200, response.text
    assert response.json()["events"] == []
    assert time.monotonic() - started >= 3.8


def test_case_list_when_read_model_store_connection_fails_then_503_store_unavailable(
    client: TestClient, token: Callable[..., Headers], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a read-model store whose connection fails (as SQLAlchemy reports PostgreSQL gone)
    search: Any = client.app.state.case_search  # type: ignore[attr-defined]

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(search, "list_cases", fail)
    # When the case list is read
    response = client.get("/cases", headers=token(roles=("manager",)))
    # Then it is a 503 store-unavailable problem with Retry-After, not a 500
    assert_store_unavailable(response)


def test_ready_when_probed_by_many_at_once_then_one_probe_connection_per_store_at_a_time(
    sqlite_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given probe connections that take a while to open, counted while they are open
    opened = {"now": 0, "most": 0}
    counting = threading.Lock()

    class Counted:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            with counting:
                opened["now"] += 1
                opened["most"] = max(opened["most"], opened["now"])
            time.sleep(0.05)
            self.connection = sqlite3.connect(*args, **kwargs)

        def execute(self, *args: Any) -> sqlite3.Cursor:
            return self.connection.execute(*args)

        def close(self) -> None:
            self.connection.close()
            with counting:
                opened["now"] -= 1

    monkeypatch.setattr(readiness, "sqlite3", SimpleNamespace(connect=Counted, Error=sqlite3.Error))

    # When twenty unauthenticated clients ask for /ready and /metrics at once
    paths = ["/ready", "/metrics"] * 10
    with ThreadPoolExecutor(max_workers=len(paths)) as pool:
        statuses = list(pool.map(lambda path: sqlite_client.get(path).status_code, paths))

    # Then every one is answered, and the process never held more than one probe connection
    # at a time (however many arrive, they cannot exhaust the database's connections)
    assert statuses == [200] * len(paths)
    assert opened["most"] == 1
