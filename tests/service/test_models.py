"""The write routes' bodies: what the binder parses and stores is what FastAPI's way would."""

from __future__ import annotations

import json
import uuid
from typing import Any

import orjson
import pytest

from domain.catalogue import catalogue
from service.api.models import AppendRequest, OpenCaseRequest
from tests.support import event

KINDS = [kind.name for kind in catalogue if kind.name != "CaseOpened"]


def _batch(**envelope: Any) -> list[dict[str, Any]]:
    """One event of every type (their catalogue examples), each with `envelope` added."""
    target = str(uuid.uuid4())
    return [event(kind, target=target, **envelope) for kind in KINDS]


BATCHES = {
    "bare": _batch(),
    "full envelope": _batch(
        occurred_precision="month",
        author={"name": "Ann Jones", "role": "Teacher", "agency": "school:st-marys-primary"},
        source={"system": "SIMS", "reference": "R-1"},
        sensitivity="restricted",
        id=str(uuid.uuid4()).upper(),
    ),
    "date-times": _batch(occurred_at="2013-05-16T14:05:00+01:00"),
}


@pytest.mark.parametrize("events", BATCHES.values(), ids=BATCHES.keys())
def test_batch_when_parsed_as_the_binder_parses_then_as_fastapi_parses_it(
    events: list[dict[str, Any]],
) -> None:
    # Given a batch's JSON
    body = orjson.dumps({"events": events})

    # When it is parsed and validated in one step (the binder), and FastAPI's way (the
    # standard library's parser, then the model)
    direct = AppendRequest.model_validate_json(body)
    fastapi_way = AppendRequest.model_validate(json.loads(body))

    # Then the two are equal, and so are the stored forms taken in one dump or one by one
    assert direct == fastapi_way
    assert direct.stored_forms() == [e.stored_form() for e in fastapi_way.events]


def test_open_case_when_stored_forms_taken_then_only_the_events() -> None:
    # Given an opening batch naming its case id
    opening = OpenCaseRequest.model_validate(
        {"case_id": str(uuid.uuid4()), "events": [event("CaseOpened"), event("ContactReceived")]}
    )

    # Then its stored forms are its events', one by one
    assert opening.stored_forms() == [e.stored_form() for e in opening.events]
