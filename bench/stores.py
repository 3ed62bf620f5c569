"""Where each run keeps its data: a fresh temporary directory, and fresh PostgreSQL schemas.

The service and the library baseline never share a store: on SQLite each has its own file (the
library's SQLite tables have fixed names); on PostgreSQL each has its own schema, created here
and dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from service.settings import Settings

POSTGRES_URL_VARIABLE = "CASETRAIL_BENCH_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://root@127.0.0.1:5432/test"


@dataclass(frozen=True)
class Store:
    """One store's settings for the service and for the library baseline."""

    name: str  # "sqlite" or "postgresql"
    service: Settings  # its data directory holds the signing keys (and the SQLite log)
    library: Settings

    def service_environment(self) -> dict[str, str]:
        """The `casetrail` CLI's environment: nothing inherited from CASETRAIL_* but this."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CASETRAIL_")}
        env["CASETRAIL_DATA_DIR"] = str(self.service.data_dir)
        # One principal sends hundreds of requests a second: the service is measured, not its
        # rate limit.
        env["CASETRAIL_RATE_LIMIT_PER_MINUTE"] = "0"
        if self.service.database_url_text:
            env["CASETRAIL_DATABASE_URL"] = self.service.database_url_text
            env["CASETRAIL_POSTGRES_SCHEMA"] = self.service.postgres_schema
        return env


@contextmanager
def sqlite_store(root: Path) -> Iterator[Store]:
    service = Settings(data_dir=root / "service", database_url="")
    library = Settings(data_dir=root / "library", database_url="")
    library.prepare()
    yield Store("sqlite", service, library)


@contextmanager
def postgres_store(root: Path, url: str) -> Iterator[Store]:
    suffix = uuid.uuid4().hex[:10]
    schemas = (f"bench_service_{suffix}", f"bench_library_{suffix}")
    with psycopg.connect(url, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        service = Settings(data_dir=root / "service", database_url=url, postgres_schema=schemas[0])
        library = Settings(data_dir=root / "library", database_url=url, postgres_schema=schemas[1])
        yield Store("postgresql", service, library)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def postgres_url() -> str:
    return os.environ.get(POSTGRES_URL_VARIABLE) or DEFAULT_POSTGRES_URL


def postgres_version(url: str) -> tuple[str | None, str]:
    """The server's version if it answers within a few seconds, else None and why not."""
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error as e:
        return None, f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e) else ''}"
    return (str(row[0]) if row else "unknown"), ""
