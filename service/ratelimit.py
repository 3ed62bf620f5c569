"""Rate limits per principal: a token bucket for each token's `sub` and `agency`, in this process.

Each bucket holds up to `burst` requests and refills at `per_minute / 60` a second; a request
takes one, and one that finds the bucket empty is refused (429) with the seconds until the next.
Buckets live in the process: with several workers or processes each keeps its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Key = tuple[str, str]  # (sub, agency)

# Above this many buckets, full ones (the same as no bucket) are dropped.
MAX_BUCKETS = 10_000


class RateLimiter:
    def __init__(
        self,
        per_minute: int,
        burst: int,
        *,
        now: Callable[[], float] = time.monotonic,
        on_refused: Callable[[], object] | None = None,
    ) -> None:
        self.per_minute = per_minute
        self.burst = max(1, burst)
        self.rate = per_minute / 60.0  # requests a second
        self._now = now
        self._on_refused = on_refused
        self._buckets: dict[Key, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def take(self, key: Key) -> float:
        """Take one request from `key`'s bucket: 0.0 when allowed, else the seconds to wait."""
        if not self.enabled:
            return 0.0
        with self._lock:
            now = self._now()
            tokens = self._tokens(key, now)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, now)
                wait = (1 - tokens) / self.rate
            if len(self._buckets) > MAX_BUCKETS:
                self._prune(now)
        if wait and self._on_refused is not None:
            self._on_refused()
        return wait

    def _tokens(self, key: Key, now: float) -> float:
        held = self._buckets.get(key)
        if held is None:
            return float(self.burst)
        tokens, at = held
        return min(float(self.burst), tokens + (now - at) * self.rate)

    def _prune(self, now: float) -> None:
        for key in [k for k in self._buckets if self._tokens(k, now) >= self.burst]:
            del self._buckets[key]
