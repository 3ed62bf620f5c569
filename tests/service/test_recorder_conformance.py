"""Casetrail's recorders pass the `eventsourcing` library's own recorder test cases.

`SQLiteCaseLogRecorder` and `PostgresCaseLogRecorder` subclass the library's application recorders
to write the event-id index in the same transaction as the events. These tests run the library's
`ApplicationRecorderTestCase` and `NonInterleavingNotificationIDsBaseCase` (shipped in the wheel as
`eventsourcing.tests.persistence`) against our subclasses, set up the way the library sets up its
own file-based SQLite and PostgreSQL tests, plus a contract for what we added: the index rows are
stored with the events, all or nothing, and read back with the events' notification ids.
"""

from __future__ import annotations

import os
import tempfile
import threading
import unittest
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

# Imported as a module, not by name: pytest collects every TestCase subclass a test module
# names, and the library's base cases are abstract.
from eventsourcing.tests import persistence as library

from domain.envelope import client_digest
from service.settings import Settings
from service.store import (
    CaseRow,
    IndexedEvent,
    IndexEntry,
    PostgresCaseLogRecorder,
    SQLiteCaseLogRecorder,
)

POSTGRES_URL = os.environ.get("CASETRAIL_TEST_POSTGRES_URL", "")
NO_POSTGRES = "CASETRAIL_TEST_POSTGRES_URL is not set: PostgreSQL recorder conformance skipped"

# The table the application's PostgreSQL recorder writes (named after `CaseRecords`).
POSTGRES_EVENTS_TABLE = "caserecords_events"
RECORDED_TOPIC = "domain.case:Case.Recorded"

CaseLogRecorder = SQLiteCaseLogRecorder | PostgresCaseLogRecorder


def _join_test_threads(before: set[threading.Thread]) -> None:
    """Wait for the reader threads the library's concurrency test signals to stop but never joins
    (closing a connection a reader still uses crashes the sqlite3 module). Connection-pool
    workers are daemon threads that live with their pool, and are left alone."""
    for thread in set(threading.enumerate()) - before:
        if not thread.daemon:
            thread.join(timeout=10)


# --- stores ------------------------------------------------------------------------------------


class SQLiteFileStore(unittest.TestCase):
    """A fresh SQLite file per test, in a temporary directory (the library's file-database setup).

    SQLite has one writer per file: the library's connection pool serialises this process's
    writers with a writer lock, and the lock timeout is the one `Settings` gives production.
    """

    def setUp(self) -> None:
        super().setUp()
        self._tmp = tempfile.TemporaryDirectory(prefix="casetrail-conformance-")
        self.db_path = Path(self._tmp.name) / "casetrail.db"
        self._datastores: list[SQLiteDatastore] = []
        self._threads_before = set(threading.enumerate())

    def tearDown(self) -> None:
        # The library's concurrency test signals its reader threads to stop but does not join
        # them; closing a connection a reader is still using crashes the sqlite3 module.
        _join_test_threads(self._threads_before)
        for datastore in self._datastores:
            datastore.close()
        self._tmp.cleanup()
        super().tearDown()

    def create_recorder(self) -> SQLiteCaseLogRecorder:
        env = Settings(database_url=f"sqlite:///{self.db_path}").library_environment()
        datastore = SQLiteDatastore(
            db_name=env["SQLITE_DBNAME"], lock_timeout=int(env["SQLITE_LOCK_TIMEOUT"])
        )
        self._datastores.append(datastore)
        recorder = SQLiteCaseLogRecorder(datastore)
        recorder.create_table()
        return recorder


class PostgresSchemaStore(unittest.TestCase):
    """A fresh schema per test, dropped afterwards; the datastore is sized as the library's tests
    size theirs (one connection; the concurrency tests resize the pool)."""

    def setUp(self) -> None:
        super().setUp()
        import psycopg

        self._threads_before = set(threading.enumerate())
        self.schema = f"t_{uuid4().hex[:12]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{self.schema}"')
        env = Settings(database_url=POSTGRES_URL).library_environment()
        self.datastore = PostgresDatastore(
            env["POSTGRES_DBNAME"],
            env["POSTGRES_HOST"],
            env["POSTGRES_PORT"],
            env["POSTGRES_USER"],
            env["POSTGRES_PASSWORD"],
            connect_timeout=float(env["POSTGRES_CONNECT_TIMEOUT"]),
            pool_size=1,
            max_overflow=0,
            max_waiting=0,
            schema=self.schema,
        )

    def tearDown(self) -> None:
        import psycopg

        _join_test_threads(self._threads_before)
        self.datastore.close()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{self.schema}" CASCADE')
        super().tearDown()

    def create_recorder(self) -> PostgresCaseLogRecorder:
        recorder = PostgresCaseLogRecorder(self.datastore, events_table_name=POSTGRES_EVENTS_TABLE)
        recorder.create_table()
        return recorder

    def resize_pool(self, size: int) -> None:
        self.datastore.pool.open()
        self.datastore.pool.resize(size, size)


# --- what we added: the event-id index ---------------------------------------------------------


def _entry(event_id: str, version: int) -> dict[str, Any]:
    return {"id": event_id, "type": "CaseNoteRecorded", "data": {"text": f"note {version}"}}


def _stored(case_id: UUID, version: int, event_id: str | None = None) -> StoredEvent:
    return StoredEvent(
        originator_id=case_id,
        originator_version=version,
        topic=RECORDED_TOPIC,
        state=orjson.dumps({"entry": _entry(event_id or str(uuid4()), version)}),
    )


def _read(state: bytes) -> dict[str, Any] | None:
    """An entry from a stored state, as the application reads one (unencrypted here)."""
    entry = orjson.loads(state)["entry"]
    return entry if isinstance(entry, dict) else None


def _batch(
    case_id: UUID, versions: Sequence[int], event_ids: Sequence[str] | None = None
) -> tuple[list[StoredEvent], list[IndexEntry]]:
    """Events and their index entries, each with the digest of its entry (which a store that
    keeps no digest reads from the entry, so that both stores answer alike)."""
    ids = list(event_ids) if event_ids is not None else [str(uuid4()) for _ in versions]
    events = [_stored(case_id, v, i) for i, v in zip(ids, versions, strict=True)]
    index = [
        IndexEntry(i, case_id, v, "CaseNoteRecorded", client_digest(_entry(i, v)))
        for i, v in zip(ids, versions, strict=True)
    ]
    return events, index


class EventIndexContract:
    """`insert_events(..., event_index=[...])` stores the index with the events, all or nothing."""

    def create_recorder(self) -> CaseLogRecorder:
        raise NotImplementedError  # the store's

    def _recorder(self) -> CaseLogRecorder:
        recorder = self.create_recorder()
        assert isinstance(recorder, SQLiteCaseLogRecorder | PostgresCaseLogRecorder)
        return recorder

    def test_event_index_when_inserted_with_events_then_lookup_gives_their_positions(self) -> None:
        # Given two cases written in two batches, each with its index rows
        recorder = self._recorder()
        case_a, case_b = uuid4(), uuid4()
        events_a, index_a = _batch(case_a, [1, 2, 3])
        events_b, index_b = _batch(case_b, [1])

        # When
        positions_a = recorder.insert_events(events_a, event_index=index_a)
        positions_b = recorder.insert_events(events_b, event_index=index_b)
        found = recorder.lookup([i.event_id for i in index_a + index_b] + [str(uuid4())], _read)

        # Then each id maps to its case, version, type, digest and its event's notification id
        assert positions_a is not None and positions_b is not None
        notifications = recorder.select_notifications(start=None, limit=10)
        by_place = {(n.originator_id, n.originator_version): n.id for n in notifications}
        expected = {
            i.event_id: IndexedEvent(i.event_id, i.case_id, i.version, i.type, i.digest, position=p)
            for i, p in zip(index_a + index_b, list(positions_a) + list(positions_b), strict=True)
        }
        assert found == expected
        assert all(e.position == by_place[(e.case_id, e.version)] for e in found.values())
        assert min(positions_b) > max(positions_a)

    def test_case_rows_when_read_then_versions_positions_topics_and_states_as_stored(
        self,
    ) -> None:
        # Given a case of five events written in two batches, and another case between them
        recorder = self._recorder()
        case_id, other = uuid4(), uuid4()
        first, index_first = _batch(case_id, [1, 2, 3])
        between, index_between = _batch(other, [1])
        second, index_second = _batch(case_id, [4, 5])
        positions = list(recorder.insert_events(first, event_index=index_first) or ())
        recorder.insert_events(between, event_index=index_between)
        positions += recorder.insert_events(second, event_index=index_second) or ()
        events = first + second

        # When / Then: the whole case, in version order, positions equal to notification ids
        expected = [
            CaseRow(e.originator_version, p, e.topic, e.state)
            for e, p in zip(events, positions, strict=True)
        ]
        assert recorder.case_rows(case_id) == expected
        assert recorder.case_rows(case_id, gt=2) == expected[2:]
        assert recorder.case_rows(case_id, lte=2) == expected[:2]
        assert recorder.case_rows(case_id, gt=1, lte=4) == expected[1:4]
        assert recorder.case_rows(case_id, gt=1, limit=2) == expected[1:3]
        assert recorder.case_rows(case_id, limit=1) == expected[:1]
        assert recorder.case_rows(uuid4()) == []

    def test_event_index_when_an_id_is_already_stored_then_nothing_of_the_batch_is(self) -> None:
        # Given a stored event with a client id
        recorder = self._recorder()
        taken = str(uuid4())
        events, index = _batch(uuid4(), [1], [taken])
        recorder.insert_events(events, event_index=index)
        max_before = recorder.max_notification_id()

        # When a batch for another case reuses that id
        case_id = uuid4()
        fresh = str(uuid4())
        events, index = _batch(case_id, [1, 2], [fresh, taken])
        with pytest.raises(IntegrityError):
            recorder.insert_events(events, event_index=index)

        # Then neither its events nor its index rows were stored
        assert recorder.select_events(case_id) == []
        assert recorder.case_rows(case_id) == []
        assert recorder.lookup([fresh], _read) == {}
        assert recorder.max_notification_id() == max_before
        assert recorder.lookup([taken], _read)[taken].version == 1

        # And the store takes the batch once its ids are fresh
        events, index = _batch(case_id, [1, 2])
        positions = recorder.insert_events(events, event_index=index)
        assert positions is not None
        assert [r.position for r in recorder.case_rows(case_id)] == list(positions)

    def test_event_index_when_a_batch_repeats_an_id_then_nothing_of_it_is_stored(self) -> None:
        # Given an empty store
        recorder = self._recorder()
        case_id, repeated = uuid4(), str(uuid4())

        # When one batch names the same id twice
        events, index = _batch(case_id, [1, 2], [repeated, repeated])
        with pytest.raises(IntegrityError):
            recorder.insert_events(events, event_index=index)

        # Then nothing was stored
        assert recorder.select_events(case_id) == []
        assert recorder.lookup([repeated], _read) == {}
        assert recorder.max_notification_id() in (None, 0)

    def test_event_index_when_a_version_conflicts_then_index_rows_are_not_stored(self) -> None:
        # Given a case at version 1
        recorder = self._recorder()
        case_id = uuid4()
        events, index = _batch(case_id, [1])
        recorder.insert_events(events, event_index=index)

        # When another writer's batch for the same version arrives with fresh ids
        events, index = _batch(case_id, [1])
        with pytest.raises(IntegrityError):
            recorder.insert_events(events, event_index=index)

        # Then its ids are unknown: a retry can tell it never happened
        assert recorder.lookup([index[0].event_id], _read) == {}
        assert len(recorder.case_rows(case_id)) == 1

    def test_lookup_when_no_ids_or_many_ids_then_answers_all_of_them(self) -> None:
        # Given 1,200 indexed events (more than one chunk of ids)
        recorder = self._recorder()
        case_id = uuid4()
        events, index = _batch(case_id, list(range(1, 1201)))
        recorder.insert_events(events, event_index=index)

        # When / Then
        assert recorder.lookup([], _read) == {}
        found = recorder.lookup([i.event_id for i in index], _read)
        assert sorted(e.version for e in found.values()) == list(range(1, 1201))

    def test_insert_when_cases_interleave_and_states_hold_every_byte_then_stored_as_given(
        self,
    ) -> None:
        # Given one batch of 300 events of two cases, interleaved, whose states hold every byte
        # value (a NUL, quotes, backslashes, braces, bytes beyond ASCII)
        recorder = self._recorder()
        case_a, case_b = uuid4(), uuid4()
        every_byte = bytes(range(256))
        events = [
            StoredEvent(case_id, version, RECORDED_TOPIC, every_byte + version.to_bytes(2, "big"))
            for version in range(1, 151)
            for case_id in (case_a, case_b)
        ]

        # When
        positions = recorder.insert_events(events)

        # Then the positions follow the batch's order, and each state reads back exactly
        assert positions is not None and list(positions) == sorted(positions)
        notifications = recorder.select_notifications(start=positions[0], limit=len(events))
        assert [(n.id, n.originator_id, n.originator_version, n.state) for n in notifications] == [
            (p, e.originator_id, e.originator_version, e.state)
            for p, e in zip(positions, events, strict=True)
        ]

    def test_insert_without_event_index_when_read_then_case_rows_still_have_positions(
        self,
    ) -> None:
        # Given events written the library's way, without index rows
        recorder = self._recorder()
        case_id = uuid4()
        positions = recorder.insert_events([_stored(case_id, 1), _stored(case_id, 2)])

        # When / Then
        assert positions is not None
        assert [r.position for r in recorder.case_rows(case_id)] == list(positions)


# --- SQLite ------------------------------------------------------------------------------------


class TestSQLiteCaseLogRecorder(
    SQLiteFileStore,
    EventIndexContract,
    library.ApplicationRecorderTestCase[SQLiteCaseLogRecorder],
):
    """The library's application-recorder tests, on a file database, as its own file test runs
    them (one SQLite file never leaves gaps in its rowids, so ids are contiguous)."""

    EXPECT_CONTIGUOUS_NOTIFICATION_IDS = True

    def test_subscribe_when_sqlite_then_not_implemented(self) -> None:
        # DESIGN.md "Library facts": the feed and the projections read SQLite by polling.
        recorder = self.create_recorder()
        with self.assertRaises(NotImplementedError):
            recorder.subscribe(gt=0)

    def test_batch_when_the_log_holds_the_largest_rowid_then_each_position_is_its_rows(
        self,
    ) -> None:
        # Given a log holding a row at the largest rowid SQLite gives (written behind the
        # service's back), after which SQLite numbers new rows at random
        recorder = self.create_recorder()
        recorder.insert_events([_stored(uuid4(), 1)])
        with recorder.datastore.transaction(commit=True) as c:
            c.execute(
                f"INSERT INTO {recorder.events_table_name} (rowid, originator_id, "
                "originator_version, topic, state) VALUES (?, ?, 1, ?, x'7b7d')",
                (2**63 - 1, uuid4().hex, RECORDED_TOPIC),
            )

        # When a batch of three events, with their index rows, is inserted
        case_id = uuid4()
        events, index = _batch(case_id, [1, 2, 3])
        positions = recorder.insert_events(events, event_index=index)

        # Then each event's position is its own row's, in the log and in the index
        assert positions is not None
        rows = recorder.case_rows(case_id)
        assert [r.position for r in rows] == list(positions)
        found = recorder.lookup([i.event_id for i in index], _read)
        assert [found[i.event_id].position for i in index] == list(positions)

    def test_batch_when_empty_then_nothing_inserted_and_no_positions(self) -> None:
        # Given an empty log
        recorder = self.create_recorder()

        # When an empty batch is inserted, Then it has no positions and the log stays empty
        assert list(recorder.insert_events([]) or ()) == []
        assert recorder.max_notification_id() in (None, 0)

    def test_batch_when_inserted_then_positions_follow_the_log_one_by_one(self) -> None:
        # Given a log of one event
        recorder = self.create_recorder()
        (first,) = recorder.insert_events([_stored(uuid4(), 1)]) or ()

        # When a batch of 100 events is inserted
        case_id = uuid4()
        events, index = _batch(case_id, range(1, 101))
        positions = recorder.insert_events(events, event_index=index)

        # Then they are numbered on from the first, one by one, as each row is
        assert list(positions or ()) == list(range(first + 1, first + 101))
        assert [r.position for r in recorder.case_rows(case_id)] == list(positions or ())


class TestSQLiteCaseLogRecorderNonInterleaving(
    SQLiteFileStore, library.NonInterleavingNotificationIDsBaseCase
):
    """Two concurrent batches never interleave their notification ids (the library's file-database
    size)."""

    insert_num = 10000


# --- PostgreSQL --------------------------------------------------------------------------------


@pytest.mark.postgres
@unittest.skipUnless(POSTGRES_URL, NO_POSTGRES)
class TestPostgresCaseLogRecorder(
    PostgresSchemaStore,
    EventIndexContract,
    library.ApplicationRecorderTestCase[PostgresCaseLogRecorder],
):
    """The library's application-recorder tests, with the pool sizes its PostgreSQL tests use."""

    def test_insert_subscribe(self) -> None:
        # The projection runner's subscription (DESIGN.md "Library facts").
        self.resize_pool(2)
        self.optional_test_insert_subscribe()

    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None:
        self.resize_pool(12)
        super().test_concurrent_no_conflicts(initial_position)

    def test_concurrent_throughput(self) -> None:
        self.resize_pool(10)
        super().test_concurrent_throughput()

    def test_event_index_when_concurrent_batches_then_each_gets_contiguous_positions(
        self,
    ) -> None:
        # Given writers racing, each with index rows (the table lock serialises them)
        self.resize_pool(4)
        recorder = self.create_recorder()
        batches = [_batch(uuid4(), [1, 2, 3]) for _ in range(20)]

        # When
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(
                pool.map(lambda b: recorder.insert_events(b[0], event_index=b[1]), batches)
            )

        # Then every id's position is its event's notification id, and batches never interleave
        found = recorder.lookup([i.event_id for _, index in batches for i in index], _read)
        for (_, index), positions in zip(batches, results, strict=True):
            assert positions is not None
            assert [found[i.event_id].position for i in index] == list(positions)
            assert list(positions) == list(range(positions[0], positions[0] + 3))


@pytest.mark.postgres
@unittest.skipUnless(POSTGRES_URL, NO_POSTGRES)
class TestPostgresCaseLogRecorderNonInterleaving(
    PostgresSchemaStore, library.NonInterleavingNotificationIDsBaseCase
):
    """Two concurrent batches never interleave their notification ids (the library's PostgreSQL
    size). The pool has two connections so the two batches really race for the table lock."""

    insert_num = 100

    def create_recorder(self) -> PostgresCaseLogRecorder:
        self.resize_pool(2)
        return super().create_recorder()
