"""Shared fixtures: a real store (an SQLite file, or a PostgreSQL schema), the real app, tokens."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.clock import SettableClock
from service.settings import Settings

POSTGRES_URL = os.environ.get("CASETRAIL_TEST_POSTGRES_URL", "")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

Headers = dict[str, str]


def _stores() -> list[object]:
    skip = pytest.mark.skip(
        reason="CASETRAIL_TEST_POSTGRES_URL is not set: PostgreSQL pass skipped"
    )
    return [
        "sqlite",
        pytest.param("postgres", marks=[pytest.mark.postgres] + ([] if POSTGRES_URL else [skip])),
    ]


@pytest.fixture(params=_stores())
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    """A fresh schema per test, dropped afterwards, so PostgreSQL tests never see each other."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield schema
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def settings(tmp_path: Path, store: str, request: pytest.FixtureRequest) -> Settings:
    data_dir = tmp_path / "data"
    # X-Min-Position may wait long on a loaded test machine: a read model catching up is not
    # what these tests time (the ones about a model behind set their own wait).
    wait = 15.0
    if store == "postgres":
        schema = request.getfixturevalue("postgres_schema")
        return Settings(
            data_dir=data_dir,
            database_url=POSTGRES_URL,
            postgres_schema=schema,
            projection_wait_seconds=wait,
        )
    return Settings(data_dir=data_dir, projection_wait_seconds=wait)


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(NOW)


@pytest.fixture
def client(settings: Settings, clock: SettableClock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock)) as test_client:
        yield test_client


@pytest.fixture
def start_app(settings: Settings, clock: SettableClock) -> Iterator[Callable[..., TestClient]]:
    """Start another app on the test's store (a restart, or changed settings); closed after."""
    started: list[TestClient] = []

    def start(**changes: Any) -> TestClient:
        client = TestClient(create_app(settings.model_copy(update=changes), clock))
        started.append(client)
        return client.__enter__()

    yield start
    for client in started:
        client.__exit__(None, None, None)


@pytest.fixture
def token(client: TestClient) -> Callable[..., Headers]:
    """Headers with a bearer token: `token()` is a CSC practitioner of csc:barsetshire."""

    def make(
        agency: str = "csc:barsetshire",
        roles: tuple[str, ...] = ("practitioner",),
        sub: str = "ann.worker",
        name: str = "Ann Worker",
        cases: list[str] | None = None,
    ) -> Headers:
        tokens = client.app.state.tokens  # type: ignore[attr-defined]
        jwt = tokens.mint(sub=sub, name=name, agency=agency, roles=list(roles), cases=cases)
        return {"Authorization": f"Bearer {jwt}"}

    return make


@pytest.fixture
def headers(token: Callable[..., Headers]) -> Headers:
    return token()
