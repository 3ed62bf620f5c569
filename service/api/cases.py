"""The case endpoints: open, append, state, chronology and the raw stream."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel

from domain.access import READERS, Decision
from domain.catalogue import Significance, catalogue
from domain.chronology import CSV_COLUMNS, Chronology
from domain.state import CaseState
from service.api.deps import (
    PAGE_LIMIT,
    AgencyFilter,
    AsOf,
    Caller,
    CurrentSettings,
    Gate,
    IfMatch,
    KnownAt,
    Records,
    authenticate,
    etag_matches,
    if_match_version,
    state_etag,
)
from service.api.direct import DirectRoute, binds, json_body, path_uuid, validated
from service.api.guard import case_access, partner_agency
from service.api.headers import LOCATION, STATE_ETAG, WRITE_ETAG
from service.api.models import (
    AppendRequest,
    AppendResponse,
    EventsPageResponse,
    OpenCaseRequest,
    StoredEvent,
)
from service.api.negotiation import preferred
from service.api.problems import Refusal, responses
from service.records import AppendResult
from service.settings import Settings

router = APIRouter(tags=["cases"], route_class=DirectRoute)

StateAccess = Annotated[Decision, Depends(case_access(what="the state"))]
ChronologyAccess = Annotated[Decision, Depends(case_access(what="the chronology"))]
EventsAccess = Annotated[
    Decision, Depends(case_access(roles=READERS | {"integrator"}, what="the raw events"))
]


def _check_batch(settings: Settings, size: int) -> None:
    if size > settings.max_batch_events:
        raise Refusal(
            413,
            "batch-too-large",
            "Too many events in one batch",
            f"{size} events sent; a batch holds at most {settings.max_batch_events}",
        )


def _written(result: AppendResult, headers: dict[str, str] | None = None) -> Response:
    """201 with what was stored, or 200 for a replay; serialised here, once (FastAPI would
    validate a returned model against `response_model` again before serialising it)."""
    return Response(
        AppendResponse.render(result),
        status_code=200 if result.replayed else 201,
        media_type="application/json",
        headers={**(headers or {}), "ETag": f'"{result.version}"'},
    )


@router.post(
    "/cases",
    operation_id="open_case",
    status_code=201,
    response_model=AppendResponse,
    summary="Open a case",
    responses={
        200: {
            "description": "A replay: every event was already stored; the original results",
            "model": AppendResponse,
            "headers": {"ETag": WRITE_ETAG, "Location": LOCATION},
        },
        201: {"headers": {"ETag": WRITE_ETAG, "Location": LOCATION}},
        # 404: the CaseOpened names a case that exists and the caller may not see.
        **responses(400, 401, 403, 404, 409, 413, 422, 503),
    },
)
def open_case(
    body: OpenCaseRequest,
    caller: Caller,
    records: Records,
    gate: Gate,
    settings: CurrentSettings,
) -> Response:
    """Open a case with `CaseOpened` (and, in the same atomic batch, what follows it).

    Children's social care opens its own cases; any other agency opens one with a referral:
    `CaseOpened` followed by a `ContactReceived` naming it as the referrer."""
    _check_batch(settings, len(body.events))
    events = body.stored_forms()
    gate.check_open(caller, body.case_id, events)
    result = records.open_case(body.case_id, events, by=caller, validated=True)
    return _written(result, {"Location": f"/cases/{result.case_id}"})


@router.post(
    "/cases/{case_id}/events",
    operation_id="append_events",
    status_code=201,
    response_model=AppendResponse,
    summary="Append events to a case",
    responses={
        200: {
            "description": "A replay: every event was already stored; the original results",
            "model": AppendResponse,
            "headers": {"ETag": WRITE_ETAG},
        },
        201: {"headers": {"ETag": WRITE_ETAG}},
        **responses(400, 401, 403, 404, 409, 412, 413, 422, 503),
    },
)
def append_events(
    case_id: UUID,
    body: AppendRequest,
    caller: Caller,
    records: Records,
    gate: Gate,
    settings: CurrentSettings,
    if_match: IfMatch = None,
) -> Response:
    """Append a batch, all or nothing. Without `If-Match`, concurrent appends all succeed.

    Partner agencies post the types they may, and correct or retract only their own entries."""
    _check_batch(settings, len(body.events))
    events = body.stored_forms()
    grant = gate.check_write(caller, case_id, events, opening=False)
    result = records.record(
        case_id, events, by=caller, expected=if_match, check=grant, validated=True
    )
    return _written(result)


def _services(request: Request) -> dict[str, Any]:
    state = request.app.state
    return {"records": state.records, "gate": state.gate, "settings": state.settings}


@binds(open_case)
async def _open_case_arguments(request: Request) -> dict[str, Any]:
    body = validated(OpenCaseRequest, await json_body(request))
    caller = await authenticate(request, request.headers.get("authorization"))
    return {"body": body, "caller": caller, **_services(request)}


@binds(append_events)
async def _append_arguments(request: Request) -> dict[str, Any]:
    body = validated(AppendRequest, await json_body(request))
    caller = await authenticate(request, request.headers.get("authorization"))
    if_match = await if_match_version(request.headers.get("if-match"))
    case_id = path_uuid(request, "case_id")
    return {
        "case_id": case_id,
        "body": body,
        "caller": caller,
        "if_match": if_match,
        **_services(request),
    }


@router.get(
    "/cases/{case_id}",
    operation_id="get_case_state",
    response_model=CaseState,
    summary="The case's state as of a date",
    responses={
        200: {"headers": {"ETag": STATE_ETAG}},
        304: {
            "description": "Not modified: the state is still the one `If-None-Match` names",
            "headers": {"ETag": STATE_ETAG},
        },
        **responses(401, 403, 404, 422, 503),
    },
)
def get_case_state(
    case_id: UUID,
    caller: Caller,
    access: StateAccess,
    records: Records,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> CaseState | Response:
    """Status, episodes, plans, worker, agencies, concerns, last seen and last involvement."""
    partner = partner_agency(access, caller)
    # Asked as of the time of asking, the state changes when an entry dated ahead happens.
    state, changes_at = records.state_and_next_change(
        case_id, as_of=as_of, known_at=known_at, partner=partner, now=records.clock()
    )
    etag = state_etag(state.version, changes_at)
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return _json(state, headers={"ETag": etag})


@router.get(
    "/cases/{case_id}/chronology",
    operation_id="get_chronology",
    response_model=Chronology,
    summary="The case's chronology (JSON or CSV)",
    responses={
        200: {
            "description": "The chronology",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **responses(401, 403, 404, 422, 503),
    },
)
def get_chronology(
    case_id: UUID,
    caller: Caller,
    access: ChronologyAccess,
    records: Records,
    request: Request,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    agency: AgencyFilter = None,
    min_significance: Annotated[
        Literal["routine", "significant", "critical"],
        Query(description="`routine` shows everything"),
    ] = "significant",
    types: Annotated[str | None, Query(description="Comma-separated event types")] = None,
    format: Annotated[
        Literal["json", "csv"] | None,
        Query(
            description="Decides over `Accept`, which otherwise chooses: CSV only when it ranks "
            "`text/csv` above `application/json` (by q-value), else JSON"
        ),
    ] = None,
) -> Chronology | Response:
    """Significant events in the order they happened, with what was done about each.

    A partner agency sees entries of significance `significant` and above, and in full its own
    entries and those shared with it; other agencies' restricted entries are placeholders."""
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
    result = records.chronology(
        case_id,
        as_of=as_of,
        known_at=known_at,
        min_significance=Significance.parse(min_significance),
        agency=agency,
        types=wanted,
        partner=partner_agency(access, caller),
    )
    wanted_format = format or _FORMATS[preferred(request.headers.get("accept"), list(_FORMATS))]
    response = _csv(result) if wanted_format == "csv" else _json(result)
    # Either answer depends on `Accept` (a cache must not hand one to a client asking the other).
    response.headers["Vary"] = "Accept"
    return response


# The chronology's representations, the default (JSON) first: CSV only when `Accept` ranks it
# higher (`format=` decides outright).
_FORMATS = {"application/json": "json", "text/csv": "csv"}


def _json(view: BaseModel | Chronology, headers: dict[str, str] | None = None) -> Response:
    """Serialise a view once, directly: it was built from validated values and is not re-checked
    (the chronology is plain dataclasses, which orjson writes fastest)."""
    body = view.model_dump_json() if isinstance(view, BaseModel) else orjson.dumps(view)
    return Response(body, media_type="application/json", headers=headers)


# A cell a spreadsheet would read as a formula (OWASP "CSV injection"): names, headlines and
# notes come from posting systems. The numeric columns (seq, late_by_days) are never negative.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def _csv(chronology: Chronology) -> Response:
    """The chronology as CSV, UTF-8 with a byte-order mark: a spreadsheet opening the download
    then reads names and dashes as written, not in its local code page."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for entry in chronology.entries:
        writer.writerow([_cell(value) for value in entry.csv_row()])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="chronology-{chronology.case_id}.csv"'
        },
    )


@router.get(
    "/cases/{case_id}/events",
    operation_id="list_case_events",
    summary="The case's raw event stream",
    responses=responses(401, 403, 404, 422, 503),
)
def list_case_events(
    case_id: UUID,
    caller: Caller,
    access: EventsAccess,
    records: Records,
    settings: CurrentSettings,
    known_at: KnownAt = None,
    after_version: Annotated[int, Query(ge=0, le=2**53)] = 0,
    limit: Annotated[int, Query(ge=1, description=PAGE_LIMIT)] = 100,
) -> EventsPageResponse:
    """Every stored event with its envelope, hash and global position, in version order.

    A partner agency gets its own agency's entries (the cursor still advances past the rest)."""
    page = records.raw_events(
        case_id,
        after_version=after_version,
        limit=min(limit, settings.max_page),
        known_at=known_at,
        agency=partner_agency(access, caller),
    )
    return EventsPageResponse(
        events=[StoredEvent.of(e) for e in page.events], next_after_version=page.next_after_version
    )
