"""The Case aggregate: its stream rules, its hash chain, its recording times and its small state."""

from __future__ import annotations

import copy
import pickle
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.case import Case, CaseRuleBroken
from domain.envelope import GENESIS, chain_hash
from domain.moments import format_utc
from tests.support import payload

T0 = datetime(2024, 5, 2, 9, 30, tzinfo=UTC)
RECORDED_BY = {
    "sub": "ann.worker",
    "name": "Ann Worker",
    "agency": "csc:barsetshire",
    "roles": ["practitioner"],
}

# What a case keeps: the library's bookkeeping and the three attributes domain/case.py names.
LIBRARY_ATTRIBUTES = {"_id", "_version", "_created_on", "_modified_on", "_pending_events"}
CASE_ATTRIBUTES = {"opened_id", "local_authority", "last_hash", "last_recorded_at"}
NUMBERS = {"authority_version"}


def entry(kind: str, occurred_at: str = "2024-05-01", **data: Any) -> dict[str, Any]:
    """An entry in the stored form the use cases hand the aggregate (before recording)."""
    return {
        "id": str(uuid.uuid4()),
        "type": kind,
        "schema_version": 2 if kind == "CaseNoteRecorded" else 1,
        "occurred_at": occurred_at,
        "occurred_precision": "day",
        "recorded_by": RECORDED_BY,
        "author": None,
        "source": None,
        "sensitivity": "normal",
        "data": payload(kind, **data),
    }


def sealed(case: Case) -> list[dict[str, Any]]:
    """The entries of the case's pending events, in version order."""
    return [e.entry for e in case.pending_events]  # type: ignore[attr-defined]


def opened(*more: dict[str, Any], at: datetime = T0) -> tuple[UUID, Case]:
    case_id = uuid.uuid4()
    return case_id, Case.open(case_id, [entry("CaseOpened"), *more], recorded_at=at)


def replayed(events: Sequence[Any]) -> Case:
    case = None
    for e in events:
        case = e.mutate(case)
    assert isinstance(case, Case)
    return case


# --- the stream rules ---------------------------------------------------------------------------


def test_open_when_first_event_is_not_case_opened_then_refused_at_index_0() -> None:
    # Given a batch that starts with a contact
    batch = [entry("ContactReceived"), entry("CaseOpened")]

    # When / Then
    with pytest.raises(CaseRuleBroken) as refused:
        Case.open(uuid.uuid4(), batch, recorded_at=T0)
    assert (refused.value.index, refused.value.field) == (0, "type")
    assert "first event must be CaseOpened" in refused.value.detail


def test_open_when_batch_has_a_second_case_opened_then_refused_with_its_index() -> None:
    # Given an opening batch whose third event opens the case again
    batch = [entry("CaseOpened"), entry("ContactReceived"), entry("CaseOpened")]

    # When / Then
    with pytest.raises(CaseRuleBroken) as refused:
        Case.open(uuid.uuid4(), batch, recorded_at=T0)
    assert (refused.value.index, refused.value.field) == (2, "type")
    assert "CaseOpened comes once" in refused.value.detail


def test_record_when_batch_has_case_opened_then_refused_with_its_index() -> None:
    # Given an open case
    _, case = opened()
    case.collect_events()

    # When a later batch contains CaseOpened at position 1
    with pytest.raises(CaseRuleBroken) as refused:
        case.record([entry("CaseNoteRecorded"), entry("CaseOpened")], recorded_at=T0)

    # Then it is refused, naming the batch position
    assert (refused.value.index, refused.value.field) == (1, "type")


def test_record_when_batch_is_refused_then_case_is_unchanged() -> None:
    # Given an open case at version 2
    _, case = opened(entry("ContactReceived"))
    case.collect_events()
    before = (case.version, case.last_hash, case.last_recorded_at)

    # When a batch is refused at its second event
    with pytest.raises(CaseRuleBroken):
        case.record(
            [entry("CaseNoteRecorded"), entry("CaseOpened")], recorded_at=T0 + timedelta(hours=1)
        )

    # Then nothing of the batch was applied: a batch is all or nothing
    assert (case.version, case.last_hash, case.last_recorded_at) == before
    assert case.collect_events() == []


def test_open_when_valid_then_case_opened_is_version_1_and_the_rest_follow() -> None:
    # Given / When a referral opens a case
    case_id, case = opened(entry("ContactReceived"), entry("ConcernObserved"))

    # Then
    events = case.collect_events()
    assert [(type(e).__name__, e.originator_version) for e in events] == [
        ("Opened", 1),
        ("Recorded", 2),
        ("Recorded", 3),
    ]
    assert [e.entry["type"] for e in events] == [  # type: ignore[attr-defined]
        "CaseOpened",
        "ContactReceived",
        "ConcernObserved",
    ]
    assert case.id == case_id
    assert case.version == 3
    assert case.local_authority == "csc:barsetshire"


# --- the hash chain -----------------------------------------------------------------------------


def test_hashes_when_case_opened_then_version_1_chains_from_64_zeros() -> None:
    # Given / When
    case_id, case = opened()

    # Then
    [first] = sealed(case)
    assert GENESIS == "0" * 64
    assert first["hash"] == chain_hash(case_id, 1, first, "0" * 64)
    assert case.last_hash == first["hash"]


def test_hashes_when_batches_recorded_then_each_chains_from_the_one_before() -> None:
    # Given a case opened with a contact, then two more batches
    case_id, case = opened(entry("ContactReceived"))
    case.record([entry("ConcernObserved"), entry("CaseNoteRecorded")], recorded_at=T0)
    case.record([entry("CaseNoteRecorded")], recorded_at=T0 + timedelta(minutes=5))

    # When
    entries = sealed(case)

    # Then every hash covers its entry, its version and its predecessor's hash
    prev = GENESIS
    for version, e in enumerate(entries, start=1):
        assert e["hash"] == chain_hash(case_id, version, e, prev)
        prev = e["hash"]
    assert len({e["hash"] for e in entries}) == 5
    assert case.last_hash == entries[-1]["hash"]


def test_hashes_when_a_stored_payload_is_edited_then_it_no_longer_verifies() -> None:
    # Given a recorded case note
    case_id, case = opened(entry("CaseNoteRecorded"))
    note = sealed(case)[1]

    # When its payload is changed after the fact
    edited = {**note, "data": {**note["data"], "text": "Something else"}}

    # Then its stored hash no longer matches
    assert chain_hash(case_id, 2, edited, sealed(case)[0]["hash"]) != note["hash"]


def test_hashes_when_same_entries_in_another_case_then_hashes_differ() -> None:
    # Given the same entry in two cases
    opening = entry("CaseOpened")
    first = Case.open(uuid.uuid4(), [opening], recorded_at=T0)
    second = Case.open(uuid.uuid4(), [opening], recorded_at=T0)

    # Then the case id is covered by the hash
    assert first.last_hash != second.last_hash


# --- recording times ----------------------------------------------------------------------------


def test_recorded_at_when_batch_recorded_then_one_value_for_the_whole_batch() -> None:
    # Given / When an opening batch of three
    _, case = opened(entry("ContactReceived"), entry("ConcernObserved"), at=T0)

    # Then they share one recording time, in the envelope and the library's timestamp
    events = case.collect_events()
    assert {e.entry["recorded_at"] for e in events} == {  # type: ignore[attr-defined]
        "2024-05-02T09:30:00.000000Z"
    }
    assert {e.timestamp for e in events} == {T0}
    assert case.last_recorded_at == format_utc(T0)


def test_recorded_at_when_clock_goes_back_then_never_earlier_than_previous_batch() -> None:
    # Given a case recorded at T0
    _, case = opened(at=T0)

    # When the next batch is recorded by a clock that reads earlier
    case.record(
        [entry("CaseNoteRecorded"), entry("ConcernObserved")], recorded_at=T0 - timedelta(hours=3)
    )

    # Then the batch is stamped with the previous recording time, not before it
    stamps = [e["recorded_at"] for e in sealed(case)]
    assert stamps == [format_utc(T0)] * 3
    assert [e.timestamp for e in case.collect_events()] == [T0] * 3


def test_recorded_at_when_clock_moves_on_then_later_batch_has_later_time() -> None:
    # Given a case recorded at T0
    _, case = opened(at=T0)
    later = T0 + timedelta(days=1, microseconds=1)

    # When
    case.record([entry("CaseNoteRecorded"), entry("CaseNoteRecorded")], recorded_at=later)

    # Then
    stamps = [e["recorded_at"] for e in sealed(case)]
    assert stamps == [format_utc(T0), format_utc(later), format_utc(later)]
    assert case.last_recorded_at == "2024-05-03T09:30:00.000001Z"


def test_recorded_at_when_case_is_replayed_then_the_floor_still_holds() -> None:
    # Given a case rebuilt from its stored events, last recorded at T0 + 1 hour
    _, case = opened(at=T0)
    case.record([entry("CaseNoteRecorded")], recorded_at=T0 + timedelta(hours=1))
    rebuilt = replayed(case.collect_events())

    # When a batch arrives with an earlier clock reading
    rebuilt.record([entry("CaseNoteRecorded")], recorded_at=T0)

    # Then it is stamped no earlier than the last recording, and chains from the last hash
    [e] = [x.entry for x in rebuilt.collect_events()]  # type: ignore[attr-defined]
    assert e["recorded_at"] == format_utc(T0 + timedelta(hours=1))
    assert e["hash"] == chain_hash(rebuilt.id, 3, e, case.last_hash)


# --- small state ---------------------------------------------------------------------------------


def test_state_when_case_is_long_then_it_keeps_only_the_named_attributes() -> None:
    # Given a short case and a long one (1,000 events), their events collected as a save would
    _, short = opened(entry("ContactReceived"))
    _, long = opened(entry("ContactReceived"))
    for i in range(20):
        long.record(
            [entry("CaseNoteRecorded") for _ in range(50)], recorded_at=T0 + timedelta(minutes=i)
        )
    short.collect_events()
    events = long.collect_events()

    # Then both keep only the library's bookkeeping and the five attributes of domain/case.py
    for case in (short, long, replayed(events)):
        assert set(vars(case)) == LIBRARY_ATTRIBUTES | CASE_ATTRIBUTES | NUMBERS
        assert all(isinstance(getattr(case, name), str) for name in CASE_ATTRIBUTES)
        assert all(isinstance(getattr(case, name), int) for name in NUMBERS)
        assert case._pending_events == []
    assert long.version == 1002

    # And a long case costs no more to copy than a short one: no per-event collections
    def size(case: Case) -> int:
        return len(pickle.dumps(vars(case)))

    assert abs(size(long) - size(short)) < 64


def test_deepcopy_when_the_copy_records_then_the_original_is_unchanged() -> None:
    # Given a case as the library's cache holds it (its events collected)
    _, case = opened(entry("ContactReceived"))
    case.collect_events()
    before = dict(vars(case))

    # When a copy (what the repository hands a write) records a batch
    copied = copy.deepcopy(case)
    copied.record([entry("CaseNoteRecorded")], recorded_at=T0 + timedelta(minutes=1))

    # Then the copy moved on and the original did not: same attributes, no pending events
    assert copied.version == case.version + 1 and len(copied.pending_events) == 1
    assert vars(case) == before and case._pending_events == []
    assert set(vars(copied)) == LIBRARY_ATTRIBUTES | CASE_ATTRIBUTES | NUMBERS


def test_record_when_batches_recorded_then_the_case_is_the_one_its_events_rebuild() -> None:
    # Given a case opened with a batch, then two more batches, one correcting the opening (which
    # moves the owning authority)
    _, case = opened(entry("ContactReceived"))
    first = case.opened_id
    case.record([entry("CaseNoteRecorded") for _ in range(3)], recorded_at=T0 + timedelta(hours=1))
    moved = payload("CaseOpened", local_authority="csc:kent")
    correction = entry("EntryCorrected", target_event_id=first, data=moved)
    case.record([correction, entry("CaseNoteRecorded")], recorded_at=T0 + timedelta(hours=2))

    # When the library rebuilds a case from its events (checking each is next in sequence)
    events = case.collect_events()
    rebuilt = replayed(events)

    # Then it is the recorded case: version, times, chain and owning authority alike
    assert [e.originator_version for e in events] == list(range(1, 8))
    assert [e.timestamp for e in events][-2:] == [T0 + timedelta(hours=2)] * 2
    assert vars(rebuilt) == vars(case)
    assert case.version == 7 and case.modified_on == T0 + timedelta(hours=2)
    assert case.local_authority == "csc:kent" and case.authority_version == 6
