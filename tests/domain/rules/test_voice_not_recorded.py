"""`voice-not-recorded`: an episode with an assessment completed or a plan started, and neither the
child's views nor why they could not be obtained recorded in it. No deadline: it starts breached."""

from __future__ import annotations

from domain.moments import Moment
from domain.rules import AlertStatus, Severity
from domain.rules import voice_not_recorded as rule
from tests.domain.rule_log import Log

RULES = [rule.check]


def _episode(log: Log, day: str = "2013-05-02") -> str:
    return log.add("ReferralAccepted", day)


def test_voice_not_recorded_when_assessment_completed_without_it_then_breached_from_then() -> None:
    # Given an episode opened on 2 May 2013 with an assessment completed on 16 May
    log = Log()
    _episode(log)
    assessment = log.add("AssessmentCompleted", "2013-05-16")

    # When judged a day later
    [alert] = log.alerts("2013-05-17", rules=RULES)

    # Then it is breached since the assessment, with no deadline, named by the assessment
    assert alert.rule == "voice-not-recorded"
    assert alert.status is AlertStatus.BREACHED
    assert alert.severity is Severity.WARNING
    assert alert.event_ids == (assessment,)
    assert alert.due_at is None
    assert alert.breached_at == Moment.parse("2013-05-16").instant
    assert alert.message == (
        "An assessment was completed on 16 May 2013 and the child's views are not recorded in "
        "the episode opened on 2 May 2013, nor why they could not be obtained"
    )


def test_voice_not_recorded_when_voice_recorded_later_then_resolved_by_it() -> None:
    # Given a child in need plan started, then a record of why the child's views were not obtained
    log = Log()
    _episode(log)
    plan = log.add("ChildInNeedPlanStarted", "2013-05-16")
    voice = log.add("ChildsVoiceNotObtained", "2013-05-20")

    # Then the alert is resolved by it, and was breached from the plan's start until then
    [alert] = log.alerts("2013-05-21", rules=RULES)
    assert (alert.status, alert.resolved_by, alert.event_ids) == (
        AlertStatus.RESOLVED,
        voice,
        (plan,),
    )
    assert log.alerts("2013-05-19", rules=RULES)[0].status is AlertStatus.BREACHED


def test_voice_not_recorded_when_voice_recorded_before_the_assessment_then_no_alert() -> None:
    log = Log()
    _episode(log)
    log.add("ChildsVoiceRecorded", "2013-05-10")
    log.add("AssessmentCompleted", "2013-05-16")
    assert log.alerts("2013-05-17", rules=RULES) == []


def test_voice_not_recorded_when_no_assessment_or_plan_yet_then_no_alert() -> None:
    log = Log()
    _episode(log)
    log.add("AssessmentStarted", "2013-05-03")
    assert log.alerts("2013-07-01", rules=RULES) == []


def test_voice_not_recorded_when_voice_only_in_an_earlier_episode_then_fires_again() -> None:
    # Given a first episode with the child's views recorded, closed, then a reopened episode
    log = Log()
    _episode(log)
    log.add("ChildsVoiceRecorded", "2013-05-10")
    log.add("AssessmentCompleted", "2013-05-16")
    log.add("CaseClosed", "2013-06-01")
    log.add("CaseReopened", "2014-02-03")
    plan = log.add("ChildProtectionPlanStarted", "2014-02-20")

    # Then the new episode's plan raises it: the earlier views are not this episode's
    [alert] = log.alerts("2014-03-01", rules=RULES)
    assert (alert.status, alert.event_ids) == (AlertStatus.BREACHED, (plan,))
    assert alert.message.startswith("A child protection plan started on 20 February 2014")


def test_voice_not_recorded_when_episode_closes_without_it_then_resolved_by_the_closure() -> None:
    log = Log()
    _episode(log)
    log.add("AssessmentCompleted", "2013-05-16")
    closed = log.add("CaseClosed", "2013-06-01")
    [alert] = log.alerts("2013-07-01", rules=RULES)
    assert (alert.status, alert.resolved_by) == (AlertStatus.RESOLVED, closed)


def test_voice_not_recorded_when_child_unborn_then_no_alert_until_birth() -> None:
    # Given a pre-birth assessment completed on 16 May 2013, the baby born on 10 June
    log = Log(unborn=True, date_of_birth=None, expected_date_of_birth="2013-06-10", sex="U")
    _episode(log)
    log.add("AssessmentCompleted", "2013-05-16")
    birth = log.add("PersonDetailsChanged", "2013-06-10", unborn=False, date_of_birth="2013-06-10")

    # Then before the birth nothing is flagged
    assert log.alerts("2013-06-09", rules=RULES) == []

    # And from the birth it is breached, named by the birth
    [alert] = log.alerts("2013-06-11", rules=RULES)
    assert (alert.status, alert.event_ids) == (AlertStatus.BREACHED, (birth,))
    assert alert.breached_at == Moment.parse("2013-06-10").instant


def test_voice_not_recorded_when_only_a_pre_birth_entry_then_due_from_the_birth() -> None:
    # Given why the unborn child's views could not be obtained, recorded on 10 May 2013, then a
    # pre-birth assessment, the birth on 10 June and a plan on 15 July
    log = Log(unborn=True, date_of_birth=None, expected_date_of_birth="2013-06-10", sex="U")
    _episode(log)
    log.add("ChildsVoiceNotObtained", "2013-05-10", reason="Unborn")
    log.add("AssessmentCompleted", "2013-05-16")
    birth = log.add("PersonDetailsChanged", "2013-06-10", unborn=False, date_of_birth="2013-06-10")
    log.add("ChildProtectionPlanStarted", "2013-07-15")

    # Then the entry made before the birth does not stand for the born child: breached from birth
    [alert] = log.alerts("2014-03-01", rules=RULES)
    assert (alert.status, alert.event_ids) == (AlertStatus.BREACHED, (birth,))

    # And the baby's views (an observation) recorded after the birth resolve it
    voice = log.add("ChildsVoiceRecorded", "2013-07-20")
    [alert] = log.alerts("2014-03-01", rules=RULES)
    assert (alert.status, alert.resolved_by) == (AlertStatus.RESOLVED, voice)


def test_voice_not_recorded_when_voice_recorded_late_then_open_before_it_was_known() -> None:
    # Given the child's views heard on 20 May but recorded on 30 May
    log = Log()
    _episode(log)
    log.add("AssessmentCompleted", "2013-05-16", "2013-05-16T10:00:00Z")
    log.add("ChildsVoiceRecorded", "2013-05-20", "2013-05-30T10:00:00Z")

    # Then on 25 May, on what was recorded by then, it was breached
    [before] = log.alerts("2013-05-25", known_at="2013-05-25", rules=RULES)
    assert before.status is AlertStatus.BREACHED
    assert log.alerts("2013-05-25", rules=RULES)[0].status is AlertStatus.RESOLVED
