"""One damaged row does not take the service down: it starts, the damaged case answers 503,
verification names the row, and every other case reads as before."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from uuid import UUID

from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.clock import SettableClock
from service.integrity import verify_case
from service.settings import Settings
from tests.support import event, open_case


def test_restart_when_newest_row_damaged_then_starts_and_that_case_answers_503(
    tmp_path: object, clock: SettableClock
) -> None:
    # Given two cases on SQLite, the newest row of the second damaged on disk
    settings = Settings(data_dir=tmp_path / "data")  # type: ignore[operator]
    app = create_app(settings, clock)
    with TestClient(app) as client:
        headers = {"Authorization": "Bearer " + app.state.tokens.mint(
            sub="a", name="A", agency="csc:barsetshire", roles=["practitioner"]
        )}  # fmt: skip
        healthy, _ = open_case(client, headers)
        damaged, _ = open_case(client, headers, event("CaseNoteRecorded"))
    with sqlite3.connect(settings.sqlite_path) as db:
        newest = "(SELECT MAX(rowid) FROM stored_events)"
        db.execute(f"UPDATE stored_events SET state = X'00' WHERE rowid = {newest}")

    # When the service restarts
    restarted = create_app(settings, clock)
    with TestClient(restarted) as client:
        # Then it starts; the damaged case answers a 503 problem and the other reads as before
        assert client.get(f"/cases/{healthy}", headers=headers).status_code == 200
        response = client.get(f"/cases/{damaged}", headers=headers)
        assert response.status_code == 503
        assert response.json()["type"] == "urn:casetrail:problem:store-unreadable"
        # And verification names the damaged version
        result = verify_case(restarted.state.records, UUID(damaged))
        assert (result.ok, result.first_bad_version) == (False, 2)


def _bearer(app: FastAPI, agency: str, role: str) -> dict[str, str]:
    jwt = app.state.tokens.mint(sub=role, name=role.title(), agency=agency, roles=[role])
    return {"Authorization": f"Bearer {jwt}"}


def _case_missing_a_row(
    settings: Settings, clock: SettableClock
) -> tuple[str, dict[str, str], dict[str, str], dict[str, str]]:
    """A Barsetshire case of three versions whose middle row was deleted on disk; the headers of
    a Barsetshire practitioner, and of a Wessex practitioner and integrator (who may not see it)."""
    app = create_app(settings, clock)
    with TestClient(app) as client:
        owner = _bearer(app, "csc:barsetshire", "practitioner")
        others = (
            _bearer(app, "csc:wessex", "practitioner"),
            _bearer(app, "csc:wessex", "integrator"),
        )
        damaged, _ = open_case(client, owner, event("CaseNoteRecorded"), event("CaseNoteRecorded"))
    with sqlite3.connect(settings.sqlite_path) as db:
        middle = "(SELECT MAX(rowid) - 1 FROM stored_events)"
        assert db.execute(f"DELETE FROM stored_events WHERE rowid = {middle}").rowcount == 1
    return damaged, owner, *others


def test_feed_when_another_authoritys_case_damaged_then_503_naming_no_case(
    tmp_path: Path, clock: SettableClock
) -> None:
    # Given a case of one authority whose middle row was deleted on disk, and another
    # authority's integrator reading the feed, which may not see that case
    settings = Settings(data_dir=tmp_path / "data")
    damaged, _, _, integrator = _case_missing_a_row(settings, clock)

    # When it reads the feed after a restart
    with TestClient(create_app(settings, clock)) as client:
        response = client.get("/feed", headers=integrator)

    # Then the feed says it cannot read the store, without naming the case it may not see
    assert response.status_code == 503
    assert response.json()["type"] == "urn:casetrail:problem:store-unreadable"
    assert damaged not in response.text


def test_damaged_case_when_a_caller_who_may_not_see_it_asks_then_404_as_for_any_case(
    tmp_path: Path, clock: SettableClock
) -> None:
    # Given a case of one authority whose middle row was deleted on disk
    settings = Settings(data_dir=tmp_path / "data")
    damaged, owner, other, _ = _case_missing_a_row(settings, clock)

    # When another authority, which may not see it, reads it or writes to it after a restart
    with TestClient(create_app(settings, clock)) as client:
        read = client.get(f"/cases/{damaged}", headers=other)
        write = client.post(
            f"/cases/{damaged}/events", json={"events": [event("CaseNoteRecorded")]}, headers=other
        )
        by_owner = client.get(f"/cases/{damaged}", headers=owner)

    # Then it is told there is no such case, as for any case it may not see; the owner is told
    # the store cannot be read
    assert (read.status_code, write.status_code) == (404, 404), (read.text, write.text)
    assert by_owner.status_code == 503
