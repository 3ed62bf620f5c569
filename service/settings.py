"""Every setting, in one place (`CASETRAIL_*` environment variables)."""

from __future__ import annotations

import base64
import binascii
import math
import os
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit

from eventsourcing.cryptography import AESCipher
from eventsourcing.utils import get_topic
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.rules import LOCAL_TIMESCALES
from projections.collector import BULK_GC_THRESHOLD
from service.store import POSTGRES_FACTORY_TOPIC

# The library's AES-GCM cipher over the `cryptography` package, "eventsourcing.cryptography:
# AESCipher" (not its default "eventsourcing.cipher:AESCipher", which needs pycryptodome).
CIPHER_TOPIC = get_topic(AESCipher)
GENERATE_KEY_HINT = (
    'generate one with `openssl rand -base64 32` or `python -c "from eventsourcing.cryptography '
    'import AESCipher; print(AESCipher.create_key(32))"`'
)
POSTGRES_URL_SCHEMES = ("postgresql://", "postgres://")
MIN_JWT_SECRET_BYTES = 32
DATABASE_URL_SCHEMES = ("sqlite:///", *POSTGRES_URL_SCHEMES)


def aes_key_text(text: str) -> str:
    """`text` stripped if it is a base64 AES key (16, 24 or 32 bytes) or empty; else ValueError.

    The message never contains the key.
    """
    text = text.strip()
    if not text:
        return ""
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            f"CASETRAIL_ENCRYPTION_KEY is not valid base64: {GENERATE_KEY_HINT}"
        ) from None
    if len(key) not in AESCipher.KEY_SIZES:
        raise ValueError(
            f"CASETRAIL_ENCRYPTION_KEY decodes to {len(key)} bytes, but an AES key is 16, 24 "
            f"or 32 bytes: {GENERATE_KEY_HINT}"
        )
    return text


class Settings(BaseSettings):
    """Casetrail's configuration, read from the environment by `serve` and every CLI command."""

    # hide_input_in_errors: a refused value (a key, a secret) never appears in the error.
    model_config = SettingsConfigDict(
        env_prefix="CASETRAIL_", extra="ignore", hide_input_in_errors=True
    )

    # Secrets (the URL holds the database password) are kept as `SecretStr`: never shown in a
    # repr, a log line or an error; read with `database_url_text` and `jwt_secret_text`.
    database_url: SecretStr = Field(
        default=SecretStr(""),
        description="sqlite:///PATH or postgresql://user:pass@host:5432/db; "
        "default: sqlite in the data directory",
    )
    data_dir: Path = Field(default=Path("./data"), description="embedded store, keys and seals")

    # Tokens.
    jwt_secret: SecretStr = Field(
        default=SecretStr(""), description="HS256 shared secret (instead of keys)"
    )
    jwt_jwks_file: Path | None = Field(
        default=None, description="JWKS file of RS256/EdDSA public keys, chosen by `kid`"
    )
    jwt_issuer: str = "casetrail"
    jwt_audience: str = "casetrail"
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=3600)

    # Writes. (Every number has its range: one outside it stops the service at start rather
    # than refuse every write, empty every page or grow a cache or a pool without bound.)
    max_batch_events: int = Field(default=500, ge=1)
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    clock_skew_seconds: int = Field(default=300, ge=0, le=86_400)
    append_retry_seconds: float = Field(default=2.0, ge=0, le=60)
    # Every request answers within this many seconds (503 + Retry-After when the store, or
    # anything else, keeps it longer); the store's retries stop by then. Long-polls and
    # `X-Min-Position` waits get their own wait on top; the SSE stream has no deadline.
    request_deadline_seconds: float = Field(default=10.0, gt=0, le=300)

    # Reads.
    max_page: int = Field(default=1000, ge=1, le=100_000)

    # The global feed: how long `GET /feed?wait=` may hold a request (larger is clamped), how
    # many notifications one page scans at most while filtering, and the SSE heartbeat.
    feed_max_wait_seconds: float = Field(default=30.0, ge=0, le=300)
    feed_scan_limit: int = Field(default=10_000, ge=1)
    feed_ping_seconds: float = Field(default=15.0, gt=0)

    # Read models: whether `serve` runs their runner (one leader across workers and processes),
    # in a process of its own beside the workers or (`projections_in_workers`) as a thread inside
    # each worker; how often it polls the log, and how long a request's X-Min-Position may wait.
    projections_in_process: bool = True
    projections_in_workers: bool = False
    projection_poll_seconds: float = Field(default=0.5, gt=0, le=10)
    # The share of the time a runner thread inside a worker may spend applying events: after each
    # page (or refresh) of T seconds it rests T * (1 - share) / share, so requests keep the
    # interpreter.
    projections_in_process_share: float = Field(default=0.25, gt=0, le=1)
    projection_wait_seconds: float = Field(default=2.0, ge=0, le=30)
    # How often the runner re-evaluates alerts whose deadlines have passed with no new event.
    alerts_refresh_seconds: float = Field(default=60.0, gt=0, le=86_400)
    caseload_threshold: int = Field(default=20, ge=1, le=1000)

    # The alert rules' local timescales, by key (`domain.rules.LOCAL_TIMESCALES`), each read from
    # its own variable `CASETRAIL_RULE_<RULE>_<NAME>`; a rule not set here uses its default.
    rule_timescales: dict[str, Annotated[int, Field(strict=True, ge=1, le=3650)]] = Field(
        default_factory=dict, exclude=True
    )

    # Access: how long a partner agency keeps access after its involvement ends.
    partner_access_years: int = Field(default=2, ge=0)

    # The library's aggregate cache: appends to a long case reuse its (small) state.
    # (The library keeps every aggregate, unbounded, when given 0.)
    aggregate_cache_size: int = Field(default=10_000, ge=1)
    snapshot_interval: int = Field(default=200, ge=0)
    # Decoded events of recently read cases (stored events never change); about 3 KB each.
    event_cache_size: int = Field(default=50_000, ge=0)

    # PostgreSQL.
    postgres_pool_size: int = Field(default=5, ge=1)
    postgres_max_overflow: int = Field(default=10, ge=0)
    # Seconds to wait for a PostgreSQL connection (a new one, or a free one from a pool):
    # during an outage a request answers 503 after about this long.
    postgres_connect_timeout: int = Field(default=5, ge=1, le=60)
    postgres_schema: str = Field(
        default="public", description="the schema holding Casetrail's tables"
    )

    # Rate limits per principal (a token's `sub` and `agency`), a token bucket in each process:
    # up to `rate_limit_burst` requests at once, refilled at `rate_limit_per_minute`; 0: off.
    rate_limit_per_minute: int = Field(default=600, ge=0)
    rate_limit_burst: int = Field(default=120, ge=1)

    # Allocations between collections of the garbage collector's youngest generation in each
    # `serve` worker and `projections run` process (Python's default, 700, walks the process's
    # long-lived objects many times a request; see `projections.collector`).
    gc_threshold: int = Field(default=BULK_GC_THRESHOLD, ge=700)

    # Logs of `casetrail serve`: JSON lines on stderr at this level and above.
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"

    # Tamper evidence: the Ed25519 key that signs seals (keep it off the database host).
    seal_key_path: Path | None = Field(
        default=None,
        description="PEM (PKCS8) Ed25519 private key signing seals; "
        "default <data dir>/keys/seal-signing-key.pem, generated on first use",
    )

    # Encryption at rest: the stored events' payloads, with the library's AES-GCM cipher.
    encryption_key: SecretStr = Field(
        default=SecretStr(""),
        description="base64 AES key (16, 24 or 32 bytes) encrypting stored events; "
        "empty: not encrypted. Keep it off the data directory and the database host",
    )

    @model_validator(mode="after")
    def _read_rule_timescales(self) -> Settings:
        """Each local timescale's own variable, e.g. CASETRAIL_RULE_CP_VISIT_OVERDUE_WORKING_DAYS;
        a value that is not a whole number from 1 to 3650 stops the service at start."""
        unknown = set(self.rule_timescales) - set(LOCAL_TIMESCALES)
        if unknown:
            raise ValueError(
                f"CASETRAIL_RULE_TIMESCALES: unknown rule timescales: {', '.join(sorted(unknown))} "
                f"(the local ones are {', '.join(sorted(LOCAL_TIMESCALES))})"
            )
        # A misspelt variable, or one naming a statutory timescale, would leave the default in
        # force with nothing to say so.
        # (CASETRAIL_RULE_TIMESCALES, a field, is read whatever its case; the timescales' own
        # variables only as written.)
        settings = {t.setting for t in LOCAL_TIMESCALES.values()}
        strays = sorted(
            name
            for name in os.environ
            if name.upper().startswith("CASETRAIL_RULE_")
            and name not in settings
            and name.upper() != "CASETRAIL_RULE_TIMESCALES"
        )
        if strays:
            raise ValueError(
                f"{', '.join(strays)}: no local timescale has this variable (statutory "
                f"timescales are fixed); the local ones are "
                f"{', '.join(sorted(t.setting for t in LOCAL_TIMESCALES.values()))}"
            )
        for key, timescale in LOCAL_TIMESCALES.items():
            raw = os.environ.get(timescale.setting)
            if raw is None or key in self.rule_timescales:
                continue
            if not raw.strip().isdigit() or not 1 <= int(raw) <= 3650:
                raise ValueError(
                    f"{timescale.setting} must be a whole number of {timescale.unit} "
                    f"from 1 to 3650, not {raw!r}"
                )
            self.rule_timescales[key] = int(raw)
        return self

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_log_level(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: SecretStr) -> SecretStr:
        """Only the two stores there are; the message never repeats the URL (its password)."""
        url = value.get_secret_value()
        if url and not url.startswith(DATABASE_URL_SCHEMES):
            raise ValueError(
                "CASETRAIL_DATABASE_URL must be sqlite:///PATH or "
                "postgresql://user:password@host:5432/database"
            )
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _check_jwt_secret(cls, value: SecretStr) -> SecretStr:
        """An HS256 secret of at least 32 bytes (RFC 7518 section 3.2: a key as long as the hash);
        the message never repeats it."""
        size = len(value.get_secret_value().encode())
        if 0 < size < MIN_JWT_SECRET_BYTES:
            raise ValueError(
                f"CASETRAIL_JWT_SECRET is {size} bytes long, but an HS256 secret is at least "
                f"{MIN_JWT_SECRET_BYTES} (RFC 7518): generate one with `openssl rand -base64 32`"
            )
        return value

    @field_validator("encryption_key")
    @classmethod
    def _check_encryption_key(cls, value: SecretStr) -> SecretStr:
        return SecretStr(aes_key_text(value.get_secret_value()))

    @property
    def encrypted(self) -> bool:
        """Whether stored events are encrypted (CASETRAIL_ENCRYPTION_KEY is set)."""
        return bool(self.cipher_key())

    def cipher_key(self) -> str:
        """The key for the library's cipher ('' when off), checked again: a copy made with
        `model_copy(update=...)` is not validated, and may even hold a plain string."""
        return aes_key_text(_text(self.encryption_key))

    @property
    def database_url_text(self) -> str:
        """`CASETRAIL_DATABASE_URL` as given ('' when unset)."""
        return _text(self.database_url)

    @property
    def jwt_secret_text(self) -> str:
        """`CASETRAIL_JWT_SECRET` ('' when unset: tokens are checked with keys)."""
        return _text(self.jwt_secret)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url_text or f"sqlite:///{self.data_dir / 'casetrail.db'}"

    @property
    def resolved_seal_key_path(self) -> Path:
        return self.seal_key_path or self.data_dir / "keys" / "seal-signing-key.pem"

    @property
    def audit_path(self) -> Path:
        """The embedded access audit's own SQLite file, beside the log's."""
        return self.data_dir / "audit.db"

    @property
    def is_postgres(self) -> bool:
        return self.resolved_database_url.startswith(POSTGRES_URL_SCHEMES)

    def library_environment(self) -> dict[str, str]:
        """The `eventsourcing` library's environment for the log, derived from our settings."""
        env = {
            "AGGREGATE_CACHE_MAXSIZE": str(self.aggregate_cache_size),
            "AGGREGATE_CACHE_FASTFORWARD": "y",
        }
        if self.is_postgres:
            url = urlsplit(self.resolved_database_url)
            env.update(
                # The library's PostgreSQL factory, tuned for outages (`service.store`).
                PERSISTENCE_MODULE=POSTGRES_FACTORY_TOPIC,
                POSTGRES_DBNAME=unquote(url.path.lstrip("/")) or "postgres",
                POSTGRES_HOST=unquote(url.hostname or "") or "/var/run/postgresql",
                POSTGRES_PORT=str(url.port or 5432),
                POSTGRES_USER=unquote(url.username or ""),
                POSTGRES_PASSWORD=unquote(url.password or ""),
                POSTGRES_POOL_SIZE=str(self.postgres_pool_size),
                POSTGRES_MAX_OVERFLOW=str(self.postgres_max_overflow),
                POSTGRES_CONNECT_TIMEOUT=str(self.postgres_connect_timeout),
                POSTGRES_PRE_PING="y",
                # Off: the library's insert by a database function would write neither the
                # event-id index nor snapshots.
                POSTGRES_ENABLE_DB_FUNCTIONS="n",
                # An append waits for the events table's lock (appends are serialised) at most
                # as long as a request may last; a transaction left idle is ended after 5 s.
                POSTGRES_LOCK_TIMEOUT=str(math.ceil(self.request_deadline_seconds)),
                POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT="5",
                POSTGRES_SCHEMA=self.postgres_schema,
                CASETRAIL_REQUEST_DEADLINE_SECONDS=str(self.request_deadline_seconds),
            )
        else:
            env.update(
                PERSISTENCE_MODULE="eventsourcing.sqlite",
                SQLITE_DBNAME=str(self.sqlite_path),
                SQLITE_LOCK_TIMEOUT="10",
            )
        # Always set, empty when off: a library application that also reads the process
        # environment must not find a stray CIPHER_KEY there switching on a cipher.
        env.update(
            CIPHER_TOPIC=CIPHER_TOPIC if self.encrypted else "",
            CIPHER_KEY=self.cipher_key(),
        )
        return env

    @property
    def sqlite_path(self) -> Path:
        url = self.resolved_database_url
        if not url.startswith("sqlite:///"):
            raise ValueError("CASETRAIL_DATABASE_URL is neither sqlite:/// nor postgresql://")
        return Path(url.removeprefix("sqlite:///"))

    def prepare(self) -> None:
        """Create the data directory (and the SQLite file's folder) on first start."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.is_postgres:
            self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)


def _text(value: SecretStr | str) -> str:
    """A secret setting's value (a copy made with `model_copy(update=...)` is not validated, and
    may hold a plain string)."""
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)
