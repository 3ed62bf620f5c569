"""The Case aggregate: one child's lifelong record, the stream every view is folded from.

Its state is kept deliberately small (the opening's id, the owning authority, the last hash and
recording time), all of it immutable: the library deep-copies a cached aggregate on every load for
a write, which `__deepcopy__` makes a copy of a few attributes, so a case with 10,000 events costs
no more to append to than a new one. Event ids for idempotency live in a side table
written in the same transaction as the events (see `service.store`).

The stored event classes are named by their module path forever: `domain.case:Case.Opened` and
`domain.case:Case.Recorded`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.envelope import GENESIS, chain_hash
from domain.moments import format_utc, parse_utc


class CaseRuleBroken(ValueError):
    """A batch the case's stream rules refuse: it is malformed or contradicts itself."""

    def __init__(self, index: int, field: str, detail: str) -> None:
        super().__init__(detail)
        self.index = index
        self.field = field
        self.detail = detail


class Case(Aggregate):
    """One child's case: an append-only, hash-chained sequence of entries."""

    class Opened(Aggregate.Created):
        entry: dict[str, Any]

    class Recorded(Aggregate.Event):
        entry: dict[str, Any]

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Case)
            aggregate._remember(self.entry)

    def __init__(self, entry: dict[str, Any]) -> None:
        self.opened_id: str = entry["id"]
        self.local_authority: str = entry["data"]["local_authority"]
        self.last_hash: str = GENESIS
        self.last_recorded_at: str = ""
        self._remember(entry)

    def __deepcopy__(self, memo: dict[int, Any]) -> Case:
        """What the library's cache hands out for each write: every attribute is immutable (str,
        int, UUID, datetime), so a copy of the attributes and a fresh pending list is a deep
        copy, without `copy.deepcopy` walking the object."""
        copied = object.__new__(type(self))
        copied.__dict__.update(self.__dict__)
        copied._pending_events = list(self._pending_events)
        return copied

    def _remember(self, entry: dict[str, Any]) -> None:
        self.last_hash = entry["hash"]
        self.last_recorded_at = entry["recorded_at"]
        data = entry["data"]
        if entry["type"] == "EntryCorrected" and str(data["target_event_id"]) == self.opened_id:
            # The owning authority is the corrected opening's: access follows the record.
            self.local_authority = data["data"]["local_authority"]

    @classmethod
    def open(
        cls, case_id: UUID, entries: Sequence[dict[str, Any]], *, recorded_at: datetime
    ) -> Case:
        """Open a case with its first batch; the first entry must be `CaseOpened`."""
        first, *rest = entries
        if first["type"] != "CaseOpened":
            raise CaseRuleBroken(0, "type", "a case's first event must be CaseOpened")
        stamp = format_utc(recorded_at)
        opened = _sealed(first, case_id, 1, GENESIS, stamp)
        case = cls._create(cls.Opened, id=case_id, entry=opened, timestamp=recorded_at)
        case._append(rest, recorded_at, first_index=1)
        return case

    def record(self, entries: Sequence[dict[str, Any]], *, recorded_at: datetime) -> None:
        """Append a batch; all its entries share one recording time, never before the last."""
        self._append(entries, recorded_at, first_index=0)

    def _append(
        self, entries: Sequence[dict[str, Any]], recorded_at: datetime, *, first_index: int
    ) -> None:
        if self.last_recorded_at:
            recorded_at = max(recorded_at, parse_utc(self.last_recorded_at))
        stamp = format_utc(recorded_at)
        # Check the whole batch before emitting any of it: a refused batch leaves no event behind.
        for index, entry in enumerate(entries, start=first_index):
            if entry["type"] == "CaseOpened":
                raise CaseRuleBroken(
                    index, "type", "this case is already open: CaseOpened comes once"
                )
        case_id = str(self.id)
        for entry in entries:
            sealed = _sealed(entry, case_id, self.version + 1, self.last_hash, stamp)
            self.trigger_event(self.Recorded, entry=sealed, timestamp=recorded_at)


def _sealed(
    entry: dict[str, Any], case_id: UUID | str, version: int, prev: str, stamp: str
) -> dict[str, Any]:
    sealed = {**entry, "recorded_at": stamp}
    sealed["hash"] = chain_hash(case_id, version, sealed, prev)
    return sealed
