"""`sharing-omitted-concerns`: information shared with police or health that leaves out a concern
from the 12 months before it that was already on the record (DOMAIN.md §4).

A referral must not leave out an earlier report of bruising: every concern counts, followed up or
not. No deadline: breached from the share until later shares to each of the same police and
health agencies have referenced every concern it left out.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from datetime import datetime

from domain.moments import end_of_day
from domain.rules.base import (
    Alert,
    CaseAtMoment,
    Severity,
    Timescale,
    day_text,
    standing_alert,
)
from domain.rules.concern_not_followed_up import reported
from domain.selection import Entry
from domain.sharing import LOOKBACK_MONTHS, concerns_to_share, lookback_start
from domain.values import AlertRule

# DOMAIN.md marks this number neither *local* nor statutory: a fixed number, not a setting. It
# is the sharing pack's look-back (`domain.sharing`), which the rule counts with.
MONTHS = Timescale(
    AlertRule.SHARING_OMITTED_CONCERNS,
    "months",
    LOOKBACK_MONTHS,
    "months",
    "local practice (learning from child safeguarding practice reviews)",
)
TIMESCALES = (MONTHS,)

MUST_KNOW = frozenset({"police", "health"})


def check(case: CaseAtMoment) -> list[Alert]:
    shares = case.of_type("InformationShared")
    concerns = _Concerns(case.of_type("ConcernObserved"))
    alerts = []
    for position, share in enumerate(shares):
        agencies = _must_know(share)
        if not agencies:
            continue
        # The sharing pack's own definition, so a share that follows the pack raises nothing.
        referenced = _referenced(share)
        required = concerns.to_share(*_made_by(share))
        omitted = [c for c in required if c.id not in referenced]
        if not omitted:
            continue
        listed = "; ".join(_lower_first(reported(c)) for c in omitted)
        message = (
            f"Information shared with {', '.join(sorted(agencies))} on "
            f"{day_text(share.occurred.instant)} left out earlier concerns: {listed}"
        )
        alerts.append(
            standing_alert(
                AlertRule.SHARING_OMITTED_CONCERNS,
                Severity.CRITICAL,
                message,
                [share.id, *(c.id for c in omitted)],
                share.occurred.instant,
                _completed_by(shares[position + 1 :], agencies, {c.id for c in omitted}),
            )
        )
    return alerts


class _Concerns:
    """The case's concerns, sorted by when they occurred and by when they were recorded, so that
    the few a share can have to reference are found without reading the whole case."""

    def __init__(self, concerns: Sequence[Entry]) -> None:
        self._by_occurred = list(concerns)  # business order: by occurred_at
        self._occurred_at = [c.occurred.instant for c in self._by_occurred]
        self._by_recorded = sorted(concerns, key=lambda c: c.event.recorded_at)
        self._recorded_at = [c.event.recorded_at for c in self._by_recorded]

    def to_share(self, at: datetime, recorded_by: datetime) -> list[Entry]:
        """`concerns_to_share(case.entries, at, recorded_by=recorded_by)`, the pack's own
        definition, asked only of the concerns it can choose."""
        return concerns_to_share(self._candidates(at, recorded_by), at, recorded_by=recorded_by)

    def _candidates(self, at: datetime, recorded_by: datetime) -> list[Entry]:
        """In business order, the concerns that occurred in the look-back before `at`, or those
        recorded by `recorded_by`, whichever are fewer: every concern the pack holds is in
        both."""
        since = lookback_start(at)
        in_lookback = self._by_occurred[
            bisect_left(self._occurred_at, since) : bisect_right(self._occurred_at, at)
        ]
        recorded_by_then = self._by_recorded[: bisect_right(self._recorded_at, recorded_by)]
        if len(in_lookback) <= len(recorded_by_then):
            return in_lookback
        return sorted(recorded_by_then, key=Entry.sort_key)


def _made_by(share: Entry) -> tuple[datetime, datetime]:
    """When a share was made, for the concerns it had to reference: by when they occurred and by
    when they were recorded. A share entered as a date was made at some time that day: by its
    end (as the pack reads a date-only `as_of`), and no later than it was recorded, so a concern
    recorded that morning was on the record for a share recorded that afternoon."""
    if not share.occurred.is_date:
        return share.occurred.instant, share.occurred.instant
    end = end_of_day(share.occurred.london_date)
    return end, min(end, share.event.recorded_at)


def _must_know(share: Entry) -> set[str]:
    """The police and health agencies the information went to."""
    agencies = {w["agency"] for w in share.data["with"]}
    return {a for a in agencies if a.partition(":")[0] in MUST_KNOW}


def _referenced(share: Entry) -> set[str]:
    return {str(i) for i in share.data.get("concern_event_ids", ())}


def _completed_by(later: Sequence[Entry], agencies: set[str], omitted: set[str]) -> Entry | None:
    """The later share by which each agency has been sent every omitted concern, if any."""
    missing = {agency: set(omitted) for agency in agencies}
    for share in later:
        for agency in _must_know(share) & agencies:
            missing[agency] -= _referenced(share)
        if not any(missing.values()):
            return share
    return None


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
