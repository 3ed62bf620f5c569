"""Request and response bodies.

Each catalogue type becomes one envelope model; the batch is a union discriminated on `type`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

import domain.event_types  # noqa: F401  (registers the catalogue)
from domain.catalogue import EntryType, catalogue
from domain.envelope import RecordedEvent
from domain.moments import format_utc
from domain.values import Agency
from service.records import AppendResult

OccurredAt = Annotated[
    str,
    StringConstraints(min_length=10, max_length=40),
    Field(
        description="A date (`2013-05-16`: that day, Europe/London) or an ISO 8601 date-time "
        "with a zone (`2013-05-16T14:05:00+01:00`)",
        examples=["2013-05-16"],
    ),
]


class Author(BaseModel):
    """The practitioner who wrote the entry, when a system posts for them."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    role: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    agency: Agency | None = None


class Source(BaseModel):
    """Where the entry came from in the posting system."""

    model_config = ConfigDict(extra="forbid")
    system: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    reference: Annotated[str, StringConstraints(max_length=200)] | None = None


class EventEnvelope(BaseModel):
    """The fields every posted event carries; `data` is the type's payload."""

    model_config = ConfigDict(extra="forbid")
    id: UUID = Field(description="Client-chosen id, unique across the store: the idempotency key")
    occurred_at: OccurredAt
    occurred_precision: Literal["exact", "day", "month", "approximate"] | None = Field(
        default=None, description="Defaults to `day` for a date, `exact` for a date-time"
    )
    author: Author | None = None
    source: Source | None = None
    sensitivity: Literal["normal", "restricted"] = "normal"

    def stored_form(self) -> dict[str, Any]:
        """The plain-JSON client envelope the use cases take."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _envelope(kind: EntryType) -> type[EventEnvelope]:
    tag: Any = Literal[kind.name]
    return create_model(
        f"{kind.name}Event",
        __base__=EventEnvelope,
        __doc__=(kind.payload.__doc__ or kind.name).strip(),
        type=(tag, ...),
        data=(kind.payload, ...),
    )


ENVELOPES: dict[str, type[EventEnvelope]] = {kind.name: _envelope(kind) for kind in catalogue}

if TYPE_CHECKING:
    NewEvent = EventEnvelope
else:
    NewEvent = Annotated[
        Union[tuple(ENVELOPES[name] for name in catalogue.names())],  # noqa: UP007
        Field(discriminator="type"),
    ]


class _Batch(BaseModel):
    """A request carrying `events` (each request declares the field after its own, so that its
    fields, and its validation errors, keep their order)."""

    def stored_forms(self) -> list[dict[str, Any]]:
        """Each event's `stored_form`, in one dump (a third cheaper than one per event)."""
        events: list[dict[str, Any]] = self.model_dump(
            mode="json", by_alias=True, exclude_none=True, include={"events"}
        )["events"]
        return events


class OpenCaseRequest(_Batch):
    """Open a case: the first event must be `CaseOpened`; more may follow in the same batch."""

    model_config = ConfigDict(extra="forbid")
    case_id: UUID | None = Field(
        default=None, description="Defaults to a UUIDv5 of the CaseOpened event's id"
    )
    events: list[NewEvent] = Field(min_length=1)


class AppendRequest(_Batch):
    """Append a batch of events to a case, all or nothing."""

    model_config = ConfigDict(extra="forbid")
    events: list[NewEvent] = Field(min_length=1)


class StoredEventResult(BaseModel):
    id: UUID
    version: int
    position: int
    recorded_at: str
    hash: str
    replayed: bool


class AppendResponse(BaseModel):
    case_id: UUID
    version: int
    events: list[StoredEventResult]

    @staticmethod
    def render(result: AppendResult) -> bytes:
        """This model's JSON for `result`, written directly: the result's values already have
        the fields' types, so building and validating a model per event would check nothing."""
        return orjson.dumps(
            {
                "case_id": str(result.case_id),
                "version": result.version,
                "events": [
                    {
                        "id": e.id,
                        "version": e.version,
                        "position": e.position,
                        "recorded_at": e.recorded_at,
                        "hash": e.hash,
                        "replayed": e.replayed,
                    }
                    for e in result.events
                ],
            }
        )


class StoredEvent(BaseModel):
    """An event as stored, with every envelope field."""

    case_id: UUID
    version: int
    position: int | None
    id: UUID
    type: str
    schema_version: int
    occurred_at: str
    occurred_precision: str
    recorded_at: str
    recorded_by: dict[str, Any]
    author: dict[str, Any] | None
    source: dict[str, Any] | None
    sensitivity: str
    data: dict[str, Any]
    hash: str

    @classmethod
    def of(cls, event: RecordedEvent) -> StoredEvent:
        entry = event.entry
        return cls(
            case_id=event.case_id,
            version=event.version,
            position=event.position,
            id=UUID(event.id),
            type=event.type,
            schema_version=entry.get("schema_version", 1),
            occurred_at=entry["occurred_at"],
            occurred_precision=entry["occurred_precision"],
            recorded_at=format_utc(event.recorded_at),
            recorded_by=dict(event.recorded_by),
            author=dict(event.author) if event.author else None,
            source=dict(event.source) if event.source else None,
            sensitivity=event.sensitivity,
            data=dict(entry["data"]),
            hash=entry["hash"],
        )


class EventsPageResponse(BaseModel):
    events: list[StoredEvent]
    next_after_version: int | None


class Health(BaseModel):
    status: Literal["ok"]


class StoreReachability(BaseModel):
    """Whether one store answered the readiness probe."""

    reachable: bool
    detail: str | None = Field(
        default=None, description="why not: the error's type, or the missing table"
    )


class Stores(BaseModel):
    """The three stores: the case log, the access audit, the read models."""

    log: StoreReachability
    audit: StoreReachability
    read_models: StoreReachability


class ProjectionLag(BaseModel):
    """A read model's progress along the log (`casetrail projections status` reports the same)."""

    name: str
    position: int = Field(description="the last log position applied (0: none yet)")
    log_position: int = Field(description="the log's newest position")
    lag: int = Field(
        description="log_position - position: positions not yet applied (including any gaps "
        "left by rolled-back appends); the whole log for a diverged model"
    )
    started: bool = Field(description="false: no runner has ever initialised the model")
    diverged: bool = Field(
        default=False,
        description="true: the log does not hold the event the model applied at `position` "
        "(read models restored from a newer backup than the log); the runner clears the "
        "model and applies the whole log again at its next round",
    )


class Readiness(BaseModel):
    """Whether the stores can be reached, and how far behind each read model is.

    Only an unreachable store makes the service unready: read models that lag still answer
    (with their `X-Projection-Position`), and a request that must see a write waits with
    `X-Min-Position`.
    """

    status: Literal["ready", "unavailable"]
    store: Literal["postgresql", "sqlite"]
    detail: str | None = Field(default=None, description="the unreachable stores and why")
    stores: Stores
    projections: list[ProjectionLag] = Field(
        default_factory=list,
        description="each read model's lag; empty when the log or the read models cannot be "
        "reached. Lag alone never makes the service unready",
    )
