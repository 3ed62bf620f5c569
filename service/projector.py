"""The read models' runner of `casetrail serve`, in a process of its own beside the workers.

A runner thread inside a worker shares the worker's Python interpreter with the requests: while
it applies events, requests wait for it. In a process of its own it works on another core, and
the requests never wait for it. `serve` starts `casetrail projections run --parent PID` before
its workers, starts it again if it fails while `serve` runs (after a pause that grows while it
keeps failing), and stops it (SIGTERM: it finishes the page in hand) when `serve` stops. The
runner watches its parent: if `serve` is killed outright, it stops within a second. It runs at
a lower CPU priority than the workers, so on a machine short of cores the requests come first
and the read models lag a little more instead.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

logger = logging.getLogger("casetrail.projections")

FIRST_PAUSE_SECONDS = 1.0
LONGEST_PAUSE_SECONDS = 30.0
# A runner that ran this long before exiting was not failing at start: the pause starts over.
SETTLED_SECONDS = 60.0
STOP_SECONDS = 15.0
# How a runner ends when told to stop: cleanly on SIGTERM or SIGINT once it handles them, or by
# the signal itself before it does.
TOLD_TO_STOP = frozenset({0, -signal.SIGTERM, -signal.SIGINT})


def runner_command(parent: int) -> list[str]:
    return [sys.executable, "-m", "service.cli", "projections", "run", "--parent", str(parent)]


class Projector:
    """Keeps one runner process alive from `start` to `stop`."""

    def __init__(self) -> None:
        self.command = runner_command(os.getpid())
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._started = 0.0
        self._supervisor = threading.Thread(
            target=self._supervise, name="casetrail-projector", daemon=True
        )

    def start(self) -> None:
        self._spawn()
        self._supervisor.start()

    def _spawn(self) -> None:
        with self._lock:
            if not self._stopping.is_set():
                # A session of its own: a terminal's Ctrl-C reaches `serve`, which stops it.
                self._process = subprocess.Popen(self.command, start_new_session=True)
                self._started = time.monotonic()

    def _supervise(self) -> None:
        pause = FIRST_PAUSE_SECONDS
        while True:
            process = self._process
            assert process is not None
            code = process.wait()
            if self._stopping.is_set():
                return
            if code in TOLD_TO_STOP:  # by someone else: so be it
                logger.info("the projection runner was stopped")
                return
            if time.monotonic() - self._started >= SETTLED_SECONDS:
                pause = FIRST_PAUSE_SECONDS
            logger.warning(
                "the projection runner exited (code %s); starting it again in %.0f s", code, pause
            )
            if self._stopping.wait(pause):
                return
            pause = min(pause * 2, LONGEST_PAUSE_SECONDS)
            try:
                self._spawn()
            except OSError:
                logger.exception("the projection runner could not be started")

    def stop(self) -> None:
        """Stop the runner: SIGTERM, then SIGKILL if it has not stopped within a while."""
        with self._lock:
            self._stopping.set()
            process = self._process
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
