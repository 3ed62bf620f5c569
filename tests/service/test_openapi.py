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


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node))
    return set()


def test_openapi_refs_when_resolved_then_each_names_a_schema_of_the_document() -> None:
    # Given the document
    document = _document()
    # When every reference in it is resolved against the document itself
    unresolved = []
    for ref in sorted(_refs(document)):
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            node = node.get(part) if isinstance(node, dict) else None
        if not ref.startswith("#/") or node is None:
            unresolved.append(ref)
    # Then each finds what it names (a tool resolving the schemas fails on any that does not)
    assert unresolved == []


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
