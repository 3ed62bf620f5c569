"""`GET /cases` over HTTP: the case list read model, kept current by the runner inside the app."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from service.clock import SettableClock
from tests.conftest import NOW
from tests.support import (
    append,
    audited_reads,
    event,
    partnered_and_owned,
    payload,
    school_referred_case,
)

Headers = dict[str, str]
Token = Callable[..., Headers]
SCHOOL = "school:st-marys-primary"


def _open(
    client: TestClient, headers: Headers, name: str, *more: dict[str, Any]
) -> tuple[str, int]:
    opened = event(
        "CaseOpened",
        data=payload("CaseOpened", child={**payload("CaseOpened")["child"], "name": name}),
    )
    response = client.post("/cases", json={"events": [opened, *more]}, headers=headers)
    assert response.status_code == 201, response.text
    body = response.json()
    return body["case_id"], body["events"][-1]["position"]


def _list(client: TestClient, headers: Headers, position: int, **params: Any) -> Any:
    return client.get("/cases", headers={**headers, "X-Min-Position": str(position)}, params=params)


def test_list_when_cases_opened_then_found_by_name_with_projection_position(
    client: TestClient, token: Token
) -> None:
    # Given two cases
    csc = token()
    amy, _ = _open(client, csc, "Amy Smith")
    _, position = _open(client, csc, "Ben Jones")

    # When the list is searched by part of a name, waiting for the read model to catch up
    response = _list(client, csc, position, q="smi")

    # Then only the matching case comes back, with the model's position
    assert response.status_code == 200, response.text
    assert [c["case_id"] for c in response.json()["cases"]] == [amy]
    assert int(response.headers["X-Projection-Position"]) >= position


def test_list_when_paged_then_every_case_exactly_once(client: TestClient, token: Token) -> None:
    csc = token()
    opened = [_open(client, csc, f"Child {i}") for i in range(5)]
    position = opened[-1][1]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = _list(client, csc, position, **params).json()
        seen += [c["case_id"] for c in body["cases"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [case_id for case_id, _ in opened]


def test_list_when_other_agency_then_sees_only_cases_it_is_involved_in(
    client: TestClient, token: Token
) -> None:
    # Given a case the school referred, and one it has nothing to do with
    csc, school = token(), token(agency=SCHOOL, sub="dsl")
    referral = payload("ContactReceived", referrer={"name": "J", "agency": SCHOOL, "role": "DSL"})
    referred, _ = _open(
        client,
        csc,
        "Amy Smith",
        event("ContactReceived", "2026-11-01", data=referral),
        event("ReferralAccepted", "2026-11-02"),
    )
    _, position = _open(client, csc, "Ben Jones")

    # When each lists the cases
    by_school = _list(client, school, position).json()["cases"]
    by_police = _list(client, token(agency="police:barsetshire", sub="pc"), position).json()[
        "cases"
    ]

    # Then the school sees its one case, in the partner view; police see none
    assert [(c["case_id"], c["view"]) for c in by_school] == [(referred, "partner")]
    assert by_police == []


def test_list_when_read_then_audited_with_the_cases_returned(
    client: TestClient, token: Token
) -> None:
    csc = token()
    case_id, position = _open(client, csc, "Amy Smith")
    assert _list(client, csc, position).status_code == 200
    trail = client.get(
        f"/cases/{case_id}/audit",
        headers=token(roles=("manager",), sub="m"),
        params={"kind": "read"},
    )
    assert [e["endpoint"] for e in trail.json()["entries"]] == ["GET /cases"]


def test_list_when_model_cannot_reach_min_position_then_503_retry_after(
    start_app: Callable[..., TestClient],
) -> None:
    # Given an app whose read models are not run, and a case written to its log
    app = start_app(projections_in_process=False, projection_wait_seconds=0)
    tokens = app.app.state.tokens  # type: ignore[attr-defined]
    jwt = tokens.mint(sub="ann", name="Ann", agency="csc:barsetshire", roles=["practitioner"])
    csc = {"Authorization": f"Bearer {jwt}"}
    _, position = _open(app, csc, "Amy Smith")
    # When the list is asked to wait for that write
    response = _list(app, csc, position)
    # Then the model is behind: 503, retry later, and where the model is
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.headers["X-Projection-Position"] == "0"
    assert response.json()["type"] == "urn:casetrail:problem:projection-behind"


def test_list_when_min_position_past_the_log_then_422_at_once(
    client: TestClient, token: Token
) -> None:
    # Given a log whose newest position is that of one case's opening (found by the fuzzer)
    csc = token()
    _, position = _open(client, csc, "Amy Smith")
    # When the list is asked to wait for a position no write has answered
    response = _list(client, csc, position + 1000)
    # Then it is the client's mistake, refused at once, never a 503 inviting retries
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"] == "urn:casetrail:problem:validation"
    assert body["errors"] == [
        {
            "parameter": "X-Min-Position",
            "detail": f"position {position + 1000} is past the log's newest ({position}): "
            "send the position a write answered",
        }
    ]
    assert "X-Projection-Position" not in response.headers


def test_list_when_admin_or_bad_cursor_then_refused(client: TestClient, token: Token) -> None:
    assert client.get("/cases", headers=token(roles=("admin",), sub="a")).status_code == 403
    assert client.get("/cases", headers=token(), params={"cursor": "nonsense"}).status_code == 400
    for cursor in ("x|5", "2026-11-02|5", "2026-11-02T10:00:00Z|5"):  # never handed out
        params = {"sort": "last_activity", "cursor": cursor}
        refused = client.get("/cases", headers=token(), params=params)
        assert refused.status_code == 400, cursor
        assert refused.json()["type"].endswith("bad-cursor")


def test_list_when_case_changes_then_row_follows(client: TestClient, token: Token) -> None:
    csc = token()
    case_id, _ = _open(client, csc, "Amy Smith")
    written = append(client, csc, case_id, event("ReferralAccepted", "2026-11-02"))
    position = written.json()["events"][-1]["position"]
    [row] = _list(client, csc, position, status="open").json()["cases"]
    assert row["case_id"] == case_id


def test_list_when_odd_query_values_then_4xx_never_500(client: TestClient, token: Token) -> None:
    csc = token()
    for params in (
        {"identifier": "nocolon"},
        {"identifier": " :x"},
        {"cursor": "99999999999999999999999999"},
        {"cursor": "²"},
        {"sort": "last_activity", "cursor": "x|99999999999999999999999"},
        {"sort": "last_activity", "cursor": "x|²"},
    ):
        response = client.get("/cases", headers=csc, params=params)
        assert 400 <= response.status_code < 500, (params, response.status_code)
        assert response.headers["content-type"] == "application/problem+json"


def test_list_when_waiting_without_a_token_or_role_then_refused_at_once(
    client: TestClient, token: Token
) -> None:
    # An unauthenticated or refused caller never waits, nor learns the model's position
    anonymous = client.get("/cases", headers={"X-Min-Position": "1000000"})
    admin = client.get(
        "/cases", headers={**token(roles=("admin",), sub="a"), "X-Min-Position": "1000000"}
    )
    assert anonymous.status_code == 401
    assert admin.status_code == 403
    assert "X-Projection-Position" not in anonymous.headers


def test_list_when_restricted_correction_then_partner_row_shows_none_of_it(
    client: TestClient, token: Token
) -> None:
    # Given a case the school referred; CSC allocates a worker, then corrects it restrictedly
    csc, school = token(), token(agency=SCHOOL, sub="dsl")
    referral = payload("ContactReceived", referrer={"name": "J", "agency": SCHOOL, "role": "DSL"})
    case_id, _ = _open(
        client, csc, "Amy Smith", event("ContactReceived", "2026-11-01", data=referral),
        event("ReferralAccepted", "2026-11-02"),
    )  # fmt: skip
    allocated = event("WorkerAllocated", "2026-11-03")
    append(client, csc, case_id, allocated)
    secret = payload("WorkerAllocated", worker="SECRET-WORKER", team="SECRET-TEAM")
    correction = payload("EntryCorrected", allocated["id"], data=secret)
    written = append(
        client,
        csc,
        case_id,
        event("EntryCorrected", "2026-11-04", data=correction, sensitivity="restricted"),
    )
    position = written.json()["events"][-1]["position"]

    # When the school lists and searches the cases
    listed = _list(client, school, position)
    searched = _list(client, school, position, worker="SECRET-WORKER")

    # Then the corrected worker is nowhere, and the search does not match on it
    assert "SECRET" not in listed.text
    assert searched.json()["cases"] == []


def test_list_when_agency_named_only_in_restricted_entry_then_partners_are_not_told(
    client: TestClient, token: Token
) -> None:
    # Given a case the school referred, in which CSC shares information with the police in a
    # restricted entry
    csc, school = token(), token(agency=SCHOOL, sub="dsl")
    case_id = school_referred_case(client, csc, SCHOOL)
    police = "police:barsetshire"
    shared = payload("InformationShared", **{"with": [{"agency": police}]}, concern_event_ids=[])
    written = append(
        client,
        csc,
        case_id,
        event("InformationShared", "2026-11-03", data=shared, sensitivity="restricted"),
    )
    position = written.json()["events"][-1]["position"]

    # When the school, CSC and the police list the case, and filter by the police
    def agencies(headers: Headers, **params: Any) -> list[list[str]]:
        return [
            c["involved_agencies"]
            for c in _list(client, headers, position, **params).json()["cases"]
        ]

    # Then the school is not told the police are involved, by the row or by the filter; CSC is,
    # and the police see the case (their involvement gives them access)
    assert agencies(school) == [[SCHOOL]]
    assert agencies(school, agency=police) == []
    assert agencies(csc) == [[SCHOOL, police]]
    assert agencies(csc, agency=police) == [[SCHOOL, police]]
    assert [
        c["case_id"]
        for c in _list(client, token(agency=police, sub="pc"), position).json()["cases"]
    ] == [case_id]


def test_list_when_limit_above_max_page_then_clamped_to_it(
    start_app: Callable[..., TestClient],
) -> None:
    # Given an app whose largest page is two, and three cases
    app = start_app(max_page=2)
    tokens = app.app.state.tokens  # type: ignore[attr-defined]
    jwt = tokens.mint(sub="ann", name="Ann", agency="csc:barsetshire", roles=["practitioner"])
    csc = {"Authorization": f"Bearer {jwt}"}
    position = [_open(app, csc, f"Child {i}") for i in range(3)][-1][1]

    # When a page of five is asked for
    body = _list(app, csc, position, limit=5).json()

    # Then it holds two, and the cursor goes on to the third
    assert len(body["cases"]) == 2
    rest = _list(app, csc, position, limit=5, cursor=body["next_cursor"]).json()
    assert (len(rest["cases"]), rest["next_cursor"]) == (1, None)


def test_list_when_dob_is_no_day_of_the_calendar_then_422_naming_dob(
    client: TestClient, token: Token
) -> None:
    # Given a child born on a leap day
    csc = token()
    leap = payload("CaseOpened")
    leap["child"] = {**leap["child"], "name": "Leap Child", "date_of_birth": "2012-02-29"}
    response = client.post("/cases", json={"events": [event("CaseOpened", data=leap)]}, headers=csc)
    assert response.status_code == 201, response.text
    position = response.json()["events"][-1]["position"]

    # When the list is searched by dates of birth that no calendar has, and by the leap day
    refused = {dob: _list(client, csc, position, dob=dob) for dob in ("2013-02-30", "2013-13-01")}
    found = _list(client, csc, position, dob="2012-02-29")

    # Then each impossible date is a 422 naming `dob`, as other invalid dates are
    for dob, response in refused.items():
        assert response.status_code == 422, (dob, response.text)
        body = response.json()
        assert body["type"] == "urn:casetrail:problem:validation"
        assert body["errors"] == [
            {"parameter": "dob", "detail": f"'{dob}' is not a date (YYYY-MM-DD)"}
        ]
    # And a real one still searches
    assert [c["child_name"] for c in found.json()["cases"]] == ["Leap Child"]


def test_list_when_partner_wrote_restricted_entries_then_its_own_row_shows_them(
    client: TestClient, token: Token
) -> None:
    # Given a case the school referred, the police involved too; the school links its own
    # reference and shares information with health, both as restricted entries
    csc, school = token(), token(agency=SCHOOL, sub="dsl")
    police, health = "police:barsetshire", "health:barsetshire-gp"
    case_id = school_referred_case(client, csc, SCHOOL)
    involved = payload("AgencyInvolvementStarted", agency=police)
    append(client, csc, case_id, event("AgencyInvolvementStarted", "2026-10-03", data=involved))
    reference = {"scheme": "other", "value": "SCH-REF-9"}
    shared = payload("InformationShared", **{"with": [{"agency": health}]}, concern_event_ids=[])
    written = append(
        client,
        school,
        case_id,
        event("IdentifierLinked", "2026-10-05", data=reference, sensitivity="restricted"),
        event("InformationShared", "2026-10-05", data=shared, sensitivity="restricted"),
    )
    assert written.status_code == 201, written.text
    position = written.json()["events"][-1]["position"]

    # When the school reads the case, and lists and searches the cases
    state = client.get(f"/cases/{case_id}", headers=school).json()
    [row] = _list(client, school, position).json()["cases"]
    by_reference = _list(client, school, position, identifier="other:SCH-REF-9").json()["cases"]
    by_health = _list(client, school, position, agency=health).json()["cases"]

    # Then its row shows what its own view of the case shows: its reference and health
    assert {"scheme": "other", "value": "SCH-REF-9"} in state["identifiers"]
    assert row["identifiers"] == state["identifiers"]
    assert sorted(row["involved_agencies"]) == sorted(
        i["agency"] for i in state["involved_agencies"]
    )
    assert health in row["involved_agencies"]
    assert [c["case_id"] for c in by_reference] == [case_id]
    assert [c["case_id"] for c in by_health] == [case_id]
    # And the police, another partner, are told of neither
    pc = token(agency=police, sub="pc")
    [theirs] = _list(client, pc, position).json()["cases"]
    assert theirs["identifiers"] == [] and health not in theirs["involved_agencies"]
    assert _list(client, pc, position, identifier="other:SCH-REF-9").json()["cases"] == []
    assert _list(client, pc, position, agency=health).json()["cases"] == []


def test_list_when_page_holds_cases_seen_as_partner_then_audited_in_the_partner_view(
    client: TestClient, token: Token
) -> None:
    # Given a Barsetshire case Wessex's children's social care is involved in, and a case
    # Wessex owns
    wessex = token(agency="csc:wessex", sub="wessex-sw")
    partnered, owned, _, _, position = partnered_and_owned(client, token(), wessex)

    # When Wessex lists the cases: one in the partner view, its own in full
    listed = _list(client, wessex, position).json()["cases"]
    assert [(c["case_id"], c["view"]) for c in listed] == [(partnered, "partner"), (owned, "full")]

    # Then each case's audit trail records the read in the view Wessex had of that case
    manager, wessex_manager = (
        token(roles=("manager",), sub="m"),
        token(agency="csc:wessex", roles=("manager",), sub="m"),
    )
    assert audited_reads(client, partnered, manager) == [("GET /cases", "partner")]
    assert audited_reads(client, owned, wessex_manager) == [("GET /cases", "full")]


def test_list_when_partner_named_in_an_entry_dated_ahead_then_listed_once_it_happens(
    client: TestClient, token: Token, clock: SettableClock
) -> None:
    # Given a case whose only mention of the school is its involvement, dated two minutes ahead
    # of the clock (within the tolerated skew)
    involved = event(
        "AgencyInvolvementStarted",
        (NOW + timedelta(minutes=2)).isoformat(),
        data=payload("AgencyInvolvementStarted", agency=SCHOOL),
    )
    case_id, position = _open(client, token(), "Amy Smith", involved)
    school = token(agency=SCHOOL, sub="dsl")

    # When the school lists its cases now, and again once the involvement has happened
    before = _list(client, school, position)
    case_before = client.get(f"/cases/{case_id}", headers=school)
    clock.set(NOW + timedelta(minutes=3))
    after = _list(client, school, position)

    # Then the case is listed only when the school may read it, as its own view answers
    assert before.status_code == 200, before.text
    assert case_before.status_code == 404
    assert before.json()["cases"] == []
    assert [(c["case_id"], c["view"]) for c in after.json()["cases"]] == [(case_id, "partner")]
    assert client.get(f"/cases/{case_id}", headers=school).status_code == 200
