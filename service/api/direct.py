"""The write routes' common case, bound without FastAPI's generic parameter resolution.

FastAPI resolves a route's parameters generically, for every request: about 0.2 ms here, a
third of a one-event append's own work. A write route (`DirectRoute`) first tries a `Binder`
written for its endpoint: the body parsed and validated by the endpoint's model in one step
(pydantic's JSON parser), then the dependencies the endpoint declares, in their order (so a
refusal there, a 401, 429 or 400, is the same either way), then the path parameters; then the
same endpoint runs in the thread pool. A request the binder does not take (a content type other
than `application/json`, a body that does not parse or validate, a path parameter that is not
valid) goes the whole FastAPI way, which refuses it exactly as before (a body that is not JSON
before the caller's token is read); the caller it already authenticated is not counted against
its rate limit again (`service.api.deps.authenticate`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar
from uuid import UUID

from fastapi import Request, Response
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from service.api.guard import AuditedRoute

ModelT = TypeVar("ModelT", bound=BaseModel)

# The endpoint's arguments by name; raises `Unbound` to leave the request to FastAPI.
Binder = Callable[[Request], Awaitable[dict[str, Any]]]

_UUID: TypeAdapter[UUID] = TypeAdapter(UUID)


class Unbound(Exception):
    """A request a binder leaves to FastAPI (which says what is wrong with it)."""


async def json_body(request: Request) -> bytes:
    """The request's `application/json` body, unparsed (and kept for FastAPI)."""
    content_type = request.headers.get("content-type", "")
    if content_type.partition(";")[0].strip().lower() != "application/json":
        raise Unbound
    try:
        return await request.body()  # (a body over the limit is refused by the middleware: 413)
    except ClientDisconnect:  # FastAPI's way reads it again and answers 400, to no one
        raise Unbound from None


def validated(model: type[ModelT], body: bytes) -> ModelT:
    """The body as `model`, parsed and validated in one step by pydantic's JSON parser: for
    JSON both parse, the values FastAPI gives (the standard library's parse, then the same
    validators), though a key given twice in one object may keep a different place. A body
    it refuses (not JSON, not UTF-8, nested too deep, a lone surrogate, or not valid) goes
    FastAPI's way, which says what is wrong with it."""
    try:
        return model.model_validate_json(body)
    except ValidationError:
        raise Unbound from None


def path_uuid(request: Request, name: str) -> UUID:
    """A path parameter declared as `UUID`, validated as FastAPI validates it."""
    try:
        return _UUID.validate_python(request.path_params[name])
    except (KeyError, ValidationError):
        raise Unbound from None


class DirectRoute(AuditedRoute):
    """A route whose endpoint has a `Binder` (`binds`): the common case skips FastAPI's
    parameter resolution; every other request takes it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        bind: Binder | None = _BINDERS.get(self.endpoint)
        if bind is None:
            return handler
        endpoint = self.endpoint

        async def direct(request: Request) -> Response:
            try:
                arguments = await bind(request)
            except Unbound:
                return await handler(request)
            response: Response = await run_in_threadpool(endpoint, **arguments)
            return response

        return direct


_BINDERS: dict[Callable[..., Any], Binder] = {}


def binds(endpoint: Callable[..., Any]) -> Callable[[Binder], Binder]:
    """Register a binder for `endpoint`, a route of a `DirectRoute` router."""

    def register(binder: Binder) -> Binder:
        _BINDERS[endpoint] = binder
        return binder

    return register
