"""The response headers clients act on, as the OpenAPI document declares them."""

from __future__ import annotations

from typing import Any


def _header(description: str, kind: str = "string") -> dict[str, Any]:
    return {"description": description, "schema": {"type": kind}}


RETRY_AFTER = _header("Seconds to wait before retrying", "integer")
REQUEST_ID = _header(
    "The request's id: the `X-Request-ID` it sent if at most 64 of `A-Z a-z 0-9 . _ -`, else a "
    "new one; in every log line written while it was answered"
)
WRITE_ETAG = _header(
    'The version the batch brought the case to, quoted (`"7"`): send it as `If-Match` to '
    "append only at that version"
)
LOCATION = _header("The case opened: `/cases/{case_id}`")
STATE_ETAG = _header(
    'Weak, the case\'s version (`W/"7"`; `W/"7-<n>"` while an entry dated ahead of the clock '
    "is still to happen): send it as `If-None-Match` for a 304 until the state changes"
)
PROJECTION_POSITION = _header("The log position the read model has applied", "integer")
PROJECTION_BEHIND = _header(
    "With `projection-behind`: the log position the read model has applied, short of "
    "`X-Min-Position`",
    "integer",
)
NEXT_PAGE = _header('`<…/feed?after=NEXT…>; rel="next"`: the next page')
