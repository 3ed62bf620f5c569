"""The baseline: the `eventsourcing` library alone, measured beside the service in the same run.

A plain `Application` (no aggregate cache, no snapshots) with a small `Aggregate` whose events
carry the same client event dicts the service is sent, on its own store with the same durability
(SQLite: the library's WAL mode and default `synchronous`; PostgreSQL: its default insert path).
It measures load-then-append of one event, a raw one-event insert, 100-event transactions, and
cold reconstruction with `repository.get`. Each function returns prepared work (a `Loop`).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

from bench.events import Event, EventStream
from bench.timing import Loop, repeat
from service.settings import Settings


class Note(Aggregate):
    """The baseline's small aggregate: its state is only the id of its last entry."""

    class Started(Aggregate.Created):
        entry: dict[str, Any]

    class Noted(Aggregate.Event):
        entry: dict[str, Any]

        def apply(self, aggregate: Aggregate) -> None:
            if isinstance(aggregate, Note):
                aggregate.last_entry_id = self.entry["id"]

    def __init__(self, entry: dict[str, Any]) -> None:
        self.last_entry_id: str = entry["id"]

    @classmethod
    def start(cls, entry: Event) -> Note:
        return cls._create(cls.Started, id=uuid.uuid4(), entry=entry)

    def note(self, entry: Event) -> None:
        self.trigger_event(self.Noted, entry=entry)


class Library(Application[UUID]):
    """A plain application of the library: every `repository.get` reconstructs from the store."""

    name = "BenchLibrary"


def open_library(settings: Settings) -> Library:
    """The library on its own store, mapped as the service maps its settings, minus the cache."""
    env = settings.library_environment()
    for key in ("AGGREGATE_CACHE_MAXSIZE", "AGGREGATE_CACHE_FASTFORWARD"):
        env.pop(key, None)
    return Library(env)


Target = tuple[UUID, EventStream]


def start_aggregates(app: Library, count: int) -> list[Target]:
    """`count` new aggregates, one event each, with the streams that feed them."""
    started = []
    for _ in range(count):
        stream = EventStream()
        note = Note.start(stream.opened())
        app.save(note)
        started.append((note.id, stream))
    return started


def load_then_append(app: Library, targets: Sequence[Target], n: int) -> Loop[tuple[UUID, Event]]:
    """`repository.get` + one event + `save`, rotating over the targets."""
    rotation = itertools.islice(itertools.cycle(targets), n)
    work = [(aggregate_id, stream.next()) for aggregate_id, stream in rotation]

    def append(item: tuple[UUID, Event]) -> None:
        note: Note = app.repository.get(item[0])
        note.note(item[1])
        app.save(note)

    return Loop(work, append)


def raw_inserts(app: Library, n: int) -> Loop[StoredEvent]:
    """`recorder.insert_events` of one `StoredEvent` (a realistic event's JSON) at a time."""
    originator, stream = uuid.uuid4(), EventStream()
    rows = [
        StoredEvent(originator, version, "bench:RawEvent", orjson.dumps(stream.next()))
        for version in range(1, n + 1)
    ]
    return Loop(rows, lambda row: app.recorder.insert_events([row]))


class BatchBuilder:
    """One aggregate built `size` events at a time, one `save` each (kept in memory between)."""

    def __init__(self, app: Library, batches: int, size: int) -> None:
        self.app = app
        self.stream = EventStream()
        self.note: Note | None = None
        self.loop = Loop([self.stream.take(size) for _ in range(batches)], self._save, size)

    def _save(self, events: list[Event]) -> None:
        if self.note is None:
            self.note, events = Note.start(events[0]), events[1:]
        for entry in events:
            self.note.note(entry)
        self.app.save(self.note)

    @property
    def target(self) -> Target:
        if self.note is None:
            raise RuntimeError("nothing built yet")
        return self.note.id, self.stream


def cold_gets(app: Library, aggregate_id: UUID, n: int) -> Loop[int]:
    """`repository.get` with no cache: every call reconstructs from every stored event."""
    return repeat(lambda: app.repository.get(aggregate_id), n)
