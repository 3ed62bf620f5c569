"""The OpenAPI document describes the responses the app really sends."""

from __future__ import annotations

import json
from typing import Any

from service.cli import openapi_document

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


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
