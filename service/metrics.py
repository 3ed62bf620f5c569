"""Prometheus metrics for `GET /metrics`: one registry per app, never the process-global one.

Counters and histograms live in this process: with `casetrail serve --workers N` each worker
exposes its own (a scrape reaches whichever worker answers). Projection positions and lag are
read at scrape time from the read-model store and the log (two small queries), so every worker
reports the same figures for them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from projections.runner import ModelStatus

logger = logging.getLogger("casetrail.metrics")

# Seconds; long-polls and SSE streams land in the last buckets.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

# Methods named as themselves in labels; any other a client sends is "other", so that no client
# can grow the number of series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# The refusals of an append that are conflicts, with the status each answers.
CONFLICT_STATUS = {"event-id-reused": "409", "case-exists": "409", "version-mismatch": "412"}


class ProjectionCollector(Collector):
    """Each read model's position and lag, and the log's position, computed at scrape time."""

    def __init__(self, report: Callable[[], Sequence[ModelStatus]]) -> None:
        self.report = report

    def describe(self) -> list[Metric]:
        return []  # registration must not query the store

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "casetrail_projection_status_up",
            "1 when this scrape could read the read models' positions and the log's, else 0",
        )
        try:
            statuses = list(self.report())
        except Exception:  # a scrape never fails because the store does not answer
            logger.warning("projection status unavailable for /metrics", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        log = GaugeMetricFamily(
            "casetrail_log_position", "The newest position (notification id) in the global log"
        )
        position = GaugeMetricFamily(
            "casetrail_projection_position",
            "The last log position a read model has applied (0: none yet)",
            labels=["model"],
        )
        lag = GaugeMetricFamily(
            "casetrail_projection_lag",
            "Log positions a read model is behind the log (gaps left by rolled-back inserts count)",
            labels=["model"],
        )
        diverged = GaugeMetricFamily(
            "casetrail_projection_diverged",
            "1 when the log does not hold the event a read model applied at its position (read "
            "models restored from a newer backup than the log) until the runner rebuilds it",
            labels=["model"],
        )
        for status in statuses:
            position.add_metric([status.name], status.position)
            lag.add_metric([status.name], status.lag)
            diverged.add_metric([status.name], int(status.diverged))
        log.add_metric([], statuses[0].log_position if statuses else 0)
        yield log
        yield position
        yield lag
        yield diverged


class Metrics:
    """The service's metrics, in their own registry; also the observer of writes and audits."""

    def __init__(self, projections: Callable[[], Sequence[ModelStatus]]) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.requests = Counter(
            "casetrail_http_requests_total",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "casetrail_http_request_duration_seconds",
            "Time to answer a request (to the end of its body), by method, route template and "
            "status",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.appended = Counter(
            "casetrail_appended_events_total",
            "Events stored by POST /cases and POST /cases/{case_id}/events (replays not counted)",
            registry=registry,
        )
        self.replays = Counter(
            "casetrail_append_replays_total",
            "Batches answered as idempotent replays of batches already stored",
            registry=registry,
        )
        self.conflicts = Counter(
            "casetrail_append_conflicts_total",
            "Appends refused as conflicts: 409 event-id-reused or case-exists, 412 "
            "version-mismatch",
            ["status", "reason"],
            registry=registry,
        )
        for reason, status in CONFLICT_STATUS.items():
            self.conflicts.labels(status=status, reason=reason)
        self.retries = Counter(
            "casetrail_append_retries_total",
            "Internal retries of appends (without If-Match) that lost a version to another writer",
            registry=registry,
        )
        self.busy = Counter(
            "casetrail_append_busy_total",
            "Appends that kept losing to concurrent writers and answered 503 busy",
            registry=registry,
        )
        self.audit_writes = Counter(
            "casetrail_audit_writes_total",
            "Reads of case data written to the access audit",
            registry=registry,
        )
        self.audit_failures = Counter(
            "casetrail_audit_write_failures_total",
            "Audit writes that failed (the read was refused with 503 audit-unavailable)",
            registry=registry,
        )
        self.rate_limited = Counter(
            "casetrail_rate_limited_total",
            "Requests refused with 429 because their principal was over its rate limit",
            registry=registry,
        )
        registry.register(ProjectionCollector(projections))

    # --- observing requests --------------------------------------------------------------

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "other"
        labels = {"method": method, "route": route, "status": str(status)}
        self.requests.labels(**labels).inc()
        self.latency.labels(**labels).observe(seconds)

    # --- observing writes (`service.records.WriteObserver`) ------------------------------

    def stored(self, events: int) -> None:
        self.appended.inc(events)

    def replayed(self) -> None:
        self.replays.inc()

    def conflict(self, reason: str) -> None:
        self.conflicts.labels(status=CONFLICT_STATUS.get(reason, "409"), reason=reason).inc()

    def retried(self) -> None:
        self.retries.inc()

    def gave_up(self) -> None:
        self.busy.inc()

    # --- observing the audit (`service.audit.AuditObserver`) -----------------------------

    def audit_written(self) -> None:
        self.audit_writes.inc()

    def audit_failed(self) -> None:
        self.audit_failures.inc()

    # --- exposition ----------------------------------------------------------------------

    def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text format of every metric, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
