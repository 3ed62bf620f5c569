"""`assessment-overdue`: a referral whose assessment is not completed within 45 working days
(DOMAIN.md §4); a recorded delay reason lowers the severity, it does not clear the alert."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from domain.rules.base import (
    Alert,
    CaseAtMoment,
    Severity,
    Timescale,
    day_text,
    deadline_alert,
    is_referral,
    referral_words,
    working_days_due,
)
from domain.selection import Entry
from domain.state import EPISODE_CLOSERS
from domain.values import AlertRule

WORKING_DAYS = Timescale(
    AlertRule.ASSESSMENT_OVERDUE,
    "working_days",
    45,
    "working days",
    "Working Together to Safeguard Children 2023: an assessment concludes within 45 working "
    "days of the referral",
)
TIMESCALES = (WORKING_DAYS,)

ASSESSMENT_TYPES = frozenset(
    {"AssessmentStarted", "AssessmentCompleted", "AssessmentDelayRecorded"}
)


@dataclass
class _Referral:
    """A referral's clock and what the record says about its assessment."""

    referral: Entry
    started: Entry | None = None
    completed: Entry | None = None
    closed: Entry | None = None
    delays: list[Entry] = field(default_factory=list)


def check(case: CaseAtMoment) -> list[Alert]:
    return [_alert(case, r) for r in _referrals(case.entries)]


def _referrals(entries: Sequence[Entry]) -> list[_Referral]:
    """Each referral with its assessment. An assessment belongs to the referral its start names,
    else to the latest referral of the open episode (the catalogue's default)."""
    every: list[_Referral] = []
    referrals: dict[str, _Referral] = {}  # by referral_id, as accepted so far
    # assessment_id -> the referral it belongs to (None: one this case does not hold)
    owner: dict[str, _Referral | None] = {}
    in_episode: list[_Referral] = []  # the referrals of the open episode, latest last
    for entry in entries:
        if is_referral(entry):
            known = referrals.get(entry.data["referral_id"])
            if known is not None and known in in_episode:
                continue  # the same referral recorded again: one clock (as repeat-referral sees)
            referral = referrals[entry.data["referral_id"]] = _Referral(entry)
            every.append(referral)
            in_episode.append(referral)
        elif entry.type in EPISODE_CLOSERS:
            for open_referral in in_episode:
                open_referral.closed = entry
            in_episode = []
        elif entry.type in ASSESSMENT_TYPES:
            assessment_id = entry.data["assessment_id"]
            if assessment_id not in owner:
                owner[assessment_id] = _owner(entry, referrals, in_episode)
            if (owned_by := owner[assessment_id]) is not None:
                _attach(owned_by, entry)
    return every


def _owner(
    entry: Entry, referrals: dict[str, _Referral], in_episode: list[_Referral]
) -> _Referral | None:
    named = entry.data.get("referral_id")
    if named is None:
        return in_episode[-1] if in_episode else None
    # A referral accepted only later, or not in this case, starts no clock this assessment stops.
    return referrals.get(named)


def _attach(referral: _Referral, entry: Entry) -> None:
    if entry.type == "AssessmentStarted":
        referral.started = referral.started or entry
    elif entry.type == "AssessmentCompleted":
        referral.completed = referral.completed or entry
    else:
        referral.delays.append(entry)


def _alert(case: CaseAtMoment, r: _Referral) -> Alert:
    referral = r.referral
    due_at = working_days_due(referral.occurred.london_date, case.number(WORKING_DAYS))
    words = referral_words(referral)
    message = (
        f"{words[:1].upper()}{words[1:]} has no completed assessment: due by {day_text(due_at)}"
    )
    severity = Severity.WARNING
    if r.delays:
        # Working Together 2023: the reason for going beyond 45 days is recorded; the delay is
        # still a delay, so the alert stays, at a lower severity.
        severity = Severity.INFO
        message += f" (reason for delay recorded on {day_text(r.delays[-1].occurred.instant)})"
    event_ids = [referral.id, *(e.id for e in (r.started, *r.delays) if e is not None)]
    return deadline_alert(
        case,
        AlertRule.ASSESSMENT_OVERDUE,
        severity,
        message,
        event_ids,
        due_at,
        min(
            (e for e in (r.completed, r.closed) if e is not None), key=Entry.sort_key, default=None
        ),
    )
