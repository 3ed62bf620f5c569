"""Hostile corpus: malformed, huge, deeply nested, mis-encoded and mistyped requests, dates at the
ends of the calendar, SQL and path-traversal strings, NUL bytes, oversized batches, garbage
`If-Match` and `Authorization` headers.

Each must be answered by a 4xx problem document (`application/problem+json` whose `status` is
the response's), leave the log exactly as it was (its newest position unchanged), and leave the
service healthy: `/health` answers and a normal append still works. A free-text search is not an
error: an SQL string there must find nothing (and store nothing).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.clock import SettableClock
from service.settings import Settings
from tests.reliability.harness import RESULTS
from tests.support import event

pytestmark = pytest.mark.reliability

Body = bytes | str


@dataclass
class Hostile:
    """One hostile request. `path` may name `{case}` (an open case) and `{event}` (one of its
    events); `search`: an answer of 200 finding nothing is right."""

    name: str
    method: str
    path: str
    body: Body | Callable[[], Iterator[bytes]] | None = None
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str | bytes] = field(default_factory=dict)
    auth: bool = True
    search: bool = False


APPEND = "/cases/{case}/events"
UUID_TEXT = "b3a0c1de-0000-4000-8000-000000000001"


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True)


def _note(**changes: Any) -> dict[str, Any]:
    """A valid CaseNoteRecorded event, with envelope fields changed (None: removed)."""
    body = event("CaseNoteRecorded")
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def _append(*events: dict[str, Any]) -> str:
    return _dump({"events": list(events)})


def _note_text(text: str) -> str:
    return _append(_note(data={"kind": "phone call", "text": text}))


def _opening(child_name: str) -> str:
    opened = event("CaseOpened")
    opened["data"]["child"]["name"] = child_name
    return _dump({"events": [opened]})


def _nested(depth: int) -> str:
    """A note whose `data` holds objects nested `depth` deep (written out: json.dumps would
    recurse as deep)."""
    body = _append(_note(data={"kind": "phone call", "text": "x", "more": "DEEP"}))
    return body.replace('"DEEP"', '{"a": ' * depth + '"bottom"' + "}" * depth)


def _streamed(size: int) -> Callable[[], Iterator[bytes]]:
    """A body sent in chunks with no Content-Length (chunked transfer)."""

    def chunks() -> Iterator[bytes]:
        yield b'{"events": [{"data": {"text": "'
        for _ in range(size // 65536):
            yield b"x" * 65536
        yield b'"}}]}'

    return chunks


def corpus() -> list[Hostile]:
    h: list[Hostile] = []

    # Malformed JSON, and JSON of the wrong shape.
    for i, raw in enumerate(
        [
            b'{"events": [',
            b"not json at all",
            b'{"events": [}]',
            b"",
            b'{"events": []} trailing',
            b"{'events': []}",
            b'{"events": [{"id": "x",}]}',
            b'\xef\xbb\xbf{"events": []}',
            b"[]",
            b"null",
            b'"events"',
            b"{}",
            b"42",
            b'{"events": [], "events": []}',
            b'{"events": [{"id": NaN}]}',
            b'{"events": [{"id": 1e999}]}',
            b'{"events": [{"id": ' + b"9" * 5000 + b"}]}",
        ]
    ):
        h.append(Hostile(f"malformed body #{i}", "POST", APPEND, raw))
        h.append(Hostile(f"malformed opening #{i}", "POST", "/cases", raw))

    # Huge and deeply nested.
    h += [
        Hostile("6 MiB body", "POST", APPEND, _note_text("x" * (6 * 1024 * 1024))),
        Hostile("6 MiB streamed, no length", "POST", APPEND, _streamed(6 * 1024 * 1024)),
        Hostile("1 MiB note text", "POST", APPEND, _note_text("x" * (1024 * 1024))),
        Hostile("100,000 nested arrays", "POST", APPEND, b'{"events": ' + b"[" * 100_000),
        Hostile(
            "100,000 nested arrays, closed",
            "POST",
            APPEND,
            b'{"events": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        ),
        Hostile("data nested 5,000 deep", "POST", APPEND, _nested(5000)),
        Hostile("data nested 200 deep", "POST", APPEND, _nested(200)),
        Hostile(
            "data with 10,000 keys",
            "POST",
            APPEND,
            _append(_note(data={f"k{i}": i for i in range(10_000)})),
        ),
    ]

    # Invalid UTF-8, lone surrogates, NUL bytes.
    valid = _note_text("PLACEHOLDER").encode()
    h += [
        Hostile(
            "invalid UTF-8 in a string", "POST", APPEND, valid.replace(b"PLACEHOLDER", b"\xc3(")
        ),
        Hostile("invalid UTF-8 id", "POST", APPEND, b'{"events": [{"id": "\xff\xfe"}]}'),
        Hostile("latin-1 body", "POST", APPEND, valid.replace(b"PLACEHOLDER", b"caf\xe9")),
        Hostile("lone surrogate", "POST", APPEND, _note_text("a\ud800b")),
        Hostile("NUL in note text", "POST", APPEND, _note_text("a\u0000b")),
        Hostile("NUL in child's name", "POST", "/cases", _opening("Amy\u0000Smith")),
        Hostile("NUL in author", "POST", APPEND, _append(_note(author={"name": "A\u0000"}))),
        Hostile(
            "NUL in source",
            "POST",
            APPEND,
            _append(_note(source={"system": "s", "reference": "\0"})),
        ),
        Hostile("NUL in id", "POST", APPEND, _append(_note(id="\u0000"))),
        Hostile("NUL in type", "POST", APPEND, _append(_note(type="CaseNoteRecorded\u0000"))),
        Hostile("NUL in case path", "GET", "/cases/%00"),
    ]
    for path, param in [
        ("/cases", "q"),
        ("/cases", "worker"),
        ("/cases", "team"),
        ("/cases", "agency"),
        ("/cases", "identifier"),
        ("/alerts", "worker"),
        ("/alerts", "team"),
        ("/caseloads", "team"),
        ("/cases/{case}/audit", "agency"),
        ("/cases/{case}/chronology", "agency"),
        ("/cases/{case}", "as_of"),
        ("/feed", "types"),
    ]:
        h.append(Hostile(f"NUL in {path} ?{param}", "GET", path, params={param: "upn:a\x00b"}))

    # Wrong types and fields no client may send.
    for name, changes in [
        ("id a number", {"id": 42}),
        ("id not a UUID", {"id": "not-a-uuid"}),
        ("id null", {"id": None}),
        ("id a list", {"id": []}),
        ("type a number", {"type": 42}),
        ("unknown type", {"type": "NoSuchType"}),
        ("no type", {"type": None}),
        ("occurred_at a number", {"occurred_at": 20130516}),
        ("no occurred_at", {"occurred_at": None}),
        ("data a string", {"data": "text"}),
        ("data a list", {"data": []}),
        ("text a boolean", {"data": {"kind": "phone call", "text": True}}),
        ("unknown sensitivity", {"sensitivity": "secret"}),
        ("unknown precision", {"occurred_precision": "sometimes"}),
        ("server field recorded_at", {"recorded_at": "2013-05-16T00:00:00Z"}),
        ("server field version", {"version": 5}),
        ("server field hash", {"hash": "00" * 32}),
        ("server field recorded_by", {"recorded_by": {"sub": "x"}}),
    ]:
        h.append(Hostile(name, "POST", APPEND, _append(_note(**changes))))
    h += [
        Hostile("events an object", "POST", APPEND, _dump({"events": {}})),
        Hostile("events null", "POST", APPEND, _dump({"events": None})),
        Hostile("events a string", "POST", APPEND, _dump({"events": "x"})),
        Hostile("case_id traversal", "POST", "/cases", _dump({"case_id": "../../etc/passwd"})),
        Hostile("case_id a number", "POST", "/cases", _dump({"case_id": 42, "events": []})),
        Hostile(
            "JSON sent as text/plain",
            "POST",
            APPEND,
            _append(_note()),
            headers={"Content-Type": "text/plain"},
        ),
    ]

    # Dates at and beyond the ends of the calendar.
    for moment in [
        "0001-01-01",
        "9999-12-31",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "1899-12-31",
        "9001-01-01",
        "2099-01-01",
        "2013-02-30",
        "2013-05-16T25:00:00Z",
        "2013-05-16T10:00:00",
        "+002013-05-16",
        "2013-W20-1",
        "yesterday",
    ]:
        h.append(
            Hostile(f"occurred_at {moment}", "POST", APPEND, _append(_note(occurred_at=moment)))
        )
        if moment == "2099-01-01":
            continue  # a question about the future is a fair one: as of 2099, all of it
        for path in ("/cases/{case}", "/cases/{case}/chronology", "/cases/{case}/alerts"):
            for param in ("as_of", "known_at"):
                h.append(Hostile(f"{path} ?{param}={moment}", "GET", path, params={param: moment}))
    correction = {
        "target_event_id": "{event}",
        "data": {"kind": "phone call", "text": "corrected"},
        "reason": "wrong date",
        "occurred_at": "0001-01-01",
    }
    h.append(
        Hostile(
            "correction moved to year 1",
            "POST",
            APPEND,
            _append(event("EntryCorrected", data=correction)),
        )
    )

    # SQL and path traversal in ids and query parameters.
    sql = "'; DROP TABLE casetrail_event_ids; --"
    h += [
        Hostile("SQL event id", "POST", APPEND, _append(_note(id=sql))),
        Hostile("SQL case id", "GET", "/cases/1' OR '1'='1"),
        Hostile("SQL case id, append", "POST", "/cases/1' OR '1'='1/events", _append(_note())),
        Hostile("traversal case id", "GET", "/cases/..%2F..%2Fetc%2Fpasswd"),
        Hostile("traversal path", "GET", "/cases/%2E%2E/%2E%2E/etc/passwd"),
        Hostile(
            "traversal target id",
            "POST",
            APPEND,
            _append(event("EntryRetracted", data={"target_event_id": "../../x", "reason": "r"})),
        ),
        Hostile("SQL target id", "POST", APPEND, _append(event("EntryRetracted", target=sql))),
        Hostile(
            "SQL after_version", "GET", "/cases/{case}/events", params={"after_version": "1 OR 1=1"}
        ),
        Hostile("negative limit", "GET", "/cases/{case}/events", params={"limit": "-1"}),
        Hostile(
            "huge after_version", "GET", "/cases/{case}/events", params={"after_version": "9" * 40}
        ),
        Hostile("SQL feed after", "GET", "/feed", params={"after": "1; DROP TABLE x"}),
        Hostile("SQL feed types", "GET", "/feed", params={"types": "CaseOpened' OR '1'='1"}),
        Hostile("SQL cursor", "GET", "/cases", params={"cursor": "' OR 1=1 --"}),
        Hostile("SQL dob", "GET", "/cases", params={"dob": "2013-01-01' OR '1'='1"}),
        Hostile("SQL status", "GET", "/cases", params={"status": "open' OR '1'='1"}),
        Hostile("SQL sort", "GET", "/cases", params={"sort": "created; DROP TABLE x"}),
        Hostile("SQL alert rule", "GET", "/alerts", params={"rule": "x' OR '1'='1"}),
        Hostile("SQL chronology types", "GET", "/cases/{case}/chronology", params={"types": sql}),
        Hostile("bad format", "GET", "/cases/{case}/chronology", params={"format": "../xml"}),
        Hostile(
            "traversal for_agency",
            "GET",
            "/cases/{case}/sharing-pack",
            params={"for_agency": "../../etc/passwd"},
        ),
        Hostile("SQL name search", "GET", "/cases", params={"q": "' OR '1'='1"}, search=True),
        Hostile("LIKE wildcard search", "GET", "/cases", params={"q": "%"}, search=True),
        Hostile("LIKE underscore search", "GET", "/cases", params={"q": "_"}, search=True),
        Hostile(
            "SQL identifier search",
            "GET",
            "/cases",
            params={"identifier": "upn:' OR '1'='1"},
            search=True,
        ),
        Hostile("SQL worker search", "GET", "/cases", params={"worker": sql}, search=True),
    ]

    # Oversized and malformed batches.
    h += [
        Hostile("501 events", "POST", APPEND, _append(*(_note() for _ in range(501)))),
        Hostile(
            "501 events opening",
            "POST",
            "/cases",
            _dump({"events": [event("CaseOpened"), *(_note() for _ in range(500))]}),
        ),
        Hostile("no events", "POST", APPEND, _append()),
        Hostile(
            "the same id twice", "POST", APPEND, _append(_note(id=UUID_TEXT), _note(id=UUID_TEXT))
        ),
        Hostile("opening without CaseOpened", "POST", "/cases", _append(_note())),
        Hostile("a second CaseOpened", "POST", APPEND, _append(event("CaseOpened"))),
    ]

    # A batch is all or nothing: valid events, then a hostile one, store none of them.
    for name, bad in [
        ("a NUL", _note(data={"kind": "phone call", "text": "a\u0000b"})),
        ("year 1", _note(occurred_at="0001-01-01")),
        ("year 9999", _note(occurred_at="9999-12-31")),
        ("a wrong type", _note(data="text")),
        ("an SQL id", _note(id=sql)),
        ("a second CaseOpened", event("CaseOpened")),
        ("a retraction of no stored event", event("EntryRetracted", target=UUID_TEXT)),
    ]:
        h.append(Hostile(f"two valid, then {name}", "POST", APPEND, _append(_note(), _note(), bad)))
        opening = _dump({"events": [event("CaseOpened"), _note(), bad]})
        h.append(Hostile(f"an opening, then {name}", "POST", "/cases", opening))

    # Garbage If-Match.
    for i, value in enumerate(
        [
            'W/"1"',
            '"abc"',
            "1",
            '"-1"',
            '"1", "2"',
            '"' + "9" * 19 + '"',
            "*garbage",
            '""',
            '"1"junk',
            b"\xff\xfe",
            '"0"',
            '"999999999999999999"',
        ]
    ):
        h.append(
            Hostile(f"If-Match #{i}", "POST", APPEND, _append(_note()), headers={"If-Match": value})
        )

    # Garbage Authorization.
    for i, value in enumerate(
        [
            "",
            "Bearer",
            "Bearer ",
            "Basic dXNlcjpwYXNz",
            "Bearer x.y.z",
            "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
            "Bearer " + "A" * 100_000,
            b"Bearer \xff\xfe",
            "Bearer {tampered}",
            "Bearer {expired}",
            "Bearer {hs256}",
            "Bearer {school}",
            "Bearer {reviewer}",
        ]
    ):
        h.append(
            Hostile(
                f"Authorization #{i}",
                "POST",
                APPEND,
                _append(_note()),
                headers={"Authorization": value},
                auth=False,
            )
        )
    h.append(Hostile("no Authorization", "POST", APPEND, _append(_note()), auth=False))
    h.append(Hostile("no Authorization, read", "GET", "/cases/{case}", auth=False))

    # Methods and routes that do not exist.
    h += [
        Hostile("PUT events", "PUT", APPEND, _append(_note())),
        Hostile("DELETE case", "DELETE", "/cases/{case}"),
        Hostile("PATCH case", "PATCH", "/cases/{case}", _append(_note())),
        Hostile("POST state", "POST", "/cases/{case}", _append(_note())),
        Hostile("unknown route", "POST", "/cases/{case}/events/../../admin", _append(_note())),
    ]
    return h


def _tokens(app: Any) -> dict[str, str]:
    """Tokens that are wrong in ways a string cannot show: tampered, expired, signed with a
    guessed secret, another agency's, a reviewer's for other cases."""
    import jwt

    tokens = app.state.tokens
    good = tokens.mint(sub="x", name="X", agency="csc:barsetshire", roles=["practitioner"])
    head, claims, signature = good.split(".")
    kid = jwt.get_unverified_header(good)["kid"]
    return {
        "tampered": f"{head}.{claims}.{signature[:-4]}AAAA",
        "expired": tokens.mint(
            sub="x",
            name="X",
            agency="csc:barsetshire",
            roles=["practitioner"],
            expires=timedelta(hours=-1),
        ),
        "hs256": jwt.encode(
            {**jwt.decode(good, options={"verify_signature": False})},
            "a-guessed-shared-secret-of-32-bytes!",
            algorithm="HS256",
            headers={"kid": kid},
        ),
        "school": tokens.mint(
            sub="s", name="S", agency="school:st-marys-primary", roles=["practitioner"]
        ),
        "reviewer": tokens.mint(
            sub="r", name="R", agency="other:inspectorate", roles=["reviewer"], cases=[UUID_TEXT]
        ),
    }


def test_hostile_when_corpus_sent_then_each_a_4xx_problem_and_nothing_stored(
    settings: Settings, clock: SettableClock
) -> None:
    # Given the real app on a store holding one case (the harness sends as fast as it can: no
    # rate limit, so every request reaches the part it aims at)
    app = create_app(settings.model_copy(update={"rate_limit_per_minute": 0}), clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        jwt = app.state.tokens.mint(
            sub="ann.worker", name="Ann Worker", agency="csc:barsetshire", roles=["manager"]
        )
        auth = {"Authorization": f"Bearer {jwt}"}
        first = event("CaseNoteRecorded")
        opened = client.post("/cases", json={"events": [event("CaseOpened"), first]}, headers=auth)
        assert opened.status_code == 201, opened.text
        case_id = opened.json()["case_id"]
        records = app.state.records
        position = records.recorder.max_notification_id()
        tokens = _tokens(app)
        failures: list[str] = []
        statuses: Counter[int] = Counter()
        corpus_size = searches = 0

        # When each hostile request is sent
        for hostile in corpus():
            corpus_size += 1
            path = hostile.path.format(case=case_id, event=first["id"])
            headers: dict[str, str | bytes] = {"Content-Type": "application/json"}
            if hostile.auth:
                headers.update(auth)
            for key, value in hostile.headers.items():
                fill = isinstance(value, str) and "{" in value
                headers[key] = value.format(**tokens) if fill else value  # type: ignore[union-attr]
            body = hostile.body
            if isinstance(body, str):
                body = body.replace("{event}", first["id"]).encode(errors="surrogatepass")
            content = body() if callable(body) else body
            response = client.request(
                hostile.method,
                path,
                content=content,
                params=hostile.params,
                headers=[(k, v) for k, v in headers.items() if v != "" or k != "Authorization"],
            )
            if hostile.search:
                searches += 1
            else:
                statuses[response.status_code] += 1

            # Then it is refused with a 4xx problem document (a search finds nothing)
            problem = _problem(response, search=hostile.search)
            if problem:
                failures.append(f"{hostile.name}: {problem}")
            # And the log has not moved
            now = records.recorder.max_notification_id()
            if now != position:
                failures.append(f"{hostile.name}: the log moved from {position} to {now}")
                position = now

        assert not failures, f"{len(failures)} of {corpus_size} failed:\n" + "\n".join(failures)

        # And the service is healthy: /health, a normal append, the state read back
        assert client.get("/health").status_code == 200
        normal = client.post(f"/cases/{case_id}/events", json={"events": [_note()]}, headers=auth)
        assert normal.status_code == 201, normal.text
        state = client.get(f"/cases/{case_id}", headers=auth)
        assert state.status_code == 200 and state.json()["version"] == 3, state.text

    store = "PostgreSQL" if settings.is_postgres else "SQLite"
    answered = ", ".join(f"{n} x {status}" for status, n in sorted(statuses.items()))
    RESULTS.add(
        "Hostile corpus",
        f"- {store}: {corpus_size} hostile requests: {corpus_size - searches} refused "
        f"({answered}), each with a problem document; {searches} hostile searches answered 200 "
        "finding nothing; the log never moved; /health and a normal append fine after",
    )


def _problem(response: Any, *, search: bool) -> str | None:
    """What is wrong with the answer to a hostile request (None: nothing)."""
    if search:
        if response.status_code != 200:
            return f"a search answered {response.status_code}: {response.text[:200]}"
        found = response.json()["cases"]
        return f"a hostile search found {len(found)} cases" if found else None
    if not 400 <= response.status_code < 500:
        return f"answered {response.status_code}: {response.text[:200]}"
    if response.headers.get("content-type") != "application/problem+json":
        return f"{response.status_code} with content-type {response.headers.get('content-type')}"
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code} with a body that is not JSON: {response.text[:200]}"
    missing = [k for k in ("type", "title", "status", "detail") if k not in body]
    if missing or body["status"] != response.status_code:
        return f"not a problem document for {response.status_code}: {response.text[:200]}"
    return None


def test_hostile_corpus_is_unique_by_name() -> None:
    names = [h.name for h in corpus()]
    assert len(names) == len(set(names)), [n for n, c in Counter(names).items() if c > 1]
