"""What reads do with awkward input: unencoded `+` in query date-times, formulas in CSV cells."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient

from tests.support import append, event, open_case

Headers = dict[str, str]


# --- `+` sent unencoded in a query date-time --------------------------------------------------


def test_state_when_as_of_offset_plus_sent_unencoded_then_read_as_offset(
    client: TestClient, headers: Headers
) -> None:
    # Given a concern observed at 10:30 British Summer Time (09:30 UTC)
    case_id, _ = open_case(client, headers)
    concern = event("ConcernObserved", "2013-05-20T10:30:00+01:00")
    assert append(client, headers, case_id, concern).status_code == 201
    # When the state is asked for with `+01:00` written raw into the query string (form
    # decoding turns it into a space)
    before = client.get(f"/cases/{case_id}?as_of=2013-05-20T10:00:00+01:00", headers=headers)
    after = client.get(f"/cases/{case_id}?as_of=2013-05-20T11:00:00+01:00", headers=headers)
    fraction = client.get(f"/cases/{case_id}?as_of=2013-05-20T10:29:59.5+01:00", headers=headers)
    # Then the offset is honoured: not yet at 10:00+01:00, there at 11:00+01:00
    assert before.status_code == 200, before.text
    assert after.status_code == 200, after.text
    assert fraction.status_code == 200, fraction.text
    assert before.json()["open_concerns"] == []
    assert fraction.json()["open_concerns"] == []
    assert [c["event_id"] for c in after.json()["open_concerns"]] == [concern["id"]]


def test_state_when_as_of_offset_encoded_or_other_forms_then_unchanged(
    client: TestClient, headers: Headers
) -> None:
    # Given a concern observed at 09:30 UTC
    case_id, _ = open_case(client, headers)
    concern = event("ConcernObserved", "2013-05-20T10:30:00+01:00")
    assert append(client, headers, case_id, concern).status_code == 201
    # When the bound is sent properly encoded, in UTC, with a negative offset, or as a date
    queries = {
        "as_of=2013-05-20T10%3A00%3A00%2B01%3A00": [],
        "as_of=2013-05-20T09:31:00Z": [concern["id"]],
        "as_of=2013-05-20T04:00:00-05:00": [],
        "as_of=2013-05-20": [concern["id"]],
    }
    for query, expected in queries.items():
        response = client.get(f"/cases/{case_id}?{query}", headers=headers)
        # Then each is read as before
        assert response.status_code == 200, (query, response.text)
        assert [c["event_id"] for c in response.json()["open_concerns"]] == expected, query


def test_state_when_as_of_has_space_but_no_time_then_still_422(
    client: TestClient, headers: Headers
) -> None:
    # Given a case
    case_id, _ = open_case(client, headers)
    # When a bound has a space that cannot be an offset's `+` (a date, then a zoneless time)
    response = client.get(
        f"/cases/{case_id}", params={"as_of": "2013-05-20 10:00"}, headers=headers
    )
    # Then it is refused as before
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["parameter"] == "as_of"


# --- CSV formula injection ----------------------------------------------------------------


def test_chronology_csv_when_cell_starts_like_a_formula_then_prefixed_with_quote(
    client: TestClient, headers: Headers
) -> None:
    # Given entries whose author names a spreadsheet would run as formulas, and a normal one
    case_id, _ = open_case(client, headers)
    names = ['=HYPERLINK("x")', "+SUM(A1)", "-2+3", "@cmd", "\tTAB", "\rCR", "Ann O'Neil"]
    entries = [
        event("ConcernObserved", f"2013-05-{17 + i}", author={"name": name})
        for i, name in enumerate(names)
    ]
    assert append(client, headers, case_id, *entries).status_code == 201
    # When the chronology is read as CSV
    response = client.get(f"/cases/{case_id}/chronology", params={"format": "csv"}, headers=headers)
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    authors = {r["event_id"]: r["author"] for r in rows}
    # Then each formula-like cell starts with a quote, and the normal one is untouched
    assert authors[entries[0]["id"]] == """'=HYPERLINK("x")"""
    for entry, name in zip(entries, names, strict=True):
        expected = name if name[0].isalnum() else "'" + name
        assert authors[entry["id"]] == expected, name
    # And the numeric columns are plain non-negative integers
    for row in rows:
        assert row["seq"].isdigit()
        assert row["late_by_days"].isdigit()
        assert not row["event_id"].startswith("'")


def test_chronology_json_when_author_looks_like_a_formula_then_unchanged(
    client: TestClient, headers: Headers
) -> None:
    # Given an entry whose author name starts with `=`
    case_id, _ = open_case(client, headers)
    concern = event("ConcernObserved", "2013-05-20", author={"name": '=HYPERLINK("x")'})
    assert append(client, headers, case_id, concern).status_code == 201
    # When the chronology is read as JSON
    response = client.get(f"/cases/{case_id}/chronology", headers=headers)
    # Then the value comes back as sent: the quote is for spreadsheets only
    (entry,) = [e for e in response.json()["entries"] if e["event_id"] == concern["id"]]
    assert entry["author"]["name"] == '=HYPERLINK("x")'


# --- choosing the chronology's representation -------------------------------------------------


def test_chronology_when_accept_ranks_csv_below_json_or_refuses_it_then_json(
    client: TestClient, headers: Headers
) -> None:
    # Given a case
    case_id, _ = open_case(client, headers)
    url = f"/cases/{case_id}/chronology"

    # When the chronology is asked for with Accept headers that name CSV without preferring it
    for accept in (
        "application/json, text/csv;q=0.1",
        "text/csv;q=0",
        "text/csv;q=0.000, */*",
        "text/csv, application/json",
        "text/csv;q=0.5, application/*;q=0.8",
        "image/png",
    ):
        response = client.get(url, headers={**headers, "Accept": accept})

        # Then it comes as JSON
        assert response.status_code == 200, (accept, response.text)
        assert response.headers["content-type"] == "application/json", accept


def test_chronology_when_accept_prefers_csv_or_format_given_then_format_decides(
    client: TestClient, headers: Headers
) -> None:
    # Given a case
    case_id, _ = open_case(client, headers)
    url = f"/cases/{case_id}/chronology"

    # When CSV is preferred by Accept, and when `format` says otherwise than Accept
    preferring = [
        {"Accept": accept}
        for accept in ("text/csv", "Text/CSV; charset=utf-8", "application/json;q=0.4, text/*")
    ]
    csv_by_accept = [client.get(url, headers={**headers, **h}) for h in preferring]
    json_by_format = client.get(
        url, params={"format": "json"}, headers={**headers, "Accept": "text/csv"}
    )
    csv_by_format = client.get(
        url, params={"format": "csv"}, headers={**headers, "Accept": "text/csv;q=0"}
    )

    # Then CSV comes when Accept ranks it first, and `format` decides over Accept
    for response in [*csv_by_accept, csv_by_format]:
        assert response.headers["content-type"].startswith("text/csv"), response.request.headers
    assert json_by_format.headers["content-type"] == "application/json"


# --- a case id that is not one ----------------------------------------------------------------


def test_case_routes_when_case_id_not_a_uuid_then_422_names_it_once(
    client: TestClient, headers: Headers
) -> None:
    # Given a case id that is not a UUID
    for path in ("/cases/xyz", "/cases/xyz/chronology", "/cases/xyz/events", "/cases/xyz/verify"):
        # When a case's view is asked for under it
        response = client.get(path, headers=headers)
        # Then the problem names the parameter once, not once per part of the route reading it
        assert response.status_code == 422, (path, response.text)
        errors = response.json()["errors"]
        assert [e["parameter"] for e in errors] == ["case_id"], (path, errors)
        assert response.json()["detail"].count("case_id") == 1, path


# --- agency filters -----------------------------------------------------------------------------


def test_agency_filters_when_not_kind_name_then_422_naming_agency(
    client: TestClient, headers: Headers
) -> None:
    # Given a case
    case_id, _ = open_case(client, headers)
    for path in ("/cases", f"/cases/{case_id}/chronology", f"/cases/{case_id}/audit"):
        # When a list is filtered by an agency not written KIND:NAME
        response = client.get(path, params={"agency": "the police"}, headers=headers)
        # Then it is refused, naming the filter, rather than answering an empty list
        assert response.status_code == 422, (path, response.text)
        assert [e["parameter"] for e in response.json()["errors"]] == ["agency"], path
        # And a well-formed agency is answered
        well_formed = client.get(path, params={"agency": "police:barsetshire"}, headers=headers)
        assert well_formed.status_code == 200, (path, well_formed.text)
