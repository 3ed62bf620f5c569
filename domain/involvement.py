"""The involvement summary (DOMAIN.md §5): the answer to "when were you last involved?".

Never a bare date: every episode with its dates and closure, each agency's involvement with its
lead contact, the last contact, when the child was last seen (and seen alone) and last heard, the
owning authority's last involvement, and the span of record the answer was judged on. Built on
the state's fold, so "involved", "seen" and "last involvement" mean exactly what they mean in
`GET /cases/{case_id}`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from domain.moments import LONDON, format_utc
from domain.selection import Entry, select
from domain.state import (
    CaseState,
    Episode,
    EventRef,
    Involvement,
    LastInvolvement,
    NothingRecorded,
    event_ref,
    fold,
    records_voice,
    sees_child,
    sees_child_alone,
)


class OwnerInvolvement(BaseModel):
    """The owning authority's children's social care: who holds the case, and its last
    involvement (the state's `last_involvement`)."""

    agency: str
    allocated_worker: str | None
    team: str | None
    last_involvement: LastInvolvement


class ContactRef(BaseModel):
    """The latest contact received about the child, and who made it."""

    event_id: str
    date: str
    precision: Literal["exact", "day", "month", "approximate"] = Field(
        description="How precisely `date` is known"
    )
    referrer_agency: str | None
    referrer_role: str | None


class InvolvementSummary(BaseModel):
    case_id: UUID
    as_of: str
    known_at: str
    child: dict[str, Any]
    status: Literal["contact", "open", "closed"]
    owning_authority: OwnerInvolvement
    episodes: list[Episode]
    agencies: list[Involvement]
    last_contact: ContactRef | None
    last_seen: EventRef | None
    last_seen_alone: EventRef | None
    last_voice_recorded: EventRef | None
    covers_from: str
    covers_to: str
    recorded_up_to: str
    answer: str  # the same, in words, for a letter or a phone call


def involvement_summary(
    case_id: UUID,
    events: Iterable[Any],
    *,
    as_of: datetime,
    known_at: datetime,
    withheld: frozenset[str] = frozenset(),
) -> InvolvementSummary:
    """The summary as of `as_of`, on what was recorded by `known_at`; the entries in `withheld`
    (another agency's restricted entries, for a partner) count for when they were, never for
    what they say."""
    events = list(events)
    entries = select(events, as_of=as_of, known_at=known_at)
    if not entries or entries[0].type != "CaseOpened":
        raise NothingRecorded(case_id)
    version = max(e.version for e in events if e.recorded_at <= known_at)
    state = fold(
        case_id, entries, as_of=as_of, known_at=known_at, version=version, withheld=withheld
    )
    happened = [e for e in entries if e.occurred.instant <= as_of]
    summary = InvolvementSummary(
        case_id=case_id,
        as_of=format_utc(as_of),
        known_at=format_utc(known_at),
        child=state.child,
        status=state.status,
        owning_authority=OwnerInvolvement(
            agency=state.local_authority,
            allocated_worker=state.allocated_worker,
            team=state.team,
            last_involvement=state.last_involvement,
        ),
        episodes=state.episodes,
        agencies=state.involved_agencies,
        last_contact=_contact(_latest(happened, lambda e: e.type == "ContactReceived"), withheld),
        last_seen=_last(happened, sees_child),
        last_seen_alone=_last(happened, sees_child_alone),
        last_voice_recorded=_last(happened, records_voice),
        covers_from=state.last_involvement.covers_from,
        covers_to=state.last_involvement.covers_to,
        recorded_up_to=state.last_involvement.recorded_up_to,
        answer="",
    )
    first = min(happened, key=lambda e: e.occurred.instant, default=None)
    voice = _latest(happened, lambda e: records_voice(e) or e.type == "ChildsVoiceNotObtained")
    summary.answer = answer(
        summary,
        state,
        first.precision.value if first else None,
        views_not_obtained=event_ref(voice) if voice and not records_voice(voice) else None,
    )
    return summary


def _latest(entries: list[Entry], matches: Callable[[Entry], bool]) -> Entry | None:
    return next((e for e in reversed(entries) if matches(e)), None)


def _last(entries: list[Entry], matches: Callable[[Entry], bool]) -> EventRef | None:
    entry = _latest(entries, matches)
    return event_ref(entry) if entry else None


def _contact(entry: Entry | None, withheld: frozenset[str]) -> ContactRef | None:
    """The contact and who made it (for a partner, not who made another agency's restricted
    contact: only that it was received, and when)."""
    if entry is None:
        return None
    referrer: Mapping[str, Any] = {} if entry.id in withheld else entry.data["referrer"]
    return ContactRef(
        event_id=entry.id,
        date=entry.occurred.text,
        precision=entry.precision.value,
        referrer_agency=referrer.get("agency"),
        referrer_role=referrer.get("role"),
    )


def _day(text: str | None) -> str:
    """A recorded date or time as its London day in words: `16 May 2013`."""
    if text is None:
        return "never"
    day = _london_day(text)
    return f"{day.day} {day.strftime('%B %Y')}"


def _london_day(text: str) -> date:
    """(Not `Moment.parse`: a time the request asked about may lie just outside the range a
    posted date may take.)"""
    if len(text) == 10:
        return date.fromisoformat(text)
    return datetime.fromisoformat(text).astimezone(LONDON).date()


def answer(
    summary: InvolvementSummary,
    state: CaseState,
    covers_from_precision: str | None = None,
    *,
    views_not_obtained: EventRef | None = None,
) -> str:
    """The summary in words: what a safeguarding hub tells a midwife on the phone
    (`covers_from_precision`: how precisely the earliest entry's date is known;
    `views_not_obtained`: why the child's views could not be obtained, recorded since their
    voice last was)."""
    owner = summary.owning_authority
    last = owner.last_involvement
    parts = []
    if last.date is None:
        parts.append(f"{owner.agency} has recorded no involvement.")
    else:
        where = f", in episode {last.episode}" if last.episode else ", outside any episode"
        when = _when(last.date, last.precision)
        parts.append(f"{owner.agency} was last involved {when} ({last.type}{where}).")
    for episode in summary.episodes:
        closed = (
            f"closed {_date(episode.closed_by.date, episode.closed_by.precision)}"
            + (f" ({episode.closure_reason})" if episode.closure_reason else "")
            if episode.closed_by
            else "open"
        )
        opened = _date(episode.opened_by.date, episode.opened_by.precision)
        parts.append(f"Episode {episode.number}: opened {opened}, {closed}.")
    if state.status == "contact":
        parts.append("No episode has been opened.")
    voice = _on(summary.last_voice_recorded)
    if views_not_obtained is not None:
        voice = "never" if summary.last_voice_recorded is None else voice
        when = _when(views_not_obtained.date, views_not_obtained.precision)
        voice += f" ({when} it was recorded why their views could not be obtained)"
    parts.append(
        f"The child was last seen {_on(summary.last_seen)}, last seen alone "
        f"{_on(summary.last_seen_alone)}, and their voice last recorded {voice}."
    )
    parts.append(
        f"This record covers {_date(summary.covers_from, covers_from_precision)} to "
        f"{_day(summary.covers_to)}, as recorded up to {_day(summary.recorded_up_to)}."
    )
    return " ".join(parts)


def _on(ref: EventRef | None) -> str:
    return "never (nothing recorded)" if ref is None else _when(ref.date, ref.precision)


def _when(text: str, precision: str | None) -> str:
    """When an entry happened, no more precisely than the record knows it: `on 16 May 2013`,
    `in May 2013` (a month-precision date), `around May 2013` (an approximate one)."""
    said = _date(text, precision)
    return {"month": f"in {said}", "approximate": said}.get(precision or "", f"on {said}")


def _date(text: str, precision: str | None) -> str:
    """A date no more precisely than the record knows it: `16 May 2013`, `May 2013` (a
    month-precision date), `around May 2013` (an approximate one)."""
    if precision in ("month", "approximate"):
        month = _london_day(text).strftime("%B %Y")
        return month if precision == "month" else f"around {month}"
    return _day(text)
