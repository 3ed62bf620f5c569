"""`casetrail projections run | status | rebuild`, on the sub-app the main CLI mounts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import projections.cli
from projections.cli import app
from projections.registry import default_models
from projections.runner import Runner
from projections.store import ReadModelStore
from service.clock import SettableClock
from service.records import CaseRecords
from service.settings import Settings
from tests.projections.support import environment, open_case


def test_cli_when_run_once_status_and_rebuild_then_reports_progress(
    settings: Settings, clock: SettableClock
) -> None:
    # Given three cases in the log
    records = CaseRecords(settings, clock)
    for name in ("Amy", "Ben", "Cara"):
        open_case(records, name)
    newest = records.recorder.max_notification_id()
    records.close()
    cli, env = CliRunner(), environment(settings)

    # Then status shows every model never run, the whole log behind
    shown = cli.invoke(app, ["status", "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    before = json.loads(shown.stdout)
    assert [(s["name"], s["started"], s["lag"]) for s in before] == [
        ("cases", False, newest),
        ("alerts", False, newest),
    ]

    # When the runner catches up once, then status shows no lag
    ran = cli.invoke(app, ["run", "--once"], env=env)
    assert ran.exit_code == 0, ran.output
    after = json.loads(cli.invoke(app, ["status", "--json"], env=env).stdout)
    assert {(s["position"], s["lag"], s["running"]) for s in after} == {(newest, 0, False)}

    # And a rebuild swaps in the same position; the table form names the model
    rebuilt = cli.invoke(app, ["rebuild", "cases"], env=env)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert f"rebuilt at position {newest}" in rebuilt.output
    table = cli.invoke(app, ["status"], env=env)
    assert table.exit_code == 0 and "cases" in table.stdout


def test_cli_when_rebuild_unknown_model_then_usage_error(settings: Settings) -> None:
    result = CliRunner().invoke(app, ["rebuild", "nope"], env=environment(settings))
    assert result.exit_code == 2
    assert "no read model 'nope'" in result.output


@pytest.mark.parametrize(
    ("option", "setting", "polls"),
    [([], "0.2", 0.2), (["--poll-interval", "3"], "0.2", 3.0)],
    ids=["the setting", "the option over the setting"],
)
def test_cli_when_run_then_polls_at_the_configured_interval(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    option: list[str],
    setting: str,
    polls: float,
) -> None:
    # Given CASETRAIL_PROJECTION_POLL_SECONDS, and a runner that returns at once
    seen: list[float] = []

    def run_forever(self: Runner, stop: threading.Event, poll_interval: float, **_: Any) -> None:
        seen.append(poll_interval)

    monkeypatch.setattr(Runner, "run_forever", run_forever)
    # (in this process, the runner's JSON logging would replace the test run's own handlers)
    monkeypatch.setattr(projections.cli, "_log_as_serve", lambda settings: None)
    env = {**environment(settings), "CASETRAIL_PROJECTION_POLL_SECONDS": setting}
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    # When `projections run` starts
    try:
        result = CliRunner().invoke(app, ["run", *option], env=env)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)

    # Then its runner polls at the option's interval, or else the setting's
    assert result.exit_code == 0, result.output
    assert seen == [polls]


def test_cli_when_the_read_model_store_refuses_a_row_then_the_error_quotes_none_of_it(
    tmp_path: Path, clock: SettableClock
) -> None:
    # Given a named child's case in the log, and a read-model store that refuses every new row
    # of the case list (as a full disk would)
    settings = Settings(data_dir=tmp_path / "data")
    records = CaseRecords(settings, clock)
    open_case(records, "Amy Smith", "2016-03-14")
    records.close()
    store = ReadModelStore(settings)
    for model in default_models():
        store.ensure(model)
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse BEFORE INSERT ON casetrail_cases "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    store.close()

    # When the runner tries to catch up
    ran = CliRunner().invoke(app, ["run", "--once"], env=environment(settings))

    # Then it fails, and what it reports (the error and its traceback) names no child
    assert ran.exit_code == 1 and ran.exception is not None
    reported = ran.output + "".join(traceback.format_exception(ran.exception))
    assert "database or disk is full" in reported
    for personal in ("Amy", "amy smith", "2016-03-14"):
        assert personal not in reported, personal


def test_cli_when_run_on_its_own_then_its_log_is_json_lines(tmp_path: Path) -> None:
    # Given a store, and `projections run` started on its own (not by `casetrail serve`)
    settings = Settings(data_dir=tmp_path / "data")
    env = {**os.environ, **environment(settings), "CASETRAIL_PROJECTION_POLL_SECONDS": "0.2"}
    runner = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "projections", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    # When it has started, and is stopped as a service manager stops it
    assert runner.stderr is not None
    first = runner.stderr.readline()
    runner.send_signal(signal.SIGTERM)
    _, rest = runner.communicate(timeout=60)
    lines = [line for line in [first, *rest.splitlines()] if line.strip()]

    # Then every line it logged is a JSON object, as `casetrail serve`'s are, saying so
    logged = [json.loads(line) for line in lines]
    assert [entry["message"] for entry in logged][:1] == [
        "projection runner started (models: cases, alerts)"
    ]
    assert logged[-1]["message"] == "projection runner stopped"
    assert runner.returncode == 0
