"""A store restored with read models newer than its log: the runner notices and rebuilds them.

Appends after a restore get the positions of the events the restore lost: on SQLite the log's
positions are rowids, and on PostgreSQL `pg_restore` sets the positions' sequence back to where
the dump found it. A model whose position the log no longer holds, or holds for another event,
must not be taken as current.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import select, text
from typer.testing import CliRunner

from projections.cli import app
from projections.registry import default_models, model_named
from projections.runner import Runner, status
from projections.store import READ_MODELS_FILE, TRACKING_TABLE, ReadModelStore
from service.cli import app as service_app
from service.clock import SettableClock
from service.readiness import SQLITE_LOG_TABLE, postgres_log_table
from service.records import CaseRecords
from service.settings import Settings
from tests.conftest import POSTGRES_URL
from tests.projections.support import dump, environment, open_case, worker
from tests.service.test_observability import scrape, value

LOG_FILE = "casetrail.db"


def backup(source: Path, target: Path) -> None:
    """SQLite's online backup, as the operations guide runs it (`.backup`)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def case_names(settings: Settings) -> set[str]:
    store = ReadModelStore(settings)
    try:
        cases = store.tables(model_named("cases")).cases
        with store.begin_read() as conn:
            return {str(name) for name in conn.execute(select(cases.c.child_name)).scalars()}
    finally:
        store.close()


def dumps(settings: Settings) -> dict[str, Any]:
    """Every read model's rows."""
    store = ReadModelStore(settings)
    try:
        return {model.name: dump(store, model) for model in default_models()}
    finally:
        store.close()


def cli(settings: Settings, *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env=environment(settings))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("appended_after_restore", [0, 2], ids=["no append", "two appends"])
def test_restore_when_read_models_backed_up_after_the_log_then_runner_rebuilds_them(
    tmp_path: Path,
    clock: SettableClock,
    caplog: pytest.LogCaptureFixture,
    appended_after_restore: int,
) -> None:
    # Given a running SQLite store: a case at positions 1-3, applied to the read models
    live = Settings(data_dir=tmp_path / "live")
    records = CaseRecords(live, clock)
    open_case(records, "Amy Smith", "2016-03-14", worker("Ann", "North"), worker("Bob", "North"))
    cli(live, "run", "--once")
    # And the log backed up, then a case at positions 4-5, applied, then the read models backed
    # up: the read models' copy is ahead of the log's
    backup(live.data_dir / LOG_FILE, tmp_path / "backup" / LOG_FILE)
    open_case(records, "Ben Jones", "2015-01-02", worker("Ann", "North"))
    assert records.recorder.max_notification_id() == 5
    cli(live, "run", "--once")
    backup(live.data_dir / READ_MODELS_FILE, tmp_path / "backup" / READ_MODELS_FILE)
    records.close()

    # When both are restored into a new data directory and (maybe) written to: on SQLite the
    # new events take the lost positions 4-5
    restored = Settings(data_dir=tmp_path / "restored")
    restored.data_dir.mkdir()
    for name in (LOG_FILE, READ_MODELS_FILE):
        (restored.data_dir / name).write_bytes((tmp_path / "backup" / name).read_bytes())
    records = CaseRecords(restored, clock)
    if appended_after_restore:
        open_case(records, "Cara Brown", "2017-05-06", worker("Ann", "North"))
    newest = records.recorder.max_notification_id()
    assert newest == 3 + appended_after_restore
    records.close()

    # Then status says each model diverged from the log, with the whole log to apply
    before = json.loads(cli(restored, "status", "--json"))
    assert {(s["position"], s["lag"], s["diverged"]) for s in before} == {(5, newest, True)}
    assert "diverged" in cli(restored, "status")

    # When the runner runs once
    with caplog.at_level(logging.ERROR, logger="casetrail.projections"):
        ran = cli(restored, "run", "--once")

    # Then it rebuilt every model from the log, saying so
    assert f"applied {newest * len(before)} events" in ran
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == len(before)
    assert all("does not match the log" in message for message in errors)
    after = json.loads(cli(restored, "status", "--json"))
    assert {(s["position"], s["lag"], s["diverged"]) for s in after} == {(newest, 0, False)}
    # And the read models hold the restored log's cases, not the lost one
    expected = {"Amy Smith", "Cara Brown"} if appended_after_restore else {"Amy Smith"}
    assert case_names(restored) == expected
    # And they are what a rebuild from the log gives
    applied = dumps(restored)
    cli(restored, "rebuild")
    assert dumps(restored) == applied
    # And the next run finds them current
    assert "applied 0 events" in cli(restored, "run", "--once")


def delete_log_after(settings: Settings, position: int) -> None:
    """The log as a restore of an older backup leaves it: every event after `position` gone,
    and the next append at `position + 1`."""
    if settings.is_postgres:
        table = sql.Identifier(settings.postgres_schema, postgres_log_table(CaseRecords.name))
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE notification_id > %s").format(table), (position,)
            )
            name = table.as_string(conn)
            conn.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), %s)", (name, position)
            )
        return
    with closing(sqlite3.connect(settings.sqlite_path)) as conn, conn:
        conn.execute(f"DELETE FROM {SQLITE_LOG_TABLE} WHERE rowid > ?", (position,))


def models_ahead_of_a_restored_log(settings: Settings, clock: SettableClock) -> tuple[int, int]:
    """Two cases opened and applied to every read model, then the log restored to before the
    second: (the restored log's newest position, the models' position)."""
    records = CaseRecords(settings, clock)
    open_case(records, "Amy Smith")
    kept = records.recorder.max_notification_id()
    open_case(records, "Ben Jones")
    with Runner(settings, records, default_models()) as runner:
        runner.run_once()
    stale = records.recorder.max_notification_id()
    records.close()
    delete_log_after(settings, kept)
    return kept, stale


def test_runner_when_log_lost_the_models_position_then_cleared_and_equal_to_rebuild(
    settings: Settings, clock: SettableClock
) -> None:
    # Given read models applied up to a case the log then loses (restored to before it)
    records = CaseRecords(settings, clock)
    open_case(records, "Amy Smith", "2016-03-14", worker("Ann", "North"))
    kept = records.recorder.max_notification_id()
    open_case(records, "Ben Jones", "2015-01-02", worker("Ann", "North"), worker("Bob", "South"))
    with Runner(settings, records, default_models()) as runner:
        runner.run_once()
    stale = records.recorder.max_notification_id()
    records.close()
    delete_log_after(settings, kept)
    # And, after the restore, appends that take the log's newest position past the models'
    records = CaseRecords(settings, clock)
    open_case(records, "Cara Brown", "2017-05-06", worker("Ann", "North"))
    open_case(records, "Dan Green", "2014-07-08", worker("Ann", "North"))
    newest = records.recorder.max_notification_id()
    assert newest == kept + 4 > stale  # the lost positions given to the new events

    # Then the status (as /ready and /metrics read it) says so, with the whole log as lag
    names = [model.name for model in default_models()]
    report = status(settings, records, names, probe_locks=False)
    assert {(s.position, s.lag, s.diverged) for s in report} == {(stale, newest, True)}

    # When the runner runs
    with Runner(settings, records, default_models()) as runner:
        runner.run_once()
        # Then every model is current again, on the log as it now is
        assert {(s.position, s.lag, s.diverged) for s in runner.status()} == {(newest, 0, False)}
    assert case_names(settings) == {"Amy Smith", "Cara Brown", "Dan Green"}
    applied = dumps(settings)
    for model in default_models():
        cli(settings, "rebuild", model.name)
    assert dumps(settings) == applied
    records.close()


def test_alerts_refresh_when_the_model_diverged_then_refused_until_rebuilt(
    settings: Settings, clock: SettableClock
) -> None:
    # Given read models ahead of a log restored to before their newest case
    models_ahead_of_a_restored_log(settings, clock)
    before = dumps(settings)

    # When `casetrail alerts refresh` runs
    refused = CliRunner().invoke(service_app, ["alerts", "refresh"], env=environment(settings))

    # Then it refuses, says how to rebuild, and leaves the rows alone
    assert refused.exit_code == 1, refused.output
    assert "does not match the log" in refused.output
    assert "casetrail projections run --once" in refused.output
    assert dumps(settings) == before

    # And once the runner has rebuilt the model, it refreshes
    cli(settings, "run", "--once")
    refreshed = CliRunner().invoke(service_app, ["alerts", "refresh"], env=environment(settings))
    assert refreshed.exit_code == 0, refreshed.output


def test_ready_and_metrics_when_a_model_diverged_then_report_it_and_stay_ready(
    settings: Settings, clock: SettableClock, start_app: Any
) -> None:
    # Given read models ahead of a log restored to before their newest case
    kept, stale = models_ahead_of_a_restored_log(settings, clock)

    # When /ready and /metrics are asked, with no runner in the service to repair them yet
    client = start_app(projections_in_process=False)
    ready = client.get("/ready")
    samples = scrape(client)

    # Then it is ready, and each model is reported diverged, the whole log to apply again
    assert ready.status_code == 200
    projections = ready.json()["projections"]
    assert {(p["position"], p["lag"], p["diverged"]) for p in projections} == {(stale, kept, True)}
    for model in ("cases", "alerts"):
        assert value(samples, "casetrail_projection_diverged", model=model) == 1
        assert value(samples, "casetrail_projection_lag", model=model) == kept


def test_store_when_tracking_row_kept_no_fingerprint_then_column_added_and_runner_continues(
    settings: Settings, clock: SettableClock
) -> None:
    # Given read models applied by a version that kept no fingerprint with the position
    records = CaseRecords(settings, clock)
    open_case(records, "Amy Smith")
    with Runner(settings, records, default_models()) as runner:
        runner.run_once()
    position = records.recorder.max_notification_id()
    store = ReadModelStore(settings)
    table = store.qualified(TRACKING_TABLE)
    with store.begin_write() as conn:
        conn.execute(text(f"ALTER TABLE {table} DROP COLUMN fingerprint"))
    store.close()

    # When the store is opened again and a case is added
    open_case(records, "Ben Jones")
    with Runner(settings, records, default_models()) as runner:
        # Then the position is taken as it is (the log holds an event there), not rebuilt:
        # only the new case's event is applied, and the position now has its fingerprint
        assert {(s.position, s.diverged) for s in runner.status()} == {(position, False)}
        assert runner.run_once() == len(runner.models)
        newest = records.recorder.max_notification_id()
        assert {(s.position, s.lag, s.diverged) for s in runner.status()} == {(newest, 0, False)}
        assert all(runner.verified(name).fingerprint for name in runner.models)
    assert case_names(settings) == {"Amy Smith", "Ben Jones"}
    records.close()


def test_min_position_when_the_model_diverged_then_not_taken_as_reached(
    settings: Settings, clock: SettableClock, start_app: Any
) -> None:
    # Given read models ahead of a log restored to before their newest case, and a case opened
    # on the restored log (on SQLite at the position the lost case had held)
    models_ahead_of_a_restored_log(settings, clock)
    records = CaseRecords(settings, clock)
    open_case(records, "Cara Lane")
    written = records.recorder.max_notification_id()

    # When the case list is asked to include that write, with no runner in the service yet
    client = start_app(projections_in_process=False, projection_wait_seconds=0.2)
    tokens = client.app.state.tokens  # type: ignore[attr-defined]
    jwt = tokens.mint(sub="m", name="Mo Manager", agency="csc:barsetshire", roles=["manager"])
    headers = {"Authorization": f"Bearer {jwt}", "X-Min-Position": str(written)}
    behind = client.get("/cases", headers=headers)

    # Then the model, whose position is as far but not of this log, has not reached it: a 503
    # to retry, not a list holding the lost case and missing the new one
    assert behind.status_code == 503, behind.text
    assert behind.json()["type"] == "urn:casetrail:problem:projection-behind"
    assert "does not match the log" in behind.json()["detail"]
    assert int(behind.headers["Retry-After"]) > 0

    # And once the runner has applied the log again, the write is listed
    with Runner(settings, records, default_models()) as runner:
        runner.run_once()
    records.close()
    listed = client.get("/cases", headers=headers)
    assert listed.status_code == 200, listed.text
    assert {c["child_name"] for c in listed.json()["cases"]} == {"Amy Smith", "Cara Lane"}
