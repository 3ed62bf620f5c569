"""The outermost middleware: a request id on every response, one access log line, the metrics.

Routes are named by their template (`/cases/{case_id}/events`), never by the URL, so no id or
query string reaches a log line or a metric label.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import fastapi.routing
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.problems import problem_response
from service.logs import RequestContext, current_request, request_id
from service.metrics import Metrics

access_log = logging.getLogger("casetrail.access")

HEADER = "X-Request-ID"
UNMATCHED = "unmatched"  # the route of a request no route matched (a 404)


class Observability:
    """Tags each request with an id (echoed or generated), logs and measures its answer."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        incoming = dict(scope["headers"]).get(HEADER.lower().encode())
        context = RequestContext(
            request_id=request_id(incoming.decode("latin-1") if incoming else None),
            method=scope["method"],
        )
        token = current_request.set(context)
        status = 500
        started = False
        header = (HEADER.encode(), context.request_id.encode())

        async def tagged(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        except Exception:
            # Answer the 500 here, so it carries the request id too; then let it propagate to
            # the server, which logs the traceback (still tagged with this request: the context
            # is left set on this request's own task).
            self._finish(scope, context, 500, started_at)
            if not started:
                response = problem_response(
                    500,
                    "internal",
                    "Internal error",
                    f"an unexpected error, logged with request id {context.request_id}",
                    headers={HEADER: context.request_id},
                )
                await response(scope, receive, send)
            raise
        self._finish(scope, context, status, started_at)
        current_request.reset(token)

    def _finish(self, scope: Scope, context: RequestContext, status: int, since: float) -> None:
        seconds = time.perf_counter() - since
        route = route_template(scope)
        context.route = route
        self.metrics.request(context.method, route, status, seconds)
        access_log.log(
            logging.WARNING if status >= 500 else logging.INFO,
            "%s %s %s",
            context.method,
            route,
            status,
            extra={"status": status, "duration_ms": round(seconds * 1000, 3)},
        )


def route_template(scope: Scope) -> str:
    """The template of the route that answered (or would have: a body refused before routing)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    app: Any = scope.get("app")
    partial: str | None = None
    for candidate in _routes(app):
        match, _ = candidate.matches(scope)
        candidate_path = getattr(candidate, "path", None)
        if not isinstance(candidate_path, str):
            continue
        if match is Match.FULL:
            return candidate_path
        if match is Match.PARTIAL and partial is None:
            partial = candidate_path
    return partial or UNMATCHED


def _routes(app: Any) -> list[BaseRoute]:
    """Every route of the app, included routers flattened."""
    if app is None:
        return []
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    if iterate is None:  # FastAPI versions that flatten included routers into `app.routes`
        return list(app.routes)
    return [
        c.original_route for c in iterate(app.routes) if isinstance(c.original_route, BaseRoute)
    ]
