"""The Case aggregate: one child's lifelong record, the stream every view is folded from.

Its state is kept deliberately small (the opening's id, the owning authority and the version of
the entry that set it, the last hash and recording time), all of it immutable: the library
deep-copies a cached aggregate on every load for a write, which `__deepcopy__` makes a copy of a
few attributes, so a case with 10,000 events costs no more to append to than a new one. Event ids
for idempotency live in a side table written in the same transaction as the events (see
`service.store`).

The stored event classes are named by their module path forever: `domain.case:Case.Opened` and
`domain.case:Case.Recorded`.

A snapshot of the aggregate is a row anyone with write access to the store could forge, and its
owning authority decides who may read the case: `snapshot_conflict` says whether a snapshot
agrees with the entries it claims to sum up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.catalogue import catalogue
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
            aggregate._remember(self.entry, self.originator_version)

    # The version of the entry that set `local_authority`: the opening's, or its latest
    # correction's (a class default for snapshots taken before it was kept: their owner was
    # the opening's, or they are not trusted).
    authority_version: int = 1

    def __init__(self, entry: dict[str, Any]) -> None:
        self.opened_id: str = entry["id"]
        self.local_authority: str = entry["data"]["local_authority"]
        self.authority_version = 1
        self.last_hash: str = GENESIS
        self.last_recorded_at: str = ""
        self._remember(entry, 1)

    def __deepcopy__(self, memo: dict[int, Any]) -> Case:
        """What the library's cache hands out for each write: every attribute is immutable (str,
        int, UUID, datetime), so a copy of the attributes and a fresh pending list is a deep
        copy, without `copy.deepcopy` walking the object."""
        copied = object.__new__(type(self))
        copied.__dict__.update(self.__dict__)
        copied._pending_events = list(self._pending_events)
        return copied

    def _remember(self, entry: dict[str, Any], version: int) -> None:
        self.last_hash = entry["hash"]
        self.last_recorded_at = entry["recorded_at"]
        authority = authority_set_by(entry, self.opened_id)
        if authority is not None:
            # The owning authority is the corrected opening's: access follows the record.
            self.local_authority = authority
            self.authority_version = version

    @classmethod
    def open(
        cls,
        case_id: UUID,
        entries: Sequence[dict[str, Any]],
        *,
        recorded_at: datetime,
        validated: bool = False,
    ) -> Case:
        """Open a case with its first batch; the first entry must be `CaseOpened`.
        `validated`: as for `record`."""
        first, *rest = entries
        if first["type"] != "CaseOpened":
            raise CaseRuleBroken(0, "type", "a case's first event must be CaseOpened")
        stamp = format_utc(recorded_at)
        opened = _sealed(first, case_id, 1, GENESIS, stamp, validated=validated)
        case = cls._create(cls.Opened, id=case_id, entry=opened, timestamp=recorded_at)
        case._append(rest, recorded_at, first_index=1, validated=validated)
        return case

    def collect_sealed(self) -> list[Case.Opened | Case.Recorded]:
        """The events recorded since the case was loaded, each with its sealed entry, taken to
        be saved (only `open` and `record` emit events: an opening and entries)."""
        return cast("list[Case.Opened | Case.Recorded]", self.collect_events())

    def record(
        self, entries: Sequence[dict[str, Any]], *, recorded_at: datetime, validated: bool = False
    ) -> None:
        """Append a batch; all its entries share one recording time, never before the last.
        `validated`: the entries hold the stored forms of validated envelopes and payloads, so
        one whose type's stored form is plain JSON (`EntryType.plain_json`) is hashed without
        being walked to check it (`domain.envelope.canonical`)."""
        self._append(entries, recorded_at, first_index=0, validated=validated)

    def _append(
        self,
        entries: Sequence[dict[str, Any]],
        recorded_at: datetime,
        *,
        first_index: int,
        validated: bool,
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
        # What `trigger_event` does for each entry (the event, applied, then pending), without
        # its checks of an event built right here, next in sequence: a third of its cost. (The
        # library makes each event class a dataclass, whose fields mypy does not see.)
        case_id = str(self.id)
        version = self.version
        for entry in entries:
            version += 1
            sealed = _sealed(entry, case_id, version, self.last_hash, stamp, validated=validated)
            self._pending_events.append(
                self.Recorded(  # type: ignore[call-arg]
                    originator_id=self.id,
                    originator_version=version,
                    timestamp=recorded_at,
                    entry=sealed,
                )
            )
            self._remember(sealed, version)
        self.version = version
        self.modified_on = recorded_at


def _sealed(
    entry: dict[str, Any],
    case_id: UUID | str,
    version: int,
    prev: str,
    stamp: str,
    *,
    validated: bool,
) -> dict[str, Any]:
    sealed = {**entry, "recorded_at": stamp}
    plain = validated and catalogue[entry["type"]].plain_json
    sealed["hash"] = chain_hash(case_id, version, sealed, prev, plain=plain)
    return sealed


def authority_set_by(entry: Mapping[str, Any], opened_id: str) -> str | None:
    """The owning authority `entry` sets in the case opened by `opened_id`: the opening's own,
    or a correction of the opening's; None for any other entry."""
    data = entry["data"]
    if entry["type"] == "CaseOpened" and entry["id"] == opened_id:
        return str(data["local_authority"])
    if entry["type"] == "EntryCorrected" and str(data["target_event_id"]) == opened_id:
        return str(data["data"]["local_authority"])
    return None


# What a snapshot of a Case holds besides the library's own times (`authority_version` is
# absent from those taken before it was kept).
_SNAPSHOT_FACTS = (
    "opened_id",
    "local_authority",
    "authority_version",
    "last_hash",
    "last_recorded_at",
)
_SNAPSHOT_KEYS = frozenset({*_SNAPSHOT_FACTS, "_created_on", "_modified_on"})


def _case_facts(
    opened: Mapping[str, Any],
    authority: tuple[int, Mapping[str, Any]],
    last: Mapping[str, Any],
) -> dict[str, Any] | None:
    """The facts a snapshot holds, from the entries they come from; None if the entry given as
    setting the owning authority sets none (or the entries are not entries)."""
    version, entry = authority
    try:
        owner = authority_set_by(entry, str(opened["id"]))
        if opened["type"] != "CaseOpened" or owner is None:
            return None
        return {
            "opened_id": opened["id"],
            "local_authority": owner,
            "authority_version": version,
            "last_hash": last["hash"],
            "last_recorded_at": last["recorded_at"],
        }
    except (KeyError, TypeError):
        return None


def snapshot_conflict(
    state: Mapping[str, Any],
    opened: Mapping[str, Any],
    authority: tuple[int, Mapping[str, Any]],
    last: Mapping[str, Any],
) -> str | None:
    """Why a snapshot's state is not the case its entries make, or None: the opening, the entry
    (and its version) that set the owning authority, and the entry at the snapshot's version."""
    facts = _case_facts(opened, authority, last)
    if facts is None:
        return "no entry sets its owning authority"
    unknown = set(state) - _SNAPSHOT_KEYS
    if unknown:
        return f"it holds what a case does not: {', '.join(sorted(unknown))}"
    differ = [
        name
        for name in _SNAPSHOT_FACTS
        if (name in state or name != "authority_version") and state.get(name) != facts[name]
    ]
    if differ:
        return f"{', '.join(differ)} {'differs' if len(differ) == 1 else 'differ'}"
    return None
