"""Events already in the log stay readable: a committed file of stored rows, read by today's code.

`tests/fixtures/stored_events_v1.json` holds one case's raw rows as the log stored them (made once
by `tests/fixtures/make_stored_events.py`, never regenerated in place), including a
`CaseNoteRecorded` stored at schema v1. These tests load it into a fresh store through the
recorder and read it back through the application and HTTP. The expected values are written out
here, not derived from the code, so renaming an event class (its topic), changing the envelope,
the hash or the upcaster makes them fail: stored events are forever.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from fastapi.testclient import TestClient

from domain.case import Case
from domain.catalogue import catalogue
from domain.envelope import GENESIS, chain_hash, client_digest
from domain.moments import format_utc
from service.records import CaseRecords
from service.store import IndexEntry
from tests.conftest import NOW, Headers
from tests.support import event

FIXTURE = Path(__file__).parents[1] / "fixtures" / "stored_events_v1.json"

CASE_ID = "85728efa-7660-5f96-845d-45ae1a39283b"
OPENED = "0b6f3c1e-5d2a-4c7e-9f10-1a2b3c4d5e01"
CONTACT = "0b6f3c1e-5d2a-4c7e-9f10-1a2b3c4d5e02"
CONCERN = "0b6f3c1e-5d2a-4c7e-9f10-1a2b3c4d5e03"
NOTE = "0b6f3c1e-5d2a-4c7e-9f10-1a2b3c4d5e04"
CORRECTION = "0b6f3c1e-5d2a-4c7e-9f10-1a2b3c4d5e05"
V1_NOTE = "0b6f3c1e-5d2a-4c7e-9f10-1a2b3c4d5e06"
V1_NOTE_TEXT = "Visited; Amy's mum says the bruises came from a fall at the park"

OPENED_TOPIC = "domain.case:Case.Opened"
RECORDED_TOPIC = "domain.case:Case.Recorded"

RECORDED_BY = {
    "sub": "ann.worker",
    "name": "Ann Worker",
    "agency": "csc:barsetshire",
    "roles": ["practitioner"],
}

# (version, position, id, type, schema_version, occurred_at, precision, recorded_at, hash)
EXPECTED_EVENTS: list[tuple[int, int, str, str, int, str, str, str, str]] = [
    (1, 1, OPENED, "CaseOpened", 1, "2024-05-01", "day", "2024-05-02T09:30:00.000000Z",
     "1cae46fe03af92e6e82bc7c28924339ffc6a9ac0e8255fedce9fda5a08833c34"),
    (2, 2, CONTACT, "ContactReceived", 1, "2024-05-01T10:15:00+01:00", "exact",
     "2024-05-02T09:30:00.000000Z",
     "0aec517460ba8cd2fe0b1d2a6da1e6deb52c1b2738c2fef95144c3c6e6475a11"),
    (3, 3, CONCERN, "ConcernObserved", 1, "2024-05-01", "day", "2024-05-02T09:31:00.000000Z",
     "f0b719d8e1c8b3eb12da8e688b4fd88931a5f65b2901518be4b250bfe1ace0d6"),
    (4, 4, NOTE, "CaseNoteRecorded", 2, "2024-05-02", "day", "2024-05-02T09:32:00.000000Z",
     "5ec6b5ef57341ffeec6fd34584e22ad1de26c9180efcc974ed6f7b7269b3c2d7"),
    (5, 5, CORRECTION, "EntryCorrected", 1, "2024-05-02", "day", "2024-05-02T09:33:00.000000Z",
     "211d15e83755e6d137b1430573db15c33c4670a815c21672f24d382bd53668a2"),
    (6, 6, V1_NOTE, "CaseNoteRecorded", 1, "2024-05-02", "day", "2024-05-02T09:34:00.000000Z",
     "957ca8a6b1447f8e8dc8e90d42f1f5ee7c20f11e8e5abe1252691cd35c4fb2bd"),
]  # fmt: skip

SCHOOL = "school:st-marys-primary"


def _rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(FIXTURE.read_text(encoding="utf-8"))["stored_events"]
    return rows


def _entry(row: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads(row["state"])["entry"]
    return entry


def _load(records: CaseRecords) -> Sequence[int] | None:
    """Insert the file's rows through the recorder, with the index rows the service writes."""
    rows = _rows()
    stored = [
        StoredEvent(
            originator_id=UUID(r["originator_id"]),
            originator_version=r["originator_version"],
            topic=r["topic"],
            state=r["state"].encode("utf-8"),
        )
        for r in rows
    ]
    index = [
        IndexEntry(
            _entry(r)["id"],
            UUID(r["originator_id"]),
            r["originator_version"],
            _entry(r)["type"],
            client_digest(_entry(r)),
        )
        for r in rows
    ]
    return records.recorder.insert_events(stored, event_index=index)


@pytest.fixture
def records(client: TestClient) -> CaseRecords:
    """The app's use cases, on a fresh store holding the committed case."""
    app_records: CaseRecords = client.app.state.records  # type: ignore[attr-defined]
    positions = _load(app_records)
    assert positions is not None
    assert list(positions) == [r["notification_id"] for r in _rows()]
    return app_records


# --- the file itself ---------------------------------------------------------------------------


def test_fixture_file_when_read_then_rows_are_the_committed_ones() -> None:
    # Given / When the committed file
    rows = _rows()

    # Then it is the case written out above, under today's event class topics
    assert [
        (r["originator_id"], r["originator_version"], r["notification_id"], r["topic"])
        for r in rows
    ] == [
        (CASE_ID, v, p, OPENED_TOPIC if v == 1 else RECORDED_TOPIC) for v, p, *_ in EXPECTED_EVENTS
    ]
    assert [(e["id"], e["type"], e["hash"]) for e in map(_entry, rows)] == [
        (i, t, h) for _, _, i, t, _, _, _, _, h in EXPECTED_EVENTS
    ]
    assert get_topic(Case.Opened) == OPENED_TOPIC
    assert get_topic(Case.Recorded) == RECORDED_TOPIC


def test_fixture_chain_when_recomputed_from_stored_rows_then_every_hash_matches() -> None:
    # Given the stored rows, in version order
    rows = sorted(_rows(), key=lambda r: r["originator_version"])

    # When every hash is recomputed from the stored entry and its predecessor's hash
    prev = GENESIS
    recomputed = []
    for row in rows:
        entry = _entry(row)
        recomputed.append(chain_hash(UUID(CASE_ID), row["originator_version"], entry, prev))
        prev = entry["hash"]

    # Then each reproduces the stored hash, and the hashes are the ones written out above
    assert recomputed == [_entry(r)["hash"] for r in rows]
    assert recomputed == [e[-1] for e in EXPECTED_EVENTS]


# --- read back through the store ---------------------------------------------------------------


def test_raw_events_when_loaded_then_read_back_exactly_as_stored(
    records: CaseRecords, client: TestClient, headers: Headers
) -> None:
    # Given the committed case in the store
    stored_data = {_entry(r)["id"]: _entry(r)["data"] for r in _rows()}

    # When
    response = client.get(f"/cases/{CASE_ID}/events", headers=headers)

    # Then every envelope field is as stored; the v1 note's payload is shown as stored
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_after_version"] is None
    events = body["events"]
    assert [
        (
            e["version"],
            e["position"],
            e["id"],
            e["type"],
            e["schema_version"],
            e["occurred_at"],
            e["occurred_precision"],
            e["recorded_at"],
            e["hash"],
        )
        for e in events
    ] == EXPECTED_EVENTS
    assert all(e["case_id"] == CASE_ID for e in events)
    assert all(e["recorded_by"] == RECORDED_BY for e in events)
    assert all(e["sensitivity"] == "normal" for e in events)
    assert [e["data"] for e in events] == [stored_data[e["id"]] for e in events]
    assert events[1]["author"] == {
        "name": "Ann Jones",
        "role": "safeguarding lead",
        "agency": SCHOOL,
    }
    assert events[1]["source"] == {"system": "st-marys-mis", "reference": "MIS-4411"}
    assert events[5]["data"] == {"note": V1_NOTE_TEXT}
    assert events[3]["data"] == {
        "kind": "phone call",
        "text": "Mum called to rearrange Tuesday's visit",
    }


def test_state_when_loaded_then_folded_from_the_stored_case(
    records: CaseRecords, client: TestClient, headers: Headers
) -> None:
    # Given the committed case in the store
    # When
    response = client.get(f"/cases/{CASE_ID}", headers=headers)

    # Then
    assert response.status_code == 200, response.text
    state = response.json()
    assert response.headers["ETag"] == 'W/"6"'
    assert state["case_id"] == CASE_ID
    assert state["version"] == 6
    assert state["child"] == {
        "name": "Amy Smith",
        "date_of_birth": "2016-03-14",
        "sex": "F",
        "ethnicity": "WBRI",
        "unborn": False,
    }
    assert state["local_authority"] == "csc:barsetshire"
    assert state["status"] == "contact"
    assert state["episodes"] == []
    assert state["plan"] == "none"
    assert [(a["agency"], a["named_by"]) for a in state["involved_agencies"]] == [
        (SCHOOL, ["ContactReceived"])
    ]
    assert [(c["event_id"], c["category"], c["agency"]) for c in state["open_concerns"]] == [
        (CONCERN, "bruising", SCHOOL)
    ]
    involvement = state["last_involvement"]
    assert (involvement["date"], involvement["event_id"], involvement["type"]) == (
        "2024-05-02",
        V1_NOTE,
        "CaseNoteRecorded",
    )
    assert involvement["covers_from"] == "2024-05-01"


def test_chronology_when_loaded_then_v1_note_shows_upcast_and_correction_applies(
    records: CaseRecords, client: TestClient, headers: Headers
) -> None:
    # Given the committed case in the store
    # When
    response = client.get(
        f"/cases/{CASE_ID}/chronology", params={"min_significance": "routine"}, headers=headers
    )

    # Then the entries, in business order, with today's headlines over the stored payloads
    assert response.status_code == 200, response.text
    entries = response.json()["entries"]
    assert [
        (
            e["seq"],
            e["event_id"],
            e["type"],
            e["date"],
            e["headline"],
            e["agency"],
            e["significance"],
            e["recorded_at"],
            [c["event_id"] for c in e["corrections"]],
        )
        for e in entries
    ] == [
        (1, OPENED, "CaseOpened", "1 May 2024", "Case opened: Amy Smith, born 14 Mar 2016",
         "csc:barsetshire", "significant", "2024-05-02T09:30:00.000000Z", []),
        (2, CONCERN, "ConcernObserved", "1 May 2024", "Bruising reported: left upper arm",
         SCHOOL, "critical", "2024-05-02T09:31:00.000000Z", []),
        (3, CONTACT, "ContactReceived", "1 May 2024 10:15",
         "Contact from Ann Jones (safeguarding lead, school:st-marys-primary): immediate risk; "
         "Amy arrived with bruising to her left upper arm and said he\u2026",
         SCHOOL, "significant", "2024-05-02T09:30:00.000000Z", []),
        (4, NOTE, "CaseNoteRecorded", "2 May 2024",
         "Case note (phone call): Mum called to rearrange Thursday's visit",
         "csc:barsetshire", "routine", "2024-05-02T09:32:00.000000Z", [CORRECTION]),
        (5, V1_NOTE, "CaseNoteRecorded", "2 May 2024",
         "Case note (note): Visited; Amy's mum says the bruises came from a fall at the\u2026",
         "csc:barsetshire", "routine", "2024-05-02T09:34:00.000000Z", []),
    ]  # fmt: skip
    assert entries[3]["corrections"][0]["reason"] == "Wrong day recorded"


def test_chain_when_read_back_from_store_then_every_hash_recomputes(records: CaseRecords) -> None:
    # Given the committed case in the store
    # When its rows are read back and every hash recomputed from the stored entries
    events = records.events_of(UUID(CASE_ID))
    prev = GENESIS
    for e in events:
        # Then each matches, and links to its predecessor
        assert chain_hash(UUID(CASE_ID), e.version, e.entry, prev) == e.entry["hash"]
        prev = e.entry["hash"]
    assert [(e.version, e.position, e.entry["hash"]) for e in events] == [
        (v, p, h) for v, p, *_, h in EXPECTED_EVENTS
    ]


def test_upcaster_when_v1_note_read_from_store_then_it_is_a_v2_payload(
    records: CaseRecords,
) -> None:
    # Given the committed case, whose version 6 is a CaseNoteRecorded stored at schema v1
    # When it is read from the store
    v1_note = records.events_of(UUID(CASE_ID), gt=5)[0]

    # Then the folds see a v2 payload: kind "note", text from "note"; the stored entry is unchanged
    assert v1_note.id == V1_NOTE
    assert v1_note.data == {"kind": "note", "text": V1_NOTE_TEXT}
    assert v1_note.entry["schema_version"] == 1
    assert v1_note.entry["data"] == {"note": V1_NOTE_TEXT}
    note = catalogue["CaseNoteRecorded"]
    assert note.schema_version == 2
    assert note.payload.model_validate(v1_note.data).model_dump() == {
        "kind": "note",
        "text": V1_NOTE_TEXT,
    }
    # And a v2 note stored at v2 is read as it was stored
    v2_note = records.events_of(UUID(CASE_ID), gt=3, limit=1)[0]
    assert v2_note.data == {"kind": "phone call", "text": "Mum called to rearrange Tuesday's visit"}


def test_append_when_case_was_loaded_then_chain_continues_from_stored_hash(
    records: CaseRecords, client: TestClient, headers: Headers
) -> None:
    # Given the committed case in the store (the aggregate rebuilt from its stored topics)
    follow_up = event("ConcernFollowedUp", "2026-11-20", target=CONCERN)

    # When a new event is appended
    response = client.post(
        f"/cases/{CASE_ID}/events",
        json={"events": [follow_up]},
        headers={**headers, "If-Match": '"6"'},
    )

    # Then it is version 7, chained to the stored version 6
    assert response.status_code == 201, response.text
    result = response.json()["events"][0]
    assert (result["version"], result["position"]) == (7, 7)
    stored = records.events_of(UUID(CASE_ID), gt=6)[0]
    assert stored.entry["recorded_at"] == format_utc(NOW) == result["recorded_at"]
    assert result["hash"] == chain_hash(UUID(CASE_ID), 7, stored.entry, EXPECTED_EVENTS[-1][-1])
