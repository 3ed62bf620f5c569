"""The chronology over HTTP: entries in the order they happened, and what was done about each
taken from the right entry when a posting system reuses its ids (DOMAIN.md §3)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.support import append, event, open_case, payload

Headers = dict[str, str]


def chronology(client: TestClient, headers: Headers, case_id: str) -> list[dict[str, Any]]:
    response = client.get(
        f"/cases/{case_id}/chronology", params={"min_significance": "routine"}, headers=headers
    )
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def action_of(lines: list[dict[str, Any]], posted: dict[str, Any]) -> str | None:
    (line,) = [line for line in lines if line["event_id"] == posted["id"]]
    action: str | None = line["action"]
    return action


def test_chronology_when_case_holds_what_happened_before_its_opening_then_in_date_order(
    client: TestClient, headers: Headers
) -> None:
    # Given a case opened on 10 June 2024 that records a concern seen on 1 June
    concern = event("ConcernObserved", "2024-06-01")
    case_id, opened = open_case(client, headers, concern, occurred_at="2024-06-10")

    # When its chronology is read
    lines = chronology(client, headers, case_id)

    # Then the concern comes first, as it happened first, and the lines are numbered so
    assert [(line["seq"], line["event_id"]) for line in lines] == [
        (1, concern["id"]),
        (2, opened["id"]),
    ]


def test_action_when_contact_id_reused_then_each_contact_shows_its_own_decision(
    client: TestClient, headers: Headers
) -> None:
    # Given two contacts a year apart under one contact id, each decided
    first = event("ContactReceived", "2024-01-10")
    case_id, _ = open_case(client, headers, first, occurred_at="2024-01-10")
    first_decision = event(
        "ContactDecisionMade",
        "2024-01-10",
        data=payload("ContactDecisionMade", outcome="nfa", rationale="first decision"),
    )
    second = event("ContactReceived", "2025-03-10")
    second_decision = event(
        "ContactDecisionMade",
        "2025-03-11",
        data=payload("ContactDecisionMade", outcome="referral", rationale="second decision"),
    )
    response = append(client, headers, case_id, first_decision, second, second_decision)
    assert response.status_code == 201, response.text

    # When the chronology is read
    lines = chronology(client, headers, case_id)

    # Then each contact's action is its own decision, as the decision-overdue rule judges it
    assert action_of(lines, first) == "Decision 10 January 2024: nfa — first decision"
    assert action_of(lines, second) == "Decision 11 March 2025: referral — second decision"
    alerts = client.get(
        f"/cases/{case_id}/alerts", params={"include_resolved": "true"}, headers=headers
    ).json()["alerts"]
    resolved = {
        a["event_ids"][0]: a["resolved_by"] for a in alerts if a["rule"] == "decision-overdue"
    }
    assert resolved == {first["id"]: first_decision["id"], second["id"]: second_decision["id"]}


def test_action_when_meeting_id_reused_then_each_meeting_shows_its_own_minutes(
    client: TestClient, headers: Headers
) -> None:
    # Given two meetings months apart under one meeting id, each minuted the next day
    february, may = event("MeetingHeld", "2024-02-01"), event("MeetingHeld", "2024-05-01")
    case_id, _ = open_case(client, headers, occurred_at="2024-01-10")
    response = append(
        client,
        headers,
        case_id,
        february,
        event("MinutesRecorded", "2024-02-02"),
        may,
        event("MinutesRecorded", "2024-05-02"),
    )
    assert response.status_code == 201, response.text

    # When the chronology is read
    lines = chronology(client, headers, case_id)

    # Then each meeting shows the minutes of its own
    assert action_of(lines, february) == "Minuted 2 February 2024"
    assert action_of(lines, may) == "Minuted 2 May 2024"


def test_action_when_decision_dated_before_every_contact_of_its_id_then_answers_none(
    client: TestClient, headers: Headers
) -> None:
    # Given a decision dated the day before the only contact it names
    contact = event("ContactReceived", "2024-03-05")
    early = event("ContactDecisionMade", "2024-03-04")
    case_id, _ = open_case(client, headers, contact, early, occurred_at="2024-03-01")

    # When the chronology is read
    lines = chronology(client, headers, case_id)

    # Then the contact shows no decision, as the decision-overdue rule does not count it
    assert action_of(lines, contact) is None
