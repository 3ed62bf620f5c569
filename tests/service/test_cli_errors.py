"""The `casetrail` command refuses what it cannot work with in one clear line, not a traceback:
a setting it cannot use, and a store it cannot read with the key it was given.

Each command runs in a fresh process, as an operator runs it (`python -m service.cli`), with
its settings in the environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from eventsourcing.cryptography import AESCipher
from pydantic import SecretStr

from service.records import CaseRecords
from service.settings import Settings
from tests.projections.support import environment, open_case

ROOT = Path(__file__).resolve().parents[2]


def casetrail(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`casetrail ARGS` in a fresh process with exactly these CASETRAIL_ settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CASETRAIL_")}
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


URL = "mysql://casetrail:hunter2@db.internal/casetrail"
URL_SAID = "CASETRAIL_DATABASE_URL must be sqlite:///PATH or postgresql://"


@pytest.mark.parametrize(
    ("command", "setting", "value", "said"),
    [
        (["verify"], "CASETRAIL_DATABASE_URL", URL, URL_SAID),
        (["serve", "--port", "1"], "CASETRAIL_DATABASE_URL", URL, URL_SAID),
        (["projections", "status"], "CASETRAIL_DATABASE_URL", URL, URL_SAID),
        (
            ["seal"],
            "CASETRAIL_ENCRYPTION_KEY",
            "hunter2",
            "CASETRAIL_ENCRYPTION_KEY is not valid base64",
        ),
        (
            ["alerts", "refresh"],
            "CASETRAIL_RATE_LIMIT_BURST",
            "hunter2",
            "CASETRAIL_RATE_LIMIT_BURST: ",
        ),
        (
            ["verify"],
            "CASETRAIL_RULE_TIMESCALES",
            "{hunter2",
            "CASETRAIL_RULE_TIMESCALES is not valid JSON",
        ),
        (
            ["verify"],
            "CASETRAIL_RULE_TIMESCALES",
            '{"cp_visit_overdue_working_days": 0}',
            "CASETRAIL_RULE_TIMESCALES: cp_visit_overdue_working_days: Input should be greater "
            "than or equal to 1",
        ),
        (
            ["token", "--sub", "ann", "--agency", "csc:barsetshire", "--role", "practitioner"],
            "CASETRAIL_JWT_SECRET",
            "hunter2",
            "CASETRAIL_JWT_SECRET is 7 bytes long, but an HS256 secret is at least 32",
        ),
    ],
    ids=[
        "verify: url",
        "serve: url",
        "projections status: url",
        "seal: key",
        "alerts: number",
        "verify: timescales",
        "verify: a timescale of the map",
        "token: short secret",
    ],
)
def test_cli_when_a_setting_is_refused_then_one_line_naming_it_and_exit_1(
    tmp_path: Path, command: list[str], setting: str, value: str, said: str
) -> None:
    # Given a setting the command cannot use
    env = {"CASETRAIL_DATA_DIR": str(tmp_path / "data"), setting: value}

    # When a command runs with it
    run = casetrail(env, *command)

    # Then it stops with exit 1 and says which setting is wrong, without a traceback and
    # without repeating the value (a URL's password, a key)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"casetrail: {said}" in run.stderr
    assert "Traceback" not in run.stderr
    assert "hunter2" not in run.stdout + run.stderr
    # And nothing was created
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("CASETRAIL_MAX_PAGE", "0"),
        ("CASETRAIL_MAX_BATCH_EVENTS", "0"),
        ("CASETRAIL_MAX_BODY_BYTES", "-1"),
        ("CASETRAIL_AGGREGATE_CACHE_SIZE", "0"),
        ("CASETRAIL_EVENT_CACHE_SIZE", "-1"),
        ("CASETRAIL_SNAPSHOT_INTERVAL", "-200"),
        ("CASETRAIL_POSTGRES_POOL_SIZE", "0"),
        ("CASETRAIL_POSTGRES_MAX_OVERFLOW", "-1"),
        ("CASETRAIL_JWT_LEEWAY_SECONDS", "-30"),
        ("CASETRAIL_CLOCK_SKEW_SECONDS", "-300"),
        ("CASETRAIL_APPEND_RETRY_SECONDS", "-2"),
    ],
)
def test_cli_when_a_number_is_out_of_its_range_then_one_line_naming_it_and_exit_1(
    tmp_path: Path, setting: str, value: str
) -> None:
    # Given a number no service can work with (every page empty, every write refused, an
    # unbounded cache or pool, every token refused as expired)
    env = {"CASETRAIL_DATA_DIR": str(tmp_path / "data"), setting: value}

    # When a command starts with it
    run = casetrail(env, "verify")

    # Then it stops at once, naming the setting, rather than running with it
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"casetrail: {setting}: Input should be greater than" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    ("command", "reader"),
    [
        (["demo"], "another key"),
        (["serve", "--port", "1"], "no key"),
        (["projections", "status"], "another key"),
        (["projections", "rebuild"], "no key"),
        (["projections", "run", "--once"], "another key"),
        (["alerts", "refresh"], "no key"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else value,
)
def test_cli_when_the_store_is_encrypted_with_another_key_then_says_which_setting(
    settings: Settings, command: list[str], reader: str
) -> None:
    # Given a store whose events are encrypted
    written_with = AESCipher.create_key(32)
    records = CaseRecords(settings.model_copy(update={"encryption_key": SecretStr(written_with)}))
    open_case(records)
    records.close()
    other = AESCipher.create_key(32) if reader == "another key" else ""

    # When a command runs with another key, or none
    run = casetrail({**environment(settings), "CASETRAIL_ENCRYPTION_KEY": other}, *command)

    # Then it refuses in one line naming the setting to check, without a traceback
    assert run.returncode == 1, run.stdout + run.stderr
    assert "cannot be read with this configuration: check CASETRAIL_ENCRYPTION_KEY" in run.stderr
    assert "Traceback" not in run.stderr
    assert written_with not in run.stderr


@pytest.mark.parametrize("command", [["projections", "status"], ["alerts", "refresh"], ["verify"]])
def test_cli_when_postgres_cannot_be_reached_then_says_so_not_that_no_store_is_there(
    tmp_path: Path, command: list[str]
) -> None:
    # Given a PostgreSQL URL where no server answers
    env = {
        "CASETRAIL_DATA_DIR": str(tmp_path / "data"),
        "CASETRAIL_DATABASE_URL": "postgresql://casetrail:hunter2@127.0.0.1:1/casetrail",
        "CASETRAIL_POSTGRES_CONNECT_TIMEOUT": "1",
    }

    # When a command that reads the store runs
    run = casetrail(env, *command)

    # Then it says the database cannot be reached (not that no store is there), in one line
    assert run.returncode == 1, run.stdout + run.stderr
    assert "cannot reach the PostgreSQL database" in run.stderr
    assert "no Casetrail store" not in run.stderr
    assert "Traceback" not in run.stderr
    assert "hunter2" not in run.stdout + run.stderr


@pytest.mark.parametrize("workers", ["0", "-2"])
def test_serve_when_workers_not_a_positive_number_then_refused_before_starting(
    tmp_path: Path, workers: str
) -> None:
    # When serve is asked for no workers at all
    run = casetrail(
        {"CASETRAIL_DATA_DIR": str(tmp_path / "data")}, "serve", "--port", "1", "--workers", workers
    )

    # Then it says so and starts nothing (rather than quietly running one)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "--workers" in run.stderr
    assert not (tmp_path / "data").exists()
