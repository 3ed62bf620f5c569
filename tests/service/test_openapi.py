"""The committed OpenAPI document is the app's, and it documents what clients need."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from domain.catalogue import catalogue
from service.cli import openapi_document

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def _document() -> dict[str, Any]:
    return json.loads(json.dumps(openapi_document(), sort_keys=True))


def test_openapi_when_app_changes_then_committed_copy_must_be_regenerated() -> None:
    # Given the committed document and the one the app serves
    committed = json.loads(COMMITTED.read_text())
    # When they are compared
    served = _document()
    # Then they are equal (regenerate with `make openapi`)
    assert committed == served, "openapi/openapi.json is stale: run `make openapi`"


def test_openapi_events_when_documented_then_a_union_discriminated_on_type() -> None:
    # Given the document
    document = _document()
    schemas = document["components"]["schemas"]
    # When the append request's events are read
    items = schemas["AppendRequest"]["properties"]["events"]["items"]
    # Then they are a oneOf over every catalogue type, discriminated on `type`
    assert items["discriminator"]["propertyName"] == "type"
    assert set(items["discriminator"]["mapping"]) == set(catalogue.names())
    for name in catalogue.names():
        assert f"{name}Event" in schemas


def test_openapi_operations_when_listed_then_readable_ids_and_problem_responses() -> None:
    # Given the document
    document = _document()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            # Then every operation has a readable id
            assert operation["operationId"].replace("_", "").isalpha(), (path, method)
            if path in ("/health", "/ready"):
                continue
            # And every authenticated endpoint lists 401 as a problem document
            assert "401" in operation["responses"], (path, method)
            problem = operation["responses"]["401"]["content"]["application/problem+json"]
            assert problem["schema"]["$ref"] == "#/components/schemas/Problem"
