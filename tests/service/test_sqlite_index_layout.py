"""A SQLite store written with an earlier event-id index (one row per id with its case, version,
type, position and digest, keyed by the id's bytes or, before that, by its text) is moved to the
current layout (each id's position alone) when it is opened, and its ids keep their meaning: a
replay answers with its original results, a reused id is refused."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest

from domain.envelope import client_digest
from service.clock import SettableClock
from service.errors import EventIdReused
from service.principal import Principal
from service.records import CaseRecords
from service.settings import Settings
from service.store import SQLiteCaseLogRecorder
from tests.support import event

WORKER = Principal("ann.worker", "Ann Worker", "csc:barsetshire", ("practitioner",))
CURRENT = "casetrail_event_positions"
TEXT_KEYED, BYTES_KEYED = SQLiteCaseLogRecorder.earlier_index_tables
LAYOUTS = [TEXT_KEYED, BYTES_KEYED]


def _earlier_rows(db: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """The current index's rows as an earlier layout held them: id (bytes), case id (text),
    version, type, position and the digest of what the client sent."""
    rows = db.execute(
        "SELECT i.event_id, e.originator_id, e.originator_version, i.position, e.state "
        f"FROM {CURRENT} AS i JOIN stored_events AS e ON e.rowid = i.position"
    ).fetchall()
    earlier = []
    for event_id, case, version, position, state in rows:
        entry = orjson.loads(state)["entry"]
        earlier.append(
            (event_id, str(UUID(case)), version, entry["type"], position, client_digest(entry))
        )
    return earlier


def _as_earlier_store(path: str, layout: str) -> None:
    """Rewrite the store's index in an earlier layout, as that version left it."""
    with sqlite3.connect(path) as db:
        rows = _earlier_rows(db)
        if layout == TEXT_KEYED:
            db.execute(
                f"CREATE TABLE {TEXT_KEYED} (event_id TEXT PRIMARY KEY, case_id TEXT NOT NULL, "
                "version INTEGER NOT NULL, type TEXT NOT NULL, position INTEGER NOT NULL, "
                "digest TEXT NOT NULL) WITHOUT ROWID"
            )
            rows = [(str(UUID(bytes=row[0])), *row[1:]) for row in rows]
        else:
            db.execute(
                f"CREATE TABLE {BYTES_KEYED} (event_id BLOB NOT NULL, case_id TEXT NOT NULL, "
                "version INTEGER NOT NULL, type TEXT NOT NULL, position INTEGER NOT NULL, "
                "digest TEXT NOT NULL)"
            )
            db.execute(f"CREATE UNIQUE INDEX {BYTES_KEYED}_event_id ON {BYTES_KEYED} (event_id)")
        db.executemany(f"INSERT INTO {layout} VALUES (?,?,?,?,?,?)", rows)
        db.execute(f"DROP TABLE {CURRENT}")
    db.close()


def _tables(path: str) -> set[str]:
    with sqlite3.connect(path) as db:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    db.close()
    return names


@pytest.mark.parametrize("store", ["sqlite"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("page", [10_000, 1], ids=["one page", "a page per row"])
def test_open_store_with_an_earlier_index_then_ids_moved_and_still_recognised(
    settings: Settings,
    clock: SettableClock,
    layout: str,
    page: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a store whose index is in an earlier layout, holding one case's two events
    opened, note = event("CaseOpened"), event("CaseNoteRecorded")
    records = CaseRecords(settings, clock)
    case_id = records.open_case(None, [opened], by=WORKER).case_id
    first = records.record(case_id, [note], by=WORKER)
    records.close()
    path = str(settings.sqlite_path)
    _as_earlier_store(path, layout)
    assert CURRENT not in _tables(path)

    # When the service opens it (moving the index `page` rows at a time)
    monkeypatch.setattr(SQLiteCaseLogRecorder, "move_page", page)
    reopened = CaseRecords(settings, clock)

    # Then the index is in the current layout, and the earlier table is gone
    assert CURRENT in _tables(path)
    assert layout not in _tables(path)
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
@pytest.mark.parametrize("layout", LAYOUTS)
def test_open_store_with_an_earlier_index_when_processes_open_it_at_once_then_moved_once(
    settings: Settings, clock: SettableClock, layout: str
) -> None:
    # Given a store in an earlier layout whose index holds many ids
    records = CaseRecords(settings, clock)
    case_id = records.open_case(None, [event("CaseOpened")], by=WORKER).case_id
    for _ in range(20):
        records.record(case_id, [event("CaseNoteRecorded") for _ in range(250)], by=WORKER)
    records.close()
    path = str(settings.sqlite_path)
    _as_earlier_store(path, layout)

    # When several processes open it at once (as `serve`'s workers and its runner do)
    start = threading.Barrier(4)

    def open_store() -> int:
        start.wait()
        opened = CaseRecords(settings, clock)
        try:
            return len(opened.locate([str(uuid4())]))
        finally:
            opened.close()

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda _: open_store(), range(4)))

    # Then every one opens it, and the index holds every id once, in the current layout
    assert outcomes == [0, 0, 0, 0]
    assert layout not in _tables(path)
    with sqlite3.connect(path) as db:
        rows = db.execute(
            f"SELECT i.event_id, e.state FROM {CURRENT} AS i "
            "LEFT JOIN stored_events AS e ON e.rowid = i.position"
        ).fetchall()
    db.close()
    assert len(rows) == 5001
    # (each id at the position of the event that holds it)
    assert all(
        state is not None and orjson.loads(state)["entry"]["id"] == str(UUID(bytes=event_id))
        for event_id, state in rows
    )


def test_lookup_of_ids_in_any_spelling_then_found_under_the_spelling_asked(
    settings: Settings, clock: SettableClock
) -> None:
    # Given a stored event
    records = CaseRecords(settings, clock)
    opened = event("CaseOpened")
    records.open_case(None, [opened], by=WORKER)

    # When its id is looked up in capitals, beside an id that is not a UUID
    shouted = opened["id"].upper()
    found = records.locate([shouted, "not-a-uuid"])

    # Then it is found under the spelling asked, and the other is simply not found
    assert list(found) == [shouted]
    assert found[shouted].version == 1
    records.close()
