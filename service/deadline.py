"""The request deadline, and how long the store may be retried within it.

`CASETRAIL_REQUEST_DEADLINE_SECONDS` bounds every request (see `service.api.deadline`): the
middleware puts the request's deadline in a context variable, which follows the request into the
worker thread that runs it, so the store's retries stop when the request has no time left.
Outside a request (the projection runner, the CLI) a retry loop gets a budget of its own.

A retry is only worth it when the store answered badly once (a connection found broken by the
server restarting): a pool that could not hand out a connection at all has already waited its
whole connect timeout, and the store is down, so that error is never retried here: the request
answers 503 at once, and the client retries after `Retry-After`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

import psycopg_pool
from eventsourcing.persistence import InterfaceError, OperationalError

T = TypeVar("T")

_DEADLINE: ContextVar[float | None] = ContextVar("casetrail_request_deadline", default=None)

# The longest pause between two attempts.
_MAX_PAUSE = 1.0


@contextmanager
def request_deadline(seconds: float) -> Iterator[float]:
    """Run the block under a deadline `seconds` from now (monotonic); yields the deadline."""
    deadline = time.monotonic() + seconds
    token = _DEADLINE.set(deadline)
    try:
        yield deadline
    finally:
        _DEADLINE.reset(token)


def time_left(default: float) -> float:
    """Seconds left before the current request's deadline (never negative); `default` when
    there is no request."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return default
    return max(0.0, deadline - time.monotonic())


def store_down(error: BaseException) -> bool:
    """Whether `error` says the store cannot be reached at all: the pool waited its whole
    timeout for a connection (or refused to queue another waiter)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, psycopg_pool.PoolTimeout | psycopg_pool.TooManyRequests):
            return True
        seen = seen.__cause__
    return False


def retry_reads(call: Callable[[], T], *, budget: float) -> T:
    """`call()`, tried again after a lost or broken connection while the request's deadline
    (or `budget` seconds, outside a request) allows, never after the store was found down.

    Only for calls that change nothing: an insert whose connection was lost may have committed,
    and is resolved by looking its event ids up instead (`CaseRecords`).
    """
    end = time.monotonic() + time_left(budget)
    pause = 0.05
    while True:
        try:
            return call()
        except (InterfaceError, OperationalError) as error:
            if store_down(error) or time.monotonic() + pause >= end:
                raise
        time.sleep(pause)
        pause = min(_MAX_PAUSE, pause * 2)
