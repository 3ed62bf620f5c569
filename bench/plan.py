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

    @property
    def long_events(self) -> int:
        return self.long_batches * self.batch_size

    @property
    def small_case_events(self) -> int:
        """The most events a small case holds once its appends are done."""
        return 1 + math.ceil((self.warmup + self.single_appends) / self.small_cases)

    @property
    def read_events(self) -> int:
        return self.read_batches * self.batch_size

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
)
