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
from service.errors import StoreBusy
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


def test_record_when_snapshot_cannot_be_written_then_batch_not_stored_either(
    settings: Settings, clock: SettableClock
) -> None:
    # Given an open case, and a snapshot already stored at the version a batch would reach
    # (a store that holds what it should not: nothing else writes one there)
    records = CaseRecords(settings.model_copy(update={"append_retry_seconds": 0.2}), clock)
    case_id = records.open_case(None, [event("CaseOpened")], by=WORKER).case_id
    interval = settings.snapshot_interval
    assert records.snapshots is not None
    planted = Case.Snapshot.take(records._load(case_id))
    records.snapshots.put([dataclasses.replace(planted, originator_version=interval)])

    # When a batch reaching that version is appended
    # Then it is refused as the store being busy, and neither it nor a snapshot of it is stored:
    # the batch and its snapshot are written in one transaction
    with pytest.raises(StoreBusy):
        records.record(
            case_id, [event("CaseNoteRecorded") for _ in range(interval - 1)], by=WORKER
        )
    assert records.current_version(case_id) == 1
    assert [s.originator_version for s in records.snapshots.get(case_id)] == [interval]
    records.close()
