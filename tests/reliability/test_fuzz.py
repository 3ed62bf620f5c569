"""Fuzzing from the committed OpenAPI document: schemathesis against the real app over HTTP.

Every operation of `openapi/openapi.json` (but the never-ending `/feed/stream`) gets generated
requests, valid and invalid, sent with valid bearer tokens to the real app served by uvicorn on
loopback, over a store seeded with the demo case and a freshly opened one: an SQLite file, and a
PostgreSQL schema too when `CASETRAIL_TEST_POSTGRES_URL` is set. No answer may be a server
error, and each answer's status code, content type and body must be ones the document declares
for the operation.

The short run (in `make test`) sends 200 examples per store; `CASETRAIL_RELIABILITY=full` (as
`make reliability` sets) sends 2,000. Runs are derandomized, so a failure reproduces on a re-run;
`CASETRAIL_FUZZ_SEED=<int>` explores another sequence.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from projections.registry import model_names
from projections.store import ReadModelStore
from service.api.app import create_app
from service.auth import TokenService
from service.clock import SettableClock
from service.demo import COMMUNITY_HEALTH, LA, load_demo
from service.settings import Settings
from tests.examples import TARGET, VALID_PAYLOADS
from tests.reliability.harness import FULL, RESULTS
from tests.support import event

DOCUMENT = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
TOTAL_EXAMPLES = 2000 if FULL else 200
SEED = os.environ.get("CASETRAIL_FUZZ_SEED", "").strip()
POSTGRES_URL = os.environ.get("CASETRAIL_TEST_POSTGRES_URL", "")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

EXCLUDED = {
    # A server-sent event stream: it never ends (it sends pings while the log is idle), so a
    # request to it has no complete response to check, only a connection cut at a timeout.
    # Its refusals, headers and events are tested in tests/service/test_feed.py.
    "GET /feed/stream",
}

SCHEMA = schemathesis.openapi.from_path(DOCUMENT)
OPERATIONS = {
    operation.label: operation
    for operation in (result.ok() for result in SCHEMA.get_all_operations())
    if operation.label not in EXCLUDED
}
LABELS = sorted(OPERATIONS)

# Valid writes: generated bodies almost never are, so each write operation also gets bodies
# built from the catalogue's example payloads (with fresh ids), to reach the 200 and 201 answers.
_KINDS = sorted(kind for kind in VALID_PAYLOADS if kind != "CaseOpened")


# Who sends the requests: the owning authority's practitioner and manager, and a partner agency
# involved in the demo case (whose views are proportionate).
CALLERS = [
    ("ann.worker", LA, "practitioner"),
    ("a.reeve", LA, "manager"),
    ("r.calloway", COMMUNITY_HEALTH, "practitioner"),
]


def _takes_nothing(label: str) -> bool:
    operation = OPERATIONS[label]
    located = (operation.path_parameters, operation.query, operation.headers, operation.body)
    return not any(len(parameters) for parameters in located)


# An operation that takes nothing has one request per caller to send; the others share the rest.
_FIXED = [label for label in LABELS if _takes_nothing(label)]
_SPREAD = [label for label in LABELS if label not in _FIXED]


def budget(label: str) -> int:
    """This operation's share of the run's examples."""
    if label in _FIXED:
        return len(CALLERS)
    share, extra = divmod(TOTAL_EXAMPLES - len(CALLERS) * len(_FIXED), len(_SPREAD))
    return share + (1 if _SPREAD.index(label) < extra else 0)


@dataclass
class Target:
    """The served app: its base URL, the callers' headers, and cases worth aiming at."""

    store: str
    base_url: str
    callers: list[dict[str, str]]
    case_ids: list[str]
    opened_event: str
    sent: dict[str, int] = field(default_factory=dict)
    passed: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bearer(tokens: TokenService, sub: str, agency: str, role: str) -> dict[str, str]:
    jwt = tokens.mint(sub=sub, name=sub, agency=agency, roles=[role])
    # The parameter's own name in the document, so the generator never sends a second one.
    return {"authorization": f"Bearer {jwt}"}


def _stores() -> list[Any]:
    skip = pytest.mark.skip(reason="CASETRAIL_TEST_POSTGRES_URL is not set: PostgreSQL skipped")
    postgres = [pytest.mark.postgres] + ([] if POSTGRES_URL else [skip])
    return ["sqlite", pytest.param("postgres", marks=postgres)]


@pytest.fixture(scope="module", params=_stores())
def store_settings(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """The store the fuzzed app runs on: an SQLite file, or a fresh PostgreSQL schema (dropped
    afterwards). A NUL in a query parameter was a 500 on PostgreSQL alone."""
    if request.param == "sqlite":
        yield {}
        return
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield {"database_url": POSTGRES_URL, "postgres_schema": schema}
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="module")
def target(
    tmp_path_factory: pytest.TempPathFactory, store_settings: dict[str, Any]
) -> Iterator[Target]:
    settings = Settings(
        **store_settings,
        data_dir=tmp_path_factory.mktemp("fuzz") / "data",
        # `GET /feed?wait=` long-polls up to this; the fuzzer asks for waits on nearly every
        # request. The waiting itself is tested in tests/service/test_feed.py.
        feed_max_wait_seconds=0.2,
        # Three callers send thousands of requests a minute: rate limited, most would be 429s
        # that reach nothing. The limiter has its own tests.
        rate_limit_per_minute=0,
        # Partners keep access to the demo case (closed in 2015), so their views are fuzzed.
        partner_access_years=20,
    )
    demo_case = str(load_demo(settings))
    app = create_app(settings, SettableClock(NOW))
    tokens: TokenService = app.state.tokens
    callers = [_bearer(tokens, *caller) for caller in CALLERS]
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="fuzz-uvicorn", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        opened = event("CaseOpened")
        response = httpx.post(
            f"{base_url}/cases",
            json={"events": [opened, event("WorkerAllocated", "2013-05-17")]},
            headers=callers[0],
            timeout=10,
        )
        assert response.status_code == 201, response.text
        # A warm service: its read models have applied the seed, so an `X-Min-Position` the
        # fuzzer sends within the log is answered at once, not after a start-up's catching up.
        read_models: ReadModelStore = app.state.read_models
        newest = response.json()["events"][-1]["position"]
        for model in model_names():
            assert read_models.wait_for(model, newest, timeout=60)[0], f"{model} is behind"
        case_ids = [demo_case, str(response.json()["case_id"])]
        store = "PostgreSQL" if settings.is_postgres else "SQLite"
        target = Target(store, base_url, callers, case_ids, opened_event=opened["id"])
        yield target
        _report(target)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _report(target: Target) -> None:
    failing = sorted(set(target.sent) - target.passed)
    failures = f"{len(failing)} failing" + (f" ({', '.join(failing)})" if failing else "")
    statuses = ", ".join(f"{status}: {n}" for status, n in sorted(target.statuses.items()))
    RESULTS.add(
        "Fuzzing (schemathesis)",
        f"- {target.store}: {sum(target.sent.values())} examples over {len(target.sent)} "
        f"operations of openapi/openapi.json, {failures}; answers by status: {statuses}; "
        f"{time.monotonic() - target.started:.0f} s",
    )


def _new_event(kind: str, event_id: uuid.UUID, target_event: str) -> dict[str, Any]:
    body = event(kind)
    body["id"] = str(event_id)
    return json.loads(json.dumps(body).replace(TARGET, target_event))


def _valid_bodies(target: Target, *, opening: bool) -> st.SearchStrategy[dict[str, Any]]:
    """A batch of one to three catalogue examples (after a `CaseOpened` when opening)."""
    batch = st.lists(st.tuples(st.sampled_from(_KINDS), st.uuids()), min_size=1, max_size=3)

    def build(items: list[tuple[str, uuid.UUID]], opened_id: uuid.UUID) -> dict[str, Any]:
        events = [_new_event(kind, event_id, target.opened_event) for kind, event_id in items]
        if opening:
            events = [_new_event("CaseOpened", opened_id, target.opened_event), *events[:1]]
        return {"events": events}

    return st.builds(build, batch, st.uuids())


def _strategy(label: str, target: Target) -> st.SearchStrategy[Case]:
    """Valid and invalid requests, each with one of the callers' tokens. A `{case_id}` is as
    often one of the seeded cases as a generated UUID (which only ever finds a 404)."""
    operation = OPERATIONS[label]
    paths: list[dict[str, str]] = [{}]
    if any(parameter.name == "case_id" for parameter in operation.path_parameters):
        paths += [{"case_id": case_id} for case_id in target.case_ids]
    strategies: list[st.SearchStrategy[Case]] = []
    for headers in target.callers:
        for path in paths:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                strategies.append(
                    operation.as_strategy(
                        generation_mode=mode, headers=headers, path_parameters=path
                    )
                )
            if label == "POST /cases":
                strategies.append(_with_body(operation, target, headers, path))
            elif operation.method.upper() == "POST" and path:
                # `If-Match: *` (the case exists): a generated one is nearly always refused
                precondition = {**headers, "if-match": "*"}
                strategies.append(_with_body(operation, target, precondition, path))
    return st.one_of(strategies)


def _with_body(
    operation: Any, target: Target, headers: dict[str, str], path: dict[str, str]
) -> st.SearchStrategy[Case]:
    bodies = _valid_bodies(target, opening=not path)

    def cases(body: dict[str, Any]) -> st.SearchStrategy[Case]:
        strategy: st.SearchStrategy[Case] = operation.as_strategy(
            headers=headers, path_parameters=path, body=body, media_type="application/json"
        )
        return strategy

    return bodies.flatmap(cases)


def _settings(label: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    settings = hypothesis.settings(
        max_examples=budget(label),
        deadline=None,
        derandomize=not SEED,
        database=None,
        # The health checks judge data generation, and a run over HTTP is slower than they
        # expect: the run's length is bounded by its examples instead.
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    if SEED:
        return lambda test: hypothesis.seed(int(SEED))(settings(test))
    return settings


@pytest.mark.parametrize("label", LABELS)
def test_fuzz_when_requests_generated_from_document_then_responses_conform(
    label: str, target: Target
) -> None:
    # Given requests generated from the committed document for this operation
    target.sent[label] = 0

    @_settings(label)
    @hypothesis.given(case=_strategy(label, target))
    def fuzz(case: Case) -> None:
        target.sent[label] += 1
        # When each is sent to the real app
        response = case.call_and_validate(base_url=target.base_url, checks=CHECKS, timeout=10)
        # Then no answer is a server error, and each is one the document declares
        target.statuses[response.status_code] += 1

    fuzz()
    target.passed.add(label)
