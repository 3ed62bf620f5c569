"""Read models whose rows for a case are a function of the case's events (versions 1..n).

When events of a case arrive, its rows are recomputed from all its events up to the newest in
the page and replace the old ones: once per case per page (in a rebuild, once per case), and
always from exactly the log up to the model's position, so an incremental run and a rebuild
from the log give the same rows.
"""

from __future__ import annotations

from abc import abstractmethod
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any, Generic, TypeVar
from uuid import UUID

from eventsourcing.persistence import Notification
from sqlalchemy import Connection, Table

from domain.envelope import RecordedEvent
from projections.model import LogReader, ReadModel, TablesT, case_id_of, recorded_event, settled

RowsT = TypeVar("RowsT")
_CHUNK = 500


class EventCache:
    """Decoded events of recently applied cases, bounded by the number of events held.

    Holds only what the log says (never projection state), so a rolled-back batch leaves
    nothing wrong in it. Each list is a true prefix of its case: versions 1..n.
    """

    def __init__(self, max_events: int = 20_000) -> None:
        self.max_events = max_events
        self._cases: OrderedDict[UUID, list[RecordedEvent]] = OrderedDict()
        self._held = 0

    def events(
        self, case_id: UUID, page: Sequence[RecordedEvent], log: LogReader
    ) -> list[RecordedEvent]:
        """The case's events up to the page's newest, from the cache where it can."""
        first, last = page[0].version, page[-1].version
        cached = self._take(case_id)
        contiguous = [e.version for e in page] == list(range(first, last + 1))
        if contiguous and len(cached) >= first - 1:
            events = [*cached[: first - 1], *page]
        else:
            events = log.events_of(case_id, limit=last)
        if [e.version for e in events] != list(range(1, last + 1)):
            raise ValueError(f"case {case_id}: the log is missing versions up to {last}")
        self._put(case_id, events)
        return events

    def _take(self, case_id: UUID) -> list[RecordedEvent]:
        events = self._cases.pop(case_id, [])
        self._held -= len(events)
        return events

    def _put(self, case_id: UUID, events: list[RecordedEvent]) -> None:
        if len(events) > self.max_events:
            return
        self._cases[case_id] = events
        self._held += len(events)
        while self._held > self.max_events:
            _, evicted = self._cases.popitem(last=False)
            self._held -= len(evicted)


class PerCaseModel(ReadModel[TablesT], Generic[TablesT, RowsT]):
    """A read model whose rows are recomputed per touched case."""

    def __init__(self, *, cache_events: int = 20_000) -> None:
        self.cache = EventCache(cache_events)

    def forget(self) -> None:
        self.cache = EventCache(self.cache.max_events)

    @abstractmethod
    def rows_of(self, case_id: UUID, events: Sequence[RecordedEvent], log: LogReader) -> RowsT:
        """The case's rows from its events (versions 1..n)."""

    @abstractmethod
    def write(self, conn: Connection, tables: TablesT, rows: Sequence[RowsT]) -> None:
        """Replace the rows of the cases `rows` are for."""

    def apply(
        self,
        conn: Connection,
        tables: TablesT,
        notifications: Sequence[Notification],
        log: LogReader,
        *,
        final_versions: Mapping[UUID, int] | None = None,
    ) -> None:
        pages: dict[UUID, list[RecordedEvent]] = {}
        for notification in notifications:
            pages.setdefault(case_id_of(notification), []).append(recorded_event(log, notification))
        rows = []
        for case_id, page in pages.items():
            events = self.cache.events(case_id, page, log)
            if settled(case_id, page, final_versions):
                rows.append(self.rows_of(case_id, events, log))
        self.write(conn, tables, rows)


# A row to insert: a mapping by column name, or a tuple in the order of the table's columns.
Row = Mapping[str, Any] | tuple[Any, ...]


def replace_rows(
    conn: Connection,
    case_ids: Sequence[str],
    inserts: Sequence[tuple[Table, Sequence[Row]]],
) -> None:
    """Delete the cases' rows from every table of `inserts` (children first: list them
    parents first), then insert the new rows."""
    for chunk in chunks(case_ids, _CHUNK):
        for table, _ in reversed(inserts):
            conn.execute(table.delete().where(table.c.case_id.in_(chunk)))
    for table, rows in inserts:
        if rows:
            insert_rows(conn, table, rows)


def insert_rows(conn: Connection, table: Table, rows: Sequence[Row]) -> None:
    """Insert rows (each with every column) in one `executemany` of the driver: a read model
    writes tens of thousands of rows a page, which SQLAlchemy's per-row parameter processing
    would spend longer on than the database does."""
    names = [column.name for column in table.columns]
    quote = conn.dialect.identifier_preparer
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    statement = (
        f"INSERT INTO {quote.format_table(table)} ({', '.join(quote.quote(n) for n in names)}) "
        f"VALUES ({', '.join([marker] * len(names))})"
    )
    values = itemgetter(*names)
    params = [
        row if isinstance(row, tuple) else values(row) if len(names) > 1 else (row[names[0]],)
        for row in rows
    ]
    conn.exec_driver_sql(statement, params)


def chunks(items: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
