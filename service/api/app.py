"""The FastAPI application: wiring only."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing, suppress
from typing import Any

import psycopg
from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from projections.alert_search import AlertSearch
from projections.case_search import CaseSearch
from projections.registry import default_models
from projections.runner import Runner
from projections.store import ReadModelStore
from service.access import Gatekeeper
from service.api import audit_routes, cases, feed_routes, list_routes, practice
from service.api import integrity as integrity_routes
from service.api.models import Health, Readiness
from service.api.problems import (
    RETRY_AFTER_UNAVAILABLE,
    Problem,
    Refusal,
    casetrail_error_handler,
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
from service.records import CaseRecords
from service.settings import Settings

DESCRIPTION = """\
Casetrail keeps each child's case as an append-only, hash-chained log of events, and answers
"what had happened by then" (`as_of`) and "what the record said then" (`known_at`).

Every endpoint but `/health`, `/ready`, `/docs` and `/openapi.json` needs a bearer JWT.
Errors are RFC 9457 problem documents (`application/problem+json`).
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


# How long the readiness probe waits for the store: well inside a load balancer's probe timeout.
READY_TIMEOUT_SECONDS = 2


def store_unreachable(settings: Settings) -> str | None:
    """Why the store cannot be reached right now, or None if it answers.

    Uses its own short-lived connection, never the library's recorder: that one retries a lost
    PostgreSQL connection for a long time, and a readiness probe must answer promptly.
    """
    try:
        if settings.is_postgres:
            env = settings.library_environment()
            conninfo = psycopg.conninfo.make_conninfo(
                host=env["POSTGRES_HOST"],
                port=env["POSTGRES_PORT"],
                dbname=env["POSTGRES_DBNAME"],
                user=env["POSTGRES_USER"] or None,
                password=env["POSTGRES_PASSWORD"] or None,
                connect_timeout=READY_TIMEOUT_SECONDS,
            )
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute("SELECT 1").fetchone()
        else:
            # mode=rw: a missing log file is "not ready", never silently created here.
            uri = settings.sqlite_path.resolve().as_uri() + "?mode=rw"
            with closing(sqlite3.connect(uri, uri=True, timeout=1)) as conn:
                conn.execute("SELECT 1").fetchone()
    except (psycopg.Error, sqlite3.Error, OSError) as e:
        return type(e).__name__
    return None


def create_app(settings: Settings | None = None, clock: Clock = system_clock) -> FastAPI:
    settings = settings or Settings()
    records = CaseRecords(settings, clock)
    tokens = TokenService(settings)
    audit = AuditLog(settings)
    read_models = ReadModelStore(settings)
    case_search = CaseSearch(read_models)
    alert_search = AlertSearch(read_models)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The read models' runner: every worker starts one, the lock elects one leader, and a
        # follower takes over within a poll if the leader's process dies.
        stop = threading.Event()
        runner = Runner(settings, records, default_models(), store=read_models)
        thread = threading.Thread(
            target=runner.run_forever,
            args=(stop, settings.projection_poll_seconds),
            kwargs={"refresh_interval": settings.alerts_refresh_seconds},
            name="casetrail-projections",
            daemon=True,
        )
        if settings.projections_in_process:
            thread.start()
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
    app.add_exception_handler(RequestValidationError, validation_handler)
    app.add_exception_handler(CasetrailError, casetrail_error_handler)
    app.add_exception_handler(PersistenceError, store_error_handler)
    app.add_exception_handler(Refusal, refusal_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.include_router(cases.router)
    app.include_router(integrity_routes.router)
    app.include_router(audit_routes.router)
    app.include_router(practice.router)
    app.include_router(list_routes.router)
    app.include_router(feed_routes.router)

    @app.get("/health", operation_id="health", tags=["operations"])
    def health() -> Health:
        """The process is up."""
        return Health(status="ok")

    @app.get(
        "/ready",
        operation_id="ready",
        tags=["operations"],
        responses={
            503: {
                "model": Readiness,
                "description": "The store is unreachable",
                "headers": {
                    "Retry-After": {
                        "description": "Seconds to wait before retrying",
                        "schema": {"type": "integer"},
                    }
                },
            }
        },
    )
    def ready(request: Request) -> Any:
        """The store answers."""
        current: Settings = request.app.state.settings
        store = "postgresql" if current.is_postgres else "sqlite"
        problem = store_unreachable(current)
        if problem is not None:
            body = Readiness(status="unavailable", store=store, detail=problem)
            return JSONResponse(
                body.model_dump(),
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
            )
        return Readiness(status="ready", store=store)

    _add_problem_schema(app)
    return app


def _add_problem_schema(app: FastAPI) -> None:
    """Make sure `Problem` is in the document's components even where no route names it.

    FastAPI documents a 422 `HTTPValidationError` (application/json) on every operation with
    parameters that lists no 422 of its own; ours is always a problem document.
    """
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas.setdefault(
            "Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        )
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
        for unused in ("HTTPValidationError", "ValidationError"):
            if f"#/components/schemas/{unused}" not in json.dumps(schema):
                schemas.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
