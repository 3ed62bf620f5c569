"""Event ids in their one textual form and as 16 bytes: the same as `uuid.UUID` makes of them."""

from __future__ import annotations

from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.envelope import uuid_bytes, uuid_text


def _spellings(value: UUID) -> list[str]:
    text = str(value)
    return [text, text.upper(), value.hex, f"{{{text}}}", f"urn:uuid:{text}"]


@given(st.uuids())
def test_uuid_text_when_any_spelling_then_as_uuid_writes_it(value: UUID) -> None:
    for spelling in _spellings(value):
        assert uuid_text(spelling) == str(UUID(spelling)) == str(value)
    assert uuid_text(value) == str(value)


@given(st.uuids())
def test_uuid_bytes_when_any_spelling_then_the_uuids_bytes(value: UUID) -> None:
    for spelling in _spellings(value):
        assert uuid_bytes(spelling) == value.bytes


def test_uuid_text_when_canonical_then_the_same_object() -> None:
    # Given text already in the one form (what the API passes on)
    text = "5e10c1a3-b1b6-4711-b008-e99c9b1e9c4a"

    # Then it is taken as it is
    assert uuid_text(text) is text


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not-a-uuid",
        "5e10c1a3-b1b6-4711-b008-e99c9b1e9c4",
        "5e10c1a3-b1b6-4711-b008-e99c9b1e9c4ax",
    ],
)
def test_uuid_text_and_bytes_when_no_uuid_then_value_error(value: str) -> None:
    with pytest.raises(ValueError):
        uuid_text(value)
    with pytest.raises(ValueError):
        uuid_bytes(value)
