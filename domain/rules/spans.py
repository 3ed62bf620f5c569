"""The spans and periods the recurring rules count over, and when the child was born.

Positions are indexes into `CaseAtMoment.entries` (business-time order); spans and births are
found from the case's index of entries by type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from domain.rules.base import CaseAtMoment
from domain.selection import Entry


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
    None while unborn. A birth is recorded as `PersonDetailsChanged` with `unborn: false`."""
    born: int | None = None
    for position in case.positions("CaseOpened", "PersonDetailsChanged"):
        entry = case.entries[position]
        if entry.type == "CaseOpened":
            unborn = entry.data["child"].get("unborn")
        elif entry.type == "PersonDetailsChanged" and entry.data.get("unborn") is not None:
            unborn = entry.data["unborn"]
        else:
            continue
        if unborn:
            born = None
        elif born is None:
            born = position
    return born
