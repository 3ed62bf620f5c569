"""Every response with case data passes here: the access decision, then the audit of the read.

A case-data route declares a `case_access(...)` dependency (which decides what the caller may
see and notes what to audit) and is an `AuditedRoute` (which writes the audit record before the
response leaves, and refuses with 503 when it cannot). A test walks every route of the app and
fails if one that needs a token lacks either.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Header, Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from domain.access import READERS, Decision, View
from service.access import Gatekeeper
from service.api.deps import Caller
from service.api.head import asked_method
from service.api.problems import RETRY_AFTER_UNAVAILABLE, problem_response
from service.audit import AuditLog, Read
from service.errors import Forbidden
from service.principal import Principal

log = logging.getLogger("casetrail.audit")

Purpose = Annotated[
    str | None,
    Header(
        alias="X-Access-Purpose",
        description="Why the case is read, recorded in the audit. `emergency: <reason>` asks "
        "for break-glass access (practitioners and managers; audited as such).",
    ),
]


@dataclass(frozen=True)
class AuditNote:
    """What the audit records about the read a route is answering."""

    who: Principal
    case_ids: tuple[str, ...]
    purpose: str | None
    decision: Decision
    # Those of `case_ids` a list or feed page showed the caller in a partner's view.
    partner_case_ids: tuple[str, ...] = ()

    def reads(
        self, *, at: datetime, method: str, route: str, params: dict[str, Any], status: int
    ) -> list[Read]:
        """The audit records of this read: one per view the caller had of the cases (a page can
        hold cases seen in full and others seen as a partner); one at least."""
        partners = set(self.partner_case_ids)
        groups = [
            (tuple(c for c in self.case_ids if c not in partners), self.decision.view.value),
            (tuple(c for c in self.case_ids if c in partners), View.PARTNER.value),
        ]
        return [
            Read(
                at=at,
                who=self.who,
                method=method,
                route=route,
                params=params,
                status=status,
                case_ids=case_ids,
                purpose=self.purpose,
                break_glass=self.decision.break_glass,
                view=view,
            )
            for case_ids, view in [g for g in groups if g[0]] or [groups[0]]
        ]


class UnauditedRead(RuntimeError):
    """A route answered with case data without declaring its access: a bug, never served."""


def case_access(
    *,
    partners: bool = True,
    roles: frozenset[str] = READERS,
    what: str = "this view",
    owner_from_entries: bool = False,
) -> Callable[..., Decision]:
    """A dependency deciding the caller's view of `{case_id}` (404 when it has none);
    `owner_from_entries`: see `Gatekeeper.read`."""

    def dependency(
        request: Request, case_id: UUID, caller: Caller, purpose: Purpose = None
    ) -> Decision:
        if not roles.intersection(caller.roles):
            raise Forbidden(f"the roles {', '.join(caller.roles)} may not read {what}")
        gate: Gatekeeper = request.app.state.gate
        decision = gate.read(
            reading_as(caller, roles), case_id, purpose=purpose, from_entries=owner_from_entries
        )
        if decision.view is View.PARTNER and not partners:
            raise Forbidden(f"only the owning authority and reviewers of the case may read {what}")
        request.state.audit = AuditNote(caller, (str(case_id),), purpose, decision)
        return decision

    dependency.audits_case_data = True  # type: ignore[attr-defined]
    return dependency


def reading_as(caller: Principal, roles: frozenset[str]) -> Principal:
    """The caller as it reads a view that `roles` may read: each role grants its own reads, so
    a role the view is not for lends its agency to none that is (a reviewer who is also its
    authority's admin or integrator still reads only the cases its token names)."""
    return replace(caller, roles=tuple(r for r in caller.roles if r in roles))


def list_access(*, roles: frozenset[str] = READERS) -> Callable[..., Awaitable[Decision]]:
    """A dependency for a cross-case read: the route filters by the caller's access and names
    the cases its page returned in `request.state.audit`."""

    async def dependency(request: Request, caller: Caller, purpose: Purpose = None) -> Decision:
        if not roles.intersection(caller.roles):
            raise Forbidden(f"this list is not for the roles {', '.join(caller.roles)}")
        decision = Decision(View.FULL, "filtered to the caller's access", "list")
        request.state.audit = AuditNote(caller, (), purpose, decision)
        return decision

    dependency.audits_case_data = True  # type: ignore[attr-defined]
    return dependency


def is_access_dependency(call: Any) -> bool:
    return bool(getattr(call, "audits_case_data", False))


class AuditedRoute(APIRoute):
    """A route whose successful reads (304s included) are audited before the response leaves:
    every GET, and any other method whose route declared an access decision."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        path = self.path

        async def audited(request: Request) -> Response:
            response = await handler(request)
            note: AuditNote | None = getattr(request.state, "audit", None)
            if response.status_code >= 400 or (note is None and request.method != "GET"):
                return response  # a refusal, or a write (the log itself records every write)
            if note is None:
                raise UnauditedRead(f"{path} answered without an access decision")
            params: dict[str, Any] = {**request.path_params, **request.query_params}
            if response.media_type and "json" not in response.media_type:
                params["representation"] = response.media_type  # e.g. CSV asked for by Accept
            audit: AuditLog = request.app.state.audit
            reads = note.reads(
                at=request.app.state.records.clock(),
                method=asked_method(request),
                route=path,
                params=params,
                status=response.status_code,
            )
            try:
                for read in reads:
                    await run_in_threadpool(audit.record, read)
            except Exception:  # whatever the audit store's failure, the read is not served
                log.exception("audit write failed for %s", path)
                return problem_response(
                    503,
                    "audit-unavailable",
                    "The read cannot be audited",
                    "case data is never served unaudited; retry later",
                    headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
                )
            return response

        return audited


def partner_agency(decision: Decision, caller: Principal) -> str | None:
    """The agency whose proportionate view applies, or None for a full view."""
    return caller.agency if decision.view is View.PARTNER else None
