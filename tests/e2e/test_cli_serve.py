"""The fresh-machine story over real HTTP: `casetrail serve`, `casetrail token`, post, read back."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import event

CLI = [sys.executable, "-m", "service.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASETRAIL_")}
    env["CASETRAIL_DATA_DIR"] = str(tmp_path / "data")
    return env


@contextlib.contextmanager
def _serving(environment: dict[str, str], *options: str) -> Iterator[str]:
    """`casetrail serve` on a free port until the block ends; yields its base URL."""
    port = _free_port()
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), *options],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its workers too are stopped with the group
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            os.killpg(process.pid, signal.SIGKILL)
            _, errors = process.communicate(timeout=10)
            raise AssertionError(errors.decode() if errors else "no start")
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


@pytest.fixture
def server(environment: dict[str, str]) -> Iterator[str]:
    with _serving(environment) as base:
        yield base


def _token(environment: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [*CLI, "token", *args], env=environment, capture_output=True, text=True, check=True
    )
    lines = result.stdout.splitlines()
    assert len(lines) == 1, "the token must be alone on one line"
    return lines[0]


def test_cli_token_when_roles_bad_then_exit_code_two(environment: dict[str, str]) -> None:
    # Given a role that does not exist
    # When a token is asked for
    result = subprocess.run(
        [*CLI, "token", "--sub", "x", "--agency", "csc:barsetshire", "--role", "wizard"],
        check=False,
        env=environment,
        capture_output=True,
        text=True,
    )
    # Then nothing is printed on stdout and the exit code says why
    assert result.returncode == 2
    assert result.stdout == ""
    assert "roles" in result.stderr


def test_serve_when_case_posted_then_state_and_csv_read_back(
    server: str, environment: dict[str, str]
) -> None:
    # Given a running service and a token minted by the CLI with the same settings
    jwt = _token(
        environment, "--sub", "ann", "--agency", "csc:barsetshire", "--role", "practitioner"
    )
    headers = {"Authorization": f"Bearer {jwt}"}
    opened = event("CaseOpened", "2013-05-16")
    concern = event("ConcernObserved", "2013-05-20")
    # When a case is opened and an event appended over HTTP
    created = httpx.post(f"{server}/cases", json={"events": [opened]}, headers=headers)
    assert created.status_code == 201, created.text
    case_id = created.json()["case_id"]
    appended = httpx.post(
        f"{server}/cases/{case_id}/events", json={"events": [concern]}, headers=headers
    )
    assert appended.status_code == 201, appended.text
    # Then the state as of a date before the concern does not show it, and now does
    before = httpx.get(f"{server}/cases/{case_id}", params={"as_of": "2013-05-18"}, headers=headers)
    after = httpx.get(f"{server}/cases/{case_id}", headers=headers)
    assert before.json()["open_concerns"] == []
    assert [c["event_id"] for c in after.json()["open_concerns"]] == [concern["id"]]
    # And the chronology comes back as CSV
    chronology = httpx.get(
        f"{server}/cases/{case_id}/chronology", headers={**headers, "Accept": "text/csv"}
    )
    rows = list(csv.DictReader(io.StringIO(chronology.content.decode("utf-8-sig"))))
    assert [r["type"] for r in rows] == ["CaseOpened", "ConcernObserved"]
    # And an unknown case is a 404 problem
    missing = httpx.get(f"{server}/cases/{uuid.uuid4()}", headers=headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_serve_when_several_workers_start_on_fresh_data_dir_then_one_key_serves_all(
    environment: dict[str, str],
) -> None:
    # Given a fresh data directory (no signing key yet) and a service started with two workers
    keys = Path(environment["CASETRAIL_DATA_DIR"]) / "keys"
    assert not keys.exists()
    with _serving(environment, "--workers", "2") as base:
        # When a token is minted by the CLI with the key `serve` made before its workers started
        jwt = _token(
            environment, "--sub", "ann", "--agency", "csc:barsetshire", "--role", "practitioner"
        )
        headers = {"Authorization": f"Bearer {jwt}"}
        # Then every request is accepted, whichever worker answers it
        for _ in range(12):
            with httpx.Client() as fresh:  # a new connection each time, to reach both workers
                response = fresh.post(
                    f"{base}/cases", json={"events": [event("CaseOpened")]}, headers=headers
                )
            assert response.status_code == 201, response.text
    # And exactly one signing key was published
    jwks = (keys / "jwks.json").read_text()
    assert jwks.count('"kid"') == 1


@pytest.mark.parametrize("path", ["/health", "/ready"])
def test_serve_when_uptime_check_sends_head_then_answered_as_get_without_a_body(
    server: str, path: str
) -> None:
    # When a monitor asks with HEAD, as some uptime checkers do
    head = httpx.head(f"{server}{path}")
    get = httpx.get(f"{server}{path}")

    # Then it gets the GET's status and headers, and no body
    assert head.status_code == get.status_code == 200
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.content == b""


def test_serve_when_client_sends_head_then_get_headers_without_body_on_a_reusable_connection(
    environment: dict[str, str], server: str
) -> None:
    # Given a case, and a client on one keep-alive connection
    jwt = _token(environment, "--sub", "ann", "--agency", "csc:barsetshire", "--role", "manager")
    headers = {"Authorization": f"Bearer {jwt}"}
    with httpx.Client(base_url=server, headers=headers, timeout=10) as client:
        opened = client.post("/cases", json={"events": [event("CaseOpened")]})
        assert opened.status_code == 201, opened.text
        case = f"/cases/{opened.json()['case_id']}"

        # When it asks with HEAD for the case, the feed's stream, and without its token
        state = client.head(case)
        started = time.monotonic()
        stream = client.head("/feed/stream")
        stream_seconds = time.monotonic() - started
        anonymous = client.head(case, headers={"Authorization": ""})

        # Then each is the GET's status and headers with no body, the stream ended with its
        # headers, and the connection still serves the next request
        get = client.get(case)
        assert state.status_code == get.status_code == 200
        assert state.content == b""
        assert state.headers["etag"] == get.headers["etag"]
        assert state.headers["content-length"] == get.headers["content-length"]
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.content == b""
        assert stream_seconds < 5  # (not held open until a heartbeat: those come every 15 s)
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        assert anonymous.content == b""
        # And the HEAD of the case is audited as a read, while the stream's read nothing
        audit = client.get(f"{case}/audit", params={"kind": "read"}).json()["entries"]
        endpoints = {entry["endpoint"] for entry in audit}
        assert "HEAD /cases/{case_id}" in endpoints
        assert not {e for e in endpoints if e.endswith("/feed/stream")}
