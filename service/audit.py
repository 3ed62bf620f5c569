"""The access audit: every read of case data, who made it, why, and what it returned.

It lives in its own store — its own SQLite file beside the log (an audit write must never stall
an append), or its own tables on PostgreSQL — and never appears in the global feed. Writes are
audited by the log itself (`recorded_by` on every event); the case audit view merges the two.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol
from uuid import UUID, uuid5

from pydantic import BaseModel, Field
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
    and_,
    create_engine,
    event,
    insert,
    or_,
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

    read_id: int
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
        after: TrailPosition | None = None,
        limit: int = 1000,
    ) -> list[AuditedRead]:
        """The case's reads in the trail's order (time, then row id), at most `limit`, those
        strictly after `after` if it is given."""
        reads = self.reads
        query = (
            select(reads)
            .join(self.cases, self.cases.c.read_id == reads.c.id)
            .where(self.cases.c.case_id == str(case_id))
            .order_by(reads.c.at, reads.c.id)
            .limit(limit)
        )
        if after is not None:
            # At one time reads come before writes: after a write, only later times follow.
            later = reads.c.at > after.at
            if after.kind == "read":
                later = or_(later, and_(reads.c.at == after.at, reads.c.id > after.number))
            query = query.where(later)
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
        read_id=row["id"],
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
    # A failed statement's error must not quote the read it records (its query, its purpose).
    engine = create_engine(f"sqlite:///{path}", hide_parameters=True, connect_args={"timeout": 10})

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
    next: str | None = Field(
        default=None,
        description="Ask again with `after=<next>` for the entries strictly after this page; "
        "null when there were no more",
    )
    next_since: str | None = Field(
        default=None,
        description="Deprecated, use `next`: the time of the page's last entry. Asking again "
        "with `since=<next_since>` repeats the entries at exactly that time, and stays on that "
        "time while it has more entries than `limit`",
        json_schema_extra={"deprecated": True},
    )


_CURSOR_AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_CURSOR_NUMBER = re.compile(r"[0-9]{1,18}")


class BadAuditCursor(ValueError):
    """An `after` cursor that the audit trail did not hand out."""


@dataclass(frozen=True, order=True)
class TrailPosition:
    """Where an entry stands in a case's audit trail, a total order: by time; at one time reads
    before writes; then a write's version or a read's row id. Entries that share a time (a
    batch's events share one `recorded_at`) are still told apart, so a cursor on it never
    repeats an entry, never skips one, and always moves on."""

    at: str
    kind: str
    number: int

    def cursor(self) -> str:
        text = f"{self.at}|{self.kind}|{self.number}".encode()
        return base64.urlsafe_b64encode(text).decode().rstrip("=")

    @classmethod
    def of_cursor(cls, cursor: str) -> TrailPosition:
        try:
            text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        except (binascii.Error, ValueError):
            raise BadAuditCursor("send the `next` of a previous page as it was") from None
        at, _, rest = text.partition("|")
        kind, _, number = rest.partition("|")
        if (
            not _CURSOR_AT.fullmatch(at)
            or kind not in ("read", "write")
            or not _CURSOR_NUMBER.fullmatch(number)
        ):
            raise BadAuditCursor("send the `next` of a previous page as it was")
        return cls(at, kind, int(number))


def case_audit(
    events: Sequence[RecordedEvent],
    audit: AuditLog,
    case_id: UUID,
    *,
    agency: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: TrailPosition | None = None,
    limit: int = 1000,
) -> AuditTrail:
    """Writes (corrections and retractions with their authors) from the log, reads from the
    audit store; `agency` keeps one agency's own entries. At most `limit` entries in the
    trail's order (`TrailPosition`), oldest first, from `since` and strictly after `after`:
    `next` continues exactly where the page ended."""
    found: list[tuple[TrailPosition, AuditEntry]] = []
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
            at = format_utc(event.recorded_at)
            position = TrailPosition(at, "write", event.version)
            if after is not None and position <= after:
                continue
            found.append(
                (
                    position,
                    AuditEntry(
                        kind="write",
                        at=at,
                        who=dict(event.recorded_by),
                        event_id=event.id,
                        type=event.type,
                        version=event.version,
                        target_event_id=event.targets,
                        author=author,
                    ),
                )
            )
    if kind in (None, "read"):
        reads = audit.reads_of_case(
            case_id, agency=agency, since=since, until=until, after=after, limit=limit + 1
        )
        for read in reads:
            found.append(
                (
                    TrailPosition(read.at, "read", read.read_id),
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
                    ),
                )
            )
    found.sort(key=lambda pair: pair[0])
    entries = [entry for _, entry in found[:limit]]
    if len(found) <= limit:
        return AuditTrail(case_id=case_id, entries=entries)
    last = found[limit - 1][0]
    return AuditTrail(case_id=case_id, entries=entries, next=last.cursor(), next_since=last.at)
