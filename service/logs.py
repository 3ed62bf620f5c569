"""Structured logs: one JSON object per line, tagged with the request being answered.

A line carries `time`, `level`, `logger`, `message`, and while a request is being answered its
`request_id`, `method`, `route` (the route template, never the URL: ids and query strings stay
out) and the principal's `sub` and `agency` once its token is verified; the access line adds
`status` and `duration_ms`. Never a payload, a query string or a person's name: an exception is
logged as its type and stack frames, without its message (which could quote input).
"""

from __future__ import annotations

import logging
import re
import traceback
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

LogLevel = Literal["critical", "error", "warning", "info", "debug"]

# An incoming X-Request-ID is echoed only when it looks like an id; otherwise one is generated.
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

# Fields an access line (or any line given them as `extra`) carries, in this order.
FIELDS = ("request_id", "method", "route", "status", "duration_ms", "sub", "agency")

# Libraries whose debug lines quote what is sent (sse_starlette logs every event it streams, a
# payload with children's names): never below INFO, whatever CASETRAIL_LOG_LEVEL says.
QUOTING_LOGGERS = ("sse_starlette",)


@dataclass
class RequestContext:
    """What the logs may say about the request being answered (filled in as it is learnt)."""

    request_id: str
    method: str
    route: str | None = None
    sub: str | None = None
    agency: str | None = None

    def fields(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "method": self.method,
            "route": self.route,
            "sub": self.sub,
            "agency": self.agency,
        }


current_request: ContextVar[RequestContext | None] = ContextVar("casetrail_request", default=None)


def request_id(incoming: str | None) -> str:
    """The incoming X-Request-ID if it is sane (≤ 64 of [A-Za-z0-9._-]), else a new one."""
    if incoming and REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def note_caller(route: str, sub: str, agency: str) -> None:
    """Record the route and who is asking, for the request's remaining log lines."""
    context = current_request.get()
    if context is not None:
        context.route, context.sub, context.agency = route, sub, agency


class JsonFormatter(logging.Formatter):
    """One JSON object per line (see the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = current_request.get()
        if context is not None:
            line.update((k, v) for k, v in context.fields().items() if v is not None)
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            kind, _, tb = record.exc_info
            line["exception"] = f"{kind.__module__}.{kind.__qualname__}"
            line["stack"] = "".join(traceback.format_tb(tb))
        return orjson.dumps(line, default=str).decode()


def logging_config(level: LogLevel = "info") -> dict[str, Any]:
    """`logging.config.dictConfig` for `casetrail serve`: everything as JSON lines on stderr.

    uvicorn's own access log is switched off (`access_log=False`): the service writes one access
    line per request itself, with the route template, the principal and the request id. At
    `debug`, libraries that would quote payloads stay at `info` (`QUOTING_LOGGERS`).
    """
    upper = level.upper()
    quiet = {"level": "INFO" if upper == "DEBUG" else upper}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": upper},
        "loggers": {
            "uvicorn": {"handlers": [], "level": upper, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": upper, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            **{name: quiet for name in QUOTING_LOGGERS},
        },
    }
