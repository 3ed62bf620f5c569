"""The rules read a case through indexes built once per evaluation: its entries by type
(`CaseAtMoment`), an id's entries from a day on (`Timeline`), the spans and the birth found from
those, the concerns a share's pack can hold, the first visit after a concern. Whatever the
history, each finds exactly what reading every entry in business order finds (the reference
readings below are the rules' former plain loops).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import domain.event_types  # noqa: F401  (registers the catalogue)
from domain.moments import (
    LONDON,
    Moment,
    end_of_day,
    months_after,
    parse_bound,
    start_of_day,
)
from domain.rules import concern_not_followed_up, sharing_omitted_concerns
from domain.rules.base import CaseAtMoment, timelines
from domain.rules.spans import born_from, plan_spans, spans, unborn_at
from domain.selection import Entry, select
from domain.sharing import LOOKBACK_MONTHS, concerns_to_share
from domain.state import EPISODE_CLOSERS, EPISODE_OPENERS, fold, sees_child
from tests.domain.rule_log import CASE_ID, HORIZON, LA, Log
from tests.support import payload

POLICE = "police:barsetshire"
HEALTH = "health:barsetshire-community-health"
SCHOOL = "school:st-marys-primary"
NO_SUCH_ENTRY = "00000000-0000-4000-8000-00000000dead"

KINDS = (
    "ReferralAccepted",
    "CaseClosed",
    "ChildProtectionPlanStarted",
    "ChildProtectionPlanEnded",
    "PersonDetailsChanged",
    "VisitMade",
    "ChildsVoiceRecorded",
    "ConcernObserved",
    "ConcernFollowedUp",
    "InformationShared",
    "MeetingHeld",
    "MinutesRecorded",
    "MinutesCirculated",
    "ActionCompleted",
)
UNBORN = {"date_of_birth": None, "expected_date_of_birth": "2013-06-01", "unborn": True, "sex": "U"}
EXAMPLES = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- a history: ids from small pools, so that entries answer each other ---


def _payload(draw: st.DrawFn, kind: str, log: Log) -> dict[str, Any]:
    concerns = [e.id for e in log.events if e.type == "ConcernObserved"]
    meeting_id = st.sampled_from(("M-1", "M-2"))
    match kind:
        case "PersonDetailsChanged":
            return {"unborn": draw(st.booleans()), "reason": "Birth recorded"}
        case "VisitMade":
            return payload(kind, child_seen=draw(st.booleans()))
        case "ChildsVoiceRecorded":
            return payload(kind, seen_alone=draw(st.booleans()))
        case "ConcernObserved":
            return payload(kind, follow_up_required=draw(st.booleans()))
        case "ConcernFollowedUp":
            followed = draw(st.sampled_from(concerns or [NO_SUCH_ENTRY]))
            return payload(kind, concern_event_id=followed)
        case "InformationShared":
            agencies = draw(st.lists(st.sampled_from((POLICE, HEALTH, SCHOOL)), min_size=1))
            referenced = draw(st.lists(st.sampled_from(concerns), unique=True)) if concerns else []
            return payload(kind) | {
                "with": [{"agency": a} for a in agencies],
                "concern_event_ids": referenced,
            }
        case "MeetingHeld" | "MinutesRecorded" | "MinutesCirculated":
            return payload(kind, meeting_id=draw(meeting_id))
        case "ActionCompleted":
            return payload(kind, action_id=draw(st.sampled_from(("A-1", "A-2"))))
        case "ChildProtectionPlanStarted" | "ChildProtectionPlanEnded":
            return payload(kind, plan_id=draw(st.sampled_from(("CPP-7", "CPP-8", "CPP-9"))))
        case _:
            return payload(kind)


@st.composite
def histories(draw: st.DrawFn) -> Log:
    """A case opened on 1 January 2013, perhaps before the birth, and what followed: mostly
    forward in time, some entries back-dated or recorded late, over more than a year."""
    log = Log("2013-01-01", **(UNBORN if draw(st.booleans()) else {}))
    day = date(2013, 1, 1)
    for _ in range(draw(st.integers(min_value=0, max_value=30))):
        day += timedelta(days=draw(st.sampled_from((-30, 0, 0, 1, 3, 10, 40, 120))))
        occurred = day.isoformat()
        if draw(st.booleans()):
            occurred = datetime.combine(day, time(draw(st.integers(0, 23)), 30), UTC).isoformat()
        lag = timedelta(days=draw(st.sampled_from((0, 0, 0, 0, 1, 3, 20, 120))))
        recorded = (Moment.parse(occurred).instant + lag).isoformat()
        kind = draw(st.sampled_from(KINDS))
        agency = draw(st.sampled_from((LA, LA, SCHOOL)))
        log.add(kind, occurred, recorded, data=_payload(draw, kind, log), agency=agency)
    return log


def _case(log: Log, as_of: datetime) -> CaseAtMoment:
    entries = select(log.events, as_of=as_of, known_at=HORIZON)
    return CaseAtMoment(entries, fold(CASE_ID, entries, as_of=as_of, known_at=HORIZON), as_of)


_AS_OF = st.sampled_from(("2013-03-01", "2013-12-31", "2016-01-01")).map(parse_bound)


# --- the reference readings: every entry, in business order ---


def _spans_reading_every_entry(
    entries: Sequence[Entry], starts: frozenset[str], ends: frozenset[str]
) -> list[tuple[int, int | None]]:
    found: list[tuple[int, int | None]] = []
    first: int | None = None
    for position, entry in enumerate(entries):
        if first is None and entry.type in starts:
            first = position
        elif first is not None and entry.type in ends:
            found.append((first, position))
            first = None
    return found if first is None else [*found, (first, None)]


def _plan_spans_reading_every_entry(
    entries: Sequence[Entry], kind: str
) -> list[tuple[int, int | None]]:
    """Where the state, folded entry by entry, shows a plan of `kind` open that started since
    the last closure or transfer."""
    started_at = {e.id: position for position, e in enumerate(entries)}
    found: list[tuple[int, int | None]] = []
    first: int | None = None
    closure = -1
    for position, entry in enumerate(entries):
        if entry.type in EPISODE_CLOSERS:
            closure = position
        state = fold(CASE_ID, entries[: position + 1], as_of=HORIZON, known_at=HORIZON)
        counted = [p for p in state.plans if p.kind == kind and started_at[p.started_by] > closure]
        if counted and first is None:
            first = position
        elif not counted and first is not None:
            found.append((first, position))
            first = None
    return found if first is None else [*found, (first, None)]


def _born_reading_every_entry(entries: Sequence[Entry]) -> int | None:
    born: int | None = None
    for position, entry in enumerate(entries):
        unborn = unborn_at(entry)
        if unborn:
            born = None
        elif unborn is not None and born is None:
            born = position
    return born


# --- the properties ---


@EXAMPLES
@given(log=histories(), as_of=_AS_OF, types=st.sets(st.sampled_from(KINDS), min_size=1))
def test_of_type_when_any_history_then_every_entry_of_those_types_in_business_order(
    log: Log, as_of: datetime, types: set[str]
) -> None:
    # Given any history, judged as of any day
    case = _case(log, as_of)

    # Then the index gives what reading every entry gives
    expected = [p for p, e in enumerate(case.entries) if e.type in types]
    assert list(case.positions(*types)) == expected
    assert case.of_type(*types) == [case.entries[p] for p in expected]


@EXAMPLES
@given(log=histories(), as_of=_AS_OF)
def test_timelines_when_ids_reused_then_from_day_is_every_entry_of_the_id_on_or_after_it(
    log: Log, as_of: datetime
) -> None:
    # Given minutes of meetings whose ids are reused, on any days
    case = _case(log, as_of)
    minutes = case.of_type("MinutesRecorded")
    by_meeting = timelines(minutes, "meeting_id")

    # Then from any day, each meeting id's timeline holds what reading every minute finds
    days = {e.occurred.london_date + timedelta(days=d) for e in case.entries for d in (-1, 0, 1)}
    for meeting_id in ("M-1", "M-2"):
        for day in days:
            expected = [
                m
                for m in minutes
                if m.data["meeting_id"] == meeting_id and m.occurred.london_date >= day
            ]
            timeline = by_meeting.get(meeting_id)
            assert (timeline.from_day(day) if timeline else []) == expected
            assert (timeline.first_from(day) if timeline else None) == next(iter(expected), None)


@EXAMPLES
@given(log=histories(), as_of=_AS_OF)
def test_spans_and_birth_when_any_history_then_as_reading_every_entry(
    log: Log, as_of: datetime
) -> None:
    # Given any history, judged as of any day
    case = _case(log, as_of)

    # Then the episodes, the plans and the birth are those that reading every entry finds (a
    # plan's span: while the state shows one open, counted from its start to any closure)
    starts, ends = EPISODE_OPENERS, EPISODE_CLOSERS
    assert spans(case, starts, ends) == _spans_reading_every_entry(case.entries, starts, ends)
    plans = plan_spans(case, "child_protection")
    assert plans == _plan_spans_reading_every_entry(case.entries, "child_protection")
    assert born_from(case) == _born_reading_every_entry(case.entries)


@EXAMPLES
@given(log=histories(), as_of=_AS_OF)
def test_sharing_pack_when_asked_at_any_moment_then_the_concerns_index_finds_it(
    log: Log, as_of: datetime
) -> None:
    # Given any history of concerns, judged as of any day
    case = _case(log, as_of)
    concerns = sharing_omitted_concerns._Concerns(case.of_type("ConcernObserved"))

    # Then at any moment, on or either side of when an entry happened or was recorded or a
    # concern left the look-back, and at the end of its day on what was recorded by then, the
    # concerns the rule finds are the sharing pack's, taken over every entry of the case
    edges = [e.occurred.instant for e in case.entries] + [e.event.recorded_at for e in case.entries]
    edges += [
        start_of_day(months_after(c.occurred.london_date, LOOKBACK_MONTHS) + timedelta(days=1))
        for c in case.of_type("ConcernObserved")
    ]
    for edge in edges:
        for moment in (edge - timedelta(microseconds=1), edge, edge + timedelta(microseconds=1)):
            end = end_of_day(moment.astimezone(LONDON).date())
            for at in (moment, end):
                pack = concerns_to_share(case.entries, at, recorded_by=moment)
                assert concerns.to_share(at, moment) == pack


@EXAMPLES
@given(log=histories(), as_of=_AS_OF)
def test_sharing_omitted_concerns_when_any_history_then_names_what_the_pack_left_out(
    log: Log, as_of: datetime
) -> None:
    # Given any history of concerns and shares, judged as of any day
    case = _case(log, as_of)
    alerts = {a.event_ids[0]: a for a in sharing_omitted_concerns.check(case)}

    # Then each share to police or health is flagged exactly when it left out a concern of
    # its sharing pack, taken over every entry of the case, naming those it left out: the pack
    # at the share's moment, or for a share entered as a date at the end of its day on what was
    # recorded by then and by the share
    for share in case.of_type("InformationShared"):
        agencies = {w["agency"].partition(":")[0] for w in share.data["with"]}
        referenced = set(share.data["concern_event_ids"])
        at = recorded_by = share.occurred.instant
        if share.occurred.is_date:
            at = end_of_day(share.occurred.london_date)
            recorded_by = min(at, share.event.recorded_at)
        pack = concerns_to_share(case.entries, at, recorded_by=recorded_by)
        omitted = [c.id for c in pack if c.id not in referenced]
        if agencies & {"police", "health"} and omitted:
            assert alerts.pop(share.id).event_ids == (share.id, *omitted)
    assert alerts == {}


@EXAMPLES
@given(log=histories(), as_of=_AS_OF)
def test_concern_not_followed_up_when_any_history_then_resolved_by_the_first_response(
    log: Log, as_of: datetime
) -> None:
    # Given any history of concerns, follow-ups and visits, judged as of any day
    case = _case(log, as_of)
    alerts = concern_not_followed_up.check(case)

    # Then each concern is resolved by its first follow-up or by the first visit seeing the
    # child after it in business order, whichever came first
    concerns = [c for c in case.of_type("ConcernObserved") if c.data["follow_up_required"]]
    assert [a.event_ids[0] for a in alerts] == [c.id for c in concerns]
    for concern, alert in zip(concerns, alerts, strict=True):
        follow_up = next(
            (
                e
                for e in case.entries
                if e.type == "ConcernFollowedUp" and e.data["concern_event_id"] == concern.id
            ),
            None,
        )
        seen = next(
            (
                e
                for e in case.entries
                if e.type == "VisitMade" and sees_child(e) and e.sort_key() > concern.sort_key()
            ),
            None,
        )
        responses = [e for e in (follow_up, seen) if e is not None]
        first = min(responses, key=Entry.sort_key, default=None)
        assert alert.resolved_by == (first.id if first else None)


def test_sharing_omitted_concerns_when_recorded_out_of_order_then_in_order_they_happened() -> None:
    # Given concerns on 10 May, on 1 May (recorded after the first) and on 5 May (recorded only
    # after a share with the police on 20 May, which references none)
    log = Log("2013-04-01")
    tenth = log.add("ConcernObserved", "2013-05-10", "2013-05-10")
    first = log.add("ConcernObserved", "2013-05-01", "2013-05-12")
    share = log.add("InformationShared", "2013-05-20", data=_shared_with(POLICE))
    log.add("ConcernObserved", "2013-05-05", "2013-06-30")

    # When judged later
    [alert] = log.alerts("2013-07-01", rules=[sharing_omitted_concerns.check])

    # Then it names the two on the record when it was shared, in the order they happened
    assert alert.event_ids == (share, first, tenth)


def _shared_with(agency: str) -> dict[str, Any]:
    return payload("InformationShared") | {"with": [{"agency": agency}], "concern_event_ids": []}
