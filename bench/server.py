"""The service as it runs in production: `casetrail serve` (uvicorn, one worker) in a subprocess.

Requests go over real HTTP on one keep-alive connection of the standard library's
`http.client` (a client whose own cost per request, about 0.1 ms on loopback, is a third of
`httpx`'s: the figures are the service's, not the client's), with bodies serialised before the
clock starts. The token comes from `casetrail token`, with the same data directory. Measure 5's
baseline is the same app without the audit write (`bench/unaudited.py`), served the same way
beside it, on the same store.
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from bench.events import Event, EventStream

CLI = [sys.executable, "-m", "service.cli"]
REPO = Path(__file__).resolve().parent.parent
# What `casetrail serve` runs (uvicorn.run of the factory, one worker, log level info with the
# access log on), with the bench-only factory whose audit records nothing.
UNAUDITED = [
    sys.executable,
    "-m",
    "uvicorn",
    "bench.unaudited:create_app",
    "--factory",
    "--app-dir",
    str(REPO),
    "--host",
    "127.0.0.1",
    "--workers",
    "1",
    "--log-level",
    "info",
]
AGENCY = "csc:barsetshire"  # the local authority of tests.support's CaseOpened payload


class ServiceError(RuntimeError):
    """The service did not start, or answered a benchmark request with an unexpected status."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mint_token(env: dict[str, str], role: str = "practitioner") -> str:
    """A token of `casetrail token` for a worker of the owning authority (`AGENCY`) in `role`."""
    result = subprocess.run(
        [
            *CLI,
            "token",
            "--sub",
            "bench",
            "--name",
            "Bench Worker",
            "--agency",
            AGENCY,
            "--role",
            role,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


class Service:
    """A client of the running service: one keep-alive connection, checked status codes."""

    # uvicorn closes a connection idle for 5 s: one idle for this long is opened afresh.
    IDLE_SECONDS = 2.0

    def __init__(self, host: str, port: int, token: str) -> None:
        self.connection = http.client.HTTPConnection(host, port, timeout=120)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.last_used = 0.0

    def close(self) -> None:
        self.connection.close()

    @staticmethod
    def body(events: list[Event]) -> bytes:
        return orjson.dumps({"events": events})

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """The status and body of one request."""
        if time.monotonic() - self.last_used > self.IDLE_SECONDS:
            self.connection.close()  # reopened by the request
        self.connection.request(method, path, body=body, headers=self.headers)
        response = self.connection.getresponse()
        content = response.read()
        self.last_used = time.monotonic()
        return response.status, content

    def open_case(self, stream: EventStream) -> str:
        content = self.expect(201, "POST", "/cases", self.body([stream.opened()]))
        return str(orjson.loads(content)["case_id"])

    def post(self, case_id: str, body: bytes) -> None:
        self.expect(201, "POST", f"/cases/{case_id}/events", body)

    def get(self, path: str) -> None:
        self.expect(200, "GET", path)

    def get_json(self, path: str) -> Any:
        return orjson.loads(self.expect(200, "GET", path))

    def feed_page(self, after: int, limit: int) -> tuple[int, int]:
        """`GET /feed?after=&limit=`: the number of events on the page and the next cursor."""
        page = self.get_json(f"/feed?{urlencode({'after': after, 'limit': limit})}")
        return len(page["events"]), int(page["next"])

    def expect(self, status: int, method: str, path: str, body: bytes | None = None) -> bytes:
        answered, content = self.request(method, path, body)
        if answered != status:
            raise ServiceError(
                f"{method} {path.partition('?')[0]} answered {answered}, expected {status}: "
                f"{content[:500].decode(errors='replace')}"
            )
        return content


def _wait_healthy(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise ServiceError(f"the service did not start:\n{log.read_text()[-3000:]}")


@contextmanager
def running_service(
    env: dict[str, str],
    log: Path,
    token: str,
    *,
    audited: bool = True,
    checkout: Path = REPO,
) -> Iterator[Service]:
    """Start `casetrail serve` (or, `audited=False`, the app of `bench/unaudited.py`), yield a
    client, and stop the server (SIGTERM) afterwards. `checkout`: the source tree the server
    runs from (its working directory, which `python -m` imports from first): another
    checkout's, for `bench/compare.py`."""
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = (
        [*CLI, "serve", "--port", str(port), "--workers", "1"]
        if audited
        else [*UNAUDITED, "--port", str(port)]
    )
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            cwd=checkout,
            env=env,
            stdout=out,
            stderr=out,
        )
    service: Service | None = None
    try:
        _wait_healthy(base_url, process, log)
        service = Service("127.0.0.1", port, token)
        yield service
    finally:
        if service is not None:
            service.close()
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
