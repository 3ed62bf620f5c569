"""What a read model is: named tables, and a function applying a page of the log to them.

A model defines its tables with a name suffix (a rebuild builds `<table><suffix>` beside the live
ones and swaps them in), and every index and named constraint of a table must be named
`<canonical name><suffix>` too, so the swap can give them back their canonical names.

The runner calls `apply` inside the write transaction that also moves the model's tracking
position: whatever `apply` writes commits with the new position, or not at all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification
from sqlalchemy import Connection, MetaData, Table

import domain.event_types  # noqa: F401  (registers the catalogue the entries are read with)
from domain.envelope import RecordedEvent

TablesT = TypeVar("TablesT")


class LogReader(Protocol):
    """What the projections read from the log (`service.records.CaseRecords` satisfies it)."""

    @property
    def recorder(self) -> ApplicationRecorder: ...

    def clock(self) -> datetime:
        """Now: what time-dependent models (the alerts) are judged at."""

    @property
    def rule_timescales(self) -> Mapping[str, int]:
        """The alert rules' local timescales (`CASETRAIL_RULE_*`)."""

    def decode(self, state: bytes) -> dict[str, Any]: ...

    def events_of(
        self, case_id: UUID, *, gt: int | None = None, limit: int | None = None
    ) -> list[RecordedEvent]: ...

    def last_versions(self, stop: int) -> dict[UUID, int]:
        """Each case's newest version among the events at positions up to `stop`."""
        ...


def recorded_event(log: LogReader, notification: Notification) -> RecordedEvent:
    """A notification of the global log as the folds see it (the case id is its originator)."""
    return RecordedEvent.from_entry(
        case_id_of(notification),
        notification.originator_version,
        notification.id,
        log.decode(notification.state),
    )


def settled(
    case_id: UUID, page: Sequence[RecordedEvent], final_versions: Mapping[UUID, int] | None
) -> bool:
    """Whether a case's rows must be written for this page: always, but in a rebuild that will
    still apply newer versions of the case in a later page."""
    return final_versions is None or page[-1].version >= final_versions.get(case_id, 0)


def case_id_of(notification: Notification) -> UUID:
    originator = notification.originator_id
    return originator if isinstance(originator, UUID) else UUID(str(originator))


class ReadModel(ABC, Generic[TablesT]):
    """A cross-case read model kept current by the runner."""

    name: str

    @abstractmethod
    def define(self, metadata: MetaData, suffix: str = "") -> TablesT:
        """The model's tables in `metadata`, each named `<canonical><suffix>` (indexes too)."""

    @abstractmethod
    def table_list(self, tables: TablesT) -> Sequence[Table]:
        """The tables of `define`'s result, parents before children."""

    @abstractmethod
    def apply(
        self,
        conn: Connection,
        tables: TablesT,
        notifications: Sequence[Notification],
        log: LogReader,
        *,
        final_versions: Mapping[UUID, int] | None = None,
    ) -> None:
        """Apply a page of the log (in position order) to the tables, inside `conn`'s
        transaction. Must raise rather than half-apply: the transaction then rolls back.

        `final_versions` (a rebuild's, whose tables nobody reads until it is complete): the
        newest version of each case the rebuild will apply; a model may skip a case whose
        newest version in this page is older, as a later page will write its rows."""

    def forget(self) -> None:
        """Drop whatever the model holds in memory from the log (its rows were cleared, to be
        applied again from a log that may differ)."""

    def refresh(self, conn: Connection, tables: TablesT, log: LogReader) -> int:
        """Bring rows that change with time alone (no new event) up to `log.clock()`, inside
        `conn`'s transaction, from the log up to the model's position; how many cases changed.
        Most models hold nothing that changes with time."""
        return 0


AnyModel = ReadModel[Any]
