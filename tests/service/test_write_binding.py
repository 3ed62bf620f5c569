"""The write routes bind a well-formed `application/json` request directly and leave any other
to FastAPI (which also takes `+json` types): a posting system sees one behaviour, whichever way
its request went."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.support import event, open_case

Headers = dict[str, str]
Token = Callable[..., Headers]

PROBLEM_JSON = "application/problem+json"


def _post(client: TestClient, path: str, body: object, headers: Headers, content_type: str | None):
    sent = dict(headers)
    if content_type is not None:
        sent["Content-Type"] = content_type
    return client.post(path, content=orjson.dumps(body), headers=sent)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/vnd.casetrail+json",
    ],
)
def test_append_when_json_sent_with_any_json_content_type_then_stored(
    client: TestClient, headers: Headers, content_type: str
) -> None:
    # Given a case
    case_id, _ = open_case(client, headers)

    # When a batch is posted with this content type
    batch = {"events": [event("CaseNoteRecorded")]}
    response = _post(client, f"/cases/{case_id}/events", batch, headers, content_type)

    # Then it is stored
    assert response.status_code == 201, response.text
    assert response.json()["version"] == 2


@pytest.mark.parametrize("content_type", ["text/plain", None])
def test_append_when_body_not_sent_as_json_then_422_problem_and_nothing_stored(
    client: TestClient, headers: Headers, content_type: str | None
) -> None:
    # Given a case
    case_id, _ = open_case(client, headers)

    # When a valid batch is posted as text/plain, or with no content type
    batch = {"events": [event("CaseNoteRecorded")]}
    response = _post(client, f"/cases/{case_id}/events", batch, headers, content_type)

    # Then it is refused as a body not sent as JSON, naming the header to fix, and nothing is stored
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["errors"] == [
        {
            "parameter": "Content-Type",
            "detail": f"send the body as application/json (or a +json type), not {content_type}"
            if content_type
            else "send the body as application/json (or a +json type) and say so in Content-Type",
        }
    ]
    assert client.get(f"/cases/{case_id}", headers=headers).json()["version"] == 1


def test_replay_when_sent_the_other_way_then_the_original_results(
    client: TestClient, headers: Headers
) -> None:
    # Given a batch stored from a request with a JSON content type
    case_id, _ = open_case(client, headers)
    batch = {"events": [event("CaseNoteRecorded"), event("CaseNoteRecorded")]}
    path = f"/cases/{case_id}/events"
    stored = _post(client, path, batch, headers, "application/json")
    assert stored.status_code == 201

    # When the same batch is sent again as a +json type
    replay = _post(client, path, batch, headers, "application/vnd.casetrail+json")

    # Then it is a replay with the original results, whichever way each request went
    assert replay.status_code == 200
    assert replay.headers["ETag"] == stored.headers["ETag"] == '"3"'
    assert replay.json() == {
        **stored.json(),
        "events": [{**e, "replayed": True} for e in stored.json()["events"]],
    }


def test_open_case_when_sent_either_way_then_the_same_answer(
    client: TestClient, headers: Headers
) -> None:
    # When two cases are opened, one sent as application/json and one as a +json type
    answers = [
        _post(client, "/cases", {"events": [event("CaseOpened")]}, headers, content_type)
        for content_type in ("application/json", "application/vnd.casetrail+json")
    ]

    # Then both are created alike
    assert [a.status_code for a in answers] == [201, 201]
    assert [a.headers["Location"] for a in answers] == [
        f"/cases/{a.json()['case_id']}" for a in answers
    ]
    assert [a.json()["version"] for a in answers] == [1, 1]


def test_rate_limit_when_request_refused_as_invalid_then_counted_once(
    start_app: Callable[..., TestClient], token: Token
) -> None:
    # Given a limit of two requests at once, and a case (opened by another principal)
    app = start_app(rate_limit_per_minute=1, rate_limit_burst=2)
    case_id, _ = open_case(app, token(sub="opener"))
    writer = token()

    # When the writer sends two invalid batches, then a valid one
    invalid = [
        _post(app, f"/cases/{case_id}/events", {"events": [{"type": "NoSuchType"}]}, writer, ct)
        for ct in ("application/json", "application/json")
    ]
    valid = _post(
        app,
        f"/cases/{case_id}/events",
        {"events": [event("CaseNoteRecorded")]},
        writer,
        "application/json",
    )

    # Then each invalid one costs one request of its limit: both refused as invalid, and the
    # third is the one over the limit
    assert [r.status_code for r in invalid] == [422, 422]
    assert valid.status_code == 429


@pytest.mark.parametrize(
    ("sent", "status"),
    [({"Authorization": ""}, 401), ({"If-Match": "seven"}, 400), ({}, 422)],
)
def test_append_when_body_invalid_then_an_earlier_refusal_comes_first(
    client: TestClient, headers: Headers, sent: Headers, status: int
) -> None:
    # Given a case
    case_id, _ = open_case(client, headers)

    # When a batch that does not validate is posted without a token, or with a garbage If-Match
    invalid = {"events": [{"type": "NoSuchType"}]}
    response = _post(
        client, f"/cases/{case_id}/events", invalid, {**headers, **sent}, "application/json"
    )

    # Then the token and the precondition are judged before the body, as for any route
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)


def test_append_when_case_id_not_a_uuid_then_422_problem(
    client: TestClient, headers: Headers
) -> None:
    # When a valid batch is posted to a path whose case id is not a UUID
    batch = {"events": [event("CaseNoteRecorded")]}
    response = _post(client, "/cases/not-a-uuid/events", batch, headers, "application/json")

    # Then it is refused, naming the parameter
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert "case_id" in response.text


def test_append_when_client_disconnects_mid_body_then_400_not_a_server_error(
    client: TestClient, headers: Headers
) -> None:
    # Given a case, and a client that sends the headers of a batch and goes away
    case_id, _ = open_case(client, headers)
    sent = {**headers, "Content-Type": "application/json", "Content-Length": "1000"}
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"/cases/{case_id}/events",
        "raw_path": f"/cases/{case_id}/events".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in sent.items()],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    messages: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        messages.append(message)

    # When the service reads the body
    client.portal.call(client.app, scope, receive, send)  # type: ignore[union-attr]

    # Then it answers as for a body it could not read (to no one), not with a server error
    assert messages[0]["status"] == 400
    assert client.get(f"/cases/{case_id}", headers=headers).json()["version"] == 1


@pytest.mark.parametrize("content_type", ["application/json", "application/vnd.casetrail+json"])
def test_append_when_body_not_json_then_400_before_the_token_is_judged(
    client: TestClient, headers: Headers, content_type: str
) -> None:
    # Given a case
    case_id, _ = open_case(client, headers)

    # When a body that is not JSON is posted without a token, either way
    response = client.post(
        f"/cases/{case_id}/events",
        content=b'{"events": [',
        headers={"Content-Type": content_type},
    )

    # Then it is refused as a body that does not parse, before the token is looked at
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "urn:casetrail:problem:malformed-json"


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ('{"events": [{"id": "caf\u00e9"}]}'.encode("latin-1"), "not UTF-8"),
        (b'{"events": "\xff\xfe"}', "not UTF-8"),
        (b'{"events": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested too deeply"),
    ],
    ids=["latin-1", "invalid UTF-8", "deep"],
)
def test_append_when_body_cannot_be_read_as_json_then_400_malformed_json_saying_why(
    client: TestClient, headers: Headers, body: bytes, said: str
) -> None:
    # Given a case
    case_id, _ = open_case(client, headers)

    # When a body that cannot even be decoded as JSON text is posted
    response = client.post(
        f"/cases/{case_id}/events",
        content=body,
        headers={**headers, "Content-Type": "application/json; charset=latin-1"},
    )

    # Then it is refused as malformed JSON, saying why, and nothing is stored
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:casetrail:problem:malformed-json"
    assert said in response.json()["detail"]
    assert client.get(f"/cases/{case_id}", headers=headers).json()["version"] == 1


@pytest.mark.parametrize(
    "body",
    [
        # JSON the standard library reads and pydantic's parser does not: a lone surrogate, a
        # byte-order mark, UTF-16
        lambda e: orjson.dumps({"events": [e]}).replace(b"A note", b"A note \\ud800"),
        lambda e: b"\xef\xbb\xbf" + orjson.dumps({"events": [e]}),
        lambda e: orjson.dumps({"events": [e]}).decode().encode("utf-16"),
    ],
    ids=["lone-surrogate", "bom", "utf-16"],
)
def test_append_when_json_only_the_standard_parser_reads_then_answered_as_fastapi_answers(
    client: TestClient, headers: Headers, body: Callable[[dict[str, object]], bytes]
) -> None:
    # Given a case
    case_id, _ = open_case(client, headers)

    # When such a body is posted as application/json, and its like as a +json type (which
    # always goes FastAPI's way)
    answers = []
    for content_type in ("application/json", "application/vnd.casetrail+json"):
        note = event("CaseNoteRecorded", data={"kind": "phone call", "text": "A note"})
        sent = {**headers, "Content-Type": content_type}
        answers.append(client.post(f"/cases/{case_id}/events", content=body(note), headers=sent))

    # Then both are answered alike, and never with a server error
    assert answers[0].status_code == answers[1].status_code < 500, answers[0].text
    assert answers[0].headers["content-type"] == answers[1].headers["content-type"]
