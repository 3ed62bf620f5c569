"""The operations routes, which need no token: `/health`, `/ready` and `/metrics`.

Each reads the stores it reports on from the app's state rather than closing over one app's:
FastAPI keeps every endpoint it has classified in caches of its own for the life of the
process, so an endpoint made per app would keep each app made (and its stores) alive with it.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import PersistenceError
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from projections.runner import status
from service.api.headers import RETRY_AFTER
from service.api.models import Health, ProjectionLag, Readiness, StoreReachability, Stores
from service.api.problems import RETRY_AFTER_UNAVAILABLE
from service.metrics import Metrics
from service.readiness import SQLITE_LOG_TABLE, SharedProbe, postgres_log_table
from service.records import CaseRecords
from service.settings import Settings

router = APIRouter()


def log_table_name(settings: Settings) -> str:
    """The log's table, which the readiness probes look for."""
    return postgres_log_table(CaseRecords.name) if settings.is_postgres else SQLITE_LOG_TABLE


@router.get("/health", operation_id="health", tags=["operations"])
async def health() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get(
    "/ready",
    operation_id="ready",
    tags=["operations"],
    responses={
        503: {
            "model": Readiness,
            "description": "A store (the log, the access audit or the read models) is unreachable",
            "headers": {"Retry-After": RETRY_AFTER},
        }
    },
)
def ready(request: Request) -> Any:
    """Whether every store answers (the log, the access audit, the read models), and each
    read model's lag behind the log.

    503 with `Retry-After` when a store cannot be reached. Lag alone never makes the
    service unready: read models that lag still answer, saying how far they have got
    (`X-Projection-Position`), and a client that must see its own write waits for it with
    `X-Min-Position`. Watch `projections[].lag` (or `/metrics`) to alert on a stalled
    runner. Nor does a model diverged from the log (`projections[].diverged`: read models
    restored from a newer backup than the log): the runner clears it and applies the log
    again at its next round, its lag the whole log meanwhile.
    """
    state = request.app.state
    current: Settings = state.settings
    probe: SharedProbe = state.probe_stores
    checks = {c.name: c for c in probe(current, log_table=log_table_name(current))}
    stores = Stores(
        **{
            name: StoreReachability(reachable=c.reachable, detail=c.detail)
            for name, c in checks.items()
        }
    )
    unreachable = [f"{c.name}: {c.detail}" for c in checks.values() if not c.reachable]
    lags: list[ProjectionLag] = []
    if checks["log"].reachable and checks["read_models"].reachable:
        try:
            report = status(
                current,
                state.records,
                state.model_names,
                store=state.read_models,
                probe_locks=False,
            )
        except (PersistenceError, SQLAlchemyError):
            report = []  # reachable a moment ago; the lag is left out rather than guessed
        lags = [
            ProjectionLag(
                name=s.name,
                position=s.position,
                log_position=s.log_position,
                lag=s.lag,
                started=s.started,
                diverged=s.diverged,
            )
            for s in report
        ]
    body = Readiness(
        status="unavailable" if unreachable else "ready",
        store="postgresql" if current.is_postgres else "sqlite",
        detail="; ".join(unreachable) or None,
        stores=stores,
        projections=lags,
    )
    if unreachable:
        return JSONResponse(
            body.model_dump(),
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
        )
    return body


@router.get("/metrics", include_in_schema=False)
def metrics_text(request: Request) -> Response:
    """Prometheus text format (no token): see the README's "Operations" section."""
    metrics: Metrics = request.app.state.metrics
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)
