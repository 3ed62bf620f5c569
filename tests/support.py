"""Builders for tests: events from the catalogue's examples, and a case opened over HTTP."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from tests.examples import VALID_PAYLOADS

LOCAL_AUTHORITY = "csc:barsetshire"


def payload(kind: str, target: str | None = None, **changes: Any) -> dict[str, Any]:
    """The catalogue example of `kind`, with `{target}` set and top-level fields changed."""
    data = copy.deepcopy(VALID_PAYLOADS[kind])
    if target is not None:
        data = json.loads(json.dumps(data).replace("{target}", target))
    if kind == "CaseOpened":
        data["local_authority"] = LOCAL_AUTHORITY
    data.update(changes)
    return data


def event(
    kind: str,
    occurred_at: str = "2013-05-16",
    *,
    target: str | None = None,
    data: dict[str, Any] | None = None,
    **envelope: Any,
) -> dict[str, Any]:
    """A posted event: a fresh id, the example payload unless `data` is given."""
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "type": kind,
        "occurred_at": occurred_at,
        "data": data if data is not None else payload(kind, target),
    }
    body.update(envelope)
    return body


def open_case(
    client: TestClient,
    headers: dict[str, str],
    *more: dict[str, Any],
    occurred_at: str = "2013-05-16",
) -> tuple[str, dict[str, Any]]:
    """Open a case over HTTP; returns its id and the CaseOpened event posted."""
    opened = event("CaseOpened", occurred_at)
    response = client.post("/cases", json={"events": [opened, *more]}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"]), opened


def append(
    client: TestClient,
    headers: dict[str, str],
    case_id: str,
    *events: dict[str, Any],
    **kwargs: Any,
) -> Any:
    return client.post(
        f"/cases/{case_id}/events", json={"events": list(events)}, headers=headers, **kwargs
    )


def app_routes(app: FastAPI) -> list[APIRoute]:
    """Every FastAPI route of the app, included routers flattened."""
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    if iterate is None:  # FastAPI versions that flatten included routers into `app.routes`
        return [r for r in app.routes if isinstance(r, APIRoute)]
    return [c.original_route for c in iterate(app.routes) if isinstance(c.original_route, APIRoute)]


def school_referred_case(client: TestClient, csc: dict[str, str], school: str) -> str:
    """A case opened on `school`'s referral, its episode still open: the school is involved."""
    referral = payload(
        "ContactReceived", referrer={"name": "Mrs Jones", "agency": school, "role": "DSL"}
    )
    contact = event("ContactReceived", "2026-10-01", data=referral)
    case_id, _ = open_case(
        client, csc, contact, event("ReferralAccepted", "2026-10-02"), occurred_at="2026-10-01"
    )
    return case_id


def partnered_and_owned(
    client: TestClient, csc: dict[str, str], wessex: dict[str, str]
) -> tuple[str, str, dict[str, Any], dict[str, Any], int]:
    """A Barsetshire case Wessex's children's social care is involved in (from 1 November
    2026), and a case Wessex owns: their ids, the involvement and the opening posted, and the
    newest position."""
    involved = event(
        "AgencyInvolvementStarted",
        "2026-11-01",
        data=payload("AgencyInvolvementStarted", agency="csc:wessex"),
    )
    partnered, _ = open_case(client, csc, involved)
    opened = event("CaseOpened", data=payload("CaseOpened", local_authority="csc:wessex"))
    response = client.post("/cases", json={"events": [opened]}, headers=wessex)
    assert response.status_code == 201, response.text
    body = response.json()
    return partnered, body["case_id"], involved, opened, body["events"][-1]["position"]


def audited_reads(
    client: TestClient, case_id: str, headers: dict[str, str]
) -> list[tuple[str, str]]:
    """The case's audited reads, as (endpoint, view), oldest first."""
    trail = client.get(f"/cases/{case_id}/audit", headers=headers, params={"kind": "read"})
    return [(e["endpoint"], e["view"]) for e in trail.json()["entries"]]
