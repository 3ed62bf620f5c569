"""RFC 9457 problem details, and the one table that maps Casetrail's errors to HTTP."""

from __future__ import annotations

from typing import Any

import sqlalchemy.exc
from eventsourcing.persistence import IntegrityError, PersistenceError
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from domain.catalogue import catalogue
from service.api.headers import RETRY_AFTER
from service.errors import (
    CaseExistsError,
    CaseNotFoundError,
    CasetrailError,
    EventIdReused,
    Forbidden,
    InvalidEvents,
    StoreBusy,
    UnreadableEntry,
    VersionMismatch,
)

PROBLEM_JSON = "application/problem+json"

# Seconds a client should wait before retrying when the store or the keys are unavailable.
RETRY_AFTER_UNAVAILABLE = 5


class ProblemError(BaseModel):
    pointer: str | None = None
    parameter: str | None = None
    detail: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemError] | None = None


def problem_type(slug: str) -> str:
    return f"urn:casetrail:problem:{slug}"


class Refusal(Exception):
    """An HTTP-level refusal raised by the API layer (auth, preconditions, limits)."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.headers = headers or {}
        self.extra = extra


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {"type": problem_type(slug), "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def store_unavailable() -> JSONResponse:
    """503 store-unavailable: the store could not be reached in time; retry after Retry-After."""
    return problem_response(
        503,
        "store-unavailable",
        "The store is unavailable",
        "the case log could not be reached in time; retry (a retried write is idempotent)",
        headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
    )


def store_unreachable(error: BaseException) -> bool:
    """Whether `error` says a store could not be reached in time (503 store-unavailable), not
    that the request or the code was wrong.

    The library's database errors (SQLite locked beyond its timeout, PostgreSQL down or
    unreachable) are, but not IntegrityError: a version conflict the use cases resolve, one that
    escapes them is a bug (500). Of SQLAlchemy's (the access audit's and the read models'
    stores), a lost or refused connection, or a pool with no connection free in time."""
    if isinstance(error, PersistenceError):
        return not isinstance(error, IntegrityError)
    if isinstance(error, sqlalchemy.exc.TimeoutError):
        return True
    return isinstance(error, sqlalchemy.exc.DBAPIError) and (
        error.connection_invalidated
        or isinstance(error, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError)
    )


def _from_error(error: Exception) -> JSONResponse:
    if isinstance(error, PersistenceError) and store_unreachable(error):
        return store_unavailable()
    if isinstance(error, InvalidEvents):
        return problem_response(
            422,
            "validation",
            "The request is not valid",
            str(error),
            errors=[{"pointer": p.pointer, "detail": p.detail} for p in error.problems],
        )
    if isinstance(error, CaseNotFoundError):
        return problem_response(404, "case-not-found", "No such case", str(error))
    if isinstance(error, Forbidden):
        return problem_response(403, "forbidden", "Not allowed", error.reason)
    if isinstance(error, CaseExistsError):
        return problem_response(409, "case-exists", "The case already exists", str(error))
    if isinstance(error, EventIdReused):
        return problem_response(
            409, "event-id-reused", "Event ids already used", str(error), event_ids=error.event_ids
        )
    if isinstance(error, VersionMismatch):
        return problem_response(
            412,
            "version-mismatch",
            "The case has moved on",
            str(error),
            current_version=error.current,
            expected_version=error.expected,
        )
    if isinstance(error, UnreadableEntry):
        return problem_response(
            503,
            "store-unreadable",
            "Stored records cannot be read",
            str(error),
            headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
        )
    if isinstance(error, StoreBusy):
        retry = str(error.retry_after_seconds)
        return problem_response(
            503,
            "busy",
            "Too many concurrent writers",
            "the append could not be ordered against concurrent writers in time; retry it",
            headers={"Retry-After": retry},
        )
    raise error


def _pointer(loc: tuple[Any, ...]) -> tuple[str | None, str | None]:
    """A request-validation location as a JSON pointer into the body, or a parameter name."""
    where, *path = loc
    if where != "body":
        return None, str(path[0]) if path else str(where)
    parts: list[str] = []
    for i, part in enumerate(path):
        # A discriminated union names the tag it chose; the body has no such level.
        if isinstance(part, str) and part in catalogue and i > 0 and isinstance(path[i - 1], int):
            continue
        parts.append(str(part).replace("~", "~0").replace("/", "~1"))
    return "".join("/" + part for part in parts), None  # the whole body is "" (RFC 6901)


async def validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem_response(
            400,
            "malformed-json",
            "The body is not valid JSON",
            errors[0].get("msg", "invalid JSON"),
        )
    items: list[dict[str, Any]] = []
    for error in errors:
        if tuple(error["loc"]) == ("body",) and not _sent_as_json(request):
            # FastAPI hands a body of any other type to the model as bytes, which it calls "not
            # a valid dictionary": the header is what the client has to fix.
            sent_as: dict[str, Any] = {"parameter": "Content-Type", "detail": _not_json(request)}
            if sent_as not in items:
                items.append(sent_as)
            continue
        pointer, parameter = _pointer(tuple(error["loc"]))
        detail = str(error["msg"])
        if error.get("type") == "union_tag_invalid":
            detail = f"unknown event type; known types: {', '.join(catalogue.names())}"
        if error.get("type") in ("union_tag_invalid", "union_tag_not_found") and pointer:
            pointer += "/type"  # the events' union is discriminated on `type`: point at it
        item: dict[str, Any] = {"detail": detail}
        if pointer is not None:
            item["pointer"] = pointer
        else:
            item["parameter"] = parameter
        # A path parameter is validated once for the route and once for each dependency that
        # reads it (the access guard reads `case_id`): the client made one mistake.
        if item not in items:
            items.append(item)
    summary = "; ".join(f"{_where(i)}: {i['detail']}" for i in items[:5])
    return problem_response(422, "validation", "The request is not valid", summary, errors=items)


def _where(item: dict[str, Any]) -> str:
    """What an error item names, in words for a problem's `detail`."""
    if "pointer" not in item:
        return str(item["parameter"])
    return str(item["pointer"]) or "the body"


def _sent_as_json(request: Request) -> bool:
    """Whether FastAPI parsed the body as JSON: `application/json` or any `+json` type."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def _not_json(request: Request) -> str:
    sent = request.headers.get("content-type", "").partition(";")[0].strip()
    if not sent:
        return "send the body as application/json (or a +json type) and say so in Content-Type"
    return f"send the body as application/json (or a +json type), not {sent}"


async def casetrail_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CasetrailError)
    return _from_error(exc)


async def store_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PersistenceError)
    return _from_error(exc)


async def database_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """SQLAlchemy's errors from the access audit's and the read models' stores: a lost or
    refused connection, or a pool with no connection free in time, is 503 store-unavailable;
    anything else is a bug (500)."""
    assert isinstance(exc, SQLAlchemyError)
    if store_unreachable(exc):
        return store_unavailable()
    raise exc


async def refusal_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refusal)
    return problem_response(
        exc.status, exc.slug, exc.title, exc.detail, headers=exc.headers, **exc.extra
    )


# What FastAPI says of a body whose JSON text it could not even decode (its cause attached).
_UNREADABLE_BODY = "There was an error parsing the body"


def _unreadable(cause: BaseException | None) -> str:
    if isinstance(cause, UnicodeDecodeError):
        return "the body is not UTF-8 (or UTF-16 or UTF-32): send JSON in UTF-8"
    if isinstance(cause, RecursionError):
        return "the body is nested too deeply to read"
    return "the body cannot be read as JSON"


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _UNREADABLE_BODY:
        return problem_response(
            400, "malformed-json", "The body is not valid JSON", _unreadable(exc.__cause__)
        )
    slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return problem_response(
        exc.status_code, slug, str(exc.detail), str(exc.detail), headers=headers
    )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path (the router's own 405 names only
    the first route it found there: `POST` for `/cases`, which `GET` also serves), and HEAD
    wherever GET is (`service.api.head`)."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]
    if "GET" in allowed and "HEAD" not in allowed:
        allowed.insert(allowed.index("GET") + 1, "HEAD")
    return allowed


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problems an endpoint can answer (only as problem documents).

    Every endpoint that needs a token can also answer 503 (its keys, or the store, unavailable)
    and 429 (its principal over the rate limit), so listing 401 lists 429 and 503 too.
    """
    described = {
        400: "Malformed request",
        401: "Missing or invalid bearer token",
        403: "The access policy refuses it (the reason is given)",
        404: "No such case (or one the caller may not see)",
        409: "Conflict: event ids reused, or the case already exists",
        412: "If-Match precondition failed",
        413: "Body or batch too large",
        422: "Validation failed",
        429: "Rate limited: the token's principal is over its request rate; retry after "
        "Retry-After seconds",
        503: "Unavailable (the store or the token keys cannot be reached, or concurrent writers "
        "kept winning): retry after Retry-After seconds",
    }
    wanted = set(statuses) | ({429, 503} if 401 in statuses else set())
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted(wanted):
        out[status] = {
            "description": described[status],
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        if status in (429, 503):
            out[status]["headers"] = {"Retry-After": RETRY_AFTER}
    return out
