"""Rate limits per principal (a token's `sub` and `agency`), as a posting system meets them.

Each principal has a bucket of `CASETRAIL_RATE_LIMIT_BURST` requests refilled at
`CASETRAIL_RATE_LIMIT_PER_MINUTE`; over it, 429 with `Retry-After` and a problem document. The
operations endpoints are never limited.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from service.cli import openapi_document
from tests.support import append, event, open_case

Headers = dict[str, str]
Token = Callable[..., Headers]

PROBLEM_JSON = "application/problem+json"


def assert_rate_limited(response: Response, *, at_least: int = 1) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    retry_after = int(response.headers["Retry-After"])
    assert retry_after >= at_least
    body = response.json()
    assert body["type"] == "urn:casetrail:problem:rate-limited"
    assert body["status"] == 429
    assert body["title"] and body["detail"]
    assert body["retry_after_seconds"] == retry_after


def test_rate_limit_when_principal_over_its_burst_then_429_and_others_unaffected(
    start_app: Callable[..., TestClient], token: Token
) -> None:
    # Given a limit of one request a minute, in bursts of two
    app = start_app(rate_limit_per_minute=1, rate_limit_burst=2)
    ann = token()

    # When one principal makes three requests at once
    answers = [app.get("/cases", headers=ann) for _ in range(3)]

    # Then the first two are answered and the third refused until a request is refilled
    assert [a.status_code for a in answers[:2]] == [200, 200]
    assert_rate_limited(answers[2], at_least=30)
    # And another person of the same agency, and the same subject for another agency, are not
    others = [
        token(sub="bob.manager", name="Bob Manager", roles=("manager",)),
        token(agency="csc:wessex"),
    ]
    assert [app.get("/cases", headers=h).status_code for h in others] == [200, 200]
    # And the refusal is counted
    metrics = app.get("/metrics").text
    assert "casetrail_rate_limited_total 1.0" in metrics
    assert 'casetrail_http_requests_total{method="GET",route="/cases",status="429"} 1.0' in metrics


def test_rate_limit_when_append_refused_then_nothing_stored(
    start_app: Callable[..., TestClient], token: Token
) -> None:
    # Given a limit of two requests at once, and a case opened with the first
    app = start_app(rate_limit_per_minute=1, rate_limit_burst=2)
    writer = token()
    case_id, _ = open_case(app, writer)
    stored = event("CaseNoteRecorded")
    assert append(app, writer, case_id, stored).status_code == 201

    # When the writer appends once more, over its limit
    refused = event("CaseNoteRecorded")
    response = append(app, writer, case_id, refused)

    # Then it is refused and nothing of it is stored
    assert_rate_limited(response)
    reader = token(sub="carol.manager", name="Carol Manager", roles=("manager",))
    events = app.get(f"/cases/{case_id}/events", headers=reader).json()["events"]
    assert [e["id"] for e in events][1:] == [stored["id"]]
    assert "casetrail_appended_events_total 2.0" in app.get("/metrics").text


def test_rate_limit_when_refused_before_validation_then_429_not_422(
    start_app: Callable[..., TestClient], token: Token
) -> None:
    # Given a principal that has used its burst
    app = start_app(rate_limit_per_minute=1, rate_limit_burst=1)
    writer = token()
    assert app.get("/cases", headers=writer).status_code == 200

    # When it posts an invalid batch
    response = app.post("/cases", json={"events": [{"type": "NoSuchType"}]}, headers=writer)

    # Then the answer is the rate limit: nothing of the request was looked at
    assert_rate_limited(response)


def test_rate_limit_when_bucket_refills_then_answered_again(
    start_app: Callable[..., TestClient], token: Token
) -> None:
    # Given a limit of one request a second, no burst
    app = start_app(rate_limit_per_minute=60, rate_limit_burst=1)
    ann = token()
    assert app.get("/cases", headers=ann).status_code == 200
    refused = app.get("/cases", headers=ann)
    assert_rate_limited(refused)

    # When the client waits as Retry-After says
    time.sleep(int(refused.headers["Retry-After"]) + 0.1)

    # Then it is answered again
    assert app.get("/cases", headers=ann).status_code == 200


def test_rate_limit_when_zero_then_off(start_app: Callable[..., TestClient], token: Token) -> None:
    # Given the limit switched off, with a burst of one
    app = start_app(rate_limit_per_minute=0, rate_limit_burst=1)
    ann = token()

    # When one principal makes many requests at once
    statuses = {app.get("/cases", headers=ann).status_code for _ in range(20)}

    # Then none is refused
    assert statuses == {200}


def test_rate_limit_when_operations_endpoints_then_never_limited(
    start_app: Callable[..., TestClient], token: Token
) -> None:
    # Given a principal that has used its burst
    app = start_app(rate_limit_per_minute=1, rate_limit_burst=1)
    ann = token()
    assert app.get("/cases", headers=ann).status_code == 200
    assert app.get("/cases", headers=ann).status_code == 429

    # When it (and anyone) asks the operations endpoints, again and again
    paths = ("/health", "/ready", "/metrics", "/docs", "/openapi.json")
    statuses = {app.get(path, headers=ann).status_code for path in paths for _ in range(3)}

    # Then they always answer
    assert statuses == {200}


def test_openapi_when_endpoint_needs_token_then_documents_429_with_retry_after() -> None:
    # Given the document
    document: dict[str, Any] = openapi_document()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if path in ("/health", "/ready"):
                # Then the operations endpoints list no 429
                assert "429" not in responses, path
                continue
            # And every endpoint needing a token lists 429 and its Retry-After
            limited = responses.get("429")
            assert limited is not None, (path, method)
            assert "Retry-After" in limited["headers"], (path, method)
            schema = limited["content"][PROBLEM_JSON]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}
