"""Rows 1c and 2b: raw inserts with the bare driver and the same durability — the disk's limit.

Rows of a plain table, each the size of a realistic stored event (a client event dict of
`bench/events.py` serialised with orjson), inserted with the driver alone: no library, no
mapper, no index, no aggregate. One transaction per insert, of 1 row (beside row 1) or of 100
rows (beside row 2), committed with the same durability as the service's event store:

- SQLite: the `sqlite3` module on a file of its own, opened as the library's SQLite datastore
  (which the service's event store uses) opens its files: autocommit mode, an explicit `BEGIN`
  per transaction, `PRAGMA journal_mode=WAL`, and `synchronous` left at SQLite's default (the
  library never sets it). The `synchronous` in force is read back from both this connection and
  the library baseline's (`synchronous_of`), and they must agree.
- PostgreSQL: psycopg (the driver the library uses) on a connection of its own, into a table in
  a fresh schema (dropped afterwards), each transaction ended by `commit()` with the server's
  default `synchronous_commit` (read back from the connection for the report).

Each function returning a `Loop` prepares the rows (serialised) so that only the inserts are
timed.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import orjson
import psycopg
from eventsourcing.sqlite import SQLiteAggregateRecorder
from psycopg import sql

from bench.events import EventStream
from bench.library import Library
from bench.stores import Store
from bench.timing import Loop

# SQLite's `PRAGMA synchronous` values, by number.
SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


class RawStore(Protocol):
    """A plain table, and one transaction per call."""

    driver: str  # e.g. "`sqlite3`"
    durability: str  # e.g. "WAL, synchronous=FULL"
    how: str  # how that durability was chosen and checked, for the report's notes

    def insert(self, rows: list[bytes]) -> None: ...


class SQLiteRaw:
    driver = "`sqlite3`"

    def __init__(self, path: Path, library_synchronous: int) -> None:
        """A file of its own at `path`, checked to have the `synchronous` of the library's
        connections (`library_synchronous`)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        # As the library's `SQLiteConnectionPool` connects: autocommit, explicit transactions.
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS raw_events (id INTEGER PRIMARY KEY, state BLOB NOT NULL)"
        )
        synchronous = int(self.conn.execute("PRAGMA synchronous").fetchone()[0])
        if synchronous != library_synchronous:
            self.conn.close()
            raise RuntimeError(
                f"raw sqlite3 synchronous={synchronous}, the library's {library_synchronous}: "
                "not the same durability"
            )
        name = f"synchronous={SYNCHRONOUS.get(synchronous, '?')}"
        self.durability = f"WAL, {name}"
        self.how = (
            "`journal_mode=WAL`, and `synchronous` left at SQLite's default as the library's "
            f"SQLite datastore (the service's event store) leaves it: {name} ({synchronous}) on "
            "both this connection and the library baseline's, read back with `PRAGMA synchronous`"
        )

    def insert(self, rows: list[bytes]) -> None:
        cursor = self.conn.cursor()
        cursor.execute("BEGIN")
        cursor.executemany("INSERT INTO raw_events (state) VALUES (?)", [(row,) for row in rows])
        cursor.execute("COMMIT")
        cursor.close()

    def close(self) -> None:
        self.conn.close()


class PostgresRaw:
    driver = "psycopg"

    def __init__(self, url: str, schema: str) -> None:
        self.conn = psycopg.connect(url)
        self.table = sql.Identifier(schema, "raw_events")
        self.conn.execute(
            sql.SQL("CREATE TABLE {} (id bigserial PRIMARY KEY, state bytea NOT NULL)").format(
                self.table
            )
        )
        row = self.conn.execute("SHOW synchronous_commit").fetchone()
        self.conn.commit()
        self.durability = f"synchronous_commit={row[0] if row else '?'}"
        self.how = (
            f"the server's default `{self.durability}` (read back with `SHOW`; neither the "
            "library nor the service sets it), a table in a fresh schema"
        )
        self.statement = sql.SQL("INSERT INTO {} (state) VALUES (%s)").format(self.table)

    def insert(self, rows: list[bytes]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(self.statement, [(row,) for row in rows])
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


def synchronous_of(app: Library) -> int:
    """`PRAGMA synchronous` on a connection of the library's SQLite datastore (the library
    baseline's, opened as the service's event store is)."""
    recorder = app.recorder
    if not isinstance(recorder, SQLiteAggregateRecorder):
        raise TypeError(f"not the library's SQLite recorder: {type(recorder).__name__}")
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute("PRAGMA synchronous")
        return int(cursor.fetchone()[0])


@contextmanager
def raw_store(store: Store, app: Library) -> Iterator[RawStore]:
    """A plain table beside the store: on SQLite a file of its own next to the library's, with
    the library's `synchronous` (checked); on PostgreSQL a fresh schema, dropped afterwards."""
    if not store.service.is_postgres:
        sqlite = SQLiteRaw(store.library.data_dir.parent / "raw" / "raw.db", synchronous_of(app))
        try:
            yield sqlite
        finally:
            sqlite.close()
        return
    url = store.service.database_url_text
    schema = f"bench_raw_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        postgres = PostgresRaw(url, schema)
        try:
            yield postgres
        finally:
            postgres.close()
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@dataclass(frozen=True)
class Rows:
    """Realistic event rows: the catalogue events of one stream, each serialised with orjson."""

    rows: list[bytes]

    @classmethod
    def of(cls, count: int) -> Rows:
        stream = EventStream()
        return cls([orjson.dumps(stream.next()) for _ in range(count)])

    @property
    def mean_bytes(self) -> float:
        return sum(map(len, self.rows)) / len(self.rows) if self.rows else 0.0


def single_inserts(raw: RawStore, rows: Rows) -> Loop[bytes]:
    """One row per transaction, each row once."""
    return Loop(rows.rows, lambda row: raw.insert([row]))


def batch_inserts(raw: RawStore, rows: Rows, size: int) -> Loop[list[bytes]]:
    """`size` rows per transaction: the rows in consecutive batches."""
    batches = [rows.rows[i : i + size] for i in range(0, len(rows.rows), size)]
    return Loop(batches, raw.insert, size)
