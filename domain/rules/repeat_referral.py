"""`repeat-referral` ◦: a referral within 12 months of an earlier one, a re-referral in the
CIN census, made visible until a manager acknowledges it (DOMAIN.md §4)."""

from __future__ import annotations

from domain.moments import months_after
from domain.rules.base import (
    REFERRALS,
    Alert,
    CaseAtMoment,
    Severity,
    Timescale,
    day_text,
    is_referral,
    referral_words,
    standing_alert,
)
from domain.selection import Entry
from domain.values import AlertRule

MONTHS = Timescale(
    AlertRule.REPEAT_REFERRAL,
    "months",
    12,
    "months",
    "DfE Children in Need census: a re-referral is a referral within 12 months of a previous "
    "referral",
)
TIMESCALES = (MONTHS,)


def check(case: CaseAtMoment) -> list[Alert]:
    alerts = []
    previous: Entry | None = None
    seen: set[str] = set()
    for referral in case.of_type(*REFERRALS):
        # A referral recorded again (the case reopened on it, say) is neither a re-referral nor
        # a later date to count the next referral's 12 months from: its date is its first.
        if not is_referral(referral) or referral.data["referral_id"] in seen:
            continue
        seen.add(referral.data["referral_id"])
        if previous is not None:
            within = months_after(previous.occurred.london_date, case.number(MONTHS))
            if referral.occurred.london_date <= within:
                alerts.append(_alert(referral, previous, case.number(MONTHS)))
        previous = referral
    return alerts


def _alert(referral: Entry, previous: Entry, months: int) -> Alert:
    message = (
        f"Re-referral: {referral_words(referral)} is within "
        f"{months} months of the referral of {day_text(previous.occurred.instant)}"
    )
    return standing_alert(
        AlertRule.REPEAT_REFERRAL,
        Severity.INFO,
        message,
        [referral.id, previous.id],
        referral.occurred.instant,
        None,
    )
