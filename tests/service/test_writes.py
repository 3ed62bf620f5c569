"""Writing over HTTP as a posting system sees it: validation, replays, concurrency, limits, hashes.

Every test drives the real app (FastAPI TestClient) on a real store: an SQLite file, or a
PostgreSQL schema when CASETRAIL_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import rfc8785
from fastapi.testclient import TestClient
from httpx import Response

from domain.catalogue import catalogue
from service.api.app import create_app
from service.api.models import AppendResponse
from service.clock import SettableClock
from service.settings import Settings
from tests.conftest import NOW, POSTGRES_URL
from tests.examples import INVALID_PAYLOADS, TARGET, VALID_PAYLOADS
from tests.support import LOCAL_AUTHORITY, append, event, open_case, payload

Headers = dict[str, str]

PROBLEM_JSON = "application/problem+json"
RECORDED_AT = "%Y-%m-%dT%H:%M:%S.%fZ"
GENESIS = "0" * 64

# The type of the earlier event a payload's "{target}" names.
TARGET_TYPE = {
    "EntryCorrected": "CaseNoteRecorded",
    "SignificanceAssessed": "CaseNoteRecorded",
    "EntryAnnotated": "CaseNoteRecorded",
    "EntryRetracted": "CaseNoteRecorded",
    "ConcernFollowedUp": "ConcernObserved",
    "InformationShared": "ConcernObserved",
    "AlertAcknowledged": "CaseNoteRecorded",
}


# --- helpers ---------------------------------------------------------------------------------


def needs_target(kind: str) -> bool:
    return TARGET in json.dumps(VALID_PAYLOADS[kind])


def stored_events(client: TestClient, headers: Headers, case_id: str) -> list[dict[str, Any]]:
    """Every stored event of the case, in version order (following the pages)."""
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        response = client.get(
            f"/cases/{case_id}/events",
            params={"after_version": after, "limit": 1000},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        page = response.json()
        events.extend(page["events"])
        if page["next_after_version"] is None:
            return events
        after = page["next_after_version"]


def version_of(client: TestClient, headers: Headers, case_id: str) -> int:
    return int(stored_events(client, headers, case_id)[-1]["version"])


def problem(response: Response, status: int) -> dict[str, Any]:
    """The RFC 9457 body of a refusal, after checking its status and media type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:casetrail:problem:")
    assert body["title"]
    assert isinstance(body["detail"], str)
    return body


def pointers(body: dict[str, Any]) -> list[str]:
    return [e["pointer"] for e in body.get("errors") or [] if e.get("pointer") is not None]


def note(text: str = "Mum called to rearrange Tuesday's visit", **envelope: Any) -> dict[str, Any]:
    return event("CaseNoteRecorded", data={"kind": "phone call", "text": text}, **envelope)


def assert_sent_kept(stored: Any, sent: Any, where: str = "") -> None:
    """What the client sent comes back unchanged (defaults may be added alongside it)."""
    if isinstance(sent, dict):
        assert isinstance(stored, dict), where
        for key, value in sent.items():
            assert key in stored, f"{where}/{key}"
            assert_sent_kept(stored[key], value, f"{where}/{key}")
    elif isinstance(sent, list):
        assert isinstance(stored, list) and len(stored) == len(sent), where
        for i, (kept, value) in enumerate(zip(stored, sent, strict=True)):
            assert_sent_kept(kept, value, f"{where}/{i}")
    else:
        assert stored == sent, where


def recorded_stamp(clock: SettableClock) -> str:
    return clock().astimezone(UTC).strftime(RECORDED_AT)


# --- every type of the catalogue ----------------------------------------------------------
#
# One app per store for the whole catalogue (each test opens its own case), so that walking every
# type twice over stays quick.


def _stores() -> list[Any]:
    skip = pytest.mark.skip(
        reason="CASETRAIL_TEST_POSTGRES_URL is not set: PostgreSQL pass skipped"
    )
    marks = [pytest.mark.postgres] + ([] if POSTGRES_URL else [skip])
    return ["sqlite", pytest.param("postgres", marks=marks)]


@pytest.fixture(scope="module", params=_stores())
def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, Headers]]:
    """A real app on a real store, and a writer's headers, shared by the catalogue walks."""
    data_dir = tmp_path_factory.mktemp("catalogue") / "data"
    schema = ""
    if request.param == "postgres":
        import psycopg

        schema = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        settings = Settings(data_dir=data_dir, database_url=POSTGRES_URL, postgres_schema=schema)
    else:
        settings = Settings(data_dir=data_dir)
    # One principal writes the whole catalogue walk in seconds: not what the limiter is tested on.
    settings = settings.model_copy(update={"rate_limit_per_minute": 0})
    with TestClient(create_app(settings, SettableClock(NOW))) as client:
        jwt = client.app.state.tokens.mint(  # type: ignore[attr-defined]
            sub="ann.worker",
            name="Ann Worker",
            agency=LOCAL_AUTHORITY,
            roles=["practitioner", "manager"],
        )
        yield client, {"Authorization": f"Bearer {jwt}"}
    if schema:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _case_for(client: TestClient, writer: Headers, kind: str) -> tuple[str, str | None, int]:
    """A new case holding what `kind` may target: its id, the target's id and its version."""
    case_id, _ = open_case(client, writer)
    if not needs_target(kind):
        return case_id, None, 1
    earlier = event(TARGET_TYPE[kind])
    response = append(client, writer, case_id, earlier)
    assert response.status_code == 201, response.text
    return case_id, earlier["id"], int(response.json()["version"])


@pytest.mark.parametrize("kind", catalogue.names())
def test_event_type_when_posted_with_valid_payload_then_stored(
    kind: str, shared: tuple[TestClient, Headers]
) -> None:
    # Given
    client, writer = shared
    if kind == "CaseOpened":
        case_id, expected_version = str(uuid.uuid4()), 1
        posted = event("CaseOpened")
        # When
        response = client.post(
            "/cases", json={"case_id": case_id, "events": [posted]}, headers=writer
        )
    else:
        case_id, target, version = _case_for(client, writer, kind)
        expected_version = version + 1
        posted = event(kind, target=target)
        # When
        response = append(client, writer, case_id, posted)

    # Then
    assert response.status_code == 201, response.text
    assert response.json()["version"] == expected_version
    stored = stored_events(client, writer, case_id)[-1]
    assert stored["id"] == posted["id"]
    assert stored["type"] == kind
    assert stored["version"] == expected_version
    assert_sent_kept(stored["data"], posted["data"])
    # And every event of the case chains as the reference RFC 8785 canonicaliser hashes it
    # (a payload of a type whose stored form is plain JSON is hashed without being walked)
    prev = GENESIS
    for each in stored_events(client, writer, case_id):
        assert each["hash"] == _expected_hash(each, prev), each["version"]
        prev = each["hash"]


@pytest.mark.parametrize("kind", catalogue.names())
def test_event_type_when_payload_invalid_then_422_pointing_into_data_and_nothing_stored(
    kind: str, shared: tuple[TestClient, Headers]
) -> None:
    # Given
    client, writer = shared
    if kind == "CaseOpened":
        case_id, target, before = str(uuid.uuid4()), None, None
    else:
        case_id, target, _ = _case_for(client, writer, kind)
        before = stored_events(client, writer, case_id)

    for label, invalid, pointer in INVALID_PAYLOADS[kind]:
        data = (
            invalid if target is None else json.loads(json.dumps(invalid).replace(TARGET, target))
        )
        bad = event(kind, data=data)

        # When
        if before is None:
            response = client.post(
                "/cases", json={"case_id": case_id, "events": [bad]}, headers=writer
            )
            index = 0
        else:
            # After a valid event, so that the pointer must carry the bad event's own index.
            response = append(client, writer, case_id, note(), bad)
            index = 1

        # Then
        body = problem(response, 422)
        assert pointers(body) == [f"/events/{index}/data{pointer}"], (label, body)

    if before is None:
        assert client.get(f"/cases/{case_id}/events", headers=writer).status_code == 404
    else:
        assert stored_events(client, writer, case_id) == before


def test_event_type_when_unknown_then_422_listing_known_types(
    client: TestClient, headers: Headers
) -> None:
    # Given
    case_id, _ = open_case(client, headers)
    before = stored_events(client, headers, case_id)
    unknown = {**note(), "type": "CaseNoteRecordedd"}

    # When
    response = append(client, headers, case_id, note(), unknown)

    # Then
    body = problem(response, 422)
    assert "CaseNoteRecorded" in body["detail"]
    assert "EntryCorrected" in body["detail"]
    assert pointers(body) == ["/events/1/type"]
    assert "CaseNoteRecorded" in body["errors"][0]["detail"]
    assert stored_events(client, headers, case_id) == before


def test_event_type_when_missing_then_422_at_type(client: TestClient, headers: Headers) -> None:
    # Given
    case_id, _ = open_case(client, headers)
    untyped = {k: v for k, v in note().items() if k != "type"}

    # When
    response = append(client, headers, case_id, note(), untyped)

    # Then
    assert pointers(problem(response, 422)) == ["/events/1/type"]
    assert version_of(client, headers, case_id) == 1


# --- opening a case -----------------------------------------------------------------------


def test_open_case_when_new_then_201_with_location_etag_and_derived_case_id(
    client: TestClient, headers: Headers
) -> None:
    # Given
    opened = event("CaseOpened")
    contact = event("ContactReceived", "2013-05-17")

    # When
    response = client.post("/cases", json={"events": [opened, contact]}, headers=headers)

    # Then
    assert response.status_code == 201, response.text
    body = response.json()
    case_id = uuid.UUID(body["case_id"])
    assert case_id.version == 5
    assert response.headers["Location"] == f"/cases/{case_id}"
    assert response.headers["ETag"] == '"2"'
    assert body["version"] == 2
    assert [e["id"] for e in body["events"]] == [opened["id"], contact["id"]]
    assert [e["version"] for e in body["events"]] == [1, 2]
    assert not any(e["replayed"] for e in body["events"])
    assert client.get(response.headers["Location"], headers=headers).status_code == 200


def test_open_case_when_ids_sent_in_capitals_then_answer_is_the_response_model_json(
    client: TestClient, headers: Headers
) -> None:
    # Given a batch whose event ids are spelt in capitals
    events = [event("CaseOpened"), event("ContactReceived", "2013-05-17")]
    for posted in events:
        posted["id"] = posted["id"].upper()

    # When it opens a case, and is sent again
    first = client.post("/cases", json={"events": events}, headers=headers)
    again = client.post("/cases", json={"events": events}, headers=headers)

    # Then each answer is exactly the documented model's JSON, ids in their canonical spelling
    for response in (first, again):
        assert (
            response.content
            == AppendResponse.model_validate_json(response.content).model_dump_json().encode()
        )
        assert [e["id"] for e in response.json()["events"]] == [e["id"].lower() for e in events]
    assert [first.status_code, again.status_code] == [201, 200]


def test_open_case_when_retried_without_case_id_then_200_replay_on_same_case(
    client: TestClient, headers: Headers
) -> None:
    # Given
    batch = {"events": [event("CaseOpened"), event("ContactReceived", "2013-05-17")]}
    first = client.post("/cases", json=batch, headers=headers)
    assert first.status_code == 201, first.text

    # When
    again = client.post("/cases", json=copy.deepcopy(batch), headers=headers)

    # Then
    assert again.status_code == 200, again.text
    assert again.json()["case_id"] == first.json()["case_id"]
    assert all(e["replayed"] for e in again.json()["events"])
    other = client.post("/cases", json={"events": [event("CaseOpened")]}, headers=headers)
    assert other.json()["case_id"] != first.json()["case_id"]


def test_opening_when_resent_to_the_append_route_then_a_replay_or_a_reuse_not_a_422(
    client: TestClient, headers: Headers
) -> None:
    # Given a case opened with a batch, and another case
    batch = {"events": [event("CaseOpened"), event("ContactReceived", "2013-05-17")]}
    opened = client.post("/cases", json=batch, headers=headers)
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    other, _ = open_case(client, headers)
    before = stored_events(client, headers, case_id)

    # When the opening batch is resent to the case's append route: as it was, to the other
    # case, and with other content
    again = append(client, headers, case_id, *copy.deepcopy(batch["events"]))
    elsewhere = append(client, headers, other, *copy.deepcopy(batch["events"]))
    changed = copy.deepcopy(batch["events"])
    changed[0]["data"]["child"]["name"] = "Someone Else"
    reused = append(client, headers, case_id, *changed)

    # Then the first is a replay with the original results; the others are ids reused (409)
    assert again.status_code == 200, again.text
    assert again.json()["events"] == [
        {**result, "replayed": True} for result in opened.json()["events"]
    ]
    ids = [e["id"] for e in batch["events"]]
    assert problem(elsewhere, 409)["event_ids"] == ids
    assert problem(reused, 409)["event_ids"] == [ids[0]]
    assert stored_events(client, headers, case_id) == before
    assert version_of(client, headers, other) == 1


def test_open_case_when_case_id_given_then_used(client: TestClient, headers: Headers) -> None:
    # Given
    case_id = str(uuid.uuid4())

    # When
    response = client.post(
        "/cases", json={"case_id": case_id, "events": [event("CaseOpened")]}, headers=headers
    )

    # Then
    assert response.status_code == 201, response.text
    assert response.json()["case_id"] == case_id
    assert response.headers["Location"] == f"/cases/{case_id}"


def test_open_case_when_first_event_not_case_opened_then_422_at_first_type(
    client: TestClient, headers: Headers
) -> None:
    # Given
    case_id = str(uuid.uuid4())
    batch = [note(), event("CaseOpened")]

    # When
    response = client.post("/cases", json={"case_id": case_id, "events": batch}, headers=headers)
    derived = client.post("/cases", json={"events": batch}, headers=headers)

    # Then
    assert pointers(problem(response, 422)) == ["/events/0/type"]
    assert pointers(problem(derived, 422)) == ["/events/0/type"]
    assert client.get(f"/cases/{case_id}/events", headers=headers).status_code == 404
    retried = client.post("/cases", json={"events": batch[::-1]}, headers=headers)
    assert retried.status_code == 201, "the refused batch's ids must not have been kept"


def test_open_case_when_second_case_opened_in_batch_then_422_and_nothing_stored(
    client: TestClient, headers: Headers
) -> None:
    # Given
    case_id = str(uuid.uuid4())
    batch = [event("CaseOpened"), note(), event("CaseOpened")]

    # When
    response = client.post("/cases", json={"case_id": case_id, "events": batch}, headers=headers)

    # Then
    body = problem(response, 422)
    assert pointers(body) == ["/events/2/type"]
    assert client.get(f"/cases/{case_id}/events", headers=headers).status_code == 404


def test_open_case_when_case_id_exists_then_409_and_nothing_stored(
    client: TestClient, headers: Headers
) -> None:
    # Given
    case_id, _ = open_case(client, headers)
    before = stored_events(client, headers, case_id)

    # When
    response = client.post(
        "/cases", json={"case_id": case_id, "events": [event("CaseOpened")]}, headers=headers
    )

    # Then
    problem(response, 409)
    assert stored_events(client, headers, case_id) == before


# --- replays ------------------------------------------------------------------------------


def _results(response: Response) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k != "replayed"} for e in response.json()["events"]]


def test_append_when_same_batch_sent_again_then_200_with_original_results(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given
    case_id, _ = open_case(client, headers)
    batch = [note("first"), note("second", occurred_at="2013-05-17T09:30:00+01:00")]
    first = append(client, headers, case_id, *batch)
    assert first.status_code == 201, first.text
    clock.advance(timedelta(hours=1))

    # When
    again = append(client, headers, case_id, *copy.deepcopy(batch))

    # Then
    assert again.status_code == 200, again.text
    assert _results(again) == _results(first)
    assert all(e["replayed"] for e in again.json()["events"])
    assert not any(e["replayed"] for e in first.json()["events"])
    assert again.json()["version"] == first.json()["version"] == 3
    assert again.headers["ETag"] == '"3"'
    assert version_of(client, headers, case_id) == 3


def test_append_when_replayed_by_another_principal_then_still_a_replay(
    client: TestClient, headers: Headers, token: Callable[..., Headers]
) -> None:
    # Given
    case_id, _ = open_case(client, headers)
    batch = [note()]
    first = append(client, headers, case_id, *batch)

    # When
    again = append(
        client, token(sub="sys.cms", name="Case system", roles=("system",)), case_id, *batch
    )

    # Then
    assert again.status_code == 200, again.text
    assert _results(again) == _results(first)


def test_append_when_replayed_after_later_appends_then_original_results(
    client: TestClient, headers: Headers
) -> None:
    # Given
    case_id, _ = open_case(client, headers)
    batch = [note("first")]
    first = append(client, headers, case_id, *batch)
    assert append(client, headers, case_id, note("later")).status_code == 201

    # When
    again = append(client, headers, case_id, *batch)

    # Then
    assert again.status_code == 200, again.text
    assert _results(again) == _results(first)
    assert again.headers["ETag"] == f'"{again.json()["version"]}"'


def test_replay_when_app_restarted_then_200_with_original_results(
    client: TestClient,
    headers: Headers,
    start_app: Callable[..., TestClient],
) -> None:
    # Given
    opened = event("CaseOpened")
    opening = client.post("/cases", json={"events": [opened]}, headers=headers)
    case_id = opening.json()["case_id"]
    batch = [note("first"), note("second")]
    first = append(client, headers, case_id, *batch)
    assert first.status_code == 201, first.text

    # When
    restarted = start_app()
    again = append(restarted, headers, case_id, *batch)
    reopened = restarted.post("/cases", json={"events": [opened]}, headers=headers)

    # Then
    assert again.status_code == 200, again.text
    assert _results(again) == _results(first)
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["case_id"] == case_id
    assert _results(reopened) == _results(opening)


def test_append_when_batch_mixes_replays_and_new_events_then_409_naming_replays_nothing_stored(
    client: TestClient, headers: Headers
) -> None:
    # Given
    case_id, _ = open_case(client, headers)
    stored = [note("first"), note("second")]
    assert append(client, headers, case_id, *stored).status_code == 201
    before = stored_events(client, headers, case_id)
    fresh = note("third")

    # When
    response = append(client, headers, case_id, stored[0], fresh, stored[1])

    # Then
    body = problem(response, 409)
    assert sorted(body["event_ids"]) == sorted([stored[0]["id"], stored[1]["id"]])
    assert stored_events(client, headers, case_id) == before


def test_append_when_id_reused_with_different_content_then_409_naming_it(
    client: TestClient, headers: Headers
) -> None:
    # Given
    case_id, _ = open_case(client, headers)
    original = note("Mum called on Tuesday")
    assert append(client, headers, case_id, original).status_code == 201
    before = stored_events(client, headers, case_id)
    changed = {**original, "data": {"kind": "phone call", "text": "Mum called on Thursday"}}

    # When
    response = append(client, headers, case_id, changed)
    envelope_changed = append(client, headers, case_id, {**original, "sensitivity": "restricted"})

    # Then
    assert problem(response, 409)["event_ids"] == [original["id"]]
    assert problem(envelope_changed, 409)["event_ids"] == [original["id"]]
    assert stored_events(client, headers, case_id) == before


def test_append_when_id_used_in_another_case_then_409_naming_it(
    client: TestClient, headers: Headers
) -> None:
    # Given
    first_case, _ = open_case(client, headers)
    other_case, other_opened = open_case(client, headers)
    posted = note()
    assert append(client, headers, first_case, posted).status_code == 201
    before = stored_events(client, headers, other_case)

    # When
    response = append(client, headers, other_case, posted)
    opened_again = client.post(
        "/cases", json={"case_id": first_case, "events": [other_opened]}, headers=headers
    )

    # Then
    assert problem(response, 409)["event_ids"] == [posted["id"]]
    assert problem(opened_again, 409)["event_ids"] == [other_opened["id"]]
    assert stored_events(client, headers, other_case) == before


def test_corrections_when_resent_to_another_case_then_409_naming_them(
    client: TestClient, headers: Headers
) -> None:
    # Given a note, and a batch correcting, annotating and retracting it, stored in one case
    first_case, _ = open_case(client, headers)
    other_case, _ = open_case(client, headers)
    posted = note()
    assert append(client, headers, first_case, posted).status_code == 201
    batch = [
        event("EntryCorrected", "2013-05-18", target=posted["id"]),
        event("EntryAnnotated", "2013-05-18", target=posted["id"]),
        event("EntryRetracted", "2013-05-19", target=posted["id"]),
    ]
    assert append(client, headers, first_case, *batch).status_code == 201
    before = stored_events(client, headers, other_case)

    # When the batch is sent again, to its own case and to the other one
    replayed = append(client, headers, first_case, *batch)
    elsewhere = append(client, headers, other_case, *batch)

    # Then its own case answers a replay, and the other case names the ids reused, as it
    # would for any event, never judging targets that are not in it
    assert replayed.status_code == 200, replayed.text
    assert problem(elsewhere, 409)["event_ids"] == [e["id"] for e in batch]
    assert stored_events(client, headers, other_case) == before


def test_correction_when_id_reused_with_another_target_or_beside_new_ones_then_409(
    client: TestClient, headers: Headers
) -> None:
    # Given a stored correction of a note
    case_id, _ = open_case(client, headers)
    posted = note()
    assert append(client, headers, case_id, posted).status_code == 201
    correction = event("EntryCorrected", "2013-05-18", target=posted["id"])
    assert append(client, headers, case_id, correction).status_code == 201
    before = stored_events(client, headers, case_id)
    missing = str(uuid.uuid4())

    # When its id comes again naming a target the case does not have, and beside a new
    # correction of an entry the case does not have
    retargeted = append(
        client, headers, case_id, {**correction, "data": payload("EntryCorrected", missing)}
    )
    mixed = append(
        client, headers, case_id, correction, event("EntryCorrected", "2013-05-19", target=missing)
    )

    # Then each is the id reused (409 naming it), not a target missing (422)
    assert problem(retargeted, 409)["event_ids"] == [correction["id"]]
    assert problem(mixed, 409)["event_ids"] == [correction["id"]]
    assert stored_events(client, headers, case_id) == before


def test_correction_when_id_reused_with_a_number_json_cannot_carry_then_409(
    client: TestClient, headers: Headers
) -> None:
    # Given a stored correction of a note
    case_id, _ = open_case(client, headers)
    posted = note()
    assert append(client, headers, case_id, posted).status_code == 201
    correction = event("EntryCorrected", "2013-05-18", target=posted["id"])
    assert append(client, headers, case_id, correction).status_code == 201
    before = stored_events(client, headers, case_id)

    # When its id comes again with an integer beyond 64 bits in its replacement
    changed = copy.deepcopy(correction)
    changed["data"]["data"]["count"] = 10**30
    response = append(client, headers, case_id, changed)

    # Then it is the id reused with other content, and nothing is stored
    assert problem(response, 409)["event_ids"] == [correction["id"]]
    assert stored_events(client, headers, case_id) == before


def test_correction_when_replacement_nested_too_deep_then_422_and_nothing_stored(
    client: TestClient, headers: Headers
) -> None:
    # Given a note, and a correction whose replacement nests 40 levels deep
    case_id, _ = open_case(client, headers)
    posted = note()
    assert append(client, headers, case_id, posted).status_code == 201
    correction = event("EntryCorrected", "2013-05-18", target=posted["id"])
    nested: dict[str, Any] = {}
    for _ in range(40):
        nested = {"inner": nested}
    correction["data"]["data"]["extra"] = nested

    # When it is posted
    response = append(client, headers, case_id, correction)

    # Then it is refused at the replacement, and nothing is stored
    assert pointers(problem(response, 422)) == ["/events/0/data/data"]
    assert "nested deeper than 32 levels" in response.text
    assert version_of(client, headers, case_id) == 2


def test_append_when_id_repeated_within_batch_then_422_at_second_id(
    client: TestClient, headers: Headers
) -> None:
    # Given
    case_id, _ = open_case(client, headers)
    posted = note()

    # When
    response = append(client, headers, case_id, posted, note(), {**posted})

    # Then
    assert pointers(problem(response, 422)) == ["/events/2/id"]
    assert version_of(client, headers, case_id) == 1


# --- If-Match -----------------------------------------------------------------------------


def test_if_match_when_current_version_then_appended(client: TestClient, headers: Headers) -> None:
    # Given
    case_id, _ = open_case(client, headers)

    # When
    response = client.post(
        f"/cases/{case_id}/events",
        json={"events": [note()]},
        headers={**headers, "If-Match": '"1"'},
    )

    # Then
    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == '"2"'
    assert version_of(client, headers, case_id) == 2


def test_if_match_when_stale_then_412_with_current_version_and_nothing_stored(
    client: TestClient, headers: Headers
) -> None:
    # Given
    case_id, _ = open_case(client, headers)
    assert append(client, headers, case_id, note()).status_code == 201

    # When
    response = client.post(
        f"/cases/{case_id}/events",
        json={"events": [note()]},
        headers={**headers, "If-Match": '"1"'},
    )

    # Then
    body = problem(response, 412)
    assert body["current_version"] == 2
    assert version_of(client, headers, case_id) == 2


def test_if_match_when_star_on_existing_case_then_appended(
    client: TestClient, headers: Headers
) -> None:
    # Given
    case_id, _ = open_case(client, headers)

    # When
    response = client.post(
        f"/cases/{case_id}/events", json={"events": [note()]}, headers={**headers, "If-Match": "*"}
    )

    # Then
    assert response.status_code == 201, response.text
    assert response.json()["version"] == 2


@pytest.mark.parametrize("if_match", ["*", '"1"', None])
def test_append_when_case_unknown_then_404(
    client: TestClient, headers: Headers, if_match: str | None
) -> None:
    # Given
    case_id = str(uuid.uuid4())
    extra = {"If-Match": if_match} if if_match else {}

    # When
    response = client.post(
        f"/cases/{case_id}/events", json={"events": [note()]}, headers={**headers, **extra}
    )

    # Then
    problem(response, 404)
    assert client.get(f"/cases/{case_id}/events", headers=headers).status_code == 404


@pytest.mark.parametrize("if_match", ["abc", 'W/"3"', "3", '"-1"', '"1", "2"', '""'])
def test_if_match_when_not_understood_then_400_and_nothing_stored(
    client: TestClient, headers: Headers, if_match: str
) -> None:
    # Given
    case_id, _ = open_case(client, headers)

    # When
    response = client.post(
        f"/cases/{case_id}/events",
        json={"events": [note()]},
        headers={**headers, "If-Match": if_match},
    )

    # Then
    problem(response, 400)
    assert version_of(client, headers, case_id) == 1


# --- concurrency --------------------------------------------------------------------------


def test_append_when_many_threads_append_without_if_match_then_all_stored_once_in_order(
    headers: Headers, start_app: Callable[..., TestClient]
) -> None:
    # Given
    # A generous retry budget: this pins "every append wins eventually", not how fast.
    client = start_app(append_retry_seconds=60)
    case_id, opened = open_case(client, headers)
    threads, per_thread = 8, 10
    batches = [[note(f"thread {t} note {n}") for n in range(per_thread)] for t in range(threads)]
    start = threading.Barrier(threads)

    def run(batch: list[dict[str, Any]]) -> list[int]:
        start.wait()
        return [append(client, headers, case_id, posted).status_code for posted in batch]

    # When
    with ThreadPoolExecutor(threads) as pool:
        statuses = [s for result in pool.map(run, batches) for s in result]

    # Then
    assert statuses == [201] * threads * per_thread
    stored = stored_events(client, headers, case_id)
    assert [e["version"] for e in stored] == list(range(1, threads * per_thread + 2))
    ids = [e["id"] for e in stored]
    assert len(set(ids)) == len(ids)
    assert set(ids) == {opened["id"]} | {p["id"] for batch in batches for p in batch}
    for batch in batches:
        # One thread's appends are sequential, so they keep their order in the case.
        mine = [i for i in ids if i in {p["id"] for p in batch}]
        assert mine == [p["id"] for p in batch]


def test_append_when_threads_race_with_same_if_match_then_one_winner_per_version(
    client: TestClient, headers: Headers
) -> None:
    # Given
    case_id, _ = open_case(client, headers)
    threads, rounds = 6, 5
    winners: list[str] = []

    for round_ in range(rounds):
        version = version_of(client, headers, case_id)
        contenders = [note(f"round {round_} contender {t}") for t in range(threads)]
        start = threading.Barrier(threads)

        def run(posted: dict[str, Any], version: int = version, start: Any = start) -> int:
            start.wait()
            response = client.post(
                f"/cases/{case_id}/events",
                json={"events": [posted]},
                headers={**headers, "If-Match": f'"{version}"'},
            )
            if response.status_code == 412:
                assert response.json()["current_version"] == version + 1
            return int(response.status_code)

        # When
        with ThreadPoolExecutor(threads) as pool:
            statuses = list(pool.map(run, contenders))

        # Then
        assert sorted(statuses) == [201] + [412] * (threads - 1), statuses
        winners.append(contenders[statuses.index(201)]["id"])

    stored = stored_events(client, headers, case_id)
    assert [e["version"] for e in stored] == list(range(1, rounds + 2))
    assert [e["id"] for e in stored[1:]] == winners


# --- all or nothing -----------------------------------------------------------------------


def test_append_when_third_event_invalid_then_422_and_nothing_stored(
    client: TestClient, headers: Headers
) -> None:
    # Given
    case_id, _ = open_case(client, headers)
    bad = event("ConcernObserved", data=payload("ConcernObserved", category="brusing"))

    # When
    response = append(client, headers, case_id, note(), note(), bad)

    # Then
    assert pointers(problem(response, 422)) == ["/events/2/data/category"]
    assert version_of(client, headers, case_id) == 1


def test_append_when_third_event_breaks_a_case_rule_then_422_and_nothing_stored(
    client: TestClient, headers: Headers
) -> None:
    # Given
    case_id, _ = open_case(client, headers)
    posted = [note(), note()]

    # When
    response = append(client, headers, case_id, *posted, event("CaseOpened"))

    # Then
    assert pointers(problem(response, 422)) == ["/events/2/type"]
    assert version_of(client, headers, case_id) == 1
    retried = append(client, headers, case_id, *posted)
    assert retried.status_code == 201, "the refused batch's ids must not have been kept"


def test_correction_when_target_unknown_then_422_at_target_and_nothing_stored(
    client: TestClient, headers: Headers
) -> None:
    # Given
    case_id, _ = open_case(client, headers)
    correction = event("EntryCorrected", target=str(uuid.uuid4()))

    # When
    response = append(client, headers, case_id, note(), correction)

    # Then
    assert pointers(problem(response, 422)) == ["/events/1/data/target_event_id"]
    assert version_of(client, headers, case_id) == 1


def test_correction_when_target_in_another_case_then_422(
    client: TestClient, headers: Headers
) -> None:
    # Given
    case_id, _ = open_case(client, headers)
    other_case, _ = open_case(client, headers)
    elsewhere = note()
    assert append(client, headers, other_case, elsewhere).status_code == 201

    # When
    response = append(client, headers, case_id, event("EntryCorrected", target=elsewhere["id"]))

    # Then
    assert pointers(problem(response, 422)) == ["/events/0/data/target_event_id"]
    assert version_of(client, headers, case_id) == 1


def test_retraction_when_target_is_case_opened_then_422(
    client: TestClient, headers: Headers
) -> None:
    # Given
    case_id, opened = open_case(client, headers)

    # When
    response = append(client, headers, case_id, event("EntryRetracted", target=opened["id"]))

    # Then
    assert pointers(problem(response, 422)) == ["/events/0/data/target_event_id"]
    assert version_of(client, headers, case_id) == 1


def test_correction_when_target_is_a_correction_then_422(
    client: TestClient, headers: Headers
) -> None:
    # Given
    case_id, _ = open_case(client, headers)
    original = note()
    correction = event("EntryCorrected", target=original["id"])
    assert append(client, headers, case_id, original, correction).status_code == 201

    # When
    response = append(client, headers, case_id, event("EntryCorrected", target=correction["id"]))

    # Then
    body = problem(response, 422)
    assert pointers(body) == ["/events/0/data/target_event_id"]
    assert body["errors"][0]["detail"] == (
        f"{correction['id']} is itself an entry about another (EntryCorrected): "
        "act on the original entry"
    )
    assert version_of(client, headers, case_id) == 3


def test_correction_when_replacement_invalid_for_target_type_then_422_inside_replacement(
    client: TestClient, headers: Headers
) -> None:
    # Given
    case_id, _ = open_case(client, headers)
    original = note()
    assert append(client, headers, case_id, original).status_code == 201
    replacement = payload("EntryCorrected", target=original["id"])
    replacement["data"] = {"kind": "phone call", "text": "Mum called", "colour": "blue"}
    missing = payload("EntryCorrected", target=original["id"])
    missing["data"] = {"kind": "phone call"}

    # When
    extra_field = append(client, headers, case_id, event("EntryCorrected", data=replacement))
    missing_field = append(client, headers, case_id, note(), event("EntryCorrected", data=missing))

    # Then
    assert pointers(problem(extra_field, 422)) == ["/events/0/data/data/colour"]
    assert pointers(problem(missing_field, 422)) == ["/events/1/data/data/text"]
    assert version_of(client, headers, case_id) == 2


def test_correction_when_moved_after_now_and_another_target_unknown_then_422_names_both(
    client: TestClient, headers: Headers
) -> None:
    # Given a case with an entry, a correction moving it to after now, and a correction of an
    # entry the case does not hold, in one batch
    case_id, _ = open_case(client, headers)
    original = note()
    assert append(client, headers, case_id, original).status_code == 201
    moved = payload("EntryCorrected", target=original["id"])
    moved["occurred_at"] = (NOW + timedelta(days=2)).date().isoformat()
    unknown = event("EntryCorrected", target=str(uuid.uuid4()))

    # When
    response = append(client, headers, case_id, event("EntryCorrected", data=moved), unknown)

    # Then each problem is named at its place, and nothing is stored
    body = problem(response, 422)
    assert pointers(body) == ["/events/0/data/occurred_at", "/events/1/data/target_event_id"]
    assert "later than now" in body["errors"][0]["detail"]
    assert version_of(client, headers, case_id) == 2


def test_correction_when_target_earlier_in_same_batch_then_accepted(
    client: TestClient, headers: Headers
) -> None:
    # Given
    case_id, _ = open_case(client, headers)
    original = note()

    # When
    response = append(
        client, headers, case_id, original, event("EntryCorrected", target=original["id"])
    )

    # Then
    assert response.status_code == 201, response.text
    assert version_of(client, headers, case_id) == 3


# --- limits -------------------------------------------------------------------------------


def test_batch_when_over_event_limit_then_413_and_nothing_stored(
    headers: Headers, start_app: Callable[..., TestClient]
) -> None:
    # Given
    small = start_app(max_batch_events=3)
    opened = event("CaseOpened")
    case_id = small.post("/cases", json={"events": [opened]}, headers=headers).json()["case_id"]

    # When
    at_limit = append(small, headers, case_id, note(), note(), note())
    over = append(small, headers, case_id, note(), note(), note(), note())
    open_over = small.post(
        "/cases", json={"events": [event("CaseOpened"), note(), note(), note()]}, headers=headers
    )

    # Then
    assert at_limit.status_code == 201, at_limit.text
    problem(over, 413)
    problem(open_over, 413)
    assert version_of(small, headers, case_id) == 4


def test_body_when_over_byte_limit_then_413_and_nothing_stored(
    headers: Headers, start_app: Callable[..., TestClient]
) -> None:
    # Given
    small = start_app(max_body_bytes=4096)
    case_id = small.post("/cases", json={"events": [event("CaseOpened")]}, headers=headers).json()[
        "case_id"
    ]
    body = json.dumps({"events": [note("x" * 5000)]}).encode()

    # When
    response = small.post(
        f"/cases/{case_id}/events",
        content=body,
        headers={**headers, "Content-Type": "application/json"},
    )

    # Then
    problem(response, 413)
    assert version_of(small, headers, case_id) == 1


def test_body_when_streamed_over_byte_limit_without_length_then_413_and_nothing_stored(
    headers: Headers, start_app: Callable[..., TestClient]
) -> None:
    # Given
    small = start_app(max_body_bytes=4096)
    case_id = small.post("/cases", json={"events": [event("CaseOpened")]}, headers=headers).json()[
        "case_id"
    ]
    body = json.dumps({"events": [note("x" * 5000)]}).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    # When
    response = small.post(
        f"/cases/{case_id}/events",
        content=chunks(),
        headers={**headers, "Content-Type": "application/json"},
    )

    # Then
    problem(response, 413)
    assert version_of(small, headers, case_id) == 1


# --- time ---------------------------------------------------------------------------------


def test_occurred_at_when_beyond_clock_skew_then_422_else_accepted(
    client: TestClient, headers: Headers, clock: SettableClock, settings: Settings
) -> None:
    # Given
    case_id, _ = open_case(client, headers)
    skew = timedelta(seconds=settings.clock_skew_seconds)
    too_late = (clock() + skew + timedelta(seconds=1)).isoformat()
    just_in = (clock() + skew - timedelta(seconds=1)).isoformat()

    # When
    refused = append(client, headers, case_id, note(), note(occurred_at=too_late))
    accepted = append(client, headers, case_id, note(occurred_at=just_in))

    # Then
    assert pointers(problem(refused, 422)) == ["/events/1/occurred_at"]
    assert accepted.status_code == 201, accepted.text
    assert version_of(client, headers, case_id) == 2


@pytest.mark.parametrize(
    "occurred_at",
    [
        "2013-05-16T14:05:00",
        "0001-01-01",
        "9999-12-31",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "2013-02-30",
        "16/05/2013",
        "2013-W20-1",
        "2013-05-16T25:00:00Z",
    ],
)
def test_occurred_at_when_unacceptable_then_422_at_occurred_at(
    client: TestClient, headers: Headers, occurred_at: str
) -> None:
    # Given
    case_id, _ = open_case(client, headers)

    # When
    response = append(client, headers, case_id, note(occurred_at=occurred_at))
    opening = client.post(
        "/cases", json={"events": [event("CaseOpened", occurred_at)]}, headers=headers
    )

    # Then
    assert pointers(problem(response, 422)) == ["/events/0/occurred_at"]
    assert pointers(problem(opening, 422)) == ["/events/0/occurred_at"]
    assert version_of(client, headers, case_id) == 1


def test_occurred_at_when_date_only_then_returned_as_sent_with_day_precision(
    client: TestClient, headers: Headers
) -> None:
    # Given
    case_id, _ = open_case(client, headers)

    # When
    response = append(client, headers, case_id, note(occurred_at="2019-02-03"))

    # Then
    assert response.status_code == 201, response.text
    stored = stored_events(client, headers, case_id)[-1]
    assert stored["occurred_at"] == "2019-02-03"
    assert stored["occurred_precision"] == "day"


@pytest.mark.parametrize("body", [b"{", b'{"events": [', b"not json", b'{"events": [{"id": 1,}]}'])
def test_body_when_malformed_json_then_400_problem(
    client: TestClient, headers: Headers, body: bytes
) -> None:
    # Given
    case_id, _ = open_case(client, headers)

    # When
    response = client.post(
        f"/cases/{case_id}/events",
        content=body,
        headers={**headers, "Content-Type": "application/json"},
    )
    opening = client.post(
        "/cases", content=body, headers={**headers, "Content-Type": "application/json"}
    )

    # Then
    problem(response, 400)
    problem(opening, 400)
    assert version_of(client, headers, case_id) == 1


@pytest.mark.parametrize("body", [[], "events", {"events": []}, {"events": None}, {}])
def test_body_when_json_of_wrong_shape_then_422_problem(
    client: TestClient, headers: Headers, body: Any
) -> None:
    # Given
    case_id, _ = open_case(client, headers)

    # When
    response = client.post(f"/cases/{case_id}/events", json=body, headers=headers)

    # Then
    problem(response, 422)
    assert version_of(client, headers, case_id) == 1


@pytest.mark.parametrize("body", [[], "events", 7])
def test_body_when_json_but_not_an_object_then_422_pointing_at_the_whole_body(
    client: TestClient, headers: Headers, body: Any
) -> None:
    # Given
    case_id, _ = open_case(client, headers)

    # When
    response = client.post(f"/cases/{case_id}/events", json=body, headers=headers)

    # Then the error points at the whole document: "" (RFC 6901), not "/" (a member named "")
    assert pointers(problem(response, 422)) == [""]
    assert version_of(client, headers, case_id) == 1


def test_recorded_at_when_appended_then_the_injected_clock_for_the_whole_batch(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given
    clock.set(datetime(2026, 11, 26, 12, 34, 56, 789012, tzinfo=UTC))
    case_id, _ = open_case(client, headers)
    clock.advance(timedelta(minutes=5, microseconds=1))

    # When
    response = append(client, headers, case_id, note(), note())

    # Then
    assert response.status_code == 201, response.text
    assert [e["recorded_at"] for e in response.json()["events"]] == [recorded_stamp(clock)] * 2
    stored = stored_events(client, headers, case_id)
    assert stored[0]["recorded_at"] == "2026-11-26T12:34:56.789012Z"
    assert [e["recorded_at"] for e in stored[1:]] == ["2026-11-26T12:39:56.789013Z"] * 2


def test_recorded_at_when_clock_set_back_then_never_earlier_than_previous(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given
    case_id, _ = open_case(client, headers)
    opened_at = recorded_stamp(clock)
    clock.advance(-timedelta(hours=3))

    # When
    response = append(client, headers, case_id, note())

    # Then
    assert response.status_code == 201, response.text
    assert response.json()["events"][0]["recorded_at"] == opened_at
    stored = stored_events(client, headers, case_id)
    assert [e["recorded_at"] for e in stored] == [opened_at, opened_at]


# --- who recorded it ----------------------------------------------------------------------


def test_recorded_by_when_appended_then_taken_from_token(
    client: TestClient, token: Callable[..., Headers]
) -> None:
    # Given
    system = token(
        sub="svc-cms", name="Barsetshire case system", agency="csc:barsetshire", roles=("system",)
    )
    case_id, _ = open_case(client, system)
    worker = token(sub="sam.patel", name="Sam Patel", roles=("practitioner", "manager"))

    # When
    response = append(client, worker, case_id, note())

    # Then
    assert response.status_code == 201, response.text
    opened, noted = stored_events(client, worker, case_id)
    assert opened["recorded_by"] == {
        "sub": "svc-cms",
        "name": "Barsetshire case system",
        "agency": "csc:barsetshire",
        "roles": ["system"],
    }
    assert noted["recorded_by"] == {
        "sub": "sam.patel",
        "name": "Sam Patel",
        "agency": "csc:barsetshire",
        "roles": ["practitioner", "manager"],
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("recorded_by", {"sub": "x", "name": "X", "agency": "csc:elsewhere", "roles": ["admin"]}),
        ("recorded_at", "2013-05-16T00:00:00.000000Z"),
        ("hash", GENESIS),
        ("version", 7),
        ("case_id", "6f1c2a57-3c1e-4b8e-9a3d-2f0d5c7e8b41"),
    ],
)
def test_server_fields_when_sent_in_body_then_422_unknown_field(
    client: TestClient, headers: Headers, field: str, value: Any
) -> None:
    # Given
    case_id, _ = open_case(client, headers)

    # When
    response = append(client, headers, case_id, note(), {**note(), field: value})

    # Then
    assert pointers(problem(response, 422)) == [f"/events/1/{field}"]
    assert version_of(client, headers, case_id) == 1


# --- tamper evidence ----------------------------------------------------------------------


def _expected_hash(stored: dict[str, Any], prev: str) -> str:
    """DESIGN.md "Tamper evidence", recomputed here from the returned values alone."""
    body = {
        name: stored.get(name)
        for name in (
            "case_id",
            "version",
            "id",
            "type",
            "occurred_at",
            "occurred_precision",
            "recorded_at",
            "recorded_by",
            "author",
            "source",
            "sensitivity",
            "data",
        )
    }
    body["prev"] = prev
    return hashlib.sha256(rfc8785.dumps(body)).hexdigest()


def test_hash_when_events_stored_then_chains_canonical_json_of_envelope_and_data(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given
    case_id, opened = open_case(client, headers, event("ContactReceived", "2013-05-17"))
    clock.advance(timedelta(days=1, microseconds=7))
    original = note(
        "Mum said “not today” — café visit",
        occurred_at="2013-05-18T14:05:00+01:00",
        occurred_precision="approximate",
        author={"name": "Ann Jones", "role": "safeguarding lead", "agency": "school:st-marys"},
        source={"system": "SIMS", "reference": "N-77"},
        sensitivity="restricted",
    )
    assert append(client, headers, case_id, original).status_code == 201
    clock.advance(timedelta(hours=2))
    assert (
        append(
            client,
            headers,
            case_id,
            event("EntryCorrected", target=original["id"]),
            event("ConcernObserved", "2013-06-01", author={"name": "Ann Jones"}),
            event("InformationShared", target=original["id"]),
        ).status_code
        == 201
    )

    # When
    stored = stored_events(client, headers, case_id)

    # Then
    assert [e["version"] for e in stored] == [1, 2, 3, 4, 5, 6]
    prev = GENESIS
    for each in stored:
        assert each["hash"] == _expected_hash(each, prev), each["version"]
        prev = each["hash"]
    assert stored[0]["author"] is None and stored[0]["source"] is None
    assert stored[0]["id"] == opened["id"]


def test_hash_when_text_beyond_ascii_and_control_characters_then_as_rfc8785(
    client: TestClient, headers: Headers
) -> None:
    # Given a case
    case_id, _ = open_case(client, headers)
    text = 'Zoë said "no" \\ 😀 \ue000 \u2028 \x1f tab\there — \U0001f9d2 /slash/'

    # When events whose text and names hold every kind of character JSON escapes or not are
    # appended (types whose stored form is plain JSON, and a correction, which is walked)
    posted = note(text, author={"name": f"Ann {text}", "role": "\ud7ff\uffff"})
    assert append(client, headers, case_id, posted).status_code == 201
    correction = event(
        "EntryCorrected",
        target=posted["id"],
        data={
            "target_event_id": posted["id"],
            "data": {"kind": "phone call", "text": text},
            "reason": text,
        },
    )
    assert append(client, headers, case_id, correction).status_code == 201

    # Then each hash is the reference canonicaliser's
    stored = stored_events(client, headers, case_id)
    assert stored[1]["data"]["text"] == text
    prev = GENESIS
    for each in stored:
        assert each["hash"] == _expected_hash(each, prev), each["version"]
        prev = each["hash"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/cases", "GET, HEAD, POST"),
        ("PUT", "/cases/{case_id}/events", "GET, HEAD, POST"),
        ("DELETE", "/cases/{case_id}", "GET, HEAD"),
    ],
)
def test_method_when_not_served_at_a_path_then_405_naming_every_method_served_there(
    client: TestClient, headers: dict[str, str], method: str, path: str, allowed: str
) -> None:
    # Given a case
    case_id, _ = open_case(client, headers)

    # When a method no route serves at the path is sent
    response = client.request(method, path.format(case_id=case_id), headers=headers)

    # Then it is a 405 problem whose Allow lists every method the path serves, and nothing changed
    assert response.status_code == 405, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["Allow"] == allowed
    assert client.get(f"/cases/{case_id}", headers=headers).json()["version"] == 1
