"""`GET /cases/{case_id}/sharing-pack`: what an outgoing referral must carry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from service.clock import SettableClock
from tests.support import event, open_case, payload, school_referred_case

Headers = dict[str, str]
Token = Callable[..., Headers]
POLICE = "police:barsetshire"
SCHOOL = "school:st-marys-primary"


def test_sharing_pack_when_concerns_in_the_year_then_every_one_followed_up_or_not(
    client: TestClient, token: Token
) -> None:
    # Given bruising reported in October 2025 (over 12 months ago), in January 2026 (followed
    # up, and already shared with the police) and in November 2026 (not followed up)
    csc = token()
    old, january, november = (
        event("ConcernObserved", day) for day in ("2025-10-01", "2026-01-10", "2026-11-20")
    )
    followed = event(
        "ConcernFollowedUp", "2026-01-11", data=payload("ConcernFollowedUp", target=january["id"])
    )
    shared = event(
        "InformationShared",
        "2026-01-12",
        data=payload("InformationShared", target=january["id"], **{"with": [{"agency": POLICE}]}),
    )
    case_id, _ = open_case(
        client, csc, old, january, followed, shared, november, occurred_at="2025-09-01"
    )

    # When the pack for a referral to the police is asked for
    response = client.get(
        f"/cases/{case_id}/sharing-pack", headers=csc, params={"for_agency": POLICE}
    )

    # Then it carries both concerns of the last 12 months, the followed-up one too
    assert response.status_code == 200, response.text
    pack = response.json()
    assert pack["concern_event_ids"] == [january["id"], november["id"]]
    first, second = pack["concerns"]
    assert (first["followed_up_by"], first["already_shared"]) == (followed["id"], True)
    assert (second["followed_up_by"], second["already_shared"]) == (None, False)
    assert pack["period_from"] == "2025-11-26T00:00:00.000000Z"
    # And the significant events of that time, not older ones
    listed = {e["event_id"] for e in pack["significant_events"]}
    assert november["id"] in listed and old["id"] not in listed
    # And the open alerts: the November and October 2025 concerns have no follow-up
    unfollowed = {
        a["event_ids"][0] for a in pack["alerts"] if a["rule"] == "concern-not-followed-up"
    }
    assert unfollowed == {november["id"], old["id"]}


def test_sharing_pack_when_partner_or_bad_agency_then_refused(
    client: TestClient, token: Token
) -> None:
    csc = token()
    case_id = school_referred_case(client, csc, SCHOOL)
    url = f"/cases/{case_id}/sharing-pack"
    school = token(agency=SCHOOL, sub="dsl")
    refused = client.get(url, headers=school, params={"for_agency": POLICE})
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        "only the owning authority and reviewers of the case may read the sharing pack"
    )
    assert client.get(url, headers=csc, params={"for_agency": "the police"}).status_code == 422
    assert client.get(url, headers=csc).status_code == 422
    unknown = "/cases/00000000-0000-4000-8000-00000000dead/sharing-pack"
    assert client.get(unknown, headers=csc, params={"for_agency": POLICE}).status_code == 404


def test_sharing_pack_when_known_at_earlier_then_same_twelve_months_before_as_of(
    client: TestClient, token: Token, clock: SettableClock
) -> None:
    # Given a concern seen and recorded on 1 March 2025, and the pack asked for on 26 November
    # 2026 (its 12 months start on 26 November 2025)
    csc = token()
    concern = event("ConcernObserved", "2025-03-01")
    clock.set(datetime(2025, 3, 1, 12, tzinfo=UTC))
    case_id, _ = open_case(client, csc, concern, occurred_at="2025-03-01")
    clock.set(datetime(2026, 11, 26, 12, tzinfo=UTC))
    url = f"/cases/{case_id}/sharing-pack"

    # When it is asked for on what was known in June 2025, and on what is known now
    then = client.get(url, headers=csc, params={"for_agency": POLICE, "known_at": "2025-06-01"})
    now = client.get(url, headers=csc, params={"for_agency": POLICE})

    # Then each says what it was read on, and neither carries the concern: it happened before
    # the pack's period
    assert then.status_code == now.status_code == 200
    assert then.json()["known_at"] == "2025-06-01T22:59:59.999999Z"
    assert now.json()["known_at"] == "2026-11-26T12:00:00.000000Z"
    for pack in (then.json(), now.json()):
        assert pack["period_from"] == "2025-11-26T00:00:00.000000Z"
        assert pack["concern_event_ids"] == []
    # And a pack as of June 2025 does
    june = client.get(url, headers=csc, params={"for_agency": POLICE, "as_of": "2025-06-01"})
    assert june.json()["concern_event_ids"] == [concern["id"]]


def test_sharing_pack_when_as_of_before_the_case_opened_then_no_opening_among_events(
    client: TestClient, token: Token
) -> None:
    # Given a case opened on 1 October 2026 holding a concern dated 1 March
    csc = token()
    concern = event("ConcernObserved", "2026-03-01")
    case_id, _ = open_case(client, csc, concern, occurred_at="2026-10-01")

    # When the pack is asked for as of 1 June
    pack = client.get(
        f"/cases/{case_id}/sharing-pack",
        headers=csc,
        params={"for_agency": POLICE, "as_of": "2026-06-01"},
    ).json()

    # Then its events are what had happened by then: the concern, not the later opening
    assert [e["event_id"] for e in pack["significant_events"]] == [concern["id"]]
