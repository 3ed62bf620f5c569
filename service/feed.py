"""The integrators' global feed: the log in position order, filtered to what the caller may read.

The cursor is the library's notification id (`position`). Access is judged at request time, once
per case per page, with the same gatekeeper as the per-case reads — but without break-glass: an
emergency justifies reading one case, never following every case in the log. What a caller may
not see is skipped, and the cursor still moves over it, so a client neither rescans filtered
events nor misses one. Access granted later does not replay what is already behind a cursor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from domain.access import View, partner_feed_view
from domain.envelope import RESTRICTED, NotAnEntry, RecordedEvent
from domain.moments import format_utc, parse_utc
from projections.model import case_id_of
from service.access import Gatekeeper
from service.errors import UnreadableEntry
from service.principal import Principal
from service.records import CaseRecords

# Rows read from the log per query: the library reads best 500 to 1,000 at a time (DESIGN.md).
ROWS_PER_READ = 1000


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One event as the caller's feed carries it: in full, or as a restricted placeholder."""

    position: int
    case_id: str
    type: str
    restricted: bool
    body: dict[str, Any]


@dataclass(frozen=True)
class FeedPage:
    """A page of the feed; `next` is the position of the last notification scanned."""

    items: list[FeedItem]
    next: int
    exhausted: bool  # the scan reached the end of the log as it stood
    partners: frozenset[str] = frozenset()  # the cases the caller read in a partner's view

    @property
    def case_ids(self) -> tuple[str, ...]:
        """The cases the page returned, each once, in the order they first appear."""
        return tuple(dict.fromkeys(item.case_id for item in self.items))

    @property
    def partner_case_ids(self) -> tuple[str, ...]:
        """Those of `case_ids` the caller read in a partner's view (for the audit)."""
        return tuple(c for c in self.case_ids if c in self.partners)


@dataclass
class _CaseView:
    """What the caller sees of one case during one page."""

    view: View
    case_id: str
    full: frozenset[str] = frozenset()
    placeholders: frozenset[str] = frozenset()
    covered_version: int = 0  # the partner's sets were computed over versions up to this


@dataclass
class _Scan:
    principal: Principal
    types: frozenset[str]
    log_head: int  # the log's newest position when the page began
    views: dict[UUID, _CaseView] = field(default_factory=dict)

    def page(self, items: list[FeedItem], cursor: int, *, exhausted: bool) -> FeedPage:
        partners = frozenset(v.case_id for v in self.views.values() if v.view is View.PARTNER)
        return FeedPage(items, cursor, exhausted, partners)


@lru_cache(maxsize=4096)
def _recorded_at(stored: str) -> str:
    """As `StoredEvent` writes it (a batch's events share one value: formatting is slow)."""
    return format_utc(parse_utc(stored))


def stored_event_body(
    case_id: str, version: int, position: int, entry: Mapping[str, Any]
) -> dict[str, Any]:
    """The JSON of `service.api.models.StoredEvent` (as `GET /cases/{id}/events` returns it),
    built directly from the stored entry: no model validation on the feed's hot path."""
    return {
        "case_id": case_id,
        "version": version,
        "position": position,
        "id": entry["id"],
        "type": entry["type"],
        "schema_version": entry.get("schema_version", 1),
        "occurred_at": entry["occurred_at"],
        "occurred_precision": entry["occurred_precision"],
        "recorded_at": _recorded_at(entry["recorded_at"]),
        "recorded_by": entry["recorded_by"],
        "author": entry.get("author") or None,
        "source": entry.get("source") or None,
        "sensitivity": entry.get("sensitivity", "normal"),
        "data": entry["data"],
        "hash": entry["hash"],
    }


def placeholder_body(
    case_id: str, version: int, position: int, entry: Mapping[str, Any]
) -> dict[str, Any]:
    """What a partner sees of another agency's restricted entry: its place, date and type and
    the note that it exists; never its data, author, source or hash."""
    return {
        "position": position,
        "case_id": case_id,
        "version": version,
        "id": entry["id"],
        "type": entry["type"],
        "occurred_at": entry["occurred_at"],
        "occurred_precision": entry["occurred_precision"],
        "recorded_at": _recorded_at(entry["recorded_at"]),
        "sensitivity": "restricted",
        "note": RESTRICTED,
    }


class Feed:
    """Reads the global log for one caller: pages after a position, filtered by type and access."""

    def __init__(self, records: CaseRecords, gate: Gatekeeper, *, scan_limit: int) -> None:
        self.records = records
        self.gate = gate
        self.scan_limit = scan_limit

    def head(self) -> int:
        """The newest position in the log (0 when empty)."""
        return int(self.records.recorder.max_notification_id() or 0)

    def page(
        self,
        principal: Principal,
        *,
        after: int,
        limit: int,
        types: Iterable[str] = (),
    ) -> FeedPage:
        """Up to `limit` events after `after` that the caller may read, of `types` if given.

        Stops at `limit` events, at the end of the log as it stood when the page began, or
        after `scan_limit` notifications: every case's access is decided on facts read after
        that end, so a page never judges a newer event on older facts (an event naming a
        partner for the first time is left to the next page, not dropped). A page is whatever
        exists after `after` (ids left by rolled-back inserts are never waited for: the
        library's inserts give ids in commit order).
        """
        scan = _Scan(principal, frozenset(types), self.head())
        recorder = self.records.recorder
        items: list[FeedItem] = []
        cursor, scanned = after, 0
        rows_wanted = min(ROWS_PER_READ, limit)
        while True:
            rows_wanted = min(rows_wanted, self.scan_limit - scanned)
            rows = recorder.select_notifications(
                cursor, rows_wanted, stop=scan.log_head, inclusive_of_start=False
            )
            for notification in rows:
                scanned += 1
                cursor = notification.id
                try:
                    item = self._item(scan, notification)
                except UnreadableEntry:
                    # The feed stops at what it cannot read rather than pass over it, and says
                    # so naming no case: the caller may not be one who may know it exists.
                    raise UnreadableEntry from None
                if item is not None:
                    items.append(item)
                    if len(items) == limit:
                        return scan.page(items, cursor, exhausted=False)
            if len(rows) < rows_wanted:
                return scan.page(items, cursor, exhausted=True)
            if scanned >= self.scan_limit:
                return scan.page(items, cursor, exhausted=False)
            rows_wanted = ROWS_PER_READ  # what is left is being filtered: read whole pages

    def _item(self, scan: _Scan, notification: Notification) -> FeedItem | None:
        case_id = case_id_of(notification)
        version = notification.originator_version
        seen = self._view(scan, case_id, version)
        if seen.view is View.NONE:
            return None  # never decoded
        entry = self.records.decode(notification.state)
        try:  # an entry no view can read is not served as it now is, nor guessed at
            RecordedEvent.from_stored(case_id, version, notification.id, entry)
        except NotAnEntry as e:
            raise UnreadableEntry from e
        if scan.types and entry["type"] not in scan.types:
            return None
        position = notification.id
        if seen.view is View.FULL:
            body = stored_event_body(seen.case_id, version, position, entry)
            return FeedItem(position, seen.case_id, entry["type"], False, body)
        if entry["id"] in seen.full:
            body = stored_event_body(seen.case_id, version, position, entry)
            return FeedItem(position, seen.case_id, entry["type"], False, body)
        if entry["id"] in seen.placeholders:
            body = placeholder_body(seen.case_id, version, position, entry)
            return FeedItem(position, seen.case_id, entry["type"], True, body)
        return None

    def _view(self, scan: _Scan, case_id: UUID, version: int) -> _CaseView:
        """The caller's view of the case, decided once per page; a partner's sets are
        recomputed only when the page reaches a version written after they were."""
        seen = scan.views.get(case_id)
        if seen is None:
            decision = self.gate.decide(
                scan.principal, case_id, emergency=False, log_head=scan.log_head
            )
            seen = scan.views[case_id] = _CaseView(decision.view, str(case_id))
        if seen.view is View.PARTNER and version > seen.covered_version:
            events = self.records.known_events(case_id)
            if events:
                known_at = max(self.records.clock(), events[-1].recorded_at)
                seen.full, seen.placeholders = partner_feed_view(
                    events, scan.principal.agency, known_at=known_at
                )
                seen.covered_version = events[-1].version
        return seen
