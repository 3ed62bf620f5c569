"""The integrators' global feed: `GET /feed` (pages, long-poll) and `GET /feed/stream` (SSE).

Everything is asked over HTTP, as a client would; each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from eventsourcing.persistence import OperationalError
from fastapi.testclient import TestClient

from domain.envelope import RESTRICTED
from service.api.app import create_app
from service.clock import SettableClock
from service.feed import Feed
from service.settings import Settings
from tests.support import (
    LOCAL_AUTHORITY,
    append,
    audited_reads,
    event,
    open_case,
    partnered_and_owned,
    payload,
    school_referred_case,
)

Headers = dict[str, str]
Token = Callable[..., Headers]

SCHOOL = "school:st-marys-primary"
HEALTH = "health:barsetshire-gp"
POLICE = "police:barsetshire"
CHILD_NAME = "Amy Smith"
SECRET = "Burn marks on the back of the hand, ZX-4471"
SSE_TIMEOUT = 10.0  # seconds a stream read may take before the test fails


@pytest.fixture
def client(settings: Settings, clock: SettableClock) -> Iterator[TestClient]:
    """The app, with a heartbeat every 0.2 s so a stream reader can give up in time."""
    quick = settings.model_copy(update={"feed_ping_seconds": 0.2})
    with TestClient(create_app(quick, clock)) as test_client:
        yield test_client


def _integrator(token: Token) -> Headers:
    return token(roles=("integrator",), sub="dashboards", name="Dashboards")


def _school(token: Token) -> Headers:
    return token(agency=SCHOOL, sub="ann.jones", name="Ann Jones")


def _feed(client: TestClient, headers: Headers, **params: Any) -> httpx.Response:
    response = client.get("/feed", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response


def _read_all(
    client: TestClient, headers: Headers, *, after: int = 0, **params: Any
) -> tuple[list[dict[str, Any]], int]:
    """Every page from `after` to the end of the log; the events and the final cursor."""
    events: list[dict[str, Any]] = []
    while True:
        page = _feed(client, headers, after=after, **params).json()
        events.extend(page["events"])
        if page["next"] == after:
            return events, after
        after = page["next"]


def _link(response: httpx.Response) -> dict[str, list[str]]:
    match = re.fullmatch(r'<([^>]+)>; rel="next"', response.headers["Link"])
    assert match, response.headers["Link"]
    url = urlsplit(match.group(1))
    assert url.path == "/feed"
    return parse_qs(url.query)


def _case_with_events(client: TestClient, headers: Headers, notes: int) -> tuple[str, list[str]]:
    """A case with `notes` notes after its opening; its id and every event id in order."""
    case_id, opened = open_case(client, headers)
    posted = [event("CaseNoteRecorded") for _ in range(notes)]
    if posted:
        assert append(client, headers, case_id, *posted).status_code == 201
    return case_id, [opened["id"], *(e["id"] for e in posted)]


# --- paging --------------------------------------------------------------------------------------


def test_feed_when_paged_from_zero_in_small_pages_then_every_event_once_in_position_order(
    client: TestClient, token: Token
) -> None:
    # Given two cases whose events interleave in the log
    csc = token()
    first, first_ids = _case_with_events(client, csc, 3)
    second, second_ids = _case_with_events(client, csc, 2)
    more = event("CaseNoteRecorded")
    assert append(client, csc, first, more).status_code == 201
    expected = [*first_ids, *second_ids, more["id"]]

    # When an integrator of the authority pages the feed from 0, three events at a time
    pages, after = [], 0
    while True:
        response = _feed(client, _integrator(token), after=after, limit=3)
        page = response.json()
        link = _link(response)
        # Then each page's Link names the next page: after `next`, the same limit
        assert link["after"] == [str(page["next"])]
        assert link["limit"] == ["3"]
        pages.append(page)
        if not page["events"]:
            break
        assert page["next"] == page["events"][-1]["position"]
        after = page["next"]

    # Then every event comes exactly once, in position order, with its case and version
    events = [e for page in pages for e in page["events"]]
    assert [e["id"] for e in events] == expected
    positions = [e["position"] for e in events]
    assert positions == sorted(set(positions))
    assert [len(p["events"]) for p in pages] == [3, 3, 2, 0]
    assert {e["case_id"] for e in events} == {first, second}
    # And the last, empty page leaves the cursor where it was
    assert pages[-1]["next"] == after


def test_feed_when_event_read_then_same_shape_as_the_cases_raw_events(
    client: TestClient, token: Token
) -> None:
    # Given a case with an authored, sourced note
    csc = token()
    case_id, _ = open_case(client, csc)
    note = event(
        "CaseNoteRecorded",
        author={"name": "Sam Patel", "role": "social worker", "agency": LOCAL_AUTHORITY},
        source={"system": "mosaic", "reference": "N-1"},
    )
    assert append(client, csc, case_id, note).status_code == 201

    # When the feed and the case's raw events are read
    fed, _ = _read_all(client, _integrator(token))
    raw = client.get(f"/cases/{case_id}/events", headers=csc).json()["events"]

    # Then each event is exactly what the raw stream carries: case, version, position, envelope
    assert fed == raw


def test_feed_when_types_given_then_only_those_and_cursor_moves_over_the_rest(
    client: TestClient, token: Token
) -> None:
    # Given a case with notes and a concern, the concern last in the log
    csc = token()
    case_id, _ = _case_with_events(client, csc, 3)
    concern = event("ConcernObserved", "2026-10-05")
    written = append(client, csc, case_id, concern, event("CaseNoteRecorded"))
    last_position = written.json()["events"][-1]["position"]

    # When the feed is read for concerns and openings only
    page = _feed(client, _integrator(token), types="ConcernObserved, CaseOpened", limit=100).json()

    # Then only those types come, and the cursor has moved over everything scanned
    assert [e["type"] for e in page["events"]] == ["CaseOpened", "ConcernObserved"]
    assert page["events"][1]["id"] == concern["id"]
    assert page["next"] == last_position


def test_feed_when_limit_above_maximum_then_clamped_to_1000(
    client: TestClient, token: Token
) -> None:
    # Given a log of 1,201 events
    csc = token()
    case_id, _ = open_case(client, csc)
    for _ in range(3):
        notes = [event("CaseNoteRecorded") for _ in range(400)]
        assert append(client, csc, case_id, *notes).status_code == 201

    # When a page of 5,000 is asked for
    response = _feed(client, _integrator(token), limit=5000)

    # Then 1,000 come, and the next page's link says so
    assert len(response.json()["events"]) == 1000
    assert _link(response)["limit"] == ["1000"]
    assert response.json()["next"] == response.json()["events"][-1]["position"]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        pytest.param({"types": "ConcernObserved,Nonsense"}, "Nonsense", id="unknown-type"),
        pytest.param({"after": "-1"}, "after", id="negative-after"),
        pytest.param({"after": "soon"}, "after", id="after-not-a-number"),
        pytest.param({"limit": "0"}, "limit", id="limit-zero"),
        pytest.param({"wait": "-1"}, "wait", id="negative-wait"),
    ],
)
def test_feed_when_parameters_invalid_then_422_problem(
    client: TestClient, token: Token, params: dict[str, str], says: str
) -> None:
    # When the feed is asked with a bad parameter
    response = client.get("/feed", params=params, headers=_integrator(token))

    # Then it is a validation problem naming what is wrong
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:casetrail:problem:validation"
    assert says in response.text


def test_feed_when_admin_then_403(client: TestClient, token: Token) -> None:
    # Given a case
    open_case(client, token())

    # When an admin reads the feed and its stream
    admin = token(roles=("admin",), sub="root")
    page = client.get("/feed", headers=admin)
    stream = client.get("/feed/stream", headers=admin)

    # Then both are refused, carrying no case data
    assert (page.status_code, stream.status_code) == (403, 403)
    assert CHILD_NAME not in page.text + stream.text


def test_feed_when_writers_append_concurrently_then_reader_gets_each_acknowledged_once_in_order(
    client: TestClient, token: Token
) -> None:
    # Given three writers, each appending to its own case and to one they share
    csc = token()
    shared, _ = open_case(client, csc)
    acknowledged: list[tuple[int, str]] = []
    lock = threading.Lock()
    failures: list[str] = []

    def write(rounds: int) -> None:
        own, opened = open_case(client, csc)
        with lock:
            acknowledged.append((0, opened["id"]))
        for i in range(rounds):
            batch = [event("CaseNoteRecorded"), event("CaseNoteRecorded")]
            response = append(client, csc, own if i % 2 else shared, *batch)
            if response.status_code != 201:
                failures.append(response.text)
                continue
            with lock:
                acknowledged.extend((e["position"], e["id"]) for e in response.json()["events"])

    writers = [threading.Thread(target=write, args=(12,)) for _ in range(3)]

    # When a reader pages the feed, four at a time, while they write, then to the end
    for writer in writers:
        writer.start()
    read: list[dict[str, Any]] = []
    after = 0
    while any(w.is_alive() for w in writers):
        page = _feed(client, _integrator(token), after=after, limit=4).json()
        read.extend(page["events"])
        after = page["next"]
    for writer in writers:
        writer.join()
    rest, _ = _read_all(client, _integrator(token), after=after, limit=4)
    read.extend(rest)

    # Then every acknowledged event was read exactly once, in position order
    assert not failures
    ids = [e["id"] for e in read]
    assert len(ids) == len(set(ids))
    assert {i for _, i in acknowledged} <= set(ids)
    assert len(ids) == 1 + 3 + 3 * 12 * 2  # the shared opening, three openings, the notes
    positions = [e["position"] for e in read]
    assert positions == sorted(positions)
    by_id = {e["id"]: e["position"] for e in read}
    assert all(by_id[i] == p for p, i in acknowledged if p)


# --- long-poll -----------------------------------------------------------------------------------


def test_feed_when_waiting_and_an_event_is_appended_then_returns_with_it(
    client: TestClient, token: Token
) -> None:
    # Given a reader at the end of the log
    csc = token()
    case_id, _ = open_case(client, csc)
    _, end = _read_all(client, _integrator(token))
    note = event("CaseNoteRecorded")
    timer = threading.Timer(0.3, lambda: append(client, csc, case_id, note))

    # When it waits for up to 20 s and a note is appended meanwhile
    timer.start()
    try:
        page = _feed(client, _integrator(token), after=end, wait=20).json()
    finally:
        timer.join()

    # Then the page returns with the note
    assert [e["id"] for e in page["events"]] == [note["id"]]
    assert page["next"] == page["events"][0]["position"]


def test_feed_when_waiting_and_nothing_visible_comes_then_empty_page_cursor_moved_over_it(
    client: TestClient, token: Token
) -> None:
    # Given a school at the end of the log of a case it is not involved in
    csc, school = token(), _school(token)
    case_id, _ = open_case(client, csc)
    events, end = _read_all(client, school)
    assert events == []
    assert end > 0  # the cursor moved over what the school may not read

    # When it waits half a second while the log stays as it is, then while a note it may not
    # read is appended
    quiet = _feed(client, school, after=end, wait=0.5).json()
    assert append(client, csc, case_id, event("CaseNoteRecorded")).status_code == 201
    filtered = _feed(client, school, after=end, wait=0.5).json()

    # Then both pages are empty: the first leaves the cursor where it was, the second moves it
    # over what it may not read
    assert quiet == {"events": [], "next": end}
    assert filtered["events"] == []
    assert filtered["next"] == _read_all(client, _integrator(token))[1]


def test_feed_when_wait_above_the_maximum_then_clamped_not_refused(
    start_app: Callable[..., TestClient], token: Token
) -> None:
    # Given a service that holds a long-poll for at most 0.2 s, and a reader at the end of the
    # log
    client = start_app(feed_max_wait_seconds=0.2)
    open_case(client, token())
    _, end = _read_all(client, _integrator(token))

    # When it asks to wait an hour
    page = _feed(client, _integrator(token), after=end, wait=3600).json()

    # Then it is answered (after the maximum wait), with an empty page
    assert page == {"events": [], "next": end}


# --- who sees what -------------------------------------------------------------------------------


def _restricted_concern() -> dict[str, Any]:
    return event(
        "ConcernObserved",
        "2026-10-05",
        data=payload("ConcernObserved", description=SECRET, body_location="right hand ZX-4472"),
        sensitivity="restricted",
        author={"name": "Sam Patel", "role": "social worker", "agency": LOCAL_AUTHORITY},
        source={"system": "mosaic", "reference": "ZX-4474"},
    )


def _shared_with_school(concern_id: str) -> dict[str, Any]:
    return event(
        "InformationShared",
        "2026-10-06",
        data=payload(
            "InformationShared",
            concern_id,
            **{"with": [{"agency": SCHOOL}]},
            summary="Concern history for the core group",
        ),
    )


def test_partner_feed_when_read_then_own_and_shared_entries_placeholders_and_nothing_else(
    client: TestClient, token: Token
) -> None:
    # Given a case the school referred, in which it wrote a note, CSC shared a restricted
    # concern with it, and CSC wrote a note of its own; and a case the school has nothing to do
    # with
    csc, school = token(), _school(token)
    referral = payload(
        "ContactReceived", referrer={"name": "Ann Jones", "agency": SCHOOL, "role": "DSL"}
    )
    contact = event("ContactReceived", "2026-10-01", data=referral)
    involved, _ = open_case(
        client, csc, contact, event("ReferralAccepted", "2026-10-02"), occurred_at="2026-10-01"
    )
    own = event("ConcernObserved", "2026-10-03")
    assert append(client, school, involved, own).status_code == 201
    concern = _restricted_concern()
    share = _shared_with_school(concern["id"])
    csc_note = event("CaseNoteRecorded", "2026-10-07")
    assert append(client, csc, involved, concern, share, csc_note).status_code == 201
    unrelated, _ = _case_with_events(client, csc, 2)

    # When the school reads the feed from 0
    events, _ = _read_all(client, school)

    # Then it gets its referral, its own concern and the share in full, and the restricted
    # concern as a placeholder — nothing of CSC's note, the opening, or the other case
    by_id = {e["id"]: e for e in events}
    assert set(by_id) == {contact["id"], own["id"], share["id"], concern["id"]}
    assert {e["case_id"] for e in events} == {involved}
    assert by_id[own["id"]]["data"]["description"] == payload("ConcernObserved")["description"]
    placeholder = by_id[concern["id"]]
    assert placeholder == {
        "position": placeholder["position"],
        "case_id": involved,
        "version": placeholder["version"],
        "id": concern["id"],
        "type": "ConcernObserved",
        "occurred_at": "2026-10-05",
        "occurred_precision": "day",
        "recorded_at": placeholder["recorded_at"],
        "sensitivity": "restricted",
        "note": RESTRICTED,
    }
    # And no payload, author or source of what it may not read leaks
    text = json.dumps(events)
    for secret in (SECRET, "ZX-4472", "ZX-4474", "Sam Patel", CHILD_NAME):
        assert secret not in text
    assert unrelated not in text


def test_partner_feed_when_restricted_entry_acted_on_in_normal_entries_then_those_placeholders(
    client: TestClient, token: Token
) -> None:
    # Given a restricted concern CSC shared with the school, which CSC then corrects, annotates
    # and reassesses in entries of normal sensitivity, and which the school annotates itself
    csc, school = token(), _school(token)
    case_id = school_referred_case(client, csc, SCHOOL)
    concern = _restricted_concern()
    assert (
        append(client, csc, case_id, concern, _shared_with_school(concern["id"])).status_code == 201
    )
    replacement = payload("ConcernObserved", description="CORRECTED-SECRET")
    acts = [
        event(
            "EntryCorrected",
            "2026-10-07",
            data=payload("EntryCorrected", concern["id"], data=replacement),
        ),
        event(
            "EntryAnnotated",
            "2026-10-07",
            data=payload("EntryAnnotated", concern["id"], note="NOTE-SECRET"),
        ),
        event(
            "SignificanceAssessed",
            "2026-10-07",
            data=payload("SignificanceAssessed", concern["id"], rationale="RATIONALE-SECRET"),
        ),
    ]
    assert append(client, csc, case_id, *acts).status_code == 201
    own = event(
        "EntryAnnotated", "2026-10-08", data=payload("EntryAnnotated", concern["id"], note="Seen")
    )
    assert append(client, school, case_id, own).status_code == 201

    # When the school reads the feed
    events, _ = _read_all(client, school)

    # Then what CSC did to the restricted concern reaches it only as placeholders, and nothing
    # of their content; its own annotation is in full
    by_id = {e["id"]: e for e in events}
    assert {by_id[a["id"]].get("note") for a in acts} == {RESTRICTED}
    assert not any("data" in by_id[a["id"]] for a in acts)
    assert by_id[own["id"]]["data"]["note"] == "Seen"
    text = json.dumps(events)
    assert [
        s for s in ("CORRECTED-SECRET", "NOTE-SECRET", "RATIONALE-SECRET", SECRET) if s in text
    ] == []


def test_partner_feed_when_a_share_is_not_to_it_then_what_it_names_is_not_carried(
    client: TestClient, token: Token
) -> None:
    # Given a concern by children's social care, which the school names in information it
    # shares with the police; and another concern CSC shares only with health
    csc, school = token(), _school(token)
    case_id = school_referred_case(client, csc, SCHOOL)
    concern = event("ConcernObserved", "2026-10-03")
    to_health = event("ConcernObserved", "2026-10-04")
    health_share = event(
        "InformationShared",
        "2026-10-05",
        data=payload("InformationShared", to_health["id"], **{"with": [{"agency": HEALTH}]}),
    )
    assert append(client, csc, case_id, concern, to_health, health_share).status_code == 201
    own_share = event(
        "InformationShared",
        "2026-10-06",
        data=payload("InformationShared", concern["id"], **{"with": [{"agency": POLICE}]}),
    )
    assert append(client, school, case_id, own_share).status_code == 201

    # When the school reads the feed
    events, _ = _read_all(client, school)

    # Then it carries the school's own share, and nothing that share or CSC's share with
    # health names: neither was shared with the school
    carried = {e["id"] for e in events}
    assert own_share["id"] in carried
    assert not {concern["id"], to_health["id"], health_share["id"]} & carried


def _retraction(target: str) -> dict[str, Any]:
    return event("EntryRetracted", "2026-10-09", data=payload("EntryRetracted", target))


def test_partner_feed_when_shared_concern_retracted_then_next_page_carries_the_retraction(
    client: TestClient, token: Token
) -> None:
    # Given a concern CSC shared with the school, which the school's feed has carried
    csc, school = token(), _school(token)
    case_id = school_referred_case(client, csc, SCHOOL)
    concern = event("ConcernObserved", "2026-10-05")
    assert (
        append(client, csc, case_id, concern, _shared_with_school(concern["id"])).status_code == 201
    )
    held, cursor = _read_all(client, school)
    assert concern["id"] in [e["id"] for e in held]

    # When CSC retracts the concern and the school reads on
    retraction = _retraction(concern["id"])
    assert append(client, csc, case_id, retraction).status_code == 201
    events, _ = _read_all(client, school, after=cursor)

    # Then the school is given the retraction in full, naming the concern to delete
    assert [(e["id"], e["data"]["target_event_id"]) for e in events] == [
        (retraction["id"], concern["id"])
    ]


def test_partner_feed_when_its_own_entry_retracted_then_carries_the_retraction(
    client: TestClient, token: Token
) -> None:
    # Given a concern the school recorded, which its feed has carried
    csc, school = token(), _school(token)
    case_id = school_referred_case(client, csc, SCHOOL)
    own = event("ConcernObserved", "2026-10-05")
    assert append(client, school, case_id, own).status_code == 201
    _, cursor = _read_all(client, school)

    # When CSC retracts it and the school reads on
    retraction = _retraction(own["id"])
    assert append(client, csc, case_id, retraction).status_code == 201
    events, _ = _read_all(client, school, after=cursor)

    # Then the school is given CSC's retraction of its entry
    assert [(e["id"], e["data"]["target_event_id"]) for e in events] == [
        (retraction["id"], own["id"])
    ]

    # And read again from the start, its feed no longer carries the entry, as no view does:
    # only the retraction that names it
    again, _ = _read_all(client, school)
    carried = {e["id"] for e in again}
    assert own["id"] not in carried
    assert retraction["id"] in carried


def test_partner_feed_when_entry_it_was_not_carried_retracted_then_not_carried_the_retraction(
    client: TestClient, token: Token
) -> None:
    # Given a case the school and health are involved in, where CSC shared a concern with the
    # school only and wrote a note of its own
    csc, school = token(), _school(token)
    health = token(agency=HEALTH, roles=("integrator",), sub="gp-system", name="GP system")
    case_id = school_referred_case(client, csc, SCHOOL)
    involved = event(
        "AgencyInvolvementStarted",
        "2026-10-03",
        data=payload("AgencyInvolvementStarted", agency=HEALTH),
    )
    concern = event("ConcernObserved", "2026-10-05")
    note = event("CaseNoteRecorded", "2026-10-07")
    assert (
        append(
            client, csc, case_id, involved, concern, _shared_with_school(concern["id"]), note
        ).status_code
        == 201
    )
    _, school_cursor = _read_all(client, school)
    health_held, health_cursor = _read_all(client, health)
    assert [e["id"] for e in health_held] == [involved["id"]]

    # When CSC retracts the concern and the note
    retractions = [_retraction(concern["id"]), _retraction(note["id"])]
    assert append(client, csc, case_id, *retractions).status_code == 201

    # Then health is carried neither retraction, and the school only the concern's
    school_events, _ = _read_all(client, school, after=school_cursor)
    health_events, _ = _read_all(client, health, after=health_cursor)
    assert health_events == []
    assert [e["id"] for e in school_events] == [retractions[0]["id"]]


class _WriterAfterHead(Feed):
    """A feed whose next page begins just before another writer commits: the race between
    reading the log's head and reading its rows, made certain."""

    def __init__(self, feed: Feed, write: Callable[[], None]) -> None:
        super().__init__(feed.records, feed.gate, scan_limit=feed.scan_limit)
        self.write: Callable[[], None] | None = write

    def head(self) -> int:
        head = super().head()
        if self.write is not None:
            write, self.write = self.write, None
            write()
        return head


def test_partner_feed_when_case_shared_while_page_begins_then_next_page_carries_it(
    client: TestClient, token: Token
) -> None:
    # Given a case the school is not involved in, whose events its feed has already passed
    csc, school = token(), _school(token)
    case_id, _ = open_case(client, csc)
    _, end = _read_all(client, school)
    share = event(
        "InformationShared",
        "2026-10-06",
        data=payload("InformationShared", **{"with": [{"agency": SCHOOL}]}, concern_event_ids=[]),
    )

    # When CSC shares information with the school just as the school's next page begins
    state = client.app.state  # type: ignore[attr-defined]
    principal = state.tokens.verify(school["Authorization"].removeprefix("Bearer "))
    feed = Feed(state.records, state.gate, scan_limit=10_000)

    def share_it() -> None:
        assert append(client, csc, case_id, share).status_code == 201

    racing = _WriterAfterHead(feed, share_it)
    first = racing.page(principal, after=end, limit=100)
    events, _ = _read_all(client, school, after=first.next)

    # Then the share reaches the school: on that page or the next, never skipped
    assert share["id"] in [item.body["id"] for item in first.items] + [e["id"] for e in events]


def test_feed_when_case_moves_to_another_authority_then_access_follows_at_once(
    client: TestClient, token: Token
) -> None:
    # Given a case the authority's integrator has read from the feed
    csc = token()
    case_id, opened = open_case(client, csc)
    ours = _integrator(token)
    theirs = token(agency="csc:wessex", roles=("integrator",), sub="wessex-dashboards")
    assert [e["case_id"] for e in _read_all(client, ours)[0]] == [case_id]

    # When CSC corrects the opening: the case belongs to another authority
    moved = event(
        "EntryCorrected",
        data={
            "target_event_id": opened["id"],
            "data": payload("CaseOpened", local_authority="csc:wessex"),
            "reason": "Opened under the wrong authority",
        },
    )
    assert append(client, csc, case_id, moved).status_code == 201

    # Then the old authority's integrator no longer reads it; the new one reads all of it
    assert _read_all(client, ours)[0] == []
    assert [e["id"] for e in _read_all(client, theirs)[0]] == [opened["id"], moved["id"]]


def test_feed_when_reviewer_or_break_glass_then_only_cases_named_none_by_emergency(
    client: TestClient, token: Token
) -> None:
    # Given two cases
    csc = token()
    named, named_ids = _case_with_events(client, csc, 1)
    other, _ = _case_with_events(client, csc, 1)

    # When a reviewer of the first, and police asking for break-glass, read the feed
    reviewer = token(agency="other:ofsted", roles=("reviewer",), sub="insp", cases=[named])
    police = {**token(agency=POLICE, sub="pc"), "X-Access-Purpose": "emergency: missing child"}
    reviewed, _ = _read_all(client, reviewer)
    glass, _ = _read_all(client, police)

    # Then the reviewer sees only the case it is given; break-glass opens nothing in the feed
    assert [e["id"] for e in reviewed] == named_ids
    assert other not in json.dumps(reviewed)
    assert glass == []


def test_feed_when_page_served_then_audited_with_the_cases_it_returned(
    client: TestClient, token: Token
) -> None:
    # Given two cases, and a reviewer of only the first
    csc = token()
    seen, _ = _case_with_events(client, csc, 1)
    unseen, _ = _case_with_events(client, csc, 1)
    reviewer = token(agency="other:ofsted", roles=("reviewer",), sub="insp", cases=[seen])

    # When the reviewer reads a page of the feed with a stated purpose
    _feed(client, {**reviewer, "X-Access-Purpose": "annual inspection"}, limit=10)

    # Then the first case's audit has the read, with the purpose; the second's does not
    manager = token(roles=("manager",), sub="m")

    def feed_reads(case_id: str) -> list[dict[str, Any]]:
        trail = client.get(
            f"/cases/{case_id}/audit", params={"kind": "read"}, headers=manager
        ).json()["entries"]
        return [e for e in trail if e["endpoint"] == "GET /feed"]

    (read,) = feed_reads(seen)
    assert read["who"]["sub"] == "insp"
    assert read["purpose"] == "annual inspection"
    assert read["params"]["limit"] == "10"
    assert feed_reads(unseen) == []


# --- Server-Sent Events --------------------------------------------------------------------------


def _sse(
    client: TestClient,
    headers: Headers,
    count: int,
    *,
    params: dict[str, Any] | None = None,
    during: Callable[[], None] | None = None,
) -> list[dict[str, str]]:
    """The first `count` events of the stream (`id`, `event`, `data`); `during` runs once the
    stream is open. Fails after SSE_TIMEOUT (the test app pings every 0.2 s)."""
    received: list[dict[str, str]] = []
    deadline = time.monotonic() + SSE_TIMEOUT
    with client.stream("GET", "/feed/stream", params=params, headers=headers) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        if during is not None:
            during()
        fields: dict[str, str] = {}
        for line in response.iter_lines():
            assert time.monotonic() < deadline, f"only {len(received)} of {count} events came"
            if line.startswith(":"):
                continue  # a heartbeat
            if line:
                name, _, value = line.partition(": ")
                fields[name] = value
                continue
            if fields:
                received.append(fields)
                fields = {}
            if len(received) == count:
                break
    return received


def test_stream_when_token_expires_while_open_then_ends_before_sending_more(
    settings: Settings, clock: SettableClock
) -> None:
    # Given a stream opened with a token about to expire (no leeway), which has sent the log
    strict = settings.model_copy(update={"feed_ping_seconds": 0.2, "jwt_leeway_seconds": 0})
    with TestClient(create_app(strict, clock)) as client:
        tokens = client.app.state.tokens  # type: ignore[attr-defined]

        def bearer(roles: list[str], expires: timedelta) -> tuple[Headers, float]:
            minted = tokens.mint(
                sub="s", name="S", agency=LOCAL_AUTHORITY, roles=roles, expires=expires
            )
            expiry = float(jwt.decode(minted, options={"verify_signature": False})["exp"])
            return {"Authorization": f"Bearer {minted}"}, expiry

        csc, _ = bearer(["practitioner"], timedelta(hours=1))
        case_id, ids = _case_with_events(client, csc, 0)
        brief, expiry = bearer(["integrator"], timedelta(seconds=3))
        received: list[str] = []
        with client.stream("GET", "/feed/stream", headers=brief) as response:
            # When the token expires, and then an event is written
            deadline = time.monotonic() + SSE_TIMEOUT
            for line in response.iter_lines():
                assert time.monotonic() < deadline, "the stream did not end"
                if line.startswith("id: "):
                    received.append(line)
                    if len(received) == 1:
                        time.sleep(max(0.0, expiry - time.time()) + 0.5)
                        deadline = time.monotonic() + SSE_TIMEOUT
                        note = event("CaseNoteRecorded")
                        assert append(client, csc, case_id, note).status_code == 201

    # Then the stream ended with the token: what was written after it is not sent
    assert len(received) == len(ids) == 1


def test_stream_when_read_then_ids_are_positions_events_types_data_the_feed_items(
    client: TestClient, token: Token
) -> None:
    # Given a case with two notes
    csc = token()
    _case_with_events(client, csc, 2)
    fed, _ = _read_all(client, _integrator(token))

    # When an integrator reads the stream from the start
    received = _sse(client, _integrator(token), 3)

    # Then each message's id is the event's position, its event its type, its data the event
    # as the feed carries it
    assert [m["id"] for m in received] == [str(e["position"]) for e in fed]
    assert [m["event"] for m in received] == ["CaseOpened", "CaseNoteRecorded", "CaseNoteRecorded"]
    assert [json.loads(m["data"]) for m in received] == fed


def test_stream_when_resumed_with_last_event_id_then_exactly_the_events_after_it(
    client: TestClient, token: Token
) -> None:
    # Given a log of five events, and a client that received the first two
    csc = token()
    case_id, ids = _case_with_events(client, csc, 4)
    first = _sse(client, _integrator(token), 2)
    later = event("CaseNoteRecorded")

    # When it reconnects with Last-Event-ID (and a stale `after`), and a note is appended
    # while it listens
    resumed = _sse(
        client,
        {**_integrator(token), "Last-Event-ID": first[-1]["id"]},
        4,
        params={"after": 0},
        during=lambda: threading.Timer(0.2, lambda: append(client, csc, case_id, later)).start(),
    )

    # Then it gets the three events after the one it had, then the new one: nothing missed,
    # nothing repeated
    got = [json.loads(m["data"])["id"] for m in first + resumed]
    assert got == [*ids, later["id"]]
    positions = [int(m["id"]) for m in first + resumed]
    assert positions == sorted(set(positions))


def test_stream_when_partner_reads_then_placeholders_marked_restricted(
    client: TestClient, token: Token
) -> None:
    # Given a case the school referred, with a restricted concern CSC shared with it
    csc, school = token(), _school(token)
    referral = payload(
        "ContactReceived", referrer={"name": "Ann Jones", "agency": SCHOOL, "role": "DSL"}
    )
    contact = event("ContactReceived", "2026-10-01", data=referral)
    case_id, _ = open_case(client, csc, contact, occurred_at="2026-10-01")
    concern = _restricted_concern()
    assert append(client, csc, case_id, concern, _shared_with_school(concern["id"])).status_code

    # When the school reads the stream
    received = _sse(client, school, 3)

    # Then the restricted concern comes as a `restricted` event without its content
    assert [m["event"] for m in received] == ["ContactReceived", "restricted", "InformationShared"]
    assert json.loads(received[1]["data"])["note"] == RESTRICTED
    assert SECRET not in json.dumps(received)


def test_stream_when_batch_sent_then_audited_with_its_cases(
    client: TestClient, token: Token
) -> None:
    # Given a case
    csc = token()
    case_id, _ = _case_with_events(client, csc, 1)

    # When an integrator reads it from the stream
    _sse(client, _integrator(token), 2)

    # Then the case's audit has the stream's read, naming the integrator
    trail = client.get(
        f"/cases/{case_id}/audit", params={"kind": "read"}, headers=token(roles=("manager",))
    ).json()["entries"]
    assert [e["who"]["sub"] for e in trail if e["endpoint"] == "GET /feed/stream"] == ["dashboards"]


def test_feed_when_page_holds_cases_seen_as_partner_then_audited_in_the_partner_view(
    client: TestClient, token: Token
) -> None:
    # Given a Barsetshire case Wessex's children's social care is involved in, and a case
    # Wessex owns
    wessex = token(agency="csc:wessex", sub="wessex-sw")
    partnered, owned, involved, opened, _ = partnered_and_owned(client, token(), wessex)

    # When Wessex reads the feed, in pages and as a stream: the first case as a partner, its
    # own in full
    events, _ = _read_all(client, wessex)
    assert [e["id"] for e in events] == [involved["id"], opened["id"]]
    _sse(client, wessex, 2)

    # Then each case's audit trail records both reads in the view Wessex had of that case
    def views(case_id: str, headers: Headers) -> set[tuple[str, str]]:
        return set(audited_reads(client, case_id, headers))

    assert views(partnered, token(roles=("manager",), sub="m")) == {
        ("GET /feed", "partner"),
        ("GET /feed/stream", "partner"),
    }
    assert views(owned, token(agency="csc:wessex", roles=("manager",), sub="m")) == {
        ("GET /feed", "full"),
        ("GET /feed/stream", "full"),
    }


def test_stream_when_audit_cannot_be_written_then_stream_ends_without_sending(
    client: TestClient, token: Token, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a case, and an audit store that fails for batches of the stream (opening the
    # stream itself names no case, and is audited)
    csc = token()
    _case_with_events(client, csc, 1)
    audit = client.app.state.audit  # type: ignore[attr-defined]
    record = audit.record

    def failing(read: Any) -> None:
        if read.route == "/feed/stream" and read.case_ids:
            raise OSError("disk full")
        record(read)

    monkeypatch.setattr(audit, "record", failing)

    # When an integrator opens the stream
    with client.stream("GET", "/feed/stream", headers=_integrator(token)) as response:
        body = b"".join(response.iter_bytes())

    # Then the stream ends, and nothing of the case was sent
    assert response.status_code == 200
    assert b"data:" not in body
    assert CHILD_NAME.encode() not in body


def test_stream_when_store_goes_away_then_stream_ends_and_is_counted_as_sent_not_500(
    client: TestClient, token: Token, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a case, and a stream that has sent the log so far
    csc = token()
    _case_with_events(client, csc, 1)
    # And a log that cannot be reached once the stream has sent its first page and waits for
    # more (PostgreSQL restarting)
    head = Feed.head
    calls: list[int] = []

    def unreachable_after_the_first_page(self: Feed) -> int:
        calls.append(1)
        if len(calls) > 1:
            raise OperationalError("connection failed: Connection refused")
        return head(self)

    monkeypatch.setattr(Feed, "head", unreachable_after_the_first_page)

    # When an integrator follows the stream
    with client.stream("GET", "/feed/stream", headers=_integrator(token)) as response:
        body = b"".join(response.iter_bytes())

    # Then what was there is sent, and the stream ends (the client reconnects with its
    # Last-Event-ID), as the 200 it is, not an error of the server
    assert response.status_code == 200
    assert b"data:" in body
    metrics = client.get("/metrics").text
    assert 'route="/feed/stream",status="200"' in metrics
    assert 'route="/feed/stream",status="500"' not in metrics


def test_stream_when_last_event_id_not_a_position_then_422(
    client: TestClient, token: Token
) -> None:
    response = client.get(
        "/feed/stream", headers={**_integrator(token), "Last-Event-ID": "yesterday"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "urn:casetrail:problem:validation"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_stream_when_server_shuts_down_then_stream_ends_and_server_exits(
    tmp_path: Path,
) -> None:
    # Given `casetrail serve` with a case, and an integrator following the stream
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CASETRAIL_")}
    environment["CASETRAIL_DATA_DIR"] = str(tmp_path / "data")
    cli = [sys.executable, "-m", "service.cli"]
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [*cli, "serve", "--port", str(port)],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)

        def bearer(role: str) -> Headers:
            minted = subprocess.run(
                [*cli, "token", "--sub", role, "--agency", LOCAL_AUTHORITY, "--role", role],
                env=environment,
                capture_output=True,
                text=True,
                check=True,
            )
            return {"Authorization": f"Bearer {minted.stdout.strip()}"}

        opened = httpx.post(
            f"{base}/cases", json={"events": [event("CaseOpened")]}, headers=bearer("practitioner")
        )
        assert opened.status_code == 201, opened.text
        with httpx.stream(
            "GET", f"{base}/feed/stream", headers=bearer("integrator"), timeout=15
        ) as response:
            lines = response.iter_lines()
            assert next(line for line in lines if line.startswith("data:"))

            # When the server is told to stop
            server.send_signal(signal.SIGTERM)

            # Then the stream ends (a stream left open would time the read out)
            rest = list(lines)
        assert not any(line.startswith("data:") for line in rest)
        # And the server shuts down cleanly (uvicorn re-raises the signal it stopped on)
        assert server.wait(timeout=15) in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in log.read_text()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
