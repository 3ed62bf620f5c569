"""The case's state as of a date: a pure fold over the selected entries.

See DESIGN.md "Per-case views".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from domain.envelope import RESTRICTED
from domain.moments import Moment, format_utc
from domain.selection import Entry, select

PLAN_RANK = ("looked_after", "child_protection", "child_in_need", "early_help")
EPISODE_OPENERS = frozenset({"ReferralAccepted", "CaseReopened", "PeriodOfCareStarted"})
EPISODE_CLOSERS = frozenset({"CaseClosed", "CaseTransferred"})
# Contact decisions that open no episode: the contact ends with them.
CONTACT_ENDINGS = frozenset({"nfa", "advice", "early_help"})
# An acknowledgement is a decision about an alert, not activity on the child's case: it is not
# the authority's involvement, and judging it would raise an alert about clearing one.
# Corrections, retractions, annotations and reassessments never reach a fold or a rule:
# selection applies them to their target.
NOT_ACTIVITY = frozenset({"AlertAcknowledged"})
PLAN_STARTS = {
    "ChildInNeedPlanStarted": "child_in_need",
    "ChildProtectionPlanStarted": "child_protection",
    "PeriodOfCareStarted": "looked_after",
    "SteppedDownToEarlyHelp": "early_help",
}
PLAN_ENDS = {
    "ChildInNeedPlanEnded": "child_in_need",
    "ChildProtectionPlanEnded": "child_protection",
    "PeriodOfCareEnded": "looked_after",
}
# Changes to a plan that name it by its `plan_id`.
PLAN_CHANGES = {"ChildProtectionCategoryChanged": "child_protection"}
# A plan as the record names it: its kind and `plan_id`. Looked-after periods and early help have
# no id, so one of each is open at a time.
PlanKey = tuple[str, str | None]


class NothingRecorded(LookupError):
    """The case's opening had not been recorded by the `known_at` asked about."""


class EventRef(BaseModel):
    event_id: str
    type: str
    date: str
    precision: Literal["exact", "day", "month", "approximate"] = Field(
        description="How precisely `date` is known: a `month` date means that month, an "
        "`approximate` one about then"
    )


class Episode(BaseModel):
    """A period of children's social care involvement inside the lifelong case."""

    number: int
    opened_at: str
    opened_by: EventRef
    closed_at: str | None = None
    closed_by: EventRef | None = None
    closure_reason: str | None = None


class Plan(BaseModel):
    kind: Literal["early_help", "child_in_need", "child_protection", "looked_after"]
    plan_id: str | None = None
    started_at: str
    started_by: str
    category: str | None = None
    legal_status: str | None = None
    placement: dict[str, Any] | None = None


class Involvement(BaseModel):
    """A partner agency's involvement: from the first event naming it to its end, if any."""

    agency: str
    role: str | None = None
    lead_contact: dict[str, Any] | None = None
    involved_from: str
    involved_to: str | None = None
    named_by: list[str]


class OpenConcern(BaseModel):
    event_id: str
    occurred_at: str
    category: str
    description: str
    agency: str


class LastInvolvement(BaseModel):
    """The owning authority's latest involvement, with the span of record it was judged on."""

    date: str | None
    precision: Literal["exact", "day", "month", "approximate"] | None = Field(
        description="How precisely `date` is known"
    )
    event_id: str | None
    type: str | None
    episode: int | None
    covers_from: str
    covers_to: str
    recorded_up_to: str


class Identifier(BaseModel):
    scheme: str
    value: str


class CaseState(BaseModel):
    """What the record said about the case: as of `as_of`, on what was recorded by `known_at`."""

    case_id: UUID
    version: int
    as_of: str
    known_at: str
    child: dict[str, Any]
    local_authority: str
    identifiers: list[Identifier]
    status: Literal["contact", "open", "closed"]
    episodes: list[Episode]
    plans: list[Plan]
    plan: Literal["looked_after", "child_protection", "child_in_need", "early_help", "none"]
    allocated_worker: str | None
    team: str | None
    involved_agencies: list[Involvement]
    open_concerns: list[OpenConcern]
    last_seen_at: str | None
    last_seen_alone_at: str | None
    last_voice_recorded_at: str | None
    last_involvement: LastInvolvement


# Events that name a partner agency, and where in their payload the agencies are.
def named_agencies(entry: Entry) -> list[str]:
    data = entry.data
    kind = entry.type
    if kind in ("AgencyInvolvementStarted", "AgencyInvolvementEnded"):
        return [data["agency"]]
    if kind == "ContactReceived":
        agency = data.get("referrer", {}).get("agency")
        return [agency] if agency else []
    if kind == "MeetingHeld":
        people = [*data.get("attended", ()), *data.get("invited", ())]
        return [p["agency"] for p in people if p.get("agency")]
    if kind == "InformationShared":
        return [w["agency"] for w in data.get("with", ())]
    if kind == "MinutesCirculated":
        return [r["agency"] for r in data.get("recipients", ()) if r.get("agency")]
    return []


@dataclass
class _Agency:
    agency: str
    first: Entry
    last: Entry
    ended: Entry | None = None
    started: bool = False  # an AgencyInvolvementStarted not (yet) followed by its end
    role: str | None = None
    lead_contact: dict[str, Any] | None = None
    named_by: list[str] = field(default_factory=list)
    # Episodes its referral led to: a contact comes before the episode it opens, yet the
    # referrer is part of that episode.
    referred_into: set[int] = field(default_factory=set)


def case_state(
    case_id: UUID,
    events: Iterable[Any],
    *,
    as_of: datetime,
    known_at: datetime,
    withheld: frozenset[str] = frozenset(),
) -> CaseState:
    """Fold the entries `as_of`/`known_at` select into the case's state; the entries in
    `withheld` (another agency's restricted entries, for a partner) count as what they are and
    when, never for what they say."""
    events = list(events)
    entries = select(events, as_of=as_of, known_at=known_at)
    if not entries or entries[0].type != "CaseOpened":
        raise NothingRecorded(case_id)
    # The state's version (its ETag) is the case's version as recorded by known_at: a
    # correction or retraction changes what the state says without adding an entry to it.
    version = max(e.version for e in events if e.recorded_at <= known_at)
    return fold(
        case_id, entries, as_of=as_of, known_at=known_at, version=version, withheld=withheld
    )


def fold(
    case_id: UUID,
    entries: Sequence[Entry],
    *,
    as_of: datetime,
    known_at: datetime,
    version: int | None = None,
    withheld: frozenset[str] = frozenset(),
) -> CaseState:
    opened = entries[0]
    # A restricted correction of the opening (a new identity, say) hides the child's details.
    child = {"name": RESTRICTED} if opened.id in withheld else dict(opened.data["child"])
    local_authority: str = opened.data["local_authority"]
    identifiers: list[Identifier] = []
    episodes: list[Episode] = []
    plans: list[tuple[PlanKey, Plan]] = []  # the open plans, oldest first
    worker: str | None = None
    team: str | None = None
    agencies: dict[str, _Agency] = {}
    # Referrers of contacts received while no episode is open, by contact id, until a decision
    # other than a referral closes the contact. The next episode takes the one its referral
    # names, or if it names none, those still awaiting an episode: a strategy discussion or an
    # s47 enquiry that concluded with nothing further ended the wait of the contacts decided to
    # go to a strategy discussion (`to_strategy`).
    referrers: dict[str, str] = {}
    awaiting_episode: set[str] = set()
    to_strategy: set[str] = set()
    concerns: dict[str, OpenConcern] = {}
    # Follow-ups by the concern they name: one dated by its day alone folds before a concern
    # timed later that day.
    followed_up: set[str] = set()
    seen = seen_alone = voice = None
    closing: Entry | None = None  # the closing of the latest episode, while none is open
    last_csc: Entry | None = None
    last_csc_episode: int | None = None

    for entry in entries:
        data, kind, when = entry.data, entry.type, entry.occurred.text
        is_open = bool(episodes) and episodes[-1].closed_at is None
        hidden = entry.id in withheld
        if hidden and kind in ("PersonDetailsChanged", "IdentifierLinked"):
            pass
        elif kind == "PersonDetailsChanged":
            child.update({k: v for k, v in data.items() if v is not None and k != "reason"})
        elif kind == "IdentifierLinked":
            identifiers.append(Identifier(scheme=data["scheme"], value=data["value"]))
        elif kind in EPISODE_OPENERS and not is_open:
            plans = [(key, plan) for key, plan in plans if plan.kind != "early_help"]
            episodes.append(
                Episode(number=len(episodes) + 1, opened_at=when, opened_by=event_ref(entry))
            )
            closing = None
            named = data.get("contact_id") if kind == "ReferralAccepted" else None
            for contact in {named} if named else awaiting_episode:
                if contact in referrers:
                    agencies[referrers[contact]].referred_into.add(len(episodes))
            referrers.clear()
            awaiting_episode.clear()
            to_strategy.clear()
        elif kind in EPISODE_CLOSERS and is_open:
            closing = entry
            episodes[-1].closed_at = when
            episodes[-1].closed_by = event_ref(entry)
            episodes[-1].closure_reason = (
                None
                if hidden
                else data.get("reason_code")
                or (
                    f"transferred to {data['to_local_authority']}"
                    if kind == "CaseTransferred"
                    else None
                )
            )
        if kind in PLAN_STARTS:
            # Plans are told apart by their id even where a partner may not read it.
            started = plan_key(entry)
            plans = [(key, plan) for key, plan in plans if key != started]
            plans.append((started, _plan(started[0], entry, hidden)))
        elif kind in PLAN_ENDS:
            closed = named_plan([key for key, _ in plans], entry)
            if closed is not None:
                del plans[closed]
        elif kind == "ChildProtectionCategoryChanged":
            changed = named_plan([key for key, _ in plans], entry)
            if changed is not None:
                plans[changed][1].category = None if hidden else data["category"]
        elif kind == "LegalStatusChanged":
            for plan in _of_kind(plans, "looked_after"):
                plan.legal_status = None if hidden else data["legal_status"]
        elif kind == "PlacementChanged":
            for plan in _of_kind(plans, "looked_after"):
                plan.placement = None if hidden else dict(data["placement"])
        elif kind == "ContactDecisionMade" and data["outcome"] in CONTACT_ENDINGS:
            referrers.pop(data["contact_id"], None)
            awaiting_episode.discard(data["contact_id"])
        elif kind == "ContactDecisionMade" and data["outcome"] == "strategy_discussion":
            to_strategy.add(data["contact_id"])
        elif not is_open and (
            (kind == "StrategyDiscussionHeld" and data["decision"] == "no_s47")
            or (kind == "Section47Concluded" and not data["conference_required"])
        ):
            awaiting_episode -= to_strategy
            to_strategy.clear()
        elif kind == "WorkerAllocated":
            worker, team = (RESTRICTED, RESTRICTED) if hidden else (data["worker"], data["team"])
        elif (
            kind == "ConcernObserved"
            and data.get("follow_up_required", True)
            and entry.id not in followed_up
        ):
            concerns[entry.id] = OpenConcern(
                event_id=entry.id,
                occurred_at=when,
                category="restricted" if hidden else data["category"],
                description=RESTRICTED if hidden else data["description"],
                agency=entry.agency,
            )
        elif kind == "ConcernFollowedUp":
            followed_up.add(str(data["concern_event_id"]))
            concerns.pop(str(data["concern_event_id"]), None)
        if ends_allocation(entry, is_open=is_open):
            worker = team = None
        if sees_child(entry):
            seen = when
            if sees_child_alone(entry):
                seen_alone = when
        if records_voice(entry):
            voice = when
        # An agency named only in what a partner may not read is not shown to it.
        for agency in () if hidden else named_agencies(entry):
            # The owning authority is not a partner: its own staff at a meeting do not make it
            # "involved" from that day (it owns the whole case).
            if agency != local_authority:
                _involve(agencies, agency, entry, hidden)
                if kind == "ContactReceived" and not is_open:
                    referrers[data["contact_id"]] = agency
                    awaiting_episode.add(data["contact_id"])
        # CaseOpened folds first whatever its date: only what had happened counts as involvement,
        # and an entry from before the opening (history typed in later) is not later than it.
        if (
            entry.agency == local_authority
            and entry.type not in NOT_ACTIVITY
            and entry.occurred.instant <= as_of
            and (last_csc is None or entry.occurred.instant >= last_csc.occurred.instant)
        ):
            last_csc = entry
            last_csc_episode = _episode_of(entry, episodes, closing)

    status: Literal["contact", "open", "closed"] = (
        "contact" if not episodes else "open" if episodes[-1].closed_at is None else "closed"
    )
    open_plans = sorted((plan for _, plan in plans), key=lambda plan: PLAN_RANK.index(plan.kind))
    # The span of record starts at the first entry that had happened by `as_of`: one may have
    # happened before the case was opened, and the opening after `as_of` (it is selected
    # whatever its date); with nothing before `as_of`, the span is `as_of` alone.
    happened = [e.occurred for e in entries if e.occurred.instant <= as_of]
    covers_from = min(happened, key=lambda m: m.instant).text if happened else format_utc(as_of)
    return CaseState(
        case_id=case_id,
        version=version if version is not None else max(e.version for e in entries),
        as_of=format_utc(as_of),
        known_at=format_utc(known_at),
        child=child,
        local_authority=local_authority,
        identifiers=identifiers,
        status=status,
        episodes=episodes,
        plans=open_plans,
        plan=open_plans[0].kind if open_plans else "none",
        allocated_worker=worker,
        team=team,
        involved_agencies=[_involvement(a, episodes) for a in agencies.values()],
        open_concerns=list(concerns.values()),
        last_seen_at=seen,
        last_seen_alone_at=seen_alone,
        last_voice_recorded_at=voice,
        last_involvement=LastInvolvement(
            date=last_csc.occurred.text if last_csc else None,
            precision=last_csc.precision.value if last_csc else None,
            event_id=last_csc.id if last_csc else None,
            type=last_csc.type if last_csc else None,
            episode=last_csc_episode,
            covers_from=covers_from,
            covers_to=format_utc(as_of),
            recorded_up_to=format_utc(known_at),
        ),
    )


def sees_child(entry: Entry) -> bool:
    """The entries that count as the child being seen (`last_seen_at`, `child-not-seen`): a
    visit by any agency that saw the child, or the child's views recorded seeing them alone."""
    if entry.type == "VisitMade":
        return bool(entry.data.get("child_seen"))
    return entry.type == "ChildsVoiceRecorded" and bool(entry.data.get("seen_alone"))


def sees_child_alone(entry: Entry) -> bool:
    return sees_child(entry) and bool(entry.data.get("seen_alone"))


def records_voice(entry: Entry) -> bool:
    """The entries that record the child's own words (`last_voice_recorded_at`)."""
    return entry.type == "ChildsVoiceRecorded"


def ends_allocation(entry: Entry, *, is_open: bool) -> bool:
    """Whether the allocated worker leaves the case at `entry`: with the work they were allocated
    to, the episode (its closing or transfer) or, while no episode is open, the contact being
    screened (a decision that opens no episode). A new episode needs a new allocation."""
    if entry.type in EPISODE_CLOSERS:
        return True
    return (
        not is_open
        and entry.type == "ContactDecisionMade"
        and entry.data["outcome"] in CONTACT_ENDINGS
    )


def after_closing(entry: Entry, closing: Entry) -> bool:
    """Whether an entry folded after an episode's closing is known to come after it. On the
    closing's own day, when either is dated rather than timed, which came first is not known:
    the closing worker's last note of the day belongs to the episode it closed."""
    same_day = entry.occurred.london_date == closing.occurred.london_date
    return not (same_day and (entry.occurred.is_date or closing.occurred.is_date))


def _episode_of(entry: Entry, episodes: Sequence[Episode], closing: Entry | None) -> int | None:
    """The episode an entry just folded falls in: the open one, or the one it closed or may have
    come before the closing of; None for work done between episodes (after a closure, before a
    reopening)."""
    if not episodes:
        return None
    if closing is None or closing.id == entry.id or not after_closing(entry, closing):
        return episodes[-1].number
    return None


def event_ref(entry: Entry) -> EventRef:
    return EventRef(
        event_id=entry.id,
        type=entry.type,
        date=entry.occurred.text,
        precision=entry.precision.value,
    )


def plan_key(entry: Entry) -> PlanKey:
    """The plan a plan's start, end or change event names."""
    kind = PLAN_STARTS.get(entry.type) or PLAN_ENDS.get(entry.type) or PLAN_CHANGES[entry.type]
    return kind, entry.data.get("plan_id")


def named_plan(open_plans: Sequence[PlanKey], entry: Entry) -> int | None:
    """Which of the open plans (oldest first) an end or change event is about: the one it names,
    or if it names none open, the oldest open plan of its kind (as `plan-conflict` pairs them);
    None if no plan of its kind is open."""
    kind, plan_id = plan_key(entry)
    of_kind = [at for at, (open_kind, _) in enumerate(open_plans) if open_kind == kind]
    named = [at for at in of_kind if open_plans[at][1] == plan_id]
    found = named or of_kind
    return found[0] if found else None


def _of_kind(plans: Sequence[tuple[PlanKey, Plan]], kind: str) -> list[Plan]:
    return [plan for _, plan in plans if plan.kind == kind]


def _plan(kind: str, entry: Entry, hidden: bool) -> Plan:
    data: Mapping[str, Any] = {} if hidden else entry.data
    return Plan(
        kind=kind,
        plan_id=data.get("plan_id"),
        started_at=entry.occurred.text,
        started_by=entry.id,
        category=data.get("category"),
        legal_status=data.get("legal_status"),
        placement=dict(data["placement"]) if data.get("placement") else None,
    )


def _involve(agencies: dict[str, _Agency], agency: str, entry: Entry, hidden: bool) -> None:
    known = agencies.get(agency)
    if known is None:
        known = agencies[agency] = _Agency(agency=agency, first=entry, last=entry)
    known.last = entry
    if entry.type not in known.named_by:
        known.named_by.append(entry.type)
    if entry.type == "AgencyInvolvementStarted":
        known.role = None if hidden else entry.data.get("role")
        known.lead_contact = None if hidden else entry.data.get("lead_contact")
        known.ended = None
        known.started = True
    elif entry.type == "AgencyInvolvementEnded":
        known.ended = entry
        known.started = False


def _involvement(agency: _Agency, episodes: Sequence[Episode]) -> Involvement:
    """Involved until the later of its recorded end and the end of the last episode it overlaps;
    outside any episode, until the last event naming it (DESIGN.md "Who may see what")."""
    start = agency.first.occurred.instant
    span_end = max(
        agency.last.occurred.instant, agency.ended.occurred.instant if agency.ended else start
    )
    ends = [agency.last.occurred]
    # A started involvement runs until its end is recorded, however often it is named meanwhile.
    ongoing = agency.started
    for episode in episodes:
        opened = Moment.parse(episode.opened_at)
        closed = Moment.parse(episode.closed_at) if episode.closed_at else None
        overlaps = opened.instant <= span_end and (closed is None or closed.instant >= start)
        if overlaps or episode.number in agency.referred_into:
            if closed is None:
                ongoing = True
            else:
                ends.append(closed)
    if agency.ended is not None:
        ends.append(agency.ended.occurred)
    return Involvement(
        agency=agency.agency,
        role=agency.role,
        lead_contact=agency.lead_contact,
        involved_from=agency.first.occurred.text,
        involved_to=None if ongoing else max(ends).text,
        named_by=agency.named_by,
    )
