"""Observability from the operator's side: `GET /metrics`, `X-Request-ID`, JSON log lines.

Metrics name routes by their template and never carry ids; log lines carry the request id, the
route template and the principal's `sub` and `agency`, and never a payload, a query string or a
person's name.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from service.logs import JsonFormatter
from tests.support import append, event, open_case

Headers = dict[str, str]
Token = Callable[..., Headers]

CHILD = "Amy Smith"  # the child's name in the catalogue's CaseOpened example
WORKER = "Ann Worker"  # the name in the `token()` principal's token


def scrape(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of `GET /metrics` (no token), by name and labels."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the service's loggers write, formatted as `casetrail serve` formats them."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("casetrail")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield out
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def parsed(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


# --- GET /metrics --------------------------------------------------------------------------------


def test_metrics_when_requests_answered_then_counted_by_route_template_and_status(
    client: TestClient, headers: Headers
) -> None:
    # Given a case opened, read, asked for with HEAD, and an unknown case asked for
    case_id, _ = open_case(client, headers)
    assert client.get(f"/cases/{case_id}", headers=headers).status_code == 200
    assert client.head(f"/cases/{case_id}", headers=headers).status_code == 200
    missing = "00000000-0000-4000-8000-000000000000"
    assert client.get(f"/cases/{missing}", headers=headers).status_code == 404

    # When the metrics are scraped, with no token
    response = client.get("/metrics")
    samples = scrape(client)

    # Then each request is counted under its route template and status, never its URL
    requests = "casetrail_http_requests_total"
    assert value(samples, requests, method="POST", route="/cases", status="201") == 1
    assert value(samples, requests, method="GET", route="/cases/{case_id}", status="200") == 1
    assert value(samples, requests, method="HEAD", route="/cases/{case_id}", status="200") == 1
    assert value(samples, requests, method="GET", route="/cases/{case_id}", status="404") == 1
    latency = "casetrail_http_request_duration_seconds_count"
    assert value(samples, latency, method="GET", route="/cases/{case_id}", status="200") == 1
    assert case_id not in response.text
    assert missing not in response.text
    # And both reads were audited
    assert value(samples, "casetrail_audit_writes_total") == 2
    assert value(samples, "casetrail_audit_write_failures_total") == 0


def test_metrics_when_appends_replays_and_conflicts_then_each_counted(
    client: TestClient, headers: Headers
) -> None:
    # Given a case opened with two events and one more appended
    case_id, _ = open_case(client, headers, event("CaseNoteRecorded"))
    note = event("CaseNoteRecorded")
    assert append(client, headers, case_id, note).status_code == 201
    # And the same batch sent again (a replay)
    assert append(client, headers, case_id, note).status_code == 200
    # And a stale If-Match, an id reused with other content, and a second open of the case
    stale = client.post(
        f"/cases/{case_id}/events",
        json={"events": [event("CaseNoteRecorded")]},
        headers={**headers, "If-Match": '"1"'},
    )
    assert stale.status_code == 412
    reused = {**event("CaseNoteRecorded"), "id": note["id"], "occurred_at": "2013-05-17"}
    assert append(client, headers, case_id, reused).status_code == 409
    again = client.post(
        "/cases",
        json={"case_id": case_id, "events": [event("CaseOpened")]},
        headers=headers,
    )
    assert again.status_code == 409

    # When the metrics are scraped
    samples = scrape(client)

    # Then the events stored are counted once, the replay and each conflict by reason
    assert value(samples, "casetrail_appended_events_total") == 3
    assert value(samples, "casetrail_append_replays_total") == 1
    conflicts = "casetrail_append_conflicts_total"
    assert value(samples, conflicts, status="412", reason="version-mismatch") == 1
    assert value(samples, conflicts, status="409", reason="event-id-reused") == 1
    assert value(samples, conflicts, status="409", reason="case-exists") == 1
    assert value(samples, "casetrail_append_retries_total") == 0


def test_metrics_when_another_writer_wins_the_version_then_the_retry_is_counted(
    client: TestClient, headers: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a case, and another writer that stores an event just before this append's save
    case_id, _ = open_case(client, headers)
    records = client.app.state.records  # type: ignore[attr-defined]
    save = records._store
    principal = client.app.state.tokens.verify(  # type: ignore[attr-defined]
        headers["Authorization"].removeprefix("Bearer ")
    )
    slipped_in: list[bool] = []

    def save_after_another_writer(*args: Any, **kwargs: Any) -> Any:
        if not slipped_in:
            slipped_in.append(True)
            records.record(uuid.UUID(case_id), [event("CaseNoteRecorded")], by=principal)
        return save(*args, **kwargs)

    monkeypatch.setattr(records, "_store", save_after_another_writer)

    # When an append without If-Match is sent
    response = append(client, headers, case_id, event("CaseNoteRecorded"))

    # Then it wins after a retry, at the version after the other writer's
    assert response.status_code == 201, response.text
    assert response.json()["version"] == 3
    samples = scrape(client)
    assert value(samples, "casetrail_append_retries_total") == 1
    assert value(samples, "casetrail_appended_events_total") == 3


def test_metrics_when_projections_behind_then_positions_and_lag_per_read_model(
    start_app: Callable[..., TestClient],
) -> None:
    # Given an app whose read models' runner is not running, and a case of two events
    app = start_app(projections_in_process=False)
    jwt = app.app.state.tokens.mint(  # type: ignore[attr-defined]
        sub="ann.worker", name=WORKER, agency="csc:barsetshire", roles=["practitioner"]
    )
    open_case(app, {"Authorization": f"Bearer {jwt}"}, event("CaseNoteRecorded"))

    # When the metrics are scraped
    samples = scrape(app)

    # Then the log's position, and each read model's position and lag, are reported
    assert value(samples, "casetrail_projection_status_up") == 1
    assert value(samples, "casetrail_log_position") == 2
    for model in ("cases", "alerts"):
        assert value(samples, "casetrail_projection_position", model=model) == 0
        assert value(samples, "casetrail_projection_lag", model=model) == 2
        assert ("casetrail_projection_diverged", frozenset({("model", model)})) in samples
        assert value(samples, "casetrail_projection_diverged", model=model) == 0


def test_metrics_when_runner_in_process_then_lag_falls_to_zero(
    client: TestClient, headers: Headers
) -> None:
    # Given a case opened on an app running its read models
    open_case(client, headers)

    # When the metrics are scraped until the runner has caught up (bounded)
    deadline = 200
    samples = scrape(client)
    while value(samples, "casetrail_projection_lag", model="cases") and deadline:
        deadline -= 1
        samples = scrape(client)

    # Then the lag is zero and the position is the log's
    assert value(samples, "casetrail_projection_lag", model="cases") == 0
    assert value(samples, "casetrail_projection_position", model="cases") == value(
        samples, "casetrail_log_position"
    )


def test_metrics_when_audit_write_fails_then_counted_and_logged_without_its_message(
    client: TestClient, headers: Headers, monkeypatch: pytest.MonkeyPatch, log_lines: io.StringIO
) -> None:
    # Given a case, and an audit store whose every write fails with a message quoting a name
    case_id, _ = open_case(client, headers)

    class Unwritable:
        def begin(self) -> Any:
            raise OSError(f"disk full while writing {CHILD}")

    audit = client.app.state.audit  # type: ignore[attr-defined]
    monkeypatch.setattr(audit, "engine", Unwritable())

    # When the case is read
    response = client.get(f"/cases/{case_id}", headers=headers)

    # Then the read is refused, the failure counted, and logged by type without its message
    assert response.status_code == 503
    samples = scrape(client)
    assert value(samples, "casetrail_audit_write_failures_total") == 1
    assert value(samples, "casetrail_audit_writes_total") == 0
    failures = [line for line in parsed(log_lines) if line["logger"] == "casetrail.audit"]
    assert failures and failures[0]["exception"] == "builtins.OSError"
    assert failures[0]["request_id"] == response.headers["X-Request-ID"]
    assert CHILD not in log_lines.getvalue()


def test_metrics_when_scraped_then_needs_no_token_and_is_not_rate_limited(
    start_app: Callable[..., TestClient],
) -> None:
    # Given an app whose limit is one request a minute
    app = start_app(rate_limit_per_minute=1, rate_limit_burst=1)

    # When /metrics is scraped many times
    statuses = {app.get("/metrics").status_code for _ in range(5)}

    # Then every scrape answers
    assert statuses == {200}


# --- X-Request-ID --------------------------------------------------------------------------------


def test_request_id_when_sane_then_echoed(client: TestClient, headers: Headers) -> None:
    # Given a request id of letters, digits, dots, dashes and underscores
    sent = "lb-7f3a.2026_11_26"

    # When requests send it, with and without a token
    answers = [
        client.get("/health", headers={"X-Request-ID": sent}),
        client.get("/cases", headers={**headers, "X-Request-ID": sent}),
        client.get("/cases", headers={"X-Request-ID": sent}),
    ]

    # Then every response echoes it, refusals included
    assert [a.headers["X-Request-ID"] for a in answers] == [sent] * 3
    assert answers[2].status_code == 401


@pytest.mark.parametrize(
    "sent",
    [None, "", "has spaces", "x" * 65, "semi;colon", "name=Amy%20Smith", "ends-in-newline\n"],
)
def test_request_id_when_absent_or_malformed_then_a_new_one(
    client: TestClient, sent: str | None
) -> None:
    # Given a request without a usable request id
    request_headers = {} if sent is None else {"X-Request-ID": sent}

    # When it is answered
    first = client.get("/health", headers=request_headers)
    second = client.get("/health", headers=request_headers)

    # Then each response carries a fresh, sane id, never the one sent
    ids = [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert ids[0] != ids[1]
    assert sent not in ids


def test_request_id_when_body_too_large_or_no_route_then_still_present(
    start_app: Callable[..., TestClient], token: Token
) -> None:
    # Given an app with a small body limit
    app = start_app(max_body_bytes=100)

    # When a body over it is posted, and a path no route serves is asked for
    large = app.post(
        "/cases", content=b"{" + b" " * 200 + b"}", headers={**token(), "X-Request-ID": "r-413"}
    )
    unknown = app.get("/no/such/path", headers={"X-Request-ID": "r-404"})

    # Then both carry their request id, and are measured under a template, never the path
    assert (large.status_code, large.headers["X-Request-ID"]) == (413, "r-413")
    assert (unknown.status_code, unknown.headers["X-Request-ID"]) == (404, "r-404")
    samples = scrape(app)
    requests = "casetrail_http_requests_total"
    assert value(samples, requests, method="POST", route="/cases", status="413") == 1
    assert value(samples, requests, method="GET", route="unmatched", status="404") == 1
    assert "/no/such/path" not in app.get("/metrics").text
    # And a method of the client's own invention is counted as "other"
    assert app.request("BREW", "/cases").status_code == 405
    samples = scrape(app)
    assert value(samples, requests, method="other", route="/cases", status="405") == 1


# --- JSON log lines ------------------------------------------------------------------------------


def test_logs_when_body_and_query_hold_names_then_lines_carry_request_and_principal_only(
    client: TestClient, headers: Headers, log_lines: io.StringIO
) -> None:
    # Given requests whose body and query string hold the child's name
    opened = client.post(
        "/cases",
        json={"events": [event("CaseOpened")]},
        headers={**headers, "X-Request-ID": "open-1"},
    )
    assert opened.status_code == 201
    assert CHILD in json.dumps(event("CaseOpened"))
    searched = client.get("/cases", params={"q": CHILD}, headers=headers)
    assert searched.status_code == 200

    # When the log lines are read
    lines = parsed(log_lines)

    # Then each is one JSON object; the access lines name the request, route and principal
    access = [line for line in lines if line["logger"] == "casetrail.access"]
    assert len(access) == 2
    first, second = access
    assert first["request_id"] == "open-1"
    assert second["request_id"] == searched.headers["X-Request-ID"]
    assert {k: first[k] for k in ("method", "route", "status", "sub", "agency")} == {
        "method": "POST",
        "route": "/cases",
        "status": 201,
        "sub": "ann.worker",
        "agency": "csc:barsetshire",
    }
    assert (second["method"], second["route"], second["status"]) == ("GET", "/cases", 200)
    for line in access:
        assert {"time", "level", "logger", "message", "duration_ms"} <= set(line)
        assert line["duration_ms"] >= 0
    # And no line holds the child's name, the worker's name, or the query string
    text = log_lines.getvalue()
    for secret in (CHILD, "Amy", WORKER, "q=", opened.json()["case_id"]):
        assert secret not in text, secret


def test_logs_when_token_refused_then_line_has_no_principal(
    client: TestClient, log_lines: io.StringIO
) -> None:
    # Given a request without a token
    response = client.get("/cases", params={"q": CHILD})

    # When its access line is read
    (line,) = [line for line in parsed(log_lines) if line["logger"] == "casetrail.access"]

    # Then it says what was refused, to whom it cannot say
    assert response.status_code == 401
    assert (line["route"], line["status"]) == ("/cases", 401)
    assert "sub" not in line and "agency" not in line
    assert line["request_id"] == response.headers["X-Request-ID"]


@contextmanager
def serving(tmp_path: Path, **settings: str) -> Iterator[str]:
    """`casetrail serve` on a fresh data directory, its stderr in `tmp_path / "stderr.log"`;
    yields its base URL once it answers, and stops it after."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASETRAIL_")}
    env["CASETRAIL_DATA_DIR"] = str(tmp_path / "data")
    env.update(settings)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    with (tmp_path / "stderr.log").open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def bearer(tmp_path: Path, *, role: str) -> Headers:
    """A token for `role` of csc:barsetshire, from `casetrail token` on the served data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASETRAIL_")}
    env["CASETRAIL_DATA_DIR"] = str(tmp_path / "data")
    command = ["token", "--sub", role, "--name", WORKER, "--agency", "csc:barsetshire"]
    minted = subprocess.run(
        [sys.executable, "-m", "service.cli", *command, "--role", role],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return {"Authorization": f"Bearer {minted.stdout.strip()}"}


def test_serve_when_running_then_every_stderr_line_is_json_and_no_uvicorn_access_line(
    tmp_path: Path,
) -> None:
    # Given `casetrail serve` on a fresh data directory, its stderr kept in a file
    with serving(tmp_path) as base:
        # When a request with a name in its query string is answered
        response = httpx.get(
            f"{base}/cases", params={"q": CHILD}, headers={"X-Request-ID": "e2e-1"}
        )

    # Then every line on stderr is a JSON object, the request has one access line, and no line
    # is uvicorn's access log or holds the name
    assert response.status_code == 401
    text = (tmp_path / "stderr.log").read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert any(line["logger"] == "uvicorn.error" for line in lines)
    (access,) = [line for line in lines if line.get("request_id") == "e2e-1"]
    assert (access["logger"], access["route"], access["status"]) == (
        "casetrail.access",
        "/cases",
        401,
    )
    assert not any(line["logger"] == "uvicorn.access" for line in lines)
    assert "Amy" not in text


def test_serve_when_log_level_debug_and_events_streamed_then_no_payload_in_the_logs(
    tmp_path: Path,
) -> None:
    # Given `casetrail serve` logging at debug, and a case opened for a named child
    with serving(tmp_path, CASETRAIL_LOG_LEVEL="debug") as base:
        opened = httpx.post(
            f"{base}/cases",
            json={"events": [event("CaseOpened")]},
            headers=bearer(tmp_path, role="practitioner"),
        )
        assert opened.status_code == 201, opened.text

        # When an integrator follows the feed's stream and reads the case's first event
        with httpx.stream(
            "GET", f"{base}/feed/stream", headers=bearer(tmp_path, role="integrator"), timeout=15
        ) as response:
            data = next(line for line in response.iter_lines() if line.startswith("data:"))
        assert CHILD in data

    # Then the debug lines say nothing of what was streamed: no name, no date of birth
    text = (tmp_path / "stderr.log").read_text()
    for personal in ("Amy", "2016-03-14", WORKER):
        assert personal not in text, personal
