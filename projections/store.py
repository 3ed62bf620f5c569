"""Where the read models live: their own SQLite file, or tables in the settings' PostgreSQL schema.

On SQLite the read models never share the log's file (one writer per file: a rebuild must never
stall an append): they live in `<data dir>/read_models.db`, in WAL mode so readers keep serving
while the runner writes. Every write transaction starts with `BEGIN IMMEDIATE`, so two writers
queue on the file lock instead of failing half-way through.

The `tracking` table holds each read model's position in the global log. The runner updates it in
the same transaction as the model's rows, with a compare-and-set on the old position, so an event
is applied exactly once even if the process dies mid-batch or two writers race. Beside the
position it keeps a fingerprint of the event at that position, so the runner can tell a model
that is ahead of (or diverged from) the log it is applied to: read models restored from a backup
newer than the log's, whose positions the log has not reached or has since given to other events.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    event,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.pool import ConnectionPoolEntry

from projections.model import ReadModel

logger = logging.getLogger("casetrail.projections")

TRACKING_TABLE = "casetrail_projection_tracking"
READ_MODELS_FILE = "read_models.db"
_WRITE = "casetrail_write"

T = TypeVar("T")


@dataclass(frozen=True)
class Tracked:
    """Where a read model is along the log: the last position it applied (0: none yet), and the
    fingerprint of the event it applied there (None at 0, and for a position recorded before
    fingerprints were kept)."""

    position: int
    fingerprint: str | None = None


class StoreSettings(Protocol):
    """The settings the read-model store reads (`service.settings.Settings` satisfies it)."""

    @property
    def data_dir(self) -> Path: ...

    @property
    def is_postgres(self) -> bool: ...

    @property
    def postgres_schema(self) -> str: ...

    @property
    def postgres_pool_size(self) -> int: ...

    @property
    def postgres_max_overflow(self) -> int: ...

    @property
    def postgres_connect_timeout(self) -> int: ...

    def library_environment(self) -> dict[str, str]: ...


def read_models_path(settings: StoreSettings) -> Path:
    """The read models' own SQLite file."""
    return settings.data_dir / READ_MODELS_FILE


def postgres_params(settings: StoreSettings) -> dict[str, Any]:
    """psycopg connection parameters for the settings' database (as the log connects to it)."""
    env = settings.library_environment()
    params: dict[str, Any] = {
        "host": env["POSTGRES_HOST"],
        "port": int(env["POSTGRES_PORT"]),
        "dbname": env["POSTGRES_DBNAME"],
        "connect_timeout": settings.postgres_connect_timeout,
    }
    if env["POSTGRES_USER"]:
        params["user"] = env["POSTGRES_USER"]
    if env["POSTGRES_PASSWORD"]:
        params["password"] = env["POSTGRES_PASSWORD"]
    return params


def stable_key(*parts: str) -> int:
    """A signed 64-bit key from text, the same in every process (advisory locks)."""
    digest = hashlib.blake2b(":".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def postgres_engine(settings: StoreSettings) -> Engine:
    """A SQLAlchemy engine on the settings' database, its pool sized and timed as the log's."""
    params = postgres_params(settings)
    url = URL.create(
        "postgresql+psycopg",
        username=params.get("user"),
        password=params.get("password"),
        host=params["host"],
        port=params["port"],
        database=params["dbname"],
    )
    return create_engine(
        url,
        hide_parameters=True,  # see _sqlite_engine
        pool_size=settings.postgres_pool_size,
        max_overflow=settings.postgres_max_overflow,
        pool_pre_ping=True,
        # As the log's pool: wait at most the connect timeout for a free connection (then the
        # request answers 503), and notice a server gone without a word (TCP keepalives).
        pool_timeout=settings.postgres_connect_timeout,
        connect_args={
            "connect_timeout": settings.postgres_connect_timeout,
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
        },
    )


def _sqlite_engine(path: Path) -> Engine:
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite:///{path}",
        # A failed statement's error (logged, or printed by a CLI command) must not quote the
        # row: the read models hold children's names and dates of birth.
        hide_parameters=True,
        connect_args={"timeout": 30, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (the driver's implicit BEGIN would
        # leave DDL outside the transaction and take the write lock only at the first insert).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL may lose the newest commits on power loss, but rows and position
        # are lost together: the runner then simply applies those events again.
        cursor.execute("PRAGMA synchronous=NORMAL")
        # A page of the log can rewrite tens of thousands of rows in one transaction: 64 MB of
        # page cache (SQLite's default is 2 MB) keeps it from spilling to the WAL mid-way.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class ReadModelStore:
    """The read models' engine, metadata (in the settings' schema on PostgreSQL) and tracking."""

    def __init__(self, settings: StoreSettings, *, path: Path | None = None) -> None:
        self.is_postgres = settings.is_postgres
        self.schema: str | None = settings.postgres_schema if settings.is_postgres else None
        self.engine = (
            postgres_engine(settings)
            if settings.is_postgres
            else _sqlite_engine(path or read_models_path(settings))
        )
        self._writer = self.engine.execution_options(**{_WRITE: True})
        self._reader = (
            self.engine.execution_options(isolation_level="REPEATABLE READ")
            if self.is_postgres
            else self.engine
        )
        self.metadata = MetaData(schema=self.schema)
        self.tracking = Table(
            TRACKING_TABLE,
            self.metadata,
            Column("model", String(200), nullable=False),
            Column("position", BigInteger, nullable=False),
            Column("fingerprint", String(64), nullable=True),
            PrimaryKeyConstraint("model", name=f"{TRACKING_TABLE}_pkey"),
        )
        self._models: dict[str, Any] = {}
        with self.begin_write() as conn:
            self.ddl_lock(conn)
            self.tracking.create(conn, checkfirst=True)
            columns = inspect(conn).get_columns(TRACKING_TABLE, schema=self.schema)
            if "fingerprint" not in {column["name"] for column in columns}:
                # A store from before fingerprints were kept: its positions stay unverified
                # until the runner next advances them.
                table = self.qualified(TRACKING_TABLE)
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN fingerprint VARCHAR(64)"))

    def tables(self, model: ReadModel[T]) -> T:
        """The model's live tables (defined once per store)."""
        if model.name not in self._models:
            self._models[model.name] = model.define(self.metadata)
        tables: T = self._models[model.name]
        return tables

    def ensure(self, model: ReadModel[T]) -> T:
        """Create the model's live tables and tracking row if missing; a model never started
        starts from an empty set of tables at position 0. A started model that gains a table
        (a newer version of it) goes back to position 0: its runner writes every case's rows
        again, the new table's with them, while the rows it had keep serving."""
        tables = self.tables(model)
        with self.begin_write() as conn:
            self.ddl_lock(conn)
            started = self.position(conn, model.name) is not None
            added = [t.name for t in model.table_list(tables) if not self.has_table(conn, t.name)]
            for table in model.table_list(tables):
                table.create(conn, checkfirst=True)
            if not started:
                for table in reversed(model.table_list(tables)):
                    conn.execute(table.delete())
                self.start_tracking(conn, model.name)
            elif added:
                self.set_position(conn, model.name, Tracked(0))
                logger.info("read model %s gained %s: applying the log again", model.name, added)
        return tables

    def new_metadata(self) -> MetaData:
        """A separate metadata in the same schema (for a rebuild's suffixed tables)."""
        return MetaData(schema=self.schema)

    @contextmanager
    def begin_write(self) -> Iterator[Connection]:
        """A write transaction (`BEGIN IMMEDIATE` on SQLite): commits on success, rolls back on
        any exception."""
        with self._writer.begin() as conn:
            yield conn

    @contextmanager
    def begin_read(self) -> Iterator[Connection]:
        """A read transaction: one snapshot for all its queries (REPEATABLE READ on PostgreSQL;
        a deferred transaction in WAL mode on SQLite)."""
        with self._reader.connect() as conn, conn.begin():
            yield conn

    def ddl_lock(self, conn: Connection) -> None:
        """Serialise schema changes between processes for this transaction (PostgreSQL; on
        SQLite `BEGIN IMMEDIATE` already does)."""
        if self.is_postgres:
            key = stable_key("casetrail", "projections-ddl", self.schema or "")
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    # --- tracking -------------------------------------------------------------------------

    def position(self, conn: Connection, model: str, *, for_update: bool = False) -> int | None:
        """The model's last applied position; None when the model was never started."""
        query = select(self.tracking.c.position).where(self.tracking.c.model == model)
        if for_update:
            query = query.with_for_update()
        value = conn.execute(query).scalar_one_or_none()
        return None if value is None else int(value)

    def tracked(self, conn: Connection, model: str, *, for_update: bool = False) -> Tracked | None:
        """The model's position and the fingerprint of the event there; None when never
        started."""
        tracking = self.tracking.c
        query = select(tracking.position, tracking.fingerprint).where(tracking.model == model)
        if for_update:
            query = query.with_for_update()
        row = conn.execute(query).one_or_none()
        return None if row is None else Tracked(int(row.position), row.fingerprint)

    def current(self, model: str) -> int | None:
        """The model's position now (None: never started)."""
        with self.begin_read() as conn:
            return self.position(conn, model)

    def wait_for(
        self, model: str, position: int, *, timeout: float, interval: float = 0.05
    ) -> tuple[bool, int]:
        """Wait up to `timeout` seconds for the model to reach `position` (`X-Min-Position`):
        (reached, the position last seen). Blocking: call it from a worker thread."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.current(model) or 0
            if current >= position:
                return True, current
            left = deadline - time.monotonic()
            if left <= 0:
                return False, current
            time.sleep(min(interval, left))

    def positions(self) -> dict[str, int]:
        return {name: tracked.position for name, tracked in self.tracked_all().items()}

    def tracked_all(self) -> dict[str, Tracked]:
        """Every started model's position and fingerprint, in one snapshot."""
        tracking = self.tracking.c
        with self.begin_read() as conn:
            rows = conn.execute(select(tracking.model, tracking.position, tracking.fingerprint))
            return {str(name): Tracked(int(position), mark) for name, position, mark in rows}

    def start_tracking(self, conn: Connection, model: str, position: int = 0) -> None:
        """Insert the model's tracking row unless it exists."""
        dialect = postgresql if self.is_postgres else sqlite
        statement = dialect.insert(self.tracking).values(model=model, position=position)
        conn.execute(statement.on_conflict_do_nothing(index_elements=["model"]))

    def advance(self, conn: Connection, model: str, old: int, new: Tracked) -> bool:
        """Move the model from position `old` to `new`; False (nothing changed) if it is not at
        `old`."""
        result = conn.execute(
            update(self.tracking)
            .where(self.tracking.c.model == model, self.tracking.c.position == old)
            .values(position=new.position, fingerprint=new.fingerprint)
        )
        return result.rowcount == 1

    def set_position(self, conn: Connection, model: str, position: Tracked) -> None:
        """Set the model's position whatever it was (a rebuild's swap, a reset)."""
        self.start_tracking(conn, model, position.position)
        conn.execute(
            update(self.tracking)
            .where(self.tracking.c.model == model)
            .values(position=position.position, fingerprint=position.fingerprint)
        )

    def clear(self, conn: Connection, model: ReadModel[Any]) -> None:
        """Delete every row of the model's live tables and put it back at position 0: its
        runner applies the whole log again."""
        for table in reversed(model.table_list(self.tables(model))):
            conn.execute(table.delete())
        self.set_position(conn, model.name, Tracked(0))

    def forget(self, conn: Connection, model: str) -> None:
        conn.execute(self.tracking.delete().where(self.tracking.c.model == model))

    def has_table(self, conn: Connection, name: str) -> bool:
        return bool(conn.dialect.has_table(conn, name, schema=self.schema))

    def qualified(self, name: str) -> str:
        """A table or index name, quoted and schema-qualified, for raw DDL."""
        quote = self.engine.dialect.identifier_preparer.quote
        return f"{quote(self.schema)}.{quote(name)}" if self.schema else quote(name)

    def close(self) -> None:
        self.engine.dispose()
