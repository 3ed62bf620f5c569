"""The service without its read audit's write: measure 5's baseline, for the benchmark only.

`create_app` builds the real application (`service.api.app.create_app`, the settings from the
environment as `casetrail serve` reads them) and swaps its audit log for a recorder that records
nothing. Everything else runs as in production: the access decision, the audit note and the
`Read` the route builds, the thread-pool call to `record` — only the write itself is gone. It is
served as `casetrail serve` serves the real app (uvicorn `--factory`, one worker, access log on;
see `bench/server.py`).

Production has no switch to turn the audit off; this module is the only way, and it lives in
`bench/`, outside the installed packages.
"""

from __future__ import annotations

from fastapi import FastAPI

from service.api.app import create_app as create_service_app
from service.audit import Read
from service.auth import ensure_local_keys
from service.settings import Settings


class NoAudit:
    """Stands in for `AuditLog` where the reads' route calls it: `record` does nothing."""

    def record(self, read: Read) -> None:
        return None

    def close(self) -> None:
        return None


def create_app() -> FastAPI:
    settings = Settings()
    settings.prepare()
    if not settings.jwt_secret_text and settings.jwt_jwks_file is None:
        ensure_local_keys(settings)
    app = create_service_app(settings)
    app.state.audit = NoAudit()
    return app
