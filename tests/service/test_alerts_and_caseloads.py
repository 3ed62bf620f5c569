"""`GET /alerts` and `GET /caseloads` over HTTP: the read models the owning authority's managers
and reviewers work from, kept current by the runner inside the app."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi.testclient import TestClient

from service.clock import SettableClock
from tests.support import LOCAL_AUTHORITY, append, event, open_case, payload, school_referred_case

Headers = dict[str, str]
Token = Callable[..., Headers]
SCHOOL = "school:st-marys-primary"


def _get(client: TestClient, path: str, headers: Headers, position: int, **params: Any) -> Any:
    return client.get(path, headers={**headers, "X-Min-Position": str(position)}, params=params)


def _position(client: TestClient, headers: Headers) -> int:
    """The log's newest position (read models asked with X-Min-Position wait for it)."""
    return int(client.app.state.records.recorder.max_notification_id() or 0)  # type: ignore[attr-defined]


def _contact(day: str, contact_id: str = "C-7") -> dict[str, Any]:
    return event("ContactReceived", day, data=payload("ContactReceived", contact_id=contact_id))


# --- GET /cases/{case_id}/alerts -----------------------------------------------------------


def test_case_alerts_when_asked_as_of_and_known_at_then_what_the_record_flagged_then(
    client: TestClient, token: Token, clock: SettableClock
) -> None:
    # Given a contact on Friday 2 October with its decision recorded late, on 9 October
    csc = token()
    clock.set(datetime(2026, 10, 2, 12, 0, tzinfo=UTC))
    case_id, _ = open_case(client, csc, _contact("2026-10-02"), occurred_at="2026-10-02")
    clock.set(datetime(2026, 10, 9, 12, 0, tzinfo=UTC))
    decision = event(
        "ContactDecisionMade",
        "2026-10-09",
        data=payload("ContactDecisionMade", contact_id="C-7"),
    )
    append(client, csc, case_id, decision)
    clock.set(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    url = f"/cases/{case_id}/alerts"

    # When the alerts are asked now, as of 7 October, and as of then on what was known then
    now = client.get(url, headers=csc)
    on_the_7th = client.get(url, headers=csc, params={"as_of": "2026-10-07"})
    resolved = client.get(url, headers=csc, params={"include_resolved": "true"})

    # Then nothing is open now; on the 7th the alert was breached (due Monday 5 October)
    assert now.status_code == 200, now.text
    assert now.json()["alerts"] == []
    [alert] = on_the_7th.json()["alerts"]
    assert (alert["rule"], alert["status"]) == ("decision-overdue", "breached")
    assert alert["due_at"] == "2026-10-05T22:59:59.999999Z"
    assert "due by 5 October 2026" in alert["message"]
    # And with the resolved ones, it shows what resolved it
    [done] = resolved.json()["alerts"]
    assert (done["status"], done["resolved_by"]) == ("resolved", decision["id"])
    assert done["breached_at"] == "2026-10-05T23:00:00.000000Z"
    # And as of 20 October on what was recorded by 8 October, it was still open
    earlier = client.get(url, headers=csc, params={"as_of": "2026-10-20", "known_at": "2026-10-08"})
    assert [a["status"] for a in earlier.json()["alerts"]] == ["breached"]


def test_case_alerts_when_partner_or_unknown_case_then_refused(
    client: TestClient, token: Token
) -> None:
    csc = token()
    case_id = school_referred_case(client, csc, SCHOOL)
    school = token(agency=SCHOOL, sub="dsl")
    assert client.get(f"/cases/{case_id}/alerts", headers=school).status_code == 403
    unknown = "00000000-0000-4000-8000-00000000dead"
    assert client.get(f"/cases/{unknown}/alerts", headers=csc).status_code == 404


def _cp_handover(client: TestClient, csc: Headers, *more: dict[str, Any]) -> str:
    """A case on child protection plan CPP-7 from 1 February 2024, handed over on 1 September to
    plan CPP-8: the new plan's start recorded, then the old plan's end."""
    plans = [
        ("ChildProtectionPlanStarted", "2024-02-01", "CPP-7"),
        ("ChildProtectionPlanStarted", "2024-09-01", "CPP-8"),
        ("ChildProtectionPlanEnded", "2024-09-01", "CPP-7"),
    ]
    case_id, _ = open_case(
        client,
        csc,
        *_allocated("Sam Patel", "North"),
        *(event(kind, day, data=payload(kind, plan_id=plan_id)) for kind, day, plan_id in plans),
        *more,
        occurred_at="2024-01-10",
    )
    return case_id


def test_case_alerts_when_acknowledged_before_the_deadline_then_resolved_never_breached(
    client: TestClient, token: Token, clock: SettableClock
) -> None:
    # Given a contact on Friday 2 October 2026, its alert acknowledged by a manager that day
    csc = token()
    manager = token(roles=("manager",), sub="mgr")
    clock.set(datetime(2026, 10, 2, 12, 0, tzinfo=UTC))
    case_id, _ = open_case(client, csc, _contact("2026-10-02"), occurred_at="2026-10-02")
    url = f"/cases/{case_id}/alerts"
    [alert] = [
        a for a in client.get(url, headers=csc).json()["alerts"] if a["rule"] == "decision-overdue"
    ]
    ack = event(
        "AlertAcknowledged",
        "2026-10-02",
        data={"rule": "decision-overdue", "event_ids": alert["event_ids"], "note": "Passed to EH"},
    )
    assert append(client, manager, case_id, ack).status_code == 201

    # When the alerts are asked weeks later, with the resolved ones
    clock.set(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    body = client.get(url, headers=csc, params={"include_resolved": "true"}).json()

    # Then it was resolved by the acknowledgement before it fell due: never breached
    [done] = [a for a in body["alerts"] if a["rule"] == "decision-overdue"]
    assert (done["status"], done["resolved_by"]) == ("resolved", ack["id"])
    assert done["due_at"] == "2026-10-05T22:59:59.999999Z"
    assert done["breached_at"] is None


def test_case_alerts_when_a_cp_plan_hands_over_then_visits_still_due_on_the_new_plan(
    client: TestClient, token: Token
) -> None:
    # Given a CP plan handed over on 1 September 2024, and a visit seeing the child the next day
    csc = token()
    visit = event("VisitMade", "2024-09-02")
    case_id = _cp_handover(client, csc, visit)

    # When the alerts are asked as of 1 October
    response = client.get(f"/cases/{case_id}/alerts", headers=csc, params={"as_of": "2024-10-01"})

    # Then the next visit was due 10 working days after that one, and is overdue
    assert response.status_code == 200, response.text
    [alert] = [a for a in response.json()["alerts"] if a["rule"] == "cp-visit-overdue"]
    assert (alert["status"], alert["event_ids"]) == ("breached", [visit["id"]])
    assert "since the home visit on 2 September 2024: due by 16 September 2024" in alert["message"]


def test_case_list_and_caseloads_when_a_cp_plan_hands_over_then_the_case_is_on_the_new_plan(
    client: TestClient, token: Token
) -> None:
    # Given Sam's case, its CP plan handed over on 1 September 2024
    csc = token()
    case_id = _cp_handover(client, csc)
    position = _position(client, csc)

    # When the case list is searched by plan, and a manager reads the caseloads
    listed = _get(client, "/cases", csc, position, plan="child_protection")
    loads = _get(client, "/caseloads", token(roles=("manager",), sub="m"), position)

    # Then both count the case as on a child protection plan, as its state does
    assert client.get(f"/cases/{case_id}", headers=csc).json()["plan"] == "child_protection"
    assert [(c["case_id"], c["plan"]) for c in listed.json()["cases"]] == [
        (case_id, "child_protection")
    ]
    [sam] = loads.json()["workers"]
    assert sam["by_plan"]["child_protection"] == 1
    assert sam["by_plan"]["none"] == 0


def test_case_alerts_when_case_closed_with_a_cp_plan_open_then_plan_shown_but_clocks_stop(
    client: TestClient, token: Token
) -> None:
    # Given a CP plan from 1 February 2024, visited on 5 February, and the case closed on
    # 1 March with no end of the plan recorded
    csc = token()
    closure = event("CaseClosed", "2024-03-01")
    case_id, _ = open_case(
        client,
        csc,
        event("ReferralAccepted", "2024-01-10"),
        event("ConferenceHeld", "2024-02-01"),
        event("ChildProtectionPlanStarted", "2024-02-01"),
        event("VisitMade", "2024-02-05"),
        closure,
        occurred_at="2024-01-10",
    )

    # When the state and every alert are asked as of 1 June
    as_of = {"as_of": "2024-06-01"}
    state = client.get(f"/cases/{case_id}", headers=csc, params=as_of).json()
    alerts = client.get(
        f"/cases/{case_id}/alerts", headers=csc, params={**as_of, "include_resolved": "true"}
    ).json()["alerts"]

    # Then the state still shows the plan open on the closed case, its end not recorded
    assert (state["status"], state["plan"]) == ("closed", "child_protection")
    # And the visits and review conferences stopped counting at the closure
    for rule in ("cp-visit-overdue", "review-conference-overdue"):
        last = [a for a in alerts if a["rule"] == rule][-1]
        assert (last["status"], last["resolved_by"]) == ("resolved", closure["id"]), rule
    # And no rule flags the plan left open
    assert [a["rule"] for a in alerts if a["status"] != "resolved"] == []


# --- GET /alerts ---------------------------------------------------------------------------


def test_alerts_when_contact_undecided_then_owner_sees_it_and_others_do_not(
    client: TestClient, token: Token
) -> None:
    # Given a case the school referred on 1 October, with no decision on the contact
    csc = token()
    case_id = school_referred_case(client, csc, SCHOOL)
    position = _position(client, csc)

    # When the owning authority lists its open decision-overdue alerts
    response = _get(client, "/alerts", csc, position, rule="decision-overdue")

    # Then the breached decision-overdue alert is there, in words, with its projection position
    assert response.status_code == 200, response.text
    [alert] = response.json()["alerts"]
    assert alert["case_id"] == case_id
    assert (alert["rule"], alert["status"], alert["severity"]) == (
        "decision-overdue",
        "breached",
        "warning",
    )
    assert "on 1 October 2026 has no recorded decision: due by 2 October 2026" in alert["message"]
    assert alert["due_at"] == "2026-10-02T22:59:59.999999Z"
    assert alert["breached_at"] == "2026-10-02T23:00:00.000000Z"
    assert int(response.headers["X-Projection-Position"]) >= position

    # And the involved school, another authority and a reviewer of other cases see none
    for other in (
        token(agency=SCHOOL, sub="dsl"),
        token(agency="csc:wessex", sub="w"),
        token(agency="other:ofsted", roles=("reviewer",), sub="r", cases=[LOCAL_AUTHORITY]),
    ):
        assert _get(client, "/alerts", other, position).json()["alerts"] == []
    # And a reviewer given the case sees its alerts
    reviewer = token(agency="other:ofsted", roles=("reviewer",), sub="r2", cases=[case_id])
    seen = _get(client, "/alerts", reviewer, position).json()["alerts"]
    assert {a["case_id"] for a in seen} == {case_id}


def test_alerts_when_decision_recorded_then_gone_from_the_open_list(
    client: TestClient, token: Token
) -> None:
    csc = token()
    case_id = school_referred_case(client, csc, SCHOOL)
    decided = append(
        client,
        csc,
        case_id,
        event(
            "ContactDecisionMade",
            "2026-10-02",
            data=payload("ContactDecisionMade", contact_id="C-2024-0193"),
        ),
    )
    position = decided.json()["events"][-1]["position"]
    assert _get(client, "/alerts", csc, position, rule="decision-overdue").json()["alerts"] == []


def test_alerts_when_filtered_and_paged_then_every_matching_alert_once(
    client: TestClient, token: Token
) -> None:
    # Given three cases with an undecided contact each: two overdue, one received today
    csc = token()
    overdue = [
        open_case(client, csc, _contact("2026-11-02"), occurred_at="2026-11-02")[0],
        open_case(client, csc, _contact("2026-11-03"), occurred_at="2026-11-03")[0],
    ]
    today, _ = open_case(client, csc, _contact("2026-11-26"), occurred_at="2026-11-26")
    position = _position(client, csc)

    # When the breached ones are paged one at a time
    seen, cursor = [], None
    while True:
        params = {
            "rule": "decision-overdue",
            "status": "breached",
            "limit": 1,
            **({"cursor": cursor} if cursor else {}),
        }
        body = _get(client, "/alerts", csc, position, **params).json()
        seen += [a["case_id"] for a in body["alerts"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    # Then each comes once, most overdue first; the pending one is listed under its status
    assert seen == overdue
    pending = _get(
        client, "/alerts", csc, position, rule="decision-overdue", status="pending"
    ).json()["alerts"]
    assert [a["case_id"] for a in pending] == [today]
    late = _get(client, "/alerts", csc, position, severity="info").json()["alerts"]
    assert {a["rule"] for a in late} == {"late-recording"}
    assert _get(client, "/alerts", csc, position, rule="decision-overdue").status_code == 200
    assert _get(client, "/alerts", csc, position, rule="no-such-rule").status_code == 422
    assert _get(client, "/alerts", csc, position, cursor="nonsense").status_code == 400


def test_alerts_when_deadline_passes_with_no_event_then_the_app_marks_it_breached(
    start_app: Callable[..., TestClient], clock: SettableClock
) -> None:
    # Given the only app (so its runner leads), refreshing alerts often, and a contact
    # received today (due tomorrow)
    app = start_app(alerts_refresh_seconds=0.05)
    jwt = app.app.state.tokens.mint(  # type: ignore[attr-defined]
        sub="ann.worker", name="Ann Worker", agency=LOCAL_AUTHORITY, roles=["practitioner"]
    )
    csc = {"Authorization": f"Bearer {jwt}"}
    open_case(app, csc, _contact("2026-11-26"), occurred_at="2026-11-26")
    position = _position(app, csc)
    [alert] = _get(app, "/alerts", csc, position).json()["alerts"]
    assert alert["status"] == "pending"

    # When the deadline passes, with no new event
    clock.set(datetime(2026, 11, 28, 9, 0, tzinfo=UTC))

    # Then the runner's scheduled refresh marks it breached
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        [alert] = _get(app, "/alerts", csc, position).json()["alerts"]
        if alert["status"] == "breached":
            break
        time.sleep(0.05)
    assert alert["status"] == "breached"


def test_alerts_when_read_then_audited_with_the_cases_returned(
    client: TestClient, token: Token
) -> None:
    csc = token()
    case_id = school_referred_case(client, csc, SCHOOL)
    assert _get(client, "/alerts", csc, _position(client, csc)).status_code == 200
    trail = client.get(
        f"/cases/{case_id}/audit",
        headers=token(roles=("manager",), sub="m"),
        params={"kind": "read"},
    )
    assert [e["endpoint"] for e in trail.json()["entries"]] == ["GET /alerts"]


# --- GET /caseloads ------------------------------------------------------------------------


def _allocated(worker: str, team: str, *plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        event("ReferralAccepted", "2026-10-02"),
        event(
            "WorkerAllocated", "2026-10-02", data={"worker": worker, "team": team, "reason": "new"}
        ),
        *plan,
    ]


def test_caseloads_when_manager_reads_then_open_cases_per_worker_and_team_by_plan(
    start_app: Callable[..., TestClient], token: Token
) -> None:
    # Given a threshold of 1, Sam holding two open cases (one on a CIN plan), Jo one, one case
    # unallocated, and one of Jo's closed
    app = start_app(caseload_threshold=1)
    csc = token()
    cin = event("ChildInNeedPlanStarted", "2026-10-10")
    open_case(app, csc, *_allocated("Sam Patel", "North", cin))
    open_case(app, csc, *_allocated("Sam Patel", "North"))
    open_case(app, csc, *_allocated("Jo Wright", "South"))
    open_case(app, csc, event("ReferralAccepted", "2026-10-02"))
    open_case(app, csc, *_allocated("Jo Wright", "South"), event("CaseClosed", "2026-11-01"))
    position = _position(app, csc)

    # When a manager reads the caseloads
    response = _get(app, "/caseloads", token(roles=("manager",), sub="m"), position)

    # Then each worker's open cases are counted by plan, and Sam is over the threshold
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["threshold"] == 1
    workers = {w["worker"]: w for w in body["workers"]}
    assert workers["Sam Patel"]["open_cases"] == 2
    assert workers["Sam Patel"]["by_plan"]["child_in_need"] == 1
    assert workers["Sam Patel"]["by_plan"]["none"] == 1
    assert workers["Sam Patel"]["over_threshold"] is True
    assert (workers["Jo Wright"]["open_cases"], workers["Jo Wright"]["over_threshold"]) == (
        1,
        False,
    )
    assert workers["Sam Patel"]["teams"] == ["North"]
    teams = {t["team"]: (t["open_cases"], t["workers"]) for t in body["teams"]}
    assert teams == {"North": (2, 1), "South": (1, 1), None: (1, 0)}
    assert body["unallocated"] == 1
    # And a team filter narrows it
    north = _get(app, "/caseloads", token(roles=("manager",), sub="m"), position, team="North")
    assert [w["worker"] for w in north.json()["workers"]] == ["Sam Patel"]


def test_caseloads_when_filtered_by_team_then_a_worker_is_judged_on_the_whole_caseload(
    start_app: Callable[..., TestClient], token: Token
) -> None:
    # Given a threshold of 2, and Sam holding two open cases in North and one in South
    app = start_app(caseload_threshold=2)
    csc = token()
    open_case(app, csc, *_allocated("Sam Patel", "North"))
    open_case(app, csc, *_allocated("Sam Patel", "North"))
    open_case(app, csc, *_allocated("Sam Patel", "South"))
    position = _position(app, csc)

    # When North's manager reads the caseloads of North
    manager = token(roles=("manager",), sub="m")
    body = _get(app, "/caseloads", manager, position, team="North").json()

    # Then Sam is over the threshold, with all three of his open cases
    [sam] = body["workers"]
    assert (sam["worker"], sam["open_cases"], sam["over_threshold"]) == ("Sam Patel", 3, True)
    assert sam["teams"] == ["North", "South"]
    # And the team counts are North's alone
    assert [(t["team"], t["open_cases"]) for t in body["teams"]] == [("North", 2)]


def test_caseloads_and_alerts_when_case_closed_and_reopened_then_the_old_worker_has_left_it(
    client: TestClient, token: Token
) -> None:
    # Given Sam's case, closed on 1 November and reopened on 16 November with nobody allocated
    csc = token()
    case_id, _ = open_case(
        client,
        csc,
        *_allocated("Sam Patel", "North"),
        event("CaseClosed", "2026-11-01"),
        event("CaseReopened", "2026-11-16"),
    )
    position = _position(client, csc)

    # When the state, the caseloads, the case list and the open alerts are read
    state = client.get(f"/cases/{case_id}", headers=csc).json()
    loads = _get(client, "/caseloads", token(roles=("manager",), sub="m"), position).json()
    sams = _get(client, "/cases", csc, position, worker="Sam Patel").json()["cases"]
    [alert] = _get(client, "/alerts", csc, position, rule="no-allocated-worker").json()["alerts"]

    # Then the case has no worker and no team: Sam left it when it closed
    assert (state["allocated_worker"], state["team"]) == (None, None)
    assert (loads["workers"], loads["unallocated"]) == ([], 1)
    assert sams == []
    # And the reopening's alert is not put down to Sam
    assert alert["message"].startswith("Case reopened on 16 November 2026 has no allocated worker")
    assert (alert["allocated_worker"], alert["team"]) == (None, None)


def test_caseloads_when_not_a_manager_or_reviewer_then_refused_or_empty(
    client: TestClient, token: Token
) -> None:
    # Given an open, allocated case of the authority
    csc = token()
    case_id, _ = open_case(client, csc, *_allocated("Sam Patel", "North"))
    position = _position(client, csc)

    # Then practitioners, systems and integrators are refused
    for roles in (("practitioner",), ("system",), ("integrator",), ("admin",)):
        response = _get(client, "/caseloads", token(roles=roles, sub="x"), position)
        assert response.status_code == 403, roles
        assert response.headers["content-type"] == "application/problem+json"
    # And another authority's manager and a partner's manager see no one's caseload here
    for agency in ("csc:wessex", SCHOOL):
        body = _get(
            client, "/caseloads", token(agency=agency, roles=("manager",), sub="m"), position
        ).json()
        assert (body["workers"], body["unallocated"]) == ([], 0)
    # And a reviewer sees the cases its token names
    reviewer = token(agency="other:ofsted", roles=("reviewer",), sub="r", cases=[case_id])
    body = _get(client, "/caseloads", reviewer, position).json()
    assert [(w["worker"], w["open_cases"]) for w in body["workers"]] == [("Sam Patel", 1)]


def test_caseloads_when_model_behind_min_position_then_503_retry_after(
    start_app: Callable[..., TestClient],
) -> None:
    # Given an app whose read models are not run, and a case written to its log
    app = start_app(projections_in_process=False, projection_wait_seconds=0)
    tokens = app.app.state.tokens  # type: ignore[attr-defined]
    jwt = tokens.mint(sub="m", name="M", agency=LOCAL_AUTHORITY, roles=["manager"])
    csc = {"Authorization": f"Bearer {jwt}"}
    open_case(app, csc)
    # When the caseloads are asked to wait for that write
    response: httpx.Response = _get(app, "/caseloads", csc, _position(app, csc))
    # Then the model is behind: 503, retry later
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.json()["type"] == "urn:casetrail:problem:projection-behind"


def test_caseloads_when_not_a_manager_and_waiting_then_refused_at_once(
    start_app: Callable[..., TestClient],
) -> None:
    # Given an app whose read models are not run (a wait could only run out), and a case
    app = start_app(projections_in_process=False, projection_wait_seconds=5)
    tokens = app.app.state.tokens  # type: ignore[attr-defined]

    def bearer(*roles: str) -> Headers:
        jwt = tokens.mint(sub="x", name="X", agency=LOCAL_AUTHORITY, roles=list(roles))
        return {"Authorization": f"Bearer {jwt}"}

    open_case(app, bearer("manager"))
    newest = _position(app, bearer("manager"))

    # When callers the caseloads are not for ask them to wait, for a position in the log or
    # one past it
    for roles in (("practitioner",), ("integrator",)):
        for position in (newest, newest + 1000):
            started = time.monotonic()
            response: httpx.Response = _get(app, "/caseloads", bearer(*roles), position)

            # Then each is refused for its role at once: no wait, no 503 or 422, no position
            assert response.status_code == 403, (roles, position, response.text)
            assert response.json()["type"] == "urn:casetrail:problem:forbidden"
            assert time.monotonic() - started < 2.5, roles
            assert "X-Projection-Position" not in response.headers


def test_alerts_when_min_position_past_the_log_then_422_at_once(
    client: TestClient, token: Token
) -> None:
    # Given a log with one case (the fuzzer sent positions far past the newest)
    manager = token(roles=("manager",), sub="m")
    open_case(client, manager)
    # When the alerts and caseloads are asked to wait for a position no write has answered
    past = _position(client, manager) + 1
    for path in ("/alerts", "/caseloads"):
        response = _get(client, path, manager, past)
        # Then the client is told at once (422), not sent away to retry (503)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["errors"][0]["parameter"] == "X-Min-Position"


# --- break-glass-access: an alert from the access audit ------------------------------------


def test_break_glass_when_case_read_in_an_emergency_then_owner_alerted_until_acknowledged(
    client: TestClient, token: Token
) -> None:
    # Given a case read by the police by break-glass
    csc = token()
    case_id = school_referred_case(client, csc, SCHOOL)
    police = {
        **token(agency="police:barsetshire", sub="pc1", name="PC Kay"),
        "X-Access-Purpose": "emergency: child reported missing overnight",
    }
    assert client.get(f"/cases/{case_id}", headers=police).status_code == 200

    # When the owning authority asks for the case's alerts and for its open alerts
    case_alerts = client.get(f"/cases/{case_id}/alerts", headers=csc).json()["alerts"]
    listed = _get(client, "/alerts", csc, _position(client, csc), rule="break-glass-access")

    # Then both show the read, breached from its moment, saying who and why
    [alert] = [a for a in case_alerts if a["rule"] == "break-glass-access"]
    assert alert["status"] == "breached"
    assert alert["breached_at"] == "2026-11-26T12:00:00.000000Z"
    assert alert["message"] == (
        "Read by break-glass on 26 November 2026 by PC Kay (police:barsetshire): "
        "emergency: child reported missing overnight"
    )
    assert [a["alert_id"] for a in listed.json()["alerts"]] == [alert["alert_id"]]
    # And the partner and another authority are not told
    for other in (token(agency=SCHOOL, sub="dsl"), token(agency="csc:wessex", sub="w")):
        assert _get(client, "/alerts", other, 0, rule="break-glass-access").json()["alerts"] == []

    # When a manager acknowledges it
    ack = event(
        "AlertAcknowledged",
        "2026-11-26",
        data={
            "rule": "break-glass-access",
            "event_ids": alert["event_ids"],
            "note": "Checked with the police: a real emergency",
        },
    )
    manager = token(roles=("manager",), sub="m")
    written = append(client, manager, case_id, ack)
    assert written.status_code == 201, written.text

    # Then it is resolved by the acknowledgement, and leaves the open list
    resolved = client.get(
        f"/cases/{case_id}/alerts", headers=csc, params={"include_resolved": "true"}
    ).json()["alerts"]
    [done] = [a for a in resolved if a["rule"] == "break-glass-access"]
    assert (done["status"], done["resolved_by"]) == ("resolved", ack["id"])
    position = written.json()["events"][-1]["position"]
    assert _get(client, "/alerts", csc, position, rule="break-glass-access").json()["alerts"] == []
