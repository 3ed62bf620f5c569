"""`break-glass-access` ◦: the case was read by break-glass (DOMAIN.md §4; DESIGN.md "Who may
see what"). The reads come from the access audit, not the log; each raises an alert for the
owning authority, breached from the moment of the read, resolved only by a manager's
acknowledgement naming the read."""

from __future__ import annotations

from domain.rules.base import Alert, CaseAtMoment, Severity, day_text, standing_alert
from domain.values import AlertRule

TIMESCALES = ()


def check(case: CaseAtMoment) -> list[Alert]:
    return [
        standing_alert(
            AlertRule.BREAK_GLASS_ACCESS,
            Severity.WARNING,
            f"Read by break-glass on {day_text(read.at)} by {read.name} ({read.agency})"
            + (f": {read.purpose}" if read.purpose else ""),
            [read.read_id],
            read.at,
            None,
        )
        for read in case.break_glass_reads
    ]
