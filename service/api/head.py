"""HEAD on every resource that answers GET (RFC 9110, section 9.3.2): the GET's status and
headers, without its body.

The request goes through the app as a GET (the same token check, access decision, rate limit and
audit record), and only the body is left out: a client learns a case's current version from its
`ETag` without reading the case, exactly as far as it could read it. The access log and the
metrics name it HEAD, and so does the audit record of the read (`asked_method`). A stream (the
feed's server-sent events) ends with its headers.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The scope key holding the method the client asked with, when the app answers it as another.
ASKED_METHOD = "casetrail.asked_method"


def asked_method(request: Request) -> str:
    """The method the client sent (HEAD for a HEAD answered as a GET)."""
    method: str = request.scope.get(ASKED_METHOD, request.method)
    return method


class AnswerHead:
    """ASGI middleware: a HEAD request is answered as a GET whose body is not sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        # The app gets a copy: the server reads the method from its own scope (it sends no body
        # for HEAD). The route that answered is copied back for the access log and metrics.
        as_get = {**scope, "method": "GET", ASKED_METHOD: "HEAD"}

        async def headers_only(message: Message) -> None:
            # The response ends with its headers (a stream too: its next `receive` is the
            # client's disconnect, which stops it); the parts of the body are not sent.
            if message["type"] == "http.response.start":
                await send(message)
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            elif message["type"] != "http.response.body":
                await send(message)

        try:
            await self.app(as_get, receive, headers_only)
        finally:
            if "route" in as_get:
                scope["route"] = as_get["route"]
