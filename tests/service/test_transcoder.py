"""The log's transcoder writes the library's JSON format, byte for byte, and reads what the
library's transcoder wrote; an entry is a client's JSON document, read back as it was written."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.cipher import AESCipher
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    UUIDAsHex,
)
from eventsourcing.utils import Environment
from hypothesis import given
from hypothesis import strategies as st

from domain.case import Case
from service.transcoder import LogMapper, LogTranscoder

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
# What an entry holds: integers the chain hash can hold.
entry_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
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


def _batch(*data: Any, when: datetime = WHEN) -> list[DomainEventProtocol[Any]]:
    """The events of a case opened and then given one entry per `data`, in one batch recorded
    `when`."""
    case = Case.open(
        uuid4(), [_entry({"local_authority": "csc:x"}) | {"type": "CaseOpened"}], recorded_at=WHEN
    )
    case.record([_entry(d) for d in data], recorded_at=when)
    return list(case.collect_events())


@given(st.lists(entry_values, min_size=1, max_size=4))
def test_map_when_case_events_then_same_stored_events_as_library_mapper(data: list[Any]) -> None:
    # Given a batch of a case's events, each entry holding any JSON document
    events = _batch(*data)

    # When the log's mapper and the library's (with its own transcoder) map them
    # Then each stored event is the same, byte for byte, and maps back to the same event
    log, library = LogMapper(_log()), Mapper(_library())
    for event in events:
        stored = log.to_stored_event(event)
        assert stored == library.to_stored_event(event)
        assert log.to_domain_event(stored) == event


@pytest.mark.parametrize(
    "data", [{"n": 1.5, "m": 1e16}, {"n": 2**64 + 1}], ids=["floats", "integer beyond 64 bits"]
)
def test_map_when_entry_holds_floats_or_what_orjson_refuses_then_library_bytes(
    data: dict[str, Any],
) -> None:
    # Given an event whose entry holds floats (which orjson writes as the library does), or an
    # integer orjson refuses (which no sealed entry holds: the chain hash refuses it, and the
    # library's way writes it)
    event = Case.Recorded(originator_id=uuid4(), originator_version=2, timestamp=WHEN, entry=data)

    # When the log's mapper maps it
    # Then it is written as the library writes it
    assert LogMapper(_log()).to_stored_event(event) == Mapper(_library()).to_stored_event(event)


def test_map_when_batches_recorded_at_other_times_then_each_batch_its_own_time() -> None:
    # Given one mapper, and batches recorded at one time, at a later one, and at a time equal
    # to the first but another object
    log, library = LogMapper(_log()), Mapper(_library())
    later = datetime(2026, 3, 4, 5, 6, 8, tzinfo=UTC)
    again = datetime.fromisoformat(WHEN.isoformat())
    assert again == WHEN and again is not WHEN

    # When each batch is mapped in turn
    # Then each event carries its own batch's time, as the library writes it
    for when in (WHEN, later, again, later):
        for event in _batch({"note": "x"}, {"note": "y"}, when=when)[1:]:
            stored = log.to_stored_event(event)
            assert stored == library.to_stored_event(event)
            assert log.to_domain_event(stored).timestamp == when


def test_map_when_compressed_and_encrypted_then_library_reads_it_back() -> None:
    # Given the log's mapper and the library's, compressing and encrypting with one key
    key = AESCipher.create_key(16)
    cipher = AESCipher(Environment(env={AESCipher.CIPHER_KEY: key}))
    log = LogMapper(_log(), ZlibCompressor(), cipher)
    library = Mapper(_library(), ZlibCompressor(), cipher)

    # When a batch is mapped by the log's mapper
    # Then the library's reads each event back as it was
    for event in _batch({"note": "x"}, {"note": "y"}):
        assert library.to_domain_event(log.to_stored_event(event)) == event


def _log() -> LogTranscoder:
    return LogTranscoder(_library())
