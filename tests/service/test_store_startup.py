"""Processes opening one store together (`serve --workers N` and its runner start at once, and
restart at once): each opens it, on a fresh store and on one that exists."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from service.settings import Settings
from tests.projections.support import environment

OPEN_THE_LOG = (
    "from service.records import CaseRecords\n"
    "from service.settings import Settings\n"
    "CaseRecords(Settings()).close()\n"
)
PROCESSES = 4
ROUNDS = 3


def test_log_when_several_processes_open_it_together_then_each_opens_it(
    settings: Settings,
) -> None:
    # Given a store no process has opened yet, and the environment `serve` gives each process
    env = {**os.environ, **environment(settings), "PYTHONPATH": str(Path.cwd())}

    # When several processes open it at the same moment, three times over (the first time
    # creating its tables)
    failures = []
    for _ in range(ROUNDS):
        started = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_THE_LOG], env=env, stderr=subprocess.PIPE, text=True
            )
            for _ in range(PROCESSES)
        ]
        for process in started:
            _, errors = process.communicate(timeout=120)
            if process.returncode != 0:
                failures.append(errors.strip().splitlines()[-1])

    # Then every one of them opened it
    assert failures == []
