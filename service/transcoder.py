"""The log's transcoder: the library's JSON format, written and read with orjson.

A stored Case event is `{"timestamp": ..., "entry": {...}}` (an opening also names its
`originator_topic`), a snapshot `{"timestamp": ..., "topic": ..., "state": {...}}`. The
library's `JSONTranscoder` writes a value JSON cannot hold (a datetime, a UUID) as
`{"_type_": name, "_data_": ...}` and reads any object of that shape back as the value, with a
Python call for every object of every event. Here the same bytes are written and read by orjson,
and only the envelope is looked at for tagged values. An entry is a client's JSON document as
the API accepted it (strings, integers the chain hash can hold, booleans, nulls, arrays and
objects: what `CaseRecords.decode` reads): it is written and read as it is, never turned into
anything else whatever its objects look like. Anything else the envelope holds that orjson
would refuse or write in its own way (a float, an unregistered type) is written by the library's
transcoder, and read back by it too (orjson reads no NaN or infinity, and reads an integer
beyond 64 bits as a float).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    Cipher,
    Compressor,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    Transcoder,
)
from eventsourcing.utils import get_topic

from domain.case import Case

# The key whose value is a client's JSON document, left as it is both ways.
ENTRY = "entry"


class LogTranscoder(Transcoder):
    """orjson, in the format (and with the transcodings) of the library's `JSONTranscoder`."""

    def __init__(self, library: JSONTranscoder) -> None:
        self.library = library

    def encode(self, obj: Any) -> bytes:
        if type(obj) is not dict:
            return self.library.encode(obj)
        try:
            return orjson.dumps(
                {key: value if key == ENTRY else self.tagged(value) for key, value in obj.items()}
            )
        except (orjson.JSONEncodeError, TypeError):
            return self.library.encode(obj)

    def decode(self, data: bytes) -> Any:
        try:
            state = orjson.loads(data)
            if type(state) is not dict:
                raise _LibrarysToRead
            for key, value in state.items():
                if key != ENTRY:
                    state[key] = self._untagged(value)
        except (orjson.JSONDecodeError, _LibrarysToRead):
            return self.library.decode(data)
        return state

    def tagged(self, value: Any) -> Any:
        kind = type(value)
        if kind is dict:
            return {key: self.tagged(item) for key, item in value.items()}
        if kind is list or kind is tuple:
            return [self.tagged(item) for item in value]
        if kind in (str, int, bool, type(None)):
            return value
        transcoding = self.library.types.get(kind)
        if transcoding is None:
            raise TypeError(f"no transcoding for {kind.__name__}")
        return {"_type_": transcoding.name, "_data_": self.tagged(transcoding.encode(value))}

    def _untagged(self, value: Any) -> Any:
        """What the library's decoder makes of a value: tagged objects, innermost first. A
        number orjson read as a float may be one it cannot read exactly (an integer beyond 64
        bits): the envelope holds none of its own, so such bytes are the library's to read."""
        kind = type(value)
        if kind is float:
            raise _LibrarysToRead
        if kind is list:
            return [self._untagged(item) for item in value]
        if kind is not dict:
            return value
        value = {key: self._untagged(item) for key, item in value.items()}
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            return self.library.names[value["_type_"]].decode(value["_data_"])
        return value


class LogMapper(Mapper[UUID]):
    """The library's mapper; a `Case.Recorded` (nearly every stored event) is mapped without its
    generic steps, to the same bytes: `{"timestamp": <tagged time>, "entry": <entry>}`, the
    tagged time written once for all the events of a batch (which share it). An entry orjson
    cannot write goes the library's way, as the transcoder sends it."""

    def __init__(
        self,
        transcoder: LogTranscoder,
        compressor: Compressor | None = None,
        cipher: Cipher | None = None,
    ) -> None:
        super().__init__(transcoder, compressor, cipher)
        self.log_transcoder = transcoder
        self._last_time: tuple[datetime | None, bytes] = (None, b"")

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        if type(domain_event) is not Case.Recorded:
            return super().to_stored_event(domain_event)
        try:
            entry = orjson.dumps(domain_event.entry)
        except orjson.JSONEncodeError:
            return super().to_stored_event(domain_event)
        state = b'{"timestamp":' + self._time(domain_event.timestamp) + b',"entry":' + entry + b"}"
        if self.compressor:
            state = self.compressor.compress(state)
        if self.cipher:
            state = self.cipher.encrypt(state)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=RECORDED_TOPIC,
            state=state,
        )

    def _time(self, when: datetime) -> bytes:
        last, written = self._last_time  # (one tuple: threads may swap it in between)
        if last is not when:
            written = orjson.dumps(self.log_transcoder.tagged(when))
            self._last_time = (when, written)
        return written


OPENED_TOPIC = get_topic(Case.Opened)
RECORDED_TOPIC = get_topic(Case.Recorded)


def topic_at(version: int) -> str:
    """The topic a case's stored event has at `version`: its opening at 1, an entry after."""
    return OPENED_TOPIC if version == 1 else RECORDED_TOPIC


class _LibrarysToRead(Exception):
    """Bytes that orjson cannot read as the library's decoder would."""
