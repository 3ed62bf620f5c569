"""Example payloads for every catalogue type, as a client would send them (plain JSON data).

"{target}" stands for the id of an earlier event in the same case; tests replace it.
"""

from __future__ import annotations

import copy
from typing import Any

TARGET = "{target}"

_CHILD = {
    "name": "Amy Smith",
    "date_of_birth": "2016-03-14",
    "sex": "F",
    "ethnicity": "WBRI",
}
_DSL = {"name": "Ann Jones", "agency": "school:st-marys-primary", "role": "safeguarding lead"}
_SOCIAL_WORKER = {"name": "Sam Patel", "agency": "csc:kent", "role": "social worker"}
_POLICE = {"name": "DC Lee Brown", "agency": "police:kent"}
_HEALTH = {"name": "Dr Ruth Green", "agency": "health:kent-community-health"}
_MOTHER = {"name": "Kelly Smith", "role": "mother"}
_ACTION = {
    "action_id": "A-1",
    "description": "Refer Amy to the school nurse for a health check",
    "owner": "Ann Jones",
    "due": "2024-06-14",
}
_PLACEMENT = {"type": "foster care", "provider": "Kent Fostering", "postcode": "ME14 1XX"}

VALID_PAYLOADS: dict[str, dict[str, Any]] = {
    "CaseOpened": {"child": _CHILD, "local_authority": "csc:kent"},
    "IdentifierLinked": {"scheme": "nhs_number", "value": "943 476 5919"},
    "PersonDetailsChanged": {
        "name": "Amy Smith-Jones",
        "reason": "Name changed by deed poll",
    },
    "RelationshipRecorded": {
        "person": {"name": "Kelly Smith"},
        "relationship": "mother",
        "lives_with_child": True,
        "parental_responsibility": True,
    },
    "HouseholdChanged": {
        "change": "joined",
        "person": {"name": "Dean Carter"},
        "relationship": "mother's partner",
    },
    "AddressChanged": {"address": "12 Mill Lane, Maidstone", "postcode": "ME15 6AB"},
    "ContactReceived": {
        "contact_id": "C-2024-0193",
        "source_code": "2A",
        "referrer": _DSL,
        "concern": "Amy arrived with bruising to her left upper arm and said her mum's boyfriend "
        "grabbed her.",
        "consent": {"status": "not_sought", "reason": "Seeking consent could put Amy at risk"},
        "immediate_risk": True,
        "channel": "phone",
    },
    "ContactDecisionMade": {
        "contact_id": "C-2024-0193",
        "outcome": "strategy_discussion",
        "rationale": "Injury with a disclosure of physical harm by an adult in the household",
        "urgent": True,
    },
    "ReferralAccepted": {
        "referral_id": "R-2024-0077",
        "source_code": "2A",
        "primary_need": "N1",
        "contact_id": "C-2024-0193",
    },
    "ReferrerInformed": {"contact_id": "C-2024-0193", "channel": "email"},
    "WorkerAllocated": {
        "worker": "Sam Patel",
        "team": "Maidstone Assessment Team",
        "reason": "New referral",
    },
    "AssessmentStarted": {"assessment_id": "CFA-501", "referral_id": "R-2024-0077"},
    "AssessmentCompleted": {
        "assessment_id": "CFA-501",
        "factors": ["2B", "3A", "21"],
        "outcome": "child_in_need",
        "needs_support": True,
        "child_seen": True,
    },
    "AssessmentDelayRecorded": {
        "assessment_id": "CFA-501",
        "reason": "Awaiting the paediatric report requested on 2 May",
    },
    "StrategyDiscussionHeld": {
        "strategy_id": "SD-12",
        "participants": [_SOCIAL_WORKER, _POLICE, _HEALTH],
        "decision": "joint_s47",
        "actions": [_ACTION],
    },
    "Section47Started": {"s47_id": "S47-9", "strategy_id": "SD-12"},
    "Section47Concluded": {
        "s47_id": "S47-9",
        "outcome": "Concerns substantiated; Amy is at continuing risk of physical harm",
        "conference_required": True,
    },
    "ConferenceHeld": {
        "conference_id": "CP-3",
        "kind": "initial",
        "chair": "Jo Wright",
        "attendees": [_SOCIAL_WORKER, _DSL, _POLICE, _MOTHER],
        "decision": "cp_plan",
        "category": "physical",
        "child_participation": "Amy's views were shared by her social worker",
        "dissent": "Mother disagreed with the decision",
    },
    "ChildInNeedPlanStarted": {"plan_id": "CIN-4"},
    "ChildInNeedPlanEnded": {"plan_id": "CIN-4", "reason": "Needs met; family supported by school"},
    "ChildProtectionPlanStarted": {
        "plan_id": "CPP-7",
        "conference_id": "CP-3",
        "category": "physical",
    },
    "ChildProtectionCategoryChanged": {"plan_id": "CPP-7", "category": "multiple"},
    "ChildProtectionPlanEnded": {
        "plan_id": "CPP-7",
        "reason": "Review conference: risk reduced, step down to child in need",
    },
    "PeriodOfCareStarted": {"legal_status": "C2", "placement": _PLACEMENT},
    "LegalStatusChanged": {"legal_status": "E1"},
    "PlacementChanged": {
        "placement": {
            "type": "kinship care",
            "provider": "Maternal grandmother",
            "postcode": "ME16 8QT",
        },
        "reason": "Grandmother approved as a connected person carer",
    },
    "PeriodOfCareEnded": {"reason": "Special guardianship order granted to grandmother"},
    "MissingEpisodeStarted": {
        "episode_id": "M-1",
        "circumstances": "Did not return from school",
        "reported_to_police": True,
    },
    "MissingEpisodeEnded": {
        "episode_id": "M-1",
        "return_interview_offered": True,
        "return_interview_accepted": False,
    },
    "VisitMade": {
        "visit_type": "home",
        "child_seen": True,
        "seen_alone": True,
        "bedroom_seen": True,
        "observations": "Home warm and clean; Amy relaxed with her grandmother",
    },
    "ConcernObserved": {
        "category": "bruising",
        "description": "Three finger-tip bruises on Amy's left upper arm",
        "body_location": "left upper arm",
        "explanation_given": "Amy said she fell off her bike",
        "follow_up_required": True,
    },
    "ConcernFollowedUp": {
        "concern_event_id": TARGET,
        "action": "Discussed with MASH; referral made",
        "outcome": "Strategy discussion arranged",
    },
    "ChildsVoiceRecorded": {
        "method": "spoken",
        "seen_alone": True,
        "words": "I don't like it when Dean shouts",
        "wishes": "To stay living with mum and nan",
    },
    "ChildsVoiceNotObtained": {"reason": "Amy was asleep in hospital at the time of the visit"},
    "MeetingHeld": {
        "meeting_id": "MTG-20",
        "kind": "core_group",
        "chair": "Sam Patel",
        "invited": [_SOCIAL_WORKER, _DSL, _HEALTH, _MOTHER],
        "attended": [_SOCIAL_WORKER, _DSL, _MOTHER],
        "apologies": [_HEALTH],
        "decisions": ["Weekly school check-ins to continue"],
        "actions": [_ACTION],
    },
    "MinutesRecorded": {
        "meeting_id": "MTG-20",
        "summary": "Plan reviewed; school attendance improved to 94%",
    },
    "MinutesCirculated": {
        "meeting_id": "MTG-20",
        "recipients": [_DSL, _HEALTH, _MOTHER],
        "channel": "secure email",
    },
    "ActionCompleted": {"action_id": "A-1", "outcome": "Health check done on 10 June"},
    "SupervisionHeld": {
        "supervisor": "Priya Shah",
        "discussion": "Progress on the plan and the new partner in the household",
        "decisions": ["Request police checks on Dean Carter"],
        "actions": [_ACTION],
    },
    "AgencyInvolvementStarted": {
        "agency": "school:st-marys-primary",
        "role": "education",
        "lead_contact": {"name": "Ann Jones", "contact": "01622 000000"},
    },
    "AgencyInvolvementEnded": {
        "agency": "school:st-marys-primary",
        "role": "education",
        "reason": "Amy moved to secondary school",
    },
    "InformationRequested": {
        "request_id": "IR-5",
        "from_agency": "csc:kent",
        "to_agency": "health:maidstone-gp",
        "question": "Any attendances or injuries recorded in the last 12 months?",
    },
    "InformationRequestAnswered": {
        "request_id": "IR-5",
        "answer": "Two A&E attendances, both for minor injuries",
        "covers_from": "2023-06-01",
        "covers_to": "2024-06-01",
    },
    "InformationRequestDeclined": {
        "request_id": "IR-5",
        "reason": "No consent and no safeguarding ground given",
    },
    "InformationShared": {
        "with": [{"agency": "police:kent"}, {"agency": "health:kent-community-health"}],
        "summary": "Contact and concern history for the strategy discussion",
        "purpose": "Strategy discussion",
        "lawful_basis": "UK GDPR Art 6(1)(e), Art 9(2)(g); DPA 2018 Sch 1 para 18",
        "consent": {"status": "not_sought", "reason": "Would put Amy at risk"},
        "concern_event_ids": [TARGET],
    },
    "CaseNoteRecorded": {"kind": "phone call", "text": "Mum called to rearrange Tuesday's visit"},
    "CaseClosed": {"reason_code": "RC8", "agencies_notified": ["school:st-marys-primary"]},
    "SteppedDownToEarlyHelp": {
        "lead_agency": "school:st-marys-primary",
        "lead_practitioner": "Ann Jones",
    },
    "CaseReopened": {"reason": "New referral from police", "referral_id": "R-2025-0012"},
    "CaseTransferred": {"to_local_authority": "csc:medway"},
    "SignificanceAssessed": {
        "target_event_id": TARGET,
        "significance": "critical",
        "rationale": "Third missed appointment in a month",
    },
    "EntryCorrected": {
        "target_event_id": TARGET,
        "data": {"kind": "phone call", "text": "Mum called to rearrange Thursday's visit"},
        "occurred_at": "2024-05-02",
        "occurred_precision": "day",
        "reason": "Wrong day recorded",
    },
    "AlertAcknowledged": {
        "rule": "repeat-referral",
        "event_ids": [TARGET],
        "note": "Seen; second referral is about a different concern",
    },
    "EntryRetracted": {"target_event_id": TARGET, "reason": "Recorded on the wrong child's case"},
    "EntryAnnotated": {
        "target_event_id": TARGET,
        "note": "Mum later said the bruise was from PE",
    },
}

# For each type: a typo in a closed value (or a wrong type where a type has no closed value), and
# a required field to leave out, both as JSON pointers into the payload.
_BAD_VALUE: dict[str, tuple[str, Any]] = {
    "CaseOpened": ("/child/sex", "female"),
    "IdentifierLinked": ("/scheme", "nhs-number"),
    "PersonDetailsChanged": ("/sex", "X"),
    "RelationshipRecorded": ("/lives_with_child", "sometimes"),
    "HouseholdChanged": ("/change", "joind"),
    "AddressChanged": ("/postcode", 15),
    "ContactReceived": ("/source_code", "11"),
    "ContactDecisionMade": ("/outcome", "referal"),
    "ReferralAccepted": ("/primary_need", "N10"),
    "ReferrerInformed": ("/channel", 42),
    "WorkerAllocated": ("/team", ["Maidstone"]),
    "AssessmentStarted": ("/assessment_id", 501),
    "AssessmentCompleted": ("/outcome", "child-in-need"),
    "AssessmentDelayRecorded": ("/reason", ""),
    "StrategyDiscussionHeld": ("/decision", "s47_joint"),
    "Section47Started": ("/strategy_id", 12),
    "Section47Concluded": ("/conference_required", "perhaps"),
    "ConferenceHeld": ("/category", "physcial"),
    "ChildInNeedPlanStarted": ("/plan_id", 4),
    "ChildInNeedPlanEnded": ("/reason", 4),
    "ChildProtectionPlanStarted": ("/category", "phisical"),
    "ChildProtectionCategoryChanged": ("/category", "sexual abuse"),
    "ChildProtectionPlanEnded": ("/reason", None),
    "PeriodOfCareStarted": ("/placement/postcode", 14),
    "LegalStatusChanged": ("/legal_status", 2),
    "PlacementChanged": ("/placement/type", None),
    "PeriodOfCareEnded": ("/reason", ""),
    "MissingEpisodeStarted": ("/episode_id", 1),
    "MissingEpisodeEnded": ("/return_interview_offered", "offered"),
    "VisitMade": ("/visit_type", "hom"),
    "ConcernObserved": ("/category", "brusing"),
    "ConcernFollowedUp": ("/concern_event_id", "not-a-uuid"),
    "ChildsVoiceRecorded": ("/method", "verbal"),
    "ChildsVoiceNotObtained": ("/reason", 4),
    "MeetingHeld": ("/kind", "core-group"),
    "MinutesRecorded": ("/summary", 1),
    "MinutesCirculated": ("/recipients/0/agency", "scool:st-marys-primary"),
    "ActionCompleted": ("/outcome", 1),
    "SupervisionHeld": ("/actions/0/due", "next week"),
    "AgencyInvolvementStarted": ("/agency", "scool:st-marys-primary"),
    "AgencyInvolvementEnded": ("/agency", "helth:maidstone-gp"),
    "InformationRequested": ("/to_agency", "gp:maidstone"),
    "InformationRequestAnswered": ("/covers_from", "last spring"),
    "InformationRequestDeclined": ("/reason", 3),
    "InformationShared": ("/consent/status", "yes"),
    "CaseNoteRecorded": ("/kind", 5),
    "CaseClosed": ("/reason_code", "RC10"),
    "SteppedDownToEarlyHelp": ("/lead_agency", "earlyhelp:st-marys"),
    "CaseReopened": ("/reason", 1),
    "CaseTransferred": ("/to_local_authority", "school:medway"),
    "SignificanceAssessed": ("/significance", "high"),
    "EntryCorrected": ("/occurred_precision", "week"),
    "AlertAcknowledged": ("/rule", "decision_overdue"),
    "EntryRetracted": ("/target_event_id", "yesterday's entry"),
    "EntryAnnotated": ("/note", 1),
}

_REQUIRED: dict[str, str] = {
    "CaseOpened": "/child/sex",
    "IdentifierLinked": "/value",
    "PersonDetailsChanged": "/name",  # its only detail: the error is the payload's, see below
    "RelationshipRecorded": "/parental_responsibility",
    "HouseholdChanged": "/change",
    "AddressChanged": "/postcode",
    "ContactReceived": "/source_code",
    "ContactDecisionMade": "/outcome",
    "ReferralAccepted": "/source_code",
    "ReferrerInformed": "/channel",
    "WorkerAllocated": "/worker",
    "AssessmentStarted": "/assessment_id",
    "AssessmentCompleted": "/factors",
    "AssessmentDelayRecorded": "/reason",
    "StrategyDiscussionHeld": "/participants",
    "Section47Started": "/strategy_id",
    "Section47Concluded": "/conference_required",
    "ConferenceHeld": "/child_participation",
    "ChildInNeedPlanStarted": "/plan_id",
    "ChildInNeedPlanEnded": "/reason",
    "ChildProtectionPlanStarted": "/conference_id",
    "ChildProtectionCategoryChanged": "/category",
    "ChildProtectionPlanEnded": "/plan_id",
    "PeriodOfCareStarted": "/placement/provider",
    "LegalStatusChanged": "/legal_status",
    "PlacementChanged": "/reason",
    "PeriodOfCareEnded": "/reason",
    "MissingEpisodeStarted": "/episode_id",
    "MissingEpisodeEnded": "/return_interview_offered",
    "VisitMade": "/child_seen",
    "ConcernObserved": "/description",
    "ConcernFollowedUp": "/concern_event_id",
    "ChildsVoiceRecorded": "/words",
    "ChildsVoiceNotObtained": "/reason",
    "MeetingHeld": "/attended",
    "MinutesRecorded": "/summary",
    "MinutesCirculated": "/recipients",
    "ActionCompleted": "/action_id",
    "SupervisionHeld": "/discussion",
    "AgencyInvolvementStarted": "/lead_contact",
    "AgencyInvolvementEnded": "/agency",
    "InformationRequested": "/question",
    "InformationRequestAnswered": "/answer",
    "InformationRequestDeclined": "/request_id",
    "InformationShared": "/with",
    "CaseNoteRecorded": "/text",
    "CaseClosed": "/reason_code",
    "SteppedDownToEarlyHelp": "/lead_practitioner",
    "CaseReopened": "/reason",
    "CaseTransferred": "/to_local_authority",
    "SignificanceAssessed": "/significance",
    "EntryCorrected": "/target_event_id",
    "AlertAcknowledged": "/event_ids",
    "EntryRetracted": "/target_event_id",
    "EntryAnnotated": "/note",
}


# Where the error is reported when the required field is left out, if not at the field itself:
# PersonDetailsChanged has no required field, but must change at least one detail.
_MISSING_AT: dict[str, str] = {"PersonDetailsChanged": ""}


def _steps(pointer: str) -> list[str | int]:
    return [int(p) if p.isdigit() else p for p in pointer.strip("/").split("/")]


def _with(payload: dict[str, Any], pointer: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(payload)
    *path, last = _steps(pointer)
    node: Any = changed
    for step in path:
        node = node[step]
    node[last] = value
    return changed


def _without(payload: dict[str, Any], pointer: str) -> dict[str, Any]:
    changed = copy.deepcopy(payload)
    *path, last = _steps(pointer)
    node: Any = changed
    for step in path:
        node = node[step]
    del node[last]
    return changed


def _invalid(name: str) -> list[tuple[str, dict[str, Any], str]]:
    valid = VALID_PAYLOADS[name]
    bad_at, bad_value = _BAD_VALUE[name]
    missing = _REQUIRED[name]
    return [
        ("bad enum", _with(valid, bad_at, bad_value), bad_at),
        ("unknown field", {**copy.deepcopy(valid), "colour": "blue"}, "/colour"),
        ("missing field", _without(valid, missing), _MISSING_AT.get(name, missing)),
    ]


INVALID_PAYLOADS: dict[str, list[tuple[str, dict[str, Any], str]]] = {
    name: _invalid(name) for name in VALID_PAYLOADS
}
