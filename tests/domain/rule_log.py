"""A case's stored events built by hand, for testing the alert rules as pure functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from domain.envelope import RecordedEvent
from domain.moments import Moment, parse_bound
from domain.rules import RULES, Alert, evaluate
from domain.rules.base import Rule
from tests.support import payload

CASE_ID = UUID("00000000-0000-4000-8000-000000000001")
LA = "csc:barsetshire"
HORIZON = datetime(9999, 1, 1, tzinfo=UTC)


class Log:
    """A case's stored events, built in order; `CaseOpened` (1 May 2013) first."""

    def __init__(self, opened: str = "2013-05-01", **child: Any) -> None:
        self.events: list[RecordedEvent] = []
        data = payload("CaseOpened")
        data["child"] = {**data["child"], **child}
        self.add("CaseOpened", opened, data=data)

    def add(
        self,
        kind: str,
        occurred_at: str,
        recorded_at: str | None = None,
        *,
        data: dict[str, Any] | None = None,
        agency: str = LA,
        sensitivity: str = "normal",
        author: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> str:
        """Record `kind` (the catalogue example payload with `fields` changed, or `data`);
        recorded at `recorded_at` (default: when it occurred). Its event id."""
        moment = Moment.parse(occurred_at)
        recorded = parse_bound(recorded_at) if recorded_at else moment.instant
        previous = self.events[-1].recorded_at if self.events else recorded
        entry = {
            "id": str(uuid4()),
            "type": kind,
            "schema_version": 1,
            "occurred_at": occurred_at,
            "occurred_precision": moment.default_precision().value,
            "recorded_at": max(recorded, previous).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "recorded_by": {"sub": "m", "name": "M", "agency": agency, "roles": ["manager"]},
            "author": dict(author) if author else None,
            "source": None,
            "sensitivity": sensitivity,
            "data": data if data is not None else payload(kind, **fields),
            "hash": "h",
        }
        version = len(self.events) + 1
        self.events.append(RecordedEvent.from_entry(CASE_ID, version, version, entry))
        return str(entry["id"])

    def alerts(
        self,
        as_of: str,
        known_at: str | None = None,
        *,
        rules: Sequence[Rule] = RULES,
        timescales: Mapping[str, int] | None = None,
    ) -> list[Alert]:
        """Every alert (resolved ones too) as of `as_of` (a date: the end of that London day),
        on what was recorded by `known_at` (default: everything)."""
        evaluation = evaluate(
            CASE_ID,
            self.events,
            as_of=parse_bound(as_of),
            known_at=parse_bound(known_at) if known_at else HORIZON,
            rules=rules,
            timescales=timescales,
        )
        return evaluation.alerts
