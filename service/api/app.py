"""The FastAPI application: wiring only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api import cases
from service.api.models import Health, Readiness
from service.api.problems import (
    Problem,
    Refusal,
    casetrail_error_handler,
    http_error_handler,
    problem_response,
    refusal_handler,
    validation_handler,
)
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


def create_app(settings: Settings | None = None, clock: Clock = system_clock) -> FastAPI:
    settings = settings or Settings()
    records = CaseRecords(settings, clock)
    tokens = TokenService(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        records.close()

    app = FastAPI(
        title="Casetrail",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.records = records
    app.state.tokens = tokens
    app.add_exception_handler(RequestValidationError, validation_handler)
    app.add_exception_handler(CasetrailError, casetrail_error_handler)
    app.add_exception_handler(Refusal, refusal_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.include_router(cases.router)

    @app.get("/health", operation_id="health", tags=["operations"])
    def health() -> Health:
        """The process is up."""
        return Health(status="ok")

    @app.get(
        "/ready",
        operation_id="ready",
        tags=["operations"],
        responses={503: {"model": Readiness, "description": "The store is unreachable"}},
    )
    def ready(request: Request) -> Any:
        """The store answers."""
        store = "postgresql" if settings.is_postgres else "sqlite"
        try:
            records.recorder.max_notification_id()
        except Exception as e:  # any failure to reach the store means "not ready"
            body = Readiness(status="unavailable", store=store, detail=type(e).__name__)
            return JSONResponse(body.model_dump(), status_code=503, headers={"Retry-After": "5"})
        return Readiness(status="ready", store=store)

    _add_problem_schema(app)
    return app


def _add_problem_schema(app: FastAPI) -> None:
    """Make sure `Problem` is in the document's components even where no route names it."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        schema.setdefault("components", {}).setdefault("schemas", {}).setdefault(
            "Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
