"""The stored form of an event: envelope, payload and the hash that chains a case's events.

An entry is stored as a plain JSON object with these keys:

    id, type, schema_version, occurred_at, occurred_precision, recorded_at, recorded_by,
    author, source, sensitivity, data, hash

`case_id`, `version` and `position` come from where it is stored.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
import rfc8785

from domain.catalogue import catalogue
from domain.moments import Moment, Precision, parse_utc

GENESIS = "0" * 64

# What a partner agency sees of another agency's restricted entry, instead of its content.
RESTRICTED = "A restricted entry exists — ask the allocated worker"

# The fields the hash covers, fixed forever (DESIGN.md "Tamper evidence"): changing this list
# would make every stored chain fail verification.
HASHED_FIELDS = (
    "id",
    "type",
    "occurred_at",
    "occurred_precision",
    "recorded_at",
    "recorded_by",
    "author",
    "source",
    "sensitivity",
    "data",
)

# What a client sends, after defaults: two posts of one id are the same event only if these agree.
CLIENT_FIELDS = (
    "type",
    "occurred_at",
    "occurred_precision",
    "author",
    "source",
    "sensitivity",
    "data",
)


# A UUID in its one textual form, as `str(UUID(...))` writes it.
_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def uuid_text(value: object) -> str:
    """An event id in its one textual form (lower case, hyphenated); `ValueError` if it is no
    UUID. Text already in that form (what the API passes on) is taken as it is, without being
    parsed into a `UUID` and written back."""
    if type(value) is str and _UUID_TEXT.fullmatch(value):
        return value
    return str(UUID(str(value)))


def uuid_bytes(text: str) -> bytes:
    """The 16 bytes of a UUID given as text (`ValueError` if it is none)."""
    if _UUID_TEXT.fullmatch(text):
        return bytes.fromhex(text.replace("-", ""))
    return UUID(text).bytes


# orjson refuses what it would otherwise write in its own way, so `rfc8785` decides those.
_STRICT = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_STRICT_INTEGER  # integers beyond 2**53, which JCS cannot represent
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def canonical(value: Any, *, plain: bool = False) -> bytes:
    """RFC 8785 (JCS) canonical JSON.

    For what events carry — strings, integers, booleans, null, arrays and objects with ASCII
    keys — JCS is exactly orjson's compact output with sorted keys (the same escapes; ASCII keys
    sort alike by UTF-16 unit and by byte), at a fraction of the pure-Python canonicaliser's
    cost. Anything else (floats, keys beyond ASCII, lone surrogates, integers JCS cannot hold)
    goes to `rfc8785`, which also refuses what JCS cannot represent. `plain`: the caller
    vouches that `value` holds only the former (a validated payload of a type whose stored
    form is plain, `EntryType.plain_json`), which is then not walked to check.
    """
    try:
        out = orjson.dumps(value, option=_STRICT)
    except orjson.JSONEncodeError:
        return bytes(rfc8785.dumps(value))
    if plain or _plain(value):
        return out
    return bytes(rfc8785.dumps(value))


_PLAIN_LEAVES = frozenset({str, int, bool, type(None)})


def _plain(value: Any) -> bool:
    """Only strings, integers, booleans and nulls, in lists and objects with ASCII keys: what
    orjson writes exactly as JCS does. (Only called on what orjson wrote: nested no deeper than
    its limit of 255.)"""
    kind = type(value)
    if kind is dict:
        if not "".join(value).isascii():
            return False
        items: Iterable[Any] = value.values()
    elif kind is list or kind is tuple:
        items = value
    else:
        return kind in _PLAIN_LEAVES
    # A loop, not `all()` over a generator: this runs for every event written, and the
    # generator costs half as much again.
    for item in items:  # noqa: SIM110
        if type(item) not in _PLAIN_LEAVES and not _plain(item):
            return False
    return True


def chain_hash(
    case_id: UUID | str, version: int, entry: Mapping[str, Any], prev: str, *, plain: bool = False
) -> str:
    """SHA-256 of the canonical JSON of the entry's hashed fields, its place and its predecessor
    (`case_id` as a UUID, or as its text). `plain`: the entry is vouched plain JSON (see
    `canonical`)."""
    body: dict[str, Any] = {name: entry.get(name) for name in HASHED_FIELDS}
    body["case_id"] = str(case_id)
    body["version"] = version
    body["prev"] = prev
    return hashlib.sha256(canonical(body, plain=plain)).hexdigest()


def client_digest(entry: Mapping[str, Any]) -> str:
    """A fingerprint of what the client sent, by which replays are recognised (kept in the
    event-id index on PostgreSQL; on SQLite computed from the stored entry when asked for).

    It never leaves the store, so it need not be RFC 8785: sorted-key JSON is as stable and
    several times faster than the pure-Python canonicaliser, which the chain hash keeps.
    """
    body = {name: entry.get(name) for name in CLIENT_FIELDS}
    # Only the agency that recorded an event can replay it: another agency resending its id
    # (seen on a restricted placeholder) learns nothing about its content.
    body["recorded_by_agency"] = (entry.get("recorded_by") or {}).get("agency")
    try:
        text = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits, which no stored event holds
        text = json.dumps(body, sort_keys=True).encode()
    return hashlib.sha256(text).hexdigest()


# By value: a dictionary lookup costs a fraction of calling the enum (which still refuses an
# unknown value).
_PRECISIONS = {p.value: p for p in Precision}

_SENSITIVITIES = frozenset({"normal", "restricted"})


class NotAnEntry(ValueError):
    """A stored entry that cannot be read as an event: damaged, or written behind the service's
    back."""


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """One event as the folds see it: envelope parsed, payload upcast to the current schema."""

    case_id: UUID
    version: int
    position: int | None
    id: str
    type: str
    occurred: Moment
    precision: Precision
    recorded_at: datetime
    recorded_by: Mapping[str, Any]
    author: Mapping[str, Any] | None
    source: Mapping[str, Any] | None
    sensitivity: str
    data: Mapping[str, Any]
    entry: Mapping[str, Any]  # as stored, for the raw view and verification

    @classmethod
    def from_entry(
        cls, case_id: UUID, version: int, position: int | None, entry: Mapping[str, Any]
    ) -> RecordedEvent:
        kind = catalogue[entry["type"]]
        data = entry["data"]
        stored_version = entry.get("schema_version", 1)
        if stored_version != kind.schema_version:
            data = kind.upcast(dict(data), stored_version)
        return cls(
            case_id=case_id,
            version=version,
            position=position,
            id=entry["id"],
            type=entry["type"],
            occurred=Moment.parse(entry["occurred_at"]),
            precision=_PRECISIONS.get(entry["occurred_precision"])
            or Precision(entry["occurred_precision"]),
            recorded_at=parse_utc(entry["recorded_at"]),
            recorded_by=entry["recorded_by"],
            author=entry.get("author"),
            source=entry.get("source"),
            sensitivity=entry.get("sensitivity", "normal"),
            data=data,
            entry=entry,
        )

    @classmethod
    def from_stored(
        cls, case_id: UUID, version: int, position: int | None, entry: object
    ) -> RecordedEvent:
        """`from_entry` for an entry as read from the store, which a hand may have changed:
        `NotAnEntry` unless every envelope field has its stored form and the payload upcasts,
        so a view shows the entry as recorded or not at all, never a guess at what it meant.
        (The schema version is not hashed: a chain that holds does not vouch for it.)"""
        if type(entry) is not dict:
            raise NotAnEntry
        try:
            event = cls.from_entry(case_id, version, position, entry)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise NotAnEntry from e
        schema_version = entry.get("schema_version", 1)
        recorded_by = event.recorded_by
        if not (
            type(event.id) is str
            and _UUID_TEXT.fullmatch(event.id)
            and type(entry.get("hash")) is str
            and type(schema_version) is int
            and 1 <= schema_version <= catalogue[event.type].schema_version
            and type(event.data) is dict
            and type(recorded_by) is dict
            and type(recorded_by.get("agency")) is str
            and (event.author is None or type(event.author) is dict)
            and (event.source is None or type(event.source) is dict)
            and event.sensitivity in _SENSITIVITIES
        ):
            raise NotAnEntry
        return event

    @property
    def agency(self) -> str:
        """Whose entry this is: the author's agency if given, else the recorder's."""
        if self.author and self.author.get("agency"):
            return str(self.author["agency"])
        return str(self.recorded_by["agency"])

    @property
    def targets(self) -> str | None:
        """The entry a correction, retraction, annotation or reassessment acts on."""
        target = self.data.get("target_event_id") if catalogue[self.type].targets_entry else None
        return str(target) if target is not None else None
