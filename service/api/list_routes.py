"""Cross-case read models: the case list (`GET /cases`), the open alerts (`GET /alerts`) and the
caseloads (`GET /caseloads`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import AfterValidator, BaseModel
from pydantic_core import PydanticCustomError
from starlette.concurrency import run_in_threadpool

from domain.access import READERS, Decision, View
from domain.moments import format_utc
from domain.rules import BreakGlassRead, break_glass_access
from domain.values import AGENCY_PATTERN, AlertRule
from projections.alert_search import (
    AlertFilters,
    AlertSearch,
    AlertSummary,
    BadAlertCursor,
    Caseloads,
    caseloads,
)
from projections.case_search import BadCursor, CaseFilters, CaseSearch, CaseSummary, Visibility
from projections.runner import divergence
from projections.store import ReadModelStore
from service.access import caller_of
from service.api.deps import PAGE_LIMIT, Audit, Caller, CurrentSettings, Gate, Records
from service.api.guard import AuditedRoute, AuditNote, Purpose, list_access, reading_as
from service.api.headers import PROJECTION_BEHIND, PROJECTION_POSITION
from service.api.problems import RETRY_AFTER_UNAVAILABLE, Refusal, responses
from service.audit import AuditLog
from service.principal import Principal
from service.records import CaseRecords
from service.settings import Settings

router = APIRouter(tags=["read models"], route_class=AuditedRoute)

LIST_ROLES = READERS | {"integrator"}
MANAGER_ROLES = frozenset({"manager", "reviewer"})
_list_access = list_access(roles=LIST_ROLES)
_manager_access = list_access(roles=MANAGER_ROLES)
ListAccess = Annotated[Decision, Depends(_list_access)]
ManagerAccess = Annotated[Decision, Depends(_manager_access)]


class CaseListResponse(BaseModel):
    cases: list[CaseSummary]
    next_cursor: str | None


MinPosition = Annotated[
    int | None,
    Header(
        alias="X-Min-Position",
        ge=0,
        description="Wait (briefly) until the read model has applied the log up to this "
        "position, e.g. the position a write answered; else 503 with Retry-After (422 at once "
        "for a position past the log's newest)",
    ),
]


def waits_for(
    model: str, access: Callable[..., Awaitable[Decision]]
) -> Callable[..., Coroutine[Any, Any, None]]:
    """A dependency honouring `X-Min-Position` for the read model called `model`, after the
    route's own `access` dependency has let the caller in: nobody else may wait, or learn how
    far the model has got."""

    async def wait_for_position(
        request: Request,
        settings: CurrentSettings,
        records: Records,
        # The route's own access dependency (FastAPI runs it once), so it is judged first.
        allowed: Decision = Depends(access),  # noqa: B008  (a per-route callable: no alias)
        min_position: MinPosition = None,
    ) -> None:
        if min_position is None:
            return
        # A write's position is in the log before the write answers, so a position past the
        # log's newest is one no write gave: waiting cannot help, and a 503 would invite
        # retries that never succeed. The client is wrong, and told so at once.
        newest = await run_in_threadpool(lambda: int(records.recorder.max_notification_id() or 0))
        if min_position > newest:
            detail = (
                f"position {min_position} is past the log's newest ({newest}): "
                "send the position a write answered"
            )
            raise Refusal(
                422,
                "validation",
                "The request is not valid",
                f"X-Min-Position: {detail}",
                errors=[{"parameter": "X-Min-Position", "detail": detail}],
            )
        store: ReadModelStore = request.app.state.read_models
        reached, current = await run_in_threadpool(
            store.wait_for, model, min_position, timeout=settings.projection_wait_seconds
        )
        detail = f"the {model} read model is at position {current}, not yet {min_position}"
        if reached and await run_in_threadpool(_diverged, store, records, model):
            # As far along as asked, but of another log (read models restored from a newer
            # backup than the log): the runner clears it and applies this log again.
            reached = False
            detail = (
                f"the {model} read model does not match the log (restored from a newer backup "
                "than it); it is being applied again"
            )
        if not reached:
            raise Refusal(
                503,
                "projection-behind",
                "The read model has not caught up yet",
                detail,
                headers={
                    "Retry-After": str(RETRY_AFTER_UNAVAILABLE),
                    "X-Projection-Position": str(current),
                },
            )

    return wait_for_position


def _diverged(store: ReadModelStore, records: CaseRecords, model: str) -> bool:
    """Whether the model's position is not one of this log's (`X-Min-Position` is then not
    reached, however far it claims to be)."""
    tracked = store.tracked_all().get(model)
    return tracked is not None and divergence(records.recorder, tracked) is not None


def _read_model_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI responses of a read-model route: its problems, and the position its answers
    (and a `projection-behind` refusal) carry."""
    out = responses(*statuses)
    out[200] = {"headers": {"X-Projection-Position": PROJECTION_POSITION}}
    out[503]["headers"]["X-Projection-Position"] = PROJECTION_BEHIND
    return out


def _calendar_date(value: str | None) -> str | None:
    """A `YYYY-MM-DD` that is a day of the calendar (not 2013-02-30)."""
    if value is not None:
        try:
            date.fromisoformat(value)
        except ValueError:
            # (a custom error: pydantic would prefix a ValueError's message with "Value error")
            raise PydanticCustomError(
                "date_invalid", "'{value}' is not a date (YYYY-MM-DD)", {"value": value}
            ) from None
    return value


@router.get(
    "/cases",
    operation_id="list_cases",
    summary="List and search cases",
    responses=_read_model_responses(400, 401, 403, 422),
    dependencies=[Depends(waits_for("cases", _list_access))],
)
def list_cases(
    request: Request,
    response: Response,
    caller: Caller,
    access: ListAccess,
    records: Records,
    settings: CurrentSettings,
    gate: Gate,
    purpose: Purpose = None,
    q: Annotated[str | None, Query(description="Child's name, case-insensitive substring")] = None,
    dob: Annotated[
        str | None,
        Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="Date of birth, YYYY-MM-DD"),
        AfterValidator(_calendar_date),
    ] = None,
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
    agency: Annotated[
        str | None,
        Query(pattern=AGENCY_PATTERN, description="An agency involved in the case, KIND:NAME"),
    ] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, description=PAGE_LIMIT)] = 50,
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
        caller_of(reading_as(caller, LIST_ROLES)),
        now=records.clock(),
        access_years=settings.partner_access_years,
    )
    try:
        page = search.list_cases(
            filters,
            visible=visible,
            after_cursor=cursor,
            limit=min(limit, settings.max_page),
            sort=sort,
        )
    except BadCursor as e:
        raise Refusal(
            400, "bad-cursor", "The cursor is not one this list handed out", str(e)
        ) from None
    # A partner's rows are confirmed on its access now: the read model folds every entry,
    # also one dated a little ahead of the clock that involves it, which gives access only
    # once it happens (as `GET /cases/{case_id}` answers). The cursor still passes them.
    cases = [
        s
        for s in page.cases
        if s.view != "partner" or gate.decide(caller, UUID(s.case_id)).view is not View.NONE
    ]
    # The audit records which cases this page returned, and in which view.
    partners = tuple(s.case_id for s in cases if s.view == "partner")
    shown = tuple(s.case_id for s in cases)
    request.state.audit = AuditNote(caller, shown, purpose, access, partners)
    response.headers["X-Projection-Position"] = str(page.position)
    return CaseListResponse(cases=cases, next_cursor=page.next_cursor)


# --- alerts and caseloads: the owning authority's and reviewers' views -----------------------


class AlertListResponse(BaseModel):
    alerts: list[AlertSummary]
    next_cursor: str | None


@router.get(
    "/alerts",
    operation_id="list_alerts",
    summary="The open alerts across cases",
    responses=_read_model_responses(400, 401, 403, 422),
    dependencies=[Depends(waits_for("alerts", _list_access))],
)
def list_alerts(
    request: Request,
    response: Response,
    caller: Caller,
    access: ListAccess,
    records: Records,
    audit: Audit,
    settings: CurrentSettings,
    purpose: Purpose = None,
    rule: Annotated[AlertRule | None, Query()] = None,
    severity: Annotated[Literal["info", "warning", "critical"] | None, Query()] = None,
    status: Annotated[Literal["pending", "breached"] | None, Query()] = None,
    worker: Annotated[str | None, Query(description="The case's allocated worker")] = None,
    team: str | None = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, description=PAGE_LIMIT)] = 100,
) -> AlertListResponse:
    """The open (pending and breached) alerts of the cases the caller's agency owns, or that a
    reviewer's token names, most overdue first; partner agencies see none. Kept by the alerts
    read model (`X-Projection-Position`) and re-evaluated as deadlines pass."""
    search: AlertSearch = request.app.state.alert_search
    filters = AlertFilters(rule.value if rule else None, severity, status, worker, team)
    visible = _full_visibility(reading_as(caller, LIST_ROLES), records, settings)
    try:
        page = search.list_alerts(
            filters,
            visible=visible,
            after_cursor=cursor,
            limit=min(limit, settings.max_page),
            extra=break_glass_alerts(records, audit, visible),
        )
    except BadAlertCursor as e:
        raise Refusal(
            400, "bad-cursor", "The cursor is not one this list handed out", str(e)
        ) from None
    request.state.audit = AuditNote(caller, tuple(page.case_ids), purpose, access)
    response.headers["X-Projection-Position"] = str(page.position)
    return AlertListResponse(alerts=page.alerts, next_cursor=page.next_cursor)


@router.get(
    "/caseloads",
    operation_id="caseloads",
    summary="Open cases per worker and team, by plan",
    responses=_read_model_responses(401, 403, 422),
    dependencies=[Depends(waits_for("cases", _manager_access))],
)
def get_caseloads(
    request: Request,
    response: Response,
    caller: Caller,
    access: ManagerAccess,
    records: Records,
    settings: CurrentSettings,
    purpose: Purpose = None,
    team: Annotated[
        str | None,
        Query(description="Only this team: its counts, and its workers with all they hold"),
    ] = None,
) -> Caseloads:
    """Managers and reviewers: the open cases of each worker and team (of the cases the
    caller's agency owns, or that a reviewer's token names), by plan; workers holding more
    than `CASETRAIL_CASELOAD_THRESHOLD` open cases are flagged `over_threshold`."""
    search: CaseSearch = request.app.state.case_search
    loads = caseloads(
        search.store,
        search.tables,
        search.model.name,
        visible=_full_visibility(reading_as(caller, MANAGER_ROLES), records, settings),
        threshold=settings.caseload_threshold,
        team=team,
    )
    # Counts and workers' names, no child's details: the audit records the read, no case ids.
    request.state.audit = AuditNote(caller, (), purpose, access)
    response.headers["X-Projection-Position"] = str(loads.position)
    return loads


def break_glass_alerts(
    records: CaseRecords, audit: AuditLog, visible: Visibility
) -> list[AlertSummary]:
    """The open `break-glass-access` alerts of the cases `visible` sees in full: the reads come
    from the access audit, not the log, so they are judged here, at request time (they are
    rare), with the case's acknowledgements applied."""
    reads: dict[str, list[BreakGlassRead]] = {}
    for case_id, read in audit.break_glass_reads():
        reads.setdefault(case_id, []).append(read)
    found = []
    for case_id, its_reads in reads.items():
        facts = records.case_facts(UUID(case_id))
        if facts is None or not visible.sees_in_full(case_id, facts[0]):
            continue
        evaluation = records.alerts(
            UUID(case_id), break_glass_reads=its_reads, rules=(break_glass_access.check,)
        )
        state = evaluation.state
        found += [
            AlertSummary(
                case_id=case_id,
                alert_id=alert.alert_id,
                rule=alert.rule.value,
                severity=alert.severity.value,
                status=alert.status.value,
                message=alert.message,
                event_ids=list(alert.event_ids),
                due_at=None,
                breached_at=format_utc(alert.breached_at) if alert.breached_at else None,
                resolved_by=None,
                allocated_worker=state.allocated_worker,
                team=state.team,
                local_authority=state.local_authority,
            )
            for alert in evaluation.open
        ]
    return found


def _full_visibility(caller: Principal, records: CaseRecords, settings: Settings) -> Visibility:
    """The cases a caller sees in full: its agency's own, and a reviewer's named cases."""
    return Visibility.of(
        caller_of(caller), now=records.clock(), access_years=settings.partner_access_years
    )
