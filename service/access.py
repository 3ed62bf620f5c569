"""The access policy (`domain.access`) applied to requests, with the case facts it needs."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.access import (
    WRITERS,
    Caller,
    Decision,
    Denied,
    Target,
    View,
    check_write,
    decide,
)
from domain.catalogue import PostedBy, catalogue
from domain.envelope import RecordedEvent
from domain.selection import next_occurrence
from domain.state import CaseState, case_state
from service.errors import CaseNotFoundError, Forbidden, UnreadableEntry
from service.principal import Principal
from service.records import CaseRecords, derived_case_id

EMERGENCY = "emergency:"
FACTS_CACHED = 100_000  # cases whose owner and version the feed's decisions reuse


def caller_of(principal: Principal) -> Caller:
    return Caller(
        agency=principal.agency, roles=frozenset(principal.roles), cases=frozenset(principal.cases)
    )


def is_emergency(purpose: str | None) -> bool:
    """`X-Access-Purpose: emergency: <reason>` asks for break-glass; the reason is required."""
    if not purpose or not purpose.lower().startswith(EMERGENCY):
        return False
    return bool(purpose[len(EMERGENCY) :].strip())


def _targets(events: Sequence[RecordedEvent]) -> dict[str, Target]:
    """Each stored entry a correction or retraction may target, with its payload as it now
    stands: its latest correction's replacement, if it was corrected."""
    targets = {e.id: Target(e.agency, e.type, e.data) for e in events}
    for event in events:  # (in version order: the latest correction is applied last)
        corrected = event.targets if event.type == "EntryCorrected" else None
        replacement = event.data.get("data")
        if corrected in targets and isinstance(replacement, Mapping):
            targets[corrected] = replace(targets[corrected], data=replacement)
    return targets


def _check_writer(principal: Principal) -> None:
    """Before any lookup, so a refusal says nothing about the case."""
    if not caller_of(principal).has(*WRITERS):
        raise Forbidden(f"the roles {', '.join(principal.roles)} never write")


@dataclass(frozen=True)
class WriteGrant:
    """A batch the gate let through, judged on the case as it was at `facts` (its owner and
    version; None for a case being opened).

    It is judged on the case as cached, without asking the store: the use case appends after the
    version it finds, and `confirm`s the grant on that version when it is another one (a write
    by another process since, which the append's version conflict reveals)."""

    gate: Gatekeeper
    principal: Principal
    case_id: UUID
    events: Sequence[Mapping[str, Any]]
    opening: bool
    facts: tuple[str, int] | None
    # A batch its agency already stored in the case: nothing of it can be appended again (its
    # ids are taken), and its answer is the original results.
    replay: bool = False

    def confirm(self, owner: str, version: int) -> None:
        """Refuse (403, 404) unless the batch may be appended after this version of the case."""
        if self.replay or (owner, version) == self.facts:
            return
        try:
            self.gate.judge_write(
                self.principal,
                self.case_id,
                self.events,
                opening=self.opening,
                facts=(owner, version),
            )
        except (Forbidden, CaseNotFoundError):
            # Judged on a newer version than the grant was (another process wrote since): the
            # batch may be the caller's own, stored meanwhile, whose replay it still gets.
            if not self.gate.records.stored_by(self.case_id, self.events, self.principal):
                raise


class Gatekeeper:
    """Decides what each caller may read and write of a case, at request time."""

    def __init__(self, records: CaseRecords) -> None:
        self.records = records
        self.access_years = records.settings.partner_access_years
        # The state a partner's access is judged on, by case and version: involvement changes
        # only with new events.
        # Each case's state by version, with when it goes stale (an entry dated later happens).
        self._states: OrderedDict[UUID, tuple[int, datetime | None, CaseState]] = OrderedDict()
        # Each case's owner and version, by the log's newest position when they were read: while
        # that position has not moved, nothing has been written, so they still hold (the feed
        # asks for many cases a page and would otherwise load each one's aggregate).
        self._facts: OrderedDict[UUID, tuple[int, tuple[str, int]]] = OrderedDict()
        self._lock = threading.Lock()

    def read(
        self,
        principal: Principal,
        case_id: UUID,
        *,
        purpose: str | None,
        from_entries: bool = False,
    ) -> Decision:
        """The caller's view of the case; an unknown case and a forbidden one are both 404.

        `from_entries`: the owning authority is read from the case's stored entries, not its
        aggregate (for verification, which answers for a damaged case too)."""
        emergency = is_emergency(purpose)
        if from_entries:
            facts = self.records.owner_from_entries(case_id)
            decision = self._decide(principal, case_id, facts, emergency=emergency, damaged_ok=True)
        else:
            try:
                decision = self.decide(principal, case_id, emergency=emergency)
            except UnreadableEntry:
                self._hide_damage(principal, case_id, emergency=emergency)
                raise
        if decision.view is View.NONE:
            raise CaseNotFoundError(case_id)
        return decision

    def _write_facts(
        self, principal: Principal, case_id: UUID, *, current: bool
    ) -> tuple[str, int] | None:
        """The case's owner and version for judging a write (`current`: as stored, not as
        cached); a damaged case is hidden from a writer who may not know it exists."""
        try:
            return self.records.case_facts(case_id, current=current)
        except UnreadableEntry:
            self._hide_damage(principal, case_id, emergency=False)
            raise

    def _hide_damage(self, principal: Principal, case_id: UUID, *, emergency: bool) -> None:
        """Within the handling of a damaged case's error: 404 for a caller who may not know the
        case exists, judged on the owning authority its stored entries name (as verification
        is); the others are told the store cannot be read."""
        facts = self.records.owner_from_entries(case_id)
        seen = self._decide(principal, case_id, facts, emergency=emergency, damaged_ok=True)
        if seen.view is View.NONE:
            raise CaseNotFoundError(case_id) from None

    def check_open(
        self, principal: Principal, case_id: UUID | None, events: Sequence[Mapping[str, Any]]
    ) -> None:
        """`POST /cases`: as `check_write`; an agency opening by referral takes the case id
        derived from its CaseOpened (choosing one could probe for cases it may not see)."""
        _check_writer(principal)
        if not events or events[0]["type"] != "CaseOpened":
            return  # not an opening at all: the use case refuses it (422)
        derived = derived_case_id(events[0]["id"])
        owner = events[0]["data"].get("local_authority") == principal.agency
        if case_id not in (None, derived) and not owner:
            raise Forbidden("a case opened by referral takes its id from the CaseOpened event")
        self.check_write(principal, case_id or derived, events, opening=True)

    def check_write(
        self,
        principal: Principal,
        case_id: UUID,
        events: Sequence[Mapping[str, Any]],
        *,
        opening: bool,
    ) -> WriteGrant:
        """Refuse (403, with the reason) a batch the caller may not post; 404 for a case it may
        not see. Judged on the case as cached; a refusal only on the case as stored."""
        _check_writer(principal)
        facts = self._write_facts(principal, case_id, current=False)
        try:
            self.judge_write(principal, case_id, events, opening=opening, facts=facts)
        except (Forbidden, CaseNotFoundError) as refusal:
            stored = self._write_facts(principal, case_id, current=True)
            if stored == facts:
                return self._replay_or(refusal, principal, case_id, events, opening, facts)
            facts = stored
            try:
                self.judge_write(principal, case_id, events, opening=opening, facts=facts)
            except (Forbidden, CaseNotFoundError) as on_stored:
                return self._replay_or(on_stored, principal, case_id, events, opening, facts)
        return WriteGrant(self, principal, case_id, events, opening, facts)

    def _replay_or(
        self,
        refusal: Forbidden | CaseNotFoundError,
        principal: Principal,
        case_id: UUID,
        events: Sequence[Mapping[str, Any]],
        opening: bool,
        facts: tuple[str, int] | None,
    ) -> WriteGrant:
        """A batch its agency already stored here is a replay, answered with its original results
        even when it ended that agency's access (a retraction of its only entry); anything else
        gets the `refusal`."""
        if facts is None or not self.records.stored_by(case_id, events, principal):
            raise refusal
        return WriteGrant(self, principal, case_id, events, opening, facts, replay=True)

    def judge_write(
        self,
        principal: Principal,
        case_id: UUID,
        events: Sequence[Mapping[str, Any]],
        *,
        opening: bool,
        facts: tuple[str, int] | None,
    ) -> None:
        """`check_write` on the case as it was at `facts`."""
        caller = caller_of(principal)
        if opening and facts is None:
            owner = str(events[0]["data"].get("local_authority"))
            view = View.FULL if owner == principal.agency else View.PARTNER
            decision = Decision(view, "opening a case", "opening")
        else:
            # Reviewers never write: a reviewer's claim to the case grants no writing, whatever
            # other roles its token carries (else it would write as the owning authority).
            writer = replace(principal, roles=tuple(r for r in principal.roles if r != "reviewer"))
            decision = self._decide(writer, case_id, facts, emergency=False)
            if decision.view is View.NONE or facts is None:
                raise CaseNotFoundError(case_id)
            owner = facts[0]
        # What each entry a correction or retraction may target is, and whose (a partner changes
        # only its own): stored ones, and those earlier in this batch.
        targets: dict[str, Target] = {}
        if any(
            e["type"] in catalogue and catalogue[e["type"]].posted_by is PostedBy.TARGET_OR_CSC
            for e in events
        ):
            targets = _targets(self.records.known_events(case_id))
            for event in events:
                author = event.get("author") or {}
                agency = author.get("agency") or principal.agency
                targets[str(event["id"])] = Target(agency, event["type"], event["data"])
        try:
            check_write(
                caller,
                decision,
                events,
                targets=targets,
                opening=opening,
                local_authority=owner,
            )
        except Denied as e:
            raise Forbidden(e.reason) from None

    def decide(
        self,
        principal: Principal,
        case_id: UUID,
        *,
        emergency: bool = False,
        log_head: int | None = None,
    ) -> Decision:
        """The caller's view of the case (`View.NONE` for an unknown one), without refusing.

        Cheap for the owning authority and reviewers (the case's small aggregate says who
        owns it); a partner's involvement needs the case's state, cached by version. The feed
        asks this once per case per page, passing `log_head`, the log's newest position read
        just before; `read` refuses on top of it."""
        return self._decide(
            principal, case_id, self._case_facts(case_id, log_head), emergency=emergency
        )

    def _decide(
        self,
        principal: Principal,
        case_id: UUID,
        facts: tuple[str, int] | None,
        *,
        emergency: bool,
        damaged_ok: bool = False,
    ) -> Decision:
        """`damaged_ok`: a case whose state cannot be folded (an entry unreadable) gives no
        partner a view, rather than refusing to decide."""
        if facts is None:
            return Decision(View.NONE, "no such case", "none")
        owner, version = facts

        def state() -> CaseState | None:
            try:
                return self._state(case_id, version)
            except UnreadableEntry:
                if damaged_ok:
                    return None
                raise

        return decide(
            caller_of(principal),
            str(case_id),
            owner,
            state,
            now=self.records.clock(),
            access_years=self.access_years,
            emergency=emergency,
        )

    def _case_facts(self, case_id: UUID, log_head: int | None) -> tuple[str, int] | None:
        if log_head is None:
            return self.records.case_facts(case_id)
        with self._lock:
            cached = self._facts.get(case_id)
        if cached is not None and cached[0] == log_head:
            return cached[1]
        # Read after `log_head` was: the facts are at least as new as it.
        facts = self.records.case_facts(case_id)
        if facts is not None:
            with self._lock:
                self._facts[case_id] = (log_head, facts)
                self._facts.move_to_end(case_id)
                while len(self._facts) > FACTS_CACHED:
                    self._facts.popitem(last=False)
        return facts

    def _state(self, case_id: UUID, version: int) -> CaseState:
        """The case's state now, on everything recorded: cached by version, until an entry
        already recorded but dated later happens."""
        now = self.records.clock()
        with self._lock:
            cached = self._states.get(case_id)
        if cached is not None and cached[0] == version and (cached[1] is None or now < cached[1]):
            return cached[2]
        events = self.records.known_events(case_id)
        known_at = max(now, events[-1].recorded_at)
        with self.records.reading(case_id):
            state = case_state(case_id, events, as_of=now, known_at=known_at)
        upcoming = next_occurrence(events, as_of=now, known_at=known_at)
        with self._lock:
            self._states[case_id] = (events[-1].version, upcoming, state)
            self._states.move_to_end(case_id)
            while len(self._states) > 1024:
                self._states.popitem(last=False)
        return state
