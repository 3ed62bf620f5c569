"""Builders for the projection tests: cases written through `CaseRecords`, table dumps."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import select

from projections.model import AnyModel
from projections.store import ReadModelStore
from service.principal import Principal
from service.records import CaseRecords
from service.settings import Settings
from tests.support import event, payload

WORKER = Principal("ann.worker", "Ann Worker", "csc:barsetshire", ("practitioner",))
SCHOOL = "school:st-marys-primary"


def opened(name: str = "Amy Smith", dob: str = "2016-03-14", **envelope: Any) -> dict[str, Any]:
    child = {"name": name, "date_of_birth": dob, "sex": "F", "ethnicity": "WBRI"}
    return event("CaseOpened", data=payload("CaseOpened", child=child), **envelope)


def open_case(
    records: CaseRecords,
    name: str = "Amy Smith",
    dob: str = "2016-03-14",
    *more: dict[str, Any],
) -> UUID:
    """Open a case (and record `more` in the same batch); its id."""
    return records.open_case(None, [opened(name, dob), *more], by=WORKER).case_id


def record(records: CaseRecords, case_id: UUID, *events: dict[str, Any]) -> None:
    records.record(case_id, list(events), by=WORKER)


def worker(name: str, team: str, **envelope: Any) -> dict[str, Any]:
    return event(
        "WorkerAllocated", data={"worker": name, "team": team, "reason": "test"}, **envelope
    )


def environment(settings: Settings) -> dict[str, str]:
    """The environment a CLI command needs to open the same stores as `settings`."""
    return {
        "CASETRAIL_DATA_DIR": str(settings.data_dir),
        "CASETRAIL_DATABASE_URL": settings.database_url_text,
        "CASETRAIL_POSTGRES_SCHEMA": settings.postgres_schema,
    }


def dump(store: ReadModelStore, model: AnyModel) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the model's live tables, sorted (for comparing two stores' contents)."""
    with store.begin_read() as conn:
        return {
            str(table.name): sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
            for table in model.table_list(store.tables(model))
        }
