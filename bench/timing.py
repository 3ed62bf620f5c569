"""Timing of repeated calls: per-call samples, median, p95 and throughput.

Measures that are compared run interleaved (`interleave`): the service's calls and the
baseline's alternate, spread evenly over the same stretch of time, so a busy machine slows both
sides alike instead of whichever happened to run at the wrong moment.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Timing:
    """Samples of one measure, in milliseconds; `units` is the work each sample does (events)."""

    samples_ms: tuple[float, ...]
    units: int = 1

    @property
    def n(self) -> int:
        return len(self.samples_ms)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95_ms(self) -> float:
        """Nearest-rank 95th percentile."""
        ordered = sorted(self.samples_ms)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]

    @property
    def per_second(self) -> float:
        """Units of work per second spent in the calls."""
        total_s = sum(self.samples_ms) / 1000
        return self.n * self.units / total_s if total_s else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "units": self.units,
            "median_ms": round(self.median_ms, 3),
            "p95_ms": round(self.p95_ms, 3),
            "per_second": round(self.per_second, 1),
            "samples_ms": [round(s, 3) for s in self.samples_ms],
        }


@dataclass(frozen=True)
class Loop(Generic[T]):
    """Prepared work: `action` is called once per item, and each call is timed."""

    items: Sequence[T]
    action: Callable[[T], object]
    units: int = 1


def repeat(action: Callable[[], object], n: int, units: int = 1) -> Loop[int]:
    return Loop(range(n), lambda _: action(), units)


def interleave(*loops: Loop[Any]) -> list[Timing]:
    """Run the loops together, each call at its loop's even share of the run; time each call."""
    schedule = sorted(
        ((i + 0.5) / len(loop.items), k, i)
        for k, loop in enumerate(loops)
        for i in range(len(loop.items))
    )
    samples: list[list[float]] = [[] for _ in loops]
    for _, k, i in schedule:
        loop = loops[k]
        before = time.perf_counter()
        loop.action(loop.items[i])
        samples[k].append((time.perf_counter() - before) * 1000)
    return [Timing(tuple(s), loop.units) for s, loop in zip(samples, loops, strict=True)]


def time_loop(loop: Loop[Any]) -> Timing:
    return interleave(loop)[0]


def merge(timings: Iterable[Timing]) -> Timing:
    """One timing of all the samples (cold reads gathered over several restarts)."""
    parts = list(timings)
    return Timing(tuple(s for t in parts for s in t.samples_ms), parts[0].units if parts else 1)
