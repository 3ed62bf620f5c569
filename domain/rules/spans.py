"""The spans and periods the recurring rules count over, and when the child was born.

Positions are indexes into `CaseAtMoment.entries` (business-time order); spans and births are
found from the case's index of entries by type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from domain.rules.base import CaseAtMoment
from domain.selection import Entry
from domain.state import EPISODE_CLOSERS, PLAN_ENDS, PLAN_STARTS, PlanKey, named_plan, plan_key


def spans(
    case: CaseAtMoment, starts: frozenset[str], ends: frozenset[str]
) -> list[tuple[int, int | None]]:
    """The positions of each span from a starting entry to the first ending entry after it
    (None while still open); a second start inside an open span does not restart it."""
    spans: list[tuple[int, int | None]] = []
    first: int | None = None
    for position in case.positions(*starts, *ends):
        kind = case.entries[position].type
        if first is None and kind in starts:
            first = position
        elif first is not None and kind in ends:
            spans.append((first, position))
            first = None
    if first is not None:
        spans.append((first, None))
    return spans


def plan_spans(case: CaseAtMoment, kind: str) -> list[tuple[int, int | None]]:
    """The positions of each span while a plan of `kind` is open, from a start while none is to
    the end of the last one open (an end closes the plan the state pairs it with: the one it
    names, or the oldest of its kind), None while still open. A start while another is open does
    not restart it. An episode's closure or transfer ends the span too, whatever plans the record
    still shows open: nobody visits or reviews on a case closed or moved away."""
    starts = {event_type for event_type, of in PLAN_STARTS.items() if of == kind}
    ends = {event_type for event_type, of in PLAN_ENDS.items() if of == kind}
    found: list[tuple[int, int | None]] = []
    open_plans: list[PlanKey] = []  # as the state pairs them, oldest first, closures or not
    counted: set[PlanKey] = set()  # those started since the last closure
    first: int | None = None
    for position in case.positions(*starts, *ends, *EPISODE_CLOSERS):
        entry = case.entries[position]
        if entry.type in EPISODE_CLOSERS:
            counted.clear()
        elif entry.type in starts:
            started = plan_key(entry)
            # A plan started again moves to the newest, as in the state.
            open_plans = [*(key for key in open_plans if key != started), started]
            counted.add(started)
            first = position if first is None else first
            continue
        else:
            closed = named_plan(open_plans, entry)
            if closed is None:
                continue
            counted.discard(open_plans.pop(closed))
        if first is not None and not counted:
            found.append((first, position))
            first = None
    if first is not None:
        found.append((first, None))
    return found


def closed_starts(case: CaseAtMoment, kind: str) -> dict[int, Entry | None]:
    """For the position of each end of a plan of `kind`, the start of the plan it closes, paired
    as the state pairs them (the plan it names, else the oldest open of its kind); None for an
    end that closes no open plan."""
    starts = {event_type for event_type, of in PLAN_STARTS.items() if of == kind}
    ends = {event_type for event_type, of in PLAN_ENDS.items() if of == kind}
    open_plans: list[tuple[PlanKey, Entry]] = []  # oldest first
    closed: dict[int, Entry | None] = {}
    for position in case.positions(*starts, *ends):
        entry = case.entries[position]
        if entry.type in starts:
            started = plan_key(entry)
            open_plans = [*((k, s) for k, s in open_plans if k != started), (started, entry)]
            continue
        at = named_plan([key for key, _ in open_plans], entry)
        closed[position] = None if at is None else open_plans.pop(at)[1]
    return closed


def decided_plan_ends(case: CaseAtMoment, conference: Entry) -> frozenset[int]:
    """The positions of the `ChildProtectionPlanEnded` entries that end the plan `conference`
    (an initial conference deciding one) decided: those closing a plan whose start names the
    conference (`conference_id`), or closing none. If no plan's start names it, the plans cannot
    be told apart, and every end counts."""
    conference_id = conference.data["conference_id"]
    closed = closed_starts(case, "child_protection")
    started_there = any(
        start.data["conference_id"] == conference_id
        for start in case.of_type("ChildProtectionPlanStarted")
    )
    return frozenset(
        position
        for position, start in closed.items()
        if not started_there or start is None or start.data["conference_id"] == conference_id
    )


def periods(
    entries: Sequence[Entry], first: int, last: int | None, counts: Callable[[Entry], bool]
) -> Iterator[tuple[Entry, Entry | None]]:
    """The periods of a span (positions `first` to `last`): each starts at the span's start or
    at an entry that `counts`, and ends at the next one that counts, or at the span's end (None
    while still open)."""
    start = entries[first]
    for entry in entries[first + 1 : last]:
        if counts(entry):
            yield start, entry
            start = entry
    yield start, None if last is None else entries[last]


def born_from(case: CaseAtMoment) -> int | None:
    """The position since which the child has been born (0, the opening, if never unborn);
    None while unborn (`unborn_at`)."""
    born: int | None = None
    for position in case.positions("CaseOpened", "PersonDetailsChanged"):
        unborn = unborn_at(case.entries[position])
        if unborn:
            born = None
        elif unborn is not None and born is None:
            born = position
    return born


def unborn_at(entry: Entry) -> bool | None:
    """Whether the child is unborn from this entry on, or None if it does not say. A case opened
    for a child with an expected date of birth and none of their own is a case of an unborn
    child, marked or not; a birth is a `PersonDetailsChanged` with `unborn: false`, or giving
    the date of birth."""
    if entry.type == "CaseOpened":
        child = entry.data["child"]
        return bool(child.get("unborn")) or child.get("date_of_birth") is None
    if entry.type != "PersonDetailsChanged":
        return None
    if entry.data.get("unborn") is not None:
        return bool(entry.data["unborn"])
    return False if entry.data.get("date_of_birth") is not None else None
