"""A SQLite store written with the earlier event-id index (one table keyed by the id's text) is
moved to the current layout when it is opened, and its ids keep their meaning: a replay answers
with its original results, a reused id is refused."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID, uuid4

import pytest

from service.clock import SettableClock
from service.errors import EventIdReused
from service.principal import Principal
from service.records import CaseRecords
from service.settings import Settings
from service.store import SQLiteCaseLogRecorder
from tests.support import event

WORKER = Principal("ann.worker", "Ann Worker", "csc:barsetshire", ("practitioner",))
TEXT_KEYED = "casetrail_event_ids"
CURRENT = "casetrail_event_index"


def _as_text_keyed_store(path: str) -> None:
    """Rewrite the store's index in the earlier layout, as that version left it."""
    with sqlite3.connect(path) as db:
        db.execute(
            f"CREATE TABLE {TEXT_KEYED} (event_id TEXT PRIMARY KEY, case_id TEXT NOT NULL, "
            "version INTEGER NOT NULL, type TEXT NOT NULL, position INTEGER NOT NULL, "
            "digest TEXT NOT NULL) WITHOUT ROWID"
        )
        rows = db.execute(f"SELECT * FROM {CURRENT}").fetchall()
        db.executemany(
            f"INSERT INTO {TEXT_KEYED} VALUES (?,?,?,?,?,?)",
            [(str(UUID(bytes=row[0])), *row[1:]) for row in rows],
        )
        db.execute(f"DROP TABLE {CURRENT}")
    db.close()


def _tables(path: str) -> set[str]:
    with sqlite3.connect(path) as db:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    db.close()
    return names


@pytest.mark.parametrize("store", ["sqlite"])
@pytest.mark.parametrize("page", [10_000, 1], ids=["one page", "a page per row"])
def test_open_store_with_text_keyed_index_then_ids_moved_and_still_recognised(
    settings: Settings, clock: SettableClock, page: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a store whose index is in the earlier layout, holding one case's two events
    opened, note = event("CaseOpened"), event("CaseNoteRecorded")
    records = CaseRecords(settings, clock)
    case_id = records.open_case(None, [opened], by=WORKER).case_id
    first = records.record(case_id, [note], by=WORKER)
    records.close()
    path = str(settings.sqlite_path)
    _as_text_keyed_store(path)
    assert CURRENT not in _tables(path)

    # When the service opens it (moving the index `page` rows at a time)
    monkeypatch.setattr(SQLiteCaseLogRecorder, "move_page", page)
    reopened = CaseRecords(settings, clock)

    # Then the index is in the current layout, and the earlier table is gone
    assert CURRENT in _tables(path)
    assert TEXT_KEYED not in _tables(path)
    # And a replay of the stored batch answers with its original results
    replay = reopened.record(case_id, [note], by=WORKER)
    assert replay.replayed
    assert [e.position for e in replay.events] == [e.position for e in first.events]
    # And an id stored before cannot be used on another case
    other = reopened.open_case(None, [event("CaseOpened")], by=WORKER).case_id
    with pytest.raises(EventIdReused):
        reopened.record(other, [{**event("CaseNoteRecorded"), "id": note["id"]}], by=WORKER)
    # And the case goes on from where it was
    assert reopened.record(case_id, [event("CaseNoteRecorded")], by=WORKER).version == 3
    reopened.close()


@pytest.mark.parametrize("store", ["sqlite"])
def test_open_store_with_text_keyed_index_when_processes_open_it_at_once_then_moved_once(
    settings: Settings, clock: SettableClock
) -> None:
    # Given a store in the earlier layout whose index holds many ids
    records = CaseRecords(settings, clock)
    case_id = records.open_case(None, [event("CaseOpened")], by=WORKER).case_id
    for _ in range(20):
        records.record(case_id, [event("CaseNoteRecorded") for _ in range(250)], by=WORKER)
    records.close()
    path = str(settings.sqlite_path)
    _as_text_keyed_store(path)

    # When several processes open it at once (as `serve`'s workers and its runner do)
    start = threading.Barrier(4)

    def open_store() -> int:
        start.wait()
        opened = CaseRecords(settings, clock)
        try:
            return len(opened.index.lookup([str(uuid4())]))
        finally:
            opened.close()

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda _: open_store(), range(4)))

    # Then every one opens it, and the index holds every id once, in the current layout
    assert outcomes == [0, 0, 0, 0]
    assert TEXT_KEYED not in _tables(path)
    with sqlite3.connect(path) as db:
        assert db.execute(
            f"SELECT COUNT(*), COUNT(DISTINCT event_id) FROM {CURRENT}"
        ).fetchone() == (
            5001,
            5001,
        )
    db.close()


def test_lookup_of_ids_in_any_spelling_then_found_under_the_spelling_asked(
    settings: Settings, clock: SettableClock
) -> None:
    # Given a stored event
    records = CaseRecords(settings, clock)
    opened = event("CaseOpened")
    records.open_case(None, [opened], by=WORKER)

    # When its id is looked up in capitals, beside an id that is not a UUID
    shouted = opened["id"].upper()
    found = records.index.lookup([shouted, "not-a-uuid"])

    # Then it is found under the spelling asked, and the other is simply not found
    assert list(found) == [shouted]
    assert found[shouted].version == 1
    records.close()
