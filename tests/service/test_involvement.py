"""`GET /cases/{case_id}/involvement`: "when were you last involved?", answered in full."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.clock import SettableClock
from tests.support import LOCAL_AUTHORITY, append, event, open_case, payload

Headers = dict[str, str]
Token = Callable[..., Headers]
SCHOOL = "school:st-marys-primary"
POLICE = "police:barsetshire"


def _referral(day: str, agency: str, contact_id: str, **envelope: Any) -> dict[str, Any]:
    referrer = {"name": "Mrs Jones", "agency": agency, "role": "DSL"}
    data = payload("ContactReceived", referrer=referrer, contact_id=contact_id)
    return event("ContactReceived", day, data=data, **envelope)


def _case(client: TestClient, csc: Headers) -> str:
    """The school referred Amy in May 2013; she was seen alone and heard; the episode closed in
    March 2014; the police then made a restricted contact."""
    case_id, _ = open_case(
        client,
        csc,
        _referral("2013-05-16", SCHOOL, "C-1"),
        event("ReferralAccepted", "2013-05-17", data=payload("ReferralAccepted", contact_id="C-1")),
        event(
            "WorkerAllocated",
            "2013-05-17",
            data={"worker": "Sam Patel", "team": "North", "reason": "new"},
        ),
        event("AgencyInvolvementStarted", "2013-05-17"),
        event("VisitMade", "2013-05-20"),
        event("ChildsVoiceRecorded", "2013-05-20"),
        event("CaseClosed", "2014-03-01"),
        _referral("2014-06-02", POLICE, "C-2", sensitivity="restricted"),
        occurred_at="2013-05-16",
    )
    return case_id


def test_involvement_when_asked_now_then_every_episode_agency_and_date_in_full(
    client: TestClient, token: Token
) -> None:
    # Given Amy's case
    csc = token()
    case_id = _case(client, csc)

    # When the hub asks for the involvement summary
    response = client.get(f"/cases/{case_id}/involvement", headers=csc)

    # Then it gives each episode, each agency with its lead contact, and the dates behind them
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "closed"
    [episode] = body["episodes"]
    assert (episode["opened_at"], episode["closed_at"], episode["closure_reason"]) == (
        "2013-05-17",
        "2014-03-01",
        "RC8",
    )
    school = next(a for a in body["agencies"] if a["agency"] == SCHOOL)
    assert school["lead_contact"]["name"] == "Ann Jones"
    assert school["involved_from"] == "2013-05-16"
    owner = body["owning_authority"]
    # Sam left the case when its episode closed
    assert (owner["agency"], owner["allocated_worker"], owner["team"]) == (
        LOCAL_AUTHORITY,
        None,
        None,
    )
    assert owner["last_involvement"]["type"] == "ContactReceived"
    assert body["last_contact"]["date"] == "2014-06-02"
    assert body["last_contact"]["referrer_agency"] == POLICE
    assert body["last_seen"]["date"] == body["last_seen_alone"]["date"] == "2013-05-20"
    assert body["last_voice_recorded"]["type"] == "ChildsVoiceRecorded"
    assert body["covers_from"] == "2013-05-16"
    # And says it in words, never as a bare date
    assert "Episode 1: opened 17 May 2013, closed 1 March 2014 (RC8)." in body["answer"]
    assert "last seen on 20 May 2013, last seen alone on 20 May 2013" in body["answer"]
    assert "This record covers 16 May 2013 to 26 November 2026" in body["answer"]


def test_involvement_when_asked_as_of_a_past_date_then_what_had_happened_by_then(
    client: TestClient, token: Token
) -> None:
    csc = token()
    case_id = _case(client, csc)
    body = client.get(
        f"/cases/{case_id}/involvement", headers=csc, params={"as_of": "2013-05-18"}
    ).json()
    assert body["status"] == "open"
    assert body["episodes"][0]["closed_at"] is None
    assert body["owning_authority"]["allocated_worker"] == "Sam Patel"
    assert body["last_seen"] is None
    assert "last seen never (nothing recorded)" in body["answer"]
    assert "to 18 May 2013" in body["answer"]


def test_involvement_when_views_not_obtained_since_then_the_answer_says_so(
    client: TestClient, token: Token
) -> None:
    # Given a child heard in May 2013 whose views could not be obtained on a visit in 2014,
    # and a child whose views were never obtained
    csc = token()
    heard = _case(client, csc)
    not_obtained = event("ChildsVoiceNotObtained", "2014-02-10")
    assert append(client, csc, heard, not_obtained).status_code == 201
    never, _ = open_case(client, csc, event("ChildsVoiceNotObtained", "2013-06-03"))

    # When the involvement summary is asked for
    answers = [
        client.get(f"/cases/{case_id}/involvement", headers=csc).json()["answer"]
        for case_id in (heard, never)
    ]

    # Then each answer says when the child's views could not be obtained, not only the last time
    # they were recorded
    assert (
        "their voice last recorded on 20 May 2013 (on 10 February 2014 it was recorded why "
        "their views could not be obtained)." in answers[0]
    )
    assert (
        "their voice last recorded never (on 3 June 2013 it was recorded why their views could "
        "not be obtained)." in answers[1]
    )


@pytest.mark.parametrize(
    ("bound", "words"),
    [
        ("1900-01-01T00:30:00+01:00", "to 31 December 1899"),
        ("9000-12-31T23:30:00-01:00", "to 1 January 9001"),
    ],
)
def test_involvement_when_asked_at_a_time_at_the_edge_of_the_range_then_answered(
    client: TestClient, token: Token, bound: str, words: str
) -> None:
    # Given a case, and a time just inside the range a date may take, whose London day is not
    csc = token()
    case_id = _case(client, csc)

    # When the involvement is asked as of it, and as known at it
    as_of = client.get(f"/cases/{case_id}/involvement", headers=csc, params={"as_of": bound})
    known_at = client.get(f"/cases/{case_id}/involvement", headers=csc, params={"known_at": bound})

    # Then it is answered, in that London day's words (nothing was recorded by 1900: a 404)
    assert as_of.status_code == 200, as_of.text
    assert words in as_of.json()["answer"]
    assert known_at.status_code == (404 if bound.startswith("1900") else 200), known_at.text


def test_involvement_when_dates_known_only_to_the_month_or_about_then_said_no_more_precisely(
    client: TestClient, token: Token
) -> None:
    # Given a visit that saw Amy alone and a school's contact, both known only to have been in
    # October 2026, and a case note written about then (recorded later)
    csc = token()
    case_id, _ = open_case(
        client,
        csc,
        event("ReferralAccepted", "2026-09-01"),
        event("VisitMade", "2026-10-01", occurred_precision="month"),
        event("CaseNoteRecorded", "2026-11-01", occurred_precision="approximate"),
        _referral("2026-10-01", SCHOOL, "C-3", occurred_precision="month"),
        occurred_at="2026-09-01",
    )

    # When the involvement is asked
    body = client.get(f"/cases/{case_id}/involvement", headers=csc).json()

    # Then the dates carry their precision, and the words claim no day the record does not hold
    assert body["last_seen"]["precision"] == "month"
    assert (body["last_contact"]["date"], body["last_contact"]["precision"]) == (
        "2026-10-01",
        "month",
    )
    assert body["owning_authority"]["last_involvement"]["precision"] == "approximate"
    assert "last involved around November 2026 (CaseNoteRecorded" in body["answer"]
    assert (
        "The child was last seen in October 2026, last seen alone in October 2026"
        in (body["answer"])
    )


def test_involvement_when_episode_and_earliest_dates_not_known_to_the_day_then_said_as_known(
    client: TestClient, token: Token
) -> None:
    # Given an episode known only to have opened in May 2013 and closed in November 2013, and a
    # concern from about June 2009, the earliest entry
    csc = token()
    case_id, _ = open_case(
        client,
        csc,
        event("ConcernObserved", "2009-06-15", occurred_precision="approximate"),
        event("ReferralAccepted", "2013-05-01", occurred_precision="month"),
        event("CaseClosed", "2013-11-01", occurred_precision="month"),
        occurred_at="2013-06-10",
    )

    # When the involvement is asked
    answer = client.get(f"/cases/{case_id}/involvement", headers=csc).json()["answer"]

    # Then the words claim no day the record does not hold: not "opened 1 May 2013"
    assert "last involved in November 2013 (CaseClosed, in episode 1)" in answer
    assert "Episode 1: opened May 2013, closed November 2013 (RC8)." in answer
    assert "This record covers around June 2009 to 26 November 2026" in answer


def test_involvement_when_partner_reads_then_restricted_details_withheld(
    client: TestClient, token: Token
) -> None:
    # Given the police's restricted contact, read by the school (involved, within its period)
    csc = token()
    case_id = _case(client, csc)
    school = token(agency=SCHOOL, sub="dsl")

    # Then the school reads the summary, with the contact's date but not who made it
    response = client.get(f"/cases/{case_id}/involvement", headers=school)
    assert response.status_code == 200, response.text
    contact = response.json()["last_contact"]
    assert (contact["date"], contact["referrer_agency"], contact["referrer_role"]) == (
        "2014-06-02",
        None,
        None,
    )
    assert POLICE not in response.text


def test_involvement_when_unrelated_agency_or_unknown_case_then_404(
    client: TestClient, token: Token
) -> None:
    csc = token()
    case_id = _case(client, csc)
    housing = token(agency="housing:barsetshire", sub="h")
    assert client.get(f"/cases/{case_id}/involvement", headers=housing).status_code == 404
    unknown = "00000000-0000-4000-8000-00000000dead"
    assert client.get(f"/cases/{unknown}/involvement", headers=csc).status_code == 404


def test_partner_when_named_in_an_entry_dated_just_ahead_then_reads_once_it_happens(
    client: TestClient, token: Token, clock: SettableClock
) -> None:
    # Given a case, read by a school it does not involve yet (its access judged and kept)
    csc, school = token(), token(agency=SCHOOL, sub="dsl")
    case_id, _ = open_case(client, csc)
    assert client.get(f"/cases/{case_id}", headers=school).status_code == 404

    # When CSC shares information with the school in an entry dated a minute ahead of the
    # server's clock (within the tolerated skew), and the minute passes with nothing recorded
    ahead = (clock() + timedelta(minutes=1)).isoformat()
    shared = payload("InformationShared", **{"with": [{"agency": SCHOOL}]}, concern_event_ids=[])
    posted = client.post(
        f"/cases/{case_id}/events",
        json={"events": [event("InformationShared", ahead, data=shared)]},
        headers=csc,
    )
    assert posted.status_code == 201, posted.text
    before = client.get(f"/cases/{case_id}", headers=school).status_code
    clock.advance(timedelta(minutes=2))
    after = client.get(f"/cases/{case_id}", headers=school).status_code

    # Then the school reads the case from the moment the share happened
    assert (before, after) == (404, 200)


def test_involvement_when_csc_works_on_after_the_episode_closed_then_outside_any_episode(
    client: TestClient, token: Token
) -> None:
    # Given an episode opened on 11 January 2024 and closed on 1 March, then a case note by
    # children's social care on 1 June, with no reopening
    csc = token()
    closure = event("CaseClosed", "2024-03-01")
    case_id, _ = open_case(
        client,
        csc,
        event("ReferralAccepted", "2024-01-11"),
        closure,
        event("CaseNoteRecorded", "2024-06-01"),
        occurred_at="2024-01-10",
    )

    # When the hub asks for the involvement summary now, and as of the day the episode closed
    now = client.get(f"/cases/{case_id}/involvement", headers=csc).json()
    at_closure = client.get(
        f"/cases/{case_id}/involvement", headers=csc, params={"as_of": "2024-03-01"}
    ).json()

    # Then the note is not said to be in the closed episode, in the fields or in words
    last = now["owning_authority"]["last_involvement"]
    assert (last["date"], last["type"], last["episode"]) == ("2024-06-01", "CaseNoteRecorded", None)
    assert "last involved on 1 June 2024 (CaseNoteRecorded, outside any episode)" in now["answer"]
    assert client.get(f"/cases/{case_id}", headers=csc).json()["last_involvement"] == last
    # And the closure itself was work in the episode it closed
    closing = at_closure["owning_authority"]["last_involvement"]
    assert (closing["event_id"], closing["episode"]) == (closure["id"], 1)
    assert "(CaseClosed, in episode 1)" in at_closure["answer"]


def test_involvement_when_csc_notes_on_the_closing_day_then_in_the_episode_it_closed(
    client: TestClient, token: Token
) -> None:
    # Given an episode closed on 20 November 2026, and a closing summary noted the same day,
    # both dated without a time
    csc = token()
    note = event("CaseNoteRecorded", "2026-11-20")
    case_id, _ = open_case(
        client,
        csc,
        event("ReferralAccepted", "2026-10-01"),
        event("CaseClosed", "2026-11-20"),
        note,
        occurred_at="2026-10-01",
    )

    # When the hub asks for the involvement summary
    summary = client.get(f"/cases/{case_id}/involvement", headers=csc).json()

    # Then the note, which may have come before the closing, is work in the episode it closed
    last = summary["owning_authority"]["last_involvement"]
    assert (last["event_id"], last["episode"]) == (note["id"], 1)
    assert "last involved on 20 November 2026 (CaseNoteRecorded, in episode 1)" in summary["answer"]


def test_involvement_when_a_manager_acknowledges_an_alert_then_not_the_authoritys_involvement(
    client: TestClient, token: Token
) -> None:
    # Given an episode closed on 1 March 2026, a school's concern on 1 October, and a manager's
    # acknowledgement on 26 November of the alert it raised
    csc, manager = token(), token(roles=("manager",), sub="m", name="Mgr")
    closure = event("CaseClosed", "2026-03-01")
    concern = event("ConcernObserved", "2026-10-01", author={"name": "Ann Jones", "agency": SCHOOL})
    case_id, _ = open_case(
        client,
        csc,
        event("ReferralAccepted", "2026-01-05"),
        closure,
        concern,
        occurred_at="2026-01-05",
    )
    acknowledged = {
        "rule": "activity-on-closed-case",
        "event_ids": [concern["id"]],
        "note": "Read; passed to MASH",
    }
    response = append(
        client, manager, case_id, event("AlertAcknowledged", "2026-11-26", data=acknowledged)
    )
    assert response.status_code == 201, response.text

    # When the involvement summary and the state are read
    summary = client.get(f"/cases/{case_id}/involvement", headers=csc).json()
    state = client.get(f"/cases/{case_id}", headers=csc).json()

    # Then the authority was last involved at the closing: the acknowledgement is no work with
    # the child
    assert state["last_involvement"]["event_id"] == closure["id"]
    assert "last involved on 1 March 2026 (CaseClosed, in episode 1)" in summary["answer"]


def test_involvement_when_an_entry_happened_before_the_case_opened_then_record_covers_it(
    client: TestClient, token: Token
) -> None:
    # Given a case opened on 10 June 2024 holding a school's concern dated 1 June
    csc = token()
    case_id, _ = open_case(
        client,
        csc,
        event("ConcernObserved", "2024-06-01", author={"name": "Ann Jones", "agency": SCHOOL}),
        occurred_at="2024-06-10",
    )

    # When the summary and the state are asked as of 30 June
    as_of = {"as_of": "2024-06-30"}
    summary = client.get(f"/cases/{case_id}/involvement", headers=csc, params=as_of).json()
    state = client.get(f"/cases/{case_id}", headers=csc, params=as_of).json()

    # Then the span of record starts with the concern it cites, not with the opening
    assert summary["covers_from"] == state["last_involvement"]["covers_from"] == "2024-06-01"
    assert "This record covers 1 June 2024 to 30 June 2024" in summary["answer"]


def test_involvement_when_asked_as_of_a_date_before_the_opening_then_span_ends_there(
    client: TestClient, token: Token
) -> None:
    # Given a case opened on 1 October 2026 holding a school's concern dated 1 March
    csc = token()
    case_id, _ = open_case(
        client,
        csc,
        event("ConcernObserved", "2026-03-01", author={"name": "Ann Jones", "agency": SCHOOL}),
        occurred_at="2026-10-01",
    )

    # When the summary and the state are asked as of 1 June, and as of 1 February
    def span(as_of: str) -> tuple[dict[str, Any], dict[str, Any]]:
        params = {"as_of": as_of}
        summary = client.get(f"/cases/{case_id}/involvement", headers=csc, params=params)
        state = client.get(f"/cases/{case_id}", headers=csc, params=params)
        return summary.json(), state.json()["last_involvement"]

    june, june_state = span("2026-06-01")
    february, february_state = span("2026-02-01")

    # Then the span starts with what had happened by then, never after its own end
    assert june["covers_from"] == june_state["covers_from"] == "2026-03-01"
    assert "This record covers 1 March 2026 to 1 June 2026" in june["answer"]
    assert february["covers_from"] == february_state["covers_from"] == february["covers_to"]
    assert "This record covers 1 February 2026 to 1 February 2026" in february["answer"]
