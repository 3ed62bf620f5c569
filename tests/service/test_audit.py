"""Every read of case data is audited, in its own store; the audit trail and who may see it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.testclient import TestClient

from service.api.guard import AuditedRoute, is_access_dependency
from service.clock import SettableClock
from tests.support import LOCAL_AUTHORITY, app_routes, append, event, open_case, payload

Headers = dict[str, str]
Token = Callable[..., Headers]
OPEN_PATHS = {
    "/health",
    "/ready",
    "/metrics",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/openapi.json",
}
SCHOOL = "school:st-marys-primary"
POLICE = "police:barsetshire"


def _declares_access(dependant: Dependant) -> bool:
    return any(is_access_dependency(d.call) or _declares_access(d) for d in dependant.dependencies)


def test_routes_when_walked_then_every_case_data_route_is_audited(client: TestClient) -> None:
    # Given every route of the app
    routes = [r for r in app_routes(client.app) if r.path not in OPEN_PATHS]  # type: ignore[arg-type]
    assert routes
    for route in routes:
        # Then it writes its reads to the audit before answering
        assert isinstance(route, AuditedRoute), f"{route.path} is not an AuditedRoute"
        # And every read declares the access decision the audit records
        if "GET" in route.methods:
            assert _declares_access(route.dependant), f"GET {route.path} declares no access"


def _case(client: TestClient, headers: Headers) -> str:
    case_id, _ = open_case(client, headers)
    return case_id


def _trail(
    client: TestClient, headers: Headers, case_id: str, **params: Any
) -> list[dict[str, Any]]:
    response = client.get(f"/cases/{case_id}/audit", headers=headers, params=params)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def test_read_when_served_then_audited_with_who_what_and_purpose(
    client: TestClient, token: Token
) -> None:
    # Given a case, and a practitioner reading its chronology with a stated purpose
    worker = token()
    case_id = _case(client, worker)
    client.get(
        f"/cases/{case_id}/chronology",
        params={"as_of": "2013-06-01", "known_at": "2026-11-27"},
        headers={**worker, "X-Access-Purpose": "preparing the strategy discussion"},
    )

    # When a manager of the owning authority reads the audit trail
    reads = _trail(client, token(roles=("manager",), sub="m"), case_id, kind="read")

    # Then the read is there: who, the endpoint and its parameters, the purpose
    read = next(r for r in reads if r["endpoint"] == "GET /cases/{case_id}/chronology")
    assert read["who"]["sub"] == "ann.worker"
    assert read["who"]["agency"] == LOCAL_AUTHORITY
    assert read["params"]["as_of"] == "2013-06-01"
    assert read["params"]["known_at"] == "2026-11-27"
    assert read["purpose"] == "preparing the strategy discussion"
    assert read["break_glass"] is False
    assert read["view"] == "full"


def test_not_modified_when_answered_then_audited(client: TestClient, token: Token) -> None:
    # Given a state read and its ETag
    worker = token()
    case_id = _case(client, worker)
    etag = client.get(f"/cases/{case_id}", headers=worker).headers["ETag"]

    # When the state is asked for again with If-None-Match
    again = client.get(f"/cases/{case_id}", headers={**worker, "If-None-Match": etag})

    # Then the 304 is audited too
    assert again.status_code == 304
    reads = _trail(client, token(roles=("manager",)), case_id, kind="read")
    assert [r["status"] for r in reads if r["endpoint"] == "GET /cases/{case_id}"] == [200, 304]


def test_break_glass_when_used_then_read_served_and_audited_as_such(
    client: TestClient, token: Token
) -> None:
    # Given a case police are not involved in
    case_id = _case(client, token())
    police = token(agency=POLICE, sub="pc")

    # When police read it without, then with, an emergency purpose
    refused = client.get(f"/cases/{case_id}", headers=police)
    allowed = client.get(
        f"/cases/{case_id}",
        headers={**police, "X-Access-Purpose": "emergency: child missing overnight"},
    )

    # Then only the emergency read is served, and it is audited as break-glass
    assert refused.status_code == 404
    assert allowed.status_code == 200
    reads = _trail(client, token(roles=("manager",)), case_id, kind="read")
    glass = [r for r in reads if r["break_glass"]]
    assert [(r["who"]["agency"], r["purpose"]) for r in glass] == [
        (POLICE, "emergency: child missing overnight")
    ]


def test_break_glass_when_reason_missing_or_role_not_allowed_then_refused(
    client: TestClient, token: Token
) -> None:
    case_id = _case(client, token())
    police = token(agency=POLICE, sub="pc")
    no_reason = client.get(
        f"/cases/{case_id}", headers={**police, "X-Access-Purpose": "emergency:"}
    )
    system = token(agency=POLICE, roles=("system",), sub="sys")
    by_system = client.get(
        f"/cases/{case_id}", headers={**system, "X-Access-Purpose": "emergency: test"}
    )
    assert no_reason.status_code == 404
    assert by_system.status_code == 404


def test_audit_when_read_by_agencies_then_each_sees_what_it_may(
    client: TestClient, token: Token
) -> None:
    # Given a case a school referred (so the school is involved), read by the school and by CSC
    worker = token()
    school = token(agency=SCHOOL, sub="dsl")
    contact = event(
        "ContactReceived",
        data=payload(
            "ContactReceived", referrer={"name": "Mrs Jones", "agency": SCHOOL, "role": "DSL"}
        ),
    )
    case_id, _ = open_case(client, worker, contact, event("ReferralAccepted", "2013-05-17"))
    assert (
        append(client, school, case_id, event("ConcernObserved", "2013-05-20")).status_code == 201
    )
    client.get(f"/cases/{case_id}", headers=school)
    client.get(f"/cases/{case_id}", headers=worker)

    # When each reads the audit trail
    manager_view = _trail(client, token(roles=("manager",), sub="m"), case_id)
    school_view = _trail(client, school, case_id)
    reviewer_view = _trail(
        client,
        token(agency="other:inspectorate", roles=("reviewer",), sub="r", cases=[case_id]),
        case_id,
    )

    # Then the owning authority's manager and the reviewer see every agency's entries
    for view in (manager_view, reviewer_view):
        assert {e["who"]["agency"] for e in view} == {LOCAL_AUTHORITY, SCHOOL}
        assert {e["kind"] for e in view} == {"read", "write"}
    # And the school sees only its own writes and reads
    assert {e["who"]["agency"] for e in school_view} == {SCHOOL}
    assert {(e["kind"], e.get("type")) for e in school_view} >= {("write", "ConcernObserved")}
    # And asking for another agency's entries gives the school nothing
    assert _trail(client, school, case_id, agency=LOCAL_AUTHORITY) == []


def test_audit_when_corrections_written_then_listed_with_target_and_author(
    client: TestClient, token: Token
) -> None:
    worker = token()
    case_id = _case(client, worker)
    note = event("CaseNoteRecorded")
    append(client, worker, case_id, note)
    retraction = event("EntryRetracted", target=note["id"])
    append(client, worker, case_id, retraction)
    writes = _trail(client, token(roles=("manager",)), case_id, kind="write")
    retracted = next(w for w in writes if w["type"] == "EntryRetracted")
    assert retracted["target_event_id"] == note["id"]
    assert retracted["who"]["sub"] == "ann.worker"


def test_read_when_audit_store_fails_then_refused_with_503(
    client: TestClient, token: Token, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an audit store that cannot be written
    worker = token()
    case_id = _case(client, worker)

    def broken(*_: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(client.app.state.audit, "record", broken)  # type: ignore[attr-defined]

    # When case data is read
    response = client.get(f"/cases/{case_id}/chronology", headers=worker)

    # Then it is not served unaudited
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "Retry-After" in response.headers
    assert "Amy" not in response.text


# --- paging the audit trail -----------------------------------------------------------------


def _walk(
    client: TestClient, headers: Headers, case_id: str, **params: Any
) -> list[list[dict[str, Any]]]:
    """Every page of the trail, following `next` (a walk that never ends fails)."""
    pages: list[list[dict[str, Any]]] = []
    after = None
    for _ in range(20):
        query = {**params, **({"after": after} if after else {})}
        response = client.get(f"/cases/{case_id}/audit", headers=headers, params=query)
        assert response.status_code == 200, response.text
        pages.append(response.json()["entries"])
        after = response.json()["next"]
        if after is None:
            return pages
    raise AssertionError(f"the walk did not end: {pages[-3:]}")


def _key(entry: dict[str, Any]) -> tuple[Any, ...]:
    return (entry["kind"], entry["at"], entry["version"], entry["endpoint"], entry["who"]["sub"])


def test_audit_when_one_batch_is_longer_than_a_page_then_next_walks_every_write_once(
    client: TestClient, token: Token
) -> None:
    # Given a case whose second batch holds five events, all recorded at one time
    manager = token(roles=("manager",))
    case_id = _case(client, manager)
    notes = [event("CaseNoteRecorded", "2013-05-17") for _ in range(5)]
    assert append(client, manager, case_id, *notes).status_code == 201

    # When its writes are walked three at a time with `next`
    pages = _walk(client, manager, case_id, kind="write", limit=3)

    # Then every version comes exactly once, in order, and the walk ends
    assert [[e["version"] for e in page] for page in pages] == [[1, 2, 3], [4, 5, 6]]


def test_audit_when_reads_audited_out_of_time_order_then_next_walks_them_in_time_order(
    client: TestClient, token: Token, clock: SettableClock
) -> None:
    # Given four reads of a case, the last audited with the earliest time (a slower request)
    manager = token(roles=("manager",))
    case_id = _case(client, manager)
    start = clock()
    for seconds in (2, 3, 4, 1):
        clock.set(start + timedelta(seconds=seconds))
        assert client.get(f"/cases/{case_id}", headers=manager).status_code == 200
    clock.set(start + timedelta(minutes=1))

    # When the reads are walked two at a time
    pages = _walk(client, manager, case_id, kind="read", limit=2)

    # Then each state read comes once, in time order (the walk's own reads follow them)
    reads = [e for page in pages for e in page if e["endpoint"] == "GET /cases/{case_id}"]
    times = [(start + timedelta(seconds=s)).strftime("%H:%M:%S") for s in (1, 2, 3, 4)]
    assert [r["at"][11:19] for r in reads] == times


def test_audit_when_walked_a_little_at_a_time_then_the_same_entries_as_one_page(
    client: TestClient, token: Token, clock: SettableClock
) -> None:
    # Given writes and reads that share their times: a batch and two reads at one time, then
    # a batch and a read a second later
    manager = token(roles=("manager",))
    case_id = _case(client, manager)
    append(client, manager, case_id, *[event("CaseNoteRecorded") for _ in range(3)])
    for _ in range(2):
        client.get(f"/cases/{case_id}/chronology", headers=manager)
    clock.advance(timedelta(seconds=1))
    append(client, manager, case_id, event("ConcernObserved"), event("CaseNoteRecorded"))
    client.get(f"/cases/{case_id}", headers=manager)
    until = clock().isoformat()
    clock.advance(timedelta(minutes=1))  # the walks' own reads come after `until`
    whole = _trail(client, manager, case_id, until=until)

    # When the trail is walked with every page size from one up
    for limit in (1, 2, 3, 4):
        pages = _walk(client, manager, case_id, until=until, limit=limit)

        # Then the walk holds the whole trail in its order, each entry once
        assert [_key(e) for page in pages for e in page] == [_key(e) for e in whole], limit
        assert all(len(page) <= limit for page in pages)
    # (at one time, reads come before writes)
    assert [e["kind"] for e in whole] == ["read"] * 2 + ["write"] * 4 + ["read"] + ["write"] * 2


def test_audit_when_since_given_then_a_plain_lower_bound_and_next_since_still_answered(
    client: TestClient, token: Token, clock: SettableClock
) -> None:
    # Given a case opened now and written to an hour later
    manager = token(roles=("manager",))
    case_id = _case(client, manager)
    clock.advance(timedelta(hours=1))
    append(client, manager, case_id, event("CaseNoteRecorded"), event("CaseNoteRecorded"))
    since = clock().isoformat()

    # When the writes from the later time are asked for, one a page
    response = client.get(
        f"/cases/{case_id}/audit",
        headers=manager,
        params={"kind": "write", "since": since, "limit": 1},
    )

    # Then the page starts at that time, and says both how to continue and its last time
    body = response.json()
    assert [e["version"] for e in body["entries"]] == [2]
    assert body["next"]
    assert body["next_since"] == body["entries"][0]["at"]


def test_audit_when_since_and_until_are_one_date_then_the_whole_london_day(
    client: TestClient, token: Token, clock: SettableClock
) -> None:
    # Given writes half an hour either side of the start and the end of 26 November 2026
    # (London is on GMT then)
    manager = token(roles=("manager",))
    clock.set(datetime(2026, 11, 25, 23, 30, tzinfo=UTC))
    case_id = _case(client, manager)
    for day, hour in ((26, 0), (26, 23), (27, 0)):
        clock.set(datetime(2026, 11, day, hour, 30, tzinfo=UTC))
        assert append(client, manager, case_id, event("CaseNoteRecorded")).status_code == 201

    # When the writes of that day are asked for by its date
    day = _trail(client, manager, case_id, kind="write", since="2026-11-26", until="2026-11-26")

    # Then both bounds hold: from the start of the day to its end
    assert [e["version"] for e in day] == [2, 3]


def test_audit_when_cursor_not_handed_out_then_400(client: TestClient, token: Token) -> None:
    manager = token(roles=("manager",))
    case_id = _case(client, manager)
    for cursor in ("nonsense", "²", "MjAyNnxyZWFkfDE", "x" * 201):
        response = client.get(f"/cases/{case_id}/audit", headers=manager, params={"after": cursor})
        assert 400 <= response.status_code < 500, (cursor, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    bad = client.get(f"/cases/{case_id}/audit", headers=manager, params={"after": "nonsense"})
    assert bad.status_code == 400
    assert bad.json()["type"] == "urn:casetrail:problem:bad-cursor"


def test_audit_when_limit_above_max_page_then_clamped_to_it(
    start_app: Callable[..., TestClient],
) -> None:
    # Given an app whose largest page is two, and a case with four writes
    app = start_app(max_page=2)
    tokens = app.app.state.tokens  # type: ignore[attr-defined]
    jwt = tokens.mint(sub="m", name="M", agency=LOCAL_AUTHORITY, roles=["manager"])
    manager = {"Authorization": f"Bearer {jwt}"}
    case_id = _case(app, manager)
    append(app, manager, case_id, *[event("CaseNoteRecorded") for _ in range(3)])

    # When the writes are walked five at a time
    pages = _walk(app, manager, case_id, kind="write", limit=5)

    # Then each page holds at most two
    assert [[e["version"] for e in page] for page in pages] == [[1, 2], [3, 4]]
