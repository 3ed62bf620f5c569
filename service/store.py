"""The log's recorders: the library's native SQLite and PostgreSQL ones, plus an event-id index.

The index is written in the same transaction as the events, so a client's event id is unique
across the store, a replay can answer with its original results after a restart, and an append
whose commit outcome was unknown is resolved by looking its ids up. Asked about ids, it answers
where each was stored (case, version, position), the event's type and a digest of what its client
sent. On SQLite it holds only each id and its event's position (`event_id → position`), and the
rest is read from the stored entry, which the hash chain covers; on PostgreSQL each row also
holds the case, version, type and digest. It also reads a case's rows with their global
positions, which the library's `select_events` does not return.

On PostgreSQL the log goes through `PostgresStoreFactory` (the library's factory, tuned for
outages): the library's recorders retry a failed call ten times, each waiting up to the connect
timeout for a connection, so one request could hang for a minute while the server restarts.
Here reads are retried only within the request's deadline and never once the pool has found the
server down (`service.deadline`), an insert is tried once (its outcome, if the connection was
lost, is settled by the event-id index), new connections time out and probe for dead peers, and
the pool gives up backing off after a few seconds, so it reconnects soon after the server is back.
"""

from __future__ import annotations

import inspect
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, NamedTuple, Protocol, TypeVar
from uuid import UUID

import psycopg
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    Notification,
    StoredEvent,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteApplicationRecorder, SQLiteCursor
from eventsourcing.utils import Environment, EnvType, get_topic
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from domain.envelope import client_digest, uuid_bytes, uuid_text
from projections.store import stable_key
from service.deadline import retry_reads

logger = logging.getLogger("casetrail.store")

# Rows of the event-id index read at a time when it is read whole (`index_rows`).
INDEX_PAGE = 10_000

# The highest version `case_rows` reads unless told otherwise (a case never gets near it).
MAX_VERSION = 2**62

# The largest rowid SQLite gives: once a table holds it, its new rows are numbered at random.
LARGEST_ROWID = 2**63 - 1

# How long opening a SQLite store may wait for another process moving its event-id index.
MOVE_WAIT_SECONDS = 600.0

T = TypeVar("T")
K = TypeVar("K")
R = TypeVar("R", bound=AggregateRecorder)

# The library's environment key carrying `CASETRAIL_REQUEST_DEADLINE_SECONDS` to the factory:
# how long a read may be retried outside a request (the runner, the CLI).
RETRY_SECONDS_KEY = "CASETRAIL_REQUEST_DEADLINE_SECONDS"
DEFAULT_RETRY_SECONDS = 10.0
# TCP keepalives on every log connection: a server that vanished without closing the connection
# (a network partition, a killed host) is noticed within about 25 seconds, not hours.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}

# The library's methods without their ten-attempt retry decorators.
_insert_application_events = inspect.unwrap(PostgresApplicationRecorder.insert_events)
_insert_aggregate_events = inspect.unwrap(PostgresAggregateRecorder.insert_events)
_select_events = inspect.unwrap(PostgresAggregateRecorder.select_events)
_select_notifications = inspect.unwrap(PostgresApplicationRecorder.select_notifications)
_max_notification_id = inspect.unwrap(PostgresApplicationRecorder.max_notification_id)


class IndexEntry(NamedTuple):
    """A client's event id to index with its event, inserted in the same transaction (a named
    tuple: a batch builds one per event). `digest`: of what the client sent, for a store that
    keeps it (`CaseLog.keeps_digests`), else None."""

    event_id: str
    case_id: UUID
    version: int
    type: str
    digest: str | None = None


class IndexedEvent(NamedTuple):
    """Where a client's event id was stored, and a digest of what the client sent. From an
    index that holds only positions (SQLite): `case_id` is None when the log holds no event of a
    case at the position named, and `type` and `digest` are "" when the event there cannot be
    read as this id's entry (undecodable, or another id's). Only a store written behind the
    service's back, or under another encryption key, holds such a row."""

    event_id: str
    case_id: UUID | None
    version: int
    type: str
    digest: str
    position: int = 0


# What an event's stored state holds as its entry; None if it cannot be read (damaged, or the
# wrong key): for a store that reads an indexed event's type and digest from the entry itself.
EntryReader = Callable[[bytes], "dict[str, Any] | None"]


@dataclass(frozen=True)
class SnapshotRows:
    """Snapshots to write in a batch's transaction, into the table of the snapshots' recorder
    (in the same database as the log's). One the store already holds at the same version (only
    ever a stray row: the batch's events are new) is replaced, never a reason to refuse them."""

    recorder: AggregateRecorder
    stored_events: Sequence[StoredEvent]


@dataclass(frozen=True)
class CaseRow:
    """One stored event of a case, with its global position."""

    version: int
    position: int
    topic: str
    state: bytes


@dataclass(frozen=True)
class StrayRow:
    """A stored event whose originator id is not in the form the library writes a case id in
    (never written by the service: the library reads it back as a case's event all the same)."""

    originator_id: str
    version: int
    position: int

    @property
    def case_id(self) -> UUID | None:
        """The case the library would read it as an event of; None if it names none."""
        try:
            return UUID(self.originator_id)
        except ValueError:
            return None


@dataclass(frozen=True)
class UnnumberedRow:
    """A stored event of a case at a version that is no integer (text, a blob, a fraction, or
    null, which SQLite's column holds as written): never written by the service."""

    version: object  # as stored
    position: int


@dataclass(frozen=True)
class IndexRow:
    """A row of the event-id index: the id and the case it names, as text (a row written behind
    the service's back need not name a UUID), the version and the position. `case_id` and
    `version` are None when the store's index holds only positions (SQLite) and the log holds
    no event at this one."""

    event_id: str
    case_id: str | None
    version: int | None
    position: int


class CaseLog(Protocol):
    """What the use cases need from a recorder beyond the library's `ApplicationRecorder`."""

    # Whether the index keeps each event's digest as written (else it is read from the entry,
    # with `read`, when asked for).
    keeps_digests: bool

    def lookup(self, event_ids: Iterable[str], read: EntryReader) -> dict[str, IndexedEvent]:
        """Where each of the ids that is stored was stored; `read` gives an entry from its
        event's stored state (for a store that reads the type and digest from it)."""
        ...

    def case_rows(
        self,
        case_id: UUID,
        *,
        gt: int | None = None,
        lte: int | None = None,
        limit: int | None = None,
    ) -> list[CaseRow]: ...

    def case_ids(self) -> list[UUID]: ...

    def index_rows(self) -> Iterator[IndexRow]:
        """Every row of the event-id index, read a page at a time."""
        ...

    def stray_rows(self) -> list[StrayRow]:
        """Every stored event whose originator id is not in the canonical form."""
        ...

    def last_versions(self, stop: int) -> dict[UUID, int]:
        """Each case's newest version among the events at positions up to `stop`."""
        ...

    def unnumbered_rows(self, case_id: UUID) -> list[UnnumberedRow]:
        """The case's stored events at a version that is no integer, in position order."""
        ...


def _positions(
    stored_events: Sequence[StoredEvent], notification_ids: Sequence[int] | None
) -> dict[tuple[int, int], int]:
    """Each stored event's notification id, by its case (the UUID's integer, which hashes
    without the Python call a UUID's own hash is) and version."""
    return {
        (_case_number(s.originator_id), s.originator_version): n
        for s, n in zip(stored_events, notification_ids or (), strict=False)
    }


def _columns(
    stored_events: Sequence[StoredEvent],
) -> tuple[list[UUID | str], list[int], list[str], list[bytes]]:
    """Stored events as one list per column, for PostgreSQL's `unnest` of binary arrays: the
    library's one array of a composite type is written by psycopg as text, escaping every byte
    of every state."""
    return (
        [s.originator_id for s in stored_events],
        [s.originator_version for s in stored_events],
        [s.topic for s in stored_events],
        [s.state for s in stored_events],
    )


def _case_number(case_id: UUID | str) -> int:
    return case_id.int if type(case_id) is UUID else UUID(str(case_id)).int


def _index_rows(
    index: Sequence[IndexEntry], positions: dict[tuple[int, int], int]
) -> list[tuple[str, str, int, str, int, str]]:
    """The PostgreSQL index rows of a batch."""
    texts: dict[int, str] = {}  # each case's id as text
    rows = []
    for e in index:
        if e.digest is None:
            raise ValueError(f"no digest given for event {e.event_id}: this index keeps them")
        case = _case_number(e.case_id)
        text = texts.get(case)
        if text is None:
            text = texts[case] = str(UUID(int=case))
        rows.append((e.event_id, text, e.version, e.type, positions[(case, e.version)], e.digest))
    return rows


def _asked(event_ids: Iterable[str], stored_form: Callable[[UUID], K]) -> dict[K, str]:
    """Each id looked up, by its stored form; one that is not a UUID is no event's id."""
    asked: dict[K, str] = {}
    for event_id in event_ids:
        try:
            asked[stored_form(UUID(event_id))] = event_id
        except ValueError:
            continue
    return asked


def _indexed(
    event_id: str,
    position: int,
    case: str | None,
    version: int | None,
    state: bytes | None,
    read: EntryReader,
) -> IndexedEvent:
    """An id of the SQLite index, as the event at its position tells (see `IndexedEvent`)."""
    try:
        case_id = None if case is None else _case_uuid(str(case))
    except ValueError:  # a row stored under no case's id
        case_id = None
    if case_id is None or type(version) is not int or state is None:
        return IndexedEvent(event_id, None, 0, "", "", position)
    entry = read(state)
    kind = entry.get("type") if entry is not None else None
    # The entry there must be this id's: SQLite gives a deleted row's position to the next row
    # inserted, and a position can be edited.
    if entry is None or entry.get("id") != uuid_text(event_id) or not isinstance(kind, str):
        return IndexedEvent(event_id, case_id, version, "", "", position)
    try:
        digest = client_digest(entry)
    except (AttributeError, TypeError, ValueError):  # fields that are no entry's
        return IndexedEvent(event_id, case_id, version, "", "", position)
    return IndexedEvent(event_id, case_id, version, kind, digest, position)


def _id_bytes(stored: object) -> object:
    """An event id as the SQLite index keys it: 16 bytes (an earlier layout kept its text). A
    key that is no UUID (written by hand) is kept as it is, for verify to report."""
    if isinstance(stored, bytes):
        return stored
    try:
        return uuid_bytes(str(stored))
    except ValueError:
        return stored


def _id_text(stored: object) -> str:
    """An event id of the SQLite index as text (a row written by hand may hold anything)."""
    if isinstance(stored, bytes) and len(stored) == 16:
        return str(UUID(bytes=stored))
    return str(stored)


class SQLiteCaseLogRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder, with the event-id index in the same transaction.

    The index holds each id's 16 bytes and its event's position, and nothing else, in one table
    keyed by the id (`WITHOUT ROWID`): ids are random, so each of a batch's ids lands on a page
    of its own, and a commit writes each page it touches whole; the smaller the rows, the fewer
    pages. Where an id was stored and what it holds (case, version, type, the digest of what
    its client sent) is read from the event at that position, whose entry the hash chain
    covers. The index layouts of earlier versions (`casetrail_event_index`, one row per id with
    those facts beside a unique index of its id; before it `casetrail_event_ids`, keyed by the
    id's text) are moved into it when the store is opened, in one transaction."""

    keeps_digests = False
    index_table = "casetrail_event_positions"
    stray_index = "casetrail_stray_ids"
    # The earlier layouts, oldest first: each row's id (as stored) and position are moved.
    earlier_index_tables = ("casetrail_event_ids", "casetrail_event_index")
    move_page = 10_000  # rows of an earlier layout moved at a time
    insert_index_statement = f"INSERT INTO {index_table} VALUES (?,?)"

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {self.index_table} ("
            "event_id BLOB PRIMARY KEY, position INTEGER NOT NULL) WITHOUT ROWID",
            # Holds only rows not written by the library (none, in an untampered log), so
            # `stray_rows` reads no more than those, and an insert adds nothing to it.
            f"CREATE INDEX IF NOT EXISTS {self.stray_index} "
            f"ON {self.events_table_name} (originator_id, originator_version) "
            f"WHERE {NOT_CANONICAL}",
        ]

    def create_table(self) -> None:
        # Each statement in a transaction of its own: one that creates a table is then a write
        # from its start, and waits for another process creating it (the workers and the runner
        # of one `serve` start together) where, after a statement that only read, it would fail
        # at once ("database is locked").
        for statement in self.create_table_statements:
            with self.datastore.transaction(commit=True) as c:
                c.execute(statement)
        deadline = time.monotonic() + MOVE_WAIT_SECONDS
        while True:
            try:
                self._move_earlier_indexes()
                return
            except sqlite3.OperationalError as e:
                # Another process is moving it, for longer than the busy timeout: wait on.
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                logger.info("waiting for another process to move the event-id index")

    def _move_earlier_indexes(self) -> None:
        """Move the index of an earlier layout into the current one, in one transaction that
        takes the write lock first (`BEGIN IMMEDIATE`: a process that finds another moving it
        waits, then finds nothing left to move)."""
        listed = ",".join(f"'{name}'" for name in self.earlier_index_tables)
        find = f"SELECT name FROM sqlite_master WHERE type='table' AND name IN ({listed})"
        with self.datastore.get_connection(commit=True) as conn, conn.cursor() as cursor:
            if cursor.execute(find).fetchone() is None:
                return
            cursor.execute("BEGIN IMMEDIATE")
            try:
                found = {row[0] for row in cursor.execute(find).fetchall()}
                moved = {
                    name: self._move(cursor, name)
                    for name in self.earlier_index_tables
                    if name in found
                }
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        for name, rows in moved.items():
            logger.info("event-id index moved from %s to %s: %d ids", name, self.index_table, rows)

    def _move(self, reader: sqlite3.Cursor, old: str) -> int:
        """Copy the ids and positions of `old` a page at a time (a store's whole index need not
        fit in memory), then drop it; the number of rows."""
        writer = reader.connection.cursor()
        reader.execute(f"SELECT event_id, position FROM {old}")
        moved = 0
        while rows := reader.fetchmany(self.move_page):
            writer.executemany(
                self.insert_index_statement,
                [(_id_bytes(event_id), position) for event_id, position in rows],
            )
            moved += len(rows)
        writer.execute(f"DROP TABLE {old}")
        writer.close()
        return moved

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        notification_ids = self._insert_rows(c, stored_events)
        index: Sequence[IndexEntry] = kwargs.get("event_index", ())
        if index:
            positions = _positions(stored_events, notification_ids)
            c.executemany(
                self.insert_index_statement,
                [
                    (uuid_bytes(e.event_id), positions[(_case_number(e.case_id), e.version)])
                    for e in index
                ],
            )
        snapshots: SnapshotRows | None = kwargs.get("snapshots")
        if snapshots is not None:
            assert isinstance(snapshots.recorder, SQLiteAggregateRecorder)
            c.executemany(
                f"INSERT OR REPLACE INTO {snapshots.recorder.events_table_name} VALUES (?,?,?,?)",
                [
                    (_case_text(s.originator_id), s.originator_version, s.topic, s.state)
                    for s in snapshots.stored_events
                ],
            )
        return notification_ids

    def _insert_rows(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent]) -> list[int]:
        """Insert the events in one `executemany` (the library executes one statement per row,
        to read each row's id), and number them from the table's largest rowid. A row inserted
        without one takes the largest rowid plus one, and the transaction holds the write lock
        from its first insert, so a batch's rows are numbered consecutively up to the largest:
        unless the table holds the largest possible rowid, when SQLite picks them at random, and
        each row's is read back."""
        if len(stored_events) < 2:
            return list(super()._insert_events(c, stored_events) or ())
        c.executemany(
            self.insert_events_statement,
            [
                (_case_text(s.originator_id), s.originator_version, s.topic, s.state)
                for s in stored_events
            ],
        )
        c.execute(f"SELECT max(rowid) FROM {self.events_table_name}")
        (top,) = c.fetchone()
        if top < LARGEST_ROWID:
            return list(range(top - len(stored_events) + 1, top + 1))
        numbers = []
        for s in stored_events:
            c.execute(
                f"SELECT rowid FROM {self.events_table_name} "
                "WHERE originator_id=? AND originator_version=?",
                (_case_text(s.originator_id), s.originator_version),
            )
            numbers.append(int(c.fetchone()[0]))
        return numbers

    def lookup(self, event_ids: Iterable[str], read: EntryReader) -> dict[str, IndexedEvent]:
        """Each stored id's position from the index, and the rest from the event there."""
        asked = _asked(event_ids, lambda u: u.bytes)
        found: dict[str, IndexedEvent] = {}
        with self.datastore.transaction(commit=False) as c:
            for chunk in _chunks(list(asked), 500):
                c.execute(
                    "SELECT i.event_id, i.position, e.originator_id, e.originator_version, "
                    f"e.state FROM {self.index_table} AS i "
                    f"LEFT JOIN {self.events_table_name} AS e ON e.rowid = i.position "
                    f"WHERE i.event_id IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
                for row in c.fetchall():
                    event_id = asked[row[0]]
                    found[event_id] = _indexed(event_id, row[1], row[2], row[3], row[4], read)
        return found

    def case_rows(
        self,
        case_id: UUID,
        *,
        gt: int | None = None,
        lte: int | None = None,
        limit: int | None = None,
    ) -> list[CaseRow]:
        statement = (
            f"SELECT rowid, originator_version, topic, state FROM {self.events_table_name} "
            "WHERE originator_id=? AND originator_version>? AND originator_version<=? "
            "ORDER BY originator_version LIMIT ?"
        )
        params = (case_id.hex, gt or 0, lte if lte is not None else MAX_VERSION, limit or -1)
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return [CaseRow(row[1], row[0], row[2], row[3]) for row in c.fetchall()]

    def case_ids(self) -> list[UUID]:
        """Every case with at least one stored event, read from the log itself: once each,
        whatever forms of its id the rows are stored under (see `stray_rows`)."""
        statement = f"SELECT DISTINCT originator_id FROM {self.events_table_name}"
        found: set[UUID] = set()
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement)
            for row in c.fetchall():
                try:
                    found.add(UUID(str(row[0])))
                except ValueError:  # no case's id at all: a stray row, and no case
                    continue
        return sorted(found, key=lambda case_id: case_id.hex)

    def index_rows(self) -> Iterator[IndexRow]:
        """Each row with the case and version of the event at its position (None, None where
        the log holds none), in the order of the ids' bytes."""
        statement = (
            "SELECT i.event_id, i.position, e.originator_id, e.originator_version "
            f"FROM {self.index_table} AS i "
            f"LEFT JOIN {self.events_table_name} AS e ON e.rowid = i.position "
            "WHERE ? IS NULL OR i.event_id > ? ORDER BY i.event_id LIMIT ?"
        )
        after: Any = None  # (the first page: from the lowest key of any type)
        while True:
            with self.datastore.transaction(commit=False) as c:
                c.execute(statement, (after, after, INDEX_PAGE))
                page = c.fetchall()
            for event_id, position, case, version in page:
                yield IndexRow(
                    _id_text(event_id),
                    None if case is None else _case_label(case),
                    version,
                    position,
                )
            if len(page) < INDEX_PAGE:
                return
            after = page[-1][0]

    def stray_rows(self) -> list[StrayRow]:
        """The library writes a case's id as 32 lowercase hex digits and selects a case's events
        by that text alone, but reads any text `UUID()` accepts (hyphens, upper case, braces)
        as that case's id when it reads the log in order (the feed): such a row was written
        behind the service's back."""
        statement = (
            f"SELECT rowid, originator_id, originator_version FROM {self.events_table_name} "
            f"WHERE {NOT_CANONICAL}"  # (no ORDER BY: it would scan the table, not the index)
        )
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement)
            rows = [StrayRow(str(row[1]), row[2], row[0]) for row in c.fetchall()]
        return sorted(rows, key=lambda row: row.position)

    def unnumbered_rows(self, case_id: UUID) -> list[UnnumberedRow]:
        """Read from the table's key alone (the case's versions, in the index that keys it)."""
        statement = (
            f"SELECT rowid, originator_version FROM {self.events_table_name} "
            "WHERE originator_id=? AND typeof(originator_version) != 'integer' ORDER BY rowid"
        )
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, (case_id.hex,))
            return [UnnumberedRow(row[1], row[0]) for row in c.fetchall()]

    def last_versions(self, stop: int) -> dict[UUID, int]:
        statement = (
            f"SELECT originator_id, MAX(originator_version) FROM {self.events_table_name} "
            "WHERE rowid<=? GROUP BY originator_id"
        )
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, (stop,))
            return {_case_uuid(row[0]): row[1] for row in c.fetchall()}

    def convert_originator_id(self, originator_id: str) -> UUID | str:
        """The library builds a UUID for every row it reads; a log holds few cases and many
        events each, so each case's id is parsed once."""
        if self.datastore.originator_id_type != "uuid":
            return originator_id
        return _case_uuid(originator_id)


# The rows of the SQLite log whose originator id is not a case id as the library writes it.
NOT_CANONICAL = (
    "(typeof(originator_id) != 'text' OR length(originator_id) != 32 "
    "OR originator_id GLOB '*[^0-9a-f]*')"
)


@lru_cache(maxsize=65_536)
def _case_uuid(text: str) -> UUID:
    return UUID(text)


def _case_label(originator_id: object) -> str:
    """A case id as stored in the log, written as `str(UUID)` writes it where it is one."""
    try:
        return str(_case_uuid(str(originator_id)))
    except ValueError:
        return str(originator_id)


def _case_text(originator_id: UUID | str) -> str:
    """A case's id as the library's SQLite recorders store it."""
    return originator_id.hex if isinstance(originator_id, UUID) else originator_id


@contextmanager
def _creating_alone(datastore: PostgresDatastore) -> Iterator[None]:
    """Hold the schema's table-creation lock (a session advisory lock) meanwhile: processes
    starting together (`serve --workers N`, its runner) would otherwise run the library's
    `CREATE OR REPLACE FUNCTION` and `CREATE TABLE IF NOT EXISTS` at once, and PostgreSQL
    fails one of them ("tuple concurrently updated"). The lock is held on a connection of its
    own, beside the pool the creation itself takes connections from."""
    key = stable_key("casetrail-create-tables", datastore.schema)
    pool = datastore.pool
    kwargs = pool.kwargs() if callable(pool.kwargs) else pool.kwargs
    conninfo = pool.conninfo() if callable(pool.conninfo) else pool.conninfo
    params = {k: v for k, v in (kwargs or {}).items() if k != "row_factory"}
    with psycopg.connect(conninfo, autocommit=True, **params) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        yield  # (closing the connection releases the lock, whatever happened)


class PostgresCaseLogRecorder(PostgresApplicationRecorder):
    """The library's PostgreSQL recorder (table-locking insert kept), with the event-id index;
    reads retried within the request's deadline, inserts tried once (see the module's doc)."""

    # How long a read may be retried outside a request (set by `PostgresStoreFactory`).
    retry_seconds = DEFAULT_RETRY_SECONDS
    keeps_digests = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.index_table = f"{self.events_table_name}_ids"
        self.check_identifier_length(self.index_table)
        schema, table = Identifier(self.datastore.schema), Identifier(self.index_table)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.{1} ("
                "event_id text PRIMARY KEY, case_id uuid NOT NULL, version bigint NOT NULL, "
                "type text NOT NULL, position bigint NOT NULL, digest text NOT NULL)"
            ).format(schema, table)
        )
        # One array per column, in PostgreSQL's binary format (see `_insert_stored_events`).
        self.insert_index_statement = SQL(
            "INSERT INTO {0}.{1} SELECT * FROM unnest("
            "%b::text[], %b::uuid[], %b::bigint[], %b::text[], %b::bigint[], %b::text[])"
        ).format(schema, table)
        self.insert_arrays_statement = SQL(
            "INSERT INTO {0}.{1} (originator_id, originator_version, topic, state) "
            "SELECT originator_id, originator_version, topic, state FROM unnest("
            "%b::{2}[], %b::bigint[], %b::text[], %b::bytea[]) WITH ORDINALITY "
            "AS e(originator_id, originator_version, topic, state, n) ORDER BY n "
            "RETURNING notification_id"
        ).format(
            schema,
            Identifier(self.events_table_name),
            Identifier(self.datastore.originator_id_type),
        )
        self.lookup_statement = SQL("SELECT * FROM {0}.{1} WHERE event_id = ANY(%s)").format(
            schema, table
        )
        self.index_page_statement = SQL(
            "SELECT event_id, case_id, version, position FROM {0}.{1} "
            "WHERE event_id > %s ORDER BY event_id LIMIT %s"
        ).format(schema, table)
        self.case_rows_statement = SQL(
            "SELECT notification_id, originator_version, topic, state FROM {0}.{1} "
            "WHERE originator_id = %s AND originator_version > %s AND originator_version <= %s "
            "ORDER BY originator_version LIMIT %s"
        ).format(schema, Identifier(self.events_table_name))

    def create_table(self) -> None:
        with _creating_alone(self.datastore):
            super().create_table()

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        notification_ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        index: Sequence[IndexEntry] = kwargs.get("event_index", ())
        snapshots: SnapshotRows | None = kwargs.get("snapshots")
        if index or snapshots is not None:
            # A nested pipeline block syncs on exit, so a duplicate id fails here, inside the
            # events' transaction, and nothing of the batch is committed.
            with curs.connection.pipeline():
                if index:
                    rows = _index_rows(index, _positions(stored_events, notification_ids))
                    columns = [list(column) for column in zip(*rows, strict=True)]
                    curs.execute(self.insert_index_statement, columns)
                if snapshots is not None:
                    assert isinstance(snapshots.recorder, PostgresSnapshotRecorder)
                    snapshots.recorder.write_replacing(curs, snapshots.stored_events)
        return notification_ids

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        """The library's insert (the table locked, the channel notified, the notification ids
        returned in the events' order), with the events sent as one array per column in
        PostgreSQL's binary format: the library sends one array of a composite type, which
        psycopg writes as text, escaping every byte of every event's state (measured: a
        100-event batch spends more than half its time there)."""
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(self.insert_arrays_statement, _columns(stored_events))

    def _read(self, call: Callable[[], T]) -> T:
        return retry_reads(call, budget=self.retry_seconds)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """One attempt. The library would retry a lost connection here, and a retried insert
        whose first commit did happen fails as a conflict: `CaseRecords` looks the batch's event
        ids up instead, so it knows whether the batch was stored."""
        ids: Sequence[int] | None = _insert_application_events(self, stored_events, **kwargs)
        return ids

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        return self._read(
            lambda: _select_events(self, originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        )

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        return self._read(
            lambda: _select_notifications(
                self, start, limit, stop, topics, inclusive_of_start=inclusive_of_start
            )
        )

    def max_notification_id(self) -> int | None:
        newest: int | None = self._read(lambda: _max_notification_id(self))
        return newest

    def lookup(self, event_ids: Iterable[str], read: EntryReader) -> dict[str, IndexedEvent]:
        """Each stored id's row, as written (`read` is not needed: the row holds it all)."""
        asked = _asked(event_ids, str)
        return self._read(lambda: self._lookup(asked))

    def _lookup(self, asked: dict[str, str]) -> dict[str, IndexedEvent]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.lookup_statement, (list(asked),), prepare=True)
            return {
                asked[row["event_id"]]: IndexedEvent(
                    event_id=asked[row["event_id"]],
                    case_id=row["case_id"],
                    version=row["version"],
                    type=row["type"],
                    digest=row["digest"],
                    position=row["position"],
                )
                for row in curs.fetchall()
            }

    def case_rows(
        self,
        case_id: UUID,
        *,
        gt: int | None = None,
        lte: int | None = None,
        limit: int | None = None,
    ) -> list[CaseRow]:
        params = (case_id, gt or 0, lte if lte is not None else MAX_VERSION, limit)
        return self._read(lambda: self._case_rows(params))

    def _case_rows(self, params: tuple[UUID, int, int, int | None]) -> list[CaseRow]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.case_rows_statement, params, prepare=True)
            return [
                CaseRow(
                    row["originator_version"],
                    row["notification_id"],
                    row["topic"],
                    bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]

    def case_ids(self) -> list[UUID]:
        """Every case with at least one stored event, read from the log itself."""
        return self._read(self._case_ids)

    def _case_ids(self) -> list[UUID]:
        query = "SELECT DISTINCT originator_id FROM {0}.{1} ORDER BY originator_id"
        statement = SQL(query).format(
            Identifier(self.datastore.schema), Identifier(self.events_table_name)
        )
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement)
            return [UUID(str(row["originator_id"])) for row in curs.fetchall()]

    def index_rows(self) -> Iterator[IndexRow]:
        after = ""
        while True:
            page = self._read(partial(self._index_page, after))
            yield from page
            if len(page) < INDEX_PAGE:
                return
            after = page[-1].event_id

    def _index_page(self, after: str) -> list[IndexRow]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.index_page_statement, (after, INDEX_PAGE))
            return [
                IndexRow(row["event_id"], str(row["case_id"]), row["version"], row["position"])
                for row in curs.fetchall()
            ]

    def stray_rows(self) -> list[StrayRow]:
        """None: the column is of type uuid, so every text form of a case's id is stored as
        the one value the case's events are selected by."""
        return []

    def unnumbered_rows(self, case_id: UUID) -> list[UnnumberedRow]:
        """None: the version column holds nothing but integers."""
        return []

    def last_versions(self, stop: int) -> dict[UUID, int]:
        return self._read(lambda: self._last_versions(stop))

    def _last_versions(self, stop: int) -> dict[UUID, int]:
        query = (
            "SELECT originator_id, MAX(originator_version) AS version FROM {0}.{1} "
            "WHERE notification_id <= %s GROUP BY originator_id"
        )
        statement = SQL(query).format(
            Identifier(self.datastore.schema), Identifier(self.events_table_name)
        )
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, (stop,))
            return {UUID(str(row["originator_id"])): row["version"] for row in curs.fetchall()}


class PostgresSnapshotRecorder(PostgresAggregateRecorder):
    """The snapshots' recorder: reads retried within the request's deadline, inserts tried
    once. `CaseRecords` writes its snapshots in the batches' own transactions
    (`PostgresCaseLogRecorder`, by `write_replacing`)."""

    retry_seconds = DEFAULT_RETRY_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One array per column, in binary, as the log's events (`_columns`).
        self.replace_statement = SQL(
            "INSERT INTO {0}.{1} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::{2}[], %b::bigint[], %b::text[], %b::bytea[]) "
            "ON CONFLICT (originator_id, originator_version) "
            "DO UPDATE SET topic = EXCLUDED.topic, state = EXCLUDED.state"
        ).format(
            Identifier(self.datastore.schema),
            Identifier(self.events_table_name),
            Identifier(self.datastore.originator_id_type),
        )

    def create_table(self) -> None:
        with _creating_alone(self.datastore):
            super().create_table()

    def write_replacing(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent]) -> None:
        """Insert on `curs` (in its transaction), replacing a row at the same version."""
        curs.execute(self.replace_statement, _columns(stored_events))

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids: Sequence[int] | None = _insert_aggregate_events(self, stored_events, **kwargs)
        return ids

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        return retry_reads(
            lambda: _select_events(self, originator_id, gt=gt, lte=lte, desc=desc, limit=limit),
            budget=self.retry_seconds,
        )


class PostgresStoreFactory(PostgresFactory):
    """The library's PostgreSQL factory, tuned so an outage answers promptly and ends by itself.

    - Every new connection has the connect timeout (`POSTGRES_CONNECT_TIMEOUT`; the library
      uses it only as the pool's wait) and TCP keepalives.
    - The pool stops backing off after `max(5, 2 x connect timeout)` seconds of failed
      reconnection (the library's 5 minutes would leave it waiting up to a minute or more after
      the server is back) and then reconnects on demand, at the next request.
    - Reads are retried within the request's deadline (`CASETRAIL_REQUEST_DEADLINE_SECONDS`),
      never once the pool found the server down; inserts are tried once.
    """

    aggregate_recorder_class = PostgresSnapshotRecorder

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        self.retry_seconds = float(self.env.get(RETRY_SECONDS_KEY) or DEFAULT_RETRY_SECONDS)
        pool = self.datastore.pool
        connect_timeout = max(1, round(pool.timeout))
        if isinstance(pool.kwargs, dict):
            pool.kwargs.update(connect_timeout=connect_timeout, **KEEPALIVES)
        pool.reconnect_timeout = max(5.0, 2.0 * connect_timeout)

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        return self._tuned(super().aggregate_recorder(purpose))

    def application_recorder(self) -> ApplicationRecorder:
        return self._tuned(super().application_recorder())

    def _tuned(self, recorder: R) -> R:
        if isinstance(recorder, PostgresCaseLogRecorder | PostgresSnapshotRecorder):
            recorder.retry_seconds = self.retry_seconds
        return recorder


POSTGRES_FACTORY_TOPIC = get_topic(PostgresStoreFactory)


def _chunks(items: list[K], size: int) -> Iterable[list[K]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def case_log(recorder: ApplicationRecorder) -> CaseLog:
    if not isinstance(recorder, SQLiteCaseLogRecorder | PostgresCaseLogRecorder):
        raise TypeError(f"{type(recorder).__name__} keeps no event-id index")
    return recorder
