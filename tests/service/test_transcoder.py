"""The log's transcoder writes the library's JSON format, byte for byte, and reads what the
library's transcoder wrote; an entry is a client's JSON document, read back as it was written."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex
from hypothesis import given
from hypothesis import strategies as st

from domain.case import Case
from service.transcoder import LogTranscoder

WHEN = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


def _library() -> JSONTranscoder:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DatetimeAsISO(), DecimalAsStr()):
        transcoder.register(transcoding)
    return transcoder


LIBRARY = _library()
LOG = LogTranscoder(_library())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _entry(data: Any) -> dict[str, Any]:
    return {"id": str(uuid4()), "type": "CaseNoteRecorded", "data": data, "hash": "0" * 64}


def _snapshot_state() -> dict[str, Any]:
    case = Case.open(
        uuid4(), [_entry({"local_authority": "csc:x"}) | {"type": "CaseOpened"}], recorded_at=WHEN
    )
    snapshot = Case.Snapshot.take(case)
    state = dict(vars(snapshot))
    for name in ("originator_id", "originator_version"):
        state.pop(name)
    return state


@given(json_values)
def test_encode_when_event_state_then_same_bytes_as_library(data: Any) -> None:
    # Given an event's state: a time, and an entry holding any JSON document
    state = {"timestamp": WHEN, "entry": _entry(data)}

    # When both transcoders write it
    # Then the bytes are the same, and each reads the other's back to the same state
    written = LOG.encode(state)
    assert written == LIBRARY.encode(state)
    assert LOG.decode(written) == state


def test_encode_when_snapshot_then_same_bytes_as_library_and_values_restored() -> None:
    # Given a snapshot's state: a UUID and datetimes inside the aggregate's state
    state = _snapshot_state()

    # When the log's transcoder writes it
    written = LOG.encode(state)

    # Then it is the library's format, and it reads back as UUIDs and datetimes again
    assert written == LIBRARY.encode(state)
    assert LOG.decode(written) == LIBRARY.decode(written) == state


def test_decode_when_entry_object_looks_tagged_then_left_as_json() -> None:
    # Given an entry whose document holds an object shaped like a tagged value
    tagged = {"_type_": "uuid_hex", "_data_": "not a uuid"}
    state = {"timestamp": WHEN, "entry": _entry({"note": tagged})}

    # When it is written and read back
    # Then the entry is the document as written; only the envelope's values are converted
    assert LOG.decode(LOG.encode(state)) == state
    with pytest.raises(ValueError):  # (where the library's reader would have failed)
        LIBRARY.decode(LIBRARY.encode(state))


@pytest.mark.parametrize(
    "value",
    [2**64 + 1, 1.5, math.inf, Decimal("1.50")],
    ids=["integer beyond 64 bits", "float", "infinity", "value with a transcoding of its own"],
)
def test_encode_when_value_orjson_cannot_write_as_library_then_library_format(value: Any) -> None:
    # Given an envelope holding a value orjson would refuse, or write in its own way
    state = {"timestamp": WHEN, "extra": value}

    # When the log's transcoder writes it
    # Then it is the library's output, read back as the library reads it
    written = LOG.encode(state)
    assert written == LIBRARY.encode(state)
    read = LOG.decode(written)
    assert read == state
    assert type(read["extra"]) is type(value)
