"""When the store cannot be reached: writes and reads answer 503 (never 500), `/ready` promptly."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import InterfaceError, OperationalError, PersistenceError
from fastapi.testclient import TestClient
from httpx import Response

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

    monkeypatch.setattr(records, "case_state", fail)
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
