"""Refuse a query string holding U+0000 (NUL, sent as `%00`) with 422, before any route sees it.

No store holds NUL in text: PostgreSQL refuses it in every text parameter, so a search for
`?q=a%00b` would otherwise fail in the database (a 500), and on SQLite it could never match.
Posted events are refused the same way by the use cases (`service.records`).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.problems import problem_response

NUL_DETAIL = "must not contain U+0000 (NUL)"


class RefuseNul:
    """ASGI middleware: 422 for a request whose query parameters hold a NUL character."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query: bytes = scope.get("query_string", b"") if scope["type"] == "http" else b""
        if b"%00" not in query and b"\x00" not in query:
            await self.app(scope, receive, send)
            return
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        names = sorted({name for name, value in pairs if "\x00" in name or "\x00" in value})
        names = [name.replace("\x00", "\\0") for name in names] or ["query"]
        response = problem_response(
            422,
            "validation",
            "The request is not valid",
            "; ".join(f"{name}: {NUL_DETAIL}" for name in names),
            errors=[{"parameter": name, "detail": NUL_DETAIL} for name in names],
        )
        await response(scope, receive, send)
