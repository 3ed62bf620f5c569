"""The integrators' global feed: `GET /feed` (pages, long-poll) and `GET /feed/stream` (SSE)."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator
from typing import Annotated, Literal
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel
from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.sse import AppStatus
from starlette.concurrency import run_in_threadpool

from domain.access import READERS, Decision
from domain.catalogue import catalogue
from service.api.deps import PAGE_LIMIT, Caller, CurrentSettings, Gate, Records
from service.api.guard import AuditedRoute, AuditNote, Purpose, list_access, reading_as
from service.api.head import asked_method
from service.api.headers import NEXT_PAGE
from service.api.models import StoredEvent
from service.api.problems import Refusal, responses, store_unreachable
from service.audit import AuditLog
from service.auth import InvalidToken, KeysUnavailable, TokenService
from service.feed import Feed, FeedPage

log = logging.getLogger("casetrail.audit")
feed_log = logging.getLogger("casetrail.feed")

router = APIRouter(tags=["feed"], route_class=AuditedRoute)

FEED_ROLES = READERS | {"integrator"}
FeedAccess = Annotated[Decision, Depends(list_access(roles=FEED_ROLES))]

# How often a waiting request or an idle stream looks for new events in the log.
POLL_SECONDS = 0.15
MAX_POSITION = 2**63 - 1

After = Annotated[
    int,
    Query(ge=0, le=MAX_POSITION, description="Position to read after (`next` of the last page)"),
]
Types = Annotated[str | None, Query(description="Comma-separated event types; default every type")]


class RestrictedEvent(BaseModel):
    """Another agency's restricted entry, as a partner agency's feed carries it: its place,
    date and type, never its content."""

    position: int
    case_id: UUID
    version: int
    id: UUID
    type: str
    occurred_at: str
    occurred_precision: str
    recorded_at: str
    sensitivity: Literal["restricted"]
    note: str


class FeedResponse(BaseModel):
    events: list[StoredEvent | RestrictedEvent]
    next: int


def _types(types: str | None) -> frozenset[str]:
    wanted = [t.strip() for t in (types or "").split(",") if t.strip()]
    unknown = [t for t in wanted if t not in catalogue]
    if unknown:
        raise Refusal(
            422,
            "validation",
            "The request is not valid",
            f"unknown event types: {', '.join(unknown)}",
            errors=[{"parameter": "types", "detail": f"unknown event type {t}"} for t in unknown],
        )
    return frozenset(wanted)


async def _feed(records: Records, gate: Gate, settings: CurrentSettings) -> Feed:
    return Feed(records, gate, scan_limit=settings.feed_scan_limit)


CurrentFeed = Annotated[Feed, Depends(_feed)]


async def _more_after(request: Request, feed: Feed, position: int, deadline: float) -> bool:
    """Wait until the log holds something after `position`; False when the deadline passes,
    the client has gone or the server is shutting down."""
    while True:
        if AppStatus.should_exit or await request.is_disconnected():
            return False
        if await run_in_threadpool(feed.head) > position:
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        await asyncio.sleep(min(POLL_SECONDS, left))


@router.get(
    "/feed",
    operation_id="read_feed",
    response_model=FeedResponse,
    summary="The global log, a page after a position",
    responses={
        200: {
            "description": "A page of the feed",
            "headers": {"Link": NEXT_PAGE},
        },
        **responses(401, 403, 422),
    },
)
async def read_feed(
    request: Request,
    caller: Caller,
    access: FeedAccess,
    feed: CurrentFeed,
    settings: CurrentSettings,
    purpose: Purpose = None,
    after: After = 0,
    limit: Annotated[int, Query(ge=1, description=PAGE_LIMIT)] = 100,
    types: Types = None,
    wait: Annotated[
        float,
        Query(
            ge=0,
            description="Seconds to wait for an event when the page would be empty "
            "(long-poll); at most CASETRAIL_FEED_MAX_WAIT_SECONDS (larger is clamped)",
        ),
    ] = 0,
) -> Response:
    """Events in global log order after `after`, those the caller may read now.

    Each event has the shape `GET /cases/{case_id}/events` returns; a partner agency gets the
    entries its agency wrote and those shared with it, other agencies' restricted ones as
    placeholders. `next` is the position of the last event scanned (filtered ones included):
    pass it as `after` to read on. Break-glass does not apply to the feed."""
    wanted = _types(types)
    reader = reading_as(caller, FEED_ROLES)
    limit = min(limit, settings.max_page)
    deadline = time.monotonic() + min(wait, settings.feed_max_wait_seconds)
    cursor = after
    while True:
        page: FeedPage = await run_in_threadpool(
            feed.page, reader, after=cursor, limit=limit, types=wanted
        )
        cursor = page.next
        if page.items or time.monotonic() >= deadline:
            break
        if page.exhausted and not await _more_after(request, feed, cursor, deadline):
            break
    # The audit records which cases this page returned, and in which view.
    request.state.audit = AuditNote(caller, page.case_ids, purpose, access, page.partner_case_ids)
    link = request.url.include_query_params(after=cursor, limit=limit)
    body = orjson.dumps({"events": [item.body for item in page.items], "next": cursor})
    return Response(body, media_type="application/json", headers={"Link": f'<{link}>; rel="next"'})


@router.get(
    "/feed/stream",
    operation_id="stream_feed",
    summary="The global log as Server-Sent Events",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "`text/event-stream`: `id` is the position, `event` the type (or "
            "`restricted` for a placeholder), `data` the event as `GET /feed` carries it",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **responses(401, 403, 422),
    },
)
async def stream_feed(
    request: Request,
    caller: Caller,
    access: FeedAccess,
    feed: CurrentFeed,
    settings: CurrentSettings,
    records: Records,
    purpose: Purpose = None,
    after: After = 0,
    types: Types = None,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="Resume after this position (sent by EventSource on reconnect); "
            "wins over `after`",
        ),
    ] = None,
) -> EventSourceResponse:
    """The feed as it grows: the same events and filtering as `GET /feed`, each batch audited
    before it is sent (the stream ends if it cannot be). Heartbeats keep proxies from closing
    an idle stream."""
    wanted = _types(types)
    reader = reading_as(caller, FEED_ROLES)
    start = _resume_from(last_event_id, after)
    audit: AuditLog = request.app.state.audit

    async def events() -> AsyncIterator[bytes]:
        if asked_method(request) == "HEAD":
            return  # its headers only: nothing is read, so nothing is audited
        try:
            cursor = start
            while not await request.is_disconnected():
                if not _token_holds(request):
                    return  # expired or its key withdrawn: the client reconnects with a new one
                page = await run_in_threadpool(
                    feed.page, reader, after=cursor, limit=settings.max_page, types=wanted
                )
                if page.items:
                    note = AuditNote(caller, page.case_ids, purpose, access, page.partner_case_ids)
                    reads = note.reads(
                        at=records.clock(),
                        method="GET",
                        route="/feed/stream",
                        params={**request.query_params, "after": cursor},
                        status=200,
                    )
                    try:
                        for read in reads:
                            await run_in_threadpool(audit.record, read)
                    except Exception:  # never send what was not audited: end the stream
                        log.exception("audit write failed for /feed/stream; stream ended")
                        return
                    yield b"".join(
                        ServerSentEvent(
                            data=orjson.dumps(item.body).decode(),
                            id=str(item.position),
                            event="restricted" if item.restricted else item.type,
                        ).encode()
                        for item in page.items
                    )
                cursor = page.next
                if not page.exhausted:
                    continue
                # Caught up: look for more until the client goes (or the server shuts down, when
                # sse-starlette cancels this generator).
                if not await _more_after(request, feed, cursor, math.inf):
                    return
        except Exception as error:
            # The log or the read models cannot be reached (PostgreSQL restarting): the stream,
            # already answered 200, just ends; the client reconnects with its Last-Event-ID.
            if not store_unreachable(error):
                raise
            feed_log.warning("the store cannot be reached: /feed/stream ended")

    return EventSourceResponse(events(), ping=settings.feed_ping_seconds)


def _token_holds(request: Request) -> bool:
    """Whether the token a stream was opened with still verifies: a stream outlives no token
    (one that expires, or whose key is taken out of the key set, ends it before its next
    batch)."""
    _, _, token = (request.headers.get("authorization") or "").partition(" ")
    tokens: TokenService = request.app.state.tokens
    try:
        tokens.verify(token.strip())
    except (InvalidToken, KeysUnavailable):
        return False
    return True


def _resume_from(last_event_id: str | None, after: int) -> int:
    if last_event_id is None or not last_event_id.strip():
        return after
    text = last_event_id.strip()
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_POSITION:
        raise Refusal(
            422,
            "validation",
            "The request is not valid",
            "Last-Event-ID: must be a position the stream sent",
            errors=[{"parameter": "Last-Event-ID", "detail": "not a position"}],
        )
    return int(text)
