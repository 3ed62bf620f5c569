"""Rebuilding a read model from the log beside the live one, then swapping it in.

1. Take the model's rebuild lock (`<model>.rebuild`: one rebuild at a time; the runner's own
   lock is not needed, so a running runner keeps the live tables current meanwhile).
2. Create `<table>__rebuild` tables (dropping any a crashed rebuild left) and apply the log to
   them page by page up to its newest position, reporting progress.
3. Swap, in one write transaction of the read-model store: lock the model's tracking row (this
   waits for a runner's batch in flight, and holds the runner off), apply whatever the log gained
   meanwhile, rename the live tables away, rename the new ones to the live names, drop the old
   ones, give the new indexes their canonical names, and set the model's position.

Readers keep reading the old tables until the swap commits (on SQLite, in WAL mode, readers are
never blocked; on PostgreSQL the renames hold an exclusive lock only for the swap's own short
transaction). A runner's next batch then continues from the rebuilt position on the new tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import Connection, Table, text
from sqlalchemy.schema import CreateTable

from projections.collector import fewer_collections
from projections.locks import leader_lock
from projections.model import AnyModel, LogReader
from projections.runner import log_position, tracked_at
from projections.store import ReadModelStore, StoreSettings, Tracked

SUFFIX = "__rebuild"
RETIRED = "__retired"
DEFAULT_REBUILD_PAGE = 10_000

Progress = Callable[[int, int], None]
"""Called with (position reached, target position) as pages are applied."""


class RebuildInProgress(RuntimeError):
    """Another rebuild of this model holds its rebuild lock."""


@dataclass(frozen=True)
class RebuildResult:
    name: str
    position: int  # the model's position after the swap
    events: int  # events applied to the new tables
    seconds: float


def rebuild(
    settings: StoreSettings,
    log: LogReader,
    model: AnyModel,
    *,
    store: ReadModelStore | None = None,
    page_size: int = DEFAULT_REBUILD_PAGE,
    progress: Progress | None = None,
) -> RebuildResult:
    """Rebuild `model` from the log into new tables and swap them in when complete.

    Pass a model instance no runner is using at the same time (models may keep caches).
    """
    lock = leader_lock(settings, f"{model.name}.rebuild")
    if not lock.try_acquire():
        raise RebuildInProgress(f"a rebuild of {model.name!r} is already running")
    own = store is None
    store = store or ReadModelStore(settings)
    try:
        with fewer_collections():  # a rebuild decodes and folds the whole log
            return _Rebuild(store, log, model, page_size, progress or _quiet).run()
    finally:
        lock.release()
        if own:
            store.close()


def _quiet(position: int, target: int) -> None:
    """No progress reporting."""


class _Rebuild:
    def __init__(
        self,
        store: ReadModelStore,
        log: LogReader,
        model: AnyModel,
        page_size: int,
        progress: Progress,
    ) -> None:
        self.store, self.log, self.model = store, log, model
        self.page_size, self.progress = page_size, progress
        self.live: Sequence[Table] = model.table_list(store.ensure(model))
        self.tables = model.define(store.new_metadata(), SUFFIX)
        self.new: Sequence[Table] = model.table_list(self.tables)
        self.position = 0
        self.reached = Tracked(0)  # the position with the fingerprint of the event there
        self.events = 0
        # The newest version of each case up to the target: the new tables are read only once
        # complete, so each case's rows are written once, at the page holding its last event.
        self.final_versions: dict[UUID, int] = {}

    def run(self) -> RebuildResult:
        started = time.monotonic()
        self._create()
        target = log_position(self.log.recorder)
        try:
            self.progress(0, target)
            self._plan(target)
            while self._page(None) == self.page_size:
                self.progress(min(self.position, target), target)
            self._swap()
        except BaseException:
            self._drop_new()
            raise
        self.progress(self.position, max(target, self.position))
        return RebuildResult(
            self.model.name, self.position, self.events, time.monotonic() - started
        )

    def _create(self) -> None:
        with self.store.begin_write() as conn:
            self.store.ddl_lock(conn)
            self._drop_leftovers(conn)
            for table in self.new:
                if self.store.is_postgres:
                    table.create(conn)  # indexes under suffixed names, renamed at the swap
                else:
                    # SQLite cannot rename an index: load without secondary indexes (faster),
                    # and create them under their canonical names at the swap.
                    conn.execute(CreateTable(table))

    def _drop_leftovers(self, conn: Connection) -> None:
        for table in reversed(self.new):
            conn.execute(text(f"DROP TABLE IF EXISTS {self.store.qualified(table.name)}"))
        for table in reversed(self.live):
            name = self.store.qualified(table.name + RETIRED)
            conn.execute(text(f"DROP TABLE IF EXISTS {name}"))

    def _drop_new(self) -> None:
        try:
            with self.store.begin_write() as conn:
                for table in reversed(self.new):
                    conn.execute(text(f"DROP TABLE IF EXISTS {self.store.qualified(table.name)}"))
        except Exception:  # the next rebuild drops them anyway
            pass

    def _plan(self, target: int) -> None:
        """Note each case's newest version up to `target` (one aggregate query of the log)."""
        self.final_versions = self.log.last_versions(target)

    def _page(self, swap: Connection | None) -> int:
        """Apply one page after the rebuild's position: in its own transaction, or in the
        swap's."""
        notifications = self.log.recorder.select_notifications(
            self.position, self.page_size, inclusive_of_start=False
        )
        if not notifications:
            return 0
        if swap is None:
            with self.store.begin_write() as conn:
                self.model.apply(
                    conn, self.tables, notifications, self.log, final_versions=self.final_versions
                )
        else:  # the swap: whatever arrived after the plan, written as it comes
            self.model.apply(swap, self.tables, notifications, self.log)
        self.reached = tracked_at(notifications[-1])
        self.position = self.reached.position
        self.events += len(notifications)
        return len(notifications)

    def _swap(self) -> None:
        store, name = self.store, self.model.name
        with store.begin_write() as conn:
            store.ddl_lock(conn)
            store.position(conn, name, for_update=True)  # waits for a runner's batch in flight
            while self._page(conn):
                pass
            for table in self.live:
                if store.has_table(conn, table.name):
                    self._rename_table(conn, table.name, table.name + RETIRED)
            for new, live in zip(self.new, self.live, strict=True):
                self._rename_table(conn, new.name, live.name)
            for table in reversed(self.live):
                conn.execute(text(f"DROP TABLE {store.qualified(table.name + RETIRED)}"))
            self._name_indexes(conn)
            store.set_position(conn, name, self.reached)

    def _rename_table(self, conn: Connection, old: str, new: str) -> None:
        quote = self.store.engine.dialect.identifier_preparer.quote
        conn.execute(text(f"ALTER TABLE {self.store.qualified(old)} RENAME TO {quote(new)}"))

    def _name_indexes(self, conn: Connection) -> None:
        quote = self.store.engine.dialect.identifier_preparer.quote
        if not self.store.is_postgres:
            for live in self.live:
                for index in live.indexes:
                    index.create(conn)
            return
        for new in self.new:
            names = [str(index.name) for index in new.indexes if index.name]
            if new.primary_key.name:
                names.append(str(new.primary_key.name))
            for index_name in names:
                canonical = str(index_name).removesuffix(SUFFIX)
                conn.execute(
                    text(
                        f"ALTER INDEX {self.store.qualified(str(index_name))} "
                        f"RENAME TO {quote(canonical)}"
                    )
                )
