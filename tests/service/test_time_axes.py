"""Replaying a case to any date, over HTTP: `as_of` (what had happened) and `known_at` (what the
record said then), DESIGN.md "Time: two axes" and "Per-case views", DOMAIN.md §1 to §3.

Each test builds a hand-made timeline, recording events at controlled times with the `clock`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from domain.chronology import CSV_COLUMNS
from service.clock import SettableClock
from tests.support import LOCAL_AUTHORITY, append, event, payload

Headers = dict[str, str]
Token = Callable[..., Headers]

SCHOOL = "school:st-marys-primary"
HEALTH = "health:kent-community-health"
POLICE = "police:kent"
CHILD = {"name": "Amy Smith", "date_of_birth": "2009-02-11", "sex": "F", "ethnicity": "WBRI"}


# --- helpers ---


def at(clock: SettableClock, when: str) -> None:
    """Set "now" for the next recording: an ISO date-time with a zone."""
    clock.set(datetime.fromisoformat(when))


def open_case(
    client: TestClient, headers: Headers, *more: dict[str, Any], occurred_at: str = "2013-05-16"
) -> tuple[str, dict[str, Any]]:
    opened = event("CaseOpened", occurred_at, data=payload("CaseOpened", child=CHILD))
    response = client.post("/cases", json={"events": [opened, *more]}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"]), opened


def record(client: TestClient, headers: Headers, case_id: str, *events: dict[str, Any]) -> Any:
    response = append(client, headers, case_id, *events)
    assert response.status_code == 201, response.text
    return response.json()


def state(client: TestClient, headers: Headers, case_id: str, **params: str) -> dict[str, Any]:
    response = client.get(f"/cases/{case_id}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def chronology(
    client: TestClient, headers: Headers, case_id: str, **params: str
) -> list[dict[str, Any]]:
    response = client.get(f"/cases/{case_id}/chronology", params=params, headers=headers)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def ids(entries: list[dict[str, Any]]) -> list[str]:
    return [e["event_id"] for e in entries]


def by_id(entries: list[dict[str, Any]], event_id: str) -> dict[str, Any]:
    (entry,) = [e for e in entries if e["event_id"] == event_id]
    return entry


def concern(occurred_at: str, **changes: Any) -> dict[str, Any]:
    return event("ConcernObserved", occurred_at, data=payload("ConcernObserved", **changes))


def correction(target: dict[str, Any], recorded_on: str, **data: Any) -> dict[str, Any]:
    """An EntryCorrected of `target`; `data` is its payload (replacement `data`, `reason`, ...)."""
    return event("EntryCorrected", recorded_on, data={"target_event_id": target["id"], **data})


def school_token(token: Token) -> Headers:
    return token(agency=SCHOOL, sub="ann.jones", name="Ann Jones")


# --- a back-dated entry ---


def test_back_dated_entry_when_asked_now_as_of_after_it_then_visible(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a case opened on 17 May 2013, and on 1 July a visit of 20 May recorded late
    at(clock, "2013-05-17T12:00:00+00:00")
    case_id, _ = open_case(client, headers)
    at(clock, "2013-07-01T12:00:00+00:00")
    visit = event("VisitMade", "2013-05-20")
    record(client, headers, case_id, visit)

    # When asked now, as of the end of May, and as of the day before the visit
    end_of_may = state(client, headers, case_id, as_of="2013-05-31")
    before = state(client, headers, case_id, as_of="2013-05-19")
    lines = chronology(client, headers, case_id, as_of="2013-05-31", min_significance="routine")

    # Then the visit counts from the day it happened
    assert end_of_may["last_seen_at"] == "2013-05-20"
    assert end_of_may["last_seen_alone_at"] == "2013-05-20"
    assert before["last_seen_at"] is None
    assert visit["id"] in ids(lines)


def test_back_dated_entry_when_known_at_before_its_recording_then_invisible(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a visit of 20 May 2013 recorded on 1 July 2013
    at(clock, "2013-05-17T12:00:00+00:00")
    case_id, _ = open_case(client, headers)
    at(clock, "2013-07-01T12:00:00+00:00")
    visit = event("VisitMade", "2013-05-20")
    record(client, headers, case_id, visit)

    # When asked what the record said on 30 June (as of the end of May), and just after recording
    on_30_june = state(client, headers, case_id, as_of="2013-05-31", known_at="2013-06-30")
    lines = chronology(
        client,
        headers,
        case_id,
        as_of="2013-05-31",
        known_at="2013-06-30",
        min_significance="routine",
    )
    on_1_july = state(client, headers, case_id, as_of="2013-05-31", known_at="2013-07-01T12:00:00Z")

    # Then on 30 June the record held no visit; from the instant it was recorded, it did
    assert on_30_june["last_seen_at"] is None
    assert on_30_june["known_at"] == "2013-06-30T22:59:59.999999Z"  # end of the day, BST
    assert visit["id"] not in ids(lines)
    assert on_1_july["last_seen_at"] == "2013-05-20"


def test_late_by_days_when_recorded_across_bank_holidays_then_counts_england_working_days(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given entries recorded late across bank holidays
    at(clock, "2013-05-17T12:00:00+00:00")
    case_id, opened = open_case(client, headers)
    at(clock, "2013-07-01T12:00:00+00:00")
    spring = event("ChildsVoiceRecorded", "2013-05-20")
    record(client, headers, case_id, spring)
    at(clock, "2014-01-02T12:00:00+00:00")
    christmas = event("ChildsVoiceRecorded", "2013-12-20")
    record(client, headers, case_id, christmas)
    at(clock, "2014-04-22T10:00:00+00:00")  # 11:00 in London (BST)
    easter = event("ChildsVoiceRecorded", "2014-04-17")
    record(client, headers, case_id, easter)

    # When
    lines = chronology(client, headers, case_id)

    # Then each is late by England working days:
    # - opened 16 May 2013, recorded Fri 17 May: 1
    # - Mon 20 May → Mon 1 Jul 2013: six whole weeks, 30 weekdays, less the spring bank holiday
    #   (Mon 27 May) = 29
    # - Fri 20 Dec 2013 → Thu 2 Jan 2014: Mon 23, Tue 24, (Christmas Wed 25, Boxing Day Thu 26),
    #   Fri 27, Mon 30, Tue 31, (New Year's Day Wed 1), Thu 2 = 6
    # - Thu 17 Apr 2014 → Tue 22 Apr: (Good Friday 18), (weekend), (Easter Monday 21), Tue 22 = 1
    assert by_id(lines, opened["id"])["late_by_days"] == 1
    assert by_id(lines, spring["id"])["late_by_days"] == 29
    assert by_id(lines, christmas["id"])["late_by_days"] == 6
    assert by_id(lines, easter["id"])["late_by_days"] == 1
    assert by_id(lines, christmas["id"])["recorded_at"] == "2014-01-02T12:00:00.000000Z"


def test_late_by_days_when_month_or_approximate_date_then_counted_as_late_recording_counts(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given, recorded on Mon 2 November 2026, a visit in October 2026 (month precision), one
    # "around October 2026" (approximate), and one on 1 October (a day)
    at(clock, "2026-10-01T12:00:00+00:00")
    case_id, _ = open_case(client, headers, occurred_at="2026-10-01")
    at(clock, "2026-11-02T12:00:00+00:00")
    month = event("VisitMade", "2026-10-01", occurred_precision="month")
    around = event("VisitMade", "2026-10-01", occurred_precision="approximate")
    day = event("VisitMade", "2026-10-01")
    record(client, headers, case_id, month, around, day)

    # When the chronology is read
    lines = chronology(client, headers, case_id, min_significance="routine")

    # Then the month's visit counts from the month's last day (Sat 31 October: 1 working day),
    # the approximate one is not counted, and the dated one counts from its day (22)
    assert by_id(lines, month["id"])["late_by_days"] == 1
    assert by_id(lines, around["id"])["late_by_days"] is None
    assert by_id(lines, day["id"])["late_by_days"] == 22


def test_as_of_when_date_only_then_end_of_that_london_day(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a visit at 18:00 London time (17:00 UTC) on 20 May 2013
    at(clock, "2013-05-21T12:00:00+00:00")
    case_id, _ = open_case(client, headers, event("VisitMade", "2013-05-20T18:00:00+01:00"))

    # When asked as of that date, and as of date-times either side of the visit
    as_of_date = state(client, headers, case_id, as_of="2013-05-20")
    just_before = state(client, headers, case_id, as_of="2013-05-20T16:59:59Z")
    at_it = state(client, headers, case_id, as_of="2013-05-20T18:00:00+01:00")

    # Then the date means the end of that day in London, and a zoned date-time is exact
    assert as_of_date["as_of"] == "2013-05-20T22:59:59.999999Z"
    assert as_of_date["last_seen_at"] == "2013-05-20T18:00:00+01:00"
    assert just_before["last_seen_at"] is None
    assert at_it["last_seen_at"] == "2013-05-20T18:00:00+01:00"


# --- corrections ---


def _corrected_concern_case(
    client: TestClient, headers: Headers, clock: SettableClock
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A 2013 concern recorded as neglect, corrected in 2024 to bruising."""
    at(clock, "2013-05-17T12:00:00+00:00")
    original = concern("2013-05-16", category="neglect", description="Hungry and unkempt at school")
    case_id, _ = open_case(client, headers, original)
    at(clock, "2024-03-01T12:00:00+00:00")
    fix = correction(
        original,
        "2024-03-01",
        data=payload(
            "ConcernObserved", category="bruising", description="Bruising to left upper arm"
        ),
        reason="Category recorded wrongly",
    )
    record(client, headers, case_id, fix)
    return case_id, original, fix


def test_correction_when_recorded_later_then_applies_as_of_early_date_asked_now(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a 2013 concern corrected in 2024
    case_id, original, fix = _corrected_concern_case(client, headers, clock)

    # When asked today what had happened by 2015
    now = state(client, headers, case_id, as_of="2015-01-01")
    line = by_id(chronology(client, headers, case_id, as_of="2015-01-01"), original["id"])

    # Then the corrected entry is what the view shows, listing the correction
    assert [c["category"] for c in now["open_concerns"]] == ["bruising"]
    assert now["open_concerns"][0]["description"] == "Bruising to left upper arm"
    assert line["significance"] == "critical"  # bruising is critical; neglect was significant
    assert "bruis" in line["headline"].lower()
    assert [(c["event_id"], c["reason"]) for c in line["corrections"]] == [
        (fix["id"], "Category recorded wrongly")
    ]
    assert line["corrections"][0]["recorded_at"] == "2024-03-01T12:00:00.000000Z"


def test_correction_when_known_at_before_it_then_original_shown(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a 2013 concern corrected in 2024
    case_id, original, _ = _corrected_concern_case(client, headers, clock)

    # When asked what the record said in 2020, as of 2015
    then = state(client, headers, case_id, as_of="2015-01-01", known_at="2020-01-01")
    line = by_id(
        chronology(client, headers, case_id, as_of="2015-01-01", known_at="2020-01-01"),
        original["id"],
    )

    # Then the original stands, uncorrected
    assert [c["category"] for c in then["open_concerns"]] == ["neglect"]
    assert line["significance"] == "significant"
    assert line["corrections"] == []


def test_correction_when_it_moves_occurred_at_then_entry_moves_in_order_and_as_of_window(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given concerns of 10 and 25 June and the child's voice on 20 June 2013
    at(clock, "2013-06-26T12:00:00+00:00")
    early = concern("2013-06-10", category="neglect")
    voice = event("ChildsVoiceRecorded", "2013-06-20")
    late = concern("2013-06-25", category="other", description="Missed school twice")
    case_id, opened = open_case(client, headers, early, voice, late)
    # and on 1 July corrections: the first concern happened on 24 June, the last on 5 June
    at(clock, "2013-07-01T12:00:00+00:00")
    moved_later = correction(
        early,
        "2013-07-01",
        data=payload("ConcernObserved", category="neglect"),
        occurred_at="2013-06-24",
        reason="Wrong date",
    )
    moved_earlier = correction(
        late,
        "2013-07-01",
        data=payload("ConcernObserved", category="other", description="Missed school twice"),
        occurred_at="2013-06-05",
        reason="Wrong date",
    )
    record(client, headers, case_id, moved_later, moved_earlier)

    # When
    now = chronology(client, headers, case_id)
    window_now = chronology(client, headers, case_id, as_of="2013-06-15")
    window_then = chronology(client, headers, case_id, as_of="2013-06-15", known_at="2013-06-30")
    concerns_now = state(client, headers, case_id, as_of="2013-06-15")["open_concerns"]
    concerns_then = state(client, headers, case_id, as_of="2013-06-15", known_at="2013-06-30")[
        "open_concerns"
    ]

    # Then the entries sit where they now say they happened
    assert ids(now) == [opened["id"], late["id"], voice["id"], early["id"]]
    assert [e["occurred_at"] for e in now] == [
        "2013-05-16",
        "2013-06-05",
        "2013-06-20",
        "2013-06-24",
    ]
    assert [e["seq"] for e in now] == [1, 2, 3, 4]
    # and the window of 15 June holds the one moved into it, not the one moved out
    assert ids(window_now) == [opened["id"], late["id"]]
    assert ids(window_then) == [opened["id"], early["id"]]
    assert [c["event_id"] for c in concerns_now] == [late["id"]]
    assert concerns_now[0]["occurred_at"] == "2013-06-05"
    assert [c["event_id"] for c in concerns_then] == [early["id"]]


# --- retraction ---


def _retracted_concern_case(
    client: TestClient, headers: Headers, clock: SettableClock
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    at(clock, "2013-05-17T12:00:00+00:00")
    wrong = concern("2013-05-16")
    case_id, _ = open_case(client, headers, wrong, event("VisitMade", "2013-05-16"))
    at(clock, "2013-06-03T12:00:00+00:00")
    retraction = event(
        "EntryRetracted",
        "2013-06-03",
        data={"target_event_id": wrong["id"], "reason": "Recorded on the wrong child's case"},
    )
    record(client, headers, case_id, retraction)
    return case_id, wrong, retraction


def test_retraction_when_known_at_after_it_then_entry_gone_from_state_and_chronology(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a concern written on the wrong child's case, retracted on 3 June 2013
    case_id, wrong, _ = _retracted_concern_case(client, headers, clock)

    # When asked the day after the retraction, and now
    day_after = state(client, headers, case_id, known_at="2013-06-04")
    now = state(client, headers, case_id)
    lines = chronology(client, headers, case_id, min_significance="routine")

    # Then the concern is in no view
    assert day_after["open_concerns"] == []
    assert now["open_concerns"] == []
    assert wrong["id"] not in ids(lines)
    assert "ConcernObserved" not in [e["type"] for e in lines]


def test_retraction_when_known_at_before_it_then_entry_present(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a concern retracted on 3 June 2013
    case_id, wrong, _ = _retracted_concern_case(client, headers, clock)

    # When asked what the record said on 2 June
    then = state(client, headers, case_id, known_at="2013-06-02")
    lines = chronology(client, headers, case_id, known_at="2013-06-02")

    # Then it was there
    assert [c["event_id"] for c in then["open_concerns"]] == [wrong["id"]]
    assert wrong["id"] in ids(lines)


def test_raw_events_when_entry_retracted_then_both_still_listed(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a retracted concern
    case_id, wrong, retraction = _retracted_concern_case(client, headers, clock)

    # When
    response = client.get(f"/cases/{case_id}/events", headers=headers)

    # Then the log keeps both the entry and its retraction
    assert response.status_code == 200
    events = {e["id"]: e for e in response.json()["events"]}
    assert events[wrong["id"]]["type"] == "ConcernObserved"
    assert events[retraction["id"]]["type"] == "EntryRetracted"
    assert events[retraction["id"]]["data"]["target_event_id"] == wrong["id"]


# --- significance ---


def test_significance_assessed_when_routine_raised_then_in_default_chronology_with_rationale(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a routine phone-call note, and three days later a reassessment as significant
    at(clock, "2013-05-21T12:00:00+00:00")
    note = event("CaseNoteRecorded", "2013-05-20")
    case_id, _ = open_case(client, headers, note)
    before = chronology(client, headers, case_id)
    at(clock, "2013-05-24T12:00:00+00:00")
    assessed = event(
        "SignificanceAssessed",
        "2013-05-24",
        data={
            "target_event_id": note["id"],
            "significance": "significant",
            "rationale": "Third missed appointment in a month",
        },
    )
    record(client, headers, case_id, assessed)

    # When
    now = chronology(client, headers, case_id)
    then = chronology(client, headers, case_id, known_at="2013-05-23")

    # Then the note joins the default (significant and above) chronology, with the judgement
    assert note["id"] not in ids(before)
    assert note["id"] not in ids(then)
    line = by_id(now, note["id"])
    assert line["significance"] == "significant"
    assessment = line["significance_assessment"]
    assert assessment["significance"] == "significant"
    assert assessment["rationale"] == "Third missed appointment in a month"
    assert assessment["event_id"] == assessed["id"]


# --- episodes and plans ---


def _life_of_a_case(
    client: TestClient, headers: Headers, clock: SettableClock
) -> tuple[str, dict[str, dict[str, Any]]]:
    """Contact → referral → CIN → CP → looked after → closed with step-down → reopened.

    Each batch is recorded at noon UTC on the day after it happened.
    """
    timeline: list[tuple[str, list[tuple[str, str, str]]]] = [
        ("2013-05-17", [("contact", "ContactReceived", "2013-05-16")]),
        ("2013-05-18", [("referral", "ReferralAccepted", "2013-05-17")]),
        ("2013-06-11", [("cin", "ChildInNeedPlanStarted", "2013-06-10")]),
        (
            "2013-09-03",
            [
                ("cin_end", "ChildInNeedPlanEnded", "2013-09-02"),
                ("cp", "ChildProtectionPlanStarted", "2013-09-02"),
            ],
        ),
        ("2014-01-16", [("care", "PeriodOfCareStarted", "2014-01-15")]),
        ("2014-03-04", [("cp_end", "ChildProtectionPlanEnded", "2014-03-03")]),
        ("2015-02-03", [("care_end", "PeriodOfCareEnded", "2015-02-02")]),
        (
            "2015-02-11",
            [
                ("step_down", "SteppedDownToEarlyHelp", "2015-02-10"),
                ("closed", "CaseClosed", "2015-02-10"),
            ],
        ),
        ("2016-04-05", [("reopened", "CaseReopened", "2016-04-04")]),
    ]
    at(clock, "2013-05-16T12:00:00+00:00")
    case_id, opened = open_case(client, headers)
    posted = {"opened": opened}
    for recorded_on, batch in timeline:
        at(clock, f"{recorded_on}T12:00:00+00:00")
        events = []
        for name, kind, occurred in batch:
            posted[name] = event(kind, occurred)
            events.append(posted[name])
        record(client, headers, case_id, *events)
    at(clock, "2016-06-01T12:00:00+00:00")
    return case_id, posted


@pytest.mark.parametrize(
    ("as_of", "status", "plans", "plan", "episodes"),
    [
        ("2013-05-16", "contact", [], "none", 0),
        ("2013-05-17", "open", [], "none", 1),
        ("2013-07-01", "open", ["child_in_need"], "child_in_need", 1),
        ("2013-10-01", "open", ["child_protection"], "child_protection", 1),
        ("2014-02-01", "open", ["looked_after", "child_protection"], "looked_after", 1),
        ("2014-06-01", "open", ["looked_after"], "looked_after", 1),
        ("2015-02-05", "open", [], "none", 1),
        ("2015-03-01", "closed", ["early_help"], "early_help", 1),
        ("2016-05-01", "open", [], "none", 2),
    ],
)
def test_state_when_replayed_to_a_date_then_status_plans_and_highest_plan_as_then(
    client: TestClient,
    headers: Headers,
    clock: SettableClock,
    as_of: str,
    status: str,
    plans: list[str],
    plan: str,
    episodes: int,
) -> None:
    # Given a case's whole life, recorded as it happened
    case_id, _ = _life_of_a_case(client, headers, clock)

    # When asked now what had happened by the date
    then = state(client, headers, case_id, as_of=as_of)

    # Then
    assert then["status"] == status
    assert [p["kind"] for p in then["plans"]] == plans
    assert then["plan"] == plan
    assert len(then["episodes"]) == episodes


def test_episodes_when_closed_and_reopened_then_each_episode_kept_with_its_closure(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a case closed in 2015 and reopened in 2016
    case_id, posted = _life_of_a_case(client, headers, clock)

    # When
    now = state(client, headers, case_id)
    closed = state(client, headers, case_id, as_of="2015-03-01")

    # Then
    first, second = now["episodes"]
    assert (first["number"], first["opened_at"], first["closed_at"]) == (
        1,
        "2013-05-17",
        "2015-02-10",
    )
    assert first["opened_by"]["event_id"] == posted["referral"]["id"]
    assert first["opened_by"]["type"] == "ReferralAccepted"
    assert first["closure_reason"] == "RC8"
    assert (second["number"], second["opened_at"], second["closed_at"]) == (2, "2016-04-04", None)
    assert second["opened_by"]["type"] == "CaseReopened"
    assert second["closure_reason"] is None
    # the looked-after period joined the open episode instead of opening another
    assert closed["episodes"] == [first]
    # after closure, the open plan is the early help the step-down started (a new episode ends it)
    assert [(p["kind"], p["started_by"]) for p in closed["plans"]] == [
        ("early_help", posted["step_down"]["id"])
    ]
    assert now["plans"] == []


def _screening(day: str, contact_id: str, worker: str, outcome: str) -> list[dict[str, Any]]:
    """A contact received, allocated to a MASH worker for screening, and decided that day."""
    allocated = {"worker": worker, "team": "MASH", "reason": "screening"}
    return [
        event("ContactReceived", day, data=payload("ContactReceived", contact_id=contact_id)),
        event("WorkerAllocated", day, data=allocated),
        event(
            "ContactDecisionMade",
            day,
            data=payload("ContactDecisionMade", contact_id=contact_id, outcome=outcome),
        ),
    ]


def test_allocated_worker_when_contact_decided_nfa_then_the_screening_worker_has_left(
    client: TestClient, headers: Headers
) -> None:
    # Given a contact screened by Sam and decided no further action in May 2013, then one
    # screened by Jo and referred on in June 2015, its referral accepted
    case_id, _ = open_case(
        client,
        headers,
        *_screening("2013-05-16", "C-1", "Sam Patel", "nfa"),
        *_screening("2015-06-01", "C-2", "Jo Wright", "referral"),
        event("ReferralAccepted", "2015-06-02"),
    )

    # When the state is asked after each decision
    closed_nfa = state(client, headers, case_id, as_of="2014-01-01")
    referred = state(client, headers, case_id, as_of="2015-06-10")

    # Then nobody is allocated once the first contact is closed; Jo stays on into the episode
    assert (closed_nfa["allocated_worker"], closed_nfa["team"]) == (None, None)
    assert (referred["allocated_worker"], referred["team"]) == ("Jo Wright", "MASH")


def test_chronology_when_case_reopened_then_continues_from_earlier_episode(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a case closed in 2015 and reopened in 2016
    case_id, posted = _life_of_a_case(client, headers, clock)

    # When
    lines = chronology(client, headers, case_id)

    # Then closing never truncated it: the first episode's entries come first, then the second's
    names = [
        "opened",
        "contact",
        "referral",
        "cin",
        "cin_end",
        "cp",
        "care",
        "cp_end",
        "care_end",
        "step_down",
        "closed",
        "reopened",
    ]
    assert ids(lines) == [posted[name]["id"] for name in names]
    assert [line["seq"] for line in lines] == list(range(1, len(names) + 1))


def _cp_plan(kind: str, occurred_at: str, plan_id: str) -> dict[str, Any]:
    return event(kind, occurred_at, data=payload(kind, plan_id=plan_id))


def test_plans_when_a_new_cp_plan_starts_before_the_old_one_ends_then_each_tracked_by_its_id(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given child protection plan CPP-7 from 1 February 2024, and on 1 September plan CPP-8
    # recorded as started and then CPP-7 as ended
    at(clock, "2024-09-02T12:00:00+00:00")
    first = _cp_plan("ChildProtectionPlanStarted", "2024-02-01", "CPP-7")
    second = _cp_plan("ChildProtectionPlanStarted", "2024-09-01", "CPP-8")
    case_id, _ = open_case(
        client,
        headers,
        event("ReferralAccepted", "2024-01-10"),
        first,
        second,
        _cp_plan("ChildProtectionPlanEnded", "2024-09-01", "CPP-7"),
        occurred_at="2024-01-10",
    )

    # When the state is asked now and as of the end of August
    now = state(client, headers, case_id)
    august = state(client, headers, case_id, as_of="2024-08-31")

    # Then the end closed the plan it named: CPP-8 is open, on the new plan's start
    assert now["plan"] == "child_protection"
    assert [(p["plan_id"], p["started_by"]) for p in now["plans"]] == [("CPP-8", second["id"])]
    assert [(p["plan_id"], p["started_by"]) for p in august["plans"]] == [("CPP-7", first["id"])]


def test_plans_when_a_category_change_names_one_of_two_open_cp_plans_then_only_it_changes(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given CP plans CPP-7 (physical, from 1 February 2024) and CPP-8 (from 1 September) open at
    # once, then CPP-8's category changed to neglect, and a change naming no open plan
    at(clock, "2024-09-20T12:00:00+00:00")
    second = _cp_plan("ChildProtectionPlanStarted", "2024-09-01", "CPP-8")
    second["data"]["category"] = "emotional"
    case_id, _ = open_case(
        client,
        headers,
        event("ReferralAccepted", "2024-01-10"),
        _cp_plan("ChildProtectionPlanStarted", "2024-02-01", "CPP-7"),
        second,
        event(
            "ChildProtectionCategoryChanged",
            "2024-09-10",
            data={"plan_id": "CPP-8", "category": "neglect"},
        ),
        occurred_at="2024-01-10",
    )
    mid = state(client, headers, case_id)
    appended = append(
        client,
        headers,
        case_id,
        event(
            "ChildProtectionCategoryChanged",
            "2024-09-15",
            data={"plan_id": "CPP-99", "category": "multiple"},
        ),
    )
    assert appended.status_code == 201, appended.text

    # When the state is asked now
    now = state(client, headers, case_id)

    # Then the change named CPP-8 changed only CPP-8; the one naming no open plan changed the
    # oldest open, as an end naming none would close it
    categories = [(p["plan_id"], p["category"]) for p in mid["plans"]]
    assert categories == [("CPP-7", "physical"), ("CPP-8", "neglect")]
    categories = [(p["plan_id"], p["category"]) for p in now["plans"]]
    assert categories == [("CPP-7", "multiple"), ("CPP-8", "neglect")]


def test_plans_when_two_of_a_kind_open_then_every_one_listed_and_an_unnamed_end_closes_the_oldest(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given CIN plans CIN-4 (from 1 March 2024) and CIN-5 (from 1 April) open at once, and on
    # 1 May an end naming CIN-9, which is not open
    at(clock, "2024-05-02T12:00:00+00:00")
    case_id, _ = open_case(
        client,
        headers,
        event("ReferralAccepted", "2024-02-01"),
        event("ChildInNeedPlanStarted", "2024-03-01", data={"plan_id": "CIN-4"}),
        event("ChildInNeedPlanStarted", "2024-04-01", data={"plan_id": "CIN-5"}),
        event(
            "ChildInNeedPlanEnded",
            "2024-05-01",
            data=payload("ChildInNeedPlanEnded", plan_id="CIN-9"),
        ),
        occurred_at="2024-02-01",
    )

    # When the state is asked in April and now
    april = state(client, headers, case_id, as_of="2024-04-30")
    now = state(client, headers, case_id)

    # Then April lists both, oldest first; the end closed the oldest, leaving CIN-5 open
    assert [(p["kind"], p["plan_id"]) for p in april["plans"]] == [
        ("child_in_need", "CIN-4"),
        ("child_in_need", "CIN-5"),
    ]
    assert [p["plan_id"] for p in now["plans"]] == ["CIN-5"]
    assert now["plan"] == "child_in_need"


# --- last involvement ---


def _involvement_case(
    client: TestClient, headers: Headers, token: Token, clock: SettableClock
) -> tuple[str, dict[str, dict[str, Any]]]:
    at(clock, "2013-05-18T12:00:00+00:00")
    referral = event("ReferralAccepted", "2013-05-17")
    case_id, opened = open_case(client, headers, event("ContactReceived", "2013-05-16"), referral)
    at(clock, "2013-06-04T12:00:00+00:00")
    visit = event("VisitMade", "2013-06-03")
    record(client, headers, case_id, visit)
    at(clock, "2013-06-11T12:00:00+00:00")
    school_concern = concern("2013-06-10", category="neglect")
    record(client, school_token(token), case_id, school_concern)
    at(clock, "2013-06-13T12:00:00+00:00")
    # Typed in by CSC's business support, but the school's designated lead wrote it.
    authored = event(
        "CaseNoteRecorded",
        "2013-06-12",
        author={"name": "Ann Jones", "role": "safeguarding lead", "agency": SCHOOL},
    )
    record(client, headers, case_id, authored)
    at(clock, "2013-07-01T12:00:00+00:00")
    return case_id, {"opened": opened, "referral": referral, "visit": visit}


def test_last_involvement_when_other_agencies_wrote_later_then_latest_csc_event_and_span(
    client: TestClient, headers: Headers, token: Token, clock: SettableClock
) -> None:
    # Given CSC's visit on 3 June 2013, then a school concern and a school-authored note
    case_id, posted = _involvement_case(client, headers, token, clock)

    # When asked now
    now = state(client, headers, case_id)

    # Then the owning authority was last involved on 3 June, judged on the whole record to now
    last = now["last_involvement"]
    assert now["local_authority"] == LOCAL_AUTHORITY
    assert last == {
        "date": "2013-06-03",
        "precision": "day",
        "event_id": posted["visit"]["id"],
        "type": "VisitMade",
        "episode": 1,
        "covers_from": "2013-05-16",
        "covers_to": "2013-07-01T12:00:00.000000Z",
        "recorded_up_to": "2013-07-01T12:00:00.000000Z",
    }


def test_last_involvement_when_asked_as_of_and_known_at_earlier_then_judged_on_that_span(
    client: TestClient, headers: Headers, token: Token, clock: SettableClock
) -> None:
    # Given CSC's referral on 17 May and visit on 3 June 2013 (recorded 4 June)
    case_id, posted = _involvement_case(client, headers, token, clock)

    # When asked as of the end of May, and as of now on what was recorded by 3 June
    end_of_may = state(client, headers, case_id, as_of="2013-05-31")["last_involvement"]
    known_3_june = state(client, headers, case_id, known_at="2013-06-03")["last_involvement"]

    # Then both answers name the referral, and say what span they were judged on
    assert end_of_may["event_id"] == posted["referral"]["id"]
    assert end_of_may["date"] == "2013-05-17"
    assert end_of_may["covers_to"] == "2013-05-31T22:59:59.999999Z"
    assert end_of_may["recorded_up_to"] == "2013-07-01T12:00:00.000000Z"
    assert known_3_june["event_id"] == posted["referral"]["id"]
    assert known_3_june["covers_to"] == "2013-07-01T12:00:00.000000Z"
    assert known_3_june["recorded_up_to"] == "2013-06-03T22:59:59.999999Z"


def test_last_involvement_when_csc_records_history_from_before_the_opening_then_still_the_opening(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a case CSC opened on 10 January 2020, with a note of its own from 2019 typed in
    # afterwards (history from before the case was opened)
    at(clock, "2020-01-10T12:00:00+00:00")
    case_id, opened = open_case(client, headers, occurred_at="2020-01-10")
    at(clock, "2020-01-14T12:00:00+00:00")
    record(client, headers, case_id, event("CaseNoteRecorded", "2019-05-01"))

    # When asked when children's social care was last involved
    last = state(client, headers, case_id)["last_involvement"]
    answer = client.get(f"/cases/{case_id}/involvement", headers=headers).json()["answer"]

    # Then it is the opening, the latest of its entries, not the last one folded
    assert (last["event_id"], last["date"]) == (opened["id"], "2020-01-10")
    assert last["covers_from"] == "2019-05-01"
    assert "last involved on 10 January 2020 (CaseOpened" in answer


# --- involved agencies ---


def _agencies(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["agency"]: a for a in body["involved_agencies"]}


def test_involved_agencies_when_school_referred_during_episode_then_involved_until_it_closes(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given an episode open from 17 May to 29 November 2013, during which the school referred
    at(clock, "2013-05-18T12:00:00+00:00")
    case_id, _ = open_case(client, headers, event("ReferralAccepted", "2013-05-17"))
    at(clock, "2013-06-04T12:00:00+00:00")
    record(client, headers, case_id, event("ContactReceived", "2013-06-03"))
    at(clock, "2013-11-30T12:00:00+00:00")
    record(client, headers, case_id, event("CaseClosed", "2013-11-29"))

    # When
    now = _agencies(state(client, headers, case_id))
    mid_episode = _agencies(state(client, headers, case_id, as_of="2013-08-01"))
    before_closure_recorded = _agencies(state(client, headers, case_id, known_at="2013-11-29"))

    # Then the school stays involved until the episode closes, not just on the day it referred
    assert now[SCHOOL]["involved_from"] == "2013-06-03"
    assert now[SCHOOL]["involved_to"] == "2013-11-29"
    assert now[SCHOOL]["named_by"] == ["ContactReceived"]
    assert mid_episode[SCHOOL]["involved_to"] is None
    assert before_closure_recorded[SCHOOL]["involved_to"] is None


def test_involved_agencies_when_school_referral_opened_episode_then_involved_until_it_closes(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a school's contact on 16 May 2013 that led to the referral accepted on 17 May, and
    # the episode closing on 29 November; and an earlier contact decided as advice only
    at(clock, "2013-05-18T12:00:00+00:00")
    contact = event("ContactReceived", "2013-05-16")
    case_id, _ = open_case(client, headers, contact, event("ReferralAccepted", "2013-05-17"))
    at(clock, "2013-11-30T12:00:00+00:00")
    record(client, headers, case_id, event("CaseClosed", "2013-11-29"))

    # When
    now = _agencies(state(client, headers, case_id))

    # Then the referrer is part of the episode its referral opened
    assert now[SCHOOL]["involved_from"] == "2013-05-16"
    assert now[SCHOOL]["involved_to"] == "2013-11-29"


def test_involved_agencies_when_contact_decided_advice_then_not_part_of_next_episode(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a school's contact decided as advice, and an episode opened months later
    at(clock, "2013-05-18T12:00:00+00:00")
    contact = event("ContactReceived", "2013-05-16")
    decision = event(
        "ContactDecisionMade",
        "2013-05-17",
        data=payload(
            "ContactDecisionMade", contact_id=contact["data"]["contact_id"], outcome="advice"
        ),
    )
    case_id, _ = open_case(client, headers, contact, decision)
    at(clock, "2013-09-03T12:00:00+00:00")
    record(client, headers, case_id, event("ReferralAccepted", "2013-09-02"))

    # When
    now = _agencies(state(client, headers, case_id))

    # Then the school's involvement ended with its own contact
    assert now[SCHOOL]["involved_to"] == "2013-05-16"


def _contact_from(agency: str, occurred_at: str, contact_id: str) -> dict[str, Any]:
    referrer = {"name": "Jo Referrer", "agency": agency, "role": "safeguarding lead"}
    data = payload("ContactReceived", contact_id=contact_id, referrer=referrer)
    return event("ContactReceived", occurred_at, data=data)


def _referral(occurred_at: str, contact_id: str | None) -> dict[str, Any]:
    data = payload("ReferralAccepted", contact_id=contact_id)
    return event("ReferralAccepted", occurred_at, data=data)


def test_involved_agencies_when_referral_names_its_contact_then_only_that_referrer_joins_episode(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a police contact in February 2013 still awaiting a decision, a school's contact
    # on 16 May, and the referral accepted on 17 May naming the school's contact
    at(clock, "2013-05-18T12:00:00+00:00")
    case_id, _ = open_case(
        client,
        headers,
        _contact_from(POLICE, "2013-02-04", "C-P"),
        _contact_from(SCHOOL, "2013-05-16", "C-S"),
        _referral("2013-05-17", "C-S"),
        occurred_at="2013-02-04",
    )

    # When
    now = _agencies(state(client, headers, case_id))

    # Then the school is part of the episode its referral opened, and the police are not
    assert now[SCHOOL]["involved_to"] is None
    assert now[POLICE]["involved_to"] == "2013-02-04"


def _strategy_discussion(occurred_at: str, decision: str) -> dict[str, Any]:
    data = payload("StrategyDiscussionHeld", decision=decision)
    return event("StrategyDiscussionHeld", occurred_at, data=data)


def _concluded(how: str) -> list[dict[str, Any]]:
    """A strategy discussion on 17 May 2013 deciding no s47 enquiry, or one whose enquiry
    concluded on 24 May needing no conference."""
    if how == "no-s47":
        return [_strategy_discussion("2013-05-17", "no_s47")]
    concluded = payload("Section47Concluded", conference_required=False)
    return [
        _strategy_discussion("2013-05-17", "s47"),
        event("Section47Started", "2013-05-17"),
        event("Section47Concluded", "2013-05-24", data=concluded),
    ]


@pytest.mark.parametrize("how", ["no-s47", "s47-without-conference"])
def test_involved_agencies_when_contact_concluded_before_any_episode_then_not_in_a_later_one(
    client: TestClient, headers: Headers, clock: SettableClock, how: str
) -> None:
    # Given a police contact on 16 May 2013 decided for a strategy discussion, which ended
    # with no s47 enquiry or with one needing no conference; and years later another
    # agency's contact, and a referral accepted naming no contact
    at(clock, "2013-05-25T12:00:00+00:00")
    police_contact = _contact_from(POLICE, "2013-05-16", "C-P")
    decision = event(
        "ContactDecisionMade",
        "2013-05-16",
        data=payload("ContactDecisionMade", contact_id="C-P", outcome="strategy_discussion"),
    )
    case_id, _ = open_case(client, headers, police_contact, decision, *_concluded(how))
    at(clock, "2016-03-02T12:00:00+00:00")
    record(
        client,
        headers,
        case_id,
        _contact_from(SCHOOL, "2016-03-01", "C-S"),
        _referral("2016-03-02", None),
    )

    # When
    now = _agencies(state(client, headers, case_id))

    # Then the police's involvement ended with their contact; the school's referral opened it
    assert now[POLICE]["involved_to"] == "2013-05-16"
    assert now[SCHOOL]["involved_to"] is None


def test_involved_agencies_when_another_contacts_strategy_discussion_ends_then_a_referral_waits(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a school contact on 1 October 2026 decided as a referral, a police contact the
    # next day decided for a strategy discussion, which decided no s47 enquiry; then a
    # referral accepted naming no contact
    at(clock, "2026-10-06T12:00:00+00:00")
    to_referral = payload("ContactDecisionMade", contact_id="C-S", outcome="referral")
    to_strategy = payload("ContactDecisionMade", contact_id="C-P", outcome="strategy_discussion")
    case_id, _ = open_case(
        client,
        headers,
        _contact_from(SCHOOL, "2026-10-01", "C-S"),
        event("ContactDecisionMade", "2026-10-01", data=to_referral),
        _contact_from(POLICE, "2026-10-02", "C-P"),
        event("ContactDecisionMade", "2026-10-02", data=to_strategy),
        _strategy_discussion("2026-10-02", "no_s47"),
        _referral("2026-10-05", None),
        occurred_at="2026-10-01",
    )

    # When
    now = _agencies(state(client, headers, case_id))

    # Then the strategy discussion ended the police contact's wait, not the school's: the
    # referral opened the episode for the school
    assert now[SCHOOL]["involved_to"] is None
    assert now[POLICE]["involved_to"] == "2026-10-02"


def test_involved_agencies_when_referral_names_a_concluded_contact_then_its_referrer_joins(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a police contact on 16 May 2013 whose strategy discussion decided no s47 enquiry,
    # and the next day a referral accepted naming that contact (a single-agency assessment)
    at(clock, "2013-05-18T12:00:00+00:00")
    case_id, _ = open_case(
        client,
        headers,
        _contact_from(POLICE, "2013-05-16", "C-P"),
        _strategy_discussion("2013-05-16", "no_s47"),
        _referral("2013-05-17", "C-P"),
    )

    # When
    now = _agencies(state(client, headers, case_id))

    # Then the police are part of the episode their contact led to
    assert now[POLICE]["involved_to"] is None


def test_involved_agencies_when_involvement_started_outside_episode_then_open_until_ended(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given no episode: health starts its involvement on 3 February 2014, is invited to a
    # professionals' meeting on 10 March, and ends its involvement on 1 May
    at(clock, "2014-02-04T12:00:00+00:00")
    started = event(
        "AgencyInvolvementStarted",
        "2014-02-03",
        data=payload("AgencyInvolvementStarted", agency=HEALTH, role="health visiting"),
    )
    case_id, _ = open_case(client, headers, started, occurred_at="2014-02-01")
    at(clock, "2014-03-11T12:00:00+00:00")
    meeting = event(
        "MeetingHeld",
        "2014-03-10",
        data={
            **payload("MeetingHeld"),
            "kind": "professionals",
            "invited": [{"name": "Dr Ruth Green", "agency": HEALTH}],
            "attended": [{"name": "Dr Ruth Green", "agency": HEALTH}],
            "apologies": [],
        },
    )
    record(client, headers, case_id, meeting)
    at(clock, "2014-05-02T12:00:00+00:00")
    ended = event(
        "AgencyInvolvementEnded",
        "2014-05-01",
        data=payload("AgencyInvolvementEnded", agency=HEALTH, role="health visiting"),
    )
    record(client, headers, case_id, ended)

    # When
    after_start = _agencies(state(client, headers, case_id, as_of="2014-02-28"))
    after_meeting = _agencies(state(client, headers, case_id, as_of="2014-04-01"))
    after_end = _agencies(state(client, headers, case_id))

    # Then its involvement runs from the start, through the meeting, to its recorded end
    assert after_start[HEALTH]["involved_from"] == "2014-02-03"
    assert after_start[HEALTH]["involved_to"] is None
    assert after_start[HEALTH]["role"] == "health visiting"
    # a later naming event does not cut short an involvement still running
    assert after_meeting[HEALTH]["involved_to"] is None
    assert after_end[HEALTH]["involved_to"] == "2014-05-01"
    assert after_end[HEALTH]["named_by"] == [
        "AgencyInvolvementStarted",
        "MeetingHeld",
        "AgencyInvolvementEnded",
    ]


def test_involved_agencies_when_named_outside_any_episode_then_until_last_naming(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given no episode: information shared with the police on 3 March and 7 April 2014
    at(clock, "2014-04-08T12:00:00+00:00")
    shared = [
        event(
            "InformationShared",
            day,
            data={
                **payload("InformationShared"),
                "with": [{"agency": POLICE}],
                "concern_event_ids": [],
            },
        )
        for day in ("2014-03-03", "2014-04-07")
    ]
    case_id, _ = open_case(client, headers, *shared, occurred_at="2014-03-01")

    # When
    agencies = _agencies(state(client, headers, case_id))

    # Then the police were involved from the first share to the last
    assert agencies[POLICE]["involved_from"] == "2014-03-03"
    assert agencies[POLICE]["involved_to"] == "2014-04-07"
    assert agencies[POLICE]["named_by"] == ["InformationShared"]


# --- concerns, seeing the child, the child's voice ---


def test_state_when_concerns_visits_and_voice_recorded_then_open_concerns_and_last_seen(
    client: TestClient, headers: Headers, token: Token, clock: SettableClock
) -> None:
    # Given a followed-up concern, one needing no follow-up, and one still open; three visits
    # (seen alone, seen with mum, not seen) and the child's voice recorded once
    at(clock, "2013-05-21T12:00:00+00:00")
    followed = concern("2013-05-20", category="neglect")
    no_follow_up = concern("2013-05-21", category="other", follow_up_required=False)
    case_id, _ = open_case(
        client, headers, event("ContactReceived", "2013-05-16"), followed, no_follow_up
    )
    at(clock, "2013-06-13T12:00:00+00:00")
    still_open = concern("2013-06-07", category="domestic_abuse", description="Shouting heard")
    record(
        client,
        headers,
        case_id,
        event("VisitMade", "2013-05-22"),
        event("ChildsVoiceRecorded", "2013-05-22"),
        event(
            "ConcernFollowedUp",
            "2013-05-28",
            data=payload("ConcernFollowedUp", concern_event_id=followed["id"]),
        ),
        event("VisitMade", "2013-06-05", data=payload("VisitMade", seen_alone=False)),
        still_open,
        event(
            "VisitMade",
            "2013-06-12",
            data=payload(
                "VisitMade",
                child_seen=False,
                seen_alone=False,
                bedroom_seen=False,
                reason_not_seen="Nobody answered the door",
            ),
        ),
    )

    # When
    on_25_may = state(client, headers, case_id, as_of="2013-05-25")
    now = state(client, headers, case_id)

    # Then
    assert [c["event_id"] for c in on_25_may["open_concerns"]] == [followed["id"]]
    assert on_25_may["open_concerns"][0]["occurred_at"] == "2013-05-20"
    assert [c["event_id"] for c in now["open_concerns"]] == [still_open["id"]]
    assert now["open_concerns"][0]["category"] == "domestic_abuse"
    assert now["open_concerns"][0]["agency"] == LOCAL_AUTHORITY
    assert now["last_seen_at"] == "2013-06-05"
    assert now["last_seen_alone_at"] == "2013-05-22"
    assert now["last_voice_recorded_at"] == "2013-05-22"
    assert on_25_may["last_seen_at"] == "2013-05-22"


def test_open_concerns_when_followed_up_the_same_day_given_as_a_date_then_not_open(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a concern at 15:00 on 5 October 2026, and on 6 October its follow-up dated by
    # the day alone (so it happened, in the fold's order, before the concern)
    at(clock, "2026-10-05T15:30:00+01:00")
    observed = concern("2026-10-05T15:00:00+01:00")
    case_id, _ = open_case(client, headers, observed, occurred_at="2026-10-01")
    at(clock, "2026-10-06T12:00:00+00:00")
    followed_up = payload("ConcernFollowedUp", concern_event_id=observed["id"])
    record(client, headers, case_id, event("ConcernFollowedUp", "2026-10-05", data=followed_up))

    # When
    now = state(client, headers, case_id)
    before_follow_up_recorded = state(client, headers, case_id, known_at="2026-10-05")

    # Then the follow-up resolves the concern whatever their order; before it was recorded,
    # the concern was open
    assert now["open_concerns"] == []
    assert [c["event_id"] for c in before_follow_up_recorded["open_concerns"]] == [observed["id"]]


# --- chronology: filters and actions ---


def _busy_case(
    client: TestClient, headers: Headers, token: Token, clock: SettableClock
) -> tuple[str, dict[str, dict[str, Any]]]:
    """A school referral, decided on; a school concern followed up; a meeting minuted and sent."""
    posted = {
        "contact": event("ContactReceived", "2013-05-16"),
        "decision": event(
            "ContactDecisionMade",
            "2013-05-17",
            data=payload("ContactDecisionMade", outcome="referral", urgent=False),
        ),
        "referral": event("ReferralAccepted", "2013-05-17"),
        "worker": event("WorkerAllocated", "2013-05-17"),
    }
    at(clock, "2013-05-18T12:00:00+00:00")
    case_id, opened = open_case(client, headers, *posted.values())
    posted["opened"] = opened

    at(clock, "2013-05-29T12:00:00+00:00")
    posted["concern"] = concern("2013-05-20", category="neglect")
    posted["follow_up"] = event(
        "ConcernFollowedUp",
        "2013-05-28",
        data=payload(
            "ConcernFollowedUp",
            concern_event_id=posted["concern"]["id"],
            action="Spoke to mum about lunches",
            outcome="Free school meals applied for",
        ),
    )
    record(client, school_token(token), case_id, posted["concern"], posted["follow_up"])
    posted["visit"] = event("VisitMade", "2013-05-22")
    posted["note"] = event(
        "CaseNoteRecorded",
        "2013-05-24",
        author={"name": "Ann Jones", "role": "safeguarding lead", "agency": SCHOOL},
    )
    record(client, headers, case_id, posted["visit"], posted["note"])

    at(clock, "2013-06-14T16:00:00+00:00")
    posted["meeting"] = event("MeetingHeld", "2013-06-10")
    posted["minutes"] = event("MinutesRecorded", "2013-06-12")
    posted["circulated"] = event("MinutesCirculated", "2013-06-14")
    record(client, headers, case_id, posted["meeting"], posted["minutes"], posted["circulated"])
    return case_id, posted


def test_chronology_when_no_filter_then_significant_and_above_in_order_happened(
    client: TestClient, headers: Headers, token: Token, clock: SettableClock
) -> None:
    # Given a busy case
    case_id, posted = _busy_case(client, headers, token, clock)

    # When
    lines = chronology(client, headers, case_id)

    # Then routine entries (allocation, visit, note, follow-up, minutes) are left out
    expected = ["opened", "contact", "decision", "referral", "concern", "meeting"]
    assert ids(lines) == [posted[name]["id"] for name in expected]
    assert {line["significance"] for line in lines} <= {"significant", "critical"}


def test_chronology_when_min_significance_routine_then_every_entry(
    client: TestClient, headers: Headers, token: Token, clock: SettableClock
) -> None:
    # Given a busy case
    case_id, posted = _busy_case(client, headers, token, clock)

    # When
    lines = chronology(client, headers, case_id, min_significance="routine")

    # Then everything, in the order it happened (ties in the order recorded)
    expected = [
        "opened",
        "contact",
        "decision",
        "referral",
        "worker",
        "concern",
        "visit",
        "note",
        "follow_up",
        "meeting",
        "minutes",
        "circulated",
    ]
    assert ids(lines) == [posted[name]["id"] for name in expected]


def test_chronology_when_agency_given_then_only_that_agencys_entries(
    client: TestClient, headers: Headers, token: Token, clock: SettableClock
) -> None:
    # Given a busy case: the school referred, raised and followed up a concern, and wrote a
    # note that CSC typed in
    case_id, posted = _busy_case(client, headers, token, clock)

    # When
    school = chronology(client, headers, case_id, agency=SCHOOL, min_significance="routine")
    school_significant = chronology(client, headers, case_id, agency=SCHOOL)
    csc = chronology(client, headers, case_id, agency=LOCAL_AUTHORITY)

    # Then the referrer's agency, the recorder's, and the author's all count as the school's
    assert ids(school) == [posted[n]["id"] for n in ("contact", "concern", "note", "follow_up")]
    assert {line["agency"] for line in school} == {SCHOOL}
    assert ids(school_significant) == [posted[n]["id"] for n in ("contact", "concern")]
    assert ids(csc) == [posted[n]["id"] for n in ("opened", "decision", "referral", "meeting")]


def test_chronology_when_types_given_then_only_those_types(
    client: TestClient, headers: Headers, token: Token, clock: SettableClock
) -> None:
    # Given a busy case
    case_id, posted = _busy_case(client, headers, token, clock)

    # When
    both = chronology(
        client, headers, case_id, types="ConcernObserved, VisitMade", min_significance="routine"
    )
    significant_only = chronology(client, headers, case_id, types="ConcernObserved,VisitMade")

    # Then
    assert ids(both) == [posted["concern"]["id"], posted["visit"]["id"]]
    assert [line["seq"] for line in both] == [1, 2]
    assert ids(significant_only) == [posted["concern"]["id"]]


def test_chronology_when_unknown_type_then_422_problem(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a case
    at(clock, "2013-05-17T12:00:00+00:00")
    case_id, _ = open_case(client, headers)

    # When
    response = client.get(
        f"/cases/{case_id}/chronology",
        params={"types": "ConcernObserved,ConcernRaised"},
        headers=headers,
    )

    # Then
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "ConcernRaised" in response.json()["detail"]


def test_chronology_when_linked_events_recorded_then_action_says_what_was_done(
    client: TestClient, headers: Headers, token: Token, clock: SettableClock
) -> None:
    # Given a contact decided on, a concern followed up, a meeting minuted and circulated
    case_id, posted = _busy_case(client, headers, token, clock)

    # When
    lines = chronology(client, headers, case_id)

    # Then each line says what was done about it, and when
    contact = by_id(lines, posted["contact"]["id"])["action"]
    assert "17 May 2013" in contact
    assert "referral" in contact
    assert "Injury with a disclosure of physical harm" in contact
    followed = by_id(lines, posted["concern"]["id"])["action"]
    assert "28 May 2013" in followed
    assert "Spoke to mum about lunches" in followed
    assert "Free school meals applied for" in followed
    meeting = by_id(lines, posted["meeting"]["id"])["action"]
    assert "Minuted 12 June 2013" in meeting
    assert "circulated 14 June 2013" in meeting
    assert SCHOOL in meeting
    assert HEALTH in meeting
    # and nothing is claimed for an entry nothing was done about
    assert by_id(lines, posted["referral"]["id"])["action"] is None


def test_chronology_when_meeting_not_yet_minuted_then_no_action(
    client: TestClient, headers: Headers, token: Token, clock: SettableClock
) -> None:
    # Given a meeting of 10 June 2013, minuted and circulated only on 14 June
    case_id, posted = _busy_case(client, headers, token, clock)

    # When asked as of 11 June, and as of 13 June
    on_11_june = chronology(client, headers, case_id, as_of="2013-06-11")
    on_13_june = chronology(client, headers, case_id, as_of="2013-06-13")

    # Then the gap shows: nothing, then minuted but not yet circulated
    assert by_id(on_11_june, posted["meeting"]["id"])["action"] is None
    action = by_id(on_13_june, posted["meeting"]["id"])["action"]
    assert "Minuted 12 June 2013" in action
    assert "circulated" not in action


def test_chronology_when_as_of_before_the_case_opened_then_opening_not_listed(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a case opened on 1 October 2026 holding a concern dated 1 March
    at(clock, "2026-10-02T12:00:00+00:00")
    earlier = concern("2026-03-01")
    case_id, opened = open_case(
        client, headers, earlier, event("ReferralAccepted", "2026-10-01"), occurred_at="2026-10-01"
    )

    # When the chronology is asked as of 1 June, in JSON and in CSV, and now
    june = chronology(client, headers, case_id, as_of="2026-06-01")
    june_csv = client.get(
        f"/cases/{case_id}/chronology",
        params={"as_of": "2026-06-01", "format": "csv"},
        headers=headers,
    )
    now = chronology(client, headers, case_id)

    # Then as of June it lists what had happened by then, not the opening in October
    assert ids(june) == [earlier["id"]]
    rows = list(csv.DictReader(io.StringIO(june_csv.content.decode("utf-8-sig"))))
    assert [r["event_id"] for r in rows] == [earlier["id"]]
    assert ids(now)[:2] == [earlier["id"], opened["id"]]


# --- CSV ---


@pytest.mark.parametrize("ask", ["format", "accept"])
def test_chronology_csv_when_asked_then_rows_match_json_entries(
    client: TestClient, headers: Headers, token: Token, clock: SettableClock, ask: str
) -> None:
    # Given a busy case (headlines and actions hold commas, dashes and quotes), and its
    # chronology as JSON, which says it depends on Accept
    case_id, _ = _busy_case(client, headers, token, clock)
    params = {"min_significance": "routine"}
    entries = chronology(client, headers, case_id, **params)
    as_json = client.get(f"/cases/{case_id}/chronology", params=params, headers=headers)
    assert as_json.headers["vary"] == "Accept"

    # When
    if ask == "format":
        response = client.get(
            f"/cases/{case_id}/chronology", params={**params, "format": "csv"}, headers=headers
        )
    else:
        response = client.get(
            f"/cases/{case_id}/chronology",
            params=params,
            headers={**headers, "Accept": "text/csv"},
        )

    # Then it is UTF-8 with a byte-order mark (so a spreadsheet reads names and dashes as
    # written), and Python's csv module reads it: the documented header, then one row per
    # JSON entry
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["vary"] == "Accept"  # (as the JSON answer says: caches keep both)
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == list(CSV_COLUMNS)
    records = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert len(records) == len(entries)
    for row, entry in zip(records, entries, strict=True):
        assert row["seq"] == str(entry["seq"])
        assert row["event_id"] == entry["event_id"]
        assert row["type"] == entry["type"]
        assert row["date"] == entry["date"]
        assert row["occurred_at"] == entry["occurred_at"]
        assert row["headline"] == entry["headline"]
        assert row["agency"] == entry["agency"]
        assert row["significance"] == entry["significance"]
        assert row["action"] == (entry["action"] or "")
        assert row["recorded_at"] == entry["recorded_at"]
        late = entry["late_by_days"]
        assert row["late_by_days"] == ("" if late is None else str(late))


def test_chronology_csv_when_reassessed_and_corrected_then_rationale_and_reason_in_row(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a note reassessed as significant and corrected
    at(clock, "2013-05-21T12:00:00+00:00")
    note = event("CaseNoteRecorded", "2013-05-20")
    case_id, _ = open_case(client, headers, note)
    at(clock, "2013-05-24T12:00:00+00:00")
    record(
        client,
        headers,
        case_id,
        event(
            "SignificanceAssessed",
            "2013-05-24",
            data={
                "target_event_id": note["id"],
                "significance": "significant",
                "rationale": "Third missed appointment, in a month",
            },
        ),
        correction(
            note,
            "2013-05-24",
            data=payload("CaseNoteRecorded"),
            reason='Said "Tuesday", meant Thursday',
        ),
    )

    # When
    response = client.get(f"/cases/{case_id}/chronology", params={"format": "csv"}, headers=headers)

    # Then
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    (row,) = [r for r in rows if r["event_id"] == note["id"]]
    assert row["significance"] == "significant"
    assert row["significance_rationale"] == "Third missed appointment, in a month"
    assert 'Said "Tuesday", meant Thursday' in row["corrections"]


# --- bad dates, ETags ---


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("", "as_of"),
        ("", "known_at"),
        ("/chronology", "as_of"),
        ("/chronology", "known_at"),
        ("/events", "known_at"),  # the raw stream is selected by known_at only
    ],
)
@pytest.mark.parametrize("value", ["2013-13-01", "yesterday", "2013-05-31T12:00:00", "2013-02-30"])
def test_time_parameter_when_not_a_zoned_date_or_date_time_then_422_problem(
    client: TestClient,
    headers: Headers,
    clock: SettableClock,
    path: str,
    parameter: str,
    value: str,
) -> None:
    # Given a case
    at(clock, "2013-05-17T12:00:00+00:00")
    case_id, _ = open_case(client, headers)

    # When
    response = client.get(f"/cases/{case_id}{path}", params={parameter: value}, headers=headers)

    # Then a problem naming the parameter, never a 500 and never a silently ignored date
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422
    assert parameter in problem["detail"]


@pytest.mark.parametrize(
    "value", ["2013-05-31", "2013-05-31T23:59:59+01:00", "2013-05-31T22:59:59Z"]
)
def test_time_parameter_when_date_or_zoned_date_time_then_accepted(
    client: TestClient, headers: Headers, clock: SettableClock, value: str
) -> None:
    # Given a case opened on 16 May 2013
    at(clock, "2013-05-17T12:00:00+00:00")
    case_id, _ = open_case(client, headers)

    # When
    response = client.get(
        f"/cases/{case_id}", params={"as_of": value, "known_at": value}, headers=headers
    )

    # Then
    assert response.status_code == 200, response.text
    assert response.json()["as_of"].startswith("2013-05-31T22:59:59")


def test_state_etag_when_unchanged_then_304_and_when_appended_then_new_etag(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a case and its state's ETag
    at(clock, "2013-05-17T12:00:00+00:00")
    case_id, _ = open_case(client, headers, concern("2013-05-16"))
    first = client.get(f"/cases/{case_id}", headers=headers)
    etag = first.headers["ETag"]

    # When asked again with it, before and after an append
    unchanged = client.get(f"/cases/{case_id}", headers={**headers, "If-None-Match": etag})
    at(clock, "2013-05-21T12:00:00+00:00")
    record(client, headers, case_id, event("VisitMade", "2013-05-20"))
    changed = client.get(f"/cases/{case_id}", headers={**headers, "If-None-Match": etag})

    # Then
    assert first.status_code == 200
    assert unchanged.status_code == 304
    assert unchanged.headers["ETag"] == etag
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.json()["last_seen_at"] == "2013-05-20"


@pytest.mark.parametrize("kind", ["EntryCorrected", "EntryRetracted"])
def test_state_etag_when_correction_or_retraction_appended_then_etag_changes(
    client: TestClient, headers: Headers, clock: SettableClock, kind: str
) -> None:
    # Given a case with a concern, and its state's ETag
    at(clock, "2013-05-17T12:00:00+00:00")
    original = concern("2013-05-16", category="neglect")
    case_id, _ = open_case(client, headers, original, event("VisitMade", "2013-05-16"))
    etag = client.get(f"/cases/{case_id}", headers=headers).headers["ETag"]

    # When the concern is corrected (or retracted), and the state asked for with the old ETag
    at(clock, "2013-05-21T12:00:00+00:00")
    if kind == "EntryCorrected":
        fix = correction(
            original,
            "2013-05-21",
            data=payload("ConcernObserved", category="bruising"),
            reason="Wrong category",
        )
    else:
        fix = event(
            "EntryRetracted",
            "2013-05-21",
            data={"target_event_id": original["id"], "reason": "Wrong child"},
        )
    record(client, headers, case_id, fix)
    response = client.get(f"/cases/{case_id}", headers={**headers, "If-None-Match": etag})

    # Then the state has changed, so a cache holding the old one must not be told it is current
    assert response.status_code == 200
    assert response.headers["ETag"] != etag
    expected = [] if kind == "EntryRetracted" else ["bruising"]
    assert [c["category"] for c in response.json()["open_concerns"]] == expected


def test_state_etag_when_an_entry_dated_ahead_comes_into_view_then_etag_changes(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a case, and a concern recorded at 12:00 as seen at 12:02, two minutes ahead of the
    # server's clock (within the tolerated skew)
    at(clock, "2013-05-17T12:00:00+00:00")
    case_id, _ = open_case(client, headers)
    record(client, headers, case_id, concern("2013-05-17T12:02:00+00:00"))
    before = client.get(f"/cases/{case_id}", headers=headers)
    etag = before.headers["ETag"]
    unchanged = client.get(f"/cases/{case_id}", headers={**headers, "If-None-Match": etag})

    # When the state is asked again with its ETag once the concern has happened
    at(clock, "2013-05-17T12:03:00+00:00")
    after = client.get(f"/cases/{case_id}", headers={**headers, "If-None-Match": etag})
    settled = after.headers["ETag"]
    again = client.get(f"/cases/{case_id}", headers={**headers, "If-None-Match": settled})

    # Then until then the concern is not in the state, and its ETag stands; after, the state
    # shows the concern under a new ETag (a cache holding the earlier state is not told it is
    # current), which then stands as any other: nothing else is still to come
    assert before.json()["open_concerns"] == []
    assert unchanged.status_code == 304
    assert after.status_code == 200
    assert settled != etag
    assert [c["category"] for c in after.json()["open_concerns"]] == ["bruising"]
    assert settled == f'W/"{after.json()["version"]}"'
    assert again.status_code == 304


def test_state_etag_when_two_entries_dated_ahead_come_into_view_in_turn_then_one_tag_each(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a case with two concerns recorded at 12:00, dated 12:02 and 12:04
    at(clock, "2013-05-17T12:00:00+00:00")
    case_id, _ = open_case(
        client,
        headers,
        concern("2013-05-17T12:02:00+00:00"),
        concern("2013-05-17T12:04:00+00:00", category="neglect"),
    )

    # When the state is asked at 12:00, 12:01, 12:03 and 12:05
    tags, concerns = [], []
    for when in ("12:00", "12:01", "12:03", "12:05"):
        at(clock, f"2013-05-17T{when}:00+00:00")
        response = client.get(f"/cases/{case_id}", headers=headers)
        tags.append(response.headers["ETag"])
        concerns.append(len(response.json()["open_concerns"]))

    # Then each state the clock brings has its own tag, and a state that has not changed keeps it
    assert concerns == [0, 0, 1, 2]
    assert tags[0] == tags[1]
    assert len({tags[1], tags[2], tags[3]}) == 3


def test_state_etag_when_asked_by_a_clock_behind_the_last_recording_then_still_changes(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a case opened at 12:00, with a concern recorded at 12:10, dated 12:12; and its state
    # asked by a clock at 12:05 (another worker's, behind the one that recorded the concern)
    at(clock, "2013-05-17T12:00:00+00:00")
    case_id, _ = open_case(client, headers)
    at(clock, "2013-05-17T12:10:00+00:00")
    record(client, headers, case_id, concern("2013-05-17T12:12:00+00:00"))
    at(clock, "2013-05-17T12:05:00+00:00")
    assert client.get(f"/cases/{case_id}", headers=headers).json()["version"] == 1

    # When the state is asked at 12:11, then again with its ETag at 12:13
    at(clock, "2013-05-17T12:11:00+00:00")
    etag = client.get(f"/cases/{case_id}", headers=headers).headers["ETag"]
    at(clock, "2013-05-17T12:13:00+00:00")
    after = client.get(f"/cases/{case_id}", headers={**headers, "If-None-Match": etag})

    # Then the concern, happened by then, comes with a new ETag: never a 304 for the old state
    assert after.status_code == 200
    assert [c["category"] for c in after.json()["open_concerns"]] == ["bruising"]


def test_state_etag_when_as_of_given_then_the_version_alone(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a case with a concern dated a minute ahead of the clock
    at(clock, "2013-05-17T12:00:00+00:00")
    case_id, _ = open_case(client, headers, concern("2013-05-17T12:01:00+00:00"))

    # When the state is asked as of a given moment, before the concern
    response = client.get(
        f"/cases/{case_id}", params={"as_of": "2013-05-17T11:00:00+00:00"}, headers=headers
    )

    # Then that state never changes with the clock: its ETag is the version alone
    assert response.status_code == 200
    assert response.headers["ETag"] == f'W/"{response.json()["version"]}"'


# --- the raw stream ---


def test_events_when_known_at_before_the_case_was_recorded_then_404_as_every_view(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given a case recorded on 17 May 2013
    at(clock, "2013-05-17T12:00:00+00:00")
    case_id, _ = open_case(client, headers, event("VisitMade", "2013-05-16"))

    # When its raw stream (and, alike, its state) is asked as known on 16 May, from the start
    # and after version 1
    before = {"known_at": "2013-05-16"}
    stream = client.get(f"/cases/{case_id}/events", params=before, headers=headers)
    later = client.get(
        f"/cases/{case_id}/events", params={**before, "after_version": "1"}, headers=headers
    )
    state = client.get(f"/cases/{case_id}", params=before, headers=headers)

    # Then the case was not yet recorded: 404, as for every view, not an empty stream
    assert state.status_code == 404
    assert stream.status_code == 404, stream.text
    assert later.status_code == 404, later.text
    # And known the day it was recorded, the stream is there
    recorded = client.get(
        f"/cases/{case_id}/events", params={"known_at": "2013-05-17"}, headers=headers
    )
    assert len(recorded.json()["events"]) == 2


def test_events_when_paged_then_in_version_order_with_positions_and_cursor(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given five events: three recorded on 17 May 2013, two on 21 May
    at(clock, "2013-05-17T12:00:00+00:00")
    case_id, _ = open_case(client, headers, concern("2013-05-16"), event("VisitMade", "2013-05-16"))
    at(clock, "2013-05-21T12:00:00+00:00")
    record(
        client,
        headers,
        case_id,
        event("VisitMade", "2013-05-20"),
        event("CaseNoteRecorded", "2013-05-20"),
    )

    def page(**params: Any) -> dict[str, Any]:
        response = client.get(f"/cases/{case_id}/events", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    # When
    pages = [page(limit=2), page(after_version=2, limit=2), page(after_version=4, limit=2)]

    # Then
    assert [[e["version"] for e in p["events"]] for p in pages] == [[1, 2], [3, 4], [5]]
    assert [p["next_after_version"] for p in pages] == [2, 4, None]
    events = [e for p in pages for e in p["events"]]
    positions = [e["position"] for e in events]
    assert all(isinstance(p, int) for p in positions)
    assert positions == sorted(positions)
    assert len(set(positions)) == 5
    assert {e["recorded_at"] for e in events[:3]} == {"2013-05-17T12:00:00.000000Z"}
    assert {e["recorded_at"] for e in events[3:]} == {"2013-05-21T12:00:00.000000Z"}
    for e in events:
        assert {"id", "type", "occurred_at", "occurred_precision", "recorded_by", "hash"} <= set(e)


def test_events_when_known_at_given_then_only_what_was_recorded_by_then(
    client: TestClient, headers: Headers, clock: SettableClock
) -> None:
    # Given three events recorded on 17 May 2013 and two on 21 May
    at(clock, "2013-05-17T12:00:00+00:00")
    case_id, _ = open_case(client, headers, concern("2013-05-16"), event("VisitMade", "2013-05-16"))
    at(clock, "2013-05-21T12:00:00+00:00")
    record(
        client,
        headers,
        case_id,
        event("VisitMade", "2013-05-20"),
        event("CaseNoteRecorded", "2013-05-20"),
    )

    def page(**params: Any) -> dict[str, Any]:
        response = client.get(f"/cases/{case_id}/events", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    # When asked what had been recorded by 20 May, whole and in pages of two
    whole = page(known_at="2013-05-20")
    first = page(known_at="2013-05-20", limit=2)
    second = page(known_at="2013-05-20", limit=2, after_version=first["next_after_version"])
    at_instant = page(known_at="2013-05-21T12:00:00Z")

    # Then the stream stops at what was recorded then, and the cursor ends with it
    assert [e["version"] for e in whole["events"]] == [1, 2, 3]
    assert whole["next_after_version"] is None
    assert [e["version"] for e in first["events"]] == [1, 2]
    assert first["next_after_version"] == 2
    assert [e["version"] for e in second["events"]] == [3]
    assert second["next_after_version"] is None
    assert [e["version"] for e in at_instant["events"]] == [1, 2, 3, 4, 5]
