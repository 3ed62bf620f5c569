"""`voice-not-recorded`: an episode with an assessment completed or a plan started, and neither
the child's views nor why they could not be obtained recorded in it (DOMAIN.md §4).

No deadline: breached from the assessment or plan (or the child's birth, if later) until the
child's voice is recorded in the episode (since the birth), or the episode closes.
"""

from __future__ import annotations

from domain.rules.base import Alert, CaseAtMoment, Severity, Timescale, day_text, standing_alert
from domain.rules.spans import born_from
from domain.values import AlertRule

TIMESCALES: tuple[Timescale, ...] = ()  # no number: see the docstring

TRIGGERS = {
    "AssessmentCompleted": "An assessment was completed",
    "ChildInNeedPlanStarted": "A child in need plan started",
    "ChildProtectionPlanStarted": "A child protection plan started",
    "PeriodOfCareStarted": "The child became looked after",
}
VOICE = frozenset({"ChildsVoiceRecorded", "ChildsVoiceNotObtained"})


def check(case: CaseAtMoment) -> list[Alert]:
    entries = case.entries
    born = born_from(case)
    if born is None:
        return []
    position = {e.id: p for p, e in enumerate(entries)}
    alerts = []
    for episode in case.state.episodes:
        first = position[episode.opened_by.event_id]
        last = position[episode.closed_by.event_id] if episode.closed_by else len(entries)
        inside = entries[first:last]
        trigger = next((p for p, e in enumerate(inside, first) if e.type in TRIGGERS), None)
        # The rule does not apply while the child is unborn: the clock starts at birth, and an
        # entry made before it (why an unborn child's views could not be obtained) does not
        # stand for the born child's.
        voice = next(
            (e for p, e in enumerate(inside, first) if e.type in VOICE and p >= born), None
        )
        if trigger is None or born >= last or (voice and position[voice.id] < max(trigger, born)):
            continue
        start = entries[max(trigger, born)]
        what = TRIGGERS[entries[trigger].type]
        message = (
            f"{what} on {day_text(entries[trigger].occurred.instant)} and the child's views are "
            f"not recorded in the episode opened on {day_text(entries[first].occurred.instant)}, "
            f"nor why they could not be obtained"
        )
        closed = entries[last] if last < len(entries) else None
        alerts.append(
            standing_alert(
                AlertRule.VOICE_NOT_RECORDED,
                Severity.WARNING,
                message,
                [start.id],
                start.occurred.instant,
                voice or closed,
            )
        )
    return alerts
