"""The use cases: open a case, record events, and read the case back as of any date."""

from __future__ import annotations

import copy
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol, TypeVar
from uuid import UUID

import orjson
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEventProtocol, OriginatorVersionError, Snapshot
from eventsourcing.persistence import (
    EventStore,
    IntegrityError,
    InterfaceError,
    JSONTranscoder,
    Mapper,
    MapperDeserialisationError,
    OperationalError,
    PersistenceError,
    StoredEvent,
    Transcoder,
)
from eventsourcing.utils import Environment, EnvType, get_topic
from pydantic import ValidationError

import domain.event_types  # noqa: F401  (registers the catalogue)
from domain.access import withheld_from
from domain.case import Case, CaseRuleBroken, authority_set_by, snapshot_conflict
from domain.catalogue import Significance, catalogue
from domain.chronology import Chronology, chronology
from domain.envelope import NotAnEntry, RecordedEvent, client_digest, uuid_text
from domain.involvement import InvolvementSummary, involvement_summary
from domain.moments import BadMoment, Moment
from domain.rules import RULES, BreakGlassRead, Evaluation, evaluate
from domain.rules.base import Rule
from domain.selection import next_occurrence
from domain.sharing import SharingPack, sharing_pack
from domain.state import CaseState, NothingRecorded, case_state
from service.clock import Clock, system_clock
from service.deadline import store_down
from service.errors import (
    CaseExistsError,
    CaseNotFoundError,
    CasetrailError,
    DamagedCase,
    EventIdReused,
    FieldProblem,
    InvalidEvents,
    LostEvent,
    StoreBusy,
    UnreadableEntry,
    UnreadableStore,
    VersionMismatch,
)
from service.principal import Principal
from service.settings import Settings
from service.store import (
    CaseLog,
    IndexedEvent,
    IndexEntry,
    PostgresCaseLogRecorder,
    SnapshotRows,
    SQLiteCaseLogRecorder,
    case_log,
)
from service.transcoder import LogMapper, LogTranscoder, topic_at

logger = logging.getLogger("casetrail.records")

# Case ids derived from a CaseOpened event's id (UUIDv5 in this namespace), so a retried open
# without a `case_id` lands on the same case. Fixed forever.
CASE_ID_NAMESPACE = UUID("6f1c2a57-3c1e-4b8e-9a3d-2f0d5c7e8b41")

ANY_VERSION = -1  # `If-Match: *`


class _OutcomeUnknown(Exception):
    """An append whose connection failed while it was being committed: it may be stored."""

    def __init__(self, failure: PersistenceError, attempted: list[str]) -> None:
        super().__init__(str(failure))
        self.failure = failure
        self.hashes = attempted  # the hashes the attempt computed, in batch order


def _outcome_unknown(failure: PersistenceError) -> bool:
    """Whether a failed save may nevertheless have committed: the connection was lost or broke
    (the library's OperationalError, InterfaceError, or a bare driver error), as opposed to a
    conflict or an error in what was sent. A save that never got a connection (the pool waited
    its whole timeout: the store is down) sent nothing, so nothing is left to look up."""
    if store_down(failure):
        return False
    lost = isinstance(failure, OperationalError | InterfaceError)
    return lost or type(failure) is PersistenceError


class StoredResult(NamedTuple):
    """What the log says about one event of a batch (a named tuple: a batch builds one per
    event)."""

    id: str
    version: int
    position: int
    recorded_at: str
    hash: str
    replayed: bool


@dataclass(frozen=True)
class AppendResult:
    case_id: UUID
    version: int
    events: list[StoredResult]

    @property
    def replayed(self) -> bool:
        return all(e.replayed for e in self.events)


@dataclass(frozen=True)
class EventsPage:
    events: list[RecordedEvent]
    next_after_version: int | None


# What a snapshot of a case restores (anything else is not a snapshot of one).
CASE_TOPIC = get_topic(Case)

# Cases whose next change (`CaseRecords._next_change`) is remembered.
UPCOMING_CACHED = 100_000


class EventCache:
    """Decoded events of recently read cases, bounded by the number of events held.

    Stored events never change and versions only grow, so a cached list is always a true prefix
    of its case: a read fetches only the versions after it.
    """

    def __init__(self, max_events: int) -> None:
        self.max_events = max_events
        self._cases: OrderedDict[UUID, list[RecordedEvent]] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    def get(self, case_id: UUID) -> list[RecordedEvent]:
        with self._lock:
            events = self._cases.get(case_id)
            if events is None:
                return []
            self._cases.move_to_end(case_id)
            return events

    def put(self, case_id: UUID, events: list[RecordedEvent]) -> None:
        if len(events) > self.max_events:
            return
        with self._lock:
            previous = self._cases.pop(case_id, None)
            if previous is not None and len(previous) > len(events):
                events = previous  # a concurrent reader already cached a longer prefix
            self._held += len(events) - (len(previous) if previous else 0)
            self._cases[case_id] = events
            while self._held > self.max_events:
                _, evicted = self._cases.popitem(last=False)
                self._held -= len(evicted)


class WriteObserver(Protocol):
    """Told what each append came to (the metrics count them); must never raise."""

    def stored(self, events: int) -> None: ...
    def replayed(self) -> None: ...
    def conflict(self, reason: str) -> None: ...
    def retried(self) -> None: ...
    def gave_up(self) -> None: ...


class WriteCheck(Protocol):
    """The caller's permission to post a batch, judged on one version of the case."""

    def confirm(self, owner: str, version: int) -> None:
        """Raise a refusal (a `CasetrailError`) unless the batch may follow this version of the
        case."""
        ...


class Unobserved:
    """The default `WriteObserver`: tells no one."""

    def stored(self, events: int) -> None:
        return None

    def replayed(self) -> None:
        return None

    def conflict(self, reason: str) -> None:
        return None

    def retried(self) -> None:
        return None

    def gave_up(self) -> None:
        return None


ViewT = TypeVar("ViewT")


class TrustedSnapshots(EventStore[UUID]):
    """The snapshots, as the repository loads a case from them: a snapshot that cannot be read,
    or that `conflict` finds disagreeing with the log, is passed over (the case is then replayed
    from its events), never trusted blindly: its owning authority decides who reads the case."""

    def __init__(self, store: EventStore[UUID], conflict: Callable[[Snapshot], str | None]) -> None:
        super().__init__(store.mapper, store.recorder)
        self.conflict = conflict

    def get(
        self,
        originator_id: UUID,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Iterator[DomainEventProtocol[UUID]]:
        stored = self.recorder.select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        for row in stored:
            try:
                snapshot = self.mapper.to_domain_event(row)
            except Exception:  # any undecodable row: replay the events instead
                why: str | None = "it cannot be decoded"
            else:
                why = (
                    self.conflict(snapshot)
                    if isinstance(snapshot, Snapshot)
                    else "it is not a snapshot"
                )
            if why is None:
                yield snapshot
            else:
                logger.warning(
                    "snapshot of case %s at version %d ignored, the case is replayed from its "
                    "events: %s",
                    originator_id,
                    row.originator_version,
                    why,
                )


class CaseLogEvents(EventStore[UUID]):
    """The log, as the repository loads a case from it: a row stored as another class of event
    than its version's (`topic_at`) cannot be decoded, never applied (the library would fail
    on an opening after version 1, or on a later entry at version 1, with an assertion)."""

    def get(
        self,
        originator_id: UUID,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Iterator[DomainEventProtocol[UUID]]:
        stored = self.recorder.select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        for row in stored:
            if row.topic != topic_at(row.originator_version):
                raise MapperDeserialisationError(
                    f"version {row.originator_version} of case {originator_id} is stored as "
                    f"{row.topic!r}"
                )
            yield self.mapper.to_domain_event(row)


# What a fold raises on a payload its type does not accept (a `NothingRecorded` is a LookupError
# too, and the use cases' own errors are not these).
_FOLD_FAILURES = (ValueError, TypeError, AttributeError, LookupError)


def derived_case_id(opened_event_id: str) -> UUID:
    return uuid.uuid5(CASE_ID_NAMESPACE, str(UUID(opened_event_id)))


class CaseRecords(Application[UUID]):
    """Casetrail's use cases over the case log."""

    name = "CaseRecords"

    def __init__(
        self, settings: Settings, clock: Clock = system_clock, *, check_key: bool = True
    ) -> None:
        self.settings = settings
        self.clock = clock
        settings.prepare()
        env = settings.library_environment()
        recorder = PostgresCaseLogRecorder if settings.is_postgres else SQLiteCaseLogRecorder
        env["APPLICATION_RECORDER_TOPIC"] = get_topic(recorder)
        # The snapshot store alone: `_store` takes the snapshots, not the library's `save`.
        env["IS_SNAPSHOTTING_ENABLED"] = "y" if settings.snapshot_interval else "n"
        super().__init__(env)
        if self.snapshots is not None:
            self.repository.snapshot_store = TrustedSnapshots(
                self.snapshots, self.snapshot_conflict
            )
        self.index: CaseLog = case_log(self.recorder)
        self.event_cache = EventCache(settings.event_cache_size)
        # Per case: the version, when asked, and the next change then found (`_next_change`).
        self._upcoming: OrderedDict[UUID, tuple[int, datetime, datetime | None]] = OrderedDict()
        self._upcoming_lock = threading.Lock()
        self.observer: WriteObserver = Unobserved()
        if check_key:
            self.check_key()

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """The library's environment from our settings alone. The library would also read the
        process environment, where a variable named for it (`PERSISTENCE_MODULE`, or
        `CASERECORDS_...`, which it reads first) could move the log to memory, write without
        the event-id index, or share cached aggregates between writers."""
        return Environment(name, {**type(self).env, **(env or {})})

    def construct_mapper(self) -> Mapper[UUID]:
        """The library's mapper (its compressor and cipher), mapping `Case.Recorded` directly
        (`service.transcoder.LogMapper`)."""
        library = super().construct_mapper()
        assert isinstance(library.transcoder, LogTranscoder)
        return LogMapper(library.transcoder, library.compressor, library.cipher)

    def construct_event_store(self) -> EventStore[UUID]:
        return CaseLogEvents(self.mapper, self.recorder)

    def construct_transcoder(self) -> Transcoder:
        """The library's JSON format, written and read with orjson (`service.transcoder`)."""
        library = super().construct_transcoder()
        assert isinstance(library, JSONTranscoder)
        return LogTranscoder(library)

    # --- writing -------------------------------------------------------------------------

    def open_case(
        self,
        case_id: UUID | None,
        events: Sequence[dict[str, Any]],
        *,
        by: Principal,
        validated: bool = False,
    ) -> AppendResult:
        """Open a case with a batch whose first event is `CaseOpened`; `validated` as for
        `record`."""
        if not events or events[0]["type"] != "CaseOpened":
            raise InvalidEvents(
                [FieldProblem("/events/0/type", "a case's first event must be CaseOpened")]
            )
        case_id = case_id or derived_case_id(events[0]["id"])
        return self._write(case_id, events, by=by, expected=None, opening=True, validated=validated)

    def record(
        self,
        case_id: UUID,
        events: Sequence[dict[str, Any]],
        *,
        by: Principal,
        expected: int | None = None,
        check: WriteCheck | None = None,
        validated: bool = False,
    ) -> AppendResult:
        """Append a batch, all or nothing; `expected` is the `If-Match` version (or ANY_VERSION).
        `check` is confirmed on the version the batch is appended after. `validated`: the events
        are the stored forms of the API's validated request models (`service.api.models`), so
        their payloads need no check of being plain JSON before they are hashed
        (`Case.record`)."""
        return self._write(
            case_id,
            events,
            by=by,
            expected=expected,
            opening=False,
            check=check,
            validated=validated,
        )

    def _write(
        self,
        case_id: UUID,
        events: Sequence[dict[str, Any]],
        *,
        by: Principal,
        expected: int | None,
        opening: bool,
        check: WriteCheck | None = None,
        validated: bool = False,
    ) -> AppendResult:
        """`_append`, telling the observer what it came to."""
        try:
            result = self._append(
                case_id,
                events,
                by=by,
                expected=expected,
                opening=opening,
                check=check,
                validated=validated,
            )
        except EventIdReused:
            self.observer.conflict("event-id-reused")
            raise
        except CaseExistsError:
            self.observer.conflict("case-exists")
            raise
        except VersionMismatch:
            self.observer.conflict("version-mismatch")
            raise
        except StoreBusy:
            self.observer.gave_up()
            raise
        if result.replayed:
            self.observer.replayed()
        else:
            self.observer.stored(len(result.events))
        return result

    def _append(
        self,
        case_id: UUID,
        events: Sequence[dict[str, Any]],
        *,
        by: Principal,
        expected: int | None,
        opening: bool,
        check: WriteCheck | None,
        validated: bool,
    ) -> AppendResult:
        now = self.clock()
        _check_no_nul(events)
        entries = self._entries(events, by, now)
        _check_unique_ids(entries)
        # A batch that corrects (or retracts, ...) earlier entries looks its targets up, and its
        # own ids with them. Any other batch's ids are looked up only if its insert conflicts
        # (the index refuses an id stored before): a replay, or an id reused, is then told
        # apart from a lost race.
        targets = _targets(entries)
        if targets:
            self._confirm_stored(case_id, check)
            known = self.locate([e["id"] for e in entries] + targets)
            resent = any(e["id"] in known for e in entries)
            try:
                # Also brings each entry to its stored form (a correction's payload as its
                # target's type validates it), which a replay is compared in.
                self._check_targets(case_id, entries, known, now=now)
            except InvalidEvents:
                # Only a wholly new batch is judged on its targets. One with ids stored before
                # is a replay or a reuse (in another case, with other content, or beside new
                # ids), and answers as such: an entry that fails here differs from the one
                # stored (which passed), and `_replay` names it.
                if not resent:
                    raise
            replay = self._replay(case_id, entries, known)
            if replay is not None:
                return replay
        # (only a store that keeps them is given them: the others read them from the entry)
        digests: list[str | None] = [None] * len(entries)
        if self.index.keeps_digests:
            digests = [client_digest(e) for e in entries]
        deadline = time.monotonic() + self.settings.append_retry_seconds
        attempt = 0
        # The first attempt decides on the case as cached, without asking the store for newer
        # events: if another process wrote to the case since, the insert conflicts on the
        # version, and every later attempt fast-forwards first.
        fresh = False
        while True:
            try:
                return self._try_append(
                    case_id,
                    entries,
                    digests,
                    expected=expected,
                    opening=opening,
                    fresh=fresh,
                    check=check,
                    validated=validated,
                )
            except _OutcomeUnknown as unknown:
                # The connection was lost while the batch was being committed: the event-id
                # index says whether it was stored: by this attempt (its own results, 201), by a
                # racing copy (a replay), or not at all (503: the client's retry is idempotent).
                # Never a conflict with itself.
                known = self.locate(e["id"] for e in entries)
                settled = self._replay(case_id, entries, known, attempted=unknown.hashes)
                if settled is None:
                    raise unknown.failure from None
                return settled
            except (IntegrityError, CaseExistsError, VersionMismatch) as conflict:
                # Another writer won the version, or this very batch was stored meanwhile (a
                # client's racing retry, or an earlier attempt whose outcome we never heard):
                # the ids tell which.
                replay = self._replay(case_id, entries, self.locate(e["id"] for e in entries))
                if replay is not None:
                    self._confirm_stored(case_id, check)
                    return replay
                if not isinstance(conflict, IntegrityError):
                    raise
                if opening:
                    raise CaseExistsError(case_id) from None
                if fresh and time.monotonic() > deadline:  # (a stale cache always gets its retry)
                    raise StoreBusy from None
                self.observer.retried()
                if fresh:  # lost a race with another writer: back off (a stale cache need not)
                    attempt = min(attempt + 1, 6)
                    time.sleep(0.001 * 2**attempt)
                fresh = True

    def _try_append(
        self,
        case_id: UUID,
        entries: list[dict[str, Any]],
        digests: list[str | None],
        *,
        expected: int | None,
        opening: bool,
        fresh: bool,
        check: WriteCheck | None,
        validated: bool,
    ) -> AppendResult:
        """One attempt; `fresh`: fast-forward the cached case first, else decide on it as
        cached (an `If-Match` it refuses is judged again on the current case). A stale cached
        case is harmless: the insert after its version conflicts, and the next attempt is
        fresh. The caller's `check` and `If-Match` are judged on the version appended after."""
        recorded_at = self.clock()
        if opening and self.index.case_rows(case_id, limit=1):
            raise CaseExistsError(case_id)
        case = None if opening else self._load(case_id, current=fresh)
        if case is not None:
            if not fresh and not _may_follow(case, expected, check):
                case = self._load(case_id)  # the cached case may be behind the store
            if check is not None:
                check.confirm(case.local_authority, case.version)
            if expected is not None and expected not in (ANY_VERSION, case.version):
                raise VersionMismatch(expected, case.version)
        try:
            if case is None:
                case = Case.open(case_id, entries, recorded_at=recorded_at, validated=validated)
            else:
                case.record(entries, recorded_at=recorded_at, validated=validated)
        except CaseRuleBroken as e:  # (rules of the batch alone: the same on any version)
            # Only a wholly new batch is judged on them: one with ids stored before (an opening
            # resent to the case) is a replay or a reuse, and answers as such.
            known = self.locate(entry["id"] for entry in entries)
            replay = self._replay(case_id, entries, known)
            if replay is not None:
                return replay
            raise InvalidEvents([FieldProblem(f"/events/{e.index}/{e.field}", e.detail)]) from None
        pending = case.collect_sealed()
        index = [
            IndexEntry(entry["id"], case_id, event.originator_version, entry["type"], digest)
            for entry, event, digest in zip(entries, pending, digests, strict=True)
        ]
        try:
            positions = self._store(case, pending, index)
        except PersistenceError as failure:
            if not _outcome_unknown(failure):
                raise
            attempted = [event.entry["hash"] for event in pending]
            raise _OutcomeUnknown(failure, attempted) from failure
        return AppendResult(
            case_id=case_id,
            version=pending[-1].originator_version,
            events=[
                StoredResult(
                    event.entry["id"],
                    event.originator_version,
                    position,
                    event.entry["recorded_at"],
                    event.entry["hash"],
                    replayed=False,
                )
                for event, position in zip(pending, positions, strict=True)
            ],
        )

    def _confirm_stored(self, case_id: UUID, check: WriteCheck | None) -> None:
        """Confirm `check` on the case as stored, before an answer that is not an append after
        a judged version: a replay, or a judgement of the batch's targets."""
        if check is not None:
            case = self._load(case_id)
            check.confirm(case.local_authority, case.version)

    def _store(
        self, case: Case, events: list[Case.Opened | Case.Recorded], index: list[IndexEntry]
    ) -> Sequence[int]:
        """Insert the case's new events, their event-id index rows and, when the batch reaches a
        multiple of `snapshot_interval`, a snapshot of the case, in one transaction (the
        library's `save` commits a snapshot on its own afterwards, rebuilt from the store);
        then cache the case as saved, which is exactly what is stored (the library leaves a
        fast-forwarding cache to re-read and re-decode the batch on the next load;
        fast-forwarding still catches up with any writer the cache has not seen). Their
        positions, in order."""
        stored = [self.mapper.to_stored_event(event) for event in events]
        written: dict[str, Any] = {"event_index": index}
        snapshot = self._snapshot(case, events)
        if snapshot is not None:
            assert self.snapshots is not None
            written["snapshots"] = SnapshotRows(self.snapshots.recorder, [snapshot])
        positions = self.recorder.insert_events(stored, **written)
        assert positions is not None  # (the application recorders' numbering)
        if self.repository.cache is not None:
            self.repository.cache.put(case.id, case)
        return positions

    def _snapshot(
        self, case: Case, events: list[Case.Opened | Case.Recorded]
    ) -> StoredEvent | None:
        """A snapshot of the case if its batch reaches a multiple of `snapshot_interval`, taken
        from the case as it will be saved (its state at the batch's last version) rather than
        rebuilt from the store as the library would."""
        interval = self.settings.snapshot_interval
        if self.snapshots is None or not interval:
            return None
        if not any(event.originator_version % interval == 0 for event in events):
            return None
        return self.snapshots.mapper.to_stored_event(Case.Snapshot.take(case))

    def _load(self, case_id: UUID, *, to_change: bool = True, current: bool = True) -> Case:
        """The case's aggregate, fast-forwarded from the cache (or, not `current`, as cached
        when it is); a private copy only when it is `to_change`."""
        if not current and self.repository.cache is not None:
            try:
                cached = self.repository.cache.get(case_id)
            except KeyError:
                cached = None
            if isinstance(cached, Case):
                return copy.deepcopy(cached) if to_change else cached
        try:
            case: Case = self.repository.get(case_id, deepcopy_from_cache=to_change)
        except AggregateNotFoundError:
            raise CaseNotFoundError(case_id) from None
        except MapperDeserialisationError as e:
            raise UnreadableEntry from e
        except (KeyError, TypeError, AttributeError) as e:
            # A stored entry the aggregate cannot remember (one that is not an object, or has
            # no hash): damaged, or written behind the service's back.
            raise UnreadableEntry from e
        except (OriginatorVersionError, AssertionError):
            # Versions that do not run on from 1 (the library asserts its first event creates
            # the aggregate): a row removed, or added below version 1, behind its back.
            raise DamagedCase(case_id) from None
        return case

    def owner_from_entries(self, case_id: UUID) -> tuple[str, int] | None:
        """The owning authority and newest version of a case as its stored entries say (the
        CaseOpened and its corrections), read in pages, passing over any row that cannot be
        decoded: for answering about a case whose aggregate cannot be loaded or trusted (its
        verification). None for an unknown case; the owner is "" when the opening is missing
        or unreadable."""
        owner, opened_id, version = "", "", 0
        page_size = 1000
        while True:
            page = self.index.case_rows(case_id, gt=version, limit=page_size)
            for row in page:
                version = row.version
                try:
                    entry = self.decode(row.state)
                    if version == 1 and entry["type"] == "CaseOpened":
                        opened_id = str(entry["id"])
                    authority = authority_set_by(entry, opened_id) if opened_id else None
                except (UnreadableEntry, KeyError, TypeError):
                    continue
                if authority is not None:
                    owner = authority
            if len(page) < page_size:
                return (owner, version) if version else None

    def snapshot_conflict(self, snapshot: Snapshot) -> str | None:
        """Why a snapshot disagrees with the case's stored entries, or None: it must sum up the
        entry at its version (hash and recording time), the opening, and the entry at the
        version it says set the owning authority (one to three rows read, on a cold load only).
        `verify` checks every snapshot against the whole chain."""
        case_id, version = snapshot.originator_id, snapshot.originator_version
        if snapshot.topic != CASE_TOPIC:
            return "it is not a snapshot of a case"  # (it would make the case another object)
        state = snapshot.state
        authority_version = state.get("authority_version", 1)
        if not isinstance(authority_version, int) or not 1 <= authority_version <= version:
            return "its owning authority's version is not one it covers"
        wanted = {1, authority_version, version}
        entries = {v: self._entry_at(case_id, v) for v in wanted}
        opened, authority, last = entries[1], entries[authority_version], entries[version]
        if opened is None or authority is None or last is None:
            return "the entries it sums up are missing or unreadable"
        return snapshot_conflict(state, opened, (authority_version, authority), last)

    def _entry_at(self, case_id: UUID, version: int) -> dict[str, Any] | None:
        rows = self.index.case_rows(case_id, gt=version - 1, lte=version)
        if not rows:
            return None
        try:
            return self.decode(rows[0].state)
        except UnreadableEntry:
            return None

    def snapshot_states(self, case_id: UUID) -> dict[int, Mapping[str, Any] | None]:
        """The state of every stored snapshot of the case, by version (None where one cannot
        be decoded)."""
        if self.snapshots is None:
            return {}
        states: dict[int, Mapping[str, Any] | None] = {}
        for row in self.snapshots.recorder.select_events(case_id):
            try:
                snapshot = self.snapshots.mapper.to_domain_event(row)
            except Exception:  # any undecodable row is a finding of verify
                states[row.originator_version] = None
                continue
            state = getattr(snapshot, "state", None)
            of_a_case = getattr(snapshot, "topic", None) == CASE_TOPIC
            states[row.originator_version] = (
                state if of_a_case and isinstance(state, dict) else None
            )
        return states

    def _current_version(self, case_id: UUID) -> int | None:
        rows = self.recorder.select_events(case_id, desc=True, limit=1)
        return rows[0].originator_version if rows else None

    def stored_by(self, case_id: UUID, events: Sequence[Mapping[str, Any]], by: Principal) -> bool:
        """Whether every event of the batch is stored in this case as `by`'s agency sent it: a
        replay (the event-id index refuses any of them a second time)."""
        now = self.clock()
        try:
            entries = self._entries(events, by, now)
            targets = _targets(entries)
            known = self.locate([e["id"] for e in entries] + targets)
            if targets:  # a correction is compared in its stored form
                self._check_targets(case_id, entries, known, now=now)
        except InvalidEvents:
            return False
        for entry in entries:
            stored = known.get(entry["id"])
            if stored is None or stored.case_id != case_id:
                return False
            if stored.digest != client_digest(entry):
                return False
        return True

    def _entries(
        self, events: Sequence[Mapping[str, Any]], by: Principal, now: datetime
    ) -> list[dict[str, Any]]:
        """The stored form of each client's event: defaults applied, times checked. The
        events of a batch share one `recorded_by` object (what the log stores is their JSON)."""
        recorded_by = by.recorded_by()
        latest = self._latest(now)
        entries = []
        for index, raw in enumerate(events):
            try:
                occurred = _occurred_at(raw["occurred_at"], latest)
            except BadMoment as e:
                pointer = f"/events/{index}/occurred_at"
                raise InvalidEvents([FieldProblem(pointer, str(e))]) from None
            entries.append(
                {
                    "id": uuid_text(raw["id"]),
                    "type": raw["type"],
                    "schema_version": catalogue[raw["type"]].schema_version,
                    "occurred_at": occurred.text,
                    "occurred_precision": raw.get("occurred_precision")
                    or occurred.default_precision().value,
                    "recorded_by": recorded_by,
                    "author": raw.get("author"),
                    "source": raw.get("source"),
                    "sensitivity": raw.get("sensitivity") or "normal",
                    "data": raw["data"],
                }
            )
        return entries

    def _latest(self, now: datetime) -> datetime:
        """The latest `occurred_at` accepted at `now` (beyond it only by the tolerated clock
        skew)."""
        return now + timedelta(seconds=self.settings.clock_skew_seconds)

    def _replay(
        self,
        case_id: UUID,
        entries: list[dict[str, Any]],
        known: dict[str, IndexedEvent],
        *,
        attempted: Sequence[str] = (),
    ) -> AppendResult | None:
        """The original results if the whole batch is already stored; None if none of it is.

        `attempted`: the hashes an append whose outcome was unknown computed; when the stored
        events carry exactly those, that append stored them, and they are not a replay.
        """
        pairs = [(known[e["id"]], e) for e in entries if e["id"] in known]
        if not pairs:
            return None
        stored = [s for s, _ in pairs]
        lost = [s.event_id for s in stored if s.case_id is None or not s.digest]
        if lost:
            raise LostEvent(lost)
        elsewhere = [s.event_id for s in stored if s.case_id != case_id]
        if elsewhere:
            raise EventIdReused("event ids already used in another case", elsewhere)
        changed = [s.event_id for s, e in pairs if s.digest != client_digest(e)]
        if changed:
            raise EventIdReused(
                "event ids already stored with different content, or by another agency", changed
            )
        if len(stored) != len(entries):
            raise EventIdReused(
                "the batch mixes events already stored with new ones: resend only the new ones",
                [s.event_id for s in stored],
            )
        first, last = min(s.version for s in stored), max(s.version for s in stored)
        rows = {r.version: r for r in self.index.case_rows(case_id, gt=first - 1, lte=last)}
        if any(s.version not in rows for s in stored):
            # The index names a row the log no longer holds: deleted behind the service's back.
            raise DamagedCase(case_id)
        results = []
        for s in stored:
            entry = self.decode(rows[s.version].state)
            results.append(
                StoredResult(
                    s.event_id, s.version, s.position, entry["recorded_at"], entry["hash"], True
                )
            )
        if [r.hash for r in results] == list(attempted):
            results = [r._replace(replayed=False) for r in results]
        # The original results: the version this batch brought the case to, whatever came later.
        return AppendResult(case_id=case_id, version=last, events=results)

    def _check_targets(
        self,
        case_id: UUID,
        entries: list[dict[str, Any]],
        known: dict[str, IndexedEvent],
        *,
        now: datetime,
    ) -> None:
        """Corrections and their kin must name an earlier fact of this case."""
        problems: list[FieldProblem] = []
        in_batch: dict[str, str] = {}
        for i, entry in enumerate(entries):
            kind = catalogue[entry["type"]]
            if kind.targets_entry:
                pointer = f"/events/{i}/data/target_event_id"
                target = str(entry["data"]["target_event_id"])
                found = known.get(target)
                if found is not None and (found.case_id is None or found.type not in catalogue):
                    # The index names no readable entry of the target: never judged on a guess.
                    raise LostEvent([target])
                target_type = in_batch.get(target) or (
                    found.type if found is not None and found.case_id == case_id else None
                )
                if target_type is None:
                    problems.append(FieldProblem(pointer, f"no event {target} in this case"))
                elif catalogue[target_type].targets_entry:
                    problems.append(
                        FieldProblem(
                            pointer,
                            f"{target} is itself an entry about another ({target_type}): "
                            "act on the original entry",
                        )
                    )
                elif target_type == "CaseOpened" and entry["type"] == "EntryRetracted":
                    problems.append(
                        FieldProblem(pointer, "CaseOpened cannot be retracted: correct it instead")
                    )
                elif entry["type"] == "EntryCorrected":
                    problems.extend(_check_correction(i, entry, target_type))
                    if entry["data"].get("occurred_at"):
                        try:
                            moved = _occurred_at(entry["data"]["occurred_at"], self._latest(now))
                        except BadMoment as e:
                            problems.append(FieldProblem(f"/events/{i}/data/occurred_at", str(e)))
                        else:
                            entry["data"]["occurred_at"] = moved.text
            in_batch[entry["id"]] = entry["type"]
        if problems:
            raise InvalidEvents(problems)

    # --- reading -------------------------------------------------------------------------

    def locate(self, event_ids: Iterable[str]) -> dict[str, IndexedEvent]:
        """Where each stored id of `event_ids` was stored (`CaseLog.lookup`)."""
        return self.index.lookup(event_ids, self.readable_entry)

    def readable_entry(self, state: bytes) -> dict[str, Any] | None:
        """A stored event's entry, or None if it cannot be read as one."""
        try:
            entry = self.decode(state)
        except UnreadableEntry:
            return None
        return entry if isinstance(entry, dict) else None

    def decode(self, state: bytes) -> dict[str, Any]:
        """A stored event's entry, read as plain JSON (the library's own fields are ignored)."""
        try:
            if self.mapper.cipher:
                state = self.mapper.cipher.decrypt(state)
            if self.mapper.compressor:
                state = self.mapper.compressor.decompress(state)
            entry: dict[str, Any] = orjson.loads(state)["entry"]
        except (ValueError, KeyError, TypeError) as e:
            # A wrong or missing encryption key, or a damaged row: never guess at its content.
            raise UnreadableEntry from e
        return entry

    def check_key(self) -> None:
        """Raise `UnreadableStore` for a store the configured key cannot read (or no key on an
        encrypted one): checked at start, before anything is written under the wrong key."""
        newest = self.recorder.max_notification_id()
        if not newest:
            return
        # The newest few: one damaged row must not stop the service (it answers 503 when read,
        # and `verify` reports it); a wrong key fails them all.
        rows = self.recorder.select_notifications(start=max(newest - 4, 1), limit=5)
        for row in rows:
            try:
                self.decode(row.state)
            except UnreadableEntry:
                continue
            return
        raise UnreadableStore(
            "the newest stored events cannot be read with this configuration: check "
            "CASETRAIL_ENCRYPTION_KEY (set, and the key the store was written with)"
        )

    def events_of(
        self, case_id: UUID, *, gt: int | None = None, limit: int | None = None
    ) -> list[RecordedEvent]:
        rows = self.index.case_rows(case_id, gt=gt, limit=limit)
        try:
            return [
                RecordedEvent.from_stored(case_id, r.version, r.position, self.decode(r.state))
                for r in rows
            ]
        except NotAnEntry as e:  # damaged, or written by hand: never guess at its content
            raise UnreadableEntry from e

    def last_versions(self, stop: int) -> dict[UUID, int]:
        return self.index.last_versions(stop)

    def known_events(self, case_id: UUID) -> list[RecordedEvent]:
        """Every event of the case (none for an unknown case)."""
        try:
            return self._all_events(case_id)
        except CaseNotFoundError:
            return []

    def _all_events(self, case_id: UUID) -> list[RecordedEvent]:
        """Every event of the case: the cached prefix, plus whatever was stored after it."""
        cached = self.event_cache.get(case_id)
        newer = self.events_of(case_id, gt=cached[-1].version if cached else None)
        events = [*cached, *newer]
        if not events:
            raise CaseNotFoundError(case_id)
        if newer:
            self.event_cache.put(case_id, events)
        return events

    def _recorded_by(self, case_id: UUID, known_at: datetime) -> list[RecordedEvent]:
        """Every event of the case; a case not yet recorded at `known_at` (its CaseOpened,
        version 1, recorded later) is unknown then: 404."""
        events = self._all_events(case_id)
        if events[0].recorded_at > known_at:
            raise CaseNotFoundError(case_id)
        return events

    def case_state(
        self,
        case_id: UUID,
        *,
        as_of: datetime | None = None,
        known_at: datetime | None = None,
        partner: str | None = None,
    ) -> CaseState:
        """The state; for a `partner` agency, with other agencies' restricted details withheld."""
        return self._fold(case_state, case_id, as_of, known_at, partner)

    @contextmanager
    def reading(self, case_id: UUID) -> Iterator[None]:
        """A view folded from the case's entries. If it fails, and an entry's payload is not
        one its type accepts (edited in the store with its hashes recomputed, which the chain
        cannot show; `verify` reports it), the view answers as for any unreadable entry (503):
        it shows an entry as recorded or not at all. A failure on valid entries is a bug, and
        stays one."""
        try:
            yield
        except _FOLD_FAILURES as failure:
            if isinstance(failure, NothingRecorded) or not self._holds_unacceptable(case_id):
                raise
            raise UnreadableEntry from failure

    def _holds_unacceptable(self, case_id: UUID) -> bool:
        try:
            events = self.known_events(case_id)
        except CasetrailError:
            return False
        return any(catalogue[e.type].stored_form(e.data) is None for e in events)

    def state_and_next_change(
        self,
        case_id: UUID,
        *,
        as_of: datetime | None = None,
        known_at: datetime | None = None,
        partner: str | None = None,
        now: datetime,
    ) -> tuple[CaseState, datetime | None]:
        """The state (`case_state`), and, asked as of the time of asking (no `as_of`), the first
        moment after `now` at which it shows more with no new event recorded: an entry dated a
        little ahead of the clock (within the tolerated skew), or corrected to a later time,
        happens (None when nothing is to come). Both from one read of the case's events."""
        events = self._all_events(case_id)
        state = self._fold_events(case_state, case_id, events, as_of, known_at, partner, now)
        if as_of is not None:
            return state, None
        if known_at is not None:
            return state, next_occurrence(events, as_of=now, known_at=known_at)
        return state, self._next_change(case_id, events, now)

    def _next_change(
        self, case_id: UUID, events: Sequence[RecordedEvent], now: datetime
    ) -> datetime | None:
        """`next_occurrence` as of `now` over every event read (one recorded after `now`, by a
        clock a little ahead, counts too: the state's version changes when it is known), kept
        per case with the version and the time it was found at: until the case gets a new event
        or that moment comes, it is still the next, and the events are not scanned again."""
        version = events[-1].version
        with self._upcoming_lock:
            cached = self._upcoming.get(case_id)
        if cached is not None:
            cached_version, found_at, upcoming = cached
            if (
                cached_version == version
                and found_at <= now
                and (upcoming is None or now < upcoming)
            ):
                return upcoming
        known = max(now, events[-1].recorded_at)
        upcoming = next_occurrence(events, as_of=now, known_at=known)
        with self._upcoming_lock:
            self._upcoming[case_id] = (version, now, upcoming)
            self._upcoming.move_to_end(case_id)
            while len(self._upcoming) > UPCOMING_CACHED:
                self._upcoming.popitem(last=False)
        return upcoming

    def involvement(
        self,
        case_id: UUID,
        *,
        as_of: datetime | None = None,
        known_at: datetime | None = None,
        partner: str | None = None,
    ) -> InvolvementSummary:
        """The involvement summary; for a `partner` agency, with other agencies' restricted
        details withheld."""
        return self._fold(involvement_summary, case_id, as_of, known_at, partner)

    def _fold(
        self,
        view: Callable[..., ViewT],
        case_id: UUID,
        as_of: datetime | None,
        known_at: datetime | None,
        partner: str | None,
    ) -> ViewT:
        """A view folded from the case's events (`case_state`, `involvement_summary`); for a
        partner, what other agencies marked restricted counts for when, never for what."""
        events = self._all_events(case_id)
        return self._fold_events(view, case_id, events, as_of, known_at, partner, None)

    def _fold_events(
        self,
        view: Callable[..., ViewT],
        case_id: UUID,
        events: list[RecordedEvent],
        as_of: datetime | None,
        known_at: datetime | None,
        partner: str | None,
        now: datetime | None,
    ) -> ViewT:
        now = now or self.clock()
        with self.reading(case_id):
            withheld = withheld_from(events, partner) if partner else frozenset()
            try:
                return view(
                    case_id, events, as_of=as_of or now, known_at=known_at or now, withheld=withheld
                )
            except NothingRecorded:
                raise CaseNotFoundError(case_id) from None

    def sharing_pack(
        self,
        case_id: UUID,
        *,
        for_agency: str,
        as_of: datetime | None = None,
        known_at: datetime | None = None,
    ) -> SharingPack:
        now = self.clock()
        known_at = known_at or now
        events = self._recorded_by(case_id, known_at)
        with self.reading(case_id):
            return sharing_pack(
                case_id, events, for_agency=for_agency, as_of=as_of or now, known_at=known_at
            )

    @property
    def rule_timescales(self) -> Mapping[str, int]:
        """The alert rules' local timescales set for this service (`CASETRAIL_RULE_*`)."""
        return self.settings.rule_timescales

    def alerts(
        self,
        case_id: UUID,
        *,
        as_of: datetime | None = None,
        known_at: datetime | None = None,
        break_glass_reads: Sequence[BreakGlassRead] = (),
        rules: Sequence[Rule] = RULES,
    ) -> Evaluation:
        """The case's alerts as of `as_of`, judged on what was recorded by `known_at` (and the
        case's break-glass reads, which the access audit holds)."""
        now = self.clock()
        known_at = known_at or now
        events = self._recorded_by(case_id, known_at)
        with self.reading(case_id):
            return evaluate(
                case_id,
                events,
                as_of=as_of or now,
                known_at=known_at,
                timescales=self.settings.rule_timescales,
                break_glass_reads=break_glass_reads,
                rules=rules,
            )

    def case_facts(self, case_id: UUID, *, current: bool = True) -> tuple[str, int] | None:
        """The owning authority and version of a case, from its small cached aggregate (no
        decoding of its events), fast-forwarded unless not `current`; None for an unknown
        case."""
        try:
            case = self._load(case_id, to_change=False, current=current)
        except CaseNotFoundError:
            return None
        return case.local_authority, case.version

    def current_version(self, case_id: UUID) -> int:
        version = self._current_version(case_id)
        if version is None:
            raise CaseNotFoundError(case_id)
        return version

    def chronology(
        self,
        case_id: UUID,
        *,
        as_of: datetime | None = None,
        known_at: datetime | None = None,
        min_significance: Significance = Significance.SIGNIFICANT,
        agency: str | None = None,
        types: Sequence[str] = (),
        partner: str | None = None,
    ) -> Chronology:
        now = self.clock()
        known_at = known_at or now
        events = self._recorded_by(case_id, known_at)
        with self.reading(case_id):
            return chronology(
                case_id,
                events,
                as_of=as_of or now,
                known_at=known_at,
                min_significance=min_significance,
                agency=agency,
                types=types,
                partner=partner,
            )

    def _opening(self, case_id: UUID) -> RecordedEvent:
        """The case's first event (404 for an unknown case)."""
        first = self.events_of(case_id, limit=1)
        if not first:
            raise CaseNotFoundError(case_id)
        return first[0]

    def raw_events(
        self,
        case_id: UUID,
        *,
        after_version: int = 0,
        limit: int = 100,
        known_at: datetime | None = None,
        agency: str | None = None,
    ) -> EventsPage:
        """A page of the stream after `after_version`; with `agency`, only that agency's entries
        (the cursor still moves over the versions scanned, so it never skips one)."""
        events = self.events_of(case_id, gt=after_version, limit=limit + 1)
        if not events:
            self.current_version(case_id)  # 404 for an unknown case; an empty page otherwise
        if known_at is not None:
            # A case not yet recorded at `known_at` (its opening recorded later) was unknown
            # then, as every view answers: 404, not an empty stream.
            first = events[0] if events and after_version == 0 else self._opening(case_id)
            if first.recorded_at > known_at:
                raise CaseNotFoundError(case_id)
        more = len(events) > limit
        events = events[:limit]
        if known_at is not None:
            # recorded_at never decreases along a case, so what is left is a prefix of the page.
            selected = [e for e in events if e.recorded_at <= known_at]
            more = more and len(selected) == len(events)
            events = selected
        scanned_to = events[-1].version if more and events else None
        if agency is not None:
            events = [e for e in events if e.agency == agency]
        return EventsPage(events, scanned_to)


def _may_follow(case: Case, expected: int | None, check: WriteCheck | None) -> bool:
    """Whether a batch with this `If-Match` version and `check` may follow the case's version
    (if not, and the case is as cached, it is judged again as stored)."""
    if expected not in (None, ANY_VERSION, case.version):
        return False
    if check is None:
        return True
    try:
        check.confirm(case.local_authority, case.version)
    except CasetrailError:
        return False
    return True


def _occurred_at(text: str, latest: datetime) -> Moment:
    """A valid `occurred_at`, not later than `latest`; `BadMoment` says what is wrong."""
    occurred = Moment.parse(text)
    if occurred.instant > latest:
        raise BadMoment(
            "occurred_at is later than now: an event cannot be recorded before it happens"
        )
    return occurred


def _check_no_nul(events: Sequence[dict[str, Any]]) -> None:
    """Refuse U+0000 (NUL) anywhere in a posted event: PostgreSQL holds it in no text column,
    so one in a child's name would be logged and then stop the read models at that event.

    orjson writes a NUL as `\\u0000`: a batch whose JSON holds no such text holds no NUL, and
    only one that does is walked for where."""
    try:
        if b"\\u0000" not in orjson.dumps(events):
            return
    except orjson.JSONEncodeError:
        pass  # not plain JSON: walk it
    problems = [
        FieldProblem(pointer, "must not contain U+0000 (NUL)")
        for i, raw in enumerate(events)
        for pointer in _nul_pointers(raw, f"/events/{i}")
    ]
    if problems:
        raise InvalidEvents(problems)


def _nul_pointers(value: Any, pointer: str) -> list[str]:
    """JSON pointers to the strings and object keys in `value` that hold a NUL."""
    if isinstance(value, str):
        return [pointer] if "\x00" in value else []
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}"
            found += [child] if "\x00" in str(key) else _nul_pointers(item, child)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _nul_pointers(item, f"{pointer}/{i}")
    return found


def _check_unique_ids(entries: list[dict[str, Any]]) -> None:
    seen: dict[str, int] = {}
    problems = []
    for i, entry in enumerate(entries):
        if entry["id"] in seen:
            problems.append(
                FieldProblem(f"/events/{i}/id", f"repeats the id of /events/{seen[entry['id']]}")
            )
        seen.setdefault(entry["id"], i)
    if problems:
        raise InvalidEvents(problems)


def _targets(entries: list[dict[str, Any]]) -> list[str]:
    return [
        str(e["data"]["target_event_id"]) for e in entries if catalogue[e["type"]].targets_entry
    ]


def _check_correction(index: int, entry: dict[str, Any], target_type: str) -> list[FieldProblem]:
    """A correction's replacement payload must be a valid payload of the target's type.

    The replacement is stored with the schema version it was validated against, so a later
    schema change can upcast it like any stored payload.
    """
    kind = catalogue[target_type]
    try:
        replacement = kind.payload.model_validate(entry["data"]["data"])
    except ValidationError as e:
        pointer = f"/events/{index}/data/data"
        return [
            FieldProblem(pointer + "".join(f"/{p}" for p in err["loc"]), err["msg"])
            for err in e.errors()
        ]
    entry["data"] = {
        **entry["data"],
        "data": replacement.model_dump(mode="json", by_alias=True, exclude_none=True),
        "target_schema_version": kind.schema_version,
    }
    return []


__all__ = ["ANY_VERSION", "AppendResult", "CaseRecords", "StoredResult", "derived_case_id"]
