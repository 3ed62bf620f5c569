"""How many iterations each measure runs: the full run, and the `--quick` smoke run."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Plan:
    """Iteration counts; every count is a number of timed requests or library calls."""

    small_cases: int  # appends to "a small case" rotate over this many cases (a few events each)
    single_appends: int  # 1-event appends, to small cases and to the long case
    batch_size: int  # events per request in the 100-event measure
    long_batches: int  # requests of `batch_size` events that build the long case
    read_batches: int  # requests of `batch_size` events that build the 1,000-event read case
    reads: int  # warm reads per view and case size
    cold_rounds: int  # service restarts per view, each giving one cold read per case
    library_long_reads: int  # cold `repository.get` of the long aggregate
    library_long_appends: int  # load-then-append on the long aggregate, no cache
    audit_reads: int  # warm chronology reads of the 1,000-event case, audited and not, each
    audit_records: int  # `AuditLog.record` calls in-process, on a fresh audit store
    warmup: int  # untimed calls before each timed loop
    # Untimed appends (each side) before the one-event append loops (1a, 3a): a server just
    # started, and its runner process starting beside it, are not yet what they are after.
    append_warmup: int
    # Rows 6 and 7 read the whole log of a store of their own, written in rounds: each round
    # appends one batch to every case in turn, so the cases' events interleave in the log.
    history_cases: int  # cases in that store
    history_rounds: int  # rounds of appends after each case's CaseOpened
    history_batch: int  # events per append in a round
    log_page: int  # events per page of the feed (`limit`) and of the raw log read
    rebuild_runs: int  # timed rebuilds of every read model (row 6)
    feed_passes: int  # timed passes over the whole feed, page by page (row 7)
    log_reads: int  # timed raw passes over the whole log, the baseline of rows 6, 7 and 9 each
    alert_reads: int  # row 8: warm GET alerts of each case row 4 reads, and as many GET state
    # Row 9 refreshes the alerts read model of a store of its own: this many small cases, each
    # with one pending alert, all breached by each refresh.
    alert_cases: int
    alert_refreshes: int  # timed refreshes of every case (row 9), each from the same rows
    # Row 10 reads a `read_events`-event case in a store holding only it, and the same-shaped
    # case in a store of this many events in all (cases of `read_events` events each).
    big_store_events: int

    @property
    def long_events(self) -> int:
        return self.long_batches * self.batch_size

    @property
    def small_case_events(self) -> int:
        """The most events a small case holds once its appends are done."""
        return 1 + math.ceil((self.append_warmup + self.single_appends) / self.small_cases)

    @property
    def read_events(self) -> int:
        return self.read_batches * self.batch_size

    @property
    def history_events(self) -> int:
        """The events in the log rows 6 and 7 read."""
        return self.history_cases * (1 + self.history_rounds * self.history_batch)

    @property
    def big_store_cases(self) -> int:
        """The cases of row 10's big store, each of `read_events` events."""
        return max(1, self.big_store_events // self.read_events)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


FULL = Plan(
    small_cases=20,
    single_appends=200,
    batch_size=100,
    long_batches=100,
    read_batches=10,
    reads=30,
    cold_rounds=3,
    library_long_reads=10,
    library_long_appends=10,
    audit_reads=200,
    audit_records=200,
    warmup=3,
    append_warmup=50,
    history_cases=300,
    history_rounds=7,
    history_batch=10,
    log_page=1000,
    rebuild_runs=5,
    feed_passes=5,
    log_reads=10,
    alert_reads=30,
    alert_cases=10_000,
    alert_refreshes=5,
    big_store_events=1_000_000,
)

QUICK = Plan(
    small_cases=5,
    single_appends=20,
    batch_size=100,
    long_batches=20,
    read_batches=10,
    reads=5,
    cold_rounds=1,
    library_long_reads=2,
    library_long_appends=2,
    audit_reads=10,
    audit_records=10,
    warmup=1,
    append_warmup=5,
    history_cases=20,
    history_rounds=2,
    history_batch=10,
    log_page=100,
    rebuild_runs=2,
    feed_passes=2,
    log_reads=2,
    alert_reads=5,
    alert_cases=200,
    alert_refreshes=2,
    big_store_events=20_000,
)
