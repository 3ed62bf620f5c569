"""The case's audit trail: every write and every read, and who made them."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request

from domain.access import Decision, sees_whole_audit
from service.access import caller_of
from service.api.deps import (
    PAGE_LIMIT,
    AgencyFilter,
    Caller,
    CurrentSettings,
    Records,
    Since,
    Until,
)
from service.api.guard import AuditedRoute, case_access
from service.api.problems import Refusal, responses
from service.audit import AuditLog, AuditTrail, BadAuditCursor, TrailPosition, case_audit

router = APIRouter(tags=["audit"], route_class=AuditedRoute)

AuditAccess = Annotated[Decision, Depends(case_access(what="the audit trail"))]


@router.get(
    "/cases/{case_id}/audit",
    operation_id="get_case_audit",
    summary="Who wrote and who read the case",
    responses=responses(400, 401, 403, 404, 422),
)
def get_case_audit(
    case_id: UUID,
    caller: Caller,
    access: AuditAccess,
    records: Records,
    settings: CurrentSettings,
    request: Request,
    kind: Annotated[Literal["read", "write"] | None, Query()] = None,
    agency: AgencyFilter = None,
    since: Since = None,
    until: Until = None,
    after: Annotated[
        str | None,
        Query(
            max_length=200,
            description="`next` of the previous page: the entries strictly after its last one",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, description=PAGE_LIMIT)] = 1000,
) -> AuditTrail:
    """Writes (with corrections, retractions and their authors) and audited reads, in time order
    (at one time reads first, then writes by version). `since` and `until` bound the times;
    `after=<next>` continues from where the previous page ended, never repeating or skipping an
    entry.

    The owning authority's managers and the case's reviewers see every entry; every other
    caller sees its own agency's entries."""
    position = _position(after)
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
        after=position,
        limit=min(limit, settings.max_page),
    )


def _position(after: str | None) -> TrailPosition | None:
    if after is None:
        return None
    try:
        return TrailPosition.of_cursor(after)
    except BadAuditCursor as e:
        raise Refusal(
            400, "bad-cursor", "The cursor is not one this list handed out", str(e)
        ) from None
