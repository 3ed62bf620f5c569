"""What practice needs of one case beyond the record itself: its alerts (DOMAIN.md §4), the
involvement summary (§5), and the sharing pack an outgoing referral must carry."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

from domain.access import Decision
from domain.chronology import ChronologyEntry
from domain.involvement import InvolvementSummary
from domain.moments import format_utc
from domain.rules import Alert, Evaluation
from domain.sharing import PackConcern
from domain.values import AGENCY_PATTERN
from service.api.deps import AsOf, Audit, Caller, KnownAt, Records
from service.api.guard import AuditedRoute, case_access, partner_agency
from service.api.problems import responses
from service.audit import AuditLog
from service.records import CaseRecords

router = APIRouter(tags=["practice"], route_class=AuditedRoute)

InvolvementAccess = Annotated[Decision, Depends(case_access(what="the involvement summary"))]
PackAccess = Annotated[Decision, Depends(case_access(partners=False, what="the sharing pack"))]
AlertsAccess = Annotated[Decision, Depends(case_access(partners=False, what="the alerts"))]


class AlertView(BaseModel):
    """One alert: its rule, the events behind it (the first names it), and its lifecycle."""

    alert_id: str
    rule: str
    severity: Literal["info", "warning", "critical"]
    status: Literal["pending", "breached", "resolved"]
    message: str
    event_ids: list[str]
    due_at: str | None
    breached_at: str | None
    resolved_by: str | None


def alert_json(alert: Alert) -> dict[str, Any]:
    """An alert as `AlertView` describes it, built directly: a long case has thousands, and
    they were built from checked values (no model to validate them again)."""
    return {
        "alert_id": alert.alert_id,
        "rule": alert.rule.value,
        "severity": alert.severity.value,
        "status": alert.status.value,
        "message": alert.message,
        "event_ids": list(alert.event_ids),
        "due_at": format_utc(alert.due_at) if alert.due_at else None,
        "breached_at": format_utc(alert.breached_at) if alert.breached_at else None,
        "resolved_by": alert.resolved_by,
    }


def _alerts(
    records: CaseRecords,
    audit: AuditLog,
    case_id: UUID,
    as_of: datetime | None,
    known_at: datetime | None,
) -> Evaluation:
    """The case's alerts, with its break-glass reads from the access audit (each raises one)."""
    reads = [read for _, read in audit.break_glass_reads(case_id)]
    return records.alerts(case_id, as_of=as_of, known_at=known_at, break_glass_reads=reads)


class CaseAlerts(BaseModel):
    case_id: UUID
    as_of: str
    known_at: str
    alerts: list[AlertView]


@router.get(
    "/cases/{case_id}/alerts",
    operation_id="get_case_alerts",
    response_model=CaseAlerts,
    summary="The case's alerts as of a date",
    responses=responses(401, 403, 404, 422, 503),
)
def get_case_alerts(
    case_id: UUID,
    access: AlertsAccess,
    records: Records,
    audit: Audit,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    include_resolved: Annotated[
        bool, Query(description="Also the alerts already resolved (and by what)")
    ] = False,
) -> Response:
    """The alerts the record raises (open: pending and breached, by default). With `as_of` in
    the past: what was open that day, judged on what had been recorded by `known_at` — "what
    would the record have flagged on 1 December 2013?". Not for partner agencies (403)."""
    now = records.clock()
    evaluation = _alerts(records, audit, case_id, as_of, known_at)
    shown = evaluation.alerts if include_resolved else evaluation.open
    body = {
        "case_id": str(case_id),
        "as_of": format_utc(as_of or now),
        "known_at": format_utc(known_at or now),
        "alerts": [alert_json(a) for a in shown],
    }
    return Response(orjson.dumps(body), media_type="application/json")


@router.get(
    "/cases/{case_id}/involvement",
    operation_id="get_involvement",
    response_model=InvolvementSummary,
    summary="When was each agency last involved, in full",
    responses=responses(401, 403, 404, 422, 503),
)
def get_involvement(
    case_id: UUID,
    caller: Caller,
    access: InvolvementAccess,
    records: Records,
    as_of: AsOf = None,
    known_at: KnownAt = None,
) -> InvolvementSummary:
    """Every episode (opened, closed, why), each agency's involvement with its lead contact and
    dates, the last contact, when the child was last seen (and seen alone) and last heard, the
    owning authority's last involvement, and the dates the record covers — never a bare date.
    `answer` says the same in words. Partners get it with other agencies' restricted details
    withheld."""
    return records.involvement(
        case_id, as_of=as_of, known_at=known_at, partner=partner_agency(access, caller)
    )


class SharingPackView(BaseModel):
    """What a share with `for_agency` must carry: the concerns of the 12 months before `as_of`
    (followed up or not), the significant events of that time, and the open alerts."""

    case_id: str
    for_agency: str
    as_of: str
    known_at: str
    period_from: str
    period_to: str
    concerns: list[PackConcern]
    concern_event_ids: list[str]
    significant_events: list[ChronologyEntry]
    alerts: list[AlertView]


@router.get(
    "/cases/{case_id}/sharing-pack",
    operation_id="get_sharing_pack",
    response_model=SharingPackView,
    summary="What an outgoing referral or share must carry",
    responses=responses(401, 403, 404, 422, 503),
)
def get_sharing_pack(
    case_id: UUID,
    access: PackAccess,
    records: Records,
    audit: Audit,
    for_agency: Annotated[
        str, Query(pattern=AGENCY_PATTERN, description="The agency the share is for, KIND:NAME")
    ],
    as_of: AsOf = None,
    known_at: KnownAt = None,
) -> Response:
    """Every concern of the last 12 months, followed up or not (a referral must not leave out
    an earlier report of bruising), with whether an earlier share with this agency carried it;
    every significant event in that time; and the open alerts. `concern_event_ids` is ready for
    the `InformationShared` that makes the share, which resolves `sharing-omitted-concerns`.
    For the owning authority and reviewers (partners 403)."""
    pack = records.sharing_pack(case_id, for_agency=for_agency, as_of=as_of, known_at=known_at)
    alerts = _alerts(records, audit, case_id, as_of, known_at).open
    body = {**dataclasses.asdict(pack), "alerts": [alert_json(a) for a in alerts]}
    return Response(orjson.dumps(body), media_type="application/json")
