"""One child's case, September 2013 to April 2015, judged by every alert rule at the moments a
manager or a reviewer would have asked "what did the record flag?".

Amy Smith (born 14 March 2008) is referred by her school for neglect; a bruise her social worker
raises in supervision is never looked into; the school's disclosure leads to a strategy
discussion, a section 47 enquiry and a child protection plan. The plan is run with lapses: the
first core group is missed, statutory visits lapse, the core group's minutes never reach the
school that attended, the information shared with the police leaves out the bruise, and a visit
over Christmas is recorded weeks late. The plan ends at the first review, the case steps down to
early help and closes; the police refer Amy again over Easter 2014, within 12 months of the first
referral, and that summer she becomes looked after, with a review that slips past Easter 2015.

Each test is a chapter: the open alerts (pending or breached, by rule and the event that names
them) at a checkpoint, and the deadlines that matter. Dates are London days; working days skip
England's bank holidays (Christmas and New Year 2013, Easter 2014 and 2015, May bank holidays).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import domain.event_types  # noqa: F401  (registers the catalogue)
from domain.catalogue import catalogue
from domain.moments import Moment, parse_bound
from domain.rules import Alert, AlertStatus, Severity
from tests.domain.rule_log import LA, Log
from tests.support import payload

SCHOOL = "school:st-marys-primary"
POLICE = "police:barsetshire"
HEALTH = "health:barsetshire-community-health"

SOCIAL_WORKER = {"name": "Sam Patel", "agency": LA, "role": "social worker"}
IRO = {"name": "Jo Wright", "agency": LA, "role": "independent reviewing officer"}
DSL = {"name": "Ann Jones", "agency": SCHOOL, "role": "designated safeguarding lead"}
NURSE = {"name": "Ruth Green", "agency": HEALTH, "role": "school nurse"}
OFFICER = {"name": "DC Lee Brown", "agency": POLICE, "role": "officer in the case"}
MOTHER = {"name": "Kelly Smith", "role": "mother"}
FOSTER_CARER = {"name": "Pat Hughes", "role": "foster carer"}

CORE_GROUP = [SOCIAL_WORKER, DSL, NURSE, MOTHER]
CLA_REVIEW = [IRO, SOCIAL_WORKER, DSL, FOSTER_CARER, MOTHER]
LAWFUL_BASIS = "UK GDPR Art 6(1)(e), Art 9(2)(g); DPA 2018 Sch 1 para 18"
NOT_SOUGHT = {"status": "not_sought", "reason": "Seeking consent could put Amy at risk"}

Opened = dict[tuple[str, str], str]  # (rule, name of the event behind it) -> status


@dataclass
class Story:
    """The case's log, and the id of each entry by a name a reader can follow."""

    log: Log
    ids: dict[str, str] = field(default_factory=dict)

    def add(
        self,
        name: str,
        event_type: str,
        day: str,
        /,
        *,
        recorded_at: str | None = None,
        agency: str = LA,
        **fields: Any,
    ) -> str:
        """Record `event_type` (its catalogue example with `fields` changed, checked against its
        schema), recorded when it happened unless `recorded_at` says otherwise."""
        assert name not in self.ids, f"two entries named {name!r}"
        data = payload(event_type) | fields
        catalogue[event_type].payload.model_validate(data)
        self.ids[name] = self.log.add(event_type, day, recorded_at, data=data, agency=agency)
        return self.ids[name]

    def visit(self, day: str, *, recorded_at: str | None = None, **fields: Any) -> str:
        """A statutory visit by the social worker, Amy seen alone."""
        return self.add(
            f"visit {day}",
            "VisitMade",
            day,
            recorded_at=recorded_at,
            **{
                "visit_type": "home",
                "child_seen": True,
                "seen_alone": True,
                "bedroom_seen": True,
                "observations": "Amy chatty; food in the cupboards",
                **fields,
            },
        )

    def supervision(self, day: str, *actions: dict[str, str]) -> str:
        return self.add(
            f"supervision {day}",
            "SupervisionHeld",
            day,
            supervisor="Priya Shah",
            discussion="Progress of the plan",
            decisions=[],
            actions=list(actions),
        )

    def meeting(self, name: str, day: str, kind: str, people: list[dict[str, str]]) -> str:
        return self.add(
            name,
            "MeetingHeld",
            day,
            meeting_id=name,
            kind=kind,
            chair=str(people[0]["name"]),
            invited=people,
            attended=people,
            apologies=[],
            decisions=["Plan continues"],
            actions=[],
        )

    def minutes(self, meeting: str, recorded: str, sent: str, *to: dict[str, str]) -> None:
        self.add(f"minutes of {meeting}", "MinutesRecorded", recorded, meeting_id=meeting)
        self.circulate(meeting, sent, *to)

    def circulate(self, meeting: str, day: str, *to: dict[str, str]) -> None:
        self.add(
            f"minutes of {meeting} sent {day}",
            "MinutesCirculated",
            day,
            meeting_id=meeting,
            recipients=list(to),
            channel="secure email",
        )

    def opened(self, as_of: str, known_at: str | None = None) -> Opened:
        """The open alerts as of `as_of`, on what was recorded by `known_at`."""
        found = [a for a in self.log.alerts(as_of, known_at) if a.is_open]
        opened = {(a.rule.value, self._name(a)): a.status.value for a in found}
        assert len(opened) == len(found), "two open alerts of one rule named by one event"
        return opened

    def alert(self, rule: str, name: str, as_of: str, known_at: str | None = None) -> Alert:
        """The one alert of `rule` named by the entry called `name`, open or resolved."""
        [found] = [
            a
            for a in self.log.alerts(as_of, known_at)
            if a.rule == rule and a.event_ids[0] == self.ids[name]
        ]
        return found

    def _name(self, alert: Alert) -> str:
        names = {event_id: name for name, event_id in self.ids.items()}
        return names.get(alert.event_ids[0], alert.event_ids[0])


def shared_with(*agencies: str) -> dict[str, Any]:
    """An `InformationShared`'s recipients (`with` is a Python keyword)."""
    return {"with": [{"agency": agency} for agency in agencies]}


def start_of(day: str) -> datetime:
    """The start of a London day: when an alert due the day before is breached."""
    return Moment.parse(day).instant


def end_of(day: str) -> datetime:
    """The end of a London day: an alert's `due_at`."""
    return parse_bound(day)


@functools.cache
def amys_case() -> Story:
    """The whole case, in the order it was recorded."""
    story = Story(Log(opened="2013-09-13", name="Amy Smith", date_of_birth="2008-03-14"))
    story.ids["case opened"] = story.log.events[0].id
    add = story.add

    # --- 1. Contact and referral: the decision takes two working days, not one ---
    add(
        "school contact",
        "ContactReceived",
        "2013-09-13",  # a Friday
        contact_id="C-1",
        source_code="2A",
        referrer=DSL,
        concern="Amy often arrives hungry and unkempt; nine days missed this term",
        consent={"status": "given"},
        immediate_risk=False,
    )
    add(
        "decision on the school contact",
        "ContactDecisionMade",
        "2013-09-17",
        contact_id="C-1",
        outcome="referral",
        rationale="Pattern of neglect indicators",
        urgent=False,
    )
    add(
        "referral",
        "ReferralAccepted",
        "2013-09-17",
        referral_id="R-1",
        source_code="2A",
        primary_need="N1",
        contact_id="C-1",
    )
    add(
        "allocation",
        "WorkerAllocated",
        "2013-09-17",
        worker="Sam Patel",
        team="Barchester Assessment Team",
    )
    add(
        "assessment started",
        "AssessmentStarted",
        "2013-09-17",
        assessment_id="CFA-1",
        referral_id="R-1",
    )
    add(
        "Amy's views",
        "ChildsVoiceRecorded",
        "2013-09-20",
        method="spoken",
        seen_alone=True,
        words="I get hungry at school",
        wishes="To have breakfast at home",
    )
    story.visit("2013-09-20")

    # --- 2. Assessment: a bruise raised in supervision, never looked into ---
    story.supervision(
        "2013-10-01",
        {
            "action_id": "SV-1",
            "description": "Ask the school nurse to check the bruise on Amy's cheek",
            "owner": "Sam Patel",
            "due": "2013-10-03",
        },
    )
    add(
        "bruise",
        "ConcernObserved",
        "2013-10-01",
        category="bruising",
        description="Small bruise on Amy's left cheek, seen at the 20 September visit",
        body_location="left cheek",
        explanation_given="Mum said Amy walked into a door",
    )
    story.visit("2013-10-08")

    # --- 3. Disclosure, strategy discussion, s47: the share with police leaves out the bruise ---
    add(
        "school disclosure contact",
        "ContactReceived",
        "2013-10-14",
        contact_id="C-2",
        source_code="2A",
        referrer=DSL,
        concern="Amy told her teacher that mum's boyfriend hit her with a belt",
        consent=NOT_SOUGHT,
        immediate_risk=True,
    )
    disclosure = add(
        "disclosure",
        "ConcernObserved",
        "2013-10-14",
        agency=SCHOOL,
        category="disclosure",
        description="Amy said mum's boyfriend hit her with a belt; red marks on her forearm",
        body_location="right forearm",
        explanation_given="None offered",
    )
    add(
        "decision on the disclosure",
        "ContactDecisionMade",
        "2013-10-14",
        contact_id="C-2",
        outcome="strategy_discussion",
        rationale="Disclosure of physical harm by an adult in the household",
        urgent=True,
    )
    add(
        "disclosure followed up",
        "ConcernFollowedUp",
        "2013-10-14",
        concern_event_id=disclosure,
        action="Strategy discussion arranged for 15 October",
        outcome="Strategy discussion held",
    )
    add(
        "strategy discussion",
        "StrategyDiscussionHeld",
        "2013-10-15",
        strategy_id="SD-1",
        participants=[SOCIAL_WORKER, OFFICER, NURSE],
        decision="joint_s47",
        actions=[],
    )
    add("s47", "Section47Started", "2013-10-15", s47_id="S47-1", strategy_id="SD-1")
    add(
        "share for the strategy discussion",
        "InformationShared",
        "2013-10-15",
        **shared_with(POLICE, HEALTH),
        summary="The school's disclosure and the referral history",
        purpose="Strategy discussion",
        lawful_basis=LAWFUL_BASIS,
        consent=NOT_SOUGHT,
        concern_event_ids=[disclosure],  # the bruise of 1 October is left out
    )
    add(
        "s47 concluded",
        "Section47Concluded",
        "2013-10-24",
        s47_id="S47-1",
        outcome="Concerns substantiated",
        conference_required=True,
    )
    story.visit("2013-10-29")
    add(
        "assessment completed",
        "AssessmentCompleted",
        "2013-10-31",
        assessment_id="CFA-1",
        outcome="section_47",
    )

    # --- 4. ICPC and the CP plan: the first core group is a week late ---
    add(
        "ICPC",
        "ConferenceHeld",
        "2013-11-05",
        conference_id="ICPC-1",
        kind="initial",
        attendees=[SOCIAL_WORKER, DSL, OFFICER, NURSE, MOTHER],
        decision="cp_plan",
        category="physical",
    )
    add(
        "CP plan",
        "ChildProtectionPlanStarted",
        "2013-11-05",
        plan_id="CPP-1",
        conference_id="ICPC-1",
        category="physical",
    )
    add(
        "conference report shared",
        "InformationShared",
        "2013-11-05",
        **shared_with(POLICE, HEALTH),
        summary="Conference report",
        purpose="Child protection conference",
        lawful_basis=LAWFUL_BASIS,
        consent=NOT_SOUGHT,
        concern_event_ids=[story.ids["bruise"], disclosure],
    )
    story.visit("2013-11-12")
    story.meeting("CG-1", "2013-11-26", "core_group", CORE_GROUP)
    story.supervision("2013-11-26")

    # --- 5. Visits lapse; the core group's minutes go to health, not to the school ---
    story.minutes("CG-1", "2013-12-03", "2013-12-05", NURSE, MOTHER)
    story.visit("2013-12-06")
    story.visit("2013-12-17")

    # --- 6. Christmas; the visit of 2 January is recorded on 27 January ---
    story.circulate("CG-1", "2014-01-08", DSL)
    story.visit("2014-01-14")
    story.supervision("2014-01-14")
    story.meeting("CG-2", "2014-01-21", "core_group", CORE_GROUP)
    story.minutes("CG-2", "2014-01-23", "2014-01-24", DSL, NURSE, MOTHER)
    story.visit("2014-01-02", recorded_at="2014-01-27T16:00:00Z")
    story.visit("2014-01-28")

    # --- 7. Review conference ends the plan; step-down to early help; closure ---
    add(
        "review conference",
        "ConferenceHeld",
        "2014-02-04",
        conference_id="RCC-1",
        kind="review",
        attendees=[SOCIAL_WORKER, DSL, NURSE, MOTHER],
        decision="end_plan",
        category=None,
        dissent=None,
    )
    add(
        "CP plan ended",
        "ChildProtectionPlanEnded",
        "2014-02-04",
        plan_id="CPP-1",
        reason="Review conference: the boyfriend has left; risk reduced",
    )
    story.visit("2014-02-11")
    add(
        "step-down",
        "SteppedDownToEarlyHelp",
        "2014-02-11",
        lead_agency=SCHOOL,
        lead_practitioner="Ann Jones",
    )
    add("closure", "CaseClosed", "2014-02-14", reason_code="RC9", agencies_notified=[SCHOOL])
    add(
        "bruise action acknowledged",
        "AlertAcknowledged",
        "2014-02-14",
        rule="action-overdue",
        event_ids=[story.ids["supervision 2013-10-01"]],
        note="Not done; the bruise is recorded in the closure summary",
    )
    add(
        "late visit acknowledged",
        "AlertAcknowledged",
        "2014-02-14",
        rule="late-recording",
        event_ids=[story.ids["visit 2014-01-02"]],
        note="Worker off sick in January; recorded on return",
    )

    # --- 8. Re-referral by the police over Easter 2014 ---
    add(
        "police contact",
        "ContactReceived",
        "2014-04-17",  # Maundy Thursday
        contact_id="C-3",
        source_code="6",
        referrer=OFFICER,
        concern="Police called to a domestic incident at Amy's home; the ex-partner is back",
        consent=NOT_SOUGHT,
        immediate_risk=False,
    )
    add(
        "decision on the police contact",
        "ContactDecisionMade",
        "2014-04-22",
        contact_id="C-3",
        outcome="referral",
        rationale="Domestic abuse; Amy was on a plan until February",
        urgent=False,
    )
    add(
        "re-referral",
        "ReferralAccepted",
        "2014-04-22",
        referral_id="R-2",
        source_code="6",
        primary_need="N1",
        contact_id="C-3",
    )
    add(
        "reallocation",
        "WorkerAllocated",
        "2014-04-23",
        worker="Sam Patel",
        team="Barchester Assessment Team",
    )
    add(
        "second assessment started",
        "AssessmentStarted",
        "2014-04-23",
        assessment_id="CFA-2",
        referral_id="R-2",
    )
    add(
        "Amy's views again",
        "ChildsVoiceRecorded",
        "2014-04-23",
        method="spoken",
        seen_alone=True,
        words="I don't like it when he shouts at mum",
        wishes="To stay with mum, without him",
    )
    story.visit("2014-04-23")
    add(
        "re-referral acknowledged",
        "AlertAcknowledged",
        "2014-04-29",
        rule="repeat-referral",
        event_ids=[story.ids["re-referral"]],
        note="Known family; a new concern (domestic abuse)",
    )
    story.supervision("2014-05-13")
    story.visit("2014-05-20")
    add(
        "second assessment completed",
        "AssessmentCompleted",
        "2014-06-03",
        assessment_id="CFA-2",
        outcome="child_in_need",
    )

    # --- 9. Looked after from 12 June 2014 (s20); the third review slips past Easter 2015 ---
    add(
        "care",
        "PeriodOfCareStarted",
        "2014-06-12",
        legal_status="V2",
        placement={"type": "foster care", "provider": "Barsetshire Fostering", "postcode": "BA1"},
    )
    visit, supervision = story.visit, story.supervision
    visit("2014-06-17", visit_type="placement")
    supervision("2014-07-01")
    story.meeting("CLA-1", "2014-07-08", "cla_review", CLA_REVIEW)
    story.minutes("CLA-1", "2014-07-10", "2014-07-11", DSL)
    visit("2014-07-10", visit_type="placement")
    visit("2014-08-05", visit_type="placement")
    supervision("2014-08-26")
    visit("2014-09-01", visit_type="placement")
    visit("2014-09-26", visit_type="placement")
    story.meeting("CLA-2", "2014-10-07", "cla_review", CLA_REVIEW)
    story.minutes("CLA-2", "2014-10-09", "2014-10-10", DSL)
    supervision("2014-10-14")
    visit("2014-10-23", visit_type="placement")
    visit("2014-11-18", visit_type="placement")
    supervision("2014-12-02")
    visit("2014-12-15", visit_type="placement")
    visit("2015-01-09", visit_type="placement")
    supervision("2015-01-20")
    add(
        "move to grandmother",
        "PlacementChanged",
        "2015-02-02",
        placement={"type": "kinship care", "provider": "Grandmother", "postcode": "BA2"},
        reason="Grandmother approved as a connected person carer",
    )
    visit("2015-02-05", visit_type="placement")
    visit("2015-03-03", visit_type="placement")
    supervision("2015-03-10")
    visit("2015-03-30", visit_type="placement")
    story.meeting("CLA-3", "2015-04-14", "cla_review", CLA_REVIEW)  # due by 7 April
    story.minutes("CLA-3", "2015-04-16", "2015-04-17", DSL)
    visit("2015-04-24", visit_type="placement")
    return story


# --- the chapters ---


def test_contact_when_decided_a_working_day_late_then_decision_overdue_breached_then_resolved() -> (
    None
):
    # Given the school's contact on Friday 13 September 2013, decided on Tuesday 17 September
    story = amys_case()

    # When judged on Monday 16 September, the one working day a decision has
    opened = story.opened("2013-09-16")

    # Then only the decision is pending, due at the end of that Monday
    assert opened == {("decision-overdue", "school contact"): "pending"}
    pending = story.alert("decision-overdue", "school contact", "2013-09-16")
    assert pending.due_at == end_of("2013-09-16")

    # And on the Tuesday it is resolved by the decision, breached from the start of that day;
    # the referral opens the clocks of the assessment, the child being seen and supervision
    decided = story.alert("decision-overdue", "school contact", "2013-09-17")
    assert decided.status is AlertStatus.RESOLVED
    assert decided.resolved_by == story.ids["decision on the school contact"]
    assert decided.breached_at == start_of("2013-09-17")
    assert story.opened("2013-09-17") == {
        ("assessment-overdue", "referral"): "pending",
        ("child-not-seen", "referral"): "pending",
        ("supervision-overdue", "referral"): "pending",
    }
    allocated = story.alert("no-allocated-worker", "referral", "2013-09-17")
    assert (allocated.resolved_by, allocated.breached_at) == (story.ids["allocation"], None)


def test_assessment_when_a_bruise_raised_in_supervision_is_not_followed_up_then_breached() -> None:
    # Given a bruise raised in supervision on Tuesday 1 October 2013, with an action to have the
    # school nurse check it by Thursday 3 October that is never recorded as done
    story = amys_case()

    # When judged on Monday 7 October
    opened = story.opened("2013-10-07")

    # Then the concern and the action are breached; the statutory clocks are running
    assert opened == {
        ("concern-not-followed-up", "bruise"): "breached",
        ("action-overdue", "supervision 2013-10-01"): "breached",
        ("assessment-overdue", "referral"): "pending",
        ("child-not-seen", "visit 2013-09-20"): "pending",
        ("supervision-overdue", "supervision 2013-10-01"): "pending",
    }
    concern = story.alert("concern-not-followed-up", "bruise", "2013-10-07")
    assert (concern.due_at, concern.breached_at) == (end_of("2013-10-02"), start_of("2013-10-03"))
    assert concern.severity is Severity.CRITICAL
    assert concern.message.startswith("Bruising reported by children's social care on 1 October")
    action = story.alert("action-overdue", "supervision 2013-10-01", "2013-10-07")
    assert (action.due_at, action.breached_at) == (end_of("2013-10-03"), start_of("2013-10-04"))
    assessment = story.alert("assessment-overdue", "referral", "2013-10-07")
    assert assessment.due_at == end_of("2013-11-19")  # 45 working days from 17 September
    seen = story.alert("child-not-seen", "visit 2013-09-20", "2013-10-07")
    assert seen.due_at == end_of("2013-10-18")

    # And the next visit that saw Amy (8 October) counts as the concern's response, late; the
    # action is still outstanding
    visited = story.alert("concern-not-followed-up", "bruise", "2013-10-08")
    assert visited.resolved_by == story.ids["visit 2013-10-08"]
    assert visited.breached_at == start_of("2013-10-03")
    assert ("action-overdue", "supervision 2013-10-01") in story.opened("2013-10-08")


def test_section_47_when_the_share_with_police_left_out_the_bruise_then_breached_until_icpc() -> (
    None
):
    # Given the school's disclosure (14 October), a strategy discussion and s47 enquiry on
    # Tuesday 15 October, and the information shared with the police and health for it, which
    # references the disclosure and not the bruise of 1 October
    story = amys_case()

    # When judged on Monday 4 November, the day before the ICPC
    opened = story.opened("2013-11-04")

    # Then the omission is breached since the share; the ICPC is pending, due on the 15th
    # working day after the strategy discussion
    assert opened == {
        ("sharing-omitted-concerns", "share for the strategy discussion"): "breached",
        ("icpc-overdue", "strategy discussion"): "pending",
        ("action-overdue", "supervision 2013-10-01"): "breached",
        ("child-not-seen", "visit 2013-10-29"): "pending",
        ("supervision-overdue", "supervision 2013-10-01"): "pending",
    }
    share = story.alert(
        "sharing-omitted-concerns", "share for the strategy discussion", "2013-11-04"
    )
    assert share.event_ids == (
        story.ids["share for the strategy discussion"],
        story.ids["bruise"],
    )
    assert (share.due_at, share.breached_at) == (None, start_of("2013-10-15"))
    assert share.message == (
        "Information shared with health:barsetshire-community-health, police:barsetshire on "
        "15 October 2013 left out earlier concerns: bruising reported by children's social care "
        "on 1 October 2013"
    )
    icpc = story.alert("icpc-overdue", "strategy discussion", "2013-11-04")
    assert icpc.event_ids == (story.ids["strategy discussion"], story.ids["s47"])
    assert icpc.due_at == end_of("2013-11-05")
    assessment = story.alert("assessment-overdue", "referral", "2013-11-04")
    assert (assessment.resolved_by, assessment.breached_at) == (
        story.ids["assessment completed"],
        None,
    )

    # And on 5 November the ICPC is held in time, and the conference report shared with both
    # agencies references the bruise: the omission is put right
    icpc = story.alert("icpc-overdue", "strategy discussion", "2013-11-05")
    assert (icpc.resolved_by, icpc.breached_at) == (story.ids["ICPC"], None)
    share = story.alert(
        "sharing-omitted-concerns", "share for the strategy discussion", "2013-11-05"
    )
    assert share.resolved_by == story.ids["conference report shared"]


def test_cp_plan_when_the_first_core_group_is_missed_then_core_group_overdue_breached() -> None:
    # Given a CP plan from the ICPC on Tuesday 5 November 2013, its first core group held on
    # 26 November (due within 10 working days: by 19 November), visits on 29 October and 12 Nov
    story = amys_case()

    # When judged on Monday 25 November
    opened = story.opened("2013-11-25")

    # Then the core group is breached, the review conference and the next visit are pending
    assert opened == {
        ("core-group-overdue", "ICPC"): "breached",
        ("review-conference-overdue", "ICPC"): "pending",
        ("cp-visit-overdue", "visit 2013-11-12"): "pending",
        ("child-not-seen", "visit 2013-11-12"): "pending",
        ("action-overdue", "supervision 2013-10-01"): "breached",
        ("supervision-overdue", "supervision 2013-10-01"): "pending",
    }
    core_group = story.alert("core-group-overdue", "ICPC", "2013-11-25")
    assert (core_group.due_at, core_group.breached_at) == (
        end_of("2013-11-19"),
        start_of("2013-11-20"),
    )
    review = story.alert("review-conference-overdue", "ICPC", "2013-11-25")
    assert review.due_at == end_of("2014-02-05")  # 3 months after the ICPC
    visit = story.alert("cp-visit-overdue", "visit 2013-11-12", "2013-11-25")
    assert visit.due_at == end_of("2013-11-26")
    first = story.alert("cp-visit-overdue", "CP plan", "2013-11-25")
    assert (first.resolved_by, first.breached_at) == (story.ids["visit 2013-11-12"], None)

    # And the core group of 26 November resolves it late, keeping when it was breached
    late = story.alert("core-group-overdue", "ICPC", "2013-11-26")
    assert (late.resolved_by, late.breached_at) == (story.ids["CG-1"], start_of("2013-11-20"))


def test_cp_plan_when_statutory_visits_lapse_then_cp_visit_overdue_breached() -> None:
    # Given no visit between 12 November and 6 December 2013 (10 working days: by 26 Nov), and
    # the core group's minutes recorded on 3 December but not yet sent
    story = amys_case()

    # When judged on Wednesday 4 December
    opened = story.opened("2013-12-04")

    # Then the visit is breached; the minutes are recorded; their circulation is pending
    assert opened == {
        ("cp-visit-overdue", "visit 2013-11-12"): "breached",
        ("minutes-not-circulated", "CG-1"): "pending",
        ("review-conference-overdue", "ICPC"): "pending",
        ("child-not-seen", "visit 2013-11-12"): "pending",
        ("action-overdue", "supervision 2013-10-01"): "breached",
        ("supervision-overdue", "supervision 2013-11-26"): "pending",
    }
    gap = story.alert("cp-visit-overdue", "visit 2013-11-12", "2013-12-04")
    assert gap.breached_at == start_of("2013-11-27")
    minuted = story.alert("meeting-not-minuted", "CG-1", "2013-12-04")
    assert (minuted.resolved_by, minuted.breached_at) == (story.ids["minutes of CG-1"], None)
    circulated = story.alert("minutes-not-circulated", "CG-1", "2013-12-04")
    assert circulated.due_at == end_of("2013-12-17")

    # And the visit of 6 December resolves the gap, late
    visited = story.alert("cp-visit-overdue", "visit 2013-11-12", "2013-12-06")
    assert (visited.resolved_by, visited.breached_at) == (
        story.ids["visit 2013-12-06"],
        start_of("2013-11-27"),
    )


def test_christmas_when_minutes_never_reach_the_school_then_breached_and_visits_due_after() -> None:
    # Given the core group's minutes sent on 5 December to health and the mother only (the
    # school attended), and a visit on Tuesday 17 December 2013
    story = amys_case()

    # When judged on Tuesday 31 December
    opened = story.opened("2013-12-31")

    # Then the minutes are breached, naming the school; the next visit is due on the 10th
    # working day after 17 December, skipping 25 and 26 December and 1 January: 3 January
    assert opened == {
        ("minutes-not-circulated", "CG-1"): "breached",
        ("cp-visit-overdue", "visit 2013-12-17"): "pending",
        ("child-not-seen", "visit 2013-12-17"): "pending",
        ("review-conference-overdue", "ICPC"): "pending",
        ("action-overdue", "supervision 2013-10-01"): "breached",
        ("supervision-overdue", "supervision 2013-11-26"): "pending",
    }
    minutes = story.alert("minutes-not-circulated", "CG-1", "2013-12-31")
    assert minutes.breached_at == start_of("2013-12-18")
    assert minutes.message == (
        "Minutes of the core group meeting on 26 November 2013 not sent to "
        "school:st-marys-primary: due by 17 December 2013"
    )
    visit = story.alert("cp-visit-overdue", "visit 2013-12-17", "2013-12-31")
    assert visit.due_at == end_of("2014-01-03")
    seen = story.alert("child-not-seen", "visit 2013-12-17", "2013-12-31")
    assert seen.due_at == end_of("2014-01-17")
    supervision = story.alert("supervision-overdue", "supervision 2013-11-26", "2013-12-31")
    assert supervision.due_at == end_of("2014-01-21")  # 8 weeks: the holidays do not move it

    # And sending them to the school on 8 January resolves them, late
    sent = story.alert("minutes-not-circulated", "CG-1", "2014-01-08")
    assert (sent.resolved_by, sent.breached_at) == (
        story.ids["minutes of CG-1 sent 2014-01-08"],
        start_of("2013-12-18"),
    )


def test_late_visit_when_judged_on_what_was_recorded_then_breached_before_it_and_met_after() -> (
    None
):
    # Given a visit on Thursday 2 January 2014, within the 10 working days, recorded on 27 Jan
    story = amys_case()

    # When the 10 January is judged on what had been recorded by then
    then = story.opened("2014-01-10", known_at="2014-01-10")

    # Then the visit after 17 December looked breached
    assert then == {
        ("cp-visit-overdue", "visit 2013-12-17"): "breached",
        ("child-not-seen", "visit 2013-12-17"): "pending",
        ("review-conference-overdue", "ICPC"): "pending",
        ("action-overdue", "supervision 2013-10-01"): "breached",
        ("supervision-overdue", "supervision 2013-11-26"): "pending",
    }
    gap = story.alert("cp-visit-overdue", "visit 2013-12-17", "2014-01-10", "2014-01-10")
    assert gap.breached_at == start_of("2014-01-04")

    # And judged on what was recorded by 27 January, the visit was made in time: the next one
    # is due by 16 January; the same as judged on everything recorded since
    known = story.opened("2014-01-10", known_at="2014-01-27")
    assert known == {
        ("cp-visit-overdue", "visit 2014-01-02"): "pending",
        ("child-not-seen", "visit 2014-01-02"): "pending",
        ("review-conference-overdue", "ICPC"): "pending",
        ("action-overdue", "supervision 2013-10-01"): "breached",
        ("supervision-overdue", "supervision 2013-11-26"): "pending",
    }
    assert story.opened("2014-01-10") == known
    met = story.alert("cp-visit-overdue", "visit 2013-12-17", "2014-01-10", "2014-01-27")
    assert (met.resolved_by, met.breached_at) == (story.ids["visit 2014-01-02"], None)
    assert story.alert("cp-visit-overdue", "visit 2014-01-02", "2014-01-10").due_at == end_of(
        "2014-01-16"
    )


def test_late_visit_when_recorded_weeks_later_then_late_recording_from_the_recording() -> None:
    # Given the visit of 2 January 2014 recorded on 27 January
    story = amys_case()

    # When judged on Friday 31 January, on what was recorded by 24 January
    before = story.opened("2014-01-31", known_at="2014-01-24")

    # Then there was no late entry yet, and the Christmas gap looked like one that the 14
    # January visit closed late
    assert ("late-recording", "visit 2014-01-02") not in before
    gap = story.alert("cp-visit-overdue", "visit 2013-12-17", "2014-01-31", "2014-01-24")
    assert (gap.resolved_by, gap.breached_at) == (
        story.ids["visit 2014-01-14"],
        start_of("2014-01-04"),
    )

    # And on everything recorded, the late entry is open (info) from when it was recorded
    assert story.opened("2014-01-31") == {
        ("late-recording", "visit 2014-01-02"): "breached",
        ("cp-visit-overdue", "visit 2014-01-28"): "pending",
        ("child-not-seen", "visit 2014-01-28"): "pending",
        ("review-conference-overdue", "ICPC"): "pending",
        ("action-overdue", "supervision 2013-10-01"): "breached",
        ("supervision-overdue", "supervision 2014-01-14"): "pending",
    }
    late = story.alert("late-recording", "visit 2014-01-02", "2014-01-31")
    assert late.severity is Severity.INFO
    assert late.breached_at == datetime(2014, 1, 27, 16, 0, tzinfo=UTC)
    assert late.message == (
        "Visit made (2 January 2014) was recorded on 27 January 2014, 17 working days after it "
        "happened: routine entries are recorded within 5"
    )


def test_step_down_when_plan_ended_and_case_closed_then_nothing_is_open() -> None:
    # Given the review conference of 4 February 2014 ending the plan, a step-down to early help
    # (11 February), the closure (14 February) and a manager's acknowledgements at closure
    story = amys_case()

    # When judged on 20 February
    opened = story.opened("2014-02-20")

    # Then nothing is open
    assert opened == {}

    # And each clock was stopped by what its rule names, lapses keeping when they were breached
    def resolution(rule: str, name: str) -> tuple[str | None, datetime | None]:
        alert = story.alert(rule, name, "2014-02-20")
        return alert.resolved_by, alert.breached_at

    ids = story.ids
    assert resolution("review-conference-overdue", "ICPC") == (ids["review conference"], None)
    assert resolution("cp-visit-overdue", "visit 2014-01-28") == (ids["CP plan ended"], None)
    assert resolution("child-not-seen", "visit 2014-02-11") == (ids["closure"], None)
    assert resolution("supervision-overdue", "supervision 2014-01-14") == (ids["closure"], None)
    assert resolution("action-overdue", "supervision 2013-10-01") == (
        ids["bruise action acknowledged"],
        start_of("2013-10-04"),
    )
    assert resolution("late-recording", "visit 2014-01-02") == (
        ids["late visit acknowledged"],
        datetime(2014, 1, 27, 16, 0, tzinfo=UTC),
    )


def test_re_referral_when_police_contact_on_maundy_thursday_then_decision_due_after_easter() -> (
    None
):
    # Given a police contact on Thursday 17 April 2014, on the closed case (Good Friday and
    # Easter Monday are bank holidays)
    story = amys_case()

    # When judged on Easter Monday, 21 April
    opened = story.opened("2014-04-21")

    # Then the decision is still pending, due at the end of Tuesday 22 April, and the contact
    # is flagged as activity on a closed case
    assert opened == {
        ("decision-overdue", "police contact"): "pending",
        ("activity-on-closed-case", "police contact"): "breached",
    }
    decision = story.alert("decision-overdue", "police contact", "2014-04-21")
    assert decision.due_at == end_of("2014-04-22")
    activity = story.alert("activity-on-closed-case", "police contact", "2014-04-21")
    assert activity.event_ids == (story.ids["police contact"], story.ids["closure"])
    assert activity.breached_at == start_of("2014-04-17")

    # And on the Tuesday the decision is in time, and the new referral resolves the activity
    decided = story.alert("decision-overdue", "police contact", "2014-04-22")
    assert (decided.resolved_by, decided.breached_at) == (
        story.ids["decision on the police contact"],
        None,
    )
    reopened = story.alert("activity-on-closed-case", "police contact", "2014-04-22")
    assert reopened.resolved_by == story.ids["re-referral"]


def test_re_referral_when_within_12_months_then_repeat_referral_open_until_acknowledged() -> None:
    # Given the referral of 22 April 2014, seven months after the first (17 September 2013)
    story = amys_case()

    # When judged on Friday 25 April
    opened = story.opened("2014-04-25")

    # Then the re-referral is flagged (no deadline: open from the referral) and the new
    # episode's clocks run; a worker was allocated the next day, in time
    assert opened == {
        ("repeat-referral", "re-referral"): "breached",
        ("assessment-overdue", "re-referral"): "pending",
        ("child-not-seen", "visit 2014-04-23"): "pending",
        ("supervision-overdue", "re-referral"): "pending",
    }
    repeat = story.alert("repeat-referral", "re-referral", "2014-04-25")
    assert repeat.event_ids == (story.ids["re-referral"], story.ids["referral"])
    assert (repeat.severity, repeat.breached_at) == (Severity.INFO, start_of("2014-04-22"))
    allocated = story.alert("no-allocated-worker", "re-referral", "2014-04-25")
    assert (allocated.resolved_by, allocated.breached_at) == (story.ids["reallocation"], None)
    seen = story.alert("child-not-seen", "visit 2014-04-23", "2014-04-25")
    assert seen.due_at == end_of("2014-05-22")  # 20 working days, past the 5 May bank holiday
    assessment = story.alert("assessment-overdue", "re-referral", "2014-04-25")
    assert assessment.due_at == end_of("2014-06-26")

    # And only a manager's acknowledgement resolves it
    acknowledged = story.alert("repeat-referral", "re-referral", "2014-04-29")
    assert acknowledged.resolved_by == story.ids["re-referral acknowledged"]


def test_looked_after_when_placed_then_first_review_and_visit_clocks_run() -> None:
    # Given Amy looked after (s20) from Thursday 12 June 2014, visited on 17 June
    story = amys_case()

    # When judged on Monday 7 July
    opened = story.opened("2014-07-07")

    # Then the first review is pending, due on the 20th working day; the visits are in time
    assert opened == {
        ("lac-review-overdue", "care"): "pending",
        ("lac-visit-overdue", "visit 2014-06-17"): "pending",
        ("child-not-seen", "visit 2014-06-17"): "pending",
        ("supervision-overdue", "supervision 2014-07-01"): "pending",
    }
    assert story.alert("lac-review-overdue", "care", "2014-07-07").due_at == end_of("2014-07-10")
    first = story.alert("lac-visit-overdue", "care", "2014-07-07")
    assert (first.due_at, first.resolved_by, first.breached_at) == (
        end_of("2014-06-19"),
        story.ids["visit 2014-06-17"],
        None,
    )
    every = story.alert("lac-visit-overdue", "visit 2014-06-17", "2014-07-07")
    assert every.due_at == end_of("2014-07-29")  # 6 weeks
    assessment = story.alert("assessment-overdue", "re-referral", "2014-07-07")
    assert assessment.resolved_by == story.ids["second assessment completed"]

    # And the move to her grandmother (2 February 2015) starts a new week for a first visit
    moved = story.alert("lac-visit-overdue", "move to grandmother", "2015-02-06")
    assert (moved.due_at, moved.resolved_by) == (
        end_of("2015-02-09"),
        story.ids["visit 2015-02-05"],
    )


def test_looked_after_when_the_third_review_slips_past_easter_then_breached_then_resolved() -> None:
    # Given reviews on 8 July and 7 October 2014, and the next on 14 April 2015 (6 months after
    # the second: by 7 April; months are calendar months, not moved by Easter)
    story = amys_case()

    # When judged on Friday 10 April 2015
    opened = story.opened("2015-04-10")

    # Then the review is breached
    assert opened == {
        ("lac-review-overdue", "CLA-2"): "breached",
        ("lac-visit-overdue", "visit 2015-03-30"): "pending",
        ("child-not-seen", "visit 2015-03-30"): "pending",
        ("supervision-overdue", "supervision 2015-03-10"): "pending",
    }
    review = story.alert("lac-review-overdue", "CLA-2", "2015-04-10")
    assert (review.due_at, review.breached_at) == (end_of("2015-04-07"), start_of("2015-04-08"))
    second = story.alert("lac-review-overdue", "CLA-1", "2015-04-10")
    assert (second.due_at, second.resolved_by) == (end_of("2014-10-08"), story.ids["CLA-2"])
    seen = story.alert("child-not-seen", "visit 2015-03-30", "2015-04-10")
    assert seen.due_at == end_of("2015-04-29")  # past Good Friday and Easter Monday

    # And the review of 14 April resolves it late and starts the next 6 months
    assert story.opened("2015-04-20") == {
        ("lac-review-overdue", "CLA-3"): "pending",
        ("lac-visit-overdue", "visit 2015-03-30"): "pending",
        ("child-not-seen", "visit 2015-03-30"): "pending",
        ("supervision-overdue", "supervision 2015-03-10"): "pending",
    }
    late = story.alert("lac-review-overdue", "CLA-2", "2015-04-20")
    assert (late.resolved_by, late.breached_at) == (story.ids["CLA-3"], start_of("2015-04-08"))
    assert story.alert("lac-review-overdue", "CLA-3", "2015-04-20").due_at == end_of("2015-10-14")
