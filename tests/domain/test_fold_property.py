"""The state fold against a reference selection written here (DESIGN.md "Time: two axes").

Whatever a case's history, the state `as_of`/`known_at` must be the fold of exactly the entries a
plain reading of the design selects, whatever order the events arrive in; and adding what happened
after `as_of`, or what was recorded after `known_at`, never changes it.
"""

from __future__ import annotations

import copy
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import domain.event_types  # noqa: F401  (registers the catalogue)
from domain.catalogue import Significance
from domain.chronology import Chronology, chronology
from domain.envelope import RecordedEvent
from domain.moments import LONDON, Moment, Precision, format_utc
from domain.selection import Entry
from domain.state import CaseState, NothingRecorded, case_state, fold
from tests.examples import VALID_PAYLOADS

CASE_ID = UUID("0b7f5f0e-8d4e-4a55-9d1c-3c2b4f1a9e01")
LA = "csc:barsetshire"
SCHOOL = "school:st-marys-primary"
HEALTH = "health:kent-community-health"

FACT_TYPES = (
    "ReferralAccepted",
    "CaseClosed",
    "CaseReopened",
    "ChildInNeedPlanStarted",
    "ChildInNeedPlanEnded",
    "ChildProtectionPlanStarted",
    "ChildProtectionPlanEnded",
    "PeriodOfCareStarted",
    "PeriodOfCareEnded",
    "SteppedDownToEarlyHelp",
    "WorkerAllocated",
    "ConcernObserved",
    "ConcernFollowedUp",
    "VisitMade",
    "ChildsVoiceRecorded",
    "AgencyInvolvementStarted",
    "AgencyInvolvementEnded",
)
# Entries about entries: selected by known_at alone, applied to their target.
META_TYPES = ("EntryCorrected", "EntryRetracted", "SignificanceAssessed", "EntryAnnotated")

# What both `@st.composite` and `st.data()` hand over for drawing values.
Draw = Callable[[st.SearchStrategy[Any]], Any]

FIRST_DAY, LAST_DAY = date(2013, 1, 1), date(2015, 12, 31)
RECORDING_STARTS = datetime(2013, 1, 1, 9, 0, tzinfo=UTC)


# --- building stored events ---


def _recorded_event(
    version: int,
    kind: str,
    occurred_at: str,
    recorded_at: datetime,
    data: dict[str, Any],
    agency: str = LA,
) -> RecordedEvent:
    precision = Moment.parse(occurred_at).default_precision().value
    entry = {
        "id": str(uuid4()),
        "type": kind,
        "schema_version": 1,
        "occurred_at": occurred_at,
        "occurred_precision": precision,
        "recorded_at": recorded_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "recorded_by": {
            "sub": "w",
            "name": "A Worker",
            "agency": agency,
            "roles": ["practitioner"],
        },
        "author": None,
        "source": None,
        "sensitivity": "normal",
        "data": data,
        "hash": f"hash-{version}",
    }
    return RecordedEvent.from_entry(CASE_ID, version, version + 1000, entry)


@st.composite
def occurred_texts(draw: st.DrawFn) -> str:
    """A date, a London midnight written as a date-time (same instant as the date), or a time."""
    day = draw(st.dates(min_value=FIRST_DAY, max_value=LAST_DAY))
    form = draw(st.sampled_from(("date", "date", "midnight", "time")))
    if form == "date":
        return day.isoformat()
    if form == "midnight":
        return datetime.combine(day, time.min, LONDON).isoformat()
    hour = draw(st.integers(min_value=0, max_value=23))
    return datetime.combine(day, time(hour, 30), UTC).isoformat()


def _payload(draw: Draw, kind: str, earlier: Sequence[RecordedEvent]) -> dict[str, Any]:
    data = copy.deepcopy(VALID_PAYLOADS[kind])
    if kind == "CaseOpened":
        data["local_authority"] = LA
        data["child"]["name"] = draw(
            st.sampled_from(("Amy Smith", "Amy Smith-Jones", "Amie Smith"))
        )
    elif kind == "WorkerAllocated":
        data["worker"] = draw(st.sampled_from(("Sam Patel", "Jo Wright", "Ann Worker")))
        data["team"] = draw(st.sampled_from(("Assessment", "Child Protection")))
    elif kind == "ConcernObserved":
        data["category"] = draw(st.sampled_from(("bruising", "neglect", "missing", "other")))
        data["follow_up_required"] = draw(st.booleans())
    elif kind == "ConcernFollowedUp":
        concerns = [e.id for e in earlier if e.type == "ConcernObserved"]
        data["concern_event_id"] = draw(st.sampled_from(concerns)) if concerns else str(uuid4())
    elif kind == "VisitMade":
        seen = draw(st.booleans())
        data["child_seen"] = seen
        data["seen_alone"] = seen and draw(st.booleans())
    elif kind in ("AgencyInvolvementStarted", "AgencyInvolvementEnded"):
        data["agency"] = draw(st.sampled_from((SCHOOL, HEALTH)))
    return data


@st.composite
def histories(draw: st.DrawFn, max_events: int = 18) -> list[RecordedEvent]:
    """A CaseOpened and what followed, in version order, `recorded_at` never going back."""
    recorded = RECORDING_STARTS + timedelta(hours=draw(st.integers(0, 24 * 30)))
    events = [
        _recorded_event(
            1, "CaseOpened", draw(occurred_texts()), recorded, _payload(draw, "CaseOpened", [])
        )
    ]
    for version in range(2, draw(st.integers(min_value=0, max_value=max_events)) + 2):
        # Batches share one recording time: a zero step is as likely as a later one.
        step = draw(st.sampled_from((0, 0, 1, 20, 24 * 7, 24 * 60)))
        recorded += timedelta(hours=step)
        facts = [e for e in events if e.type not in META_TYPES]
        kind = draw(st.sampled_from(FACT_TYPES + META_TYPES))
        if kind == "EntryRetracted" and len(facts) == 1:
            kind = "EntryCorrected"  # CaseOpened is corrected, never retracted
        agency = draw(st.sampled_from((LA, LA, SCHOOL)))
        if kind in META_TYPES:
            choices = facts[1:] if kind == "EntryRetracted" else facts
            target = draw(st.sampled_from(choices))
            data = _meta_payload(draw, kind, target, events)
            occurred = recorded.isoformat()
        else:
            data = _payload(draw, kind, events)
            occurred = draw(occurred_texts())
        events.append(_recorded_event(version, kind, occurred, recorded, data, agency))
    return events


def _meta_payload(
    draw: Draw, kind: str, target: RecordedEvent, earlier: Sequence[RecordedEvent]
) -> dict[str, Any]:
    data: dict[str, Any] = {"target_event_id": target.id}
    if kind == "EntryCorrected":
        data["data"] = _payload(draw, target.type, earlier)
        if draw(st.booleans()):
            data["occurred_at"] = draw(occurred_texts())
        if draw(st.integers(0, 3)) == 0:
            data["occurred_precision"] = draw(st.sampled_from(("month", "approximate")))
        data["reason"] = "Recorded wrongly"
    elif kind == "EntryRetracted":
        data["reason"] = "Recorded on the wrong child's case"
    elif kind == "SignificanceAssessed":
        data["significance"] = draw(st.sampled_from(("routine", "significant", "critical")))
        data["rationale"] = draw(st.sampled_from(("Pattern of missed visits", "Minor")))
    else:
        data["note"] = draw(st.sampled_from(("Mum later said it was PE", "Checked")))
    return data


@st.composite
def bounds(draw: st.DrawFn, events: Sequence[RecordedEvent]) -> datetime:
    """A time to ask about: often exactly on, or a microsecond either side of, an event's time."""
    edges = [e.recorded_at for e in events] + [e.occurred.instant for e in events]
    edges += [
        Moment.parse(e.data["occurred_at"]).instant
        for e in events
        if e.type == "EntryCorrected" and e.data.get("occurred_at")
    ]
    anywhere = st.datetimes(
        min_value=datetime(2012, 12, 1), max_value=datetime(2016, 12, 31), timezones=st.just(UTC)
    )
    near = st.builds(
        lambda edge, nudge: edge + timedelta(microseconds=nudge),
        st.sampled_from(edges),
        st.sampled_from((-1, 0, 0, 1)),
    )
    return draw(st.one_of(near, anywhere))


# --- the reference: DESIGN.md "Time: two axes", read plainly ---


def reference_entries(
    events: Iterable[RecordedEvent], *, as_of: datetime, known_at: datetime
) -> list[Entry]:
    """What a view sees, selected the simple way, with none of domain.selection's code."""
    known = sorted((e for e in events if e.recorded_at <= known_at), key=lambda e: e.version)
    acting_on: dict[str, list[RecordedEvent]] = defaultdict(list)
    for event in known:
        if event.type in META_TYPES:
            acting_on[str(event.data["target_event_id"])].append(event)
    selected: list[Entry] = []
    for fact in known:
        if fact.type in META_TYPES:
            continue
        acts = acting_on[fact.id]  # in version order
        if any(a.type == "EntryRetracted" for a in acts):
            continue
        corrections = [a for a in acts if a.type == "EntryCorrected"]
        data, occurred, precision = fact.data, fact.occurred, fact.precision
        # Each correction replaces the payload; a date it gives stays corrected until a later
        # correction gives another (a correction of a typo does not undo a corrected date).
        for correction in corrections:
            data = correction.data["data"]
            if correction.data.get("occurred_at"):
                occurred = Moment.parse(correction.data["occurred_at"])
                precision = Precision.DAY if occurred.is_date else Precision.EXACT
            if correction.data.get("occurred_precision"):
                precision = Precision(correction.data["occurred_precision"])
        assessments = [a for a in acts if a.type == "SignificanceAssessed"]
        # The case's opening is what makes it a case: it is in every view of it, whatever as_of.
        if fact.type != "CaseOpened" and occurred.instant > as_of:
            continue
        selected.append(
            Entry(
                event=fact,
                data=data,
                occurred=occurred,
                precision=precision,
                corrections=tuple(corrections),
                annotations=tuple(a for a in acts if a.type == "EntryAnnotated"),
                assessment=assessments[-1] if assessments else None,
            )
        )
    selected.sort(key=lambda e: (e.type != "CaseOpened", e.occurred.instant, e.version))
    return selected


def reference_state(
    events: Sequence[RecordedEvent], *, as_of: datetime, known_at: datetime
) -> CaseState | None:
    entries = reference_entries(events, as_of=as_of, known_at=known_at)
    if not entries:
        return None
    return fold(CASE_ID, entries, as_of=as_of, known_at=known_at)


def _state(
    events: Sequence[RecordedEvent], *, as_of: datetime, known_at: datetime
) -> CaseState | None:
    try:
        return case_state(CASE_ID, events, as_of=as_of, known_at=known_at)
    except NothingRecorded:
        return None


def _without_version(state: CaseState | None) -> dict[str, Any] | None:
    return state.model_dump(exclude={"version"}) if state is not None else None


# --- the properties ---

_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(data=st.data())
def test_case_state_when_any_history_and_times_then_folds_exactly_the_reference_selection(
    data: st.DataObject,
) -> None:
    # Given any history, and any two times to ask about
    events = data.draw(histories())
    as_of = data.draw(bounds(events), label="as_of")
    known_at = data.draw(bounds(events), label="known_at")

    # When
    state = _state(events, as_of=as_of, known_at=known_at)

    # Then it is the fold of what the reference selects (nothing, before the opening is recorded)
    expected = reference_state(events, as_of=as_of, known_at=known_at)
    assert _without_version(state) == _without_version(expected)
    # and its version is the case's version as recorded by known_at
    if state is not None:
        assert state.version == max(e.version for e in events if e.recorded_at <= known_at)


@_SETTINGS
@given(data=st.data())
def test_case_state_when_events_given_in_any_order_then_same_state(data: st.DataObject) -> None:
    # Given any history, shuffled
    events = data.draw(histories())
    as_of = data.draw(bounds(events), label="as_of")
    known_at = data.draw(bounds(events), label="known_at")
    shuffled = list(events)
    random.Random(data.draw(st.integers(0, 2**32), label="seed")).shuffle(shuffled)

    # When
    in_order = _state(events, as_of=as_of, known_at=known_at)
    out_of_order = _state(shuffled, as_of=as_of, known_at=known_at)

    # Then
    assert out_of_order == in_order


@_SETTINGS
@given(data=st.data())
def test_chronology_when_events_given_in_any_order_then_same_chronology(
    data: st.DataObject,
) -> None:
    # Given any history (reassessments, several corrections of one entry, annotations), shuffled
    events = data.draw(histories())
    as_of = data.draw(bounds(events), label="as_of")
    known_at = data.draw(bounds(events), label="known_at")
    shuffled = list(events)
    random.Random(data.draw(st.integers(0, 2**32), label="seed")).shuffle(shuffled)

    # When
    def ask(given: Sequence[RecordedEvent]) -> Chronology:
        return chronology(
            CASE_ID, given, as_of=as_of, known_at=known_at, min_significance=Significance.ROUTINE
        )

    # Then the same lines, the same significance, the same corrections in the same order
    assert ask(shuffled) == ask(events)


@_SETTINGS
@given(data=st.data())
def test_case_state_when_later_happenings_added_then_state_as_of_unchanged(
    data: st.DataObject,
) -> None:
    # Given a history, a date D, and facts that happened after D, recorded later still
    events = data.draw(histories())
    as_of = data.draw(bounds(events), label="as_of")
    known_at = max(e.recorded_at for e in events) + timedelta(days=data.draw(st.integers(0, 400)))
    recorded = max(e.recorded_at for e in events)
    later: list[RecordedEvent] = []
    for version in range(len(events) + 1, len(events) + 1 + data.draw(st.integers(1, 6))):
        kind = data.draw(st.sampled_from(FACT_TYPES), label="kind")
        after_d = as_of.astimezone(LONDON).date() + timedelta(days=1)
        day = data.draw(
            st.dates(min_value=after_d, max_value=after_d + timedelta(days=900)), label="occurred"
        )
        later.append(
            _recorded_event(
                version, kind, day.isoformat(), recorded, _payload(data.draw, kind, events)
            )
        )

    # When
    before = _state(events, as_of=as_of, known_at=known_at)
    after = _state([*events, *later], as_of=as_of, known_at=known_at)

    # Then nothing about the case as of D has changed but the record's version
    assert _without_version(after) == _without_version(before)


@_SETTINGS
@given(data=st.data())
def test_case_state_when_later_recordings_added_then_state_known_at_unchanged(
    data: st.DataObject,
) -> None:
    # Given a history, two times, and more events (corrections and retractions of earlier
    # entries included) recorded after known_at
    events = data.draw(histories())
    as_of = data.draw(bounds(events), label="as_of")
    known_at = data.draw(bounds(events), label="known_at")
    longer = data.draw(histories(max_events=30))
    start = max(known_at, events[-1].recorded_at) + timedelta(microseconds=1)
    extra = [
        _rerecorded(e, len(events) + i, start + (e.recorded_at - longer[1].recorded_at))
        for i, e in enumerate(longer[1:], start=1)
    ]
    # Retarget the extra corrections and retractions at entries of this history.
    facts = [e for e in events if e.type not in META_TYPES]
    extra = [_retargeted(e, facts, data) for e in extra]

    # When
    before = _state(events, as_of=as_of, known_at=known_at)
    after = _state([*events, *extra], as_of=as_of, known_at=known_at)

    # Then the record as it stood at known_at is unchanged, version and all
    assert after == before


def _rerecorded(event: RecordedEvent, version: int, recorded_at: datetime) -> RecordedEvent:
    entry = {**event.entry, "recorded_at": format_utc(recorded_at)}
    return RecordedEvent.from_entry(CASE_ID, version, version + 1000, entry)


def _retargeted(
    event: RecordedEvent, facts: Sequence[RecordedEvent], data: st.DataObject
) -> RecordedEvent:
    if event.type not in META_TYPES:
        return event
    choices = facts[1:] if event.type == "EntryRetracted" else facts
    if not choices:
        return event
    target = data.draw(st.sampled_from(choices), label="target")
    meta = dict(event.entry["data"])
    meta["target_event_id"] = target.id
    if event.type == "EntryCorrected":
        meta["data"] = copy.deepcopy(dict(target.data))
        if target.type == "CaseOpened":
            meta["data"]["child"]["name"] = "Corrected Name"
    entry = {**event.entry, "data": meta}
    return RecordedEvent.from_entry(CASE_ID, event.version, event.position, entry)


def test_reference_selection_when_correction_moves_entry_then_orders_by_corrected_date() -> None:
    # Given a concern on 10 June, a visit on 20 June, and a correction moving the concern to 25 June
    at = datetime(2013, 7, 1, 12, tzinfo=UTC)
    opened = _recorded_event(1, "CaseOpened", "2013-05-16", at, _fixed("CaseOpened"))
    concern = _recorded_event(2, "ConcernObserved", "2013-06-10", at, _fixed("ConcernObserved"))
    visit = _recorded_event(3, "VisitMade", "2013-06-20", at, _fixed("VisitMade"))
    moved = _recorded_event(
        4,
        "EntryCorrected",
        "2013-07-01",
        at,
        {
            "target_event_id": concern.id,
            "data": _fixed("ConcernObserved"),
            "occurred_at": "2013-06-25",
            "reason": "Wrong date",
        },
    )
    events = [opened, concern, visit, moved]

    # When
    entries = reference_entries(events, as_of=at, known_at=at)
    selected = [e.type for e in entries]
    production = case_state(CASE_ID, events, as_of=at, known_at=at)

    # Then the reference itself behaves as the design says, and production agrees with it
    assert selected == ["CaseOpened", "VisitMade", "ConcernObserved"]
    assert entries[2].occurred.text == "2013-06-25"
    assert production.open_concerns[0].occurred_at == "2013-06-25"


def _fixed(kind: str) -> dict[str, Any]:
    data = copy.deepcopy(VALID_PAYLOADS[kind])
    if kind == "CaseOpened":
        data["local_authority"] = LA
    return data


@pytest.mark.parametrize("known_days", [0, 1])
def test_case_state_when_known_at_before_opening_recorded_then_nothing_recorded(
    known_days: int,
) -> None:
    # Given a case opened (recorded) on 17 May 2013
    at = datetime(2013, 5, 17, 12, tzinfo=UTC)
    events = [_recorded_event(1, "CaseOpened", "2013-05-16", at, _fixed("CaseOpened"))]
    known_at = at - timedelta(microseconds=1) + timedelta(microseconds=known_days)

    # When / Then the record did not hold the case a microsecond before; it did at the instant
    if known_days == 0:
        with pytest.raises(NothingRecorded):
            case_state(CASE_ID, events, as_of=at, known_at=known_at)
    else:
        assert case_state(CASE_ID, events, as_of=at, known_at=known_at).version == 1
