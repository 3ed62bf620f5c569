"""Every event type of DOMAIN.md §2, each defined once.

Importing this module registers all of them in `domain.catalogue.catalogue`. Field lists follow
the required core of the catalogue table; optional fields are ones users would expect.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, model_validator

from domain.catalogue import Payload, PostedBy, Significance, catalogue
from domain.values import (
    ActionItem,
    Agency,
    AgencyRef,
    AlertRule,
    AssessmentOutcome,
    Child,
    CINFactor,
    ConcernCategory,
    ConferenceDecision,
    ConferenceKind,
    Consent,
    ContactOutcome,
    CPCategory,
    HouseholdChange,
    IdentifierScheme,
    JsonObject,
    LeadContact,
    LocalAuthority,
    MeetingKind,
    Name,
    Person,
    Placement,
    Postcode,
    PrimaryNeed,
    ReasonCode,
    Ref,
    Referrer,
    RelatedPerson,
    Sex,
    SignificanceLevel,
    SourceCode,
    StrategyDecision,
    Text,
    VisitType,
    VoiceMethod,
)

# --- headline helpers ------------------------------------------------------------------------


def _brief(text: str, limit: int = 80) -> str:
    """Free text cut to a headline's length, on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _day(d: date) -> str:
    return f"{d.day} {d:%b %Y}"


def _count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


def _agency_count(people: Iterable[Person]) -> int:
    return len({p.agency for p in people if p.agency is not None})


def _listed(items: list[str], shown: int = 3) -> str:
    if len(items) <= shown:
        return ", ".join(items)
    return ", ".join(items[:shown]) + f" and {len(items) - shown} more"


# --- significance that depends on the payload --------------------------------------------------
# These read the stored dict, not the model: the folds rank entries without re-validating them.


def visit_significance(data: Mapping[str, Any], default: Significance) -> Significance:
    """A visit where the child was not seen is significant."""
    if data.get("child_seen") is False:
        return max(default, Significance.SIGNIFICANT)
    return default


_CRITICAL_CONCERNS = frozenset(
    {ConcernCategory.INJURY, ConcernCategory.BRUISING, ConcernCategory.DISCLOSURE}
)


def concern_significance(data: Mapping[str, Any], default: Significance) -> Significance:
    """An injury, bruising or a disclosure is critical."""
    if data.get("category") in _CRITICAL_CONCERNS:
        return Significance.CRITICAL
    return default


# --- the case and the child ----------------------------------------------------------------------


@catalogue.entry(significance=Significance.SIGNIFICANT, posted_by=PostedBy.REFERRER)
class CaseOpened(Payload):
    """The child's record is opened, owned by a local authority's children's social care."""

    child: Child
    local_authority: LocalAuthority

    def headline(self) -> str:
        child = self.child
        if child.date_of_birth is not None:
            born = f", born {_day(child.date_of_birth)}"
        elif child.expected_date_of_birth is not None:
            born = f", due {_day(child.expected_date_of_birth)}"
        else:
            born = ""
        unborn = " (unborn)" if child.unborn else ""
        return f"Case opened: {child.name}{unborn}{born}"


@catalogue.entry(significance=Significance.ROUTINE, posted_by=PostedBy.ANY)
class IdentifierLinked(Payload):
    """An identifier another system knows the child by."""

    scheme: IdentifierScheme
    value: Name

    def headline(self) -> str:
        return f"Identifier linked: {self.scheme.label} {self.value}"


_DETAIL_LABELS = {
    "name": "name",
    "sex": "sex",
    "date_of_birth": "date of birth",
    "expected_date_of_birth": "expected date of birth",
    "ethnicity": "ethnicity",
    "unborn": "born/unborn",
}


@catalogue.entry(significance=Significance.ROUTINE, posted_by=PostedBy.CSC)
class PersonDetailsChanged(Payload):
    """A correction or update of the child's identity data (e.g. a birth, a corrected name)."""

    name: Name | None = None
    sex: Sex | None = None
    date_of_birth: date | None = None
    expected_date_of_birth: date | None = None
    ethnicity: Name | None = None
    unborn: bool | None = None
    reason: Text | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> PersonDetailsChanged:
        if not self._changed():
            raise ValueError(f"change at least one of {', '.join(_DETAIL_LABELS)}")
        return self

    def _changed(self) -> list[str]:
        return [label for f, label in _DETAIL_LABELS.items() if getattr(self, f) is not None]

    def headline(self) -> str:
        return f"Child's details changed: {', '.join(self._changed()) or 'none'}"


@catalogue.entry(significance=Significance.ROUTINE, posted_by=PostedBy.ANY)
class RelationshipRecorded(Payload):
    """A person in the child's network and how they are related."""

    person: RelatedPerson
    relationship: Name
    lives_with_child: bool
    parental_responsibility: bool

    def headline(self) -> str:
        facts = [f"{self.person.name} ({self.relationship})"]
        facts.append("lives with child" if self.lives_with_child else "does not live with child")
        if self.parental_responsibility:
            facts.append("parental responsibility")
        return "Relationship recorded: " + ", ".join(facts)


@catalogue.entry(significance=Significance.SIGNIFICANT, posted_by=PostedBy.ANY)
class HouseholdChanged(Payload):
    """Someone joined or left the child's household."""

    change: HouseholdChange
    person: RelatedPerson
    relationship: Name

    def headline(self) -> str:
        verb = "joined" if self.change is HouseholdChange.JOINED else "left"
        return f"{self.person.name} ({self.relationship}) {verb} the household"


@catalogue.entry(significance=Significance.ROUTINE, posted_by=PostedBy.ANY)
class AddressChanged(Payload):
    """The child lives at a new address."""

    address: Text
    postcode: Postcode

    def headline(self) -> str:
        return f"Address changed: {self.postcode}"


# --- contact, referral, assessment ---------------------------------------------------------------


@catalogue.entry(significance=Significance.SIGNIFICANT, posted_by=PostedBy.ANY)
class ContactReceived(Payload):
    """Information about the child reached children's social care (often the MASH)."""

    contact_id: Ref
    source_code: SourceCode
    referrer: Referrer
    concern: Text
    consent: Consent
    immediate_risk: bool
    channel: Name | None = None

    def headline(self) -> str:
        who = ", ".join(x for x in (self.referrer.role, self.referrer.agency) if x)
        risk = "immediate risk; " if self.immediate_risk else ""
        return f"Contact from {self.referrer.name} ({who}): {risk}{_brief(self.concern, 60)}"


@catalogue.entry(significance=Significance.SIGNIFICANT, posted_by=PostedBy.CSC)
class ContactDecisionMade(Payload):
    """What children's social care decided to do about a contact."""

    contact_id: Ref
    outcome: ContactOutcome
    rationale: Text
    urgent: bool

    def headline(self) -> str:
        urgent = " (urgent)" if self.urgent else ""
        return f"Contact decision: {self.outcome.label}{urgent}"


@catalogue.entry(significance=Significance.SIGNIFICANT, posted_by=PostedBy.CSC)
class ReferralAccepted(Payload):
    """A referral is accepted and an episode of need opens."""

    referral_id: Ref
    source_code: SourceCode
    primary_need: PrimaryNeed | None = None
    contact_id: Ref | None = None

    def headline(self) -> str:
        need = f"; primary need {self.primary_need.label}" if self.primary_need else ""
        return f"Referral accepted from {self.source_code.label} ({self.source_code}){need}"


@catalogue.entry(significance=Significance.ROUTINE, posted_by=PostedBy.CSC)
class ReferrerInformed(Payload):
    """The referrer was told what was decided about their contact."""

    contact_id: Ref
    channel: Name

    def headline(self) -> str:
        return f"Referrer informed of the decision ({self.channel})"


@catalogue.entry(significance=Significance.ROUTINE, posted_by=PostedBy.CSC)
class WorkerAllocated(Payload):
    """A social worker is allocated to the child."""

    worker: Name
    team: Name
    reason: Text

    def headline(self) -> str:
        return f"Worker allocated: {self.worker} ({self.team})"


@catalogue.entry(significance=Significance.ROUTINE, posted_by=PostedBy.CSC)
class AssessmentStarted(Payload):
    """A child and family assessment started."""

    assessment_id: Ref
    # Absent: the referral of the open episode.
    referral_id: Ref | None = None

    def headline(self) -> str:
        return "Child and family assessment started"


@catalogue.entry(significance=Significance.SIGNIFICANT, posted_by=PostedBy.CSC)
class AssessmentCompleted(Payload):
    """A child and family assessment was completed (authorised)."""

    assessment_id: Ref
    factors: list[CINFactor]
    outcome: AssessmentOutcome
    needs_support: bool
    child_seen: bool | None = None
    summary: Text | None = None

    def headline(self) -> str:
        factors = f" (factors {', '.join(self.factors)})" if self.factors else ""
        return f"Assessment completed: {self.outcome.label}{factors}"


@catalogue.entry(significance=Significance.ROUTINE, posted_by=PostedBy.CSC)
class AssessmentDelayRecorded(Payload):
    """Why an assessment is taking longer than 45 working days."""

    assessment_id: Ref
    reason: Text

    def headline(self) -> str:
        return f"Assessment delayed: {_brief(self.reason)}"


# --- child protection ----------------------------------------------------------------------------


@catalogue.entry(significance=Significance.CRITICAL, posted_by=PostedBy.CSC)
class StrategyDiscussionHeld(Payload):
    """A strategy discussion between social care, police and health."""

    strategy_id: Ref
    participants: list[Person] = Field(min_length=1)
    decision: StrategyDecision
    actions: list[ActionItem] = []

    def headline(self) -> str:
        agencies = _count(_agency_count(self.participants), "agency", "agencies")
        return f"Strategy discussion: {self.decision.label} ({agencies})"


@catalogue.entry(significance=Significance.CRITICAL, posted_by=PostedBy.CSC)
class Section47Started(Payload):
    """A section 47 enquiry started, following a strategy discussion."""

    s47_id: Ref
    strategy_id: Ref

    def headline(self) -> str:
        return "Section 47 enquiry started"


@catalogue.entry(significance=Significance.CRITICAL, posted_by=PostedBy.CSC)
class Section47Concluded(Payload):
    """A section 47 enquiry concluded."""

    s47_id: Ref
    outcome: Text
    conference_required: bool

    def headline(self) -> str:
        then = "initial conference required" if self.conference_required else "no conference"
        return f"Section 47 enquiry concluded ({then}): {_brief(self.outcome, 60)}"


@catalogue.entry(significance=Significance.CRITICAL, posted_by=PostedBy.CSC)
class ConferenceHeld(Payload):
    """A child protection conference (initial, review or pre-birth)."""

    conference_id: Ref
    kind: ConferenceKind
    chair: Name
    attendees: list[Person] = Field(min_length=1)
    decision: ConferenceDecision
    category: CPCategory | None = None
    child_participation: Text
    dissent: Text | None = None

    @model_validator(mode="after")
    def _plan_has_category(self) -> ConferenceHeld:
        if self.decision is ConferenceDecision.CP_PLAN and self.category is None:
            raise ValueError("a decision for a child protection plan names its category")
        return self

    def headline(self) -> str:
        category = f", {self.category.label}" if self.category else ""
        dissent = " (dissent recorded)" if self.dissent else ""
        return (
            f"Child protection conference ({self.kind.label}): "
            f"{self.decision.label}{category}{dissent}"
        )


@catalogue.entry(significance=Significance.SIGNIFICANT, posted_by=PostedBy.CSC)
class ChildInNeedPlanStarted(Payload):
    """A child in need (s17) plan started."""

    plan_id: Ref

    def headline(self) -> str:
        return "Child in need plan started"


@catalogue.entry(significance=Significance.SIGNIFICANT, posted_by=PostedBy.CSC)
class ChildInNeedPlanEnded(Payload):
    """A child in need plan ended."""

    plan_id: Ref
    reason: Text

    def headline(self) -> str:
        return f"Child in need plan ended: {_brief(self.reason)}"


@catalogue.entry(significance=Significance.CRITICAL, posted_by=PostedBy.CSC)
class ChildProtectionPlanStarted(Payload):
    """A child protection plan started, as a conference decided."""

    plan_id: Ref
    conference_id: Ref
    category: CPCategory

    def headline(self) -> str:
        return f"Child protection plan started: {self.category.label}"


@catalogue.entry(significance=Significance.SIGNIFICANT, posted_by=PostedBy.CSC)
class ChildProtectionCategoryChanged(Payload):
    """The category of an open child protection plan changed."""

    plan_id: Ref
    category: CPCategory

    def headline(self) -> str:
        return f"Child protection category changed to {self.category.label}"


@catalogue.entry(significance=Significance.CRITICAL, posted_by=PostedBy.CSC)
class ChildProtectionPlanEnded(Payload):
    """A child protection plan ended."""

    plan_id: Ref
    reason: Text

    def headline(self) -> str:
        return f"Child protection plan ended: {_brief(self.reason)}"


# --- looked after --------------------------------------------------------------------------------


@catalogue.entry(significance=Significance.CRITICAL, posted_by=PostedBy.CSC)
class PeriodOfCareStarted(Payload):
    """The child became looked after, with a legal status and a placement."""

    legal_status: Name
    placement: Placement

    def headline(self) -> str:
        p = self.placement
        return f"Became looked after ({self.legal_status}): {p.type}, {p.provider}"


@catalogue.entry(significance=Significance.SIGNIFICANT, posted_by=PostedBy.CSC)
class LegalStatusChanged(Payload):
    """A looked-after child's legal status changed."""

    legal_status: Name

    def headline(self) -> str:
        return f"Legal status changed to {self.legal_status}"


@catalogue.entry(significance=Significance.SIGNIFICANT, posted_by=PostedBy.CSC)
class PlacementChanged(Payload):
    """A looked-after child moved placement."""

    placement: Placement
    reason: Text

    def headline(self) -> str:
        p = self.placement
        return f"Placement changed: {p.type}, {p.provider}"


@catalogue.entry(significance=Significance.CRITICAL, posted_by=PostedBy.CSC)
class PeriodOfCareEnded(Payload):
    """The child stopped being looked after."""

    reason: Text

    def headline(self) -> str:
        return f"Ceased to be looked after: {_brief(self.reason)}"


@catalogue.entry(significance=Significance.SIGNIFICANT, posted_by=PostedBy.ANY)
class MissingEpisodeStarted(Payload):
    """The child went missing from home or care."""

    episode_id: Ref
    circumstances: Text | None = None
    reported_to_police: bool | None = None

    def headline(self) -> str:
        police = " (reported to police)" if self.reported_to_police else ""
        return f"Missing from home or care{police}"


@catalogue.entry(significance=Significance.SIGNIFICANT, posted_by=PostedBy.ANY)
class MissingEpisodeEnded(Payload):
    """The child returned from a missing episode."""

    episode_id: Ref
    return_interview_offered: bool
    return_interview_accepted: bool | None = None

    def headline(self) -> str:
        offered = "offered" if self.return_interview_offered else "not offered"
        return f"Returned from missing episode: return interview {offered}"


# --- seeing the child, concerns, the child's voice --------------------------------------------


@catalogue.entry(
    significance=Significance.ROUTINE,
    posted_by=PostedBy.ANY,
    significance_of=visit_significance,
)
class VisitMade(Payload):
    """A visit to the child, recording whether they were seen, seen alone, and their bedroom."""

    visit_type: VisitType
    child_seen: bool
    seen_alone: bool
    bedroom_seen: bool
    reason_not_seen: Text | None = None
    observations: Text

    @model_validator(mode="after")
    def _alone_only_if_seen(self) -> VisitMade:
        if self.seen_alone and not self.child_seen:
            raise ValueError("a child who was not seen cannot have been seen alone")
        return self

    def headline(self) -> str:
        if self.seen_alone:
            seen = "child seen alone"
        elif self.child_seen:
            seen = "child seen"
        elif self.reason_not_seen:
            seen = f"child not seen ({_brief(self.reason_not_seen, 60)})"
        else:
            seen = "child not seen"
        bedroom = "; bedroom seen" if self.bedroom_seen else ""
        return f"{self.visit_type.label.capitalize()} visit: {seen}{bedroom}"


@catalogue.entry(
    significance=Significance.SIGNIFICANT,
    posted_by=PostedBy.ANY,
    significance_of=concern_significance,
)
class ConcernObserved(Payload):
    """A concern about the child seen or heard by any agency, or raised in supervision."""

    category: ConcernCategory
    description: Text
    body_location: Name | None = None
    # The explanation offered for an injury; absent if none was asked for.
    explanation_given: Text | None = None
    follow_up_required: bool = True

    def headline(self) -> str:
        what = self.body_location or _brief(self.description, 60)
        return f"{self.category.label} reported: {what}"


@catalogue.entry(significance=Significance.ROUTINE, posted_by=PostedBy.ANY)
class ConcernFollowedUp(Payload):
    """What was done about an observed concern."""

    concern_event_id: UUID
    action: Text
    outcome: Text

    def headline(self) -> str:
        return f"Concern followed up: {_brief(self.action, 60)}"


@catalogue.entry(significance=Significance.SIGNIFICANT, posted_by=PostedBy.ANY)
class ChildsVoiceRecorded(Payload):
    """The child's views, in their own words where possible, and their wishes."""

    method: VoiceMethod
    seen_alone: bool
    words: Text
    wishes: Text

    def headline(self) -> str:
        alone = ", seen alone" if self.seen_alone else ""
        return f'Child\'s views recorded ({self.method.label}{alone}): "{_brief(self.words, 60)}"'


@catalogue.entry(significance=Significance.SIGNIFICANT, posted_by=PostedBy.ANY)
class ChildsVoiceNotObtained(Payload):
    """Why the child's views could not be obtained."""

    reason: Text

    def headline(self) -> str:
        return f"Child's views not obtained: {_brief(self.reason)}"


# --- meetings, supervision, actions --------------------------------------------------------------


@catalogue.entry(significance=Significance.SIGNIFICANT, posted_by=PostedBy.CSC)
class MeetingHeld(Payload):
    """A meeting about the child, with who was invited and attended and what was decided."""

    meeting_id: Ref
    kind: MeetingKind
    chair: Name
    invited: list[Person]
    attended: list[Person] = Field(min_length=1)
    apologies: list[Person] = []
    decisions: list[Text] = []
    actions: list[ActionItem] = []

    def headline(self) -> str:
        parts = [f"{len(self.attended)} attended"]
        if self.decisions:
            parts.append(_count(len(self.decisions), "decision"))
        if self.actions:
            parts.append(_count(len(self.actions), "action"))
        return f"{self.kind.label}: {', '.join(parts)}"


@catalogue.entry(significance=Significance.ROUTINE, posted_by=PostedBy.CSC)
class MinutesRecorded(Payload):
    """The minutes of a meeting were written up."""

    meeting_id: Ref
    summary: Text

    def headline(self) -> str:
        return f"Minutes recorded: {_brief(self.summary, 60)}"


@catalogue.entry(significance=Significance.ROUTINE, posted_by=PostedBy.CSC)
class MinutesCirculated(Payload):
    """The minutes of a meeting were sent out."""

    meeting_id: Ref
    recipients: list[Person] = Field(min_length=1)
    channel: Name

    def headline(self) -> str:
        return f"Minutes circulated to {_count(len(self.recipients), 'recipient')}"


@catalogue.entry(significance=Significance.ROUTINE, posted_by=PostedBy.ANY)
class ActionCompleted(Payload):
    """An action from a meeting or supervision was done."""

    action_id: Ref
    outcome: Text

    def headline(self) -> str:
        return f"Action {self.action_id} completed: {_brief(self.outcome, 60)}"


@catalogue.entry(significance=Significance.SIGNIFICANT, posted_by=PostedBy.CSC)
class SupervisionHeld(Payload):
    """Case supervision, with its decisions and actions recorded on the child's record."""

    supervisor: Name
    discussion: Text
    decisions: list[Text] = []
    actions: list[ActionItem] = []

    def headline(self) -> str:
        outcomes = [
            _count(len(self.decisions), "decision"),
            _count(len(self.actions), "action"),
        ]
        return f"Supervision with {self.supervisor}: {', '.join(outcomes)}"


# --- agencies and information sharing ------------------------------------------------------------


@catalogue.entry(significance=Significance.ROUTINE, posted_by=PostedBy.SELF_OR_CSC)
class AgencyInvolvementStarted(Payload):
    """An agency became involved with the child, with its lead contact."""

    agency: Agency
    role: Name
    lead_contact: LeadContact

    def headline(self) -> str:
        return (
            f"Agency involved: {self.agency} ({self.role}), lead contact {self.lead_contact.name}"
        )


@catalogue.entry(significance=Significance.ROUTINE, posted_by=PostedBy.SELF_OR_CSC)
class AgencyInvolvementEnded(Payload):
    """An agency's involvement with the child ended."""

    agency: Agency
    role: Name | None = None
    lead_contact: LeadContact | None = None
    reason: Text | None = None

    def headline(self) -> str:
        reason = f" ({_brief(self.reason, 60)})" if self.reason else ""
        return f"Agency involvement ended: {self.agency}{reason}"


@catalogue.entry(significance=Significance.ROUTINE, posted_by=PostedBy.ANY)
class InformationRequested(Payload):
    """One agency asked another for information about the child."""

    request_id: Ref
    from_agency: Agency
    to_agency: Agency
    question: Text

    def headline(self) -> str:
        return f"Information requested from {self.to_agency} by {self.from_agency}"


@catalogue.entry(significance=Significance.ROUTINE, posted_by=PostedBy.ANY)
class InformationRequestAnswered(Payload):
    """An information request was answered, saying what period the answer covers."""

    request_id: Ref
    answer: Text
    covers_from: date | None = None
    covers_to: date | None = None

    @model_validator(mode="after")
    def _period_in_order(self) -> InformationRequestAnswered:
        if self.covers_from and self.covers_to and self.covers_from > self.covers_to:
            raise ValueError("covers_from is after covers_to")
        return self

    def headline(self) -> str:
        if self.covers_from and self.covers_to:
            covers = f" (covers {_day(self.covers_from)} to {_day(self.covers_to)})"
        elif self.covers_from:
            covers = f" (covers from {_day(self.covers_from)})"
        elif self.covers_to:
            covers = f" (covers up to {_day(self.covers_to)})"
        else:
            covers = ""
        return f"Information request answered{covers}"


@catalogue.entry(significance=Significance.SIGNIFICANT, posted_by=PostedBy.ANY)
class InformationRequestDeclined(Payload):
    """An information request was declined, and why."""

    request_id: Ref
    reason: Text

    def headline(self) -> str:
        return f"Information request declined: {_brief(self.reason)}"


@catalogue.entry(significance=Significance.SIGNIFICANT, posted_by=PostedBy.ANY)
class InformationShared(Payload):
    """Information shared with other agencies: what, why, on what lawful basis and consent."""

    # "with" is a Python keyword, so the field is `with_` and its JSON name is "with". Stored and
    # API payloads use "with": serialize_by_alias makes even a plain model_dump() write it (and
    # by_alias=True does too); populate_by_name lets code construct it as with_=.
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    with_: list[AgencyRef] = Field(alias="with", min_length=1)
    summary: Text
    purpose: Text
    lawful_basis: Text
    consent: Consent
    concern_event_ids: list[UUID] = []

    def headline(self) -> str:
        agencies = _listed([a.agency for a in self.with_])
        return f"Information shared with {agencies} (consent {self.consent.status.label})"


# --- notes, closure, transfer --------------------------------------------------------------------


def upcast_case_note_v1(data: dict[str, Any]) -> dict[str, Any]:
    """v1 {note} → v2 {kind, text}: v1 notes had no kind."""
    rest = {k: v for k, v in data.items() if k != "note"}
    return {"kind": "note", "text": data["note"], **rest}


# Schema change, worked example: stored payloads keep the schema version they were written with
# and are never rewritten; reading a v1 note runs upcasters[1] to turn it into v2 first.
@catalogue.entry(
    significance=Significance.ROUTINE,
    posted_by=PostedBy.ANY,
    schema_version=2,
    upcasters={1: upcast_case_note_v1},
)
class CaseNoteRecorded(Payload):
    """A case note: a phone call, an email, an observation that fits no other type."""

    kind: Name
    text: Text

    def headline(self) -> str:
        return f"Case note ({self.kind}): {_brief(self.text, 60)}"


@catalogue.entry(significance=Significance.CRITICAL, posted_by=PostedBy.CSC)
class CaseClosed(Payload):
    """The episode closed with a CIN census reason."""

    reason_code: ReasonCode
    agencies_notified: list[Agency] = []

    def headline(self) -> str:
        return f"Case closed: {self.reason_code.label} ({self.reason_code})"


@catalogue.entry(significance=Significance.SIGNIFICANT, posted_by=PostedBy.CSC)
class SteppedDownToEarlyHelp(Payload):
    """Support continues as early help, led by another agency."""

    lead_agency: Agency
    lead_practitioner: Name

    def headline(self) -> str:
        return f"Stepped down to early help: {self.lead_agency} ({self.lead_practitioner})"


@catalogue.entry(significance=Significance.CRITICAL, posted_by=PostedBy.CSC)
class CaseReopened(Payload):
    """A closed case reopened; the chronology continues from the earlier episodes."""

    reason: Text
    referral_id: Ref | None = None

    def headline(self) -> str:
        return f"Case reopened: {_brief(self.reason)}"


@catalogue.entry(significance=Significance.CRITICAL, posted_by=PostedBy.CSC)
class CaseTransferred(Payload):
    """The case moved to another local authority."""

    to_local_authority: LocalAuthority

    def headline(self) -> str:
        return f"Case transferred to {self.to_local_authority}"


# --- entries about entries -----------------------------------------------------------------------


@catalogue.entry(significance=Significance.ROUTINE, posted_by=PostedBy.CSC, targets_entry=True)
class SignificanceAssessed(Payload):
    """A practitioner's judgement of an entry's significance, overriding its type's default."""

    # The JSON field is "significance", but a field of that name would shadow
    # Payload.significance(); the attribute is `level`, exposed as "significance" both ways.
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    target_event_id: UUID
    level: SignificanceLevel = Field(alias="significance")
    rationale: Text

    def headline(self) -> str:
        return f"Significance assessed as {self.level}: {_brief(self.rationale, 60)}"


@catalogue.entry(
    significance=Significance.ROUTINE, posted_by=PostedBy.TARGET_OR_CSC, targets_entry=True
)
class EntryCorrected(Payload):
    """A correction of an entry: its replacement payload and, optionally, when it happened."""

    target_event_id: UUID
    # The replacement payload, validated against the target's type when it is recorded.
    data: JsonObject
    occurred_at: Name | None = None
    occurred_precision: Literal["exact", "day", "month", "approximate"] | None = None
    reason: Text
    # Set by the service: the target type's schema version `data` was validated against, so a
    # later schema change can upcast the replacement like any stored payload.
    target_schema_version: int | None = Field(default=None, ge=1)

    def headline(self) -> str:
        return f"Entry corrected: {_brief(self.reason)}"


@catalogue.entry(significance=Significance.ROUTINE, posted_by=PostedBy.CSC_MANAGER)
class AlertAcknowledged(Payload):
    """A manager's recorded decision about an alert; the only way to resolve ◦ rules."""

    rule: AlertRule
    event_ids: list[UUID] = Field(min_length=1)
    note: Text

    def headline(self) -> str:
        return f"Alert acknowledged ({self.rule.label}): {_brief(self.note, 60)}"


@catalogue.entry(
    significance=Significance.SIGNIFICANT, posted_by=PostedBy.TARGET_OR_CSC, targets_entry=True
)
class EntryRetracted(Payload):
    """An entry withdrawn, and why; it stays in the log."""

    target_event_id: UUID
    reason: Text

    def headline(self) -> str:
        return f"Entry retracted: {_brief(self.reason)}"


@catalogue.entry(significance=Significance.ROUTINE, posted_by=PostedBy.ANY, targets_entry=True)
class EntryAnnotated(Payload):
    """A note added to an existing entry."""

    target_event_id: UUID
    note: Text

    def headline(self) -> str:
        return f"Entry annotated: {_brief(self.note)}"
