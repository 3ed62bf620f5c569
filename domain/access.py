"""Who may see and write what: the multi-agency access policy, one table of rules.

Pure functions of the caller, the case's facts and "now". Printed in the README for information
governance leads; the service asks these functions and nothing else.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.catalogue import PostedBy, catalogue
from domain.envelope import RecordedEvent
from domain.moments import LONDON, Moment, end_of_day, years_after
from domain.selection import Entry, select
from domain.state import CaseState, named_agencies

CSC = "csc"


class View(enum.Enum):
    """How much of a case a caller may read."""

    FULL = "full"  # the owning authority, a reviewer named in the token, break-glass
    PARTNER = "partner"  # an involved partner agency: the proportionate view
    NONE = "none"  # unknown and forbidden look the same: 404


class Denied(Exception):
    """A request the policy refuses, with the reason a caller is given (403)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Caller:
    """The parts of a principal the policy reads."""

    agency: str
    roles: frozenset[str]
    cases: frozenset[str]

    @property
    def kind(self) -> str:
        return self.agency.split(":", 1)[0]

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


@dataclass(frozen=True)
class Decision:
    """The view a caller gets of one case, and how it was decided."""

    view: View
    reason: str
    basis: str  # reviewer, owner, partner, break-glass, opening, list or none
    break_glass: bool = False


# Roles that may read a case's per-case views at all (integrators read the feed, the read models
# and the raw events; admins read no case data).
READERS = frozenset({"practitioner", "manager", "reviewer", "system"})
WRITERS = frozenset({"practitioner", "manager", "system"})
BREAK_GLASS_ROLES = frozenset({"practitioner", "manager"})


def decide(
    caller: Caller,
    case_id: str,
    local_authority: str,
    state: Callable[[], CaseState | None],
    *,
    now: datetime,
    access_years: int,
    emergency: bool = False,
) -> Decision:
    """The view `caller` gets of a case owned by `local_authority`.

    `state` gives the case's state as known now, or None when it cannot be read (a damaged
    case: then no partner's involvement is known); it is asked for only when the caller is
    neither a reviewer named in the token nor the owning authority (a fold costs time).
    """
    if caller.has("reviewer") and ("*" in caller.cases or case_id in caller.cases):
        return Decision(View.FULL, "reviewer of this case", "reviewer")
    if not caller.roles - {"reviewer"}:
        # A reviewer reads the cases its token names, whatever its agency.
        return Decision(View.NONE, "not a case this reviewer is given", "none")
    if caller.agency == local_authority:
        return Decision(View.FULL, "the owning authority's children's social care", "owner")
    known = state()
    involvement = (
        None
        if known is None
        else partner_involvement(known, caller.agency, now=now, access_years=access_years)
    )
    if emergency and caller.has(*BREAK_GLASS_ROLES):
        # An emergency may need the whole case, also for a partner with its proportionate view.
        return Decision(View.FULL, "break-glass: emergency access", "break-glass", break_glass=True)
    if involvement is not None:
        return Decision(View.PARTNER, involvement, "partner")
    return Decision(View.NONE, "not involved in this case", "none")


def sees_whole_audit(caller: Caller, decision: Decision) -> bool:
    """The owning authority's managers and the case's reviewers see every audit entry; everyone
    else sees their own agency's."""
    return decision.basis == "reviewer" or (decision.basis == "owner" and caller.has("manager"))


def partner_involvement(
    state: CaseState, agency: str, *, now: datetime, access_years: int
) -> str | None:
    """Why `agency` may read the case as a partner now, or None when it may not.

    A partner keeps access for `access_years` after its involvement ends (to the end of that
    London day): a closed case must not cut off the school that was part of it.
    """
    for involvement in state.involved_agencies:
        if involvement.agency != agency:
            continue
        if involvement.involved_to is None:
            return f"involved since {involvement.involved_from}"
        until = end_of_day(
            years_after(Moment.parse(involvement.involved_to).london_date, access_years)
        )
        if now <= until:
            return (
                f"involved {involvement.involved_from} to {involvement.involved_to}; "
                f"access until {until.astimezone(LONDON).date().isoformat()}"
            )
    return None


# --- writing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """An entry a correction or retraction may target: whose it is, its type, and its payload as
    it now stands (its latest correction's, if corrected)."""

    agency: str
    type: str
    data: Mapping[str, Any]


def check_write(
    caller: Caller,
    decision: Decision,
    entries: Sequence[Mapping[str, Any]],
    *,
    targets: Mapping[str, Target],
    opening: bool,
    local_authority: str,
) -> None:
    """Refuse (Denied) a batch the caller may not post to a case `local_authority` owns;
    `targets` holds each entry a correction or retraction may target, by event id."""
    if not caller.has(*WRITERS):
        raise Denied(f"the roles {sorted(caller.roles)} never write")
    if decision.break_glass:
        raise Denied("break-glass access reads; it never writes")
    owner = decision.view is View.FULL
    if opening and not owner:
        _check_referral(caller, entries, local_authority)
    for index, entry in enumerate(entries):
        reason = _refusal(caller, owner, entry, targets, opening and index < 2, local_authority)
        if not reason and not owner:
            # The owning authority may type in what another agency wrote; a partner may not
            # attribute its entry to another agency.
            author = (entry.get("author") or {}).get("agency")
            if author not in (None, caller.agency):
                reason = f"an entry posted by {caller.agency} cannot name {author} as its author"
        if reason:
            raise Denied(f"/events/{index}: {reason}")


def _check_referral(
    caller: Caller, entries: Sequence[Mapping[str, Any]], local_authority: str
) -> None:
    kinds = [e["type"] for e in entries[:2]]
    if kinds != ["CaseOpened", "ContactReceived"]:
        who = (
            f"a case of {local_authority} is opened by its own children's social care; "
            f"{caller.agency} opens it"
            if caller.kind == CSC
            else "an agency other than children's social care opens a case"
        )
        raise Denied(f"{who} with a referral: CaseOpened followed by ContactReceived")
    referrer = entries[1]["data"].get("referrer", {}).get("agency")
    if referrer != caller.agency:
        raise Denied(f"the referral must name your agency ({caller.agency}) as the referrer")


def _is_manager(caller: Caller, owner: bool) -> bool:
    """A manager of the owning authority's children's social care."""
    return owner and caller.has("manager") and caller.kind == CSC


def _refusal(
    caller: Caller,
    owner: bool,
    entry: Mapping[str, Any],
    targets: Mapping[str, Target],
    referral: bool,
    local_authority: str,
) -> str | None:
    kind = catalogue[entry["type"]]
    rule = kind.posted_by
    if rule is PostedBy.CSC_MANAGER:
        return (
            None
            if _is_manager(caller, owner)
            else (f"{kind.name} is a decision of the owning authority's managers")
        )
    if rule is PostedBy.TARGET_OR_CSC:
        return _change_refusal(caller, owner, entry, targets, local_authority)
    if owner:
        return None
    if entry["type"] == "ContactReceived":
        # Naming a referrer makes it involved: a partner refers only as itself.
        referrer = entry["data"].get("referrer", {}).get("agency")
        if referrer != caller.agency:
            return f"a referral posted by {caller.agency} must name it as the referrer"
    if referral or rule is PostedBy.ANY:
        return None
    if rule is PostedBy.SELF_OR_CSC:
        named = entry["data"].get("agency")
        return (
            None
            if named == caller.agency
            else (f"{kind.name} for another agency is recorded by children's social care")
        )
    return f"{kind.name} is recorded by the owning authority's children's social care"


def _change_refusal(
    caller: Caller,
    owner: bool,
    entry: Mapping[str, Any],
    targets: Mapping[str, Target],
    local_authority: str,
) -> str | None:
    """Why the caller may not correct or retract the entry `entry` targets, or None. A partner
    changes only its own agency's entries, and only one it could post as it now stands, and a
    correction's replacement only if it could post that too (else it could post its own entry,
    then correct it into one it may not post, or change back what children's social care
    corrected it to say); a manager's decision is changed only by a manager."""
    verb = "retract" if entry["type"] == "EntryRetracted" else "correct"
    target = targets.get(str(entry["data"].get("target_event_id")))
    if not owner and (target is None or target.agency != caller.agency):
        return f"only the agency that wrote an entry, or children's social care, may {verb} it"
    if target is None or target.type not in catalogue:
        return None  # (no such entry: the use case refuses the batch, 422)
    kind = catalogue[target.type]
    if kind.posted_by is PostedBy.CSC_MANAGER and not _is_manager(caller, owner):
        return f"only the owning authority's managers {verb} their decisions ({target.type})"
    if owner:
        return None  # (it posts every other type)
    reason = _as_posted_by(caller, target.type, target.data, targets, local_authority)
    if reason is not None:
        return f"the {target.type} as it stands: {reason}"
    if entry["type"] != "EntryCorrected":
        return None
    sent = entry["data"].get("data")
    # A referrer corrects its own CaseOpened, but the owner it names stays: a correction of
    # `local_authority` moves the whole case (and every restricted entry) to that agency.
    moved_to = sent.get("local_authority") if isinstance(sent, Mapping) else None
    if moved_to is not None and moved_to != local_authority:
        return "only the owning authority's children's social care moves the case elsewhere"
    replacement = kind.stored_form(sent)
    if replacement is None:
        return None  # (not a payload of the target's type: the use case refuses it, 422)
    reason = _as_posted_by(caller, target.type, replacement, targets, local_authority)
    return None if reason is None else f"its replacement {target.type}: {reason}"


def _as_posted_by(
    caller: Caller,
    kind: str,
    data: Mapping[str, Any],
    targets: Mapping[str, Target],
    local_authority: str,
) -> str | None:
    """Why a partner may not post an entry of `kind` saying `data`, or None. (The entry is its
    own: an opening it posted was its referral.)"""
    referral = catalogue[kind].posted_by is PostedBy.REFERRER
    as_posted = {"type": kind, "data": data}
    return _refusal(caller, False, as_posted, targets, referral, local_authority)


# --- reading -------------------------------------------------------------------------------------


def shared_with(entries: Iterable[Entry], agency: str) -> set[str]:
    """Ids of the entries an agency wrote, that name it (a meeting it attended, information or
    minutes sent to it, its own involvement), and the concerns another agency shared with it."""
    ids: set[str] = set()
    concerns: set[str] = set()
    named_in_shares: set[str] = set()
    for entry in entries:
        named = agency in named_agencies(entry)
        if entry.agency == agency or named:
            ids.add(entry.id)
        if entry.type == "ConcernObserved":
            concerns.add(entry.id)
        # What an agency shares with others is not thereby shared with it: its own share naming
        # another agency's entries must not widen its view.
        elif entry.type == "InformationShared" and named and entry.agency != agency:
            named_in_shares.update(str(c) for c in entry.data.get("concern_event_ids", ()))
    # A share shares the concerns it names: an id of any other entry shares nothing.
    return ids | (named_in_shares & concerns)


def withheld_from(events: Iterable[RecordedEvent], agency: str | None) -> frozenset[str]:
    """The entries a partner sees only as "a restricted entry exists": other agencies'
    restricted entries (their date and type, never their content). With no agency, every
    restricted entry (what any partner may be shown, as the case list needs)."""
    withheld: set[str] = set()
    for event in events:
        if is_withheld(event, agency):
            withheld.add(event.id)
            if event.type == "EntryCorrected":
                # A restricted correction makes what it corrected restricted too.
                withheld.add(str(event.data["target_event_id"]))
    return frozenset(withheld)


def is_withheld(event: RecordedEvent, agency: str | None) -> bool:
    """Another agency's restricted entry (with no agency: any restricted entry): a partner sees
    "a restricted entry exists", its date and type, never its content."""
    return event.sensitivity == "restricted" and event.agency != agency


# Business time far enough ahead that every recorded entry has happened by it.
_WHENEVER = datetime.max.replace(tzinfo=UTC)


def partner_feed_view(
    events: Sequence[RecordedEvent], agency: str, *, known_at: datetime
) -> tuple[frozenset[str], frozenset[str]]:
    """Which events of one case a partner agency's feed carries: (in full, as placeholders).

    In full: every event its agency wrote, the entries shared with it as recorded by
    `known_at` (whenever they happened), and the corrections, annotations and significance
    reassessments of those shared entries. Among these, another agency's restricted events (and
    entries a restricted correction made restricted) are placeholders: "a restricted entry
    exists", never their content; so are other agencies' corrections, annotations and
    reassessments of such an entry, whatever their own sensitivity (a correction carries the
    entry's new payload). Everything else of the case is not in its feed at all; a retracted
    entry leaves it, as it leaves every view, and its retraction is carried in its place when
    the entry was shared with the agency (or written by it) before it was retracted, by the
    same rules as a correction.
    """
    entries = select(events, as_of=_WHENEVER, known_at=known_at)
    shared = shared_with(entries, agency)
    withheld = set(withheld_from(events, agency))
    retractions = [e for e in events if e.type == "EntryRetracted" and e.recorded_at <= known_at]
    # Its own events, but for a retracted entry and what acted on it (its retraction is carried
    # below, as for every entry its feed carried).
    gone = {r.targets for r in retractions}
    carried = {
        e.id
        for e in events
        if e.agency == agency and e.id not in gone and (e.targets is None or e.targets not in gone)
    }
    for entry in entries:
        if entry.id not in shared:
            continue
        acts = [*entry.corrections, *entry.annotations]
        if entry.assessment is not None:
            acts.append(entry.assessment)
        carried.add(entry.id)
        carried.update(act.id for act in acts)
        if entry.id in withheld:
            withheld.update(act.id for act in acts if act.agency != agency)
    if retractions:
        # A partner's system may already hold what was retracted: the retraction tells it to
        # delete it. Whether it was carried is judged on the record as it was when the
        # retraction was recorded, without any retraction (a batch's retractions share one time).
        unretracted = [e for e in events if e.type != "EntryRetracted"]
        shared_then: dict[datetime, set[str]] = {}
        for retraction in retractions:
            at = retraction.recorded_at
            if at not in shared_then:
                shared_then[at] = shared_with(
                    select(unretracted, as_of=_WHENEVER, known_at=at), agency
                )
            target = retraction.targets
            if target not in shared_then[at]:
                continue
            carried.add(retraction.id)
            if target in withheld and retraction.agency != agency:
                withheld.add(retraction.id)
    placeholders = frozenset(carried & withheld)
    return frozenset(carried - placeholders), placeholders
