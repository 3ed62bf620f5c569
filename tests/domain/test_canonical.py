"""What the chain hash covers, byte for byte: RFC 8785 canonical JSON as the reference
canonicaliser writes it, and server times in their one textual form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.envelope import canonical
from domain.moments import format_utc

_TEXT = st.text(alphabet=st.characters(codec="utf-16", exclude_categories=()), max_size=12)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT
    | st.text(alphabet=st.characters(codec="utf-8"), max_size=6)
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=6) | _TEXT, inner, max_size=4)
    ),
    max_leaves=30,
)


def assert_as_rfc8785(value: Any) -> None:
    """`canonical` gives the reference canonicaliser's bytes, or refuses what it refuses."""
    try:
        expected = bytes(rfc8785.dumps(value))
    except Exception as e:
        with pytest.raises(type(e)):
            canonical(value)
        return
    assert canonical(value) == expected


@settings(max_examples=800, deadline=None)
@given(_JSON)
def test_canonical_when_any_json_value_then_same_bytes_or_refusal_as_rfc8785(value: Any) -> None:
    assert_as_rfc8785(value)


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [True, None, -5, "x"]},
        {"\u00e9": 1, "z": 2, "\U0001f600": 3, "\ue000": 4},  # keys beyond ASCII: UTF-16 order
        {"n": 2**53 - 1, "m": -(2**53 - 1)},
        {"n": -(2**53)},
        {"t": True, "f": False, "e": "1e5", "d": "0.5"},  # float-like text is no float
        {"t": "ratio 3:2.5", "u": "[1.5]", "v": "a,-1e3"},  # ... wherever it stands
        0.0,
        [1, -2.5e-7],
        {"id": "5e10c1a3-b1b6-4711-b008-e99c9b1e9c4a", "n": 12},
        {"f": 1.0, "g": 1e21, "h": -0.0},
        {"f": [{"g": 0.5}]},  # a float deep inside
        {"t": ("x", 1), "u": (2.5,)},  # tuples write as arrays
        '\x00\x1f\x7f"\\/\u2028\u2029',
        "\ud800",  # a lone surrogate
    ],
)
def test_canonical_when_edge_values_then_same_as_rfc8785(value: Any) -> None:
    assert_as_rfc8785(value)


def test_canonical_when_integer_beyond_2_53_then_refused_as_rfc8785_refuses() -> None:
    with pytest.raises(rfc8785.IntegerDomainError):
        canonical({"n": 2**53})


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1900, 1, 2),
        max_value=datetime(9000, 12, 30),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=1)), timezone(-timedelta(hours=5))]
        ),
    )
)
def test_format_utc_when_any_zoned_instant_then_utc_with_microseconds_and_z(
    instant: datetime,
) -> None:
    # The stored `recorded_at` form, fixed forever (it is hashed): the strftime pattern it is
    assert format_utc(instant) == instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
