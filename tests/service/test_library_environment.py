"""The log is configured by Casetrail's settings alone: the library's own environment variables
(plain or prefixed with the application's name, which the library reads first) change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.principal import Principal
from service.records import CaseRecords
from service.settings import Settings
from tests.support import event

WORKER = Principal("ann.worker", "Ann Worker", "csc:barsetshire", ("practitioner",))


def test_records_when_process_environment_sets_library_keys_then_settings_still_decide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a process environment asking the library for an in-memory store, no copies of
    # cached aggregates, and no snapshots, under the names the library reads first
    monkeypatch.setenv("CASERECORDS_PERSISTENCE_MODULE", "eventsourcing.popo")
    monkeypatch.setenv("CASERECORDS_DEEPCOPY_FROM_AGGREGATE_CACHE", "n")
    monkeypatch.setenv("CASERECORDS_IS_SNAPSHOTTING_ENABLED", "n")
    settings = Settings(data_dir=tmp_path / "data", database_url="")

    # When a case is opened, and the store opened again
    records = CaseRecords(settings)
    opened = event("CaseOpened")
    opened["data"]["local_authority"] = WORKER.agency
    case_id = records.open_case(None, [opened], by=WORKER).case_id
    copies, snapshots = records.repository.deepcopy_from_cache, records.snapshots
    records.close()
    reopened = CaseRecords(settings)

    # Then the case is in the SQLite file, cached aggregates are copied, snapshots are kept
    assert reopened.current_version(case_id) == 1
    assert copies is True
    assert snapshots is not None
    reopened.close()
