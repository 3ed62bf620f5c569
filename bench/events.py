"""Realistic events for both sides of every measure: the catalogue's example payloads.

The payloads come from `tests/examples.py` through `tests.support.event` (the benchmark runs
from the repository root). A case gathers a repeating mix of contacts, visits, concerns and
their follow-ups, the child's voice, meetings and minutes, information sharing, supervision and
case notes, each dated a little later than the last.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from tests.support import event

# ConcernObserved comes before the types that name a concern ({target} in their payloads).
CYCLE = (
    "ContactReceived",
    "ContactDecisionMade",
    "VisitMade",
    "ConcernObserved",
    "ConcernFollowedUp",
    "ChildsVoiceRecorded",
    "MeetingHeld",
    "MinutesRecorded",
    "MinutesCirculated",
    "InformationShared",
    "SupervisionHeld",
    "CaseNoteRecorded",
)
OPENED_ON = date(2010, 1, 4)

Event = dict[str, Any]


class EventStream:
    """The events one case gathers, in order, each with a fresh id."""

    def __init__(self) -> None:
        self.count = 0
        self.last_concern: str | None = None

    def opened(self) -> Event:
        return event("CaseOpened", OPENED_ON.isoformat())

    def next(self) -> Event:
        kind = CYCLE[self.count % len(CYCLE)]
        occurred = OPENED_ON + timedelta(days=1 + self.count // 3)
        self.count += 1
        posted = event(kind, occurred.isoformat(), target=self.last_concern)
        if kind == "ConcernObserved":
            self.last_concern = posted["id"]
        return posted

    def take(self, n: int) -> list[Event]:
        return [self.next() for _ in range(n)]
