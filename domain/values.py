"""Closed value sets and shared value objects of the event catalogue (DOMAIN.md §2).

Every closed set is an enum, so a typo is a validation error (422), never a silent new category.
"""

from __future__ import annotations

import enum
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, model_validator

from domain.catalogue import Payload


class Closed(enum.StrEnum):
    """A closed value set; `label` is how a practitioner would say it in a headline."""

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


# Defined before the constrained strings: Agency's pattern is built from it.
class AgencyKind(Closed):
    """The KIND part of an agency (KIND:NAME)."""

    CSC = "csc"
    SCHOOL = "school"
    HEALTH = "health"
    POLICE = "police"
    VCS = "vcs"
    HOUSING = "housing"
    PROBATION = "probation"
    OTHER = "other"


# --- constrained strings ---------------------------------------------------------------------

Text = Annotated[str, StringConstraints(min_length=1, max_length=20000)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
# An identifier the posting agency chose (contact_id, plan_id, meeting_id, ...).
Ref = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100),
    Field(description="An identifier chosen by the recording agency, e.g. C-2024-0193"),
]
Postcode = Annotated[str, StringConstraints(min_length=1, max_length=16)]
CINFactor = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{1,2}[A-Z]?$"),
    Field(description="A CIN census assessment factor code, e.g. 1A, 2B, 21", examples=["2B"]),
]
AGENCY_PATTERN = rf"^({'|'.join(AgencyKind)}):[a-z0-9][a-z0-9._-]{{0,62}}$"
Agency = Annotated[
    str,
    StringConstraints(pattern=AGENCY_PATTERN),
    Field(
        description=(
            "An agency as KIND:NAME, KIND one of csc, school, health, police, vcs, housing, "
            "probation, other; NAME lower case, e.g. school:st-marys-primary"
        ),
        examples=["school:st-marys-primary", "csc:kent", "police:kent"],
    ),
]


def _is_local_authority(agency: str) -> str:
    if not agency.startswith("csc:"):
        raise ValueError("a local authority is a children's social care agency (csc:NAME)")
    return agency


# How deep a free-form JSON document may nest: a catalogue payload nests a few levels.
MAX_DEPTH = 32


def _nested_within(document: dict[str, Any]) -> dict[str, Any]:
    level: list[Any] = [document]
    for _ in range(MAX_DEPTH):
        level = [
            inner
            for value in level
            for inner in (value.values() if isinstance(value, dict) else value)
            if isinstance(inner, dict | list)
        ]
        if not level:
            return document
    raise ValueError(f"nested deeper than {MAX_DEPTH} levels")


# A JSON object given as it is (a correction's replacement payload, checked later by its type).
JsonObject = Annotated[dict[str, Any], AfterValidator(_nested_within)]


LocalAuthority = Annotated[
    Agency,
    AfterValidator(_is_local_authority),
    Field(
        description="A local authority's children's social care, csc:NAME, e.g. csc:kent",
        examples=["csc:kent"],
    ),
]


# --- closed value sets -----------------------------------------------------------------------


class Sex(Closed):
    """CIN census gender; U also for an unborn child."""

    M = "M"
    F = "F"
    U = "U"

    @property
    def label(self) -> str:
        return {"M": "male", "F": "female", "U": "not known"}[self.value]


class SourceCode(Closed):
    """CIN census referral source."""

    S1A = "1A"
    S1B = "1B"
    S1C = "1C"
    S1D = "1D"
    S2A = "2A"
    S2B = "2B"
    S3A = "3A"
    S3B = "3B"
    S3C = "3C"
    S3D = "3D"
    S3E = "3E"
    S3F = "3F"
    S4 = "4"
    S5A = "5A"
    S5B = "5B"
    S5C = "5C"
    S5D = "5D"
    S6 = "6"
    S7 = "7"
    S8 = "8"
    S9 = "9"
    S10 = "10"

    @property
    def label(self) -> str:
        return _SOURCE_LABELS[self.value]


_SOURCE_LABELS = {
    "1A": "family member, relative or carer",
    "1B": "acquaintance",
    "1C": "self",
    "1D": "other individual",
    "2A": "school",
    "2B": "other education services",
    "3A": "GP",
    "3B": "health visitor",
    "3C": "school nurse",
    "3D": "other primary health services",
    "3E": "A&E",
    "3F": "other health services",
    "4": "housing",
    "5A": "local authority social care",
    "5B": "other local authority department",
    "5C": "another local authority",
    "5D": "asylum support",
    "6": "police",
    "7": "other legal agency",
    "8": "other",
    "9": "anonymous",
    "10": "unknown",
}


class ReasonCode(Closed):
    """CIN census reason for closure."""

    RC1 = "RC1"
    RC2 = "RC2"
    RC3 = "RC3"
    RC4 = "RC4"
    RC5 = "RC5"
    RC6 = "RC6"
    RC7 = "RC7"
    RC8 = "RC8"
    RC9 = "RC9"

    @property
    def label(self) -> str:
        return _REASON_LABELS[self.value]


_REASON_LABELS = {
    "RC1": "adopted",
    "RC2": "died",
    "RC3": "child arrangements order",
    "RC4": "special guardianship order",
    "RC5": "transferred to another local authority",
    "RC6": "transferred to adult social care",
    "RC7": "services ceased for any other reason",
    "RC8": "closed after assessment, no further action",
    "RC9": "closed after assessment, referred to early help",
}


class PrimaryNeed(Closed):
    """CIN census primary need at assessment."""

    N0 = "N0"
    N1 = "N1"
    N2 = "N2"
    N3 = "N3"
    N4 = "N4"
    N5 = "N5"
    N6 = "N6"
    N7 = "N7"
    N8 = "N8"
    N9 = "N9"

    @property
    def label(self) -> str:
        return _NEED_LABELS[self.value]


_NEED_LABELS = {
    "N0": "not stated",
    "N1": "abuse or neglect",
    "N2": "child's disability or illness",
    "N3": "parental disability or illness",
    "N4": "family in acute stress",
    "N5": "family dysfunction",
    "N6": "socially unacceptable behaviour",
    "N7": "low income",
    "N8": "absent parenting",
    "N9": "cases other than children in need",
}


class ConsentStatus(Closed):
    """Consent to a contact or a share; a reason is recorded unless it was given."""

    GIVEN = "given"
    REFUSED = "refused"
    NOT_SOUGHT = "not_sought"


class CPCategory(Closed):
    """Child protection plan category."""

    NEGLECT = "neglect"
    PHYSICAL = "physical"
    SEXUAL = "sexual"
    EMOTIONAL = "emotional"
    MULTIPLE = "multiple"

    @property
    def label(self) -> str:
        return {
            "neglect": "neglect",
            "physical": "physical abuse",
            "sexual": "sexual abuse",
            "emotional": "emotional abuse",
            "multiple": "multiple categories",
        }[self.value]


class AssessmentOutcome(Closed):
    """Outcome of a child and family assessment."""

    NFA = "nfa"
    EARLY_HELP = "early_help"
    CHILD_IN_NEED = "child_in_need"
    SECTION_47 = "section_47"

    @property
    def label(self) -> str:
        return {
            "nfa": "no further action",
            "early_help": "early help",
            "child_in_need": "child in need",
            "section_47": "section 47 enquiry",
        }[self.value]


class VisitType(Closed):
    """Where a visit took place."""

    HOME = "home"
    SCHOOL = "school"
    OFFICE = "office"
    HOSPITAL = "hospital"
    PLACEMENT = "placement"
    OTHER = "other"


class ConcernCategory(Closed):
    """What kind of concern was observed."""

    INJURY = "injury"
    BRUISING = "bruising"
    NEGLECT = "neglect"
    DISCLOSURE = "disclosure"
    DOMESTIC_ABUSE = "domestic_abuse"
    MISSING = "missing"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "injury": "Injury",
            "bruising": "Bruising",
            "neglect": "Neglect concern",
            "disclosure": "Disclosure",
            "domestic_abuse": "Domestic abuse concern",
            "missing": "Missing-child concern",
            "other": "Concern",
        }[self.value]


class VoiceMethod(Closed):
    """How the child's voice was heard."""

    SPOKEN = "spoken"
    OBSERVED = "observed"
    ADVOCATE = "advocate"
    DRAWING = "drawing"
    NON_VERBAL = "non_verbal"

    @property
    def label(self) -> str:
        return {
            "spoken": "in their own words",
            "observed": "observed",
            "advocate": "through an advocate",
            "drawing": "through drawing",
            "non_verbal": "non-verbal communication",
        }[self.value]


class MeetingKind(Closed):
    """Kind of multi-agency or family meeting."""

    CIN_REVIEW = "cin_review"
    CORE_GROUP = "core_group"
    CLA_REVIEW = "cla_review"
    PROFESSIONALS = "professionals"
    STRATEGY = "strategy"
    FAMILY_GROUP = "family_group"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "cin_review": "Child in need review",
            "core_group": "Core group meeting",
            "cla_review": "Looked-after child review",
            "professionals": "Professionals meeting",
            "strategy": "Strategy meeting",
            "family_group": "Family group meeting",
            "other": "Meeting",
        }[self.value]


class ConferenceKind(Closed):
    """Kind of child protection conference."""

    INITIAL = "initial"
    REVIEW = "review"
    PRE_BIRTH = "pre_birth"

    @property
    def label(self) -> str:
        return {"initial": "initial", "review": "review", "pre_birth": "pre-birth"}[self.value]


class ConferenceDecision(Closed):
    """What a child protection conference decided."""

    CP_PLAN = "cp_plan"
    NO_PLAN = "no_plan"
    CONTINUE = "continue"
    END_PLAN = "end_plan"

    @property
    def label(self) -> str:
        return {
            "cp_plan": "child protection plan",
            "no_plan": "no child protection plan",
            "continue": "plan continues",
            "end_plan": "plan ended",
        }[self.value]


class StrategyDecision(Closed):
    """What a strategy discussion decided."""

    S47 = "s47"
    JOINT_S47 = "joint_s47"
    NO_S47 = "no_s47"

    @property
    def label(self) -> str:
        return {
            "s47": "section 47 enquiry",
            "joint_s47": "joint section 47 enquiry with police",
            "no_s47": "no section 47 enquiry",
        }[self.value]


class ContactOutcome(Closed):
    """Decision on a contact (within 1 working day)."""

    NFA = "nfa"
    ADVICE = "advice"
    EARLY_HELP = "early_help"
    REFERRAL = "referral"
    STRATEGY_DISCUSSION = "strategy_discussion"

    @property
    def label(self) -> str:
        return {
            "nfa": "no further action",
            "advice": "advice",
            "early_help": "early help",
            "referral": "referral to children's social care",
            "strategy_discussion": "strategy discussion",
        }[self.value]


class IdentifierScheme(Closed):
    """Scheme of an identifier linked to the child."""

    NHS_NUMBER = "nhs_number"
    UPN = "upn"
    LA_CHILD_ID = "la_child_id"
    POLICE_REF = "police_ref"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "nhs_number": "NHS number",
            "upn": "unique pupil number",
            "la_child_id": "local authority child id",
            "police_ref": "police reference",
            "other": "identifier",
        }[self.value]


class HouseholdChange(Closed):
    """Someone joined or left the child's household."""

    JOINED = "joined"
    LEFT = "left"


class SignificanceLevel(Closed):
    """A significance as written in payloads and queries (domain.catalogue.Significance by name)."""

    ROUTINE = "routine"
    SIGNIFICANT = "significant"
    CRITICAL = "critical"


class AlertRule(Closed):
    """Rule ids of DOMAIN.md §4."""

    DECISION_OVERDUE = "decision-overdue"
    ASSESSMENT_OVERDUE = "assessment-overdue"
    ICPC_OVERDUE = "icpc-overdue"
    CORE_GROUP_OVERDUE = "core-group-overdue"
    REVIEW_CONFERENCE_OVERDUE = "review-conference-overdue"
    CP_VISIT_OVERDUE = "cp-visit-overdue"
    CIN_REVIEW_OVERDUE = "cin-review-overdue"
    CONCERN_NOT_FOLLOWED_UP = "concern-not-followed-up"
    MEETING_NOT_MINUTED = "meeting-not-minuted"
    MINUTES_NOT_CIRCULATED = "minutes-not-circulated"
    VOICE_NOT_RECORDED = "voice-not-recorded"
    CHILD_NOT_SEEN = "child-not-seen"
    SUPERVISION_OVERDUE = "supervision-overdue"
    ACTION_OVERDUE = "action-overdue"
    INFORMATION_REQUEST_UNANSWERED = "information-request-unanswered"
    SHARING_OMITTED_CONCERNS = "sharing-omitted-concerns"
    REPEAT_REFERRAL = "repeat-referral"
    LATE_RECORDING = "late-recording"
    NO_ALLOCATED_WORKER = "no-allocated-worker"
    ACTIVITY_ON_CLOSED_CASE = "activity-on-closed-case"
    PLAN_CONFLICT = "plan-conflict"
    LAC_REVIEW_OVERDUE = "lac-review-overdue"
    LAC_VISIT_OVERDUE = "lac-visit-overdue"
    BREAK_GLASS_ACCESS = "break-glass-access"

    @property
    def label(self) -> str:
        return self.value


# --- shared value objects --------------------------------------------------------------------


class ValueObject(BaseModel):
    """A value inside a payload: as strict as a payload (no unknown fields, immutable)."""

    model_config = Payload.model_config


class Child(ValueObject):
    """The child a case is about."""

    name: Name
    date_of_birth: date | None = None
    expected_date_of_birth: date | None = None
    sex: Sex
    ethnicity: Name | None = None
    unborn: bool = False

    @model_validator(mode="after")
    def _birth_is_known_or_expected(self) -> Child:
        if (self.date_of_birth is None) == (self.expected_date_of_birth is None):
            raise ValueError("give exactly one of date_of_birth and expected_date_of_birth")
        if self.unborn and self.expected_date_of_birth is None:
            raise ValueError("an unborn child has an expected_date_of_birth")
        return self


class Person(ValueObject):
    """Someone at a meeting, discussion or on a circulation list."""

    name: Name
    # Professionals have an agency; people who are not (a parent, a grandparent) have a role.
    agency: Agency | None = None
    role: Name | None = None

    @model_validator(mode="after")
    def _has_agency_or_role(self) -> Person:
        if self.agency is None and self.role is None:
            raise ValueError("a person has an agency, or a role if they are not a professional")
        return self


class RelatedPerson(ValueObject):
    """A person in the child's network, possibly with a case of their own."""

    name: Name
    related_case_id: UUID | None = None


class Referrer(ValueObject):
    """Who made a contact."""

    name: Name
    agency: Agency | None = None
    role: Name


class Consent(ValueObject):
    """Consent to a contact or share, and why not when it was not given."""

    status: ConsentStatus
    reason: Text | None = None

    @model_validator(mode="after")
    def _reason_unless_given(self) -> Consent:
        if self.status != ConsentStatus.GIVEN and self.reason is None:
            raise ValueError(f"consent {self.status.value}: a reason is required")
        return self


class Placement(ValueObject):
    """Where a looked-after child lives."""

    type: Name
    provider: Name
    postcode: Postcode


class ActionItem(ValueObject):
    """An action agreed at a meeting or in supervision."""

    action_id: Ref
    description: Text
    owner: Name
    due: date


class LeadContact(ValueObject):
    """An agency's lead contact for the child."""

    name: Name
    contact: Name


class AgencyRef(ValueObject):
    """An agency named in a list, e.g. who information was shared with."""

    agency: Agency
