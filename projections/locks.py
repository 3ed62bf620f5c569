"""Electing the one runner of a read model: a file lock on SQLite, an advisory lock on PostgreSQL.

Both are released by the operating system or the server when their holder dies (the process's
file descriptors close; the session ends), so another runner takes over at its next attempt.
Both are tried without waiting: a runner that is not elected simply does nothing this round.

The lock makes one runner do the work; exactly-once does not depend on it. The tracking row's
compare-and-set (see `projections.store`) keeps a second writer, e.g. one whose PostgreSQL session
was cut and whose lock passed on before it noticed, from applying anything twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Protocol

import psycopg

from projections.store import StoreSettings, postgres_params, stable_key


class LeaderLock(Protocol):
    """A non-blocking, re-entrant-per-holder exclusive lock."""

    def try_acquire(self) -> bool:
        """Take the lock if free; True if this holder has it (now or already)."""
        ...

    def release(self) -> None:
        """Give the lock up (a no-op when not held)."""
        ...

    @property
    def held(self) -> bool: ...


class FileLock:
    """`flock` on a lock file: per open file, so two holders in one process exclude each other
    too; released when the descriptor closes, whoever or whatever closes it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # close-on-exec by default
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        # For people: who holds it. The lock itself is the flock, not this content.
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class AdvisoryLock:
    """A session-level `pg_try_advisory_lock` on a dedicated connection held while leading.

    The lock lives as long as the session: if the connection is lost the server has released
    it, so `try_acquire` checks the connection and, if it is gone, tries afresh.
    """

    def __init__(self, params: dict[str, object], key: int) -> None:
        self.params = params
        self.key = key
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None and not self._conn.closed

    def try_acquire(self) -> bool:
        if self._conn is not None:
            try:
                self._conn.execute("SELECT 1")
                return True
            except psycopg.Error:
                self._drop()
        conn: psycopg.Connection[tuple[object, ...]] = psycopg.connect(
            **self.params,  # type: ignore[arg-type]
            autocommit=True,
        )
        try:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        except BaseException:
            conn.close()
            raise
        if not row or not row[0]:
            conn.close()
            return False
        self._conn = conn
        return True

    def release(self) -> None:
        if self._conn is None:
            return
        with contextlib.suppress(psycopg.Error):
            self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()


def leader_lock(settings: StoreSettings, name: str) -> LeaderLock:
    """The lock electing the runner of `name` (also used with `<model>.rebuild` for rebuilds).

    SQLite: `<data dir>/locks/<name>.lock`. PostgreSQL: an advisory lock keyed on the schema and
    the name, so stores in different schemas of one database never contend.
    """
    if settings.is_postgres:
        key = stable_key("casetrail", "projection", settings.postgres_schema, name)
        # TCP keepalives: a leader cut off from the server notices within about a minute.
        params = {
            **postgres_params(settings),
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        }
        return AdvisoryLock(params, key)
    return FileLock(settings.data_dir / "locks" / f"{name}.lock")


def is_held_elsewhere(settings: StoreSettings, name: str) -> bool:
    """Whether some holder other than a fresh one has the lock (for status; racy by nature)."""
    probe = leader_lock(settings, name)
    if probe.try_acquire():
        probe.release()
        return False
    return True
