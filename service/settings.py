"""Every setting, in one place (`CASETRAIL_*` environment variables)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Casetrail's configuration, read from the environment by `serve` and every CLI command."""

    model_config = SettingsConfigDict(env_prefix="CASETRAIL_", extra="ignore")

    database_url: str = Field(
        default="",
        description="sqlite:///PATH or postgresql://user:pass@host:5432/db; "
        "default: sqlite in the data directory",
    )
    data_dir: Path = Field(default=Path("./data"), description="embedded store, keys and seals")

    # Tokens.
    jwt_secret: str = Field(default="", description="HS256 shared secret (instead of keys)")
    jwt_jwks_file: Path | None = Field(
        default=None, description="JWKS file of RS256/EdDSA public keys, chosen by `kid`"
    )
    jwt_issuer: str = "casetrail"
    jwt_audience: str = "casetrail"
    jwt_leeway_seconds: int = 30

    # Writes.
    max_batch_events: int = 500
    max_body_bytes: int = 5 * 1024 * 1024
    clock_skew_seconds: int = 300
    append_retry_seconds: float = 2.0

    # Reads.
    max_page: int = 1000

    # Access: how long a partner agency keeps access after its involvement ends.
    partner_access_years: int = Field(default=2, ge=0)

    # The library's aggregate cache: appends to a long case reuse its (small) state.
    aggregate_cache_size: int = 10_000
    snapshot_interval: int = 200
    # Decoded events of recently read cases (stored events never change); about 3 KB each.
    event_cache_size: int = 50_000

    # PostgreSQL.
    postgres_pool_size: int = 5
    postgres_max_overflow: int = 10
    postgres_connect_timeout: int = 5
    postgres_schema: str = Field(
        default="public", description="the schema holding Casetrail's tables"
    )

    # Tamper evidence: the Ed25519 key that signs seals (keep it off the database host).
    seal_key_path: Path | None = Field(
        default=None,
        description="PEM (PKCS8) Ed25519 private key signing seals; "
        "default <data dir>/keys/seal-signing-key.pem, generated on first use",
    )

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'casetrail.db'}"

    @property
    def resolved_seal_key_path(self) -> Path:
        return self.seal_key_path or self.data_dir / "keys" / "seal-signing-key.pem"

    @property
    def audit_path(self) -> Path:
        """The embedded access audit's own SQLite file, beside the log's."""
        return self.data_dir / "audit.db"

    @property
    def is_postgres(self) -> bool:
        return self.resolved_database_url.startswith(("postgresql://", "postgres://"))

    def library_environment(self) -> dict[str, str]:
        """The `eventsourcing` library's environment for the log, derived from our settings."""
        env = {
            "AGGREGATE_CACHE_MAXSIZE": str(self.aggregate_cache_size),
            "AGGREGATE_CACHE_FASTFORWARD": "y",
        }
        if self.is_postgres:
            url = urlsplit(self.resolved_database_url)
            env.update(
                PERSISTENCE_MODULE="eventsourcing.postgres",
                POSTGRES_DBNAME=unquote(url.path.lstrip("/")) or "postgres",
                POSTGRES_HOST=unquote(url.hostname or "") or "/var/run/postgresql",
                POSTGRES_PORT=str(url.port or 5432),
                POSTGRES_USER=unquote(url.username or ""),
                POSTGRES_PASSWORD=unquote(url.password or ""),
                POSTGRES_POOL_SIZE=str(self.postgres_pool_size),
                POSTGRES_MAX_OVERFLOW=str(self.postgres_max_overflow),
                POSTGRES_CONNECT_TIMEOUT=str(self.postgres_connect_timeout),
                POSTGRES_PRE_PING="y",
                POSTGRES_SCHEMA=self.postgres_schema,
            )
        else:
            env.update(
                PERSISTENCE_MODULE="eventsourcing.sqlite",
                SQLITE_DBNAME=str(self.sqlite_path),
                SQLITE_LOCK_TIMEOUT="10",
            )
        return env

    @property
    def sqlite_path(self) -> Path:
        url = self.resolved_database_url
        if not url.startswith("sqlite:///"):
            raise ValueError(
                f"CASETRAIL_DATABASE_URL {url!r} is neither sqlite:/// nor postgresql://"
            )
        return Path(url.removeprefix("sqlite:///"))

    def prepare(self) -> None:
        """Create the data directory (and the SQLite file's folder) on first start."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.is_postgres:
            self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
