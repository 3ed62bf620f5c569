"""The case list read model: what a row holds, search, access and cursor pagination."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import pytest
from sqlalchemy import select

from domain.access import Caller
from domain.envelope import RESTRICTED
from projections.case_search import (
    BadCursor,
    CaseFilters,
    CaseSearch,
    Visibility,
    list_cases,
    partner_cutoff,
)
from projections.cases import CaseList
from projections.runner import Runner
from service.clock import SettableClock
from service.records import CaseRecords
from service.settings import Settings
from tests.projections.support import SCHOOL, open_case, record, worker
from tests.support import event, payload

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@dataclass
class World:
    records: CaseRecords
    runner: Runner
    search: CaseSearch
    ids: dict[str, UUID]

    def sync(self) -> None:
        self.runner.run_once()

    def find(self, **filters: object) -> list[str]:
        page = list_cases(self.runner.store, **filters)  # type: ignore[arg-type]
        return sorted(c.child_name or "" for c in page.cases)


@pytest.fixture
def world(settings: Settings, clock: SettableClock) -> Iterator[World]:
    """Three cases: Amy (open, CIN plan, worker, school involved, NHS number), Ben (contact
    only), Amelia (closed)."""
    records = CaseRecords(settings, clock)
    amy = open_case(
        records,
        "Amy Smith",
        "2016-03-14",
        event("IdentifierLinked", data={"scheme": "nhs_number", "value": "943 476 5919"}),
        event("ReferralAccepted", "2013-05-17"),
        worker("Sam Patel", "Maidstone Assessment Team", occurred_at="2013-05-17"),
        event("ChildInNeedPlanStarted", "2013-06-01"),
        event("AgencyInvolvementStarted", "2013-06-01"),
    )
    ben = open_case(
        records,
        "Ben Jones",
        "2015-01-01",
        event("IdentifierLinked", data={"scheme": "nhs_number", "value": "111 222 3333"}),
    )
    amelia = open_case(
        records,
        "AMELIA Brown",
        "2014-07-30",
        event("ReferralAccepted", "2013-05-17"),
        worker("Jo Wright", "North", occurred_at="2013-05-17"),
        event("CaseClosed", "2013-09-01"),
    )
    runner = Runner(settings, records, [CaseList()])
    runner.run_once()
    search = CaseSearch(runner.store)
    yield World(records, runner, search, {"amy": amy, "ben": ben, "amelia": amelia})
    runner.close()
    records.close()


def test_row_when_case_projected_then_holds_its_state(world: World) -> None:
    [amy] = world.search.list_cases(limit=1).cases
    assert amy.case_id == str(world.ids["amy"])
    assert (amy.child_name, amy.date_of_birth) == ("Amy Smith", "2016-03-14")
    assert amy.identifiers == [{"scheme": "nhs_number", "value": "943 476 5919"}]
    assert (amy.status, amy.plan) == ("open", "child_in_need")
    assert (amy.allocated_worker, amy.team) == ("Sam Patel", "Maidstone Assessment Team")
    assert amy.local_authority == "csc:barsetshire"
    assert amy.involved_agencies == [SCHOOL]
    assert amy.version == 6
    assert amy.last_activity == "2026-11-26T12:00:00.000000Z"
    assert amy.view == "full"


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"q": "am"}, ["AMELIA Brown", "Amy Smith"]),
        ({"q": "aMy"}, ["Amy Smith"]),
        ({"q": "  SMITH "}, ["Amy Smith"]),
        ({"q": "%"}, []),
        ({"dob": "2015-01-01"}, ["Ben Jones"]),
        ({"identifier": "nhs_number:9434765919"}, ["Amy Smith"]),
        ({"identifier": "nhs_number:943 476 5919"}, ["Amy Smith"]),
        ({"identifier": "upn:9434765919"}, []),
        ({"status": "open"}, ["Amy Smith"]),
        ({"status": "closed"}, ["AMELIA Brown"]),
        ({"status": "contact"}, ["Ben Jones"]),
        ({"plan": "child_in_need"}, ["Amy Smith"]),
        ({"plan": "none"}, ["AMELIA Brown", "Ben Jones"]),
        ({"worker": "Sam Patel"}, ["Amy Smith"]),
        ({"worker": "Jo Wright"}, []),  # she left Amelia's case when it closed
        ({"team": "Maidstone Assessment Team"}, ["Amy Smith"]),
        ({"agency": SCHOOL}, ["Amy Smith"]),
        ({"agency": "police:kent"}, []),
        ({"q": "a", "status": "open", "worker": "Sam Patel"}, ["Amy Smith"]),
    ],
)
def test_list_cases_when_filtered_then_only_matches(
    world: World, filters: dict[str, str], expected: list[str]
) -> None:
    assert world.find(**filters) == expected


def test_list_cases_when_identifier_malformed_then_value_error(world: World) -> None:
    with pytest.raises(ValueError, match="scheme:value"):
        world.find(identifier="9434765919")


def test_row_when_corrected_and_retracted_then_recomputed(world: World) -> None:
    # Given Amy's worker allocation and identifier as stored
    amy = world.ids["amy"]
    events = world.records.events_of(amy)
    allocation = next(e for e in events if e.type == "WorkerAllocated")
    identifier = next(e for e in events if e.type == "IdentifierLinked")

    # When the allocation is corrected and the identifier retracted
    corrected = payload("EntryCorrected", target=allocation.id)
    corrected["data"] = {"worker": "Priya Shah", "team": "South", "reason": "test"}
    corrected.pop("occurred_at")
    corrected.pop("occurred_precision")
    record(
        world.records,
        amy,
        event("EntryCorrected", data=corrected),
        event("EntryRetracted", target=identifier.id),
    )
    world.sync()

    # Then the row shows the corrected worker and no identifier
    assert world.find(worker="Priya Shah") == ["Amy Smith"]
    assert world.find(worker="Sam Patel") == []
    assert world.find(identifier="nhs_number:9434765919") == []


def test_visibility_when_owner_partner_reviewer_or_stranger_then_their_cases(
    world: World,
) -> None:
    def seen(visible: Visibility) -> list[tuple[str | None, str]]:
        page = world.search.list_cases(visible=visible)
        return sorted((c.child_name, c.view) for c in page.cases)

    cutoff = partner_cutoff(NOW, 2)
    owner = Visibility(agency="csc:barsetshire", partner_cutoff=cutoff)
    school = Visibility(agency=SCHOOL, partner_cutoff=cutoff)
    police = Visibility(agency="police:kent", partner_cutoff=cutoff)
    reviewer = Visibility(agency="ofsted:x", case_ids=frozenset({str(world.ids["ben"])}))
    inspectorate = Visibility(agency="ofsted:x", all_cases=True)

    assert [v for _, v in seen(owner)] == ["full"] * 3
    assert seen(school) == [("Amy Smith", "partner")]
    assert seen(police) == []
    assert seen(reviewer) == [("Ben Jones", "full")]
    assert len(seen(inspectorate)) == 3


def test_visibility_of_caller_when_reviewer_then_named_cases_and_own_agency() -> None:
    case_id = "6f1c2a57-3c1e-4b8e-9a3d-2f0d5c7e8b41"  # (a token's ids are read in this form)
    caller = Caller("ofsted:x", frozenset({"reviewer"}), frozenset({"c1", case_id}))
    visible = Visibility.of(caller, now=NOW, access_years=2)
    assert visible.case_ids == frozenset({"c1", case_id}) and not visible.all_cases
    star = Caller("ofsted:x", frozenset({"reviewer"}), frozenset({"*"}))
    assert Visibility.of(star, now=NOW, access_years=2).all_cases
    worker_ = Caller("csc:barsetshire", frozenset({"practitioner"}), frozenset({"c1"}))
    assert Visibility.of(worker_, now=NOW, access_years=2).case_ids == frozenset()


@pytest.mark.parametrize(
    ("today", "years", "cutoff"),
    [
        ("2026-11-26", 2, "2024-11-26"),
        ("2026-02-28", 2, "2024-02-28"),
        ("2028-02-29", 2, "2026-03-01"),
        ("2026-03-01", 2, "2024-03-01"),
        ("2026-11-26", 0, "2026-11-26"),
    ],
)
def test_partner_cutoff_when_computed_then_earliest_end_still_giving_access(
    today: str, years: int, cutoff: str
) -> None:
    now = datetime.fromisoformat(f"{today}T12:00:00+00:00")
    assert partner_cutoff(now, years).isoformat() == cutoff


def test_visibility_when_partner_involvement_ended_long_ago_then_hidden(
    world: World, clock: SettableClock
) -> None:
    # Given a case the police were involved in only in 2013 (no episode), and Amy's case
    case_id = open_case(world.records, "Dan Old")
    record(
        world.records,
        case_id,
        event(
            "AgencyInvolvementStarted",
            data=payload("AgencyInvolvementStarted", agency="police:kent"),
        ),
        event(
            "AgencyInvolvementEnded", data=payload("AgencyInvolvementEnded", agency="police:kent")
        ),
    )
    world.sync()

    def seen(years: int) -> list[str | None]:
        visible = Visibility(agency="police:kent", partner_cutoff=partner_cutoff(NOW, years))
        return [c.child_name for c in world.search.list_cases(visible=visible).cases]

    # Then with 2 years' access after the end it is gone; with 20 years it is still there
    assert seen(2) == []
    assert seen(20) == ["Dan Old"]


def test_partner_when_details_restricted_then_neither_shown_nor_searchable(
    world: World,
) -> None:
    # Given CSC's restricted allocation, identifier and name change on Amy's case
    restricted = {"sensitivity": "restricted", "occurred_at": "2014-01-01"}
    record(
        world.records,
        world.ids["amy"],
        worker("Secret Worker", "Secret Team", **restricted),
        event("IdentifierLinked", data={"scheme": "upn", "value": "A123"}, **restricted),
        event("PersonDetailsChanged", data={"name": "Amy Newname"}, **restricted),
    )
    world.sync()
    owner = Visibility(agency="csc:barsetshire")
    school = Visibility(agency=SCHOOL, partner_cutoff=partner_cutoff(NOW, 2))

    def names(visible: Visibility, **filters: str) -> list[str | None]:
        found = list_cases(world.runner.store, visible=visible, **filters)  # type: ignore[arg-type]
        return [c.child_name for c in found.cases]

    # Then the owner finds them
    assert names(owner, worker="Secret Worker") == ["Amy Newname"]
    assert names(owner, identifier="upn:a123") == ["Amy Newname"]
    assert names(owner, q="newname") == ["Amy Newname"]
    # And the school neither finds the case by them nor sees them
    assert names(school, worker="Secret Worker") == []
    assert names(school, identifier="upn:A123") == []
    assert names(school, q="newname") == []
    [amy] = list_cases(world.runner.store, visible=school).cases
    assert (amy.child_name, amy.allocated_worker, amy.team) == ("Amy Smith", RESTRICTED, RESTRICTED)
    assert amy.identifiers == [{"scheme": "nhs_number", "value": "943 476 5919"}]


def test_pages_when_cases_opened_during_walk_then_none_skipped_or_repeated(
    world: World,
) -> None:
    # Given 20 more cases
    for i in range(20):
        open_case(world.records, f"Child {i:02}")
    world.sync()
    before = {c.case_id for c in world.search.list_cases(limit=1000).cases}
    assert len(before) == 23

    # When a client walks the list 4 at a time while 2 cases are opened between pages
    seen: list[str] = []
    cursor: str | None = None
    opened: list[str] = []
    while True:
        page = world.search.list_cases(after_cursor=cursor, limit=4)
        seen += [c.case_id for c in page.cases]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        for _ in range(2):
            opened.append(str(open_case(world.records, "Late Child")))
        world.sync()

    # Then every case that existed is seen exactly once, and the new ones after them
    assert len(seen) == len(set(seen))
    assert before <= set(seen)
    new_seen = [c for c in seen if c not in before]
    assert new_seen == [c for c in opened if c in new_seen]  # in creation order


def test_pages_when_sorted_by_last_activity_then_most_recent_first(
    world: World, clock: SettableClock
) -> None:
    # Given Ben's case written to later than the others
    clock.set(NOW.replace(hour=13))
    record(world.records, world.ids["ben"], event("CaseNoteRecorded"))
    world.sync()

    # When walking by last activity one at a time
    names: list[str | None] = []
    cursor: str | None = None
    while True:
        page = world.search.list_cases(after_cursor=cursor, limit=1, sort="last_activity")
        names += [c.child_name for c in page.cases]
        cursor = page.next_cursor
        if cursor is None:
            break

    # Then Ben comes first, the rest newest-created first (ties broken by position)
    assert names == ["Ben Jones", "AMELIA Brown", "Amy Smith"]


def test_pages_when_cursor_foreign_then_bad_cursor(world: World) -> None:
    with pytest.raises(BadCursor):
        world.search.list_cases(after_cursor="abc")
    with pytest.raises(BadCursor):
        world.search.list_cases(after_cursor="12", sort="last_activity")


def test_page_when_read_then_carries_model_position(world: World) -> None:
    page = world.search.list_cases()
    assert page.position == world.records.recorder.max_notification_id()
    assert page.case_ids == [c.case_id for c in page.cases]


def test_store_when_model_gains_a_table_then_log_applied_again_into_it(world: World) -> None:
    # Given a case list written before its partner-agencies table existed (dropped here)
    store = world.runner.store
    tables = store.tables(CaseList())
    listed = [c.case_id for c in world.search.list_cases(CaseFilters()).cases]
    with store.begin_write() as conn:
        tables.partner_agencies.drop(conn)

    # When the model is opened again, and its runner runs
    CaseSearch(store)
    restarted = store.current(CaseList.name)
    meanwhile = [c.case_id for c in world.search.list_cases(CaseFilters()).cases]
    world.sync()

    # Then it went back to the log's start, kept serving its rows meanwhile, and wrote the
    # new table's rows for every case
    assert restarted == 0
    assert meanwhile == listed
    with store.begin_read() as conn:
        shown = {row.case_id for row in conn.execute(select(tables.partner_agencies))}
    assert shown == {str(world.ids["amy"])}
    assert store.current(CaseList.name) == world.records.recorder.max_notification_id()
