"""Edges of the access policy: claims that do not stretch, referrals that name only oneself,
replays that reveal nothing, placeholders that say nothing, ownership that follows the record."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from service.clock import SettableClock
from tests.support import LOCAL_AUTHORITY, append, event, open_case, payload, school_referred_case

Headers = dict[str, str]
Token = Callable[..., Headers]
SCHOOL = "school:st-marys-primary"
RESTRICTED = {"sensitivity": "restricted"}


def _school_case(client: TestClient, csc: Headers) -> str:
    return school_referred_case(client, csc, SCHOOL)


def test_reviewer_when_case_not_in_claim_then_404_whatever_its_agency(
    client: TestClient, token: Token
) -> None:
    # Given a case, and reviewer-only tokens of the owning authority and of an involved partner
    case_id = _school_case(client, token())
    owner_reviewer = token(roles=("reviewer",), sub="r1", cases=[str(uuid.uuid4())])
    partner_reviewer = token(agency=SCHOOL, roles=("reviewer",), sub="r2", cases=[])

    # When they read it
    # Then their agency gives them nothing: a reviewer reads the cases its token names
    assert client.get(f"/cases/{case_id}", headers=owner_reviewer).status_code == 404
    assert client.get(f"/cases/{case_id}", headers=partner_reviewer).status_code == 404


def test_reviewer_with_a_role_that_reads_no_case_when_reading_then_only_its_named_cases(
    client: TestClient, token: Token
) -> None:
    # Given a case of the owning authority, and tokens of that authority pairing a reviewer's
    # claim to another case with a role that reads no case's views (admin, integrator)
    case_id = _school_case(client, token())
    other = [str(uuid.uuid4())]
    head = client.app.state.records.recorder.max_notification_id()  # type: ignore[attr-defined]
    for roles in (("reviewer", "admin"), ("reviewer", "integrator")):
        headers = token(roles=roles, sub="-".join(roles), cases=other)

        # When it reads the case's views, the case list, the alerts, caseloads and the feed
        views = {
            path: client.get(path.format(case_id=case_id), headers=headers).status_code
            for path in (
                "/cases/{case_id}",
                "/cases/{case_id}/chronology",
                "/cases/{case_id}/involvement",
                "/cases/{case_id}/alerts",
                "/cases/{case_id}/audit",
                "/cases/{case_id}/verify",
            )
        }
        waited = {**headers, "X-Min-Position": str(head)}
        loads = client.get("/caseloads", headers=waited).json()

        # Then the reviewer's claim reads only the cases it names, and the other role lends it
        # no case its agency owns: each role grants its own reads, never another's
        assert set(views.values()) == {404}, (roles, views)
        assert sum(t["open_cases"] for t in loads["teams"]) == 0, roles
        if "admin" in roles:  # (an integrator reads the list and the feed of its agency)
            assert client.get("/cases", headers=waited).json()["cases"] == [], roles
            assert client.get("/alerts", headers=waited).json()["alerts"] == [], roles
            assert client.get("/feed", headers=headers).json()["events"] == [], roles


def test_reviewer_when_claim_names_case_in_upper_case_then_reads_it_everywhere(
    client: TestClient, token: Token
) -> None:
    # Given a reviewer whose token names a case in upper case
    case_id = _school_case(client, token())
    reviewer = token(roles=("reviewer",), sub="r1", cases=[case_id.upper()])

    # When it reads the case, its chronology and the case list
    state = client.get(f"/cases/{case_id}", headers=reviewer)
    chronology = client.get(f"/cases/{case_id}/chronology", headers=reviewer)
    head = client.app.state.records.recorder.max_notification_id()  # type: ignore[attr-defined]
    listed = client.get("/cases", headers={**reviewer, "X-Min-Position": str(head)})

    # Then the claim names that case wherever it is asked about
    assert (state.status_code, chronology.status_code) == (200, 200)
    assert [c["case_id"] for c in listed.json()["cases"]] == [case_id]


def test_contact_when_partner_names_another_referrer_then_403(
    client: TestClient, token: Token
) -> None:
    # Given a case the school is involved in
    case_id = _school_case(client, token())
    school = token(agency=SCHOOL, sub="dsl")
    other = payload("ContactReceived", referrer={"name": "X", "agency": "vcs:anyone", "role": "r"})

    # When the school posts a contact naming another agency as the referrer
    response = append(client, school, case_id, event("ContactReceived", "2026-10-05", data=other))

    # Then it is refused, and that agency gains no access
    assert response.status_code == 403
    assert (
        client.get(f"/cases/{case_id}", headers=token(agency="vcs:anyone", sub="v")).status_code
        == 404
    )


def test_replay_when_another_agency_resends_an_id_then_409_whatever_the_content(
    client: TestClient, token: Token
) -> None:
    # Given a restricted CSC note whose id the school can see on its placeholder
    csc = token()
    case_id = _school_case(client, csc)
    note = event("CaseNoteRecorded", "2026-10-05", **RESTRICTED)
    assert append(client, csc, case_id, note).status_code == 201

    # When the school resends that id with exactly the right content, and with a wrong guess
    school = token(agency=SCHOOL, sub="dsl")
    right = append(client, school, case_id, note)
    wrong = append(client, school, case_id, {**note, "data": {"kind": "x", "text": "guess"}})

    # Then both answers are the same refusal: nothing confirms a guess
    assert (right.status_code, wrong.status_code) == (409, 409)
    assert right.json()["detail"] == wrong.json()["detail"]


def test_replay_when_the_batch_ended_the_partners_access_then_still_the_original_results(
    client: TestClient, token: Token
) -> None:
    # Given a school that opened a case by its referral of 2020, which no longer involves it
    school = token(agency=SCHOOL, sub="dsl")
    referral = payload(
        "ContactReceived", referrer={"name": "Mrs Jones", "agency": SCHOOL, "role": "DSL"}
    )
    batch = {
        "events": [
            event("CaseOpened", "2020-01-06"),
            event("ContactReceived", "2020-01-06", data=referral),
        ]
    }
    first = client.post("/cases", json=batch, headers=school)
    assert first.status_code == 201, first.text
    case_id = first.json()["case_id"]
    assert client.get(f"/cases/{case_id}", headers=school).status_code == 404

    # When it resends the batch (its client never heard the answer)
    again = client.post("/cases", json=batch, headers=school)

    # Then it is a replay: the original results, not a case it cannot find
    assert again.status_code == 200, again.text
    assert again.json()["events"] == [{**e, "replayed": True} for e in first.json()["events"]]

    # And another agency resending the same batch is refused as before
    police = token(agency="police:kent", sub="pc")
    assert client.post("/cases", json=batch, headers=police).status_code in (403, 404)


def _school_opened_case(
    client: TestClient, school: Headers
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A case the school opened by its referral of 1 October 2026 (its only involvement): the
    case, its CaseOpened (the school's own entry) and the referral."""
    referral = event(
        "ContactReceived",
        "2026-10-01",
        data=payload(
            "ContactReceived", referrer={"name": "Mrs Jones", "agency": SCHOOL, "role": "DSL"}
        ),
    )
    opened = event("CaseOpened", "2026-10-01")
    response = client.post("/cases", json={"events": [opened, referral]}, headers=school)
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"]), opened, referral


def _opened_by_school_referral(client: TestClient, school: Headers) -> tuple[str, dict[str, Any]]:
    """A case the school opened by its referral, and the school's retraction of that referral,
    not yet posted."""
    case_id, _, referral = _school_opened_case(client, school)
    retraction = event(
        "EntryRetracted",
        "2026-10-02",
        data=payload("EntryRetracted", target_event_id=referral["id"]),
    )
    return case_id, retraction


def test_replay_when_a_retraction_ended_the_partners_access_then_still_the_original_results(
    client: TestClient, token: Token
) -> None:
    # Given a case a school opened by its referral, which it then retracts: its only involvement
    school = token(agency=SCHOOL, sub="dsl")
    case_id, retraction = _opened_by_school_referral(client, school)
    first = append(client, school, case_id, retraction)
    assert first.status_code == 201, first.text
    assert client.get(f"/cases/{case_id}", headers=school).status_code == 404

    # When it resends that batch, and then a batch it has not sent before
    again = append(client, school, case_id, retraction)
    new = append(client, school, case_id, event("CaseNoteRecorded", "2026-10-02"))

    # Then the resend is a replay, and the new batch is refused: the case is no longer its own
    assert again.status_code == 200, again.text
    assert [e["replayed"] for e in again.json()["events"]] == [True]
    assert new.status_code == 404


def test_replay_when_another_worker_stored_the_batch_that_ended_access_then_original_results(
    client: TestClient, token: Token, start_app: Callable[..., TestClient]
) -> None:
    # Given a case a school opened by its referral, read by a second worker of the service
    school = token(agency=SCHOOL, sub="dsl")
    case_id, retraction = _opened_by_school_referral(client, school)
    other_worker = start_app()
    assert other_worker.get(f"/cases/{case_id}", headers=school).status_code == 200

    # When the first worker stores the school's retraction of its referral, and the school's
    # resend reaches the second worker, which has the case as it was before
    first = append(client, school, case_id, retraction)
    again = append(other_worker, school, case_id, retraction)

    # Then the resend is its replay there too
    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert [e["replayed"] for e in again.json()["events"]] == [True]


def test_placeholder_when_restricted_concern_then_type_default_significance_and_writer_agency(
    client: TestClient, token: Token
) -> None:
    # Given restricted CSC concerns of bruising (critical) and neglect (significant)
    csc = token()
    case_id = _school_case(client, csc)
    bruising = event("ConcernObserved", "2026-10-05", data=payload("ConcernObserved"), **RESTRICTED)
    neglect = event(
        "ConcernObserved",
        "2026-10-06",
        data=payload("ConcernObserved", category="neglect"),
        **RESTRICTED,
    )
    append(client, csc, case_id, bruising, neglect)

    # When the school reads the chronology
    entries = client.get(
        f"/cases/{case_id}/chronology", headers=token(agency=SCHOOL, sub="d")
    ).json()["entries"]

    # Then both placeholders carry the type's default significance and the writer's agency
    lines = {e["event_id"]: e for e in entries}
    assert {lines[bruising["id"]]["significance"], lines[neglect["id"]]["significance"]} == {
        "significant"
    }
    assert lines[bruising["id"]]["agency"] == LOCAL_AUTHORITY


def test_correction_when_restricted_then_partner_sees_a_placeholder_not_the_correction(
    client: TestClient, token: Token
) -> None:
    # Given a normal CSC concern, then a restricted correction of its description
    csc = token()
    case_id = _school_case(client, csc)
    concern = event("ConcernObserved", "2026-10-05")
    append(client, csc, case_id, concern)
    corrected = payload("ConcernObserved", description="SECRET-CORRECTED")
    correction = payload("EntryCorrected", concern["id"], data=corrected)
    append(
        client, csc, case_id, event("EntryCorrected", "2026-10-06", data=correction, **RESTRICTED)
    )

    # When the school reads the state and the chronology
    school = token(agency=SCHOOL, sub="dsl")
    state = client.get(f"/cases/{case_id}", headers=school)
    chronology = client.get(f"/cases/{case_id}/chronology", headers=school)

    # Then the corrected text reaches it nowhere
    assert "SECRET-CORRECTED" not in state.text
    assert "SECRET-CORRECTED" not in chronology.text


def test_correction_when_restricted_later_then_partner_asking_known_at_before_it_sees_placeholder(
    client: TestClient, token: Token, clock: SettableClock
) -> None:
    # Given a normal CSC concern giving a refuge's address, later corrected in a restricted
    # correction that takes the address out
    csc = token()
    clock.set(datetime(2026, 10, 5, 12, tzinfo=UTC))
    case_id = _school_case(client, csc)
    shown = payload("ConcernObserved", category="other", description="At the refuge, 4 Elm Road")
    concern = event("ConcernObserved", "2026-10-05", data=shown)
    append(client, csc, case_id, concern)
    corrected = payload("ConcernObserved", category="other", description="At a refuge")
    correction = payload("EntryCorrected", concern["id"], data=corrected)
    clock.set(datetime(2026, 10, 20, 12, tzinfo=UTC))
    append(
        client, csc, case_id, event("EntryCorrected", "2026-10-20", data=correction, **RESTRICTED)
    )

    # When the school asks what the record said before the correction
    school = token(agency=SCHOOL, sub="dsl")
    before = {"known_at": "2026-10-10", "min_significance": "routine"}
    chronology = client.get(f"/cases/{case_id}/chronology", headers=school, params=before)
    csv_export = client.get(
        f"/cases/{case_id}/chronology", headers=school, params={**before, "format": "csv"}
    )
    state = client.get(f"/cases/{case_id}", headers=school, params=before)

    # Then the entry is the placeholder there too, as in its state: restriction is judged now
    assert chronology.status_code == state.status_code == 200
    (line,) = [e for e in chronology.json()["entries"] if e["event_id"] == concern["id"]]
    assert line["restricted"] is True
    for response in (chronology, csv_export, state):
        assert "Elm Road" not in response.text


def test_owner_when_case_opening_corrected_then_access_follows_the_record(
    client: TestClient, token: Token
) -> None:
    # Given a case opened for Barsetshire, whose opening is corrected to Wessex
    csc = token()
    case_id, opened = open_case(client, csc)
    moved = {**opened["data"], "local_authority": "csc:wessex"}
    correction = payload("EntryCorrected", opened["id"], data=moved)
    assert append(client, csc, case_id, event("EntryCorrected", data=correction)).status_code == 201

    # When each authority reads it
    wessex = client.get(f"/cases/{case_id}", headers=token(agency="csc:wessex", sub="w"))
    barsetshire = client.get(f"/cases/{case_id}", headers=csc)

    # Then the corrected owner reads it, and the other no longer does
    assert wessex.status_code == 200
    assert barsetshire.status_code == 404


def test_owner_when_referrer_corrects_the_opening_to_another_authority_then_403(
    client: TestClient, token: Token
) -> None:
    # Given a case a school opened by referral, owned by Barsetshire
    school = token(agency=SCHOOL, sub="dsl")
    case_id, opened, _ = _school_opened_case(client, school)

    # When the school corrects its own CaseOpened to move the case to its own agency, or to
    # another authority, and also fixes the child's details without moving it
    def corrected(**changes: Any) -> dict[str, Any]:
        data = payload("EntryCorrected", opened["id"], data={**opened["data"], **changes})
        return event("EntryCorrected", data=data)

    taken = append(client, school, case_id, corrected(local_authority=SCHOOL))
    moved = append(client, school, case_id, corrected(local_authority="csc:wessex"))
    child = {**opened["data"]["child"], "name": "Amy Smyth"}
    fixed = append(client, school, case_id, corrected(child=child))

    # Then only the owning authority moves a case: ownership stays where it was
    assert taken.status_code == 403, taken.text
    assert moved.status_code == 403, moved.text
    assert "owning authority" in taken.json()["detail"]
    assert fixed.status_code == 201, fixed.text
    assert client.get(f"/cases/{case_id}", headers=token()).status_code == 200
    wessex = token(agency="csc:wessex", sub="w")
    assert client.get(f"/cases/{case_id}", headers=wessex).status_code == 404


def test_owner_when_referral_batch_corrects_its_own_opening_then_403(
    client: TestClient, token: Token
) -> None:
    # Given a school's referral whose batch also corrects the opening to another authority
    school = token(agency=SCHOOL, sub="dsl")
    referral = payload("ContactReceived", referrer={"name": "J", "agency": SCHOOL, "role": "DSL"})
    opened = event("CaseOpened")
    taken = {**opened["data"], "local_authority": SCHOOL}
    moved = payload("EntryCorrected", opened["id"], data=taken)
    batch = [opened, event("ContactReceived", data=referral), event("EntryCorrected", data=moved)]

    # When it posts the batch
    response = client.post("/cases", json={"events": batch}, headers=school)

    # Then it is refused whole
    assert response.status_code == 403, response.text
    assert client.post("/cases", json={"events": batch[:2]}, headers=school).status_code == 201


def test_open_when_partner_chooses_case_id_then_403(client: TestClient, token: Token) -> None:
    # Given a school's referral with a case id of its choosing
    school = token(agency=SCHOOL, sub="dsl")
    referral = payload("ContactReceived", referrer={"name": "J", "agency": SCHOOL, "role": "DSL"})
    batch = [event("CaseOpened"), event("ContactReceived", data=referral)]

    # When it opens the case with that id, and without one
    chosen = client.post(
        "/cases", json={"case_id": str(uuid.uuid4()), "events": batch}, headers=school
    )
    derived = client.post("/cases", json={"events": batch}, headers=school)

    # Then only the derived id is allowed
    assert chosen.status_code == 403
    assert derived.status_code == 201


def test_open_when_case_exists_and_caller_may_not_see_it_then_404_as_documented(
    client: TestClient, token: Token
) -> None:
    # Given a case children's social care opened (the fuzzer resent its CaseOpened as a school)
    csc = token()
    opened = event("CaseOpened")
    assert client.post("/cases", json={"events": [opened]}, headers=csc).status_code == 201
    school = token(agency=SCHOOL, sub="dsl")
    referral = payload("ContactReceived", referrer={"name": "J", "agency": SCHOOL, "role": "DSL"})

    # When a school posts that CaseOpened again, as a replay and with a referral of its own
    replay = client.post("/cases", json={"events": [opened]}, headers=school)
    referred = client.post(
        "/cases",
        json={"events": [opened, event("ContactReceived", data=referral)]},
        headers=school,
    )

    # Then both answer as for any case it may not see: 404, never the stored results
    for response in (replay, referred):
        assert response.status_code == 404, response.text
        assert response.json()["type"] == "urn:casetrail:problem:case-not-found"
    # And the document lists that answer for opening a case
    document = client.app.openapi()  # type: ignore[attr-defined]
    assert "404" in document["paths"]["/cases"]["post"]["responses"]


def test_break_glass_when_partner_in_emergency_then_full_view_audited(
    client: TestClient, token: Token
) -> None:
    # Given a routine CSC note the school's proportionate view leaves out
    csc = token()
    case_id = _school_case(client, csc)
    note = event("CaseNoteRecorded", "2026-10-05")
    append(client, csc, case_id, note)
    school = token(agency=SCHOOL, sub="dsl")
    params = {"min_significance": "routine"}

    # When the school reads normally, then in an emergency
    usual = client.get(f"/cases/{case_id}/chronology", headers=school, params=params)
    glass = client.get(
        f"/cases/{case_id}/chronology",
        headers={**school, "X-Access-Purpose": "emergency: child missing"},
        params=params,
    )

    # Then only the emergency read shows the whole case
    assert note["id"] not in usual.text
    assert note["id"] in glass.text
