"""The access policy (`domain.access`) applied to requests, with the case facts it needs."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any
from uuid import UUID

from domain.access import WRITERS, Caller, Decision, Denied, View, check_write, decide
from domain.envelope import RecordedEvent
from domain.state import CaseState, case_state
from service.errors import CaseNotFoundError, Forbidden
from service.principal import Principal
from service.records import CaseRecords

EMERGENCY = "emergency:"


def caller_of(principal: Principal) -> Caller:
    return Caller(
        agency=principal.agency, roles=frozenset(principal.roles), cases=frozenset(principal.cases)
    )


def is_emergency(purpose: str | None) -> bool:
    """`X-Access-Purpose: emergency: <reason>` asks for break-glass; the reason is required."""
    if not purpose or not purpose.lower().startswith(EMERGENCY):
        return False
    return bool(purpose[len(EMERGENCY) :].strip())


class Gatekeeper:
    """Decides what each caller may read and write of a case, at request time."""

    def __init__(self, records: CaseRecords) -> None:
        self.records = records
        self.access_years = records.settings.partner_access_years
        # The state a partner's access is judged on, by case and version: involvement changes
        # only with new events.
        self._states: OrderedDict[UUID, tuple[int, CaseState]] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, principal: Principal, case_id: UUID, *, purpose: str | None) -> Decision:
        """The caller's view of the case; an unknown case and a forbidden one are both 404."""
        events = self.records.known_events(case_id)
        decision = self._decide(principal, case_id, events, emergency=is_emergency(purpose))
        if decision.view is View.NONE:
            raise CaseNotFoundError(case_id)
        return decision

    def check_write(
        self,
        principal: Principal,
        case_id: UUID | None,
        events: Sequence[Mapping[str, Any]],
        *,
        opening: bool,
    ) -> None:
        """Refuse (403, with the reason) a batch the caller may not post; 404 for a case it may
        not see."""
        caller = caller_of(principal)
        if not caller.has(*WRITERS):  # before any lookup: says nothing about the case
            raise Forbidden(f"the roles {', '.join(principal.roles)} never write")
        stored = self.records.known_events(case_id) if case_id is not None else []
        if opening and not stored:
            if not events or events[0]["type"] != "CaseOpened":
                return  # not an opening at all: the use case refuses it (422)
            owner = events[0]["data"].get("local_authority")
            view = View.FULL if owner == principal.agency else View.PARTNER
            decision = Decision(view, "opening a case", "opening")
        else:
            if not stored:
                raise CaseNotFoundError(case_id)  # type: ignore[arg-type]
            # Reviewers never write: a reviewer's claim to the case grants no writing, whatever
            # other roles its token carries (else it would write as the owning authority).
            writer = replace(principal, roles=tuple(r for r in principal.roles if r != "reviewer"))
            decision = self._decide(writer, stored[0].case_id, stored, emergency=False)
            if decision.view is View.NONE:
                raise CaseNotFoundError(stored[0].case_id)
        # Whose entry each possible target is: stored ones, and those earlier in this batch.
        targets = {e.id: e.agency for e in stored}
        for event in events:
            author = event.get("author") or {}
            targets[str(event["id"])] = author.get("agency") or principal.agency
        try:
            check_write(caller, decision, events, target_agencies=targets, opening=opening)
        except Denied as e:
            raise Forbidden(e.reason) from None

    def _decide(
        self,
        principal: Principal,
        case_id: UUID,
        events: Sequence[RecordedEvent],
        *,
        emergency: bool,
    ) -> Decision:
        if not events:
            return Decision(View.NONE, "no such case", "none")
        return decide(
            caller_of(principal),
            str(case_id),
            str(events[0].data["local_authority"]),
            lambda: self._state(case_id, events),
            now=self.records.clock(),
            access_years=self.access_years,
            emergency=emergency,
        )

    def _state(self, case_id: UUID, events: Sequence[RecordedEvent]) -> CaseState:
        version = events[-1].version
        with self._lock:
            cached = self._states.get(case_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        # Judged on everything that had happened by now, as recorded so far.
        now = self.records.clock()
        state = case_state(case_id, events, as_of=now, known_at=max(now, events[-1].recorded_at))
        with self._lock:
            self._states[case_id] = (version, state)
            self._states.move_to_end(case_id)
            while len(self._states) > 1024:
                self._states.popitem(last=False)
        return state
