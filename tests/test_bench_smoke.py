"""The benchmark suite runs end to end and reports every measure (`python -m bench --quick`).

Figures are never checked: only that the run completes and its table has every row.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.server import ServiceError, running_service

REPO = Path(__file__).resolve().parent.parent

# 1: one-event appends to small cases; 2: 100-event appends; 3: one-event appends to a long case
# (3c: the first after a restart); 4: warm and cold reads of state and chronology for a
# 1,000-event case and a long case; 5: warm chronology reads audited vs without the audit write;
# 6: a rebuild of every read model and 7: paging GET /feed, each vs the raw log read; 8: warm
# GET alerts of the cases row 4 reads vs GET state; 9: the alerts refresh vs the raw log read.
MEASURE_IDS = (
    *("1a", "1b", "1c", "2", "2b", "3a", "3b", "3c"),
    *(f"4{c}" for c in "abcdefgh"),
    *("5", "6a", "6b", "6", "7", "8a", "8b", "8c", "8d", "9"),
    *(f"10{c}" for c in "abcdef"),
)


def _clean_env() -> dict[str, str]:
    """This environment without CASETRAIL_* settings, which would leak into the service."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CASETRAIL_")}


def _bench(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """`python -m ARGS` from the repository, in a clean environment."""
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _checkout_copy(path: Path) -> Path:
    """A second checkout of the service's code (what its server imports) at `path`."""
    for tree in ("domain", "projections", "service"):
        shutil.copytree(REPO / tree, path / tree)
    return path


@pytest.mark.slow
def test_bench_quick_run_when_sqlite_only_then_table_has_every_measure(tmp_path: Path) -> None:
    # Given a clean environment (no CASETRAIL_* settings leaking into the service)
    # When the quick benchmark runs on SQLite only
    result = _bench("bench", "--quick", "--no-postgres", "--out", str(tmp_path), timeout=600)

    # Then it succeeds, prints the table and writes both result files with every measure's row
    assert result.returncode == 0, result.stderr[-3000:]
    markdown = (tmp_path / "results.md").read_text()
    assert markdown.strip() in result.stdout
    for text in (result.stdout, markdown):
        rows = [line for line in text.splitlines() if line.startswith("| ") and "sqlite" in line]
        assert sorted(line.split(" | ")[0].removeprefix("| ") for line in rows) == sorted(
            MEASURE_IDS
        )
    assert "PostgreSQL: skipped" in markdown
    # Row 5 reports reads/s on both sides and a verdict against "audited ≥ 0.5x unaudited reads/s"
    audited = next(line for line in markdown.splitlines() if line.startswith("| 5 | sqlite |"))
    assert audited.count(" reads/s |") == 2
    assert "PASS (" in audited or "MISS (" in audited
    assert "sqlite: the audit write alone" in markdown
    # Rows 6a, 6b (each read model's rebuild) and 7 report events/s on both sides and a verdict
    # against "≥ 20,000 events/s"; row 6 (every model in turn) has none
    for id_ in ("6a", "6b", "7"):
        line = next(
            line for line in markdown.splitlines() if line.startswith(f"| {id_} | sqlite |")
        )
        assert "PASS (≥20,000 events/s)" in line or "MISS (≥20,000 events/s)" in line
    # The append rows have their verdicts: 1a and 2 against the library's rate, 3a its ratio
    for id_ in ("1a", "2", "3a"):
        line = next(
            line for line in markdown.splitlines() if line.startswith(f"| {id_} | sqlite |")
        )
        assert "PASS (" in line or "MISS (" in line
    # Row 8a has a verdict against "alerts under 50 ms median" (the 1,000-event case), 8b none
    lines = {line.split(" | ")[0].removeprefix("| "): line for line in markdown.splitlines()}
    assert "PASS (<50 ms)" in lines["8a"] or "MISS (<50 ms)" in lines["8a"]
    assert lines["8b"].endswith("|  |")
    # Row 9 reports cases/s (the refresh) beside events/s (the raw log read)
    assert lines["9"].count(" cases/s |") == 1
    assert "sqlite: row 9's store" in markdown
    report = json.loads((tmp_path / "results.json").read_text())
    assert sorted(row["id"] for row in report["rows"]) == sorted(MEASURE_IDS)
    (row_5,) = (row for row in report["rows"] if row["id"] == "5")
    assert row_5["unit"] == "reads"
    assert row_5["rate_floor"] == 0.5
    assert row_5["rate_ratio"] > 0
    for row in report["rows"]:
        if row["id"] in ("6a", "6b", "6", "7"):
            assert row["min_rate"] == (None if row["id"] == "6" else 20_000)
            assert row["service"]["per_second"] > 0
            assert row["baseline"]["per_second"] > 0
            assert row["service"]["units"] == row["baseline"]["units"] >= 200  # the whole log
        if row["id"] in ("8a", "8b"):
            assert row["service"]["n"] == row["baseline"]["n"] > 0
        if row["id"] == "9":
            assert (row["unit"], row["baseline_unit"]) == ("cases", "events")
            assert row["service"]["units"] == 200  # every case of the quick run, re-evaluated
            assert row["baseline"]["units"] == 400  # CaseOpened + ContactReceived per case
    (row_8a,) = (row for row in report["rows"] if row["id"] == "8a")
    assert row_8a["target_ms"] == 50
    machine = set(report["machine"])
    assert {"CPU", "cores", "Python", "eventsourcing", "FastAPI", "SQLite", "date"} <= machine


@pytest.mark.slow
def test_bench_compare_when_two_checkouts_then_each_run_and_mean_reported(tmp_path: Path) -> None:
    # Given a second checkout of the same code
    other = _checkout_copy(tmp_path / "other")

    # When row 2 of both is compared, one run each of two 100-event appends
    result = _bench("bench.compare", str(other), "--runs", "1", "--batches", "2", timeout=300)

    # Then each build's run and its mean are reported
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:2]] == ["run 1, this", "run 1, other"]
    assert f"this ({REPO}): mean " in result.stdout
    assert f"other ({other}): mean " in result.stdout
    assert lines[-1].startswith("other / this: ")


def test_bench_server_when_checkout_given_then_its_code_serves(tmp_path: Path) -> None:
    # Given a checkout whose CLI cannot start a server
    broken = _checkout_copy(tmp_path / "broken")
    (broken / "service" / "cli.py").write_text('raise SystemExit("this checkout is broken")\n')
    env = {**_clean_env(), "CASETRAIL_DATA_DIR": str(tmp_path / "data")}
    log = tmp_path / "server.log"

    # When the benchmark starts its server from that checkout
    with (
        pytest.raises(ServiceError) as refused,
        running_service(env, log, "token", checkout=broken),
    ):
        pass

    # Then that checkout's code is what ran
    assert "this checkout is broken" in str(refused.value)
