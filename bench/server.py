"""The service as it runs in production: `casetrail serve` (uvicorn, one worker) in a subprocess.

Requests go over real HTTP on one keep-alive `httpx.Client`, with bodies serialised before the
clock starts. The token comes from `casetrail token`, with the same data directory. Measure 5's
baseline is the same app without the audit write (`bench/unaudited.py`), served the same way
beside it, on the same store.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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

    def __init__(self, base_url: str, token: str) -> None:
        self.client = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=120,
        )

    def close(self) -> None:
        self.client.close()

    @staticmethod
    def body(events: list[Event]) -> bytes:
        return orjson.dumps({"events": events})

    def open_case(self, stream: EventStream) -> str:
        response = self.client.post("/cases", content=self.body([stream.opened()]))
        _expect(response, 201)
        return str(response.json()["case_id"])

    def post(self, case_id: str, body: bytes) -> None:
        _expect(self.client.post(f"/cases/{case_id}/events", content=body), 201)

    def get(self, path: str) -> None:
        _expect(self.client.get(path), 200)

    def get_json(self, path: str) -> Any:
        response = self.client.get(path)
        _expect(response, 200)
        return orjson.loads(response.content)

    def feed_page(self, after: int, limit: int) -> tuple[int, int]:
        """`GET /feed?after=&limit=`: the number of events on the page and the next cursor."""
        response = self.client.get("/feed", params={"after": after, "limit": limit})
        _expect(response, 200)
        page = orjson.loads(response.content)
        return len(page["events"]), int(page["next"])


def _expect(response: httpx.Response, status: int) -> Any:
    if response.status_code != status:
        raise ServiceError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}, expected {status}: {response.text[:500]}"
        )


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
    env: dict[str, str], log: Path, token: str, *, audited: bool = True
) -> Iterator[Service]:
    """Start `casetrail serve` (or, `audited=False`, the app of `bench/unaudited.py`), yield a
    client, and stop the server (SIGTERM) afterwards."""
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
            env=env,
            stdout=out,
            stderr=out,
        )
    service: Service | None = None
    try:
        _wait_healthy(base_url, process, log)
        service = Service(base_url, token)
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
