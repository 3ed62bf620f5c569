"""How often Python's cyclic garbage collector runs in Casetrail's long-running processes.

Python collects its youngest generation every 700 allocations, and every tenth of those the next
one, and so on: each collection of an older generation walks every object it holds. A service
process holds hundreds of thousands of long-lived objects (decoded events, caches, the app), and
a request or a page of the log allocates tens of thousands of short-lived ones (decoded JSON,
folded state, response bodies), so at the default the collector runs many times per request and
keeps walking what it cannot free (measured: it doubles the time of a feed pass or a rebuild).
Reference counting frees what a request drops either way; only reference cycles wait longer.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Allocations between collections of the youngest generation (Python's default: 700).
BULK_GC_THRESHOLD = 50_000


def collect_young_every(allocations: int) -> None:
    """Collect the youngest generation every `allocations` allocations (the older generations'
    thresholds, counted in collections of the one before, are left as they are)."""
    gc.set_threshold(allocations, *gc.get_threshold()[1:])


@contextmanager
def fewer_collections(allocations: int = BULK_GC_THRESHOLD) -> Iterator[None]:
    """For a bulk job (a rebuild): `collect_young_every(allocations)`, and every object that
    exists when it starts frozen (`gc.freeze`: the collector no longer walks them, and a full
    collection walks only what the job made); after, the thresholds as they were and the
    objects unfrozen (any that became garbage meanwhile are collected from then on)."""
    before = gc.get_threshold()
    gc.freeze()
    collect_young_every(allocations)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
