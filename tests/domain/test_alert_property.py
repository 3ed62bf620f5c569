"""The alerts of a case as of D, on what was recorded by K, are judged on that record alone
(README "Time: `as_of` and `known_at`"): adding what happened after D, or anything recorded after
K (corrections and retractions of earlier entries included), never changes them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import domain.event_types  # noqa: F401  (registers the catalogue)
from domain.moments import LONDON, Moment, parse_bound
from domain.values import AlertRule
from tests.domain.rule_log import LA, Log
from tests.support import payload

SCHOOL = "school:st-marys-primary"
POLICE = "police:barsetshire"
HEALTH = "health:barsetshire-community-health"

# The facts the rules read, from contact to care and closure.
FACTS = (
    "ContactReceived",
    "ContactDecisionMade",
    "ReferralAccepted",
    "WorkerAllocated",
    "AssessmentCompleted",
    "StrategyDiscussionHeld",
    "Section47Started",
    "ConferenceHeld",
    "ChildProtectionPlanStarted",
    "ChildProtectionPlanEnded",
    "ChildInNeedPlanStarted",
    "PeriodOfCareStarted",
    "VisitMade",
    "ConcernObserved",
    "ConcernFollowedUp",
    "ChildsVoiceRecorded",
    "MeetingHeld",
    "MinutesRecorded",
    "MinutesCirculated",
    "SupervisionHeld",
    "ActionCompleted",
    "InformationShared",
    "CaseClosed",
    "PersonDetailsChanged",
    "AlertAcknowledged",
)
# Entries about entries: selected by known_at alone, whenever they say they happened.
META = ("EntryCorrected", "EntryRetracted", "SignificanceAssessed")

FIRST_DAY, LAST_DAY = date(2013, 1, 1), date(2015, 12, 31)
OPENED = "2013-01-01"
NO_SUCH_ENTRY = "00000000-0000-4000-8000-00000000dead"


# --- what a history is made of ---


def _agency(data: st.DataObject) -> str:
    return str(data.draw(st.sampled_from((LA, LA, LA, SCHOOL, HEALTH)), label="agency"))


def _ids(log: Log, *types: str) -> list[str]:
    return [e.id for e in log.events if e.type in types]


def _fact(data: st.DataObject, kind: str, log: Log) -> dict[str, Any]:
    """A payload of `kind`, its ids drawn from small pools so that entries answer each other."""
    one = data.draw
    match kind:
        case "ContactReceived":
            return payload(kind, contact_id=one(st.sampled_from(("C-1", "C-2"))))
        case "ContactDecisionMade":
            return payload(
                kind,
                contact_id=one(st.sampled_from(("C-1", "C-2"))),
                outcome=one(st.sampled_from(("referral", "nfa"))),
            )
        case "ReferralAccepted":
            return payload(kind, referral_id=one(st.sampled_from(("R-1", "R-2", "R-3"))))
        case "AssessmentCompleted":
            return payload(kind, assessment_id=one(st.sampled_from(("CFA-1", "CFA-2"))))
        case "StrategyDiscussionHeld":
            return payload(
                kind,
                strategy_id=one(st.sampled_from(("SD-1", "SD-2"))),
                actions=_actions(data),
            )
        case "Section47Started":
            return payload(kind, strategy_id=one(st.sampled_from(("SD-1", "SD-2"))))
        case "ConferenceHeld":
            return payload(kind) | {
                "kind": one(st.sampled_from(("initial", "review", "pre_birth"))),
                "decision": one(st.sampled_from(("cp_plan", "continue", "end_plan"))),
            }
        case "VisitMade":
            seen = one(st.booleans())
            return payload(kind, child_seen=seen, seen_alone=seen and one(st.booleans()))
        case "ConcernObserved":
            return payload(
                kind,
                category=one(st.sampled_from(("bruising", "neglect", "disclosure"))),
                follow_up_required=one(st.booleans()),
            )
        case "ConcernFollowedUp":
            concerns = _ids(log, "ConcernObserved") or [NO_SUCH_ENTRY]
            return payload(kind, concern_event_id=one(st.sampled_from(concerns)))
        case "ChildsVoiceRecorded":
            return payload(kind, seen_alone=one(st.booleans()))
        case "MeetingHeld":
            return payload(kind) | {
                "meeting_id": one(st.sampled_from(("M-1", "M-2"))),
                "kind": one(st.sampled_from(("core_group", "cin_review", "cla_review"))),
                "actions": _actions(data),
            }
        case "MinutesRecorded":
            return payload(kind, meeting_id=one(st.sampled_from(("M-1", "M-2"))))
        case "MinutesCirculated":
            everyone = payload("MeetingHeld")["invited"]
            return payload(
                kind,
                meeting_id=one(st.sampled_from(("M-1", "M-2"))),
                recipients=one(st.lists(st.sampled_from(everyone), min_size=1, unique_by=str)),
            )
        case "SupervisionHeld":
            return payload(kind, actions=_actions(data))
        case "ActionCompleted":
            return payload(kind, action_id=one(st.sampled_from(("A-1", "A-2"))))
        case "InformationShared":
            concerns = _ids(log, "ConcernObserved")
            agencies = one(st.lists(st.sampled_from((POLICE, HEALTH, SCHOOL)), min_size=1))
            return payload(kind) | {
                "with": [{"agency": a} for a in agencies],
                "concern_event_ids": one(st.lists(st.sampled_from(concerns), unique=True))
                if concerns
                else [],
            }
        case "PersonDetailsChanged":
            return {"unborn": False, "date_of_birth": "2013-06-01", "reason": "Born"}
        case "AlertAcknowledged":
            return payload(kind) | {
                "rule": one(st.sampled_from([r.value for r in AlertRule])),
                "event_ids": [one(st.sampled_from([e.id for e in log.events]))],
            }
        case _:
            return payload(kind)


def _actions(data: st.DataObject) -> list[dict[str, str]]:
    due = data.draw(st.dates(min_value=FIRST_DAY, max_value=LAST_DAY), label="action due")
    action = payload("MeetingHeld")["actions"][0] | {"due": due.isoformat()}
    ids = data.draw(st.lists(st.sampled_from(("A-1", "A-2")), max_size=2, unique=True))
    return [action | {"action_id": i} for i in ids]


def _meta(data: st.DataObject, kind: str, log: Log, *, opening: bool) -> dict[str, Any]:
    """A correction, retraction or reassessment of an earlier fact (the opening too, if
    `opening`: correcting it to an unborn child, or retracting it)."""
    facts = [e for e in log.events if e.type not in META and (opening or e.type != "CaseOpened")]
    target = data.draw(st.sampled_from(facts), label="target")
    if kind == "EntryRetracted":
        return {"target_event_id": target.id, "reason": "Wrong child's case"}
    if kind == "SignificanceAssessed":
        significance = data.draw(st.sampled_from(("routine", "significant", "critical")))
        return payload(kind, target.id) | {"significance": significance}
    if target.type == "CaseOpened":
        unborn = {"expected_date_of_birth": "2014-02-01", "date_of_birth": None, "unborn": True}
        replacement = payload("CaseOpened") | {"child": payload("CaseOpened")["child"] | unborn}
    else:
        replacement = _fact(data, target.type, log)
    moved = data.draw(st.one_of(st.none(), _occurred_texts(FIRST_DAY, LAST_DAY)), label="to")
    return {
        "target_event_id": target.id,
        "data": replacement,
        "reason": "Recorded wrongly",
        **({"occurred_at": moved} if moved else {}),
    }


@st.composite
def _occurred_texts(draw: st.DrawFn, first: date, last: date) -> str:
    """A London day, or a time of one written with a zone."""
    day = draw(st.dates(min_value=first, max_value=last))
    if draw(st.booleans()):
        return day.isoformat()
    hour = draw(st.integers(min_value=0, max_value=23))
    return datetime.combine(day, time(hour, 30), UTC).isoformat()


def _last_recorded(log: Log) -> datetime:
    return log.events[-1].recorded_at


def history(data: st.DataObject) -> Log:
    """A case opened on 1 January 2013 and what followed: mostly forward in time with some
    entries back-dated, each recorded the day it happened or some days later (a log's
    `recorded_at` never goes back: a late entry holds up the ones after it)."""
    unborn = data.draw(st.booleans(), label="opened unborn")
    child = (
        {"date_of_birth": None, "expected_date_of_birth": "2013-06-01", "unborn": True, "sex": "U"}
        if unborn
        else {"date_of_birth": "2009-03-14"}
    )
    log = Log(opened=OPENED, **child)
    day = data.draw(st.dates(min_value=FIRST_DAY, max_value=date(2014, 6, 30)), label="start")
    for _ in range(data.draw(st.integers(min_value=1, max_value=40), label="entries")):
        step = data.draw(st.sampled_from((-40, -3, 0, 0, 1, 1, 2, 5, 9, 15, 30, 60)))
        day = min(max(day + timedelta(days=step), FIRST_DAY), LAST_DAY)
        lag = timedelta(days=data.draw(st.sampled_from((0, 0, 0, 1, 3, 12, 40)), label="lag"))
        corrigible = any(e.type not in (*META, "CaseOpened") for e in log.events)
        kind = data.draw(st.sampled_from(FACTS + META if corrigible else FACTS), label="kind")
        if kind in META:
            recorded = max(_last_recorded(log), Moment.parse(day.isoformat()).instant + lag)
            content = _meta(data, kind, log, opening=False)
            log.add(kind, day.isoformat(), recorded.isoformat(), data=content)
            continue
        occurred = day.isoformat()
        if data.draw(st.booleans(), label="timed"):
            occurred = datetime.combine(day, time(data.draw(st.integers(0, 23))), UTC).isoformat()
        recorded = Moment.parse(occurred).instant + lag
        content = _fact(data, kind, log)
        log.add(kind, occurred, recorded.isoformat(), data=content, agency=_agency(data))
    return log


def _moment(data: st.DataObject, log: Log, label: str) -> str:
    """A time to ask about: a London day some weeks after an entry happened or was recorded, or
    an instant a microsecond either side of one, or anywhere; never before the opening was
    recorded."""
    entries = log.events[1:] or log.events
    edges = [e.recorded_at for e in entries] + [e.occurred.instant for e in entries]
    form = data.draw(st.sampled_from(("day", "day", "near", "anywhere")), label=f"{label} form")
    if form == "day":
        edge = data.draw(st.sampled_from(edges), label=label).astimezone(LONDON).date()
        return (edge + timedelta(days=data.draw(st.integers(0, 90), label="later"))).isoformat()
    near = st.builds(
        lambda edge, nudge: edge + timedelta(microseconds=nudge),
        st.sampled_from(edges),
        st.sampled_from((-1, 0, 1)),
    )
    anywhere = st.datetimes(
        min_value=datetime(2013, 1, 1), max_value=datetime(2016, 3, 31), timezones=st.just(UTC)
    )
    instant: datetime = data.draw(near if form == "near" else anywhere, label=label)
    return max(instant, log.events[0].recorded_at).isoformat()


# --- the property ---


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_alerts_when_later_happenings_or_recordings_added_then_alerts_as_of_d_known_at_k_same(
    data: st.DataObject,
) -> None:
    # Given a history, a date D to judge as of and a moment K to judge on what was recorded by
    log = history(data)
    as_of, known_at = _moment(data, log, "D"), _moment(data, log, "K")
    d, k = parse_bound(as_of), parse_bound(known_at)
    before = log.alerts(as_of, known_at)

    # When the log grows by entries that happened after D (recorded whenever, after the
    # others), and entries recorded after K (happened whenever; corrections and retractions of
    # any earlier entry, the opening included)
    for _ in range(data.draw(st.integers(min_value=1, max_value=8), label="more")):
        lag = timedelta(hours=data.draw(st.sampled_from((0, 1, 30, 24 * 20)), label="lag"))
        if data.draw(st.booleans(), label="after D"):
            kind = data.draw(st.sampled_from(FACTS), label="kind")
            occurred = data.draw(_after(d), label="occurred")
            content = _fact(data, kind, log)
            recorded = _last_recorded(log) + lag
            log.add(kind, occurred, recorded.isoformat(), data=content, agency=_agency(data))
        else:
            kind = data.draw(st.sampled_from(FACTS + META), label="kind")
            occurred = data.draw(_occurred_texts(FIRST_DAY, LAST_DAY), label="occurred")
            if kind in META:
                content = _meta(data, kind, log, opening=True)
            else:
                content = _fact(data, kind, log)
            recorded = max(_last_recorded(log), k) + timedelta(microseconds=1) + lag
            log.add(kind, occurred, recorded.isoformat(), data=content, agency=_agency(data))

    # Then every alert, resolved ones too, is as it was
    after = log.alerts(as_of, known_at)
    assert after == before


@st.composite
def _after(draw: st.DrawFn, d: datetime) -> str:
    """A moment after `d`: a microsecond or more later, or a later London day."""
    if draw(st.booleans()):
        return (d + timedelta(microseconds=draw(st.integers(1, 10**11)))).isoformat()
    first = d.astimezone(LONDON).date() + timedelta(days=1)
    return draw(st.dates(min_value=first, max_value=first + timedelta(days=700))).isoformat()
