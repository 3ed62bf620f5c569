"""The chronology: the significant events of a child's life in the order they happened.

See DOMAIN.md §3.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.access import is_withheld, shared_with, withheld_from
from domain.calendar import working_days_between
from domain.catalogue import Significance, catalogue
from domain.envelope import RESTRICTED, RecordedEvent
from domain.moments import LONDON, display, format_utc
from domain.selection import Entry, select

# The CSV export's columns, in order (documented in the README).
CSV_COLUMNS = (
    "seq",
    "date",
    "occurred_at",
    "occurred_precision",
    "type",
    "headline",
    "agency",
    "author",
    "significance",
    "significance_rationale",
    "action",
    "recorded_by",
    "recorded_at",
    "late_by_days",
    "corrections",
    "event_id",
)


@dataclass(slots=True)
class SignificanceAssessment:
    significance: str
    rationale: str
    event_id: str
    assessed_by: str


@dataclass(slots=True)
class Correction:
    event_id: str
    reason: str
    recorded_at: str
    recorded_by: str


@dataclass(slots=True)
class Annotation:
    event_id: str
    note: str
    recorded_at: str
    recorded_by: str


@dataclass(slots=True)
class ChronologyEntry:
    """One line of the chronology."""

    seq: int
    event_id: str
    type: str
    date: str
    occurred_at: str
    occurred_precision: str
    headline: str
    agency: str
    author: dict[str, Any] | None
    source: dict[str, Any] | None
    significance: str
    significance_assessment: SignificanceAssessment | None
    action: str | None
    recorded_by: dict[str, Any]
    recorded_at: str
    late_by_days: int | None
    corrections: list[Correction]
    annotations: list[Annotation]
    restricted: bool = False

    def csv_row(self) -> list[str]:
        return [
            str(self.seq),
            self.date,
            self.occurred_at,
            self.occurred_precision,
            self.type,
            self.headline,
            self.agency,
            _person(self.author),
            self.significance,
            self.significance_assessment.rationale if self.significance_assessment else "",
            self.action or "",
            _person(self.recorded_by),
            self.recorded_at,
            "" if self.late_by_days is None else str(self.late_by_days),
            "; ".join(f"{c.reason} ({c.recorded_at})" for c in self.corrections),
            self.event_id,
        ]


@dataclass(slots=True)
class Chronology:
    """A case's chronology as of a date, on what was recorded by `known_at`."""

    case_id: UUID
    as_of: str
    known_at: str
    entries: list[ChronologyEntry]


def chronology(
    case_id: UUID,
    events: Iterable[RecordedEvent],
    *,
    as_of: datetime,
    known_at: datetime,
    min_significance: Significance = Significance.SIGNIFICANT,
    agency: str | None = None,
    types: Sequence[str] = (),
    partner: str | None = None,
) -> Chronology:
    """The chronology; for a `partner` agency, its proportionate view: entries of significance
    `significant` and above, in full its own and those shared with it, and other agencies'
    restricted entries as placeholders."""
    # In the order they happened: the fold puts `CaseOpened` first whatever its date, but a case
    # may record what happened before it was opened. It is selected whatever its date too (it
    # carries the child's identity); as of a day before it, the case had not been opened.
    events = list(events)
    entries = sorted(
        (e for e in select(events, as_of=as_of, known_at=known_at) if e.occurred.instant <= as_of),
        key=lambda e: (e.occurred.instant, e.version),
    )
    # What is restricted is judged now, as access is: an entry a restricted correction made
    # restricted stays a placeholder when asked `known_at` before that correction (as in the
    # state), or the partner would read what was since restricted.
    restricted = withheld_from(events, partner) if partner else frozenset()
    hidden = {e.id for e in entries if e.id in restricted}
    # What was done about an entry, never from a restricted entry the partner may not read.
    actions = _actions([e for e in entries if e.id not in hidden])
    shared = shared_with(entries, partner) if partner else set()
    lines: list[ChronologyEntry] = []
    for entry in entries:
        withheld = entry.id in hidden
        if types and entry.type not in types:
            continue
        # A placeholder says nothing its payload decides: not the source agency, not the
        # significance (a bruising concern is critical, a neglect one significant).
        source = entry.agency if withheld else _source_agency(entry)
        if agency and source != agency:
            continue
        if withheld:
            significance = catalogue[entry.type].significance
        elif partner and entry.assessment and is_withheld(entry.assessment, partner):
            # A restricted reassessment's level is its content too: the entry keeps its own.
            significance = catalogue[entry.type].default_significance(entry.data)
        else:
            significance = entry.significance
        if significance < min_significance:
            continue
        proportionate = entry.id in shared or significance >= Significance.SIGNIFICANT
        if partner is not None and not proportionate:
            continue
        seq = len(lines) + 1
        if withheld:
            lines.append(_placeholder(seq, entry, significance))
        else:
            lines.append(_line(seq, entry, significance, actions.get(entry.id), partner))
    return Chronology(
        case_id=case_id, as_of=format_utc(as_of), known_at=format_utc(known_at), entries=lines
    )


def _source_agency(entry: Entry) -> str:
    """Where the information came from: the author's agency if given, the referrer's for a
    contact, else the recorder's. (Who wrote an entry, `Entry.agency`, ignores the referrer.)"""
    event = entry.event
    if not (event.author and event.author.get("agency")) and entry.type == "ContactReceived":
        referrer = entry.data.get("referrer", {}).get("agency")
        if referrer:
            return str(referrer)
    return entry.agency


def _placeholder(seq: int, entry: Entry, significance: Significance) -> ChronologyEntry:
    """What a partner sees of another agency's restricted entry: its date and type."""
    return ChronologyEntry(
        seq=seq,
        event_id=entry.id,
        type=entry.type,
        date=display(entry.occurred, entry.precision),
        occurred_at=entry.occurred.text,
        occurred_precision=entry.precision.value,
        headline=RESTRICTED,
        agency=entry.agency,
        author=None,
        source=None,
        significance=significance.label,
        significance_assessment=None,
        action=None,
        recorded_by={},
        recorded_at=entry.event.entry["recorded_at"],
        late_by_days=late_by_days(entry),
        corrections=[],
        annotations=[],
        restricted=True,
    )


def _line(
    seq: int,
    entry: Entry,
    significance: Significance,
    action: str | None,
    partner: str | None = None,
) -> ChronologyEntry:
    """A full line; for a partner, other agencies' restricted annotations are left out, and
    what their restricted corrections and reassessments say is withheld (that they exist is
    not)."""
    event = entry.event

    def said(by: RecordedEvent, text: str) -> str:
        return RESTRICTED if partner and is_withheld(by, partner) else text

    assessment = entry.assessment
    return ChronologyEntry(
        seq=seq,
        event_id=entry.id,
        type=entry.type,
        date=display(entry.occurred, entry.precision),
        occurred_at=entry.occurred.text,
        occurred_precision=entry.precision.value,
        headline=_headline(entry),
        agency=_source_agency(entry),
        author=dict(event.author) if event.author else None,
        source=dict(event.source) if event.source else None,
        significance=significance.label,
        significance_assessment=SignificanceAssessment(
            significance=said(assessment, assessment.data["significance"]),
            rationale=said(assessment, assessment.data["rationale"]),
            event_id=assessment.id,
            assessed_by=assessment.recorded_by["name"],
        )
        if assessment
        else None,
        action=action,
        recorded_by=dict(event.recorded_by),
        recorded_at=event.entry["recorded_at"],
        late_by_days=late_by_days(entry),
        corrections=[
            Correction(
                event_id=c.id,
                reason=said(c, c.data["reason"]),
                recorded_at=c.entry["recorded_at"],
                recorded_by=c.recorded_by["name"],
            )
            for c in entry.corrections
        ],
        restricted=entry.event.sensitivity == "restricted",
        annotations=[
            Annotation(
                event_id=a.id,
                note=a.data["note"],
                recorded_at=a.entry["recorded_at"],
                recorded_by=a.recorded_by["name"],
            )
            for a in entry.annotations
            if not (partner and is_withheld(a, partner))
        ],
    )


# Headlines by the hashes of the entry and of the correction in force (content-addressed: the
# same key always means the same words). Rendering one validates its payload, the costliest
# step of a long chronology.
_HEADLINES: dict[tuple[str, str | None], str] = {}
_HEADLINES_HELD = 200_000


def _headline(entry: Entry) -> str:
    correction = entry.corrections[-1].entry["hash"] if entry.corrections else None
    key = (entry.event.entry["hash"], correction)
    headline = _HEADLINES.get(key)
    if headline is None:
        if len(_HEADLINES) >= _HEADLINES_HELD:
            _HEADLINES.clear()
        headline = _HEADLINES[key] = catalogue[entry.type].headline(entry.data)
    return headline


def late_by_days(entry: Entry) -> int | None:
    """England working days from the last day it can have happened on to the day it was
    recorded (London dates), as `late-recording` counts them; None for an approximate date."""
    happened = entry.latest_day()
    if happened is None:
        return None
    return working_days_between(happened, entry.event.recorded_at.astimezone(LONDON).date())


class _Linked:
    """The entries other entries point at by an id of the posting system (a contact id, a
    meeting id, ...), which a system may reuse: an entry pointing at one is about the latest
    that happened on or before its own day (a decision is about the contact of its id received
    that day or earlier, never a later one; one dated before them all is about none)."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        by_key: dict[tuple[str, str], list[Entry]] = {}
        for entry in entries:  # (in the order they happened)
            for key in _links_from(entry):
                by_key.setdefault(key, []).append(entry)
        self._targets = {
            key: ([e.occurred.london_date for e in targets], [e.id for e in targets])
            for key, targets in by_key.items()
        }

    def target(self, key: tuple[str, str], by: Entry) -> str | None:
        days, ids = self._targets.get(key, ((), ()))
        found = bisect_right(days, by.occurred.london_date)
        return ids[found - 1] if found else None


def _actions(entries: Sequence[Entry]) -> dict[str, str]:
    """What was done about an entry, from the entries that link to it (`entries` in the order
    they happened)."""
    linked = _Linked(entries)
    notes: dict[str, list[str]] = {}

    def note(target: str | None, text: str) -> None:
        if target is not None:
            notes.setdefault(target, []).append(text)

    for entry in entries:
        data, when = entry.data, display(entry.occurred, entry.precision)
        kind = entry.type
        if kind == "ConcernFollowedUp":
            note(
                str(data["concern_event_id"]),
                f"Followed up {when}: {data['action']} — {data['outcome']}",
            )
        elif kind == "ContactDecisionMade":
            note(
                linked.target(("contact", data["contact_id"]), entry),
                f"Decision {when}: {_words(data['outcome'])} — {data['rationale']}",
            )
        elif kind == "MinutesRecorded":
            note(linked.target(("meeting", data["meeting_id"]), entry), f"Minuted {when}")
        elif kind == "MinutesCirculated":
            recipients = ", ".join(r.get("agency") or r["name"] for r in data.get("recipients", ()))
            note(
                linked.target(("meeting", data["meeting_id"]), entry),
                f"Minutes circulated {when} to {recipients}",
            )
        elif kind == "ActionCompleted":
            note(
                linked.target(("action", data["action_id"]), entry),
                f"Action {data['action_id']} completed {when}: {data['outcome']}",
            )
        elif kind == "Section47Started":
            note(
                linked.target(("strategy", data["strategy_id"]), entry),
                f"Section 47 enquiry started {when}",
            )
        elif kind in ("InformationRequestAnswered", "InformationRequestDeclined"):
            verb = "Answered" if kind == "InformationRequestAnswered" else "Declined"
            note(linked.target(("request", data["request_id"]), entry), f"{verb} {when}")
        elif kind == "AssessmentCompleted":
            note(
                linked.target(("assessment", data["assessment_id"]), entry),
                f"Completed {when}: {_words(data['outcome'])}",
            )
    return {target: "; ".join(texts) for target, texts in notes.items()}


def _links_from(entry: Entry) -> list[tuple[str, str]]:
    """The keys other entries use to point at this one."""
    data: Mapping[str, Any] = entry.data
    kind = entry.type
    if kind == "ContactReceived":
        return [("contact", data["contact_id"])]
    if kind == "MeetingHeld":
        return [
            ("meeting", data["meeting_id"]),
            *(("action", a["action_id"]) for a in data.get("actions", ())),
        ]
    if kind == "SupervisionHeld":
        return [("action", a["action_id"]) for a in data.get("actions", ())]
    if kind == "StrategyDiscussionHeld":
        return [("strategy", data["strategy_id"])]
    if kind == "InformationRequested":
        return [("request", data["request_id"])]
    if kind == "AssessmentStarted":
        return [("assessment", data["assessment_id"])]
    return []


def _words(code: str) -> str:
    return code.replace("_", " ")


def _person(person: Mapping[str, Any] | None) -> str:
    if not person:
        return ""
    role = person.get("role") or "/".join(person.get("roles") or ())
    parts = (person.get("name") or person.get("sub"), role, person.get("agency"))
    return ", ".join(str(p) for p in parts if p)
