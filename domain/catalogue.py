"""The event catalogue: one definition per event type.

An entry names its payload schema, schema version, default significance, chronology headline
and who may post it. Validation, the OpenAPI document, the chronology and (later) permissions
all read these definitions; adding a type is one new entry.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError


class Significance(enum.IntEnum):
    """How much an entry matters to the chronology; a practitioner's judgement can change it."""

    ROUTINE = 1
    SIGNIFICANT = 2
    CRITICAL = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Significance:
        return cls[value.upper()]


class PostedBy(enum.Enum):
    """Which agencies may post a type (DOMAIN.md §2, enforced by the access policy)."""

    CSC = "csc"  # the owning authority's children's social care
    ANY = "any"  # any agency involved in the case, CSC included
    REFERRER = "referrer"  # CSC, or any agency opening a case with a referral
    SELF_OR_CSC = "self_or_csc"  # an agency for itself; CSC for any agency
    TARGET_OR_CSC = "target_or_csc"  # the agency of the entry it targets, or CSC
    CSC_MANAGER = "csc_manager"  # a manager of the owning children's social care


class Payload(BaseModel):
    """Base of every event payload: strict about unknown fields, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    def headline(self) -> str:
        raise NotImplementedError


Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
P = TypeVar("P", bound=type[Payload])


@dataclass(frozen=True)
class EntryType:
    """One event type of the catalogue."""

    name: str
    payload: type[Payload]
    significance: Significance
    posted_by: PostedBy
    schema_version: int = 1
    # upcasters[n] turns a stored version-n payload into version n+1.
    upcasters: Mapping[int, Upcaster] = field(default_factory=dict)
    # Meta entries (corrections, retractions, ...) act on another entry instead of stating a fact.
    targets_entry: bool = False
    # A significance that depends on the payload, read from the stored dict so the folds never
    # re-validate a payload to rank it.
    significance_of: Callable[[Mapping[str, Any], Significance], Significance] | None = None

    def upcast(self, data: dict[str, Any], stored_version: int) -> dict[str, Any]:
        for version in range(stored_version, self.schema_version):
            data = self.upcasters[version](data)
        return data

    def default_significance(self, data: Mapping[str, Any]) -> Significance:
        """The significance of a stored payload before any reassessment."""
        if self.significance_of is None:
            return self.significance
        return self.significance_of(data, self.significance)

    def headline(self, data: Mapping[str, Any]) -> str:
        return self.payload.model_validate(data).headline()

    def stored_form(self, data: object) -> dict[str, Any] | None:
        """`data` in its stored form if it is a valid payload of this type, else None (a stored
        payload always is one, unless it was edited behind the service's back)."""
        try:
            payload = self.payload.model_validate(data)
        except ValidationError:
            return None
        stored: dict[str, Any] = payload.model_dump(mode="json", by_alias=True, exclude_none=True)
        return stored

    @cached_property
    def plain_json(self) -> bool:
        """Whether every stored form of a validated payload (`model_dump(mode="json")`) holds
        only strings, integers, booleans and nulls, in lists and in objects whose keys are the
        model's ASCII field names: what orjson writes exactly as RFC 8785 does, so the chain
        hash need not walk it (`domain.envelope.canonical`). Read from the payload's JSON
        schema; anything it cannot vouch for (a number, a free-form object or array, a value
        of any type) makes it False."""
        schema = self.payload.model_json_schema(mode="serialization")
        return _plain_schema(schema, schema.get("$defs", {}), frozenset())


_PLAIN_TYPES = frozenset({"string", "integer", "boolean", "null"})
_PLAIN_CONSTANTS = (str, int, bool, type(None))  # (a bool is an int; a float is neither)


def _plain_schema(schema: Mapping[str, Any], defs: Mapping[str, Any], seen: frozenset[str]) -> bool:
    """Whether every value `schema` admits is plain JSON (see `EntryType.plain_json`); `seen`:
    the definitions being checked further up, which a recursive model refers back to."""
    if "$ref" in schema:
        name = str(schema["$ref"]).removeprefix("#/$defs/")
        if name in seen:
            return True
        if name not in defs:
            return False
        return _plain_schema(defs[name], defs, seen | {name})
    for combined in ("anyOf", "oneOf", "allOf"):
        if combined in schema:
            return all(_plain_schema(branch, defs, seen) for branch in schema[combined])
    if "const" in schema:
        return isinstance(schema["const"], _PLAIN_CONSTANTS)
    if "enum" in schema:
        return all(isinstance(value, _PLAIN_CONSTANTS) for value in schema["enum"])
    kinds = schema.get("type")
    if kinds is None:
        return False  # a value of any type
    for kind in [kinds] if isinstance(kinds, str) else kinds:
        if kind == "array":
            if "items" not in schema or "prefixItems" in schema:
                return False
            if not _plain_schema(schema["items"], defs, seen):
                return False
        elif kind == "object":
            properties = schema.get("properties")
            if properties is None or schema.get("additionalProperties", False) is not False:
                return False
            if "patternProperties" in schema or not "".join(properties).isascii():
                return False
            if not all(_plain_schema(p, defs, seen) for p in properties.values()):
                return False
        elif kind not in _PLAIN_TYPES:
            return False
    return True


class Catalogue:
    """Every event type Casetrail accepts, keyed by name."""

    def __init__(self) -> None:
        self._entries: dict[str, EntryType] = {}

    def entry(
        self,
        *,
        significance: Significance,
        posted_by: PostedBy,
        schema_version: int = 1,
        upcasters: Mapping[int, Upcaster] | None = None,
        targets_entry: bool = False,
        significance_of: Callable[[Mapping[str, Any], Significance], Significance] | None = None,
    ) -> Callable[[P], P]:
        def register(payload: P) -> P:
            name = payload.__name__
            if name in self._entries:
                raise ValueError(f"event type {name} is defined twice")
            missing = set(range(1, schema_version)) - set(upcasters or {})
            if missing:
                raise ValueError(f"{name} v{schema_version} lacks upcasters from {missing}")
            self._entries[name] = EntryType(
                name=name,
                payload=payload,
                significance=significance,
                posted_by=posted_by,
                schema_version=schema_version,
                upcasters=dict(upcasters or {}),
                targets_entry=targets_entry,
                significance_of=significance_of,
            )
            return payload

        return register

    def __getitem__(self, name: str) -> EntryType:
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[EntryType]:
        return iter(self._entries.values())

    def names(self) -> list[str]:
        return sorted(self._entries)


catalogue = Catalogue()


# Types whose words need more than their capitals split.
_LABELS = {
    "ChildsVoiceRecorded": "Child's voice recorded",
    "ChildsVoiceNotObtained": "Child's voice not obtained",
}


@cache
def type_label(kind: str) -> str:
    """`ConcernObserved` -> `Concern observed`: a type in words, never an entry's content."""
    return _LABELS.get(kind) or re.sub(r"(?<!^)([A-Z])", r" \1", kind).capitalize()
