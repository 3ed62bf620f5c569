"""Cross-case read models: the case list (`GET /cases`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from domain.access import READERS, Decision
from projections.case_search import BadCursor, CaseFilters, CaseSearch, CaseSummary, Visibility
from service.access import caller_of
from service.api.deps import Caller, CurrentSettings, Records
from service.api.guard import AuditedRoute, AuditNote, Purpose, list_access
from service.api.problems import RETRY_AFTER_UNAVAILABLE, Refusal, responses

router = APIRouter(tags=["read models"], route_class=AuditedRoute)

ListAccess = Annotated[Decision, Depends(list_access(roles=READERS | {"integrator"}))]


class CaseListResponse(BaseModel):
    cases: list[CaseSummary]
    next_cursor: str | None


async def wait_for_position(
    request: Request,
    settings: CurrentSettings,
    access: ListAccess,  # authenticated and allowed first: nobody else may wait or see positions
    min_position: Annotated[
        int | None,
        Header(
            alias="X-Min-Position",
            ge=0,
            description="Wait (briefly) until the read model has applied the log up to this "
            "position, e.g. the position a write answered; else 503 with Retry-After",
        ),
    ] = None,
) -> None:
    if min_position is None:
        return
    search: CaseSearch = request.app.state.case_search
    reached, current = await run_in_threadpool(
        search.store.wait_for,
        search.model.name,
        min_position,
        timeout=settings.projection_wait_seconds,
    )
    if not reached:
        raise Refusal(
            503,
            "projection-behind",
            "The read model has not caught up yet",
            f"the case list is at position {current}, not yet {min_position}",
            headers={
                "Retry-After": str(RETRY_AFTER_UNAVAILABLE),
                "X-Projection-Position": str(current),
            },
        )


@router.get(
    "/cases",
    operation_id="list_cases",
    summary="List and search cases",
    responses=responses(400, 401, 403, 422),
    dependencies=[Depends(wait_for_position)],
)
def list_cases(
    request: Request,
    response: Response,
    caller: Caller,
    access: ListAccess,
    records: Records,
    settings: CurrentSettings,
    purpose: Purpose = None,
    q: Annotated[str | None, Query(description="Child's name, case-insensitive substring")] = None,
    dob: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
    identifier: Annotated[
        str | None,
        Query(
            pattern=r"^\s*[^:\s][^:]*:\s*\S", description="scheme:value, e.g. nhs_number:9990001234"
        ),
    ] = None,
    status: Annotated[Literal["contact", "open", "closed"] | None, Query()] = None,
    plan: Annotated[
        Literal["looked_after", "child_protection", "child_in_need", "early_help", "none"] | None,
        Query(),
    ] = None,
    worker: str | None = None,
    team: str | None = None,
    agency: Annotated[str | None, Query(description="An agency involved in the case")] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, description="At most 1,000 (larger is clamped)")] = 50,
    sort: Annotated[
        Literal["created", "last_activity"],
        Query(
            description="`created` (default): creation order, a cursor that never skips or "
            "repeats a case; `last_activity`: most recent first, not stable under writes"
        ),
    ] = "created",
) -> CaseListResponse:
    """The cases the caller may see, from the case list read model (`X-Projection-Position`)."""
    search: CaseSearch = request.app.state.case_search
    filters = CaseFilters(q, dob, identifier, status, plan, worker, team, agency)
    visible = Visibility.of(
        caller_of(caller), now=records.clock(), access_years=settings.partner_access_years
    )
    try:
        page = search.list_cases(
            filters, visible=visible, after_cursor=cursor, limit=min(limit, 1000), sort=sort
        )
    except BadCursor as e:
        raise Refusal(
            400, "bad-cursor", "The cursor is not one this list handed out", str(e)
        ) from None
    # The audit records which cases this page returned.
    request.state.audit = AuditNote(caller, tuple(page.case_ids), purpose, access)
    response.headers["X-Projection-Position"] = str(page.position)
    return CaseListResponse(cases=page.cases, next_cursor=page.next_cursor)
