"""Outages: the store goes away and comes back; requests answer 503 promptly, nothing is lost.

PostgreSQL is made unavailable to the app, never to the server other tests share: the app talks
to it through `SwitchableProxy`, a TCP proxy on loopback that is switched off (its port closed,
every connection through it cut, new ones refused: what clients see while the server restarts)
and on again. An append whose connection is lost while it commits is simulated on both stores.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi.testclient import TestClient
from httpx import Response

from service.api.app import create_app
from service.clock import SettableClock
from service.settings import Settings
from tests.conftest import POSTGRES_URL
from tests.support import append, event, open_case

Headers = dict[str, str]

PROBLEM_JSON = "application/problem+json"
CONNECT_TIMEOUT = 1  # CASETRAIL_POSTGRES_CONNECT_TIMEOUT for the outage test
DEADLINE = 3.0  # CASETRAIL_REQUEST_DEADLINE_SECONDS for the outage test
# How much later than the deadline an answer may come (a loaded test machine).
MARGIN = 1.5

needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason="CASETRAIL_TEST_POSTGRES_URL is not set: PostgreSQL pass skipped"
)


class SwitchableProxy:
    """A TCP proxy on 127.0.0.1 forwarding to `upstream`, switched off and on at will.

    Off: the listening port is closed and every connection through it is cut both ways, so a
    client's next read fails and its next connection is refused. On: the same port listens
    again and forwards new connections.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.on()

    @property
    def is_on(self) -> bool:
        return self._listener is not None

    def on(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def off(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            cut, self._open = self._open, set()
        if listener is not None:
            _close(listener)  # shutdown wakes the accepting thread
        for sock in cut:
            _close(sock)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:
                    _close(client)
                    _close(server)
                    return
                self._open |= {client, server}
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open -= {source, target}
            _close(source)
            _close(target)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


def _through(proxy: SwitchableProxy) -> str:
    """CASETRAIL_TEST_POSTGRES_URL, pointed at the proxy."""
    url = urlsplit(POSTGRES_URL)
    credentials = url.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
    return urlunsplit(url._replace(netloc=netloc))


@pytest.fixture
def proxy() -> Iterator[SwitchableProxy]:
    url = urlsplit(POSTGRES_URL)
    switchable = SwitchableProxy((url.hostname or "127.0.0.1", url.port or 5432))
    yield switchable
    switchable.off()


@pytest.fixture
def proxied_client(
    proxy: SwitchableProxy, postgres_schema: str, tmp_path: Path, clock: SettableClock
) -> Iterator[TestClient]:
    settings = _proxied(proxy, postgres_schema, tmp_path, CONNECT_TIMEOUT, DEADLINE)
    with TestClient(create_app(settings, clock)) as client:
        yield client


def _proxied(
    proxy: SwitchableProxy, schema: str, tmp_path: Path, connect_timeout: int, deadline: float
) -> Settings:
    """Settings for the app on PostgreSQL through `proxy`."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=_through(proxy),
        postgres_schema=schema,
        postgres_connect_timeout=connect_timeout,
        request_deadline_seconds=deadline,
        projection_poll_seconds=0.1,
    )


def _headers(client: TestClient, roles: tuple[str, ...] = ("practitioner",)) -> Headers:
    tokens = client.app.state.tokens  # type: ignore[attr-defined]
    jwt = tokens.mint(sub="ann", name="Ann Worker", agency="csc:barsetshire", roles=list(roles))
    return {"Authorization": f"Bearer {jwt}"}


def _timed(call: Callable[[], Response]) -> tuple[Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def _until(
    call: Callable[[], Response], ok: Callable[[Response], bool], *, within: float
) -> tuple[Response, float]:
    """Repeat `call` until `ok(response)`; the last response and how long it took."""
    started = time.monotonic()
    while True:
        response = call()
        elapsed = time.monotonic() - started
        if ok(response) or elapsed > within:
            return response, elapsed
        time.sleep(0.2)


def assert_unavailable(response: Response, elapsed: float, what: str) -> None:
    assert response.status_code == 503, f"{what}: {response.status_code} {response.text}"
    assert int(response.headers["Retry-After"]) > 0, what
    assert elapsed < DEADLINE + MARGIN, f"{what} took {elapsed:.2f} s"


@needs_postgres
@pytest.mark.postgres
def test_postgres_outage_when_server_unreachable_then_prompt_503s_and_recovers_by_itself(
    proxied_client: TestClient, proxy: SwitchableProxy
) -> None:
    client = proxied_client
    writer = _headers(client)
    manager = _headers(client, ("manager",))
    # Given a case with an acknowledged append, and a read model that has caught up with it
    case_id, opened = open_case(client, writer)
    before = event("ConcernObserved", "2013-05-20")
    acknowledged = append(client, writer, case_id, before)
    assert acknowledged.status_code == 201, acknowledged.text
    position = acknowledged.json()["events"][0]["position"]
    listed = client.get("/cases", headers={**manager, "X-Min-Position": str(position)})
    assert listed.status_code == 200, listed.text

    # When PostgreSQL goes away (every connection cut, new ones refused)
    proxy.off()
    during = event("VisitMade", "2013-05-21")
    requests: list[tuple[str, Callable[[], Response]]] = [
        ("append", lambda: append(client, writer, case_id, during)),
        (
            "open",
            lambda: client.post("/cases", json={"events": [event("CaseOpened")]}, headers=writer),
        ),
        ("state", lambda: client.get(f"/cases/{case_id}", headers=writer)),
        ("events", lambda: client.get(f"/cases/{case_id}/events", headers=writer)),
        ("chronology", lambda: client.get(f"/cases/{case_id}/chronology", headers=writer)),
        ("case list", lambda: client.get("/cases", headers=manager)),
        ("feed", lambda: client.get("/feed", headers=manager)),
    ]
    # Then every request answers 503 with Retry-After within the deadline, never hangs or 500s
    for what, call in requests:
        response, elapsed = _timed(call)
        assert_unavailable(response, elapsed, what)
        assert response.headers["content-type"].startswith(PROBLEM_JSON), what
    # And /ready says which stores are unreachable, as promptly
    ready, elapsed = _timed(lambda: client.get("/ready"))
    assert_unavailable(ready, elapsed, "ready")
    body = ready.json()
    assert body["status"] == "unavailable"
    assert not any(store["reachable"] for store in body["stores"].values())
    # And the process itself is up
    assert client.get("/health").status_code == 200

    # When PostgreSQL is back (the app is not restarted)
    proxy.on()
    # Then the refused append, sent again, is stored (it was never stored: nothing doubled)
    stored, recovery = _until(
        lambda: append(client, writer, case_id, during),
        lambda r: r.status_code != 503,
        within=20,
    )
    assert stored.status_code == 201, stored.text
    assert recovery < 15, f"took {recovery:.1f} s to recover"
    # And nothing acknowledged was lost, and nothing is there twice
    events = client.get(f"/cases/{case_id}/events", headers=writer).json()["events"]
    assert [e["id"] for e in events] == [opened["id"], before["id"], during["id"]]
    assert [e["version"] for e in events] == [1, 2, 3]
    # And the read models catch up on their own, and /ready reports every store and no lag
    newest = stored.json()["events"][0]["position"]
    ready, _ = _until(
        lambda: client.get("/ready"),
        lambda r: r.status_code == 200 and all(p["lag"] == 0 for p in r.json()["projections"]),
        within=30,
    )
    assert ready.status_code == 200, ready.text
    assert {p["name"] for p in ready.json()["projections"]} == {"cases", "alerts"}
    assert all(p["log_position"] == newest for p in ready.json()["projections"])
    listed = client.get("/cases", headers={**manager, "X-Min-Position": str(newest)})
    assert listed.status_code == 200, listed.text
    assert case_id in {c["case_id"] for c in listed.json()["cases"]}


@needs_postgres
@pytest.mark.postgres
def test_append_when_server_unreachable_then_store_unavailable_after_the_connect_timeout(
    proxy: SwitchableProxy, postgres_schema: str, tmp_path: Path, clock: SettableClock
) -> None:
    # Given a deadline shorter than two connect timeouts (the defaults: 5 s and 10 s)
    settings = _proxied(proxy, postgres_schema, tmp_path, connect_timeout=2, deadline=3.5)
    with TestClient(create_app(settings, clock)) as client:
        writer = _headers(client)
        # And a case the app has written to (so an append needs no read before its insert)
        case_id, opened = open_case(client, writer)
        # When PostgreSQL goes away and an append is posted
        proxy.off()
        during = event("VisitMade", "2013-05-21")
        response = append(client, writer, case_id, during)
        # Then it is refused as the store being unavailable once no connection came within the
        # connect timeout (nothing was sent, so nothing is left to look up), not held until
        # the request's deadline
        assert response.status_code == 503, response.text
        assert response.json()["type"] == "urn:casetrail:problem:store-unavailable"
        assert int(response.headers["Retry-After"]) > 0
        # And, PostgreSQL back, the client's retry stores it once
        proxy.on()
        stored, _ = _until(
            lambda: append(client, writer, case_id, during),
            lambda r: r.status_code != 503,
            within=20,
        )
        assert stored.status_code == 201, stored.text
        events = client.get(f"/cases/{case_id}/events", headers=writer).json()["events"]
        assert [e["id"] for e in events] == [opened["id"], during["id"]]


@needs_postgres
@pytest.mark.postgres
def test_metrics_when_server_unreachable_then_scraped_at_once_with_status_down(
    proxy: SwitchableProxy, postgres_schema: str, tmp_path: Path, clock: SettableClock
) -> None:
    # Given a connect timeout as long as the request's deadline
    settings = _proxied(proxy, postgres_schema, tmp_path, connect_timeout=3, deadline=2)
    with TestClient(create_app(settings, clock)) as client:
        open_case(client, _headers(client))
        assert "casetrail_projection_status_up 1.0" in client.get("/metrics").text
        # When PostgreSQL goes away and /metrics is scraped
        proxy.off()
        scraped = client.get("/metrics")
        # Then the scrape is answered, saying the projections' status could not be read,
        # rather than waiting on a pool for a connection until the deadline refuses it
        assert scraped.status_code == 200, scraped.text
        assert "casetrail_projection_status_up 0.0" in scraped.text
        assert "casetrail_http_requests_total" in scraped.text
        # And, PostgreSQL back, the status is read again
        proxy.on()
        back, _ = _until(
            lambda: client.get("/metrics"),
            lambda r: "casetrail_projection_status_up 1.0" in r.text,
            within=20,
        )
        assert "casetrail_projection_status_up 1.0" in back.text


# --- an append whose connection is lost while it commits (both stores) --------------------


def _lose_the_answer(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, *, commit: bool, times: int = 1
) -> list[int]:
    """The log's next `times` inserts fail as a connection lost during the commit: after the
    commit (`commit=True`: the events are stored, the answer is lost) or before it."""
    recorder: Any = client.app.state.records.recorder  # type: ignore[attr-defined]
    original = recorder.insert_events
    calls: list[int] = []

    def insert_events(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) > times:
            return original(*args, **kwargs)
        if commit:
            original(*args, **kwargs)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(recorder, "insert_events", insert_events)
    return calls


def test_append_when_connection_lost_after_commit_then_201_its_own_results_not_a_conflict(
    client: TestClient, headers: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a case, and a store that commits the next append but loses the answer
    case_id, _ = open_case(client, headers)
    _lose_the_answer(client, monkeypatch, commit=True)
    concern = event("ConcernObserved", "2013-05-20")
    # When the append is posted with If-Match
    response = append(client, {**headers, "If-Match": '"1"'}, case_id, concern)
    # Then the event ids settle it: this append stored the batch, so 201 with its results
    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == '"2"'
    (result,) = response.json()["events"]
    assert result["version"] == 2
    assert result["replayed"] is False
    # And the client's retry (same If-Match) is a replay of the same results, not a 412 or 409
    retried = append(client, {**headers, "If-Match": '"1"'}, case_id, concern)
    assert retried.status_code == 200, retried.text
    assert retried.json()["events"][0] == {**result, "replayed": True}
    # And the event is stored once
    events = client.get(f"/cases/{case_id}/events", headers=headers).json()["events"]
    assert [e["id"] for e in events].count(concern["id"]) == 1


def test_open_when_connection_lost_after_commit_then_201_not_case_exists(
    client: TestClient, headers: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a store that commits the next append but loses the answer
    _lose_the_answer(client, monkeypatch, commit=True)
    opened = event("CaseOpened")
    # When a case is opened
    response = client.post("/cases", json={"events": [opened]}, headers=headers)
    # Then it is created (201), not refused as already existing
    assert response.status_code == 201, response.text
    assert response.json()["events"][0]["replayed"] is False
    # And opening it again is a replay
    again = client.post("/cases", json={"events": [opened]}, headers=headers)
    assert again.status_code == 200, again.text


def test_append_when_connection_lost_before_commit_then_503_and_retry_stores_it(
    client: TestClient, headers: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a case, and a store that loses the next append's connection before it commits
    case_id, _ = open_case(client, headers)
    _lose_the_answer(client, monkeypatch, commit=False)
    concern = event("ConcernObserved", "2013-05-20")
    # When the append is posted
    response = append(client, {**headers, "If-Match": '"1"'}, case_id, concern)
    # Then it is a 503 the client may retry (nothing was stored)
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"]
    assert response.json()["type"] == "urn:casetrail:problem:store-unavailable"
    events = client.get(f"/cases/{case_id}/events", headers=headers).json()["events"]
    assert len(events) == 1
    # And the retry stores it, as new
    retried = append(client, {**headers, "If-Match": '"1"'}, case_id, concern)
    assert retried.status_code == 201, retried.text
    assert retried.json()["events"][0]["version"] == 2


def test_append_when_connection_breaks_with_interface_error_after_commit_then_201(
    client: TestClient, headers: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a store whose connection is found closed just after the commit
    case_id, _ = open_case(client, headers)
    recorder: Any = client.app.state.records.recorder  # type: ignore[attr-defined]
    original = recorder.insert_events

    def insert_events(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(recorder, "insert_events", original)
        original(*args, **kwargs)
        raise InterfaceError("the connection is closed")

    monkeypatch.setattr(recorder, "insert_events", insert_events)
    # When an append is posted without If-Match
    response = append(client, headers, case_id, event("CaseNoteRecorded"))
    # Then it is stored once and answered as this request's own write
    assert response.status_code == 201, response.text
    assert response.json()["version"] == 2


# --- settings: every PostgreSQL pool follows them --------------------------------------------


def test_library_environment_when_postgres_then_tuned_factory_and_settings_timeouts() -> None:
    # Given PostgreSQL settings
    settings = Settings(
        database_url="postgresql://casetrail:secret@db.example:5433/records",
        postgres_pool_size=3,
        postgres_max_overflow=4,
        postgres_connect_timeout=2,
        request_deadline_seconds=7.5,
    )
    # When they are mapped onto the library's environment
    env = settings.library_environment()
    # Then the log uses the factory tuned for outages, sized and timed by the settings
    assert env["PERSISTENCE_MODULE"] == "service.store:PostgresStoreFactory"
    assert env["POSTGRES_POOL_SIZE"] == "3"
    assert env["POSTGRES_MAX_OVERFLOW"] == "4"
    assert env["POSTGRES_CONNECT_TIMEOUT"] == "2"
    assert env["POSTGRES_PRE_PING"] == "y"
    # And an append waits for the events table's lock no longer than a request may last
    assert env["POSTGRES_LOCK_TIMEOUT"] == "8"
    assert env["CASETRAIL_REQUEST_DEADLINE_SECONDS"] == "7.5"


@needs_postgres
@pytest.mark.postgres
def test_pools_when_postgres_then_log_audit_and_read_models_follow_the_settings(
    postgres_schema: str, tmp_path: Path
) -> None:
    # Given PostgreSQL settings with small pools and a two-second connect timeout
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=POSTGRES_URL,
        postgres_schema=postgres_schema,
        postgres_pool_size=2,
        postgres_max_overflow=3,
        postgres_connect_timeout=2,
        request_deadline_seconds=6,
    )
    # When the app is built
    app: Any = create_app(settings)
    try:
        # Then the log's pool (the library's) is sized and timed by them
        log_pool = app.state.records.recorder.datastore.pool
        assert (log_pool.min_size, log_pool.max_size) == (2, 5)
        assert log_pool.timeout == 2
        assert log_pool.kwargs["connect_timeout"] == 2
        assert log_pool.kwargs["keepalives"] == 1
        assert log_pool.reconnect_timeout == 5
        assert app.state.records.recorder.retry_seconds == 6
        # And so are the access audit's and the read models' engines
        for engine in (app.state.audit.engine, app.state.read_models.engine):
            assert engine.pool.size() == 2
            assert engine.pool._max_overflow == 3
            assert engine.pool._timeout == 2
    finally:
        app.state.records.close()
        app.state.audit.close()
        app.state.read_models.close()
