"""The write routes' common case, bound without FastAPI's generic parameter resolution.

FastAPI resolves a route's parameters generically, for every request: about 0.2 ms here, as
much as a one-event append's own work. A write route (`DirectRoute`) first tries a `Binder`
written for its endpoint: the body parsed and validated by the same model, path parameters by
the same validators, then the same dependencies in the order the endpoint declares them, and
the same endpoint called in the thread pool. A request the binder does not take (a body that
is not JSON or fails validation, a path parameter that is not valid, a content type other than
`application/json`) goes the whole FastAPI way, which refuses it exactly as before. A refusal
from a dependency (401, 429, 400 for If-Match) is the same on both ways: the binder calls the
dependencies themselves, after the parameters were found valid, as FastAPI would.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar
from uuid import UUID

import orjson
from fastapi import Request, Response
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from service.api.guard import AuditedRoute

ModelT = TypeVar("ModelT", bound=BaseModel)

# The endpoint's arguments by name; raises `Unbound` to leave the request to FastAPI.
Binder = Callable[[Request], Awaitable[dict[str, Any]]]

_UUID: TypeAdapter[UUID] = TypeAdapter(UUID)


class Unbound(Exception):
    """A request a binder leaves to FastAPI (which says what is wrong with it)."""


async def json_body(request: Request, model: type[ModelT]) -> ModelT:
    """The request's JSON body as `model`, validated as FastAPI validates a body parameter."""
    content_type = request.headers.get("content-type", "")
    if content_type.partition(";")[0].strip().lower() != "application/json":
        raise Unbound
    try:
        return model.model_validate(orjson.loads(await request.body()))
    except (orjson.JSONDecodeError, ValidationError):
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
