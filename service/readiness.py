"""Readiness: can each store be reached right now, and how far behind is each read model.

The stores are probed on short-lived connections of their own, never through the pools the
requests use: a probe must answer within seconds whatever state those pools are in (waiting out
a reconnection backoff, or all in use). A store is reachable when its connection opens and its
own table is there: the log's events, the access audit's reads, the read models' tracking.

On PostgreSQL the three are tables in one database and schema, so one connection probes them
all; on SQLite they are three files under the data directory (opened read-write but never
created: a missing file is "unreachable", not silently replaced by an empty store).
"""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import Future
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from projections.store import TRACKING_TABLE, postgres_params, read_models_path
from service.settings import Settings

# How long a probe waits for a store: well inside a load balancer's probe timeout.
READY_TIMEOUT_SECONDS = 2

STORES = ("log", "audit", "read_models")
AUDIT_TABLE = "casetrail_audit_reads"
SQLITE_LOG_TABLE = "stored_events"


@dataclass(frozen=True)
class StoreCheck:
    """One store's answer to the probe."""

    name: str  # log, audit or read_models
    reachable: bool
    detail: str | None = None  # why not (the error's type, or the missing table)


def postgres_log_table(application_name: str) -> str:
    """The library's events table of an application on PostgreSQL (`<name>_events`)."""
    return f"{application_name.lower()}_events"


def check_stores(
    settings: Settings, *, log_table: str, timeout: float = READY_TIMEOUT_SECONDS
) -> list[StoreCheck]:
    """Probe the log, the access audit and the read models, in that order."""
    if settings.is_postgres:
        return _check_postgres(settings, log_table, timeout)
    return [
        _check_sqlite("log", settings.sqlite_path, SQLITE_LOG_TABLE, timeout),
        _check_sqlite("audit", settings.audit_path, AUDIT_TABLE, timeout),
        _check_sqlite("read_models", read_models_path(settings), TRACKING_TABLE, timeout),
    ]


class SharedProbe:
    """`check_stores`, one probe at a time in this process: a caller arriving while a probe is
    under way waits for it and shares its answer.

    `/ready` and `/metrics` need no token and are never rate limited, so however many of them
    arrive at once they must not open a connection each: the process holds at most one probe
    connection per store, as the pool sizing in docs/operations.md counts.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: Future[list[StoreCheck]] | None = None

    def __call__(
        self, settings: Settings, *, log_table: str, timeout: float = READY_TIMEOUT_SECONDS
    ) -> list[StoreCheck]:
        with self._lock:
            running = self._running
            if running is None:
                probe: Future[list[StoreCheck]] = Future()
                self._running = probe
        if running is not None:
            return running.result()
        try:
            checks = check_stores(settings, log_table=log_table, timeout=timeout)
        except BaseException as e:
            probe.set_exception(e)
            raise
        finally:
            with self._lock:
                self._running = None
        probe.set_result(checks)
        return checks


def check_log(settings: Settings, *, log_table: str, timeout: float) -> StoreCheck:
    """Probe the log alone: whether it can be opened and holds its events table (a missing
    SQLite file is never created here)."""
    if settings.is_postgres:
        return _check_postgres(settings, log_table, timeout)[0]
    return _check_sqlite("log", settings.sqlite_path, SQLITE_LOG_TABLE, timeout)


def _check_postgres(settings: Settings, log_table: str, timeout: float) -> list[StoreCheck]:
    tables = dict(zip(STORES, (log_table, AUDIT_TABLE, TRACKING_TABLE), strict=True))
    params = {**postgres_params(settings), "connect_timeout": max(1, round(timeout))}
    try:
        with psycopg.connect(**params, autocommit=True) as conn:
            conn.execute(
                sql.SQL("SET statement_timeout = {}").format(sql.Literal(int(timeout * 1000)))
            )
            checks = []
            for name, table in tables.items():
                qualified = sql.Identifier(settings.postgres_schema, table).as_string(conn)
                row = conn.execute("SELECT to_regclass(%s)", (qualified,)).fetchone()
                found = row is not None and row[0] is not None
                detail = None if found else f"table {qualified} is missing"
                checks.append(StoreCheck(name, found, detail))
            return checks
    except (psycopg.Error, OSError) as e:
        return [StoreCheck(name, False, type(e).__name__) for name in STORES]


def _check_sqlite(name: str, path: Path, table: str, timeout: float) -> StoreCheck:
    try:
        # mode=rw: a missing file is "not ready", never silently created here.
        uri = path.resolve().as_uri() + "?mode=rw"
        with closing(sqlite3.connect(uri, uri=True, timeout=timeout)) as conn:
            row = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).fetchone()
    except (sqlite3.Error, OSError) as e:
        return StoreCheck(name, False, type(e).__name__)
    if row is None:
        return StoreCheck(name, False, f"table {table} is missing in {path.name}")
    return StoreCheck(name, True)
