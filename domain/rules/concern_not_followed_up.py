"""`concern-not-followed-up`: a concern needing follow-up with no follow-up recorded, and no visit
seeing the child, within 1 working day (DOMAIN.md §4).

A concern raised in supervision is recorded as its own `ConcernObserved`, so it is checked here
like any partner's concern.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

from domain.rules.base import (
    Alert,
    CaseAtMoment,
    Severity,
    Timescale,
    day_text,
    deadline_alert,
    working_days_due,
)
from domain.selection import Entry
from domain.values import AlertRule, ConcernCategory

WORKING_DAYS = Timescale(
    AlertRule.CONCERN_NOT_FOLLOWED_UP,
    "working_days",
    1,
    "working days",
    "Working Together to Safeguard Children 2023: a decision within one working day of a concern "
    "being referred",
)
TIMESCALES = (WORKING_DAYS,)

# How a message names the agency that reported a concern (the KIND of KIND:NAME).
REPORTERS = {
    "csc": "children's social care",
    "school": "the school",
    "health": "health",
    "police": "the police",
    "vcs": "a voluntary organisation",
    "housing": "housing",
    "probation": "probation",
}


def check(case: CaseAtMoment) -> list[Alert]:
    follow_ups: dict[str, Entry] = {}
    for entry in case.of_type("ConcernFollowedUp"):
        follow_ups.setdefault(str(entry.data["concern_event_id"]), entry)
    visits = _Visits(e for e in case.of_type("VisitMade") if e.data["child_seen"])
    alerts = []
    for concern in case.of_type("ConcernObserved"):
        if not concern.data.get("follow_up_required", True):
            continue
        due_at = working_days_due(concern.occurred.london_date, case.number(WORKING_DAYS))
        message = f"{reported(concern)} has no recorded follow-up: due by {day_text(due_at)}"
        alerts.append(
            deadline_alert(
                case,
                AlertRule.CONCERN_NOT_FOLLOWED_UP,
                Severity.CRITICAL,
                message,
                [concern.id],
                due_at,
                _first_response(concern, follow_ups.get(concern.id), visits),
            )
        )
    return alerts


def reported(concern: Entry) -> str:
    """`Bruising reported by the school on 16 May 2013`: the category, never the description."""
    kind = concern.agency.partition(":")[0]
    return (
        f"{ConcernCategory(concern.data['category']).label} reported by "
        f"{REPORTERS.get(kind, concern.agency)} on {day_text(concern.occurred.instant)}"
    )


class _Visits:
    """The visits seeing the child, in business order, to find the first after an entry."""

    def __init__(self, visits: Iterable[Entry]) -> None:
        self.visits = list(visits)
        self._keys = [v.sort_key() for v in self.visits]

    def first_after(self, entry: Entry) -> Entry | None:
        found = bisect_right(self._keys, entry.sort_key())
        return self.visits[found] if found < len(self.visits) else None


def _first_response(concern: Entry, follow_up: Entry | None, visits: _Visits) -> Entry | None:
    """The follow-up naming the concern, or the first visit seeing the child after it: the earlier.
    A visit of any agency counts: someone saw the child after the concern was raised. "After" is
    business order: on one day given as a date, the order recorded, so the visit at which a
    bruise was first noticed does not follow it up."""
    seen = visits.first_after(concern)
    responses = [e for e in (follow_up, seen) if e is not None]
    return min(responses, key=Entry.sort_key, default=None)
