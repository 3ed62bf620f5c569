"""Snapshots of the Case aggregate: taken by the batch that reaches each multiple of
`snapshot_interval` (at that batch's last version), used on a cold load.

Without them, the first append to a long case after a restart (or an aggregate-cache eviction)
would reconstruct the case from every one of its events.
"""

from __future__ import annotations

import dataclasses

import pytest

from domain.case import Case
from service.clock import SettableClock
from service.errors import EventIdReused
from service.principal import Principal
from service.records import CaseRecords
from service.settings import Settings
from tests.support import event

WORKER = Principal("ann.worker", "Ann Worker", "csc:barsetshire", ("practitioner",))


def test_record_when_batch_passes_snapshot_interval_then_snapshot_taken_and_used(
    settings: Settings, clock: SettableClock
) -> None:
    # Given an open case
    records = CaseRecords(settings, clock)
    case_id = records.open_case(None, [event("CaseOpened")], by=WORKER).case_id
    interval = settings.snapshot_interval

    # When one batch takes it past the snapshot interval
    notes = [event("CaseNoteRecorded") for _ in range(interval)]
    records.record(case_id, notes, by=WORKER)

    # Then the log holds a snapshot of the case as that batch left it (versions 2 to interval + 1)
    assert records.snapshots is not None
    assert [s.originator_version for s in records.snapshots.get(case_id)] == [interval + 1]
    records.close()

    # And a freshly started application appends after it without losing a version
    restarted = CaseRecords(settings, clock)
    result = restarted.record(case_id, [event("CaseNoteRecorded")], by=WORKER)
    assert result.version == interval + 2
    assert len(restarted.events_of(case_id)) == interval + 2
    restarted.close()


def test_record_when_stray_snapshot_at_the_version_then_replaced_by_the_batch_s(
    settings: Settings, clock: SettableClock
) -> None:
    # Given an open case, and a stray snapshot already stored at the version a batch will reach
    # (a store that holds what it should not: nothing else writes one there)
    records = CaseRecords(settings, clock)
    case_id = records.open_case(None, [event("CaseOpened")], by=WORKER).case_id
    interval = settings.snapshot_interval
    assert records.snapshots is not None
    stray = Case.Snapshot.take(records._load(case_id))
    records.snapshots.put([dataclasses.replace(stray, originator_version=interval)])

    # When a batch reaching that version is appended
    result = records.record(
        case_id, [event("CaseNoteRecorded") for _ in range(interval - 1)], by=WORKER
    )

    # Then it is stored, and the snapshot at that version is the batch's (the case as it left
    # it), in place of the stray one
    assert result.version == interval
    (snapshot,) = records.snapshots.get(case_id)
    assert snapshot.originator_version == interval
    assert snapshot.state["last_hash"] == result.events[-1].hash
    records.close()


def test_record_when_batch_refused_then_no_snapshot_of_it_either(
    settings: Settings, clock: SettableClock
) -> None:
    # Given two open cases
    records = CaseRecords(settings, clock)
    first = records.open_case(None, [event("CaseOpened")], by=WORKER).case_id
    second = records.open_case(None, [event("CaseOpened")], by=WORKER).case_id
    used = event("CaseNoteRecorded")
    records.record(first, [used], by=WORKER)

    # When a batch reaching the snapshot interval of the second case reuses an id the first
    # case holds
    batch = [event("CaseNoteRecorded") for _ in range(settings.snapshot_interval - 2)]
    with pytest.raises(EventIdReused):
        records.record(second, [*batch, used], by=WORKER)

    # Then neither the batch nor a snapshot of it is stored
    assert records.current_version(second) == 1
    assert records.snapshots is not None
    assert list(records.snapshots.get(second)) == []
    records.close()


def test_record_when_process_environment_asks_for_database_functions_then_all_still_written(
    settings: Settings, clock: SettableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a stray POSTGRES_ENABLE_DB_FUNCTIONS in the process environment (the library would
    # then insert events by a database function of its own, writing neither the event-id index
    # nor the batch's snapshot)
    monkeypatch.setenv("POSTGRES_ENABLE_DB_FUNCTIONS", "y")
    records = CaseRecords(settings, clock)
    opening = event("CaseOpened")
    case_id = records.open_case(None, [opening], by=WORKER).case_id

    # When a batch reaches the snapshot interval
    records.record(
        case_id, [event("CaseNoteRecorded") for _ in range(settings.snapshot_interval)], by=WORKER
    )

    # Then the ids are indexed and the snapshot stored, as without it
    assert list(records.locate([opening["id"]])) == [opening["id"]]
    assert records.snapshots is not None
    assert [s.originator_version for s in records.snapshots.get(case_id)] == [
        settings.snapshot_interval + 1
    ]
    records.close()
