"""Another agency's restricted entries never reach a partner: not in the state, not through
another entry's action, annotations or reassessment; and a partner cannot borrow another
agency's name as an entry's author."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.support import append, event, payload, school_referred_case

Headers = dict[str, str]
Token = Callable[..., Headers]
SCHOOL = "school:st-marys-primary"
RESTRICTED = {"sensitivity": "restricted"}


def _school_case(client: TestClient, csc: Headers) -> str:
    return school_referred_case(client, csc, SCHOOL)


def test_state_when_csc_details_restricted_then_partner_sees_none_of_them(
    client: TestClient, token: Token
) -> None:
    # Given restricted CSC entries carrying a placement, a new name, a worker and an identifier
    csc, school = token(), token(agency=SCHOOL, sub="dsl")
    case_id = _school_case(client, csc)
    placement = {"type": "foster care", "provider": "P-SECRET", "postcode": "ZZ9 9ZZ"}
    secret_data = {
        "PeriodOfCareStarted": {"placement": placement},
        "PersonDetailsChanged": {"name": "NAME-SECRET"},
        "WorkerAllocated": {"worker": "WORKER-SECRET"},
        "IdentifierLinked": {"value": "ID-SECRET"},
        "ConcernObserved": {"description": "CONCERN-SECRET"},
    }
    restricted = [
        event(kind, f"2026-10-{7 + i:02d}", data=payload(kind, **changes), **RESTRICTED)
        for i, (kind, changes) in enumerate(secret_data.items())
    ]
    posted = append(client, csc, case_id, *restricted)
    assert posted.status_code == 201, posted.text

    # When the school and CSC read the state
    seen_by_school = client.get(f"/cases/{case_id}", headers=school)
    seen_by_csc = client.get(f"/cases/{case_id}", headers=csc)

    # Then the school learns that the child is looked after, but none of the restricted details
    secrets = ("P-SECRET", "ZZ9 9ZZ", "NAME-SECRET", "WORKER-SECRET", "ID-SECRET", "CONCERN-SECRET")
    assert seen_by_school.json()["plan"] == "looked_after"
    assert [s for s in secrets if s in seen_by_school.text] == []
    assert (
        seen_by_school.json()["allocated_worker"]
        == "A restricted entry exists — ask the allocated worker"
    )
    # And CSC sees everything
    assert [s for s in secrets if s not in seen_by_csc.text] == []


def test_chronology_when_csc_restricted_meta_on_partner_entry_then_withheld(
    client: TestClient, token: Token
) -> None:
    # Given the school's own note, annotated and reassessed by CSC in restricted entries
    csc, school = token(), token(agency=SCHOOL, sub="dsl")
    case_id = _school_case(client, csc)
    note = event("CaseNoteRecorded", "2026-10-11")
    assert append(client, school, case_id, note).status_code == 201
    annotated = payload("EntryAnnotated", note["id"], note="NOTE-SECRET")
    assessed = payload("SignificanceAssessed", note["id"], rationale="RATIONALE-SECRET")
    append(
        client,
        csc,
        case_id,
        event("EntryAnnotated", "2026-10-12", data=annotated, **RESTRICTED),
        event("SignificanceAssessed", "2026-10-12", data=assessed, **RESTRICTED),
    )

    # When the school reads its chronology
    response = client.get(
        f"/cases/{case_id}/chronology", headers=school, params={"min_significance": "routine"}
    )

    # Then its note is there, reassessed, but neither the annotation nor the reassessment's
    # level or rationale is: the note keeps its own significance
    line = next(e for e in response.json()["entries"] if e["event_id"] == note["id"])
    assert line["annotations"] == []
    assert line["significance"] == "routine"
    assessment = line["significance_assessment"]
    assert assessment["rationale"].startswith("A restricted entry exists")
    assert assessment["significance"].startswith("A restricted entry exists")
    assert "NOTE-SECRET" not in response.text
    assert "RATIONALE-SECRET" not in response.text


def test_append_when_partner_names_another_agency_as_author_then_403(
    client: TestClient, token: Token
) -> None:
    # Given a case the school is involved in
    csc, school = token(), token(agency=SCHOOL, sub="dsl")
    case_id = _school_case(client, csc)
    forged = event(
        "CaseNoteRecorded", "2026-10-14", author={"name": "Sam", "agency": "csc:barsetshire"}
    )
    own = event("CaseNoteRecorded", "2026-10-14", author={"name": "Mrs Jones", "agency": SCHOOL})
    typed_in = event(
        "CaseNoteRecorded", "2026-10-14", author={"name": "Mrs Jones", "agency": SCHOOL}
    )

    # When the school posts a note attributed to CSC, and one attributed to itself;
    # and CSC types in a note the school wrote
    refused = append(client, school, case_id, forged)
    accepted = append(client, school, case_id, own)
    by_owner = append(client, csc, case_id, typed_in)

    # Then only the attribution to another agency by a partner is refused
    assert refused.status_code == 403
    assert "cannot name csc:barsetshire as its author" in refused.json()["detail"]
    assert accepted.status_code == 201
    assert by_owner.status_code == 201
