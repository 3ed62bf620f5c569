"""The OpenAPI document describes the responses the app really sends."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from fastapi.testclient import TestClient

from service.cli import openapi_document
from tests.support import append, event

Headers = dict[str, str]
Token = Callable[..., Headers]

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# The response headers clients act on, each to be declared wherever a response sends it.
CLIENT_HEADERS = (
    "ETag",
    "Location",
    "Link",
    "X-Projection-Position",
    "Retry-After",
    "X-Request-ID",
)


def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(json.dumps(openapi_document(), sort_keys=True))
    return document


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


def test_openapi_problems_when_documented_then_only_as_problem_json() -> None:
    # Given the document
    document = _document()
    for path, method, operation in _operations(document):
        if path == "/ready":
            continue  # its 503 is a Readiness body, not a problem
        for status, response in operation["responses"].items():
            if not status.startswith(("4", "5")):
                continue
            # Then every error response is a problem document, and only that
            assert response["content"] == {"application/problem+json": {"schema": PROBLEM_REF}}, (
                path,
                method,
                status,
            )
    # And FastAPI's own validation-error schema is gone (ours is a problem document)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert "Problem" in document["components"]["schemas"]


def test_openapi_replays_when_documented_then_200_is_an_append_response() -> None:
    # Given the document
    document = _document()
    for path in ("/cases", "/cases/{case_id}/events"):
        responses = document["paths"][path]["post"]["responses"]
        # Then the replay (200) and the new write (201) both have the AppendResponse schema
        for status in ("200", "201"):
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/AppendResponse"}, (path, status)


def test_openapi_when_endpoint_needs_token_or_store_then_503_with_retry_after() -> None:
    # Given the document
    document = _document()
    for path, method, operation in _operations(document):
        if path == "/health":
            continue  # touches neither the store nor the keys
        # Then every other endpoint lists 503 and the Retry-After header that comes with it
        unavailable = operation["responses"].get("503")
        assert unavailable is not None, (path, method)
        assert "Retry-After" in unavailable["headers"], (path, method)


def _undeclared(
    document: dict[str, Any], path: str, method: str, response: httpx.Response
) -> list[str]:
    """The client headers `response` carries that the document does not declare for it."""
    declared = document["paths"][path][method]["responses"][str(response.status_code)]
    return [
        name
        for name in CLIENT_HEADERS
        if name in response.headers and name not in declared.get("headers", {})
    ]


def test_openapi_headers_when_routes_answer_then_each_header_they_send_is_declared(
    client: TestClient, token: Token
) -> None:
    # Given the document the app serves, and a case
    document = client.get("/openapi.json").json()
    csc = token()
    manager = token(roles=("manager",), sub="m")
    opened = event("CaseOpened")
    note = event("CaseNoteRecorded")

    # When each route answers as a client meets it: the writes, then the reads
    created = client.post("/cases", json={"events": [opened]}, headers=csc)
    case_id = created.json()["case_id"]
    appended = append(client, csc, case_id, note)
    wait = {"X-Min-Position": str(appended.json()["events"][-1]["position"])}
    state = client.get(f"/cases/{case_id}", headers=csc)
    answers = [
        ("/cases", "post", created),
        ("/cases", "post", client.post("/cases", json={"events": [opened]}, headers=csc)),
        ("/cases/{case_id}/events", "post", appended),
        ("/cases/{case_id}/events", "post", append(client, csc, case_id, note)),
        ("/cases/{case_id}", "get", state),
        (
            "/cases/{case_id}",
            "get",
            client.get(
                f"/cases/{case_id}", headers={**csc, "If-None-Match": state.headers["ETag"]}
            ),
        ),
        ("/cases/{case_id}", "get", client.get(f"/cases/{case_id}")),
        ("/cases", "get", client.get("/cases", headers={**csc, **wait})),
        ("/alerts", "get", client.get("/alerts", headers={**csc, **wait})),
        ("/caseloads", "get", client.get("/caseloads", headers={**manager, **wait})),
        ("/feed", "get", client.get("/feed", headers=csc)),
        ("/health", "get", client.get("/health")),
    ]

    # Then every client header a response carries is declared for its route and status
    assert [a.status_code for _, _, a in answers] == [
        201,
        200,
        201,
        200,
        200,
        304,
        401,
        200,
        200,
        200,
        200,
        200,
    ]
    assert {
        (path, method, response.status_code): _undeclared(document, path, method, response)
        for path, method, response in answers
    } == {(path, method, response.status_code): [] for path, method, response in answers}
    # And each of them is sent by some answer here, so none is left unchecked
    sent = {name for _, _, a in answers for name in CLIENT_HEADERS if name in a.headers}
    assert sent == set(CLIENT_HEADERS) - {"Retry-After"}


def test_openapi_headers_when_refused_for_now_then_retry_after_and_position_declared(
    start_app: Callable[..., TestClient],
) -> None:
    # Given an app whose read models are not run and whose principals may make two requests
    app = start_app(
        projections_in_process=False,
        projection_wait_seconds=0,
        rate_limit_per_minute=1,
        rate_limit_burst=2,
    )
    document = app.get("/openapi.json").json()
    tokens = app.app.state.tokens  # type: ignore[attr-defined]
    jwt = tokens.mint(sub="ann", name="Ann", agency="csc:barsetshire", roles=["practitioner"])
    csc = {"Authorization": f"Bearer {jwt}"}
    created = app.post("/cases", json={"events": [event("CaseOpened")]}, headers=csc)
    position = created.json()["events"][-1]["position"]

    # When the case list is asked to wait for that write, and then asked once too often
    behind = app.get("/cases", headers={**csc, "X-Min-Position": str(position)})
    limited = app.get("/cases", headers=csc)

    # Then the 503 and the 429 send Retry-After (and the 503 the model's position), declared
    assert (behind.status_code, limited.status_code) == (503, 429)
    assert "Retry-After" in behind.headers and "X-Projection-Position" in behind.headers
    assert "Retry-After" in limited.headers
    assert _undeclared(document, "/cases", "get", behind) == []
    assert _undeclared(document, "/cases", "get", limited) == []
