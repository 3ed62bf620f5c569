"""The demo case: one synthetic multi-agency case, loaded batch by batch as it was recorded.

Mia Tallowfield (entirely fictional, as are every person, place and agency here) is known to
Barsetshire children's social care from before her birth in 2009 until her case closes with a
step-down to early help in 2015; a practice review corrects and annotates her record in 2019.

Each batch is posted by a principal of the agency that wrote it, with the clock set to when it
was recorded: mostly the same or the next working day, some weeks late. Event ids are UUIDv5s of
fixed labels, so loading the demo again is an idempotent replay that stores nothing new.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.moments import LONDON, Moment
from service.api.models import ENVELOPES
from service.clock import SettableClock
from service.principal import Principal
from service.records import CaseRecords
from service.settings import Settings

# Fixed forever: the demo's event ids (and so its case id) are derived from it.
DEMO_NAMESPACE = UUID("0b6f3f7e-5c2a-4d8e-8f1a-7d9c3e2b1a40")

# --- agencies --------------------------------------------------------------------------------

LA = "csc:barsetshire"
MATERNITY = "health:barchester-maternity"
COMMUNITY_HEALTH = "health:barsetshire-community-health"
SCHOOL = "school:st-aldhelms-primary"
POLICE = "police:barsetshire"
FAMILY_SUPPORT = "vcs:barchester-family-support"

LAWFUL_BASIS = (
    "UK GDPR Art 6(1)(e) and Art 9(2)(g); DPA 2018 Sch 1 para 18 (safeguarding of children)"
)

# --- who posts (principals) ------------------------------------------------------------------


def _principal(sub: str, name: str, agency: str, role: str) -> Principal:
    return Principal(sub=sub, name=name, agency=agency, roles=(role,))


MIDWIFE = _principal("h.marsh", "Helen Marsh", MATERNITY, "practitioner")
MASH = _principal("k.doyle", "Karen Doyle", LA, "practitioner")
EDT = _principal("p.greaves", "Paul Greaves", LA, "practitioner")
PRIYA = _principal("p.sandhu", "Priya Sandhu", LA, "practitioner")
TOM = _principal("t.hale", "Tom Hale", LA, "practitioner")
MANAGER = _principal("a.reeve", "Angela Reeve", LA, "manager")
CONFERENCE_ADMIN = _principal("b.yardley", "Beth Yardley", LA, "practitioner")
REVIEW_LEAD = _principal("h.ashworth", "Helen Ashworth", LA, "manager")
HEALTH_VISITOR = _principal("g.probert", "Gillian Probert", COMMUNITY_HEALTH, "practitioner")
SCHOOL_NURSE = _principal("r.calloway", "Ruth Calloway", COMMUNITY_HEALTH, "practitioner")
FAMILY_WORKER = _principal("j.mercer", "Jo Mercer", FAMILY_SUPPORT, "practitioner")
POLICE_OFFICER = _principal("c.fenton", "DS Claire Fenton", POLICE, "practitioner")
POLICE_RESEARCHER = _principal("s.whitlock", "DC Sam Whitlock", POLICE, "practitioner")
SCHOOL_LOG = _principal(
    "st-aldhelms-safeguarding-log", "St Aldhelm's safeguarding log", SCHOOL, "system"
)
SCHOOL_DSL_2019 = _principal("m.penrose", "Mark Penrose", SCHOOL, "practitioner")

# --- people as payloads name them ------------------------------------------------------------


def pro(name: str, agency: str) -> dict[str, str]:
    """A professional at a meeting or on a circulation list."""
    return {"name": name, "agency": agency}


def family(name: str, role: str) -> dict[str, str]:
    """Someone who is not a professional: they have a role, not an agency."""
    return {"name": name, "role": role}


PRIYA_SW = pro("Priya Sandhu", LA)
TOM_SW = pro("Tom Hale", LA)
ANGELA_TM = pro("Angela Reeve", LA)
GILLIAN_HV = pro("Gillian Probert", COMMUNITY_HEALTH)
RUTH_SN = pro("Ruth Calloway", COMMUNITY_HEALTH)
JO_FS = pro("Jo Mercer", FAMILY_SUPPORT)
JOANNE_DSL = pro("Joanne Fielding", SCHOOL)
CLAIRE_DS = pro("DS Claire Fenton", POLICE)
DR_RAO = pro("Dr Anita Rao", COMMUNITY_HEALTH)
STACEY = family("Stacey Tallowfield", "mother")
LINDA = family("Linda Tallowfield", "maternal grandmother")

DSL_AUTHOR = {"name": "Joanne Fielding", "role": "designated safeguarding lead", "agency": SCHOOL}
SAFEGUARDING_LOG = "St Aldhelm's safeguarding log"

# --- building events -------------------------------------------------------------------------


def event_id(label: str) -> str:
    """The demo event's id: the same on every run."""
    return str(uuid.uuid5(DEMO_NAMESPACE, label))


def event(
    label: str,
    kind: str,
    occurred_at: str,
    data: dict[str, Any],
    *,
    precision: str | None = None,
    author: dict[str, str] | None = None,
    source: dict[str, str] | None = None,
    restricted: bool = False,
) -> dict[str, Any]:
    """A client envelope, validated exactly as an HTTP post of it would be."""
    body: dict[str, Any] = {
        "id": event_id(label),
        "type": kind,
        "occurred_at": occurred_at,
        "data": data,
    }
    if precision is not None:
        body["occurred_precision"] = precision
    if author is not None:
        body["author"] = author
    if source is not None:
        body["source"] = source
    if restricted:
        body["sensitivity"] = "restricted"
    return ENVELOPES[kind].model_validate(body).stored_form()


def action(action_id: str, description: str, owner: str, due: str) -> dict[str, str]:
    return {"action_id": action_id, "description": description, "owner": owner, "due": due}


def meeting(
    label: str,
    occurred_at: str,
    meeting_id: str,
    kind: str,
    chair: str,
    attended: Sequence[dict[str, str]],
    *,
    invited: Sequence[dict[str, str]] = (),
    apologies: Sequence[dict[str, str]] = (),
    decisions: Sequence[str] = (),
    actions: Sequence[dict[str, str]] = (),
) -> dict[str, Any]:
    data = {
        "meeting_id": meeting_id,
        "kind": kind,
        "chair": chair,
        "invited": list(invited) or [*attended, *apologies],
        "attended": list(attended),
        "apologies": list(apologies),
        "decisions": list(decisions),
        "actions": list(actions),
    }
    return event(label, "MeetingHeld", occurred_at, data)


def minutes(label: str, occurred_at: str, meeting_id: str, summary: str) -> dict[str, Any]:
    return event(
        label, "MinutesRecorded", occurred_at, {"meeting_id": meeting_id, "summary": summary}
    )


def circulated(
    label: str, occurred_at: str, meeting_id: str, recipients: Sequence[dict[str, str]]
) -> dict[str, Any]:
    data = {"meeting_id": meeting_id, "recipients": list(recipients), "channel": "secure email"}
    return event(label, "MinutesCirculated", occurred_at, data)


def visit(
    label: str,
    occurred_at: str,
    visit_type: str,
    observations: str,
    *,
    seen: bool = True,
    alone: bool = False,
    bedroom: bool = False,
    reason_not_seen: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "visit_type": visit_type,
        "child_seen": seen,
        "seen_alone": alone,
        "bedroom_seen": bedroom,
        "observations": observations,
    }
    if reason_not_seen is not None:
        data["reason_not_seen"] = reason_not_seen
    return event(label, "VisitMade", occurred_at, data)


def voice(
    label: str, occurred_at: str, method: str, words: str, wishes: str, *, alone: bool
) -> dict[str, Any]:
    data = {"method": method, "seen_alone": alone, "words": words, "wishes": wishes}
    return event(label, "ChildsVoiceRecorded", occurred_at, data)


def note(label: str, occurred_at: str, kind: str, text: str) -> dict[str, Any]:
    return event(label, "CaseNoteRecorded", occurred_at, {"kind": kind, "text": text})


def involvement(
    label: str, occurred_at: str, agency: str, role: str, lead: str, phone: str
) -> dict[str, Any]:
    data = {"agency": agency, "role": role, "lead_contact": {"name": lead, "contact": phone}}
    return event(label, "AgencyInvolvementStarted", occurred_at, data)


def involvement_ended(
    label: str, occurred_at: str, agency: str, role: str, reason: str
) -> dict[str, Any]:
    data = {"agency": agency, "role": role, "reason": reason}
    return event(label, "AgencyInvolvementEnded", occurred_at, data)


# --- batches ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """Events posted together by one principal at one recording time (London wall clock)."""

    recorded_at: datetime
    by: Principal
    events: tuple[dict[str, Any], ...]


def batch(recorded_at: str, by: Principal, *events: dict[str, Any]) -> Batch:
    when = datetime.fromisoformat(recorded_at).replace(tzinfo=LONDON)
    for e in events:
        if Moment.parse(e["occurred_at"]).instant >= when:
            raise ValueError(f"{e['type']} {e['id']} is recorded before it happened")
    return Batch(when, by, events)


# --- the story, chapter by chapter -----------------------------------------------------------


def before_birth() -> list[Batch]:
    """2009: a midwife's pre-birth contact; early help; Mia is born."""
    return [
        batch(
            "2009-06-17T16:20",
            MIDWIFE,
            event(
                "case-opened",
                "CaseOpened",
                "2009-06-17",
                {
                    "child": {
                        "name": "Unborn baby Tallowfield",
                        "expected_date_of_birth": "2009-10-09",
                        "sex": "U",
                        "unborn": True,
                    },
                    "local_authority": LA,
                },
            ),
            event(
                "pre-birth-contact",
                "ContactReceived",
                "2009-06-17",
                {
                    "contact_id": "C-2009-1147",
                    "source_code": "3F",
                    "referrer": {
                        "name": "Helen Marsh",
                        "agency": MATERNITY,
                        "role": "community midwife",
                    },
                    "concern": "Pre-birth: mother (19) has low mood, missed 2 antenatal "
                    "appointments and disclosed domestic abuse by the baby's father, Dean Merrow, "
                    "earlier in the pregnancy. She says the relationship has ended and she would "
                    "like support.",
                    "consent": {"status": "given"},
                    "immediate_risk": False,
                    "channel": "MASH referral form",
                },
            ),
        ),
        batch(
            "2009-06-18T11:05",
            MASH,
            event(
                "pre-birth-decision",
                "ContactDecisionMade",
                "2009-06-18",
                {
                    "contact_id": "C-2009-1147",
                    "outcome": "early_help",
                    "rationale": "Threshold for a statutory assessment not met: the relationship "
                    "has ended and Stacey is asking for help. Early help through Barchester Family "
                    "Support alongside the midwife and health visitor.",
                    "urgent": False,
                },
            ),
            event(
                "pre-birth-referrer-informed",
                "ReferrerInformed",
                "2009-06-18",
                {"contact_id": "C-2009-1147", "channel": "phone"},
            ),
        ),
        batch(
            "2009-07-01T09:40",
            FAMILY_WORKER,
            involvement(
                "family-support-2009-started",
                "2009-06-29",
                FAMILY_SUPPORT,
                "early help family support",
                "Jo Mercer",
                "01632 960 118",
            ),
        ),
        batch(
            "2009-10-06T10:30",
            MIDWIFE,
            event(
                "nhs-number",
                "IdentifierLinked",
                "2009-10-04",
                {"scheme": "nhs_number", "value": "999 014 2785"},
            ),
            note(
                "birth-notification",
                "2009-10-04",
                "birth notification",
                "Mia born at Barchester General Hospital at 39 weeks, 3.1 kg, mother and baby "
                "well. Discharged home on 6 October; community midwife follow-up arranged.",
            ),
        ),
        batch(
            "2009-10-07T14:00",
            MASH,
            event(
                "born",
                "PersonDetailsChanged",
                "2009-10-04",
                {
                    "name": "Mia Tallowfield",
                    "sex": "F",
                    "date_of_birth": "2009-10-04",
                    "unborn": False,
                    "reason": "Birth notified by Barchester Maternity on 6 October 2009",
                },
            ),
        ),
        batch(
            "2009-10-22T09:15",
            HEALTH_VISITOR,
            involvement(
                "health-visitor-started",
                "2009-10-21",
                COMMUNITY_HEALTH,
                "health visitor",
                "Gillian Probert",
                "01632 960 412",
            ),
            visit(
                "new-birth-visit",
                "2009-10-21",
                "home",
                "New birth visit. Mia feeding well and gaining weight. Stacey tired but coping, "
                "with daily help from her mother; Moses basket in Stacey's bedroom.",
                bedroom=True,
            ),
        ),
        batch(
            "2010-07-16T10:00",
            FAMILY_WORKER,
            involvement_ended(
                "family-support-2009-ended",
                "2010-07-15",
                FAMILY_SUPPORT,
                "early help family support",
                "Early help plan completed: Stacey attends the children's centre and a parenting "
                "group; no new concerns.",
            ),
        ),
    ]


CIN_MEETING_1 = "CINR-2013-014-1"
CIN_MEETING_2 = "CINR-2013-014-2"
CIN_MEETING_3 = "CINR-2013-014-3"


def child_in_need() -> list[Batch]:
    """2013: police report domestic abuse; assessment; a child in need plan; closure."""
    return [
        batch(
            "2013-02-11T16:10",
            MASH,
            event(
                "police-contact-2013",
                "ContactReceived",
                "2013-02-11T09:20:00+00:00",
                {
                    "contact_id": "C-2013-0219",
                    "source_code": "6",
                    "referrer": {
                        "name": "PC Dan Hollis",
                        "agency": POLICE,
                        "role": "police officer",
                    },
                    "concern": "Domestic abuse at home on 9 February: Dean Merrow assaulted Stacey "
                    "while Mia (3) was in the room. Mr Merrow arrested and bailed not to attend "
                    "the address. DASH risk assessment: medium.",
                    "consent": {
                        "status": "not_sought",
                        "reason": "Police domestic abuse notification, shared for Mia's protection",
                    },
                    "immediate_risk": False,
                    "channel": "police domestic abuse notification",
                },
            ),
            event(
                "police-contact-2013-decision",
                "ContactDecisionMade",
                "2013-02-11T15:30:00+00:00",
                {
                    "contact_id": "C-2013-0219",
                    "outcome": "referral",
                    "rationale": "Third police-reported incident involving Mr Merrow and the first "
                    "with Mia present: a child and family assessment is needed.",
                    "urgent": False,
                },
            ),
            event(
                "police-contact-2013-informed",
                "ReferrerInformed",
                "2013-02-11T15:30:00+00:00",
                {"contact_id": "C-2013-0219", "channel": "secure email"},
            ),
        ),
        batch(
            "2013-02-12T12:00",
            MANAGER,
            event(
                "referral-2013",
                "ReferralAccepted",
                "2013-02-12",
                {
                    "referral_id": "R-2013-0087",
                    "source_code": "6",
                    "primary_need": "N1",
                    "contact_id": "C-2013-0219",
                },
            ),
            event(
                "allocated-priya",
                "WorkerAllocated",
                "2013-02-12",
                {
                    "worker": "Priya Sandhu",
                    "team": "Barchester Assessment Team",
                    "reason": "Assessment after a police domestic abuse notification",
                },
            ),
            event(
                "assessment-2013-started",
                "AssessmentStarted",
                "2013-02-12",
                {"assessment_id": "A-2013-0087", "referral_id": "R-2013-0087"},
            ),
        ),
        batch(
            "2013-02-14T15:00",
            PRIYA,
            event(
                "request-health-2013",
                "InformationRequested",
                "2013-02-14",
                {
                    "request_id": "IR-2013-011",
                    "from_agency": LA,
                    "to_agency": COMMUNITY_HEALTH,
                    "question": "Health visiting records for Mia since birth: development, "
                    "attendance, home conditions and any disclosures of domestic abuse.",
                },
            ),
            event(
                "request-police-2013",
                "InformationRequested",
                "2013-02-14",
                {
                    "request_id": "IR-2013-012",
                    "from_agency": LA,
                    "to_agency": POLICE,
                    "question": "Domestic abuse call-outs to the address, and any history held "
                    "for Dean Merrow.",
                },
            ),
        ),
        batch(
            "2013-02-15T11:30",
            POLICE_RESEARCHER,
            event(
                "request-police-2013-answered",
                "InformationRequestAnswered",
                "2013-02-15",
                {
                    "request_id": "IR-2013-012",
                    "answer": "Three domestic incidents at the address since 2009 (June 2009, "
                    "March 2011, February 2013), all involving Dean Merrow; caution for common "
                    "assault in 2011.",
                    "covers_from": "2009-01-01",
                    "covers_to": "2013-02-15",
                },
            ),
        ),
        batch(
            "2013-02-19T14:20",
            HEALTH_VISITOR,
            event(
                "request-health-2013-answered",
                "InformationRequestAnswered",
                "2013-02-19",
                {
                    "request_id": "IR-2013-011",
                    "answer": "Immunisations up to date; 2-year review (November 2011) noted "
                    "delayed speech. No concerns about home conditions; Stacey told the health "
                    "visitor about the March 2011 incident at the time.",
                    "covers_from": "2009-10-04",
                    "covers_to": "2013-02-18",
                },
            ),
        ),
        batch(
            "2013-02-20T17:30",
            PRIYA,
            visit(
                "assessment-home-visit",
                "2013-02-20",
                "home",
                "Home warm and tidy; Mia's bedroom has a bed, toys and books. Mia played with her "
                "dolls' house and chatted with Stacey present. Stacey says Mr Merrow has not been "
                "back since his arrest.",
                bedroom=True,
            ),
            voice(
                "voice-2013-dolls-house",
                "2013-02-20",
                "observed",
                "Daddy shouted and Mummy cried.",
                "Said while playing with her dolls' house. Mia seemed happy at home with her mum "
                "and asked when she could go to nursery.",
                alone=False,
            ),
            event(
                "relationship-mother",
                "RelationshipRecorded",
                "2013-02-20",
                {
                    "person": {"name": "Stacey Tallowfield"},
                    "relationship": "mother",
                    "lives_with_child": True,
                    "parental_responsibility": True,
                },
            ),
            event(
                "relationship-father",
                "RelationshipRecorded",
                "2013-02-20",
                {
                    "person": {"name": "Dean Merrow"},
                    "relationship": "father",
                    "lives_with_child": False,
                    "parental_responsibility": True,
                },
            ),
            event(
                "relationship-grandmother",
                "RelationshipRecorded",
                "2013-02-20",
                {
                    "person": {"name": "Linda Tallowfield"},
                    "relationship": "maternal grandmother",
                    "lives_with_child": False,
                    "parental_responsibility": False,
                },
            ),
        ),
        batch(
            "2013-03-04T16:00",
            FAMILY_WORKER,
            involvement(
                "family-support-2013-started",
                "2013-03-04",
                FAMILY_SUPPORT,
                "family support worker (recovery programme and parenting)",
                "Jo Mercer",
                "01632 960 118",
            ),
        ),
        batch(
            "2013-03-28T16:45",
            MANAGER,
            event(
                "assessment-2013-completed",
                "AssessmentCompleted",
                "2013-03-28",
                {
                    "assessment_id": "A-2013-0087",
                    "factors": ["3B", "4B"],
                    "outcome": "child_in_need",
                    "needs_support": True,
                    "child_seen": True,
                    "summary": "Mia is well cared for, but has lived with domestic abuse and her "
                    "mother's low mood. Support under a child in need plan.",
                },
            ),
            event(
                "cin-plan-2013-started",
                "ChildInNeedPlanStarted",
                "2013-03-28",
                {"plan_id": "CIN-2013-014"},
            ),
        ),
        batch(
            "2013-04-25T17:00",
            PRIYA,
            meeting(
                "cin-review-1",
                "2013-04-25",
                CIN_MEETING_1,
                "cin_review",
                "Priya Sandhu",
                [PRIYA_SW, GILLIAN_HV, JO_FS, JOANNE_DSL, STACEY],
                decisions=[
                    "Mia remains a child in need; the plan continues",
                    "Stacey to complete the domestic abuse recovery programme",
                ],
                actions=[
                    action(
                        "CINR1-A1",
                        "Refer Mia to speech and language therapy",
                        "Gillian Probert",
                        "2013-05-24",
                    )
                ],
            ),
        ),
        batch(
            "2013-04-30T12:10",
            PRIYA,
            minutes(
                "cin-review-1-minutes",
                "2013-04-30",
                CIN_MEETING_1,
                "Stacey engaging well with family support; no further incidents; speech "
                "therapy referral agreed.",
            ),
        ),
        batch(
            "2013-05-01T10:05",
            PRIYA,
            circulated(
                "cin-review-1-circulated",
                "2013-05-01",
                CIN_MEETING_1,
                [PRIYA_SW, GILLIAN_HV, JO_FS, JOANNE_DSL, STACEY],
            ),
        ),
        batch(
            "2013-05-20T15:30",
            HEALTH_VISITOR,
            event(
                "cin-review-1-action-done",
                "ActionCompleted",
                "2013-05-20",
                {
                    "action_id": "CINR1-A1",
                    "outcome": "Speech and language therapy referral accepted; first appointment "
                    "on 12 June",
                },
            ),
        ),
        batch(
            "2013-07-11T16:40",
            PRIYA,
            meeting(
                "cin-review-2",
                "2013-07-11",
                CIN_MEETING_2,
                "cin_review",
                "Priya Sandhu",
                [PRIYA_SW, GILLIAN_HV, JO_FS, JOANNE_DSL, STACEY],
                decisions=["Plan continues; Stacey is halfway through the recovery programme"],
            ),
        ),
        # Minuted, but the school that attended was left off the circulation list.
        batch(
            "2013-07-16T11:00",
            PRIYA,
            minutes(
                "cin-review-2-minutes",
                "2013-07-16",
                CIN_MEETING_2,
                "Good progress: Mia attends nursery every day and her speech is improving.",
            ),
        ),
        batch(
            "2013-07-17T09:30",
            PRIYA,
            circulated(
                "cin-review-2-circulated",
                "2013-07-17",
                CIN_MEETING_2,
                [PRIYA_SW, GILLIAN_HV, JO_FS, STACEY],
            ),
        ),
        # Never minuted.
        batch(
            "2013-10-03T17:15",
            PRIYA,
            meeting(
                "cin-review-3",
                "2013-10-03",
                CIN_MEETING_3,
                "cin_review",
                "Priya Sandhu",
                [PRIYA_SW, GILLIAN_HV, JOANNE_DSL, STACEY],
                apologies=[JO_FS],
                decisions=["Consider closing the plan at the next review if progress continues"],
            ),
        ),
        batch(
            "2013-11-19T16:00",
            HEALTH_VISITOR,
            note(
                "health-visitor-carl",
                "2013-11-19",
                "health visitor home visit",
                "Visit to review Mia's speech. Stacey mentioned a new friend, Carl, who sometimes "
                "stays at weekends; she did not want to say more about him.",
            ),
        ),
        batch(
            "2013-12-12T15:20",
            MANAGER,
            event(
                "cin-plan-2013-ended",
                "ChildInNeedPlanEnded",
                "2013-12-12",
                {
                    "plan_id": "CIN-2013-014",
                    "reason": "Objectives met: no domestic abuse since February, recovery "
                    "programme completed, Mia settled at nursery",
                },
            ),
            event(
                "closed-2013",
                "CaseClosed",
                "2013-12-12",
                {
                    "reason_code": "RC7",
                    "agencies_notified": [COMMUNITY_HEALTH, FAMILY_SUPPORT, SCHOOL],
                },
            ),
        ),
        batch(
            "2013-12-13T10:20",
            FAMILY_WORKER,
            involvement_ended(
                "family-support-2013-ended",
                "2013-12-13",
                FAMILY_SUPPORT,
                "family support worker (recovery programme and parenting)",
                "Closed with the child in need plan; Stacey completed the recovery programme.",
            ),
        ),
    ]


SCHOOL_CONCERN = {
    "category": "bruising",
    "description": "Two oval bruises on the back of Mia's left upper arm, seen while she "
    "changed after PE. Mia said she fell over in the garden.",
    "body_location": "back of left upper arm (two fingertip-sized bruises)",
    "explanation_given": "Mia said she fell over in the garden; her mother has not been asked",
}

CP_CORE_GROUP = [TOM_SW, JOANNE_DSL, GILLIAN_HV, STACEY, LINDA]


def bruising_and_enquiry() -> list[Batch]:
    """May 2014, the case closed: the school reports bruising; strategy discussion and s47."""
    return [
        batch(
            "2014-05-12T15:40",
            SCHOOL_LOG,
            event(
                "school-bruising",
                "ConcernObserved",
                "2014-05-12",
                SCHOOL_CONCERN,
                author=DSL_AUTHOR,
                source={"system": SAFEGUARDING_LOG, "reference": "SG-2014-031"},
            ),
            event(
                "school-contact-2014",
                "ContactReceived",
                "2014-05-12T15:10:00+01:00",
                {
                    "contact_id": "C-2014-0642",
                    "source_code": "2A",
                    "referrer": {
                        "name": "Joanne Fielding",
                        "agency": SCHOOL,
                        "role": "designated safeguarding lead",
                    },
                    "concern": "Fingertip bruising to Mia's left upper arm seen at nursery today; "
                    "Mia says she fell. Mother's new partner, Carl, now lives at the home.",
                    "consent": {
                        "status": "not_sought",
                        "reason": "Asking consent could put Mia at risk before a strategy "
                        "discussion",
                    },
                    "immediate_risk": True,
                    "channel": "phone call to MASH, then referral form",
                },
                author=DSL_AUTHOR,
                source={"system": SAFEGUARDING_LOG, "reference": "SG-2014-031"},
            ),
        ),
        batch(
            "2014-05-12T17:45",
            MASH,
            event(
                "school-contact-2014-decision",
                "ContactDecisionMade",
                "2014-05-12T16:30:00+01:00",
                {
                    "contact_id": "C-2014-0642",
                    "outcome": "strategy_discussion",
                    "rationale": "Fingertip bruising to a 4-year-old, an adult new to the "
                    "household and a history of domestic abuse: strategy discussion tomorrow "
                    "morning.",
                    "urgent": True,
                },
            ),
            event(
                "referral-2014",
                "ReferralAccepted",
                "2014-05-12T16:30:00+01:00",
                {
                    "referral_id": "R-2014-0311",
                    "source_code": "2A",
                    "primary_need": "N1",
                    "contact_id": "C-2014-0642",
                },
            ),
            event(
                "school-contact-2014-informed",
                "ReferrerInformed",
                "2014-05-12T16:30:00+01:00",
                {"contact_id": "C-2014-0642", "channel": "phone"},
            ),
        ),
        batch(
            "2014-05-13T13:10",
            MANAGER,
            event(
                "strategy-2014",
                "StrategyDiscussionHeld",
                "2014-05-13T10:00:00+01:00",
                {
                    "strategy_id": "SD-2014-0311",
                    "participants": [ANGELA_TM, CLAIRE_DS, DR_RAO, JOANNE_DSL],
                    "decision": "joint_s47",
                    "actions": [
                        action(
                            "SD1-A1",
                            "Child protection medical at Barchester General Hospital today",
                            "Tom Hale",
                            "2014-05-13",
                        ),
                        action(
                            "SD1-A2",
                            "Check Carl Brisco on police systems",
                            "DS Claire Fenton",
                            "2014-05-14",
                        ),
                    ],
                },
            ),
            event(
                "s47-2014-started",
                "Section47Started",
                "2014-05-13T10:45:00+01:00",
                {"s47_id": "S47-2014-0311", "strategy_id": "SD-2014-0311"},
            ),
            event(
                "allocated-tom",
                "WorkerAllocated",
                "2014-05-13T11:00:00+01:00",
                {
                    "worker": "Tom Hale",
                    "team": "Barchester Child Protection Team",
                    "reason": "Joint section 47 enquiry with police",
                },
            ),
        ),
        batch(
            "2014-05-13T19:05",
            TOM,
            visit(
                "medical-visit",
                "2014-05-13T14:00:00+01:00",
                "hospital",
                "Joint visit with DS Fenton; Mia seen with the paediatrician and then alone in "
                "the play room. Stacey agreed Mia stays with her grandmother during the enquiry.",
                alone=True,
            ),
            voice(
                "voice-2014-medical",
                "2014-05-13T14:30:00+01:00",
                "spoken",
                "Carl holds my arm too hard when I'm naughty.",
                "To stay at Nanny's and see Mummy every day.",
                alone=True,
            ),
            event(
                "school-bruising-followed-up",
                "ConcernFollowedUp",
                "2014-05-13T16:00:00+01:00",
                {
                    "concern_event_id": event_id("school-bruising"),
                    "action": "Joint visit with police and child protection medical",
                    "outcome": "Paediatrician: bruising consistent with an adult's grip, not a "
                    "fall. Mia staying with her grandmother under a safety plan.",
                },
            ),
            event(
                "strategy-action-1-done",
                "ActionCompleted",
                "2014-05-13T16:00:00+01:00",
                {"action_id": "SD1-A1", "outcome": "Medical done: bruising consistent with a grip"},
            ),
        ),
        batch(
            "2014-05-14T12:30",
            POLICE_OFFICER,
            event(
                "strategy-action-2-done",
                "ActionCompleted",
                "2014-05-14",
                {
                    "action_id": "SD1-A2",
                    "outcome": "Carl Brisco has a 2010 conviction for assaulting a former partner",
                },
            ),
        ),
        batch(
            "2014-05-16T16:50",
            TOM,
            event(
                "carl-joined",
                "HouseholdChanged",
                "2014-01-15",
                {
                    "change": "joined",
                    "person": {"name": "Carl Brisco"},
                    "relationship": "mother's partner",
                },
                precision="approximate",
            ),
            event(
                "relationship-carl",
                "RelationshipRecorded",
                "2014-05-16",
                {
                    "person": {"name": "Carl Brisco"},
                    "relationship": "mother's partner",
                    "lives_with_child": True,
                    "parental_responsibility": False,
                },
            ),
        ),
        batch(
            "2014-05-20T11:15",
            MANAGER,
            event(
                "cin-review-3-annotated",
                "EntryAnnotated",
                "2014-05-20",
                {
                    "target_event_id": event_id("cin-review-3"),
                    "note": "No minutes of this review can be found; Priya Sandhu left the "
                    "authority in January 2014. The decisions are from the chair's handwritten "
                    "notes.",
                },
            ),
            event(
                "health-visitor-carl-significant",
                "SignificanceAssessed",
                "2014-05-20",
                {
                    "target_event_id": event_id("health-visitor-carl"),
                    "significance": "significant",
                    "rationale": "First mention of Carl Brisco in Mia's home, six months before "
                    "the bruising; it was not considered when the case closed in December 2013.",
                },
            ),
        ),
        batch(
            "2014-05-22T17:00",
            TOM,
            event(
                "s47-2014-concluded",
                "Section47Concluded",
                "2014-05-22",
                {
                    "s47_id": "S47-2014-0311",
                    "outcome": "Physical harm substantiated: grip bruising and a partner with a "
                    "conviction for assault",
                    "conference_required": True,
                },
            ),
        ),
    ]


def child_protection() -> list[Batch]:
    """June to October 2014: conference, plan, core groups, visits, supervision, sharing."""
    return [
        batch(
            "2014-06-03T10:30",
            CONFERENCE_ADMIN,
            event(
                "icpc-2014",
                "ConferenceHeld",
                "2014-06-02",
                {
                    "conference_id": "ICPC-2014-0311",
                    "kind": "initial",
                    "chair": "Margaret Ellison (independent chair)",
                    "attendees": [
                        TOM_SW,
                        ANGELA_TM,
                        JOANNE_DSL,
                        GILLIAN_HV,
                        CLAIRE_DS,
                        STACEY,
                        LINDA,
                    ],
                    "decision": "cp_plan",
                    "category": "physical",
                    "child_participation": "Mia (4) did not attend; her social worker shared her "
                    "words and a drawing of her family.",
                    "dissent": "Stacey disagreed with the plan and the category",
                },
            ),
            event(
                "cp-plan-started",
                "ChildProtectionPlanStarted",
                "2014-06-02",
                {
                    "plan_id": "CP-2014-0311",
                    "conference_id": "ICPC-2014-0311",
                    "category": "physical",
                },
            ),
        ),
        batch(
            "2014-06-10T16:30",
            TOM,
            visit(
                "cp-visit-1",
                "2014-06-10",
                "home",
                "Mia back home. Seen alone in her bedroom; she showed me her toys. Carl Brisco "
                "not present; Stacey says he stays at his brother's during the week.",
                alone=True,
                bedroom=True,
            ),
        ),
        batch(
            "2014-06-12T17:10",
            TOM,
            meeting(
                "core-group-1",
                "2014-06-12",
                "CG-2014-0311-1",
                "core_group",
                "Tom Hale",
                CP_CORE_GROUP,
                decisions=["Written agreement: Carl Brisco not to be alone with Mia"],
                actions=[
                    action(
                        "CG1-A1",
                        "Refer Stacey to the domestic abuse outreach service",
                        "Tom Hale",
                        "2014-06-20",
                    )
                ],
            ),
        ),
        batch(
            "2014-06-16T14:00",
            TOM,
            minutes(
                "core-group-1-minutes",
                "2014-06-16",
                "CG-2014-0311-1",
                "Plan agreed; written agreement signed by Stacey; outreach referral to follow.",
            ),
        ),
        batch(
            "2014-06-17T09:20",
            TOM,
            circulated(
                "core-group-1-circulated",
                "2014-06-17",
                "CG-2014-0311-1",
                [TOM_SW, JOANNE_DSL, GILLIAN_HV, STACEY, LINDA],
            ),
            event(
                "core-group-1-action-done",
                "ActionCompleted",
                "2014-06-17",
                {
                    "action_id": "CG1-A1",
                    "outcome": "Referral accepted by the domestic abuse outreach service",
                },
            ),
        ),
        batch(
            "2014-06-24T15:45",
            TOM,
            visit(
                "cp-visit-2",
                "2014-06-24",
                "school",
                "Seen alone at nursery. Mia chatty and proud of her painting; no marks seen.",
                alone=True,
            ),
        ),
        batch(
            "2014-07-03T17:20",
            TOM,
            visit(
                "cp-visit-not-seen",
                "2014-07-03",
                "home",
                "Unannounced visit at 4pm; curtains drawn, no answer. Card left.",
                seen=False,
                reason_not_seen="No answer; Stacey later said Mia was at her grandmother's",
            ),
        ),
        batch(
            "2014-07-04T16:10",
            TOM,
            visit(
                "cp-visit-grandmother",
                "2014-07-04",
                "other",
                "Mia seen at her grandmother's with Linda present; happy, playing in the garden.",
            ),
        ),
        batch(
            "2014-07-17T16:55",
            TOM,
            visit(
                "cp-visit-3",
                "2014-07-17",
                "home",
                "Seen alone in her bedroom; clean bed and clothes. Mia said Carl is 'nicer now'.",
                alone=True,
                bedroom=True,
            ),
        ),
        batch(
            "2014-07-24T17:30",
            TOM,
            meeting(
                "core-group-2",
                "2014-07-24",
                "CG-2014-0311-2",
                "core_group",
                "Tom Hale",
                CP_CORE_GROUP,
                decisions=["Plan continues; Stacey attending outreach sessions"],
            ),
        ),
        batch(
            "2014-07-28T12:00",
            TOM,
            minutes(
                "core-group-2-minutes",
                "2014-07-28",
                "CG-2014-0311-2",
                "Stacey attending outreach; nursery and health visitor report no new marks.",
            ),
            circulated(
                "core-group-2-circulated",
                "2014-07-28",
                "CG-2014-0311-2",
                [TOM_SW, JOANNE_DSL, GILLIAN_HV, STACEY, LINDA],
            ),
        ),
        batch(
            "2014-08-04T17:05",
            TOM,
            visit(
                "cp-visit-4",
                "2014-08-04",
                "home",
                "Mia seen in the living room with Stacey and Carl present; she was quiet.",
            ),
        ),
        # Supervision notes a bruise; it becomes its own concern, never followed up.
        batch(
            "2014-08-06T15:30",
            MANAGER,
            event(
                "supervision-2014-08",
                "SupervisionHeld",
                "2014-08-06",
                {
                    "supervisor": "Angela Reeve",
                    "discussion": "Tom saw a small bruise on Mia's left cheek at the visit on "
                    "4 August; Stacey said Mia walked into a door. Carl Brisco was at the home. "
                    "Discussed whether a further strategy discussion is needed.",
                    "decisions": [
                        "Record the bruise as a concern on Mia's record",
                        "No strategy discussion unless school or health have seen other marks",
                    ],
                    "actions": [
                        action(
                            "SUP-2014-08-A1",
                            "Ask nursery and the health visitor whether they have seen any marks",
                            "Tom Hale",
                            "2014-08-08",
                        )
                    ],
                },
            ),
            event(
                "supervision-bruise",
                "ConcernObserved",
                "2014-08-04",
                {
                    "category": "bruising",
                    "description": "Small bruise on Mia's left cheek seen at the home visit; noted "
                    "in supervision on 6 August.",
                    "body_location": "left cheek",
                    "explanation_given": "Stacey said Mia walked into a door",
                },
            ),
        ),
        batch(
            "2014-08-18T16:40",
            TOM,
            visit(
                "cp-visit-5",
                "2014-08-18",
                "home",
                "Mia asleep on the sofa with chickenpox; Stacey caring for her well.",
            ),
            event(
                "voice-not-obtained",
                "ChildsVoiceNotObtained",
                "2014-08-18",
                {
                    "reason": "Mia was unwell with chickenpox and asleep throughout the visit; her "
                    "views to be sought at the next visit"
                },
            ),
        ),
        # Shared with police for MARAC, citing the school's report but not the cheek bruise.
        batch(
            "2014-08-20T16:15",
            TOM,
            event(
                "shared-with-police",
                "InformationShared",
                "2014-08-20",
                {
                    "with": [{"agency": POLICE}],
                    "summary": "Child protection plan, the school's report of bruising in May and "
                    "the medical findings",
                    "purpose": "MARAC risk assessment for Stacey Tallowfield and Carl Brisco",
                    "lawful_basis": LAWFUL_BASIS,
                    "consent": {
                        "status": "not_sought",
                        "reason": "Asking consent would alert Mr Brisco and raise the risk to Mia "
                        "and her mother",
                    },
                    "concern_event_ids": [event_id("school-bruising")],
                },
            ),
        ),
        batch(
            "2014-08-29T11:00",
            CONFERENCE_ADMIN,
            event(
                "review-conference-1",
                "ConferenceHeld",
                "2014-08-28",
                {
                    "conference_id": "RCPC-2014-0311-1",
                    "kind": "review",
                    "chair": "Margaret Ellison (independent chair)",
                    "attendees": [TOM_SW, JOANNE_DSL, GILLIAN_HV, CLAIRE_DS, STACEY],
                    "decision": "continue",
                    "category": "physical",
                    "child_participation": "Mia's drawing of 'my house' and her words from visits "
                    "were shared by her social worker.",
                },
            ),
        ),
        batch(
            "2014-09-02T15:50",
            TOM,
            visit(
                "cp-visit-6",
                "2014-09-02",
                "school",
                "Seen alone on her second day in reception; settled and smiling.",
                alone=True,
            ),
        ),
        batch(
            "2014-09-03T12:05",
            SCHOOL_LOG,
            event(
                "upn",
                "IdentifierLinked",
                "2014-09-03",
                {"scheme": "upn", "value": "G999210814031"},
                author={"name": "Sue Carr", "role": "school office manager", "agency": SCHOOL},
                source={"system": "St Aldhelm's pupil records", "reference": "admissions 2014"},
            ),
        ),
        batch(
            "2014-09-05T14:00",
            HEALTH_VISITOR,
            involvement_ended(
                "health-visitor-ended",
                "2014-09-05",
                COMMUNITY_HEALTH,
                "health visitor",
                "Mia started reception; health visiting handed over to school nursing",
            ),
        ),
        batch(
            "2014-09-08T10:10",
            SCHOOL_NURSE,
            involvement(
                "school-nurse-started",
                "2014-09-08",
                COMMUNITY_HEALTH,
                "school nurse",
                "Ruth Calloway",
                "01632 960 455",
            ),
        ),
        batch(
            "2014-09-30T17:00",
            TOM,
            visit(
                "cp-visit-8",
                "2014-09-30",
                "home",
                "Seen alone in her bedroom. Carl present downstairs and polite; Stacey tense.",
                alone=True,
                bedroom=True,
            ),
        ),
        # Written on the wrong child's record, and retracted the next day.
        batch(
            "2014-10-02T14:25",
            TOM,
            note(
                "wrong-child-note",
                "2014-10-02",
                "phone call",
                "Call from the foster carer about Jayden's half-term contact; Saturday contact "
                "moved to the family centre.",
            ),
        ),
        batch(
            "2014-10-03T09:10",
            TOM,
            event(
                "wrong-child-note-retracted",
                "EntryRetracted",
                "2014-10-03",
                {
                    "target_event_id": event_id("wrong-child-note"),
                    "reason": "Recorded on the wrong child's record; re-entered on the correct "
                    "record",
                },
            ),
        ),
        # A visit written up more than three weeks after it happened.
        batch(
            "2014-10-09T18:20",
            TOM,
            visit(
                "cp-visit-7",
                "2014-09-16",
                "home",
                "Seen alone; Mia showed me her new school bag and her bedroom. Written up late "
                "after the worker's leave.",
                alone=True,
                bedroom=True,
            ),
        ),
        batch(
            "2014-10-14T16:35",
            TOM,
            visit(
                "cp-visit-9",
                "2014-10-14",
                "home",
                "Mia seen with Stacey; no marks seen, chatty about her school friends.",
            ),
        ),
    ]


FOSTER_PLACEMENT = {
    "type": "foster placement",
    "provider": "Barsetshire fostering service (emergency foster carers)",
    "postcode": "XB4 2PL",
}
KINSHIP_PLACEMENT = {
    "type": "kinship foster placement (connected person)",
    "provider": "Linda Tallowfield, maternal grandmother",
    "postcode": "XB2 7HN",
}


def looked_after() -> list[Batch]:
    """October 2014 to April 2015: an assault at home; Mia is looked after, then goes home."""
    return [
        batch(
            "2014-10-19T00:40",
            EDT,
            event(
                "police-contact-2014",
                "ContactReceived",
                "2014-10-18T21:40:00+01:00",
                {
                    "contact_id": "C-2014-1288",
                    "source_code": "6",
                    "referrer": {
                        "name": "PC Dan Hollis",
                        "agency": POLICE,
                        "role": "police officer",
                    },
                    "concern": "Carl Brisco assaulted Stacey at home in front of Mia tonight. "
                    "Mr Brisco arrested; Stacey taken to hospital; no family carer available.",
                    "consent": {
                        "status": "not_sought",
                        "reason": "Emergency: Mia at immediate risk",
                    },
                    "immediate_risk": True,
                    "channel": "phone to the emergency duty team",
                },
            ),
            event(
                "police-contact-2014-decision",
                "ContactDecisionMade",
                "2014-10-18T22:10:00+01:00",
                {
                    "contact_id": "C-2014-1288",
                    "outcome": "strategy_discussion",
                    "rationale": "Child on a CP plan, second assault at home: emergency placement "
                    "tonight with Stacey's agreement, strategy discussion on Monday.",
                    "urgent": True,
                },
            ),
            event(
                "carl-left",
                "HouseholdChanged",
                "2014-10-18T22:00:00+01:00",
                {
                    "change": "left",
                    "person": {"name": "Carl Brisco"},
                    "relationship": "mother's partner",
                },
            ),
            event(
                "care-started",
                "PeriodOfCareStarted",
                "2014-10-18T23:30:00+01:00",
                {
                    "legal_status": "V2: accommodated under section 20",
                    "placement": FOSTER_PLACEMENT,
                },
            ),
        ),
        batch(
            "2014-10-20T14:30",
            MANAGER,
            event(
                "strategy-2014-10",
                "StrategyDiscussionHeld",
                "2014-10-20T11:00:00+01:00",
                {
                    "strategy_id": "SD-2014-1288",
                    "participants": [ANGELA_TM, CLAIRE_DS, DR_RAO, JOANNE_DSL],
                    "decision": "no_s47",
                    "actions": [
                        action(
                            "SD2-A1",
                            "Assess Linda Tallowfield as a connected-person foster carer",
                            "Tom Hale",
                            "2014-11-14",
                        )
                    ],
                },
            ),
        ),
        batch(
            "2014-10-22T17:10",
            TOM,
            visit(
                "placement-visit-1",
                "2014-10-22",
                "placement",
                "First placement visit. Mia seen alone in her bedroom at the foster home; eating "
                "and sleeping well, asking for her mum.",
                alone=True,
                bedroom=True,
            ),
            voice(
                "voice-2014-foster",
                "2014-10-22",
                "spoken",
                "I like it here but I miss Mummy and Nanny. I don't want Carl to come back.",
                "To go home to Mummy when Carl isn't there, and to see Nanny.",
                alone=True,
            ),
        ),
        batch(
            "2014-11-11T16:20",
            TOM,
            meeting(
                "cla-review-1",
                "2014-11-11",
                "CLA-2014-1288-1",
                "cla_review",
                "Nadia Fenwick (independent reviewing officer)",
                [TOM_SW, JOANNE_DSL, RUTH_SN, STACEY, LINDA],
                decisions=["Care plan: move to her grandmother once approved, then return home"],
            ),
        ),
        batch(
            "2014-11-14T11:40",
            TOM,
            minutes(
                "cla-review-1-minutes",
                "2014-11-14",
                "CLA-2014-1288-1",
                "Mia settled in foster care; her grandmother's connected-person assessment is "
                "positive.",
            ),
            circulated(
                "cla-review-1-circulated",
                "2014-11-14",
                "CLA-2014-1288-1",
                [TOM_SW, JOANNE_DSL, RUTH_SN, STACEY, LINDA],
            ),
            event(
                "strategy-2014-10-action-done",
                "ActionCompleted",
                "2014-11-14",
                {
                    "action_id": "SD2-A1",
                    "outcome": "Linda approved as a connected-person foster carer",
                },
            ),
        ),
        batch(
            "2014-11-20T17:00",
            TOM,
            event(
                "placement-changed",
                "PlacementChanged",
                "2014-11-20",
                {
                    "placement": KINSHIP_PLACEMENT,
                    "reason": "Grandmother approved as a connected-person foster carer",
                },
            ),
            visit(
                "placement-visit-2",
                "2014-11-20",
                "placement",
                "Moved Mia to her grandmother's today; seen alone in her new bedroom, excited.",
                alone=True,
                bedroom=True,
            ),
        ),
        batch(
            "2014-11-28T10:15",
            CONFERENCE_ADMIN,
            event(
                "review-conference-2",
                "ConferenceHeld",
                "2014-11-27",
                {
                    "conference_id": "RCPC-2014-0311-2",
                    "kind": "review",
                    "chair": "Margaret Ellison (independent chair)",
                    "attendees": [TOM_SW, JOANNE_DSL, RUTH_SN, CLAIRE_DS, STACEY, LINDA],
                    "decision": "end_plan",
                    "child_participation": "Mia's wishes shared by her social worker",
                },
            ),
            event(
                "cp-plan-ended",
                "ChildProtectionPlanEnded",
                "2014-11-27",
                {
                    "plan_id": "CP-2014-0311",
                    "reason": "Mia is looked after; her safety is managed through her care plan",
                },
            ),
        ),
        batch(
            "2015-01-21T16:45",
            TOM,
            visit(
                "placement-visit-3",
                "2015-01-21",
                "placement",
                "Seen alone at her grandmother's; good contact with Stacey three times a week.",
                alone=True,
                bedroom=True,
            ),
        ),
        batch(
            "2015-03-04T17:05",
            TOM,
            visit(
                "placement-visit-4",
                "2015-03-04",
                "placement",
                "Seen alone. Carl Brisco convicted of assault and given a restraining order.",
                alone=True,
            ),
        ),
        batch(
            "2015-04-13T17:30",
            TOM,
            event(
                "care-ended",
                "PeriodOfCareEnded",
                "2015-04-13",
                {
                    "reason": "Returned home to her mother at a new address; Carl Brisco is "
                    "subject to a restraining order"
                },
            ),
            event(
                "new-address",
                "AddressChanged",
                "2015-04-13",
                {
                    "address": "Flat 3, 28 Cathedral Mews, Barchester (not to be disclosed to "
                    "Carl Brisco)",
                    "postcode": "XB1 3QS",
                },
                restricted=True,
            ),
            event(
                "cin-plan-2015-started",
                "ChildInNeedPlanStarted",
                "2015-04-13",
                {"plan_id": "CIN-2015-022"},
            ),
        ),
    ]


def step_down() -> list[Batch]:
    """2015 to 2016: home again; a child in need review; step-down to early help; closed."""
    return [
        batch(
            "2015-05-14T16:50",
            TOM,
            visit(
                "home-visit-2015",
                "2015-05-14",
                "home",
                "Seen alone in her bedroom at the new flat; home warm and calm.",
                alone=True,
                bedroom=True,
            ),
            voice(
                "voice-2015-drawing",
                "2015-05-14",
                "drawing",
                "It's just us now and it's quiet.",
                "Drew herself, Mummy, Nanny and the cat. Wants to stay at home with Mummy and keep "
                "seeing Nanny after school.",
                alone=True,
            ),
        ),
        batch(
            "2015-06-25T17:00",
            TOM,
            meeting(
                "cin-review-2015",
                "2015-06-25",
                "CINR-2015-022-1",
                "cin_review",
                "Tom Hale",
                [TOM_SW, JOANNE_DSL, RUTH_SN, JO_FS, STACEY],
                decisions=["Step down to early help led by Barchester Family Support in July"],
            ),
        ),
        batch(
            "2015-06-29T12:20",
            TOM,
            minutes(
                "cin-review-2015-minutes",
                "2015-06-29",
                "CINR-2015-022-1",
                "Mia thriving at home and at school; family agree to early help.",
            ),
            circulated(
                "cin-review-2015-circulated",
                "2015-06-29",
                "CINR-2015-022-1",
                [TOM_SW, JOANNE_DSL, RUTH_SN, JO_FS, STACEY],
            ),
        ),
        batch(
            "2015-07-17T15:10",
            MANAGER,
            event(
                "cin-plan-2015-ended",
                "ChildInNeedPlanEnded",
                "2015-07-16",
                {
                    "plan_id": "CIN-2015-022",
                    "reason": "Plan objectives met; stepping down to early help",
                },
            ),
            event(
                "stepped-down",
                "SteppedDownToEarlyHelp",
                "2015-07-16",
                {"lead_agency": FAMILY_SUPPORT, "lead_practitioner": "Jo Mercer"},
            ),
            event(
                "closed-2015",
                "CaseClosed",
                "2015-07-17",
                {
                    "reason_code": "RC7",
                    "agencies_notified": [SCHOOL, COMMUNITY_HEALTH, FAMILY_SUPPORT, POLICE],
                },
            ),
        ),
        batch(
            "2015-07-20T09:45",
            FAMILY_WORKER,
            involvement(
                "family-support-2015-started",
                "2015-07-20",
                FAMILY_SUPPORT,
                "early help lead practitioner",
                "Jo Mercer",
                "01632 960 118",
            ),
        ),
        batch(
            "2016-01-22T14:30",
            FAMILY_WORKER,
            involvement_ended(
                "family-support-2015-ended",
                "2016-01-22",
                FAMILY_SUPPORT,
                "early help lead practitioner",
                "Early help plan completed: Mia settled at school, Stacey working part time.",
            ),
        ),
    ]


def practice_review() -> list[Batch]:
    """2019: a local practice review corrects the school's date and notes a missed bruise."""
    corrected = {
        **SCHOOL_CONCERN,
        "description": "Two oval bruises on the back of Mia's left upper arm, first seen by a "
        "teaching assistant at breakfast club on Friday 9 May and reported to the DSL on Monday "
        "12 May. Mia said she fell over in the garden.",
    }
    return [
        batch(
            "2019-03-14T11:20",
            SCHOOL_DSL_2019,
            event(
                "school-bruising-corrected",
                "EntryCorrected",
                "2019-03-14",
                {
                    "target_event_id": event_id("school-bruising"),
                    "data": corrected,
                    "occurred_at": "2014-05-09",
                    "reason": "Safeguarding log reviewed for the practice review: the bruising "
                    "was first seen on Friday 9 May 2014, not on 12 May",
                },
            ),
        ),
        batch(
            "2019-03-20T15:00",
            REVIEW_LEAD,
            event(
                "supervision-bruise-annotated",
                "EntryAnnotated",
                "2019-03-20",
                {
                    "target_event_id": event_id("supervision-bruise"),
                    "note": "Practice review: this bruise was never followed up, the supervision "
                    "action was not completed, and it was left out of the 20 August share "
                    "with police.",
                },
            ),
        ),
    ]


def story() -> list[Batch]:
    """Every batch of the demo case, in the order it was recorded."""
    chapters = (
        before_birth,
        child_in_need,
        bruising_and_enquiry,
        child_protection,
        looked_after,
        step_down,
        practice_review,
    )
    batches = [b for chapter in chapters for b in chapter()]
    return sorted(batches, key=lambda b: b.recorded_at)


def load_demo(settings: Settings) -> UUID:
    """Load the demo case into the store and return its id; loading it again stores nothing."""
    first, *rest = story()
    clock = SettableClock(first.recorded_at)
    records = CaseRecords(settings, clock)
    try:
        case_id = records.open_case(None, list(first.events), by=first.by).case_id
        for step in rest:
            clock.set(step.recorded_at)
            records.record(case_id, list(step.events), by=step.by)
    finally:
        records.close()
    return case_id
