"""The case's audit trail: every write and every read, and who made them."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request

from domain.access import Decision, sees_whole_audit
from service.access import caller_of
from service.api.deps import Caller, Records, Since, Until
from service.api.guard import AuditedRoute, case_access
from service.api.problems import responses
from service.audit import AuditLog, AuditTrail, case_audit

router = APIRouter(tags=["audit"], route_class=AuditedRoute)

AuditAccess = Annotated[Decision, Depends(case_access(what="the audit trail"))]


@router.get(
    "/cases/{case_id}/audit",
    operation_id="get_case_audit",
    summary="Who wrote and who read the case",
    responses=responses(401, 403, 404, 422),
)
def get_case_audit(
    case_id: UUID,
    caller: Caller,
    access: AuditAccess,
    records: Records,
    request: Request,
    kind: Annotated[Literal["read", "write"] | None, Query()] = None,
    agency: Annotated[str | None, Query(description="Only this agency's entries")] = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, Query(ge=1, description="At most 1,000 (larger is clamped)")] = 1000,
) -> AuditTrail:
    """Writes (with corrections, retractions and their authors) and audited reads, in time order.

    The owning authority's managers and the case's reviewers see every entry; every other
    caller sees its own agency's entries."""
    own = None if sees_whole_audit(caller_of(caller), access) else caller.agency
    if own is not None and agency not in (None, own):
        return AuditTrail(case_id=case_id, entries=[])  # another agency's entries are not yours
    audit: AuditLog = request.app.state.audit
    return case_audit(
        records.known_events(case_id),
        audit,
        case_id,
        agency=own or agency,
        kind=kind,
        since=since,
        until=until,
        limit=min(limit, 1000),
    )
