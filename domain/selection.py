"""Which entries a question about the past sees, and in what order (DESIGN.md "Time: two axes").

`known_at` (record time) selects what had been recorded; corrections, retractions, annotations
and reassessments are selected by it alone and apply to their target whenever the target is
selected. `as_of` (business time) then selects what had happened, judged on the corrected
`occurred_at`. Entries fold in `occurred_at` order, ties broken by version; `CaseOpened` first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from domain.catalogue import Significance, catalogue
from domain.envelope import RecordedEvent
from domain.moments import Moment, Precision, months_after


@dataclass(frozen=True, slots=True)
class Entry:
    """A fact of the record as a view sees it: the original event with its corrections applied."""

    event: RecordedEvent
    data: Mapping[str, Any]
    occurred: Moment
    precision: Precision
    corrections: tuple[RecordedEvent, ...] = ()
    annotations: tuple[RecordedEvent, ...] = ()
    assessment: RecordedEvent | None = None
    # The event's, kept as fields: the rules and folds read them tens of times an entry.
    id: str = field(init=False)
    type: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", self.event.id)
        object.__setattr__(self, "type", self.event.type)

    @property
    def version(self) -> int:
        return self.event.version

    @property
    def agency(self) -> str:
        return self.event.agency

    @property
    def significance(self) -> Significance:
        if self.assessment is not None:
            return Significance.parse(self.assessment.data["significance"])
        return catalogue[self.type].default_significance(self.data)

    def latest_day(self) -> date | None:
        """The last London day it can have happened on: its day, or the last day of its month
        for a month-precision date; None for an approximate date."""
        if self.precision is Precision.APPROXIMATE:
            return None
        day = self.occurred.london_date
        if self.precision is Precision.MONTH:
            return months_after(day.replace(day=1), 1) - timedelta(days=1)
        return day

    def sort_key(self) -> tuple[int, datetime, int]:
        return (0 if self.type == "CaseOpened" else 1, self.occurred.instant, self.version)


@dataclass
class _Meta:
    corrections: list[RecordedEvent]
    annotations: list[RecordedEvent]
    assessment: RecordedEvent | None = None
    retracted: bool = False


def select(events: Iterable[RecordedEvent], *, as_of: datetime, known_at: datetime) -> list[Entry]:
    """The entries recorded by `known_at` that had happened by `as_of`, in business order."""
    facts: list[RecordedEvent] = []
    metas: dict[str, _Meta] = {}
    for event in events:
        if event.recorded_at > known_at:
            continue
        target = event.targets
        if target is None:
            facts.append(event)
            continue
        meta = metas.setdefault(target, _Meta([], []))
        if event.type == "EntryCorrected":
            meta.corrections.append(event)
        elif event.type == "EntryRetracted":
            meta.retracted = True
        elif event.type == "EntryAnnotated":
            meta.annotations.append(event)
        elif event.type == "SignificanceAssessed" and (
            meta.assessment is None or event.version > meta.assessment.version
        ):
            # The latest judgement stands, whatever order the events were given in.
            meta.assessment = event
    entries = []
    for fact in facts:
        found = metas.get(fact.id)
        entry = (
            _corrected(fact, found)
            if found
            else Entry(fact, fact.data, fact.occurred, fact.precision)
        )
        if entry is None:
            continue
        if entry.type == "CaseOpened" or entry.occurred.instant <= as_of:
            entries.append(entry)
    entries.sort(key=Entry.sort_key)
    return entries


def next_occurrence(
    events: Iterable[RecordedEvent], *, as_of: datetime, known_at: datetime
) -> datetime | None:
    """The first moment after `as_of` at which an entry recorded by `known_at` happens (one
    dated a little ahead of the clock, within the tolerated skew, or corrected to a later
    time): from then on `select` gives more, with no new event recorded."""
    later: datetime | None = None
    for event in events:
        if event.recorded_at > known_at:
            continue
        if event.targets is None:
            moment = event.occurred.instant
        elif event.type == "EntryCorrected" and event.data.get("occurred_at"):
            moment = Moment.parse(event.data["occurred_at"]).instant
        else:
            continue
        if moment > as_of and (later is None or moment < later):
            later = moment
    return later


def _corrected(fact: RecordedEvent, meta: _Meta) -> Entry | None:
    if meta.retracted:
        return None
    data, occurred, precision = fact.data, fact.occurred, fact.precision
    corrections = sorted(meta.corrections, key=lambda e: e.version)
    kind = catalogue[fact.type]
    for correction in corrections:
        # Every stored correction names the schema version its replacement was validated against.
        stored_version = correction.data.get("target_schema_version") or kind.schema_version
        data = kind.upcast(dict(correction.data["data"]), stored_version)
        if correction.data.get("occurred_at"):
            occurred = Moment.parse(correction.data["occurred_at"])
            precision = occurred.default_precision()
        if correction.data.get("occurred_precision"):
            precision = Precision(correction.data["occurred_precision"])
    return Entry(
        event=fact,
        data=data,
        occurred=occurred,
        precision=precision,
        corrections=tuple(corrections),
        annotations=tuple(sorted(meta.annotations, key=lambda e: e.version)),
        assessment=meta.assessment,
    )
