"""Every request answers within its deadline (`CASETRAIL_REQUEST_DEADLINE_SECONDS`).

The deadline is put in a context variable (`service.deadline`) that follows the request into the
worker thread running it, so the store's retries stop in time. This middleware is the backstop
for whatever else could hold a request: a query on a connection whose server vanished without
closing it, a lock held elsewhere. When the deadline passes before the response has started, it
answers 503 with `Retry-After` at once and lets the request's work finish in the background (a
thread cannot be interrupted), ignoring whatever it would have sent. A write that completes
after its client was told 503 is harmless: the client's retry is answered as a replay.

Waiting on purpose gets its wait on top of the deadline: `GET /feed?wait=S` (up to the feed's
maximum) and `X-Min-Position` (up to `CASETRAIL_PROJECTION_WAIT_SECONDS`). The SSE stream, which
never ends by design, has no deadline.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.problems import RETRY_AFTER_UNAVAILABLE, problem_response
from service.deadline import request_deadline

logger = logging.getLogger("casetrail.deadline")

NO_DEADLINE_PATHS = frozenset({"/feed/stream"})
LONG_POLL_PATHS = frozenset({"/feed"})

# Requests answered 503 whose work is still running: kept referenced until they finish.
_abandoned: set[asyncio.Task[Any]] = set()


def _finished(task: asyncio.Task[Any]) -> None:
    _abandoned.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.warning(
            "a request answered 503 at its deadline later failed", exc_info=task.exception()
        )


class RequestDeadline:
    """ASGI middleware: 503 + Retry-After for a request whose response has not started by its
    deadline."""

    def __init__(
        self,
        app: ASGIApp,
        seconds: float,
        *,
        max_long_poll_seconds: float = 0.0,
        min_position_wait_seconds: float = 0.0,
    ) -> None:
        self.app = app
        self.seconds = seconds
        self.max_long_poll_seconds = max_long_poll_seconds
        self.min_position_wait_seconds = min_position_wait_seconds

    def budget(self, scope: Scope) -> float | None:
        """The request's deadline in seconds from now; None for no deadline."""
        path = scope.get("path", "")
        if path in NO_DEADLINE_PATHS:
            return None
        budget = self.seconds
        if path in LONG_POLL_PATHS:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            try:
                wait = float(query.get("wait", ["0"])[-1])
            except ValueError:
                wait = 0.0  # the route refuses it (422)
            if wait > 0:  # (NaN is not)
                budget += min(wait, self.max_long_poll_seconds)
        if any(name == b"x-min-position" for name, _ in scope.get("headers", ())):
            budget += self.min_position_wait_seconds
        return budget

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        budget = self.budget(scope) if scope["type"] == "http" else None
        if budget is None:
            await self.app(scope, receive, send)
            return
        started = abandoned = False

        async def guarded(message: Message) -> None:
            nonlocal started
            if abandoned:
                return  # the client was already told 503
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with request_deadline(budget):
            # The task copies the context now: the deadline goes with the request.
            task = asyncio.ensure_future(self.app(scope, receive, guarded))
        try:
            done, _ = await asyncio.wait({task}, timeout=budget)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if done or started:
            await task  # finished (its errors are raised here), or already answering
            return
        abandoned = True
        _abandoned.add(task)
        task.add_done_callback(_finished)
        response = problem_response(
            503,
            "deadline-exceeded",
            "The request did not complete in time",
            f"no answer within {budget:g} seconds (the store may be unavailable); retry after "
            "Retry-After seconds (a retried write is idempotent)",
            headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
        )
        await response(scope, receive, send)
