"""The sharing pack: what an outgoing referral or share with another agency must carry.

Every concern of the 12 months before now (followed up or not — a referral must not leave out
an earlier report of bruising), every significant event in that time, and the open alerts. An
`InformationShared` whose `concern_event_ids` lists the pack's concerns resolves the
`sharing-omitted-concerns` alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.catalogue import Significance
from domain.chronology import ChronologyEntry, chronology
from domain.envelope import RecordedEvent
from domain.moments import LONDON, format_utc, months_after, start_of_day
from domain.selection import Entry, select

LOOKBACK_MONTHS = 12


def lookback_start(at: datetime, months: int = LOOKBACK_MONTHS) -> datetime:
    """The start of the London day `months` calendar months before `at`."""
    return start_of_day(months_after(at.astimezone(LONDON).date(), -months))


def concerns_to_share(
    entries: Sequence[Entry], at: datetime, *, recorded_by: datetime | None = None
) -> list[Entry]:
    """The concerns a share at `at` must reference: every `ConcernObserved` that occurred in
    the 12 months before it and was recorded before it (by `recorded_by`, where that is
    earlier: a share dated to a day, judged at its end, was made by the time it was recorded),
    followed up or not."""
    since = lookback_start(at)
    recorded_by = at if recorded_by is None else recorded_by
    return [
        e
        for e in entries
        if e.type == "ConcernObserved"
        and since <= e.occurred.instant <= at
        and e.event.recorded_at <= recorded_by
    ]


@dataclass(frozen=True)
class PackConcern:
    event_id: str
    occurred_at: str
    category: str
    description: str
    agency: str
    sensitivity: str
    followed_up_by: str | None  # the ConcernFollowedUp, if any
    already_shared: bool  # an earlier share with this agency referenced it


@dataclass(frozen=True)
class SharingPack:
    case_id: str
    for_agency: str
    as_of: str
    known_at: str
    period_from: str
    period_to: str
    concerns: list[PackConcern]
    concern_event_ids: list[str]  # ready for `InformationShared.concern_event_ids`
    significant_events: list[ChronologyEntry]


def sharing_pack(
    case_id: UUID,
    events: Sequence[RecordedEvent],
    *,
    for_agency: str,
    as_of: datetime,
    known_at: datetime,
) -> SharingPack:
    """The pack for a share with `for_agency` at `as_of`, on what was recorded by `known_at`."""
    entries = select(events, as_of=as_of, known_at=known_at)
    since = lookback_start(as_of)
    # The entries were recorded by `known_at`: the window is the share's, at `as_of`.
    concerns = concerns_to_share(entries, as_of)
    followed = {
        str(e.data["concern_event_id"]): e.id for e in entries if e.type == "ConcernFollowedUp"
    }
    shared_before = {
        str(c)
        for e in entries
        if e.type == "InformationShared"
        and any(w.get("agency") == for_agency for w in e.data.get("with", ()))
        for c in e.data.get("concern_event_ids", ())
    }
    lines = chronology(
        case_id,
        events,
        as_of=as_of,
        known_at=known_at,
        min_significance=Significance.SIGNIFICANT,
    ).entries
    in_period = {e.id for e in entries if e.occurred.instant >= since}
    return SharingPack(
        case_id=str(case_id),
        for_agency=for_agency,
        as_of=format_utc(as_of),
        known_at=format_utc(known_at),
        period_from=format_utc(since),
        period_to=format_utc(as_of),
        concerns=[
            PackConcern(
                event_id=c.id,
                occurred_at=c.occurred.text,
                category=str(c.data["category"]),
                description=str(c.data["description"]),
                agency=c.agency,
                sensitivity=c.event.sensitivity,
                followed_up_by=followed.get(c.id),
                already_shared=c.id in shared_before,
            )
            for c in concerns
        ],
        concern_event_ids=[c.id for c in concerns],
        significant_events=[line for line in lines if line.event_id in in_period],
    )
