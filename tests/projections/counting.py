"""A read model that is not idempotent: it counts, so a double application shows.

It also fails on demand: `fail_after` raises (the transaction rolls back) and `exit_after`
kills the process with `os._exit` (nothing is cleaned up), after writing that many rows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import Notification
from sqlalchemy import BigInteger, Column, Connection, MetaData, String, Table, insert

from projections.model import LogReader, ReadModel, case_id_of


class Boom(RuntimeError):
    """The failure injected into a batch."""


@dataclass(frozen=True)
class CountTables:
    applied: Table

    def all(self) -> tuple[Table]:
        return (self.applied,)


class Counting(ReadModel[CountTables]):
    """One row per application of an event: (position, case_id)."""

    name = "counting"
    table_name = "test_counting_applied"

    def __init__(self, *, fail_after: int | None = None, exit_after: int | None = None) -> None:
        self.fail_after = fail_after
        self.exit_after = exit_after
        self.pages = 0

    def define(self, metadata: MetaData, suffix: str = "") -> CountTables:
        return CountTables(
            Table(
                self.table_name + suffix,
                metadata,
                Column("position", BigInteger, nullable=False),
                Column("case_id", String(36), nullable=False),
            )
        )

    def table_list(self, tables: CountTables) -> Sequence[Table]:
        return tables.all()

    def apply(
        self,
        conn: Connection,
        tables: CountTables,
        notifications: Sequence[Notification],
        log: LogReader,
        *,
        final_versions: Mapping[UUID, int] | None = None,
    ) -> None:
        self.pages += 1
        for written, notification in enumerate(notifications):
            if self.fail_after is not None and written == self.fail_after:
                self.fail_after = None  # once
                raise Boom(f"injected after {written} rows")
            if self.exit_after is not None and written == self.exit_after:
                os._exit(3)
            conn.execute(
                insert(tables.applied).values(
                    position=notification.id, case_id=str(case_id_of(notification))
                )
            )
