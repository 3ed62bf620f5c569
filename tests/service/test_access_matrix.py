"""The access policy against the README's table ("Who may see and write what").

Every endpoint x every kind of caller answers as documented; then the rules the table summarises:
what partners may post, correct and retract, restricted entries as placeholders, opening by
referral, the access period after involvement ends (a closed case does not cut partners off),
the partner's chronology, and who sees which entries of the audit.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from domain.envelope import RESTRICTED
from service.api.app import create_app
from service.clock import SettableClock
from service.records import derived_case_id
from service.settings import Settings
from tests.support import LOCAL_AUTHORITY, app_routes, append, event, open_case, payload

Headers = dict[str, str]
Token = Callable[..., Headers]

LA = LOCAL_AUTHORITY  # csc:barsetshire owns every case here
SCHOOL = "school:st-marys-primary"  # referred the open episode: involved now
HEALTH = "health:barsetshire-gp"  # referred an episode closed in 2025: within its access period
VCS = "vcs:family-project"  # referred an episode closed in 2014: beyond its access period
POLICE = "police:barsetshire"  # never named: unrelated
OTHER_LA = "csc:wessex"
INSPECTORATE = "other:ofsted"
EMERGENCY = "emergency: child missing overnight, checking known addresses"
CHILD_NAME = "Amy Smith"
OPEN_PATHS = {
    "/health",
    "/ready",
    "/metrics",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/openapi.json",
}


# --- the matrix ----------------------------------------------------------------------------------

OPEN = "POST /cases"
APPEND = "POST /cases/{case_id}/events"
STATE = "GET /cases/{case_id}"
CHRONOLOGY = "GET /cases/{case_id}/chronology"
EVENTS = "GET /cases/{case_id}/events"
VERIFY = "GET /cases/{case_id}/verify"
AUDIT = "GET /cases/{case_id}/audit"
LIST = "GET /cases"  # the list filters to what the caller may see: 200 unless the role is refused
FEED = "GET /feed"  # the feed filters too (its content per principal: the test below the matrix)
STREAM = "GET /feed/stream"
RECORD_ENDPOINTS = (OPEN, APPEND, STATE, CHRONOLOGY, EVENTS, VERIFY, AUDIT, LIST, FEED, STREAM)
CASE_ALERTS = "GET /cases/{case_id}/alerts"
INVOLVEMENT = "GET /cases/{case_id}/involvement"
SHARING_PACK = "GET /cases/{case_id}/sharing-pack"
ALERTS = "GET /alerts"  # filters to the cases the caller owns or reviews: 200 unless refused
CASELOADS = "GET /caseloads"  # managers and reviewers only
PRACTICE_ENDPOINTS = (CASE_ALERTS, INVOLVEMENT, SHARING_PACK, ALERTS, CASELOADS)
ENDPOINTS = RECORD_ENDPOINTS + PRACTICE_ENDPOINTS

THIS_CASE = "<the matrix case>"  # stands for the case's id in a reviewer's `cases` claim


@dataclass(frozen=True)
class Who:
    agency: str
    roles: tuple[str, ...]
    cases: tuple[str, ...] | None = None
    emergency: bool = False  # sends `X-Access-Purpose: emergency: <reason>`


PRINCIPALS: dict[str, Who] = {
    "csc practitioner": Who(LA, ("practitioner",)),
    "csc manager": Who(LA, ("manager",)),
    "csc system": Who(LA, ("system",)),
    "partner involved": Who(SCHOOL, ("practitioner",)),
    "partner within period": Who(HEALTH, ("practitioner",)),
    "partner beyond period": Who(VCS, ("practitioner",)),
    "unrelated agency": Who(POLICE, ("practitioner",)),
    "other authority's csc": Who(OTHER_LA, ("practitioner",)),
    "reviewer of the case": Who(INSPECTORATE, ("reviewer",), cases=(THIS_CASE,)),
    "reviewer of every case": Who(INSPECTORATE, ("reviewer",), cases=("*",)),
    "reviewer of other cases": Who(INSPECTORATE, ("reviewer",), cases=(str(uuid.uuid4()),)),
    "integrator of the authority": Who(LA, ("integrator",)),
    "integrator elsewhere": Who(POLICE, ("integrator",)),
    "partner system": Who(SCHOOL, ("system",)),
    "admin": Who(LA, ("admin",)),
    "break-glass practitioner": Who(POLICE, ("practitioner",), emergency=True),
    "break-glass system": Who(POLICE, ("system",), emergency=True),
}

# The README's table, cell by cell. POST /cases is a referral naming the caller's own agency
# ("any agency may open a case with a referral"); POST .../events is a CaseNoteRecorded (a type
# any involved agency may post). Role refusals (403) come before any case lookup; a case the
# caller may not see answers 404, like an unknown one. Break-glass reads; it never writes (the
# append is judged without it: 404, as for anyone else), and a `system` cannot break glass.
_TABLE: dict[str, tuple[int, int, int, int, int, int, int, int, int, int]] = {
    #                             open append state chron events verify audit  list  feed stream
    "csc practitioner":           (201, 201,   200,  200,  200,   200,   200,   200,  200, 200),
    "csc manager":                (201, 201,   200,  200,  200,   200,   200,   200,  200, 200),
    "csc system":                 (201, 201,   200,  200,  200,   200,   200,   200,  200, 200),
    "partner involved":           (201, 201,   200,  200,  200,   403,   200,   200,  200, 200),
    "partner within period":      (201, 201,   200,  200,  200,   403,   200,   200,  200, 200),
    "partner beyond period":      (201, 404,   404,  404,  404,   404,   404,   200,  200, 200),
    "unrelated agency":           (201, 404,   404,  404,  404,   404,   404,   200,  200, 200),
    "other authority's csc":      (201, 404,   404,  404,  404,   404,   404,   200,  200, 200),
    "reviewer of the case":       (403, 403,   200,  200,  200,   200,   200,   200,  200, 200),
    "reviewer of every case":     (403, 403,   200,  200,  200,   200,   200,   200,  200, 200),
    "reviewer of other cases":    (403, 403,   404,  404,  404,   404,   404,   200,  200, 200),
    "integrator of the authority": (403, 403,  403,  403,  200,   403,   403,   200,  200, 200),
    "integrator elsewhere":       (403, 403,   403,  403,  404,   403,   403,   200,  200, 200),
    "partner system":             (201, 201,   200,  200,  200,   403,   200,   200,  200, 200),
    "admin":                      (403, 403,   403,  403,  403,   403,   403,   403,  403, 403),
    "break-glass practitioner":   (201, 404,   200,  200,  200,   200,   200,   200,  200, 200),
    "break-glass system":         (201, 404,   404,  404,  404,   404,   404,   200,  200, 200),
}  # fmt: skip

# The practice views: alerts and sharing packs are the owning authority's and reviewers' (not
# partners', not integrators'); the involvement summary is read like the state; the cross-case
# alerts filter like the case list; caseloads are for managers and reviewers.
_PRACTICE: dict[str, tuple[int, int, int, int, int]] = {
    #                              alerts involv pack alerts* loads
    "csc practitioner":            (200,  200,   200, 200,    403),
    "csc manager":                 (200,  200,   200, 200,    200),
    "csc system":                  (200,  200,   200, 200,    403),
    "partner involved":            (403,  200,   403, 200,    403),
    "partner within period":       (403,  200,   403, 200,    403),
    "partner beyond period":       (404,  404,   404, 200,    403),
    "unrelated agency":            (404,  404,   404, 200,    403),
    "other authority's csc":       (404,  404,   404, 200,    403),
    "reviewer of the case":        (200,  200,   200, 200,    200),
    "reviewer of every case":      (200,  200,   200, 200,    200),
    "reviewer of other cases":     (404,  404,   404, 200,    200),
    "integrator of the authority": (403,  403,   403, 200,    403),
    "integrator elsewhere":        (403,  403,   403, 200,    403),
    "partner system":              (403,  200,   403, 200,    403),
    "admin":                       (403,  403,   403, 403,    403),
    "break-glass practitioner":    (200,  200,   200, 200,    403),
    "break-glass system":          (404,  404,   404, 200,    403),
}  # fmt: skip

EXPECTED: dict[tuple[str, str], int] = {
    (principal, endpoint): status
    for table, endpoints in ((_TABLE, RECORD_ENDPOINTS), (_PRACTICE, PRACTICE_ENDPOINTS))
    for principal, row in table.items()
    for endpoint, status in zip(endpoints, row, strict=True)
}


def _sub(principal: str) -> str:
    return principal.replace(" ", "-").replace("'", "")


def _headers(token: Token, principal: str, case_id: str) -> Headers:
    who = PRINCIPALS[principal]
    cases = [case_id if c == THIS_CASE else c for c in who.cases] if who.cases else None
    headers = token(
        agency=who.agency, roles=who.roles, sub=_sub(principal), name=principal, cases=cases
    )
    if who.emergency:
        headers["X-Access-Purpose"] = EMERGENCY
    return headers


def _referrer(agency: str) -> dict[str, str]:
    return {"name": "Jo Referrer", "agency": agency, "role": "safeguarding lead"}


def _contact(occurred_at: str, agency: str, contact_id: str = "C-1") -> dict[str, Any]:
    data = payload("ContactReceived", referrer=_referrer(agency), contact_id=contact_id)
    return event("ContactReceived", occurred_at, data=data)


def _accepted(occurred_at: str, contact_id: str = "C-1") -> dict[str, Any]:
    return event(
        "ReferralAccepted", occurred_at, data=payload("ReferralAccepted", contact_id=contact_id)
    )


def _closed(occurred_at: str, notified: str) -> dict[str, Any]:
    return event(
        "CaseClosed", occurred_at, data=payload("CaseClosed", agencies_notified=[notified])
    )


def _request(
    client: TestClient, endpoint: str, headers: Headers, case_id: str, agency: str
) -> httpx.Response:
    if endpoint == OPEN:
        referral = [event("CaseOpened", "2026-11-25"), _contact("2026-11-25", agency)]
        return client.post("/cases", json={"events": referral}, headers=headers)
    if endpoint == APPEND:
        note = event("CaseNoteRecorded", "2026-11-20")
        return client.post(f"/cases/{case_id}/events", json={"events": [note]}, headers=headers)
    if endpoint == STREAM:
        # The answer's status and headers come before any event: read no further than that
        # (a refusal is a short problem document, read whole).
        with client.stream("GET", "/feed/stream", headers=headers) as response:
            if response.status_code != 200:
                response.read()
        return response
    path = endpoint.removeprefix("GET ").format(case_id=case_id)
    params = {"for_agency": POLICE} if endpoint == SHARING_PACK else {}
    return client.get(path, headers=headers, params=params)


def _endpoints(app: FastAPI) -> set[str]:
    """Every `METHOD path` the app answers, but the open ones (health, readiness, docs)."""
    return {
        f"{method} {route.path}"
        for route in app_routes(app)
        if route.path not in OPEN_PATHS
        for method in sorted(route.methods - {"HEAD"})
    }


def test_matrix_when_routes_walked_then_every_endpoint_and_principal_has_a_documented_answer(
    client: TestClient,
) -> None:
    # Given every endpoint the app answers
    endpoints = _endpoints(client.app)  # type: ignore[arg-type]

    # Then the matrix covers exactly these (a new endpoint must be added to it)
    assert endpoints == set(ENDPOINTS), (
        f"endpoints missing from the access matrix: {sorted(endpoints - set(ENDPOINTS))}; "
        f"in the matrix but gone from the app: {sorted(set(ENDPOINTS) - endpoints)}"
    )
    # And every principal has an answer for every endpoint
    assert set(_TABLE) == set(PRINCIPALS) == set(_PRACTICE)
    assert set(EXPECTED) == {(p, e) for p in PRINCIPALS for e in ENDPOINTS}


def _matrix_case(client: TestClient, csc: Headers) -> str:
    """Three episodes: the VCS referred the first (closed 2014), health the second (closed
    2025), the school the third (open). Now is 26 November 2026."""
    case_id, _ = open_case(
        client,
        csc,
        _contact("2013-05-16", VCS, "C-1"),
        _accepted("2013-05-17", "C-1"),
        _closed("2014-03-01", VCS),
        _contact("2025-01-10", HEALTH, "C-2"),
        _accepted("2025-01-11", "C-2"),
        _closed("2025-06-30", HEALTH),
        _contact("2026-10-01", SCHOOL, "C-3"),
        _accepted("2026-10-02", "C-3"),
        event("ConcernObserved", "2026-10-05"),
        occurred_at="2013-05-16",
    )
    return case_id


def test_matrix_when_every_principal_calls_every_endpoint_then_documented_status(
    client: TestClient, token: Token
) -> None:
    # Given a case with a partner involved now, one whose involvement ended within the access
    # period, and one whose ended beyond it
    csc = token()
    case_id = _matrix_case(client, csc)
    state = client.get(f"/cases/{case_id}", headers=csc).json()
    assert {a["agency"]: a["involved_to"] for a in state["involved_agencies"]} == {
        VCS: "2014-03-01",
        HEALTH: "2025-06-30",
        SCHOOL: None,
    }
    unknown_case = str(uuid.uuid4())

    # When every principal calls every endpoint
    wrong: list[str] = []
    served_reads: set[tuple[str, str]] = set()
    for (principal, endpoint), expected in EXPECTED.items():
        headers = _headers(token, principal, case_id)
        agency = PRINCIPALS[principal].agency
        response = _request(client, endpoint, headers, case_id, agency)

        # Then each answers as the README's table says
        if response.status_code != expected:
            wrong.append(
                f"{principal} x {endpoint}: {response.status_code}, expected {expected} "
                f"({response.text[:160]})"
            )
            continue
        if expected >= 400:
            # And a refusal is a problem document that carries no case data
            assert response.headers["content-type"] == "application/problem+json"
            assert CHILD_NAME not in response.text, (principal, endpoint)
        if expected == 404:
            # And a forbidden case looks exactly like an unknown one
            unknown = _request(client, endpoint, headers, unknown_case, agency)
            assert unknown.status_code == 404
            assert response.json() == {
                **unknown.json(),
                "detail": unknown.json()["detail"].replace(unknown_case, case_id),
            }, (principal, endpoint)
        # (A list or feed page is audited against the cases it returned: test_case_list.py,
        # test_feed.py and the feed's content test below.)
        if expected == 200 and endpoint not in (LIST, FEED, STREAM, ALERTS, CASELOADS):
            served_reads.add((_sub(principal), endpoint))
    assert not wrong, "\n".join(["answers that differ from the README's table:", *wrong])

    # And every read served was audited, break-glass ones as such
    reads = client.get(
        f"/cases/{case_id}/audit", params={"kind": "read"}, headers=token(roles=("manager",))
    ).json()["entries"]
    audited = {(r["who"]["sub"], r["endpoint"]) for r in reads}
    assert served_reads <= audited, sorted(served_reads - audited)
    assert {r["who"]["sub"] for r in reads if r["break_glass"]} == {
        _sub("break-glass practitioner")
    }


# Headers of one answer only, or that differ between two reads of the same resource (an audit
# listing grows by the read before it).
PER_ANSWER = {"date", "x-request-id", "content-length"}


def test_matrix_when_every_principal_asks_with_head_then_the_gets_status_and_headers_no_body(
    client: TestClient, token: Token
) -> None:
    # Given the matrix case, and read models that have caught up with it (so a list answers
    # the same to the HEAD and to the GET after it)
    case_id = _matrix_case(client, token())
    position = client.app.state.records.recorder.max_notification_id()  # type: ignore[attr-defined]

    # When every principal asks every GET endpoint with HEAD
    wrong: list[str] = []
    served: set[tuple[str, str]] = set()
    for (principal, endpoint), expected in EXPECTED.items():
        if not endpoint.startswith("GET "):
            continue
        headers = {**_headers(token, principal, case_id), "X-Min-Position": str(position)}
        path = endpoint.removeprefix("GET ").format(case_id=case_id)
        params = {"for_agency": POLICE} if endpoint == SHARING_PACK else {}
        head = client.head(path, headers=headers, params=params)
        get = _request(client, endpoint, headers, case_id, PRINCIPALS[principal].agency)

        # Then each is the GET's answer, status and headers, without a body
        answers = [(dict(r.headers), r.status_code) for r in (head, get)]
        same = [({k: v for k, v in h.items() if k not in PER_ANSWER}, s) for h, s in answers]
        if head.status_code != expected or same[0] != same[1] or head.content:
            wrong.append(f"{principal} x {endpoint}: HEAD {answers[0]}, GET {answers[1]}")
        if expected == 200 and endpoint not in (LIST, FEED, STREAM, ALERTS, CASELOADS):
            served.add((_sub(principal), endpoint.replace("GET ", "HEAD ", 1)))
    assert not wrong, "\n".join(wrong)

    # And every HEAD served was audited as one
    reads = client.get(
        f"/cases/{case_id}/audit", params={"kind": "read"}, headers=token(roles=("manager",))
    ).json()["entries"]
    assert served <= {(r["who"]["sub"], r["endpoint"]) for r in reads}


# What each principal's feed carries of the matrix case: every event ("full"); its own agency's
# entries and those shared with it, another agency's restricted ones as placeholders ("partner");
# nothing ("none"); or the feed is refused (403). Break-glass never applies to the feed.
FEED_VIEW: dict[str, str] = {
    "csc practitioner": "full",
    "csc manager": "full",
    "csc system": "full",
    "partner involved": "partner",
    "partner within period": "partner",
    "partner beyond period": "none",
    "unrelated agency": "none",
    "other authority's csc": "none",
    "reviewer of the case": "full",
    "reviewer of every case": "full",
    "reviewer of other cases": "none",
    "integrator of the authority": "full",
    "integrator elsewhere": "none",
    "partner system": "partner",
    "admin": "refused",
    "break-glass practitioner": "none",
    "break-glass system": "none",
}


def _whole_feed(client: TestClient, headers: Headers) -> httpx.Response | list[dict[str, Any]]:
    """Every event of the caller's feed from 0, or the refusal."""
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        response = client.get("/feed", params={"after": after, "limit": 1000}, headers=headers)
        if response.status_code != 200:
            return response
        page = response.json()
        events.extend(page["events"])
        if page["next"] == after:
            return events
        after = page["next"]


def test_feed_when_every_principal_reads_it_then_carries_what_its_view_allows(
    client: TestClient, token: Token
) -> None:
    # Given the matrix case, with a restricted concern CSC shared with the school; and a case
    # of another authority's that nobody here is involved in
    csc = token()
    case_id = _matrix_case(client, csc)
    concern = _restricted_concern(LA)
    share = event(
        "InformationShared",
        "2026-10-06",
        data=payload("InformationShared", concern["id"], **{"with": [{"agency": SCHOOL}]}),
    )
    assert append(client, csc, case_id, concern, share).status_code == 201
    theirs = event("CaseOpened", data=payload("CaseOpened", local_authority=OTHER_LA))
    opened = client.post("/cases", json={"events": [theirs]}, headers=token(agency=OTHER_LA))
    assert opened.status_code == 201, opened.text
    elsewhere = opened.json()["case_id"]
    stored = client.get(f"/cases/{case_id}/events", headers=csc).json()["events"]
    referred_by = {
        e["data"]["referrer"]["agency"]: e["id"] for e in stored if e["type"] == "ContactReceived"
    }
    assert set(FEED_VIEW) == set(PRINCIPALS)
    expected_partner = {
        SCHOOL: ({referred_by[SCHOOL], share["id"]}, {concern["id"]}),
        HEALTH: ({referred_by[HEALTH]}, set()),
    }

    # When every principal reads the whole feed
    wrong: list[str] = []
    for principal, view in FEED_VIEW.items():
        headers = _headers(token, principal, case_id)
        got = _whole_feed(client, headers)
        if view == "refused":
            assert isinstance(got, httpx.Response)
            if got.status_code != 403:
                wrong.append(f"{principal}: {got.status_code}, expected 403")
            continue
        assert isinstance(got, list), (principal, got.text if hasattr(got, "text") else got)
        ours = [e for e in got if e["case_id"] == case_id]
        full = {e["id"] for e in ours if "data" in e}
        placeholders = {e["id"] for e in ours if "note" in e}
        text = json.dumps(ours)
        # Then the matrix case's events are there as the principal's view allows
        if view == "full":
            expected: tuple[set[str], set[str]] = ({e["id"] for e in stored}, set())
        elif view == "partner":
            expected = expected_partner[PRINCIPALS[principal].agency]
        else:
            expected = (set(), set())
        if (full, placeholders) != expected:
            wrong.append(f"{principal}: {len(full)} full, {len(placeholders)} placeholders")
        if view != "full":
            # And nothing a partner may not read leaks: not the child, not the restricted text
            assert CHILD_NAME not in text, principal
            assert SECRET not in text, principal
        # And another authority's case reaches only its own CSC and reviewers of every case
        reaches = any(e["case_id"] == elsewhere for e in got)
        if reaches != (principal in ("other authority's csc", "reviewer of every case")):
            wrong.append(f"{principal}: sees the other authority's case: {reaches}")
    assert not wrong, "\n".join(["feeds that differ from their view:", *wrong])

    # And each page that carried the case was audited against it, and only those
    reads = client.get(
        f"/cases/{case_id}/audit", params={"kind": "read"}, headers=token(roles=("manager",))
    ).json()["entries"]
    readers = {r["who"]["sub"] for r in reads if r["endpoint"] == FEED}
    assert readers == {_sub(p) for p, view in FEED_VIEW.items() if view in ("full", "partner")}


# Whose `GET /alerts` lists the matrix case's alerts: the owning authority's staff and systems,
# its integrator, and the reviewers given the case; never a partner, nor break-glass.
SEES_CASE_ALERTS = {
    "csc practitioner",
    "csc manager",
    "csc system",
    "reviewer of the case",
    "reviewer of every case",
    "integrator of the authority",
}


def test_alerts_when_every_principal_lists_them_then_only_owner_and_reviewers_see_the_case(
    client: TestClient, token: Token
) -> None:
    # Given the matrix case, whose concern has no follow-up (an open alert)
    csc = token()
    case_id = _matrix_case(client, csc)
    position = client.app.state.records.recorder.max_notification_id()  # type: ignore[attr-defined]

    # When every principal allowed the list reads it
    wrong = []
    for principal in PRINCIPALS:
        if EXPECTED[(principal, ALERTS)] != 200:
            continue
        headers = {**_headers(token, principal, case_id), "X-Min-Position": str(position)}
        alerts = client.get("/alerts", headers=headers).json()["alerts"]
        sees = any(a["case_id"] == case_id for a in alerts)
        # Then only the owner and the case's reviewers see its alerts
        if sees != (principal in SEES_CASE_ALERTS):
            wrong.append(f"{principal}: sees the case's alerts: {sees}")
        # And caseloads, for those allowed, count the case only for them
        if EXPECTED[(principal, CASELOADS)] == 200:
            loads = client.get("/caseloads", headers=headers).json()
            counted = sum(t["open_cases"] for t in loads["teams"])
            if (counted > 0) != (principal in SEES_CASE_ALERTS):
                wrong.append(f"{principal}: caseloads count {counted} open cases")
    assert not wrong, "\n".join(wrong)


# --- what partners may post ----------------------------------------------------------------------


def _referred_case(client: TestClient, csc: Headers, *more: dict[str, Any]) -> str:
    """A case the school referred, its episode open."""
    case_id, _ = open_case(
        client,
        csc,
        _contact("2026-10-01", SCHOOL),
        _accepted("2026-10-02"),
        *more,
        occurred_at="2026-10-01",
    )
    return case_id


def _school(token: Token, roles: tuple[str, ...] = ("practitioner",)) -> Headers:
    return token(agency=SCHOOL, roles=roles, sub="ann.jones", name="Ann Jones")


def _version(client: TestClient, csc: Headers, case_id: str) -> int:
    return int(client.get(f"/cases/{case_id}", headers=csc).json()["version"])


def test_partner_when_posting_a_type_only_csc_posts_then_refused_naming_the_type(
    client: TestClient, token: Token
) -> None:
    # Given a case the school is involved in
    csc = token()
    case_id = _referred_case(client, csc)
    before = _version(client, csc, case_id)

    # When the school posts a strategy discussion
    response = append(
        client, _school(token), case_id, event("StrategyDiscussionHeld", "2026-10-03")
    )

    # Then it is refused, with a reason naming the type, and nothing is stored
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "StrategyDiscussionHeld" in response.json()["detail"]
    assert _version(client, csc, case_id) == before


def test_partner_when_correcting_entries_then_only_its_own_agencys(
    client: TestClient, token: Token
) -> None:
    # Given a note by children's social care and a note by the school
    csc, school = token(), _school(token)
    case_id = _referred_case(client, csc)
    csc_note, school_note = event("CaseNoteRecorded", "2026-10-03"), event("CaseNoteRecorded")
    assert append(client, csc, case_id, csc_note).status_code == 201
    assert append(client, school, case_id, school_note).status_code == 201

    # When the school corrects each
    theirs = append(client, school, case_id, event("EntryCorrected", target=csc_note["id"]))
    its_own = append(client, school, case_id, event("EntryCorrected", target=school_note["id"]))

    # Then only its own entry may be corrected; the refusal says why
    assert theirs.status_code == 403, theirs.text
    assert "correct" in theirs.json()["detail"]
    assert its_own.status_code == 201, its_own.text


def test_partner_when_correcting_an_entry_csc_recorded_as_its_author_then_recorded(
    client: TestClient, token: Token
) -> None:
    # Given a note children's social care recorded for the school (the school is its author)
    csc = token()
    case_id = _referred_case(client, csc)
    note = event("CaseNoteRecorded", author={"name": "Ann Jones", "agency": SCHOOL})
    assert append(client, csc, case_id, note).status_code == 201

    # When the school corrects it
    response = append(client, _school(token), case_id, event("EntryCorrected", target=note["id"]))

    # Then it may: the entry is its agency's
    assert response.status_code == 201, response.text


def test_partner_when_retracting_csc_entry_then_refused(client: TestClient, token: Token) -> None:
    # Given a note by children's social care
    csc = token()
    case_id = _referred_case(client, csc)
    note = event("CaseNoteRecorded", "2026-10-03")
    assert append(client, csc, case_id, note).status_code == 201

    # When the school retracts it
    response = append(client, _school(token), case_id, event("EntryRetracted", target=note["id"]))

    # Then it is refused, and the note is still there
    assert response.status_code == 403, response.text
    assert "retract" in response.json()["detail"]
    chronology = client.get(
        f"/cases/{case_id}/chronology", params={"min_significance": "routine"}, headers=csc
    ).json()
    assert note["id"] in {e["event_id"] for e in chronology["entries"]}


def test_involvement_started_when_posted_by_partner_then_for_itself_only(
    client: TestClient, token: Token
) -> None:
    # Given a case the school is involved in
    school = _school(token)
    case_id = _referred_case(client, token())

    # When the school records its own involvement, and then police's
    own = event(
        "AgencyInvolvementStarted",
        "2026-10-03",
        data=payload("AgencyInvolvementStarted", agency=SCHOOL),
    )
    other = event(
        "AgencyInvolvementStarted",
        "2026-10-03",
        data=payload("AgencyInvolvementStarted", agency=POLICE),
    )
    for_itself = append(client, school, case_id, own)
    for_police = append(client, school, case_id, other)

    # Then only its own is recorded; the refusal names the type
    assert for_itself.status_code == 201, for_itself.text
    assert for_police.status_code == 403, for_police.text
    assert "AgencyInvolvementStarted" in for_police.json()["detail"]


def test_alert_acknowledged_when_posted_then_only_by_owning_authoritys_managers(
    client: TestClient, token: Token
) -> None:
    # Given a case with a contact to acknowledge an alert about
    csc = token()
    case_id = _referred_case(client, csc)
    note = event("CaseNoteRecorded", "2026-10-03")
    append(client, csc, case_id, note)

    def acknowledgement() -> dict[str, Any]:
        return event("AlertAcknowledged", "2026-10-04", target=note["id"])

    # When a CSC practitioner, a school manager and a CSC manager acknowledge it
    by_practitioner = append(client, csc, case_id, acknowledgement())
    by_partner_manager = append(client, _school(token, ("manager",)), case_id, acknowledgement())
    by_manager = append(client, token(roles=("manager",), sub="m"), case_id, acknowledgement())

    # Then only the owning authority's manager may
    assert by_practitioner.status_code == 403, by_practitioner.text
    assert "AlertAcknowledged" in by_practitioner.json()["detail"]
    assert by_partner_manager.status_code == 403, by_partner_manager.text
    assert by_manager.status_code == 201, by_manager.text


def _correction(target: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """An EntryCorrected of `target` whose replacement is its payload with `changes`."""
    replacement = {**target["data"], **changes}
    return event("EntryCorrected", data=payload("EntryCorrected", target["id"], data=replacement))


def test_partner_when_correcting_its_referral_to_name_another_agency_then_refused(
    client: TestClient, token: Token
) -> None:
    # Given a contact the school recorded, naming itself as the referrer
    csc, school = token(), _school(token)
    case_id = _referred_case(client, csc)
    contact = _contact("2026-10-03", SCHOOL, contact_id="C-2")
    assert append(client, school, case_id, contact).status_code == 201
    before = _version(client, csc, case_id)

    # When the school corrects it to name the police as the referrer (naming an agency makes it
    # involved: the police would read the case)
    response = append(client, school, case_id, _correction(contact, referrer=_referrer(POLICE)))

    # Then the correction is refused as the contact itself would be, and the police still
    # cannot see the case
    assert response.status_code == 403, response.text
    assert "must name it as the referrer" in response.json()["detail"]
    assert _version(client, csc, case_id) == before
    police = token(agency=POLICE, sub="pc")
    assert client.get(f"/cases/{case_id}", headers=police).status_code == 404


@pytest.mark.parametrize("kind", ["AgencyInvolvementStarted", "AgencyInvolvementEnded"])
def test_partner_when_correcting_its_involvement_to_another_agencys_then_refused(
    client: TestClient, token: Token, kind: str
) -> None:
    # Given the school's record of its own involvement, and the police's recorded by CSC
    csc, school = token(), _school(token)
    police_involved = event(
        "AgencyInvolvementStarted",
        "2026-10-02",
        data=payload("AgencyInvolvementStarted", agency=POLICE),
    )
    case_id = _referred_case(client, csc, police_involved)
    own = event(kind, "2026-10-03", data=payload(kind, agency=SCHOOL))
    assert append(client, school, case_id, own).status_code == 201

    # When the school corrects it to be the police's (starting or ending their involvement),
    # and, separately, corrects it for itself
    for_police = append(client, school, case_id, _correction(own, agency=POLICE))
    for_itself = append(client, school, case_id, _correction(own, role="Designated lead"))

    # Then only the school's own involvement may be recorded by it, corrected or not
    assert for_police.status_code == 403, for_police.text
    assert f"{kind} for another agency" in for_police.json()["detail"]
    assert for_itself.status_code == 201, for_itself.text
    # And the police keep reading the case as before
    police = token(agency=POLICE, sub="pc")
    assert client.get(f"/cases/{case_id}", headers=police).status_code == 200


@pytest.mark.parametrize("referrer", ["x", None, [], 5, {}])
def test_partner_when_correcting_its_referral_with_no_valid_referrer_then_422_not_403_or_500(
    client: TestClient, token: Token, referrer: object
) -> None:
    # Given a contact the school recorded
    csc, school = token(), _school(token)
    case_id = _referred_case(client, csc)
    contact = _contact("2026-10-03", SCHOOL, contact_id="C-2")
    assert append(client, school, case_id, contact).status_code == 201

    # When the school corrects it with a referrer that is no referrer at all
    response = append(client, school, case_id, _correction(contact, referrer=referrer))

    # Then the replacement is refused as an invalid ContactReceived, not as a forbidden one
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("change", ["corrected back", "retracted"])
def test_partner_when_changing_its_entry_children_s_social_care_corrected_then_refused(
    client: TestClient, token: Token, change: str
) -> None:
    # Given the school's involvement, which children's social care corrected to be the police's
    csc, school = token(), _school(token)
    case_id = _referred_case(client, csc)
    own = event(
        "AgencyInvolvementStarted",
        "2026-10-03",
        data=payload("AgencyInvolvementStarted", agency=SCHOOL),
    )
    assert append(client, school, case_id, own).status_code == 201
    assert append(client, csc, case_id, _correction(own, agency=POLICE)).status_code == 201
    police = token(agency=POLICE, sub="pc")
    assert client.get(f"/cases/{case_id}", headers=police).status_code == 200

    # When the school corrects it back to itself, or retracts it
    undo = (
        _correction(own, agency=SCHOOL)
        if change == "corrected back"
        else event("EntryRetracted", "2026-10-04", target=own["id"])
    )
    response = append(client, school, case_id, undo)

    # Then it is refused: as it stands, the entry is one only children's social care posts, and
    # the police keep reading the case
    assert response.status_code == 403, response.text
    assert "AgencyInvolvementStarted as it stands" in response.json()["detail"]
    assert client.get(f"/cases/{case_id}", headers=police).status_code == 200


def test_partner_when_retracting_a_csc_only_entry_typed_in_as_its_own_then_refused(
    client: TestClient, token: Token
) -> None:
    # Given a strategy discussion children's social care recorded with the school as its author
    csc, school = token(), _school(token)
    case_id = _referred_case(client, csc)
    held = event(
        "StrategyDiscussionHeld", "2026-10-03", author={"name": "Ann Jones", "agency": SCHOOL}
    )
    assert append(client, csc, case_id, held).status_code == 201

    # When the school retracts it
    response = append(client, school, case_id, event("EntryRetracted", target=held["id"]))

    # Then it is refused, as correcting it would be: the school could not have posted it
    assert response.status_code == 403, response.text
    assert "StrategyDiscussionHeld" in response.json()["detail"]


def test_csc_owner_when_correcting_another_agencys_involvement_then_recorded(
    client: TestClient, token: Token
) -> None:
    # Given the school's involvement, recorded by the school
    csc, school = token(), _school(token)
    case_id = _referred_case(client, csc)
    own = event(
        "AgencyInvolvementStarted",
        "2026-10-03",
        data=payload("AgencyInvolvementStarted", agency=SCHOOL),
    )
    assert append(client, school, case_id, own).status_code == 201

    # When children's social care corrects it to be the police's
    response = append(client, csc, case_id, _correction(own, agency=POLICE))

    # Then it is recorded: children's social care records involvement for any agency
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("kind", ["EntryCorrected", "EntryRetracted"])
def test_alert_acknowledged_when_corrected_or_retracted_then_only_by_owning_authoritys_managers(
    client: TestClient, token: Token, kind: str
) -> None:
    # Given a manager's acknowledgement of an alert
    csc = token()
    manager = token(roles=("manager",), sub="m")
    case_id = _referred_case(client, csc)
    note = event("CaseNoteRecorded", "2026-10-03")
    acknowledged = event("AlertAcknowledged", "2026-10-04", target=note["id"])
    assert append(client, csc, case_id, note).status_code == 201
    assert append(client, manager, case_id, acknowledged).status_code == 201
    before = _version(client, csc, case_id)

    def change() -> dict[str, Any]:
        if kind == "EntryRetracted":
            return event(kind, "2026-10-05", target=acknowledged["id"])
        return _correction(acknowledged, rule="break-glass-access", note="nothing to see")

    # When a practitioner of the owning authority corrects or retracts it, then a manager does
    by_practitioner = append(client, csc, case_id, change())
    version_after_refusal = _version(client, csc, case_id)
    by_manager = append(client, manager, case_id, change())

    # Then only a manager may change a manager's decision
    assert by_practitioner.status_code == 403, by_practitioner.text
    assert "managers" in by_practitioner.json()["detail"]
    assert version_after_refusal == before
    assert by_manager.status_code == 201, by_manager.text


def test_reviewer_with_a_writer_role_when_posting_then_writes_only_as_its_own_agency(
    client: TestClient, token: Token
) -> None:
    # Given a case; a school practitioner, and an inspector with a practitioner role, each also
    # a reviewer of the case
    csc = token()
    case_id = _referred_case(client, csc)
    school_reviewer = token(
        agency=SCHOOL, roles=("practitioner", "reviewer"), sub="sr", cases=[case_id]
    )
    inspector = token(
        agency=INSPECTORATE, roles=("practitioner", "reviewer"), sub="in", cases=[case_id]
    )
    before = _version(client, csc, case_id)

    # When each posts a type only children's social care posts
    by_school = append(client, school_reviewer, case_id, event("StrategyDiscussionHeld"))
    by_inspector = append(client, inspector, case_id, event("StrategyDiscussionHeld"))

    # Then the reviewer role grants no writing: the school writes as a partner, the inspectorate
    # (not involved) not at all, and nothing is stored; both may still read the case
    assert by_school.status_code == 403, by_school.text
    assert by_inspector.status_code == 404, by_inspector.text
    assert _version(client, csc, case_id) == before
    assert client.get(f"/cases/{case_id}", headers=inspector).status_code == 200


def test_csc_manager_who_is_also_a_reviewer_when_posting_then_writes_as_owner(
    client: TestClient, token: Token
) -> None:
    # Given the owning authority's manager, whose token also makes it a reviewer of the case
    csc = token()
    case_id = _referred_case(client, csc)
    manager = token(roles=("manager", "reviewer"), sub="m", cases=[case_id])

    # When it records a strategy discussion
    response = append(client, manager, case_id, event("StrategyDiscussionHeld", "2026-10-03"))

    # Then it is recorded: the reviewer role takes nothing from the owner's rights
    assert response.status_code == 201, response.text


# --- restricted entries --------------------------------------------------------------------------

SECRET = "Burn marks on the back of Amy's hand, ZX-4471"
SECRET_LOCATION = "back of the right hand, ZX-4472"
SECRET_EXPLANATION = "Said her uncle did it, ZX-4473"


def _restricted_concern(agency: str) -> dict[str, Any]:
    return event(
        "ConcernObserved",
        "2026-10-05",
        data=payload(
            "ConcernObserved",
            description=SECRET,
            body_location=SECRET_LOCATION,
            explanation_given=SECRET_EXPLANATION,
        ),
        sensitivity="restricted",
        author={"name": "Sam Patel", "role": "social worker", "agency": agency},
        source={"system": "mosaic", "reference": "ZX-4474"},
    )


def _entry(chronology: dict[str, Any], event_id: str) -> dict[str, Any]:
    found = [e for e in chronology["entries"] if e["event_id"] == event_id]
    assert len(found) == 1, chronology
    return found[0]


def test_restricted_csc_entry_when_partner_reads_chronology_then_placeholder_only(
    client: TestClient, token: Token
) -> None:
    # Given a restricted concern recorded by children's social care
    csc, school = token(), _school(token)
    case_id = _referred_case(client, csc)
    concern = _restricted_concern(LA)
    assert append(client, csc, case_id, concern).status_code == 201

    # When the school reads the chronology (JSON and CSV)
    response = client.get(f"/cases/{case_id}/chronology", headers=school)
    as_csv = client.get(f"/cases/{case_id}/chronology", params={"format": "csv"}, headers=school)

    # Then the entry is there, never silently dropped: its date and type, nothing more
    assert response.status_code == 200
    line = _entry(response.json(), concern["id"])
    assert line["headline"] == RESTRICTED == "A restricted entry exists — ask the allocated worker"
    assert line["restricted"] is True
    assert line["type"] == "ConcernObserved"
    assert line["date"] == "5 October 2026"
    assert line["occurred_at"] == "2026-10-05"
    assert line["author"] is None
    assert line["source"] is None
    assert line["action"] is None
    assert line["annotations"] == line["corrections"] == []
    # And none of its payload is anywhere in the response
    for text in (SECRET, SECRET_LOCATION, SECRET_EXPLANATION, "ZX-4474", "Sam Patel"):
        assert text not in response.text
        assert text not in as_csv.text
    # While children's social care reads it in full
    full = client.get(f"/cases/{case_id}/chronology", headers=csc)
    assert SECRET_LOCATION in _entry(full.json(), concern["id"])["headline"]
    assert _entry(full.json(), concern["id"])["author"]["name"] == "Sam Patel"


def test_restricted_csc_entry_when_partner_reads_raw_events_then_not_included(
    client: TestClient, token: Token
) -> None:
    # Given a restricted concern recorded by children's social care
    csc, school = token(), _school(token)
    case_id = _referred_case(client, csc)
    concern = _restricted_concern(LA)
    append(client, csc, case_id, concern)
    own = event("CaseNoteRecorded", "2026-10-06")
    append(client, school, case_id, own)

    # When the school reads the raw events
    response = client.get(f"/cases/{case_id}/events", headers=school)

    # Then it gets its own agency's entries only
    assert response.status_code == 200
    ids = [e["id"] for e in response.json()["events"]]
    assert ids == [own["id"]]
    assert SECRET not in response.text


def test_restricted_csc_concern_when_partner_reads_state_then_description_withheld(
    client: TestClient, token: Token
) -> None:
    # Given an open restricted concern recorded by children's social care
    csc, school = token(), _school(token)
    case_id = _referred_case(client, csc)
    concern = _restricted_concern(LA)
    append(client, csc, case_id, concern)

    # When the school and children's social care read the state
    as_partner = client.get(f"/cases/{case_id}", headers=school)
    as_owner = client.get(f"/cases/{case_id}", headers=csc).json()

    # Then the school sees that the concern is open, not what it says
    assert as_partner.status_code == 200
    (open_concern,) = as_partner.json()["open_concerns"]
    assert open_concern["event_id"] == concern["id"]
    assert open_concern["description"] == RESTRICTED
    assert SECRET not in as_partner.text
    assert [c["description"] for c in as_owner["open_concerns"]] == [SECRET]


def test_partner_own_restricted_entry_when_read_by_it_then_shown_in_full(
    client: TestClient, token: Token
) -> None:
    # Given a restricted concern the school recorded, and health also involved
    csc, school = token(), _school(token)
    health = token(agency=HEALTH, sub="gp")
    involved = event(
        "AgencyInvolvementStarted",
        "2026-10-02",
        data=payload("AgencyInvolvementStarted", agency=HEALTH),
    )
    case_id = _referred_case(client, csc, involved)
    concern = _restricted_concern(SCHOOL)
    assert append(client, school, case_id, concern).status_code == 201

    # When the school reads its chronology, state and raw events
    chronology = client.get(f"/cases/{case_id}/chronology", headers=school)
    state = client.get(f"/cases/{case_id}", headers=school).json()
    raw = client.get(f"/cases/{case_id}/events", headers=school).json()

    # Then its own entry is shown in full, marked restricted
    line = _entry(chronology.json(), concern["id"])
    assert line["headline"] != RESTRICTED
    assert line["restricted"] is True
    assert line["author"]["name"] == "Sam Patel"
    assert SECRET_LOCATION in line["headline"]
    assert [c["description"] for c in state["open_concerns"]] == [SECRET]
    assert [e["id"] for e in raw["events"]] == [concern["id"]]
    # While to another partner it is a placeholder
    to_health = client.get(f"/cases/{case_id}/chronology", headers=health)
    assert _entry(to_health.json(), concern["id"])["headline"] == RESTRICTED
    assert SECRET_LOCATION not in to_health.text


def test_restricted_csc_follow_up_when_partner_reads_its_concern_then_action_withheld(
    client: TestClient, token: Token
) -> None:
    # Given the school's concern, followed up by children's social care in a restricted entry
    csc, school = token(), _school(token)
    case_id = _referred_case(client, csc)
    concern = event("ConcernObserved", "2026-10-05")
    append(client, school, case_id, concern)
    follow_up = event(
        "ConcernFollowedUp",
        "2026-10-06",
        data=payload(
            "ConcernFollowedUp", concern["id"], action="Moved to a refuge, ZX-5501", outcome="Safe"
        ),
        sensitivity="restricted",
    )
    assert append(client, csc, case_id, follow_up).status_code == 201

    # When the school and children's social care read the chronology
    as_partner = client.get(f"/cases/{case_id}/chronology", headers=school)
    as_owner = client.get(f"/cases/{case_id}/chronology", headers=csc)

    # Then the restricted follow-up's words never reach the school, even as its concern's action
    assert _entry(as_partner.json(), concern["id"])["headline"] != RESTRICTED
    assert "ZX-5501" not in as_partner.text
    assert "ZX-5501" in _entry(as_owner.json(), concern["id"])["action"]


# --- opening a case ------------------------------------------------------------------------------


def test_partner_when_opening_with_a_referral_naming_itself_then_opened_and_readable(
    client: TestClient, token: Token
) -> None:
    # Given a police officer with a referral of its own
    police = token(agency=POLICE, sub="pc")
    opened = event("CaseOpened", "2026-11-25")

    # When it opens a case with CaseOpened and the ContactReceived naming police
    response = client.post(
        "/cases", json={"events": [opened, _contact("2026-11-25", POLICE)]}, headers=police
    )

    # Then the case is opened, owned by the local authority, and police may read it as involved
    assert response.status_code == 201, response.text
    case_id = response.json()["case_id"]
    state = client.get(f"/cases/{case_id}", headers=police)
    assert state.status_code == 200
    assert state.json()["local_authority"] == LA
    assert [a["agency"] for a in state.json()["involved_agencies"]] == [POLICE]
    assert client.get(f"/cases/{case_id}/chronology", headers=police).status_code == 200
    assert client.get(f"/cases/{case_id}", headers=token()).status_code == 200


@pytest.mark.parametrize(
    ("batch", "says"),
    [
        pytest.param(["CaseOpened"], "referral", id="case-opened-only"),
        pytest.param(["CaseOpened", "ConcernObserved"], "referral", id="no-contact"),
        pytest.param(["CaseOpened", "contact-from-school"], POLICE, id="referral-names-another"),
        pytest.param(
            ["CaseOpened", "ContactReceived", "StrategyDiscussionHeld"],
            "StrategyDiscussionHeld",
            id="csc-type-after-referral",
        ),
    ],
)
def test_partner_when_opening_without_its_own_referral_then_refused(
    client: TestClient, token: Token, batch: list[str], says: str
) -> None:
    # Given a police officer's batch that is not (only) a referral by police
    police = token(agency=POLICE, sub="pc")
    events = [
        _contact("2026-11-25", POLICE)
        if kind == "ContactReceived"
        else _contact("2026-11-25", SCHOOL)
        if kind == "contact-from-school"
        else event(kind, "2026-11-25")
        for kind in batch
    ]

    # When it tries to open a case with it
    response = client.post("/cases", json={"events": events}, headers=police)

    # Then it is refused with the reason, and no case exists
    assert response.status_code == 403, response.text
    assert says in response.json()["detail"]
    case_id = derived_case_id(events[0]["id"])
    assert client.get(f"/cases/{case_id}", headers=token()).status_code == 404


def test_owning_csc_when_opening_without_a_referral_then_opened(
    client: TestClient, token: Token
) -> None:
    # Given children's social care of the authority the case will belong to
    csc = token()

    # When it opens a case with CaseOpened alone
    response = client.post("/cases", json={"events": [event("CaseOpened")]}, headers=csc)

    # Then the case is opened
    assert response.status_code == 201, response.text
    assert client.get(f"/cases/{response.json()['case_id']}", headers=csc).status_code == 200


def test_csc_when_opening_a_case_of_another_authority_without_a_referral_then_refused_saying_so(
    client: TestClient, token: Token
) -> None:
    # Given Barsetshire's children's social care, and a CaseOpened naming Wessex as the owner
    opened = event("CaseOpened", data=payload("CaseOpened", local_authority=OTHER_LA))

    # When Barsetshire opens it with the CaseOpened alone
    response = client.post("/cases", json={"events": [opened]}, headers=token())

    # Then it is refused, saying that Wessex opens its own cases and Barsetshire refers
    assert response.status_code == 403, response.text
    detail = response.json()["detail"]
    assert f"a case of {OTHER_LA} is opened by its own children's social care" in detail
    assert f"{LA} opens it with a referral" in detail


# --- a closed case and the access period ---------------------------------------------------------


def _closed_case(client: TestClient, csc: Headers, closed_on: str) -> str:
    """A case the school referred into its last episode, closed on `closed_on`."""
    case_id, _ = open_case(
        client,
        csc,
        _contact("2024-03-01", SCHOOL),
        _accepted("2024-03-02"),
        event("ConcernObserved", "2024-03-05"),
        _closed(closed_on, SCHOOL),
        occurred_at="2024-03-01",
    )
    return case_id


def test_closed_case_when_partner_was_in_its_last_episode_then_still_readable(
    client: TestClient, token: Token
) -> None:
    # Given a case closed in January 2025, the school involved in its last episode
    case_id = _closed_case(client, token(), "2025-01-15")
    school = _school(token)

    # When the school reads it in November 2026
    state = client.get(f"/cases/{case_id}", headers=school)
    chronology = client.get(f"/cases/{case_id}/chronology", headers=school)

    # Then it may: closing the case did not cut the school off
    assert state.status_code == 200
    assert state.json()["status"] == "closed"
    assert state.json()["involved_agencies"][0]["involved_to"] == "2025-01-15"
    assert chronology.status_code == 200
    assert "CaseClosed" in {e["type"] for e in chronology.json()["entries"]}


def test_closed_case_when_clock_passes_closure_plus_access_period_then_partner_refused(
    client: TestClient, token: Token, clock: SettableClock
) -> None:
    # Given a case closed on 15 January 2025, the school involved in its last episode
    case_id = _closed_case(client, token(), "2025-01-15")
    school = _school(token)

    # When the clock reaches the last minute of 15 January 2027, then the next day
    clock.set(datetime(2027, 1, 15, 23, 59, tzinfo=UTC))
    last_day = [client.get(f"/cases/{case_id}{p}", headers=school) for p in ("", "/chronology")]
    clock.set(datetime(2027, 1, 16, 0, 0, 1, tzinfo=UTC))
    after = [client.get(f"/cases/{case_id}{p}", headers=school) for p in ("", "/chronology")]
    write = append(client, school, case_id, event("CaseNoteRecorded", "2027-01-16"))

    # Then it reads to the end of the day two years after its involvement ended, and then is
    # answered as anyone else: 404
    assert [r.status_code for r in last_day] == [200, 200]
    assert [r.status_code for r in after] == [404, 404]
    assert write.status_code == 404
    # While children's social care still reads it
    assert client.get(f"/cases/{case_id}", headers=token()).status_code == 200


def test_closed_case_when_access_period_is_zero_then_partner_refused_day_after_closure(
    settings: Settings, clock: SettableClock
) -> None:
    # Given an app whose partners keep no access after their involvement ends
    clock.set(datetime(2026, 11, 20, 18, 0, tzinfo=UTC))
    app = create_app(settings.model_copy(update={"partner_access_years": 0}), clock)
    with TestClient(app) as client:

        def token(agency: str, sub: str) -> Headers:
            jwt = app.state.tokens.mint(
                sub=sub, name=sub, agency=agency, roles=["practitioner"], cases=None
            )
            return {"Authorization": f"Bearer {jwt}"}

        school = token(SCHOOL, "ann.jones")
        case_id, _ = open_case(
            client,
            token(LA, "ann.worker"),
            _contact("2026-11-01", SCHOOL),
            _accepted("2026-11-02"),
            _closed("2026-11-20", SCHOOL),
            occurred_at="2026-11-01",
        )

        # When the school reads on the day of closure, then the day after
        same_day = client.get(f"/cases/{case_id}", headers=school)
        clock.set(datetime(2026, 11, 21, 0, 0, 1, tzinfo=UTC))
        next_day = client.get(f"/cases/{case_id}", headers=school)

    # Then it reads to the end of the closure day, and not after
    assert same_day.status_code == 200
    assert next_day.status_code == 404


def test_old_referral_when_a_later_one_opens_an_episode_then_its_referrer_stays_refused(
    client: TestClient, token: Token
) -> None:
    # Given a police contact in January 2020 whose strategy discussion decided no s47 enquiry,
    # no episode opened; and in October 2026 a school's contact
    csc = token()
    police = token(agency=POLICE, sub="pc.brown", name="PC Brown")
    decided = payload("ContactDecisionMade", contact_id="C-2020", outcome="strategy_discussion")
    case_id, _ = open_case(
        client,
        csc,
        _contact("2020-01-10", POLICE, "C-2020"),
        event("ContactDecisionMade", "2020-01-11", data=decided),
        event(
            "StrategyDiscussionHeld",
            "2020-01-12",
            data=payload("StrategyDiscussionHeld", decision="no_s47"),
        ),
        _contact("2026-10-01", SCHOOL, "C-2026"),
        occurred_at="2020-01-10",
    )
    before = client.get(f"/cases/{case_id}/chronology", headers=police)

    # When children's social care accepts the school's referral
    assert append(client, csc, case_id, _accepted("2026-10-02", "C-2026")).status_code == 201
    after = client.get(f"/cases/{case_id}/chronology", headers=police)

    # Then the police, whose access ended in January 2022, are refused as before
    assert before.status_code == 404
    assert after.status_code == 404
    assert client.get(f"/cases/{case_id}/chronology", headers=_school(token)).status_code == 200


# --- the partner's chronology --------------------------------------------------------------------


def _ids(client: TestClient, headers: Headers, case_id: str, **params: str) -> set[str]:
    response = client.get(f"/cases/{case_id}/chronology", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return {e["event_id"] for e in response.json()["entries"]}


def test_partner_chronology_when_routine_notes_posted_then_sees_its_own_not_cscs(
    client: TestClient, token: Token
) -> None:
    # Given a routine note by the school, a routine note by children's social care, and a
    # significant concern by children's social care
    csc, school = token(), _school(token)
    case_id = _referred_case(client, csc)
    school_note = event("CaseNoteRecorded", "2026-10-03")
    csc_note = event("CaseNoteRecorded", "2026-10-04")
    csc_concern = event("ConcernObserved", "2026-10-05")
    append(client, school, case_id, school_note)
    append(client, csc, case_id, csc_note, csc_concern)

    # When the school reads the chronology, by default and asking for routine entries too
    default = _ids(client, school, case_id)
    routine = _ids(client, school, case_id, min_significance="routine")

    # Then by default it sees the significant entries (routine ones are left out for every
    # reader by default); asking for routine ones adds its own note, never CSC's
    assert csc_concern["id"] in default
    assert not {school_note["id"], csc_note["id"]} & default
    assert {school_note["id"], csc_concern["id"]} <= routine
    assert csc_note["id"] not in routine
    # While children's social care sees both notes when it asks for routine entries
    assert {school_note["id"], csc_note["id"]} <= _ids(
        client, csc, case_id, min_significance="routine"
    )


def test_partner_chronology_when_entries_shared_with_it_then_shown_in_full_even_if_routine(
    client: TestClient, token: Token
) -> None:
    # Given routine entries by children's social care: minutes circulated to the school,
    # information shared with it and the concern that information is about (both reassessed as
    # routine); and minutes circulated only to health
    csc, school = token(), _school(token)
    case_id = _referred_case(client, csc)
    concern = event("ConcernObserved", "2026-10-03")
    shared = event(
        "InformationShared",
        "2026-10-04",
        data=payload(
            "InformationShared",
            concern["id"],
            **{"with": [{"agency": SCHOOL}]},
            summary="Concern history for the core group",
        ),
    )
    to_school = event(
        "MinutesCirculated",
        "2026-10-05",
        data=payload(
            "MinutesCirculated",
            recipients=[{"name": "Ann Jones", "agency": SCHOOL, "role": "DSL"}],
            channel="secure email",
        ),
    )
    to_health = event(
        "MinutesCirculated",
        "2026-10-05",
        data=payload("MinutesCirculated", recipients=[{"name": "Dr Ruth Green", "agency": HEALTH}]),
    )
    routine = [
        event(
            "SignificanceAssessed",
            "2026-10-06",
            data=payload(
                "SignificanceAssessed", target, significance="routine", rationale="Background"
            ),
        )
        for target in (concern["id"], shared["id"])
    ]
    assert append(client, csc, case_id, concern, shared, to_school, to_health).status_code == 201
    assert append(client, csc, case_id, *routine).status_code == 201

    # When the school and children's social care read the chronology, routine entries included
    response = client.get(
        f"/cases/{case_id}/chronology", params={"min_significance": "routine"}, headers=school
    )
    full = client.get(
        f"/cases/{case_id}/chronology", params={"min_significance": "routine"}, headers=csc
    )

    # Then what was shared with it is there in full, whatever its significance: the same line
    # children's social care reads
    entries = {e["event_id"]: e for e in response.json()["entries"]}
    owners = {e["event_id"]: e for e in full.json()["entries"]}
    for item in (concern, shared, to_school):
        line = entries[item["id"]]
        assert line["significance"] == "routine"
        assert {**line, "seq": None} == {**owners[item["id"]], "seq": None}
    # And what was not shared with it, routine, is not
    assert to_health["id"] not in entries


def _routine(target: dict[str, Any], occurred_at: str) -> dict[str, Any]:
    """A reassessment of `target` as routine."""
    return event(
        "SignificanceAssessed",
        occurred_at,
        data=payload(
            "SignificanceAssessed", target["id"], significance="routine", rationale="Background"
        ),
    )


def _information_shared(occurred_at: str, agency: str, *concerns: dict[str, Any]) -> dict[str, Any]:
    return event(
        "InformationShared",
        occurred_at,
        data=payload(
            "InformationShared",
            **{"with": [{"agency": agency}]},
            concern_event_ids=[c["id"] for c in concerns],
        ),
    )


def test_partner_chronology_when_its_own_share_names_a_routine_concern_then_not_shown(
    client: TestClient, token: Token
) -> None:
    # Given a concern by children's social care, reassessed as routine; and information the
    # school shares with the police naming it
    csc, school = token(), _school(token)
    case_id = _referred_case(client, csc)
    concern = event("ConcernObserved", "2026-10-03")
    assert append(client, csc, case_id, concern, _routine(concern, "2026-10-04")).status_code == 201
    share = _information_shared("2026-10-05", POLICE, concern)
    assert append(client, school, case_id, share).status_code == 201

    # When the school reads the chronology, routine entries included
    seen = _ids(client, school, case_id, min_significance="routine")

    # Then its share is there, and not the concern: what the school shares with others is not
    # shared with it
    assert share["id"] in seen
    assert concern["id"] not in seen


def test_partner_chronology_when_another_partner_shares_then_shown_in_full_only_if_named(
    client: TestClient, token: Token
) -> None:
    # Given the police involved, with two concerns of their own (reassessed as routine by
    # children's social care): one shared with the school, the other only with health
    csc, school = token(), _school(token)
    police = token(agency=POLICE, sub="pc")
    involved = event(
        "AgencyInvolvementStarted",
        "2026-10-02",
        data=payload("AgencyInvolvementStarted", agency=POLICE),
    )
    case_id = _referred_case(client, csc, involved)
    to_school = event("ConcernObserved", "2026-10-03")
    to_health = event("ConcernObserved", "2026-10-03")
    routine = [_routine(c, "2026-10-04") for c in (to_school, to_health)]
    shares = [
        _information_shared("2026-10-05", SCHOOL, to_school),
        _information_shared("2026-10-05", HEALTH, to_health),
    ]
    assert append(client, police, case_id, to_school, to_health).status_code == 201
    assert append(client, csc, case_id, *routine).status_code == 201
    assert append(client, police, case_id, *shares).status_code == 201

    # When the school reads the chronology, routine entries included
    seen = _ids(client, school, case_id, min_significance="routine")

    # Then the concern shared with it is there in full; the one shared only with health is not
    assert to_school["id"] in seen
    assert to_health["id"] not in seen


def test_partner_chronology_when_a_share_names_an_entry_that_is_no_concern_then_not_shown(
    client: TestClient, token: Token
) -> None:
    # Given the police involved, and a routine case note of children's social care, which the
    # police name among the "concerns" of information they share with the school
    csc, school = token(), _school(token)
    police = token(agency=POLICE, sub="pc")
    involved = event(
        "AgencyInvolvementStarted",
        "2026-10-02",
        data=payload("AgencyInvolvementStarted", agency=POLICE),
    )
    case_id = _referred_case(client, csc, involved)
    note = event(
        "CaseNoteRecorded", "2026-10-03", data={"kind": "phone call", "text": "Mum at refuge"}
    )
    assert append(client, csc, case_id, note).status_code == 201
    assert (
        append(client, police, case_id, _information_shared("2026-10-05", SCHOOL, note)).status_code
        == 201
    )

    # When the school reads the chronology, routine entries included
    seen = _ids(client, school, case_id, min_significance="routine")

    # Then the note is not shared with it: a share shares the concerns it names, nothing else
    assert note["id"] not in seen


# --- the audit's own visibility ------------------------------------------------------------------


def _audited_case(client: TestClient, token: Token) -> str:
    """A case the school referred; the school wrote and read, CSC read, police broke glass."""
    csc, school = token(), _school(token)
    case_id = _referred_case(client, csc)
    assert (
        append(client, school, case_id, event("ConcernObserved", "2026-10-05")).status_code == 201
    )
    assert client.get(f"/cases/{case_id}", headers=school).status_code == 200
    assert client.get(f"/cases/{case_id}/chronology", headers=csc).status_code == 200
    glass = {**token(agency=POLICE, sub="pc.lee"), "X-Access-Purpose": EMERGENCY}
    assert client.get(f"/cases/{case_id}/chronology", headers=glass).status_code == 200
    return case_id


def _trail(client: TestClient, headers: Headers, case_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/cases/{case_id}/audit", headers=headers)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def test_audit_when_read_by_csc_practitioner_then_only_csc_entries(
    client: TestClient, token: Token
) -> None:
    # Given a case written and read by children's social care, the school and police
    case_id = _audited_case(client, token)

    # When a CSC practitioner (not a manager) reads the audit
    trail = _trail(client, token(sub="bo.worker"), case_id)

    # Then it sees its own agency's writes and reads, nobody else's
    assert {e["who"]["agency"] for e in trail} == {LA}
    assert {e["kind"] for e in trail} == {"read", "write"}
    assert not any(e["break_glass"] for e in trail)


def test_audit_when_read_by_partner_then_only_its_own_entries(
    client: TestClient, token: Token
) -> None:
    # Given a case written and read by children's social care, the school and police
    case_id = _audited_case(client, token)

    # When the school reads the audit, and asks for CSC's entries
    trail = _trail(client, _school(token), case_id)
    response = client.get(f"/cases/{case_id}/audit", params={"agency": LA}, headers=_school(token))

    # Then it sees only its own agency's write and reads
    assert {e["who"]["agency"] for e in trail} == {SCHOOL}
    assert [e["type"] for e in trail if e["kind"] == "write"] == ["ConcernObserved"]
    assert {e["endpoint"] for e in trail if e["kind"] == "read"} >= {"GET /cases/{case_id}"}
    assert response.status_code == 200
    assert response.json()["entries"] == []


def test_audit_when_break_glass_read_then_owning_managers_see_it_as_such(
    client: TestClient, token: Token
) -> None:
    # Given a case police read by breaking glass
    case_id = _audited_case(client, token)

    # When the owning authority's manager reads the audit
    trail = _trail(client, token(roles=("manager",), sub="m"), case_id)

    # Then the break-glass read is there, with its reason, and no other read is flagged
    reads = [e for e in trail if e["kind"] == "read"]
    (glass,) = [e for e in reads if e["break_glass"]]
    assert glass["who"]["agency"] == POLICE
    assert glass["who"]["sub"] == "pc.lee"
    assert glass["endpoint"] == "GET /cases/{case_id}/chronology"
    assert glass["purpose"] == EMERGENCY
    assert glass["view"] == "full"
    assert {e["who"]["agency"] for e in reads if not e["break_glass"]} == {LA, SCHOOL}
    # And the school's own audit does not show it
    assert not any(e["break_glass"] for e in _trail(client, _school(token), case_id))
