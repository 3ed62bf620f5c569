"""The audit write alone: `AuditLog.record` called in-process on a fresh audit store.

The record is the one `AuditedRoute` writes for a practitioner's chronology read of one case
(its route, path parameters and case id). On SQLite the audit has its own file (WAL,
`synchronous=FULL`: every record is flushed to disk before the read is served); on PostgreSQL its
own tables in the store's schema. Measure 5 shows what the write costs a read over HTTP; this
shows the write by itself.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from bench.server import AGENCY
from bench.timing import Timing, repeat, time_loop
from service.audit import AuditLog, Read
from service.principal import Principal
from service.settings import Settings

ROUTE = "/cases/{case_id}/chronology"


def chronology_read(case_id: str) -> Read:
    return Read(
        at=datetime.now(UTC),
        who=Principal("bench", "Bench Worker", AGENCY, ("practitioner",)),
        method="GET",
        route=ROUTE,
        params={"case_id": case_id},
        status=200,
        case_ids=(case_id,),
        view="full",
    )


def record_cost(settings: Settings, n: int, warmup: int) -> Timing:
    """`n` timed `record` calls (after `warmup` untimed ones) on the settings' audit store,
    which must be fresh: its tables are created here."""
    settings.prepare()
    audit = AuditLog(settings)
    try:
        read = chronology_read(str(uuid.uuid4()))
        time_loop(repeat(lambda: audit.record(read), warmup))
        return time_loop(repeat(lambda: audit.record(read), n))
    finally:
        audit.close()
