"""The event catalogue: every type of DOMAIN.md §2, its schema, significance and headline."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID, uuid4

import pytest
import rfc8785
from pydantic import ConfigDict, ValidationError

import domain.event_types as types
from domain.catalogue import EntryType, Payload, PostedBy, Significance, catalogue
from domain.envelope import _plain, canonical
from domain.values import Child, Consent, Person
from tests.examples import INVALID_PAYLOADS, TARGET, VALID_PAYLOADS

ROUTINE, SIGNIFICANT, CRITICAL = (
    Significance.ROUTINE,
    Significance.SIGNIFICANT,
    Significance.CRITICAL,
)

# DOMAIN.md §2, row by row: type → (default significance, who posts).
EXPECTED: dict[str, tuple[Significance, PostedBy]] = {
    "CaseOpened": (SIGNIFICANT, PostedBy.REFERRER),
    "IdentifierLinked": (ROUTINE, PostedBy.ANY),
    "PersonDetailsChanged": (ROUTINE, PostedBy.CSC),
    "RelationshipRecorded": (ROUTINE, PostedBy.ANY),
    "HouseholdChanged": (SIGNIFICANT, PostedBy.ANY),
    "AddressChanged": (ROUTINE, PostedBy.ANY),
    "ContactReceived": (SIGNIFICANT, PostedBy.ANY),
    "ContactDecisionMade": (SIGNIFICANT, PostedBy.CSC),
    "ReferralAccepted": (SIGNIFICANT, PostedBy.CSC),
    "ReferrerInformed": (ROUTINE, PostedBy.CSC),
    "WorkerAllocated": (ROUTINE, PostedBy.CSC),
    "AssessmentStarted": (ROUTINE, PostedBy.CSC),
    "AssessmentCompleted": (SIGNIFICANT, PostedBy.CSC),
    "AssessmentDelayRecorded": (ROUTINE, PostedBy.CSC),
    "StrategyDiscussionHeld": (CRITICAL, PostedBy.CSC),
    "Section47Started": (CRITICAL, PostedBy.CSC),
    "Section47Concluded": (CRITICAL, PostedBy.CSC),
    "ConferenceHeld": (CRITICAL, PostedBy.CSC),
    "ChildInNeedPlanStarted": (SIGNIFICANT, PostedBy.CSC),
    "ChildInNeedPlanEnded": (SIGNIFICANT, PostedBy.CSC),
    "ChildProtectionPlanStarted": (CRITICAL, PostedBy.CSC),
    "ChildProtectionCategoryChanged": (SIGNIFICANT, PostedBy.CSC),
    "ChildProtectionPlanEnded": (CRITICAL, PostedBy.CSC),
    "PeriodOfCareStarted": (CRITICAL, PostedBy.CSC),
    "LegalStatusChanged": (SIGNIFICANT, PostedBy.CSC),
    "PlacementChanged": (SIGNIFICANT, PostedBy.CSC),
    "PeriodOfCareEnded": (CRITICAL, PostedBy.CSC),
    "MissingEpisodeStarted": (SIGNIFICANT, PostedBy.ANY),
    "MissingEpisodeEnded": (SIGNIFICANT, PostedBy.ANY),
    "VisitMade": (ROUTINE, PostedBy.ANY),
    "ConcernObserved": (SIGNIFICANT, PostedBy.ANY),
    "ConcernFollowedUp": (ROUTINE, PostedBy.ANY),
    "ChildsVoiceRecorded": (SIGNIFICANT, PostedBy.ANY),
    "ChildsVoiceNotObtained": (SIGNIFICANT, PostedBy.ANY),
    "MeetingHeld": (SIGNIFICANT, PostedBy.CSC),
    "MinutesRecorded": (ROUTINE, PostedBy.CSC),
    "MinutesCirculated": (ROUTINE, PostedBy.CSC),
    "ActionCompleted": (ROUTINE, PostedBy.ANY),
    "SupervisionHeld": (SIGNIFICANT, PostedBy.CSC),
    "AgencyInvolvementStarted": (ROUTINE, PostedBy.SELF_OR_CSC),
    "AgencyInvolvementEnded": (ROUTINE, PostedBy.SELF_OR_CSC),
    "InformationRequested": (ROUTINE, PostedBy.ANY),
    "InformationRequestAnswered": (ROUTINE, PostedBy.ANY),
    "InformationRequestDeclined": (SIGNIFICANT, PostedBy.ANY),
    "InformationShared": (SIGNIFICANT, PostedBy.ANY),
    "CaseNoteRecorded": (ROUTINE, PostedBy.ANY),
    "CaseClosed": (CRITICAL, PostedBy.CSC),
    "SteppedDownToEarlyHelp": (SIGNIFICANT, PostedBy.CSC),
    "CaseReopened": (CRITICAL, PostedBy.CSC),
    "CaseTransferred": (CRITICAL, PostedBy.CSC),
    "SignificanceAssessed": (ROUTINE, PostedBy.CSC),
    "EntryCorrected": (ROUTINE, PostedBy.TARGET_OR_CSC),
    "AlertAcknowledged": (ROUTINE, PostedBy.CSC_MANAGER),
    "EntryRetracted": (SIGNIFICANT, PostedBy.TARGET_OR_CSC),
    "EntryAnnotated": (ROUTINE, PostedBy.ANY),
}
TARGETING = {"SignificanceAssessed", "EntryCorrected", "EntryRetracted", "EntryAnnotated"}


def with_target(value: Any) -> Any:
    """An example payload with every "{target}" placeholder replaced by a fresh event id."""
    if value == TARGET:
        return str(uuid4())
    if isinstance(value, dict):
        return {k: with_target(v) for k, v in value.items()}
    if isinstance(value, list):
        return [with_target(v) for v in value]
    return value


def pointer(loc: tuple[int | str, ...]) -> str:
    return "".join(f"/{step}" for step in loc)


INVALID_CASES = [
    pytest.param(name, payload, at, id=f"{name}-{label}")
    for name, cases in INVALID_PAYLOADS.items()
    for label, payload, at in cases
]


# --- registration ------------------------------------------------------------------------------


def test_catalogue_when_event_types_imported_then_holds_exactly_the_domain_types() -> None:
    assert catalogue.names() == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_entry_when_registered_then_has_the_tables_significance_and_poster(name: str) -> None:
    entry = catalogue[name]

    assert (entry.significance, entry.posted_by) == EXPECTED[name]
    assert entry.payload.__name__ == name
    assert entry.payload.__doc__
    assert entry.targets_entry == (name in TARGETING)


def test_examples_when_listed_then_cover_every_type_once() -> None:
    assert sorted(VALID_PAYLOADS) == sorted(EXPECTED)
    assert sorted(INVALID_PAYLOADS) == sorted(EXPECTED)
    assert all(len(cases) == 3 for cases in INVALID_PAYLOADS.values())


# --- validation and headlines ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(VALID_PAYLOADS))
def test_payload_when_valid_then_validates_and_has_a_headline(name: str) -> None:
    # Given
    data = with_target(VALID_PAYLOADS[name])
    entry = catalogue[name]

    # When
    payload = entry.payload.model_validate(data)

    # Then
    assert payload.headline().strip()
    assert entry.headline(data) == payload.headline()
    assert entry.payload.model_validate(payload.model_dump(mode="json", by_alias=True)) == payload


@pytest.mark.parametrize(("name", "data", "at"), INVALID_CASES)
def test_payload_when_invalid_then_error_points_at_the_field(
    name: str, data: dict[str, Any], at: str
) -> None:
    # When
    with pytest.raises(ValidationError) as raised:
        catalogue[name].payload.model_validate(with_target(data))

    # Then
    assert at in [pointer(error["loc"]) for error in raised.value.errors()]


# Optional fields left out; a few types need a different value for their core to stand alone.
_STANDALONE = {
    "ConferenceHeld": {"decision": "no_plan"},
    "PersonDetailsChanged": {"sex": "U"},
}


@pytest.mark.parametrize("name", sorted(VALID_PAYLOADS))
def test_headline_when_optional_fields_absent_then_still_reads(name: str) -> None:
    # Given
    model = catalogue[name].payload
    required = {f.alias or n for n, f in model.model_fields.items() if f.is_required()}
    data = {k: v for k, v in with_target(VALID_PAYLOADS[name]).items() if k in required}
    data.update(_STANDALONE.get(name, {}))

    # When
    headline = model.model_validate(data).headline()

    # Then
    assert headline.strip()
    assert "None" not in headline


@pytest.mark.parametrize(
    ("name", "changes", "expected"),
    [
        ("ConcernObserved", {}, "Bruising reported: left upper arm"),
        (
            "StrategyDiscussionHeld",
            {"decision": "s47"},
            "Strategy discussion: section 47 enquiry (3 agencies)",
        ),
        ("VisitMade", {"bedroom_seen": False}, "Home visit: child seen alone"),
        (
            "VisitMade",
            {"child_seen": False, "seen_alone": False, "bedroom_seen": False},
            "Home visit: child not seen",
        ),
        (
            "ConferenceHeld",
            {"category": "neglect", "dissent": None},
            "Child protection conference (initial): child protection plan, neglect",
        ),
        ("MinutesCirculated", {}, "Minutes circulated to 3 recipients"),
        ("CaseOpened", {}, "Case opened: Amy Smith, born 14 Mar 2016"),
        ("CaseClosed", {}, "Case closed: closed after assessment, no further action (RC8)"),
    ],
)
def test_headline_when_rendered_then_is_a_brief_factual_line(
    name: str, changes: dict[str, Any], expected: str
) -> None:
    # Given
    data = with_target({**VALID_PAYLOADS[name], **changes})

    # When
    headline = catalogue[name].headline(data)

    # Then
    assert headline == expected


# --- significance that depends on the payload ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "changes", "expected"),
    [
        ("VisitMade", {"child_seen": False, "seen_alone": False}, SIGNIFICANT),
        ("VisitMade", {"child_seen": True}, ROUTINE),
        ("ConcernObserved", {"category": "bruising"}, CRITICAL),
        ("ConcernObserved", {"category": "injury"}, CRITICAL),
        ("ConcernObserved", {"category": "disclosure"}, CRITICAL),
        ("ConcernObserved", {"category": "neglect"}, SIGNIFICANT),
        ("ConcernObserved", {"category": "domestic_abuse"}, SIGNIFICANT),
    ],
)
def test_significance_when_payload_says_more_then_raised_from_the_default(
    name: str, changes: dict[str, Any], expected: Significance
) -> None:
    # Given
    entry = catalogue[name]
    stored = {**VALID_PAYLOADS[name], **changes}

    # When
    from_stored_dict = entry.default_significance(stored)

    # Then
    assert from_stored_dict == expected


def test_significance_when_type_has_no_rule_then_is_the_default() -> None:
    assert catalogue["CaseClosed"].default_significance(VALID_PAYLOADS["CaseClosed"]) == CRITICAL


# --- schema versions ---------------------------------------------------------------------------


def test_case_note_when_stored_as_v1_then_upcast_to_kind_and_text() -> None:
    # Given
    entry = catalogue["CaseNoteRecorded"]

    # When
    upcast = entry.upcast({"note": "x"}, 1)

    # Then
    assert entry.schema_version == 2
    assert upcast == {"kind": "note", "text": "x"}
    assert entry.payload.model_validate(upcast).headline() == "Case note (note): x"


def test_case_note_when_stored_as_current_version_then_unchanged() -> None:
    data = VALID_PAYLOADS["CaseNoteRecorded"]

    assert catalogue["CaseNoteRecorded"].upcast(dict(data), 2) == data


# --- JSON names that are not Python names ------------------------------------------------------


def test_information_shared_when_dumped_then_uses_with() -> None:
    # Given
    data = with_target(VALID_PAYLOADS["InformationShared"])
    payload = types.InformationShared.model_validate(data)

    # When
    dumped = payload.model_dump(mode="json", by_alias=True)

    # Then
    assert dumped["with"] == data["with"]
    assert "with_" not in dumped
    assert "with" in payload.model_dump()
    assert "with" in types.InformationShared.model_json_schema()["properties"]


def test_information_shared_when_built_in_python_then_accepts_with_underscore() -> None:
    shared = with_target(VALID_PAYLOADS["InformationShared"])
    data = {k: v for k, v in shared.items() if k != "with"}

    payload = types.InformationShared(with_=[{"agency": "police:kent"}], **data)

    assert payload.with_[0].agency == "police:kent"


def test_significance_assessed_when_dumped_then_uses_significance() -> None:
    payload = types.SignificanceAssessed.model_validate(
        with_target(VALID_PAYLOADS["SignificanceAssessed"])
    )

    dumped = payload.model_dump(mode="json", by_alias=True)

    assert dumped["significance"] == "critical"


# --- rules inside a payload --------------------------------------------------------------------


@pytest.mark.parametrize(
    "child",
    [
        {"name": "Amy", "sex": "F"},
        {
            "name": "Amy",
            "sex": "F",
            "date_of_birth": "2016-03-14",
            "expected_date_of_birth": "2016-03-20",
        },
        {"name": "Baby", "sex": "U", "date_of_birth": "2016-03-14", "unborn": True},
    ],
    ids=["no birth date", "both dates", "unborn with a birth date"],
)
def test_child_when_birth_dates_contradict_then_rejected(child: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Child.model_validate(child)


def test_child_when_unborn_with_expected_date_then_accepted() -> None:
    child = Child.model_validate(
        {"name": "Baby Smith", "sex": "U", "expected_date_of_birth": "2026-09-01", "unborn": True}
    )

    assert child.unborn


def test_consent_when_not_given_without_reason_then_rejected() -> None:
    with pytest.raises(ValidationError):
        Consent.model_validate({"status": "refused"})
    assert Consent.model_validate({"status": "given"}).reason is None


def test_person_when_neither_agency_nor_role_then_rejected() -> None:
    with pytest.raises(ValidationError):
        Person.model_validate({"name": "Kelly Smith"})


def test_conference_when_plan_without_category_then_rejected() -> None:
    data = {k: v for k, v in VALID_PAYLOADS["ConferenceHeld"].items() if k != "category"}

    with pytest.raises(ValidationError):
        types.ConferenceHeld.model_validate(data)


def test_case_opened_when_local_authority_not_csc_then_error_at_local_authority() -> None:
    data = {**VALID_PAYLOADS["CaseOpened"], "local_authority": "police:kent"}

    with pytest.raises(ValidationError) as raised:
        types.CaseOpened.model_validate(data)

    assert [e["loc"] for e in raised.value.errors()] == [("local_authority",)]


def test_visit_when_not_seen_but_seen_alone_then_rejected() -> None:
    data = {**VALID_PAYLOADS["VisitMade"], "child_seen": False, "seen_alone": True}

    with pytest.raises(ValidationError):
        types.VisitMade.model_validate(data)


def test_information_answer_when_period_reversed_then_rejected() -> None:
    data = {**VALID_PAYLOADS["InformationRequestAnswered"], "covers_from": "2025-01-01"}

    with pytest.raises(ValidationError):
        types.InformationRequestAnswered.model_validate(data)


def test_entry_corrected_when_valid_then_data_is_a_valid_case_note() -> None:
    data = VALID_PAYLOADS["EntryCorrected"]["data"]

    assert catalogue["CaseNoteRecorded"].payload.model_validate(data).headline()


def test_payload_when_required_text_blank_then_rejected() -> None:
    data = {**VALID_PAYLOADS["CaseNoteRecorded"], "text": "   "}

    with pytest.raises(ValidationError):
        types.CaseNoteRecorded.model_validate(data)


# --- plain JSON stored forms ---------------------------------------------------------------


class _Leaf(Payload):
    name: str
    count: int
    flag: bool
    when: date
    ref: UUID
    kind: Literal["a", "b"] | None = None


class _Tree(Payload):
    leaf: _Leaf
    leaves: list[_Leaf]
    children: list[_Tree] = []
    level: Significance = Significance.ROUTINE


class _Score(Payload):
    score: float


class _Amount(Payload):
    amount: Decimal  # written as a string in the stored form


class _Free(Payload):
    document: dict[str, Any]


class _Labels(Payload):
    labels: dict[str, str]


class _Anything(Payload):
    value: Any


class _Pair(Payload):
    pair: tuple[str, int]


class _Ratio(Payload):
    ratio: Literal[0.5, 1]


class _Open(Payload):
    model_config = ConfigDict(extra="allow")
    name: str


def _kind(payload: type[Payload]) -> EntryType:
    return EntryType(payload.__name__, payload, ROUTINE, PostedBy.ANY)


@pytest.mark.parametrize("payload", [_Leaf, _Tree, _Amount], ids=lambda p: p.__name__)
def test_plain_json_when_strings_integers_booleans_dates_ids_and_models_then_true(
    payload: type[Payload],
) -> None:
    assert _kind(payload).plain_json


@pytest.mark.parametrize(
    "payload",
    [_Score, _Free, _Labels, _Anything, _Pair, _Ratio, _Open],
    ids=lambda p: p.__name__,
)
def test_plain_json_when_a_number_or_a_free_form_value_then_false(payload: type[Payload]) -> None:
    # A float (JCS writes numbers its own way), an object with client keys (which
    # may sort otherwise), a value of any type: only the walk can vouch for these.
    assert not _kind(payload).plain_json


def test_plain_json_when_catalogue_then_every_type_but_the_correction_holds_plain_json() -> None:
    # The correction carries its replacement payload as a free-form object until validated.
    assert [k.name for k in catalogue if not k.plain_json] == ["EntryCorrected"]


@pytest.mark.parametrize("name", sorted(n for n in VALID_PAYLOADS if catalogue[n].plain_json))
def test_plain_json_when_example_validated_then_its_stored_form_walks_plain(name: str) -> None:
    # Given the example payload of a type vouched plain, validated and dumped as the API does
    kind = catalogue[name]
    data = kind.payload.model_validate(with_target(VALID_PAYLOADS[name])).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )

    # Then the walk the vouching spares agrees, and so does the reference canonicaliser
    assert _plain(data)
    assert canonical(data, plain=True) == bytes(rfc8785.dumps(data))
