"""`casetrail serve` runs the read models' runner in a process of its own: started with it, started
again if it exits, stopped with it, and gone within seconds when `serve` is killed outright."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from service.settings import Settings
from tests.reliability.harness import Server, mint
from tests.support import event


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its closing bracket
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            children.append(int(entry.name))
    return children


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _command(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def _eventually(check: Callable[[], bool], seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def _runner_of(server: Server) -> int:
    assert server.process is not None
    serving = server.process.pid
    assert _eventually(lambda: len(_children(serving)) == 1)
    (runner,) = _children(serving)
    assert _command(runner)[-4:] == ["projections", "run", "--parent", str(serving)]
    return runner


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[Server]:
    server = Server(settings, tmp_path / "serve.log")
    server.start()
    yield server
    server.stop()


def test_serve_when_started_then_its_runner_process_keeps_the_read_models_current(
    settings: Settings, server: Server
) -> None:
    # Given `casetrail serve`, and its runner process
    runner = _runner_of(server)

    # When a case is opened
    with server.client(mint(settings)) as client:
        response = client.post("/cases", json={"events": [event("CaseOpened")]})
        assert response.status_code == 201, response.text

        # Then the read models catch up with the log, and the case is listed
        def current() -> bool:
            return all(p["lag"] == 0 for p in client.get("/ready").json()["projections"])

        assert _eventually(current), server.tail()
        listed = client.get("/cases")
        assert listed.status_code == 200
        assert response.json()["case_id"] in listed.text
    assert _alive(runner)


@pytest.mark.parametrize("store", ["sqlite"])
def test_serve_when_its_runner_is_told_to_stop_then_left_stopped(server: Server) -> None:
    # Given `casetrail serve` and its runner process, in a session of its own
    runner = _runner_of(server)
    assert server.process is not None
    assert os.getsid(runner) != os.getsid(server.process.pid)

    # When someone else stops the runner (SIGTERM: it finishes its page and exits cleanly)
    os.kill(runner, signal.SIGTERM)

    # Then it is not started again, and `serve` goes on answering
    assert _eventually(lambda: not _alive(runner))
    time.sleep(2.5)  # (past the first pause before a failed runner is started again)
    assert [p for p in _children(server.process.pid) if _alive(p)] == []
    assert httpx.get(f"{server.base_url}/health").status_code == 200


@pytest.mark.parametrize("store", ["sqlite"])
def test_serve_when_its_runner_fails_then_started_again(server: Server) -> None:
    # Given `casetrail serve` and its runner process
    first = _runner_of(server)

    # When the runner is killed (as a crash would end it)
    os.kill(first, signal.SIGKILL)

    # Then `serve` starts another
    assert server.process is not None
    serving = server.process.pid
    assert _eventually(lambda: [p for p in _children(serving) if _alive(p)] not in ([], [first]))
    assert _alive(_runner_of(server))


@pytest.mark.parametrize("store", ["sqlite"])
@pytest.mark.parametrize("how", ["stopped", "killed"])
def test_serve_when_stopped_or_killed_then_its_runner_stops(server: Server, how: str) -> None:
    # Given `casetrail serve` and its runner process
    runner = _runner_of(server)

    # When `serve` stops (SIGTERM), or is killed outright (SIGKILL)
    server.stop() if how == "stopped" else server.kill()

    # Then the runner process is gone: before `serve` exits, or within seconds after it
    if how == "stopped":
        assert not _alive(runner), server.tail()
    assert _eventually(lambda: not _alive(runner), seconds=20), server.tail()


@pytest.mark.parametrize("store", ["sqlite"])
@pytest.mark.parametrize(
    ("setting", "kept_current"),
    [({"projections_in_workers": "true"}, True), ({"projections_in_process": "false"}, False)],
    ids=["runner thread in the worker", "no runner"],
)
def test_serve_when_runner_in_workers_or_off_then_no_runner_process(
    settings: Settings, tmp_path: Path, setting: dict[str, str], kept_current: bool
) -> None:
    # Given `casetrail serve` with its runner inside the worker, or with none
    server = Server(settings, tmp_path / "serve.log", **setting)
    server.start()
    try:
        assert server.process is not None
        # When a case is opened
        with server.client(mint(settings)) as client:
            assert client.post("/cases", json={"events": [event("CaseOpened")]}).is_success

            # Then no runner process is started, and the read models are kept current by the
            # worker's thread, or by nothing
            def current() -> bool:
                return all(p["lag"] == 0 for p in client.get("/ready").json()["projections"])

            assert _eventually(current, seconds=5 if kept_current else 2) is kept_current
        assert _children(server.process.pid) == []
    finally:
        server.stop()
