"""The projection runner: follows the global log and keeps each read model current, exactly once.

For each read model it leads, the runner repeats, in one write transaction of the read-model
store: lock the model's tracking row, read the next page of the log after its position
(`select_notifications(position, page_size, inclusive_of_start=False)`), apply the page to the
model's tables, and move the position to the page's last notification id (compare-and-set on the
old position). Rows and position commit together or not at all, so an event is applied exactly
once whatever dies when. Ids left by rolled-back inserts on PostgreSQL are never waited for: a page
is whatever exists after the position, and the library's commit-ordered inserts mean nothing can
later appear behind it.

Leadership: one runner per model at a time, elected per model with `projections.locks` (a file
lock on SQLite, a session advisory lock on PostgreSQL), tried again at every round, so when the
leader dies or closes another runner takes over within one poll interval.

A model is only ever applied to the log it was built from. Before each page the runner checks
that the log still holds, at the model's position, the very event the model applied there (its
fingerprint is kept with the position). It does not when the read models were restored from a
backup newer than the log's: their position may be past the restored log's end, or, on SQLite,
whose log gives the lost positions again to the next appends, held by another event. Such a model
would otherwise skip those appends for good and keep cases the log lost, so the runner logs an
error, clears the model's rows and applies the whole log to it again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, Notification

from projections.locks import LeaderLock, is_held_elsewhere, leader_lock
from projections.model import AnyModel, LogReader
from projections.store import ReadModelStore, StoreSettings, Tracked

logger = logging.getLogger("casetrail.projections")

# Events per transaction. A page is applied case by case, each case's rows rebuilt from all its
# events once per page, so a long case written to heavily costs one evaluation per page: pages
# of thousands keep that to one per round when the runner has fallen behind.
DEFAULT_PAGE_SIZE = 5_000
DEFAULT_REFRESH_INTERVAL = 60.0
_MAX_REFRESH_ROUNDS = 10_000


class PositionMoved(RuntimeError):
    """The model's position changed under a batch (another writer): the batch is rolled back."""


@dataclass(frozen=True)
class ModelStatus:
    """A read model's progress along the log."""

    name: str
    position: int  # the last notification id applied (0: none yet)
    log_position: int  # the log's newest notification id
    lag: int  # log_position - position: ids, including any gaps rolled-back inserts left
    running: bool | None  # a runner holds the model's lock (None: not asked)
    started: bool = True  # False: no runner has ever initialised the model
    # The log does not hold, at `position`, the event the model applied there: the model is
    # ahead of the log or diverged from it (`lag` is then the whole log, all to apply again).
    diverged: bool = False


def log_position(recorder: ApplicationRecorder) -> int:
    """The newest notification id in the log (0 when empty)."""
    return int(recorder.max_notification_id() or 0)


def fingerprint(notification: Notification) -> str:
    """What identifies a logged event, kept with the position of the last one a model applied.
    The state carries the event's own timestamp, so an event written in another event's place
    (on SQLite, at a position a restored log gives again) never has the same fingerprint."""
    digest = hashlib.blake2b(digest_size=16)
    head = (notification.originator_id, notification.originator_version, notification.topic)
    digest.update("\n".join(map(str, head)).encode() + b"\n")
    digest.update(notification.state)
    return digest.hexdigest()


def tracked_at(notification: Notification) -> Tracked:
    """A model's position once it has applied `notification`."""
    return Tracked(notification.id, fingerprint(notification))


def divergence(recorder: ApplicationRecorder, tracked: Tracked) -> str | None:
    """Why the log is not the one a model at `tracked` was applied to (None: it is). A position
    recorded without a fingerprint (before they were kept) is checked for an event only."""
    if tracked.position == 0:
        return None
    found = recorder.select_notifications(tracked.position, 1)
    if not found or found[0].id != tracked.position:
        return f"the log holds no event at position {tracked.position}"
    if tracked.fingerprint is not None and fingerprint(found[0]) != tracked.fingerprint:
        return f"the log holds another event at position {tracked.position}"
    return None


def refresh_model(store: ReadModelStore, model: AnyModel, tables: Any, log: LogReader) -> int:
    """Bring a model's rows that change with time alone up to now (`ReadModel.refresh`): batch
    after batch, each in its own write transaction that first locks the model's tracking row,
    so a refresh never interleaves with a page being applied (by this or any other process).
    How many cases changed (0 for a model never started)."""
    total = 0
    for _ in range(_MAX_REFRESH_ROUNDS):
        with store.begin_write() as conn:
            if store.position(conn, model.name, for_update=True) is None:
                return total
            changed = model.refresh(conn, tables, log)
        total += changed
        if changed == 0:
            break
    return total


def status(
    settings: StoreSettings,
    log: LogReader,
    names: Iterable[str],
    *,
    store: ReadModelStore | None = None,
    probe_locks: bool = True,
) -> list[ModelStatus]:
    """Each model's position, the log's newest position and the lag (`casetrail projections
    status`); with `probe_locks`, whether some runner currently leads it."""
    own = store is None
    store = store or ReadModelStore(settings)
    try:
        newest = log_position(log.recorder)
        models = store.tracked_all()
        report = []
        for name in names:
            tracked = models.get(name, Tracked(0))
            diverged = divergence(log.recorder, tracked) is not None
            report.append(
                ModelStatus(
                    name=name,
                    position=tracked.position,
                    log_position=newest,
                    lag=newest if diverged else max(0, newest - tracked.position),
                    running=is_held_elsewhere(settings, name) if probe_locks else None,
                    started=name in models,
                    diverged=diverged,
                )
            )
        return report
    finally:
        if own:
            store.close()


def give_way(stop: threading.Event, busy_seconds: float, max_share: float) -> None:
    """After `busy_seconds` of work, wait long enough (or until `stop`) that the work takes at
    most `max_share` of the time: 0.2 s of work with a share of 0.25 is followed by 0.6 s of
    rest. A share of 1 never waits."""
    if not 0 < max_share <= 1:
        raise ValueError("max_share must be in (0, 1]")
    if max_share < 1:
        stop.wait(busy_seconds * (1 - max_share) / max_share)


class Runner:
    """Keeps `models` current from the log of `log` (a `CaseRecords`), leading those it can."""

    def __init__(
        self,
        settings: StoreSettings,
        log: LogReader,
        models: Sequence[AnyModel],
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        store: ReadModelStore | None = None,
    ) -> None:
        names = [m.name for m in models]
        if len(set(names)) != len(names):
            raise ValueError(f"read model names must be unique: {names}")
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.settings = settings
        self.log = log
        self.page_size = page_size
        self._owns_store = store is None
        self.store = store or ReadModelStore(settings)
        self.models = {m.name: m for m in models}
        self.tables: dict[str, Any] = {m.name: self.store.ensure(m) for m in models}
        self.locks: dict[str, LeaderLock] = {m.name: leader_lock(settings, m.name) for m in models}
        self._closed = False

    # --- leadership -----------------------------------------------------------------------

    def is_leader(self, name: str) -> bool:
        """Whether this runner held the model's lock at its last attempt."""
        return self.locks[name].held

    @property
    def leading(self) -> frozenset[str]:
        return frozenset(name for name, lock in self.locks.items() if lock.held)

    def elect(self) -> frozenset[str]:
        """Try every model's lock (non-blocking); the models this runner now leads."""
        for lock in self.locks.values():
            lock.try_acquire()
        return self.leading

    # --- running --------------------------------------------------------------------------

    def run_once(self, stop: threading.Event | None = None, *, max_share: float = 1.0) -> int:
        """Catch every model this runner leads up with the log; the number of events applied.

        The models take a page each in turn, every one of them on every pass, until a pass in
        which each read a short page: one with a long backlog (slow to apply, under a stream of
        appends) never holds the others behind it, a current one included. A model led by
        another runner is left alone (0 events for it). With a `stop` event, each page is
        followed by the rest `give_way` asks for.
        """
        if self._closed:
            raise RuntimeError("the runner is closed")
        applied = 0
        names = sorted(self.elect())
        caught_up = False
        while not caught_up:
            caught_up = True
            for name in names:
                if stop is not None and stop.is_set():
                    return applied
                began = time.monotonic()
                count = self.apply_page(name)
                applied += count
                if count and stop is not None:
                    give_way(stop, time.monotonic() - began, max_share)
                caught_up = caught_up and count < self.page_size
        return applied

    def apply_page(self, name: str) -> int:
        """Apply the next page of the log to one model, with its position, in one transaction;
        the number of events applied (0: already current). A model the log does not hold the
        position of is cleared first (see `verified`)."""
        model, tables = self.models[name], self.tables[name]
        recorder = self.log.recorder
        tracked = self.verified(name)
        if log_position(recorder) <= tracked.position:
            return 0  # current: no write transaction, no write lock taken
        with self.store.begin_write() as conn:
            locked = self.store.tracked(conn, name, for_update=True)
            if locked is None:
                raise RuntimeError(f"read model {name!r} has no tracking row")
            if locked != tracked and divergence(recorder, locked):
                raise PositionMoved(name)  # checked again, and cleared, at the next page
            notifications = recorder.select_notifications(
                locked.position, self.page_size, inclusive_of_start=False
            )
            if not notifications:
                return 0
            model.apply(conn, tables, notifications, self.log)
            if not self.store.advance(conn, name, locked.position, tracked_at(notifications[-1])):
                raise PositionMoved(name)
        return len(notifications)

    def verified(self, name: str) -> Tracked:
        """The model's position, once checked against the log: one read of the tracking row
        and one of the log at that position. A model ahead of the log or diverged from it
        (its read models restored from a newer backup than the log) has its rows cleared and
        goes back to position 0, to be rebuilt from the log page by page."""
        with self.store.begin_read() as conn:
            tracked = self.store.tracked(conn, name)
        if tracked is None:
            raise RuntimeError(f"read model {name!r} has no tracking row")
        why = divergence(self.log.recorder, tracked)
        if why is None:
            return tracked
        newest = log_position(self.log.recorder)
        with self.store.begin_write() as conn:
            if self.store.tracked(conn, name, for_update=True) != tracked:
                raise PositionMoved(name)  # another writer moved it: checked again next page
            self.store.clear(conn, self.models[name])
        self.models[name].forget()
        logger.error(
            "read model %s does not match the log: %s (it applied position %d; the log's newest "
            "is %d). Were the read models restored from a newer backup than the log? Its rows "
            "are cleared and it is rebuilt from the log",
            name,
            why,
            tracked.position,
            newest,
        )
        return Tracked(0)

    def refresh(self, name: str) -> int:
        """Bring one model's time-dependent rows up to now (see `refresh_model`)."""
        return refresh_model(self.store, self.models[name], self.tables[name], self.log)

    def run_forever(
        self,
        stop: threading.Event,
        poll_interval: float = 0.5,
        *,
        max_backoff: float = 10.0,
        refresh_interval: float = DEFAULT_REFRESH_INTERVAL,
        max_share: float = 1.0,
    ) -> None:
        """Poll until `stop` is set: catch up, then wait `poll_interval` (bounded) for more;
        every `refresh_interval` seconds, also refresh the models it leads (alerts falling due
        with no new event).

        `max_share` bounds the share of the time spent applying pages and refreshing (see
        `give_way`): a runner inside a process that answers requests gives way to them, while
        it catches up and under a heavy stream of writes, and its read models lag a little
        more instead.

        A failing round (the store unreachable, a model raising) is logged and retried after a
        growing delay, at most `max_backoff` seconds; the failed batch was rolled back.
        """
        delay = poll_interval
        next_refresh = time.monotonic()
        while not stop.is_set():
            try:
                self.run_once(stop, max_share=max_share)
                if time.monotonic() >= next_refresh:
                    for name in self.leading:
                        began = time.monotonic()
                        self.refresh(name)
                        give_way(stop, time.monotonic() - began, max_share)
                    next_refresh = time.monotonic() + refresh_interval
            except Exception:
                logger.exception("projection round failed; retrying in %.1f s", delay)
                stop.wait(delay)
                delay = min(max_backoff, max(poll_interval, delay * 2))
                continue
            delay = poll_interval
            # Caught up (each catch-up reads to a short page): wait even when it applied events,
            # so that under a stream of appends a round applies what a whole interval brought
            # (one transaction and one evaluation per case for many events), not each as it comes.
            stop.wait(poll_interval)

    # --- reporting ------------------------------------------------------------------------

    def status(self, *, probe_locks: bool = False) -> list[ModelStatus]:
        """Each model's position and lag; `running` is True where this runner leads it, and
        with `probe_locks` also where another runner does."""
        report = status(self.settings, self.log, self.models, store=self.store, probe_locks=False)
        return [
            ModelStatus(
                s.name,
                s.position,
                s.log_position,
                s.lag,
                self.locks[s.name].held
                or (is_held_elsewhere(self.settings, s.name) if probe_locks else False),
                s.started,
                s.diverged,
            )
            for s in report
        ]

    def close(self) -> None:
        """Release every lock (another runner takes over) and the store's connections."""
        self._closed = True
        for lock in self.locks.values():
            lock.release()
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
