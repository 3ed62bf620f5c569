"""The reliability harness: every test here is marked `reliability` (`make reliability` selects
them with `-m reliability`); their figures are printed at the end of the run, and the full run
(`CASETRAIL_RELIABILITY=full`) writes them to tests/reliability/results.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.harness import FULL, RESULTS, RESULTS_FILE

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.reliability)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int) -> None:
    if not RESULTS.sections:
        return
    terminalreporter.section("reliability figures")
    for section, rows in RESULTS.sections.items():
        terminalreporter.write_line(section)
        for row in rows:
            terminalreporter.write_line(f"  {row}")
    if FULL:
        outcome = "every test passed" if exitstatus == 0 else f"pytest exit status {exitstatus}"
        RESULTS_FILE.write_text(RESULTS.markdown(outcome))
        terminalreporter.write_line(f"written to {RESULTS_FILE}")
