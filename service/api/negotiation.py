"""Content negotiation: which of the representations a route offers a client's `Accept` ranks
highest (RFC 9110 §12.5.1)."""

from __future__ import annotations

import re
from collections.abc import Sequence

# A qvalue: 0 to 1 with at most three decimals (RFC 9110 §12.4.2).
_QVALUE = re.compile(r"0(\.[0-9]{0,3})?|1(\.0{0,3})?")


def preferred(accept: str | None, offered: Sequence[str]) -> str:
    """The offered media type (`type/subtype`) the client ranks highest; the first offered, the
    route's default, when `Accept` is absent, ranks two or more equally, or accepts none of them
    (a default rather than a 406, as before negotiation was exact).

    Each offered type takes the q-value of the most specific media range matching it
    (`text/csv` before `text/*` before `*/*`); `q=0` means "not this one"."""
    if not accept or not accept.strip():
        return offered[0]
    ranges = _media_ranges(accept)
    best, best_q = offered[0], 0.0
    for media_type in offered:
        q = _quality(media_type.lower(), ranges)
        if q > best_q:
            best, best_q = media_type, q
    return best


def _media_ranges(accept: str) -> list[tuple[str, str, float]]:
    """`(type, subtype, q)` of each well-formed media range; a malformed one is left out."""
    ranges = []
    for item in accept.split(","):
        media_range, *parameters = (part.strip() for part in item.split(";"))
        kind, slash, subtype = media_range.lower().partition("/")
        if not slash or not kind or not subtype or (kind == "*" and subtype != "*"):
            continue
        q = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                value = value.strip()
                q = float(value) if _QVALUE.fullmatch(value) else -1.0
        if q >= 0:
            ranges.append((kind, subtype, q))
    return ranges


def _quality(media_type: str, ranges: list[tuple[str, str, float]]) -> float:
    kind, _, subtype = media_type.partition("/")
    found: dict[int, float] = {}
    for range_kind, range_subtype, q in ranges:
        if (range_kind, range_subtype) == (kind, subtype):
            specificity = 2
        elif (range_kind, range_subtype) == (kind, "*"):
            specificity = 1
        elif (range_kind, range_subtype) == ("*", "*"):
            specificity = 0
        else:
            continue
        found[specificity] = max(q, found.get(specificity, 0.0))
    return found[max(found)] if found else 0.0
