"""Typed dependencies every route declares: the caller, the use cases, dates and preconditions.

They are coroutines: none waits on a database or the network (verifying a token is CPU work and
a `stat` of the key file; a token verified before is a dictionary lookup), so each runs on the
event loop rather than costing a trip through the thread pool."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Query, Request

from domain.moments import BadMoment, parse_bound, parse_lower_bound
from domain.values import AGENCY_PATTERN
from service.access import Gatekeeper
from service.api.observability import route_template
from service.api.problems import RETRY_AFTER_UNAVAILABLE, Refusal
from service.audit import AuditLog
from service.auth import InvalidToken, KeysUnavailable, TokenService
from service.logs import note_caller
from service.principal import Principal
from service.ratelimit import RateLimiter
from service.records import ANY_VERSION, CaseRecords
from service.settings import Settings


async def _records(request: Request) -> CaseRecords:
    records: CaseRecords = request.app.state.records
    return records


async def _gate(request: Request) -> Gatekeeper:
    gate: Gatekeeper = request.app.state.gate
    return gate


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _unauthorised(detail: str, error: str | None = None) -> Refusal:
    """401 with the Bearer challenge (RFC 6750 §3): its `error` says what was wrong with the
    token sent; none when no bearer token was sent at all."""
    challenge = 'Bearer realm="casetrail"'
    if error is not None:
        challenge += f', error="{error}"'
    return Refusal(
        401,
        "unauthorised",
        "A valid bearer token is required",
        detail,
        headers={"WWW-Authenticate": challenge},
    )


async def authenticate(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Principal:
    """The caller, once per request: its rate limit is taken once, however often it is asked
    for (a write route's binder asks before FastAPI's way may ask again)."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    if not authorization:
        raise _unauthorised("send Authorization: Bearer <token>")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        raise _unauthorised("the Authorization header must be 'Bearer <token>'")
    if not token.strip():
        raise _unauthorised("the Authorization header must be 'Bearer <token>'", "invalid_request")
    tokens: TokenService = request.app.state.tokens
    try:
        principal = tokens.verify(token.strip())
    except InvalidToken as e:
        raise _unauthorised(f"the token was refused: {e}", "invalid_token") from None
    except KeysUnavailable:
        raise Refusal(
            503,
            "keys-unavailable",
            "Token verification keys are unavailable",
            "the service cannot read its token verification keys; retry later",
            headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
        ) from None
    note_caller(route_template(request.scope), principal.sub, principal.agency)
    _check_rate(request.app.state.rate_limiter, principal)
    request.state.principal = principal
    return principal


def _check_rate(limiter: RateLimiter, principal: Principal) -> None:
    """429 when the principal (its `sub` and `agency`) is over its rate limit."""
    wait = limiter.take((principal.sub, principal.agency))
    if not wait:
        return
    seconds = max(1, math.ceil(wait))
    raise Refusal(
        429,
        "rate-limited",
        "Too many requests",
        f"this principal may make {limiter.per_minute} requests a minute (bursts of "
        f"{limiter.burst}); retry after {seconds} s",
        headers={"Retry-After": str(seconds)},
        retry_after_seconds=seconds,
    )


async def _audit(request: Request) -> AuditLog:
    audit: AuditLog = request.app.state.audit
    return audit


Records = Annotated[CaseRecords, Depends(_records)]
Audit = Annotated[AuditLog, Depends(_audit)]
Gate = Annotated[Gatekeeper, Depends(_gate)]
CurrentSettings = Annotated[Settings, Depends(_settings)]
Caller = Annotated[Principal, Depends(authenticate)]


# A date-time's `+HH:MM` offset sent unencoded in a query string arrives as a space (form
# encoding): `2013-05-16T10:00:00 01:00`. Only a space between a time and a final HH:MM.
_PLUS_AS_SPACE = re.compile(r"^(\S+[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?) (\d{2}:\d{2})$")


def _bound(
    name: str, value: str | None, parse: Callable[[str], datetime] = parse_bound
) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        return parse(_PLUS_AS_SPACE.sub(r"\1+\2", value.strip()))
    except BadMoment as e:
        raise Refusal(
            422,
            "validation",
            "The request is not valid",
            f"{name}: {e}",
            errors=[{"parameter": name, "detail": str(e)}],
        ) from None


_DATE_HELP = (
    "A date (`2013-05-16`: the end of that day, Europe/London) or an ISO date-time with a zone"
)


async def _as_of(
    as_of: Annotated[str | None, Query(description="Business time: " + _DATE_HELP)] = None,
) -> datetime | None:
    return _bound("as_of", as_of)


async def _known_at(
    known_at: Annotated[str | None, Query(description="Record time: " + _DATE_HELP)] = None,
) -> datetime | None:
    return _bound("known_at", known_at)


async def _since(
    since: Annotated[
        str | None,
        Query(
            description="From this time: A date (`2013-05-16`: the start of that day, "
            "Europe/London) or an ISO date-time with a zone"
        ),
    ] = None,
) -> datetime | None:
    return _bound("since", since, parse_lower_bound)


async def _until(
    until: Annotated[str | None, Query(description="Up to this time: " + _DATE_HELP)] = None,
) -> datetime | None:
    return _bound("until", until)


AsOf = Annotated[datetime | None, Depends(_as_of)]
KnownAt = Annotated[datetime | None, Depends(_known_at)]
AgencyFilter = Annotated[
    str | None, Query(pattern=AGENCY_PATTERN, description="Only this agency's entries, KIND:NAME")
]
Since = Annotated[datetime | None, Depends(_since)]
Until = Annotated[datetime | None, Depends(_until)]

# A list endpoint's `limit`, as the API description states it.
PAGE_LIMIT = "At most `CASETRAIL_MAX_PAGE` (default 1,000); larger is clamped"

_ETAG = re.compile(r'^(W/)?"(\d{1,18})"$')


async def if_match_version(
    if_match: Annotated[
        str | None,
        Header(
            description='`"<version>"`: append only at that version; `*`: only if the case exists'
        ),
    ] = None,
) -> int | None:
    if if_match is None:
        return None
    value = if_match.strip()
    if value == "*":
        return ANY_VERSION
    match = _ETAG.match(value)
    if not match or match.group(1):
        raise Refusal(
            400,
            "bad-precondition",
            "If-Match is not understood",
            'If-Match must be a version in quotes, e.g. "7", or * (the weak tag W/"7" of '
            'GET /cases/{case_id} never matches an If-Match: send "7")',
        )
    return int(match.group(2))


IfMatch = Annotated[int | None, Depends(if_match_version)]


def state_etag(version: int, changes_at: datetime | None) -> str:
    """The state's weak ETag: its version; while an entry dated ahead of the clock is still to
    happen (`changes_at`, when the next one does), that moment too, so that the tag changes when
    the state does, with no new event."""
    if changes_at is None:
        return f'W/"{version}"'
    return f'W/"{version}-{round(changes_at.timestamp() * 1_000_000)}"'


# An entity tag of If-None-Match (RFC 9110 §8.8.3): optionally weak, its opaque part quoted.
_ENTITY_TAG = re.compile(r'^(?:W/)?"([^"]*)"$')


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison (RFC 9110 §13.1.2), as If-None-Match uses: any tag of the header whose
    opaque part is `etag`'s."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    ours = _ENTITY_TAG.match(etag)
    assert ours is not None
    for tag in if_none_match.split(","):
        match = _ENTITY_TAG.match(tag.strip())
        if match and match.group(1) == ours.group(1):
            return True
    return False
