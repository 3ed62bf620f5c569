"""The access audit: every read of case data, who made it, why, and what it returned.

It lives in its own store — its own SQLite file beside the log (an audit write must never stall
an append), or its own tables on PostgreSQL — and never appears in the global feed. Writes are
audited by the log itself (`recorded_by` on every event); the case audit view merges the two.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol
from uuid import UUID, uuid5

from pydantic import BaseModel
from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
)
from sqlalchemy.pool import ConnectionPoolEntry

from domain.envelope import RecordedEvent
from domain.moments import format_utc, parse_utc
from domain.rules.base import BreakGlassRead
from projections.store import postgres_engine
from service.principal import Principal
from service.settings import Settings

# Break-glass reads are named in alerts (and acknowledged) by a UUID derived from their row id.
READ_IDS = UUID("7d4f8a2e-6c1b-5e39-9a40-3b2f1c0d9e87")


@dataclass(frozen=True)
class Read:
    """One audited response that contained case data."""

    at: datetime
    who: Principal
    method: str
    route: str
    params: dict[str, Any]
    status: int
    case_ids: Sequence[str]
    purpose: str | None = None
    break_glass: bool = False
    view: str = "full"

    def as_row(self) -> dict[str, Any]:
        return {
            "at": format_utc(self.at),
            "sub": self.who.sub,
            "name": self.who.name,
            "agency": self.who.agency,
            "roles": json.dumps(list(self.who.roles)),
            "method": self.method,
            "route": self.route,
            "params": json.dumps(self.params, sort_keys=True),
            "status": self.status,
            "purpose": self.purpose,
            "break_glass": self.break_glass,
            "view": self.view,
        }


@dataclass(frozen=True)
class AuditedRead:
    """A read as the audit view shows it."""

    at: str
    sub: str
    name: str
    agency: str
    roles: list[str]
    method: str
    route: str
    params: dict[str, Any]
    status: int
    purpose: str | None
    break_glass: bool
    view: str
    case_ids: list[str] = field(default_factory=list)


def _tables(metadata: MetaData) -> tuple[Table, Table]:
    reads = Table(
        "casetrail_audit_reads",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("at", String(32), nullable=False),
        Column("sub", String(200), nullable=False),
        Column("name", String(200), nullable=False),
        Column("agency", String(80), nullable=False),
        Column("roles", Text, nullable=False),
        Column("method", String(10), nullable=False),
        Column("route", String(200), nullable=False),
        Column("params", Text, nullable=False),
        Column("status", Integer, nullable=False),
        Column("purpose", Text),
        Column("break_glass", Boolean, nullable=False),
        Column("view", String(16), nullable=False),
    )
    cases = Table(
        "casetrail_audit_read_cases",
        metadata,
        Column("read_id", Integer, ForeignKey(reads.c.id), primary_key=True),
        Column("case_id", String(36), primary_key=True),
        Index("casetrail_audit_read_cases_by_case", "case_id", "read_id"),
    )
    return reads, cases


class AuditObserver(Protocol):
    """Told of each audit write and each failed one (the metrics count them); never raises."""

    def audit_written(self) -> None: ...
    def audit_failed(self) -> None: ...


class _Unobserved:
    def audit_written(self) -> None:
        return None

    def audit_failed(self) -> None:
        return None


class AuditLog:
    """Appends and queries audited reads (SQLAlchemy Core, SQLite file or PostgreSQL tables)."""

    def __init__(self, settings: Settings) -> None:
        self.engine = _engine(settings)
        self.metadata = MetaData(schema=settings.postgres_schema if settings.is_postgres else None)
        self.reads, self.cases = _tables(self.metadata)
        self.metadata.create_all(self.engine)
        self.observer: AuditObserver = _Unobserved()

    def record(self, read: Read) -> None:
        try:
            with self.engine.begin() as conn:
                key = conn.execute(insert(self.reads).values(**read.as_row())).inserted_primary_key
                if read.case_ids and key is not None:
                    cases = dict.fromkeys(str(c) for c in read.case_ids)
                    conn.execute(
                        insert(self.cases), [{"read_id": key[0], "case_id": c} for c in cases]
                    )
        except BaseException:
            self.observer.audit_failed()
            raise
        self.observer.audit_written()

    def reads_of_case(
        self,
        case_id: UUID,
        *,
        agency: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
    ) -> list[AuditedRead]:
        query = (
            select(self.reads)
            .join(self.cases, self.cases.c.read_id == self.reads.c.id)
            .where(self.cases.c.case_id == str(case_id))
            .order_by(self.reads.c.id)
            .limit(limit)
        )
        if agency is not None:
            query = query.where(self.reads.c.agency == agency)
        if since is not None:
            query = query.where(self.reads.c.at >= format_utc(since))
        if until is not None:
            query = query.where(self.reads.c.at <= format_utc(until))
        with self.engine.connect() as conn:
            return [_audited(row._mapping) for row in conn.execute(query)]

    def break_glass_reads(self, case_id: UUID | None = None) -> list[tuple[str, BreakGlassRead]]:
        """Every break-glass read (of one case, or of all), oldest first, as (case id, read):
        each raises a `break-glass-access` alert for the owning authority."""
        query = (
            select(self.reads, self.cases.c.case_id)
            .join(self.cases, self.cases.c.read_id == self.reads.c.id)
            .where(self.reads.c.break_glass.is_(True))
            .order_by(self.reads.c.id)
        )
        if case_id is not None:
            query = query.where(self.cases.c.case_id == str(case_id))
        with self.engine.connect() as conn:
            return [
                (
                    row.case_id,
                    BreakGlassRead(
                        read_id=str(uuid5(READ_IDS, str(row.id))),
                        at=parse_utc(row.at),
                        name=row.name,
                        agency=row.agency,
                        purpose=row.purpose,
                    ),
                )
                for row in conn.execute(query)
            ]

    def close(self) -> None:
        self.engine.dispose()


def _audited(row: Any) -> AuditedRead:
    return AuditedRead(
        at=row["at"],
        sub=row["sub"],
        name=row["name"],
        agency=row["agency"],
        roles=json.loads(row["roles"]),
        method=row["method"],
        route=row["route"],
        params=json.loads(row["params"]),
        status=row["status"],
        purpose=row["purpose"],
        break_glass=bool(row["break_glass"]),
        view=row["view"],
    )


def _engine(settings: Settings) -> Engine:
    if settings.is_postgres:
        return postgres_engine(settings)
    path = settings.audit_path
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 10})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    return engine


class AuditEntry(BaseModel):
    """One line of a case's audit trail: a write (from the log) or an audited read."""

    kind: Literal["read", "write"]
    at: str
    who: dict[str, Any]
    # Reads.
    endpoint: str | None = None
    params: dict[str, Any] | None = None
    status: int | None = None
    purpose: str | None = None
    break_glass: bool = False
    view: str | None = None
    # Writes.
    event_id: str | None = None
    type: str | None = None
    version: int | None = None
    target_event_id: str | None = None
    author: dict[str, Any] | None = None


class AuditTrail(BaseModel):
    """Who wrote and who read a case, in time order, a page at a time."""

    case_id: UUID
    entries: list[AuditEntry]
    next_since: str | None = None  # ask again with since=next_since for the next page


def case_audit(
    events: Sequence[RecordedEvent],
    audit: AuditLog,
    case_id: UUID,
    *,
    agency: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 1000,
) -> AuditTrail:
    """Writes (corrections and retractions with their authors) from the log, reads from the
    audit store; `agency` keeps one agency's own entries. At most `limit` entries, oldest first:
    `next_since` continues (entries at exactly that time may appear on both pages, none is
    skipped)."""
    entries: list[AuditEntry] = []
    if kind in (None, "write"):
        for event in events:
            author = dict(event.author) if event.author else None
            if agency is not None and agency not in (
                event.recorded_by["agency"],
                (author or {}).get("agency"),
            ):
                continue
            if (since and event.recorded_at < since) or (until and event.recorded_at > until):
                continue
            entries.append(
                AuditEntry(
                    kind="write",
                    at=format_utc(event.recorded_at),
                    who=dict(event.recorded_by),
                    event_id=event.id,
                    type=event.type,
                    version=event.version,
                    target_event_id=event.targets,
                    author=author,
                )
            )
    if kind in (None, "read"):
        reads = audit.reads_of_case(
            case_id, agency=agency, since=since, until=until, limit=limit + 1
        )
        for read in reads:
            entries.append(
                AuditEntry(
                    kind="read",
                    at=read.at,
                    who={
                        "sub": read.sub,
                        "name": read.name,
                        "agency": read.agency,
                        "roles": read.roles,
                    },
                    endpoint=f"{read.method} {read.route}",
                    params=read.params,
                    status=read.status,
                    purpose=read.purpose,
                    break_glass=read.break_glass,
                    view=read.view,
                )
            )
    entries.sort(key=lambda e: e.at)
    if len(entries) <= limit:
        return AuditTrail(case_id=case_id, entries=entries)
    page = entries[:limit]
    return AuditTrail(case_id=case_id, entries=page, next_since=page[-1].at)
