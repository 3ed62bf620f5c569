"""The demo case: every view has something to show, and loading it again stores nothing new."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from domain.catalogue import Significance
from domain.moments import parse_bound
from service.api.app import create_app
from service.clock import SettableClock
from service.demo import event_id, load_demo
from service.records import CaseRecords
from service.settings import Settings

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("demo") / "data")


@pytest.fixture(scope="module")
def case_id(demo_settings: Settings) -> UUID:
    return load_demo(demo_settings)


@pytest.fixture(scope="module")
def records(demo_settings: Settings, case_id: UUID) -> Iterator[CaseRecords]:
    reader = CaseRecords(demo_settings, SettableClock(NOW))
    yield reader
    reader.close()


def test_state_has_two_closed_episodes(records: CaseRecords, case_id: UUID) -> None:
    state = records.case_state(case_id)
    assert state.status == "closed"
    assert len(state.episodes) >= 2
    assert all(e.closed_at and e.closure_reason for e in state.episodes)
    assert state.child["name"] == "Mia Tallowfield"
    assert {i.scheme for i in state.identifiers} == {"nhs_number", "upn"}
    assert state.plan == "early_help"  # stepped down when the second episode closed
    assert state.open_concerns, "the bruise noted in supervision was never followed up"
    involved = {a.agency: a for a in state.involved_agencies}
    assert involved["vcs:barchester-family-support"].lead_contact
    assert involved["health:barsetshire-community-health"].lead_contact


@pytest.mark.parametrize(
    ("as_of", "status", "plan"),
    [
        ("2009-08-01", "contact", "none"),  # the pre-birth contact went to early help
        ("2013-06-01", "open", "child_in_need"),
        ("2014-03-01", "closed", "none"),
        ("2014-07-15", "open", "child_protection"),
        ("2015-01-15", "open", "looked_after"),
        ("2015-05-01", "open", "child_in_need"),
    ],
)
def test_plan_history(
    records: CaseRecords, case_id: UUID, as_of: str, status: str, plan: str
) -> None:
    state = records.case_state(case_id, as_of=parse_bound(as_of))
    assert (state.status, state.plan) == (status, plan)


def test_mid_child_protection_plan(records: CaseRecords, case_id: UUID) -> None:
    state = records.case_state(case_id, as_of=parse_bound("2014-07-15"))
    assert state.status == "open"
    assert state.plan == "child_protection"
    assert state.plans[0].category == "physical"
    assert state.allocated_worker == "Tom Hale"


def test_looked_after_placement_changed(records: CaseRecords, case_id: UUID) -> None:
    state = records.case_state(case_id, as_of=parse_bound("2015-01-15"))
    assert state.plans[0].placement is not None
    assert "Linda Tallowfield" in state.plans[0].placement["provider"]


def test_chronology_shows_record_keeping(records: CaseRecords, case_id: UUID) -> None:
    entries = records.chronology(case_id, min_significance=Significance.ROUTINE).entries
    assert any(e.corrections for e in entries)
    assert any(e.annotations for e in entries)
    assessed = [e for e in entries if e.significance_assessment]
    assert assessed and assessed[0].significance == "significant"
    assert assessed[0].type == "CaseNoteRecorded"
    assert any((e.late_by_days or 0) > 10 for e in entries), "a back-dated entry"
    assert any(e.date.startswith("?") for e in entries), "an approximate date"
    for kind in ("ConcernObserved", "ContactReceived", "MeetingHeld"):
        assert any(e.type == kind and e.action for e in entries), kind
    # The significant-only default still carries the story.
    default = records.chronology(case_id).entries
    assert 0 < len(default) < len(entries)
    assert any(e.type == "CaseNoteRecorded" for e in default), "raised to significant"


def test_meetings_minuted_circulated_or_not(records: CaseRecords, case_id: UUID) -> None:
    entries = records.chronology(case_id, types=["MeetingHeld"]).entries
    reviews = [e for e in entries if e.headline.startswith("Child in need review")]
    actions = [e.action or "" for e in reviews[:3]]
    assert "school:st-aldhelms-primary" in actions[0]
    assert "Minuted" in actions[1] and "school:st-aldhelms-primary" not in actions[1]
    assert "Minuted" not in actions[2]


def test_retracted_entry_is_absent(records: CaseRecords, case_id: UUID) -> None:
    events = records.raw_events(case_id, limit=1000).events
    retractions = [e for e in events if e.type == "EntryRetracted"]
    assert len(retractions) == 1
    target = str(retractions[0].data["target_event_id"])
    assert target in {e.id for e in events}
    shown = records.chronology(case_id, min_significance=Significance.ROUTINE).entries
    assert target not in {e.event_id for e in shown}
    # ...but it was there before it was retracted.
    written_at = next(e.recorded_at for e in events if e.id == target)
    before = records.chronology(
        case_id, min_significance=Significance.ROUTINE, known_at=written_at
    ).entries
    assert target in {e.event_id for e in before}


def test_raw_events_envelopes(records: CaseRecords, case_id: UUID) -> None:
    events = records.raw_events(case_id, limit=1000).events
    assert any(e.sensitivity == "restricted" for e in events)
    system = [e for e in events if "system" in e.recorded_by["roles"]]
    assert system and all(e.author and e.source for e in system)
    for e in events:
        assert e.occurred.instant < e.recorded_at < NOW, e.type
    recorded = [e.recorded_at for e in events]
    assert recorded == sorted(recorded)


def test_known_at_before_the_correction(records: CaseRecords, case_id: UUID) -> None:
    concern = event_id("school-bruising")

    def entry(known_at: datetime | None) -> tuple[str, int]:
        entries = records.chronology(case_id, known_at=known_at).entries
        found = next(e for e in entries if e.event_id == concern)
        return found.occurred_at, len(found.corrections)

    assert entry(parse_bound("2018-12-31")) == ("2014-05-12", 0)
    assert entry(None) == ("2014-05-09", 1)


def test_loading_twice_stores_nothing_new(
    records: CaseRecords, demo_settings: Settings, case_id: UUID
) -> None:
    version = records.current_version(case_id)
    position = records.recorder.max_notification_id()
    assert load_demo(demo_settings) == case_id
    assert records.current_version(case_id) == version
    assert records.recorder.max_notification_id() == position


def test_http_views(demo_settings: Settings, case_id: UUID) -> None:
    with TestClient(create_app(demo_settings, SettableClock(NOW))) as client:
        jwt = client.app.state.tokens.mint(  # type: ignore[attr-defined]
            sub="ann.worker", name="Ann Worker", agency="csc:barsetshire", roles=["practitioner"]
        )
        headers = {"Authorization": f"Bearer {jwt}"}
        state = client.get(f"/cases/{case_id}", headers=headers)
        assert state.status_code == 200, state.text
        assert state.json()["status"] == "closed"
        csv = client.get(
            f"/cases/{case_id}/chronology",
            params={"format": "csv", "min_significance": "routine"},
            headers=headers,
        )
        assert csv.status_code == 200, csv.text
        assert "Bruising reported" in csv.text


def test_cli_demo(tmp_path: Path, case_id: UUID) -> None:
    env = {**os.environ, "CASETRAIL_DATA_DIR": str(tmp_path / "data")}
    env.pop("CASETRAIL_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "demo"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert str(case_id) in done.stdout
