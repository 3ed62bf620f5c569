"""The FastAPI application: wiring only."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.catalogue import catalogue
from projections.alert_search import AlertSearch
from projections.case_search import CaseSearch
from projections.collector import collect_young_every
from projections.registry import default_models
from projections.runner import ModelStatus, Runner, status
from projections.store import ReadModelStore
from service.access import Gatekeeper
from service.api import audit_routes, cases, feed_routes, list_routes, practice
from service.api import integrity as integrity_routes
from service.api import operations as operations_routes
from service.api.deadline import RequestDeadline
from service.api.head import AnswerHead
from service.api.headers import REQUEST_ID
from service.api.nul import RefuseNul
from service.api.observability import Observability
from service.api.operations import log_table_name
from service.api.problems import (
    Problem,
    Refusal,
    casetrail_error_handler,
    database_error_handler,
    http_error_handler,
    problem_response,
    refusal_handler,
    responses,
    store_error_handler,
    validation_handler,
)
from service.audit import AuditLog
from service.auth import TokenService
from service.clock import Clock, system_clock
from service.errors import CasetrailError
from service.metrics import Metrics
from service.ratelimit import RateLimiter
from service.readiness import SharedProbe, check_stores
from service.records import CaseRecords
from service.settings import Settings

DESCRIPTION = """\
Casetrail keeps each child's case as an append-only, hash-chained log of events, and answers
"what had happened by then" (`as_of`) and "what the record said then" (`known_at`).

Every endpoint but `/health`, `/ready`, `/metrics`, `/docs` and `/openapi.json` needs a bearer
JWT, and is rate limited per principal (429 with `Retry-After`). Errors are RFC 9457 problem
documents (`application/problem+json`). Every response carries `X-Request-ID`.
"""


class BodyLimit:
    """Refuse bodies over the limit with 413 before they are read into memory."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        seen, too_large, started = 0, False, False

        async def counted() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_large = True
                    raise _TooLarge
            return message

        async def guarded(message: Message) -> None:
            # FastAPI turns any error raised while it reads the body into its own 400, so
            # _TooLarge may never reach us: once the limit is crossed, answer 413 instead of
            # whatever the app sends.
            nonlocal started
            if too_large and not started:
                return
            started = True
            await send(message)

        with suppress(_TooLarge):
            await self.app(scope, counted, guarded)
        if too_large and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            "body-too-large",
            "The request body is too large",
            f"a request body holds at most {self.max_bytes} bytes",
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


def store_unreachable(settings: Settings, log_table: str | None = None) -> str | None:
    """Why a store (the log, the access audit, the read models) cannot be reached right now, or
    None if they all answer.

    Uses short-lived connections of its own, never the pools requests use (see
    `service.readiness`), so a readiness probe answers promptly whatever state those are in.
    """
    problems = [
        f"{check.name}: {check.detail}"
        for check in check_stores(settings, log_table=log_table or log_table_name(settings))
        if not check.reachable
    ]
    return "; ".join(problems) or None


def create_app(settings: Settings | None = None, clock: Clock = system_clock) -> FastAPI:
    settings = settings or Settings()
    collect_young_every(settings.gc_threshold)  # in each worker: `serve` spawns them afresh
    records = CaseRecords(settings, clock)
    tokens = TokenService(settings)
    audit = AuditLog(settings)
    read_models = ReadModelStore(settings)
    case_search = CaseSearch(read_models)
    alert_search = AlertSearch(read_models)
    model_names = [model.name for model in default_models()]
    probe_stores = SharedProbe()  # /ready's and /metrics' probes: one at a time, shared

    def projection_report() -> list[ModelStatus]:
        # Probed first with short connections of its own, as /ready does: a scrape while a
        # store is down answers at once rather than waiting on a pool for a connection.
        checks = probe_stores(settings, log_table=log_table_name(settings))
        down = [f"{c.name}: {c.detail}" for c in checks if c.name != "audit" and not c.reachable]
        if down:
            raise ConnectionError("; ".join(down))
        return status(settings, records, model_names, store=read_models, probe_locks=False)

    metrics = Metrics(projection_report)
    records.observer = metrics
    audit.observer = metrics
    rate_limiter = RateLimiter(
        settings.rate_limit_per_minute,
        settings.rate_limit_burst,
        on_refused=metrics.rate_limited.inc,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The read models' runner: every worker starts one, the lock elects one leader, and a
        # follower takes over within a poll if the leader's process dies.
        stop = threading.Event()
        runner = Runner(settings, records, default_models(), store=read_models)
        thread = threading.Thread(
            target=runner.run_forever,
            args=(stop, settings.projection_poll_seconds),
            kwargs={
                "refresh_interval": settings.alerts_refresh_seconds,
                "max_share": settings.projections_in_process_share,
            },
            name="casetrail-projections",
            daemon=True,
        )
        if settings.projections_in_process:
            thread.start()
        # The thread pool's first use imports its backend and starts a worker thread, and each
        # type's first append reads its payload's JSON schema (`EntryType.plain_json`): done
        # now, not by the first requests after each start.
        await run_in_threadpool(lambda: None)
        for kind in catalogue:
            _ = kind.plain_json
        try:
            yield
        finally:
            stop.set()
            if thread.is_alive():
                thread.join(timeout=10)
            if not thread.is_alive():  # never close stores under a page still being applied
                runner.close()
                read_models.close()
            records.close()
            audit.close()

    app = FastAPI(
        title="Casetrail",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.records = records
    app.state.tokens = tokens
    app.state.gate = Gatekeeper(records)
    app.state.audit = audit
    app.state.case_search = case_search
    app.state.alert_search = alert_search
    app.state.read_models = read_models
    app.state.metrics = metrics
    app.state.rate_limiter = rate_limiter
    app.state.probe_stores = probe_stores
    app.state.model_names = model_names
    app.add_exception_handler(RequestValidationError, validation_handler)
    app.add_exception_handler(CasetrailError, casetrail_error_handler)
    app.add_exception_handler(PersistenceError, store_error_handler)
    app.add_exception_handler(SQLAlchemyError, database_error_handler)
    app.add_exception_handler(Refusal, refusal_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RefuseNul)  # a NUL in a query parameter: 422, before any route
    app.add_middleware(
        RequestDeadline,
        seconds=settings.request_deadline_seconds,
        max_long_poll_seconds=settings.feed_max_wait_seconds,
        min_position_wait_seconds=settings.projection_wait_seconds,
    )
    app.add_middleware(AnswerHead)
    # Outermost of ours: a refused body (413) is logged and measured too.
    app.add_middleware(Observability, metrics=metrics)
    app.include_router(cases.router)
    app.include_router(integrity_routes.router)
    app.include_router(audit_routes.router)
    app.include_router(practice.router)
    app.include_router(list_routes.router)
    app.include_router(feed_routes.router)

    app.include_router(operations_routes.router)

    _finish_openapi(app)
    return app


def _finish_openapi(app: FastAPI) -> None:
    """Make sure `Problem` is in the document's components even where no route names it, and
    declare the `X-Request-ID` every response carries (the outermost middleware adds it).

    FastAPI documents a 422 `HTTPValidationError` (application/json) on every operation with
    parameters that lists no 422 of its own; ours is always a problem document.
    """
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        # The models it refers to (`ProblemError`) are components too, where its refs point.
        for name, definition in problem.pop("$defs", {}).items():
            schemas.setdefault(name, definition)
        schemas.setdefault("Problem", problem)
        default_422 = {"$ref": "#/components/schemas/HTTPValidationError"}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                invalid = operation.get("responses", {}).get("422")
                if (
                    invalid
                    and invalid.get("content", {}).get("application/json", {}).get("schema")
                    == default_422
                ):
                    operation["responses"]["422"] = responses(422)[422]
                for response in operation.get("responses", {}).values():
                    response.setdefault("headers", {})["X-Request-ID"] = REQUEST_ID
        for unused in ("HTTPValidationError", "ValidationError"):
            if f"#/components/schemas/{unused}" not in json.dumps(schema):
                schemas.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
