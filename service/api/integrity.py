"""Tamper evidence over HTTP: recompute a case's hash chain from its stored rows."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends

from domain.access import Decision
from service.api.deps import Records
from service.api.guard import AuditedRoute, case_access
from service.api.problems import responses
from service.integrity import Verification, verify_case

router = APIRouter(tags=["integrity"], route_class=AuditedRoute)

VerifyAccess = Annotated[
    Decision,
    Depends(
        case_access(
            partners=False,
            roles=frozenset({"practitioner", "manager", "reviewer", "system"}),
            what="its verification",
            # A damaged case (a version missing or unreadable, a forged snapshot) is verified
            # all the same: its owner is read from its CaseOpened and the corrections of it.
            owner_from_entries=True,
        )
    ),
]


@router.get(
    "/cases/{case_id}/verify",
    operation_id="verify_case",
    summary="Recompute the case's hash chain",
    responses=responses(401, 403, 404),
)
def get_verification(case_id: UUID, access: VerifyAccess, records: Records) -> Verification:
    """Recompute every version's hash from the stored rows and report the first bad version.

    `ok` is false when a version is missing, an entry was changed or cannot be decoded, the
    order was broken, a snapshot does not match the entries, or a row lies outside the chain;
    `reason` says which. The owning authority is read from the stored entries, so a damaged
    case answers with its report too. A chain cannot show events cut off its end or a case
    deleted whole: `casetrail verify --seal` checks the store against a signed seal for that.
    """
    return verify_case(records, case_id)
