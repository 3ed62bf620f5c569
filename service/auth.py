"""Bearer tokens: verification (HS256, or RS256/EdDSA keys chosen by `kid`) and local minting.

In the embedded default the service keeps an Ed25519 signing key and a JWKS of its public keys
under `<data dir>/keys/`; `casetrail token` signs with it. Rotating: add a new key to the JWKS,
start signing with it, and remove the old one once its tokens have expired.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any
from uuid import UUID

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from service.principal import Principal
from service.settings import Settings

ROLES = frozenset({"practitioner", "manager", "reviewer", "integrator", "system", "admin"})
AGENCY = re.compile(
    r"(csc|school|health|police|vcs|housing|probation|other):[a-z0-9][a-z0-9._-]{0,62}"
)


log = logging.getLogger(__name__)

VERIFIED_TOKENS_CACHED = 4096


class InvalidToken(Exception):
    """A token that cannot be trusted: missing, expired, wrongly signed, for another audience."""


class KeysUnavailable(Exception):
    """The verification keys cannot be read and no good key set was ever loaded: not the
    token's fault, so not a 401 — the service cannot judge tokens until its keys are back."""


def _keys_dir(settings: Settings) -> Path:
    return settings.data_dir / "keys"


def local_signing_key_path(settings: Settings) -> Path:
    return _keys_dir(settings) / "token-signing-key.pem"


def local_jwks_path(settings: Settings) -> Path:
    return _keys_dir(settings) / "jwks.json"


def ensure_local_keys(settings: Settings) -> None:
    """Create the embedded store's Ed25519 signing key and its JWKS on first start.

    Every worker calls this, so it is safe to race: creation happens under an exclusive file
    lock, and each file is written whole (to a temporary file, then renamed into place), so a
    reader never sees half a key and the JWKS always publishes the PEM's public key.
    """
    key_path, jwks_path = local_signing_key_path(settings), local_jwks_path(settings)
    if key_path.exists() and jwks_path.exists():
        return
    key_path.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(key_path.parent / ".keys.lock"):
        if key_path.exists() and jwks_path.exists():
            return  # another process or thread made them while we waited
        private = _existing_key(key_path) if key_path.exists() else None
        if private is None:
            private = Ed25519PrivateKey.generate()
            pem = private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            _write_atomically(key_path, pem, mode=0o600)
        jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(private.public_key()))
        jwk.update(kid=_kid(jwk), use="sig", alg="EdDSA")
        _write_atomically(jwks_path, json.dumps({"keys": [jwk]}, indent=2).encode(), mode=0o644)


def _existing_key(path: Path) -> Ed25519PrivateKey | None:
    """The signing key already on disk (its JWKS was lost), or None if it is not usable."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    return key if isinstance(key, Ed25519PrivateKey) else None


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    """Write `path` whole or not at all: a temporary file in the same directory, then rename."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _kid(jwk: dict[str, Any]) -> str:
    return sha256(jwk["x"].encode()).hexdigest()[:16]


class TokenService:
    """Verifies bearer tokens against the configured keys; mints tokens with the local key."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jwks: dict[str, Any] = {}
        self._jwks_mtime: float | None = None
        self._last_failure: str | None = None
        # Tokens already verified: (principal, when it expires, the key set that verified it).
        self._verified: dict[str, tuple[Principal, float, dict[str, Any] | None]] = {}
        self._verified_lock = threading.Lock()
        if not settings.jwt_secret_text and settings.jwt_jwks_file is None:
            ensure_local_keys(settings)

    @property
    def _jwks_file(self) -> Path:
        return self.settings.jwt_jwks_file or local_jwks_path(self.settings)

    def _public_keys(self) -> dict[str, Any]:
        # Re-read the JWKS when it changes, so a rotated key is picked up without a restart. A
        # JWKS that is missing, half-written or corrupt never replaces the last good key set.
        path = self._jwks_file
        try:
            mtime = path.stat().st_mtime
            if mtime != self._jwks_mtime:
                keyset = jwt.PyJWKSet.from_dict(json.loads(path.read_text()))
                keys = {k.key_id: k for k in keyset.keys if k.key_id}
                if not keys:
                    raise ValueError("no key in it has a key id (kid)")
                self._jwks, self._jwks_mtime, self._last_failure = keys, mtime, None
        except (OSError, ValueError, TypeError, KeyError, AttributeError, jwt.PyJWTError) as e:
            failure = f"cannot read the token verification keys in {path}: {e!r}"
            if failure != self._last_failure:
                self._last_failure = failure
                kept = "; keeping the last good key set" if self._jwks else ""
                log.warning("%s%s", failure, kept)
            if not self._jwks:
                raise KeysUnavailable(failure) from None
        return self._jwks

    def verify(self, token: str) -> Principal:
        """The token's principal, or InvalidToken. A token verified before is not verified
        again while it is unexpired and the key set it was verified against is unchanged."""
        keys = None if self.settings.jwt_secret_text else self._public_keys()
        cached = self._verified.get(token)
        if cached is not None:
            principal, expires_at, verified_with = cached
            if verified_with is keys and time.time() < expires_at:
                return principal
        principal, expires_at = self._verify(token, keys)
        with self._verified_lock:
            self._verified[token] = (principal, expires_at, keys)
            while len(self._verified) > VERIFIED_TOKENS_CACHED:
                del self._verified[next(iter(self._verified))]
        return principal

    def _verify(self, token: str, keys: dict[str, Any] | None) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
            if keys is None:
                key: Any = self.settings.jwt_secret_text
                algorithms = ["HS256"]
            else:
                jwk = keys.get(str(header.get("kid")))
                if jwk is None:
                    raise InvalidToken("the token's key id (kid) is not one of ours")
                key, algorithms = jwk.key, ["RS256", "EdDSA"]
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                leeway=self.settings.jwt_leeway_seconds,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as e:
            raise InvalidToken(str(e)) from None
        expires_at = float(claims["exp"]) + self.settings.jwt_leeway_seconds
        return principal_from_claims(claims), expires_at

    def mint(
        self,
        *,
        sub: str,
        name: str,
        agency: str,
        roles: list[str],
        cases: list[str] | None = None,
        expires: timedelta = timedelta(hours=8),
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": sub,
            "name": name,
            "agency": agency,
            "roles": roles,
            "iss": self.settings.jwt_issuer,
            "aud": self.settings.jwt_audience,
            "iat": now,
            "exp": now + int(expires.total_seconds()),
        }
        if cases:
            claims["cases"] = cases
        principal_from_claims(claims)  # refuse to mint what we would refuse to accept
        if self.settings.jwt_secret_text:
            return jwt.encode(claims, self.settings.jwt_secret_text, algorithm="HS256")
        key_path = local_signing_key_path(self.settings)
        if not key_path.exists():
            raise InvalidToken(
                "no local signing key: with configured keys, "
                "tokens come from your identity provider"
            )
        private = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        public_jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(private.public_key()))  # type: ignore[arg-type]
        return jwt.encode(claims, private, algorithm="EdDSA", headers={"kid": _kid(public_jwk)})  # type: ignore[arg-type]


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    roles = claims.get("roles")
    if isinstance(roles, str):
        roles = [roles]
    # A role that is not a string (a list, an object) is refused here rather than crashing `set()`.
    if (
        not isinstance(roles, list)
        or not roles
        or not all(isinstance(r, str) for r in roles)
        or not set(roles) <= ROLES
    ):
        raise InvalidToken(f"roles must be a non-empty list drawn from {sorted(ROLES)}")
    agency = claims.get("agency")
    if not isinstance(agency, str) or not AGENCY.fullmatch(agency):
        raise InvalidToken("agency must be KIND:NAME, e.g. csc:barsetshire")
    name = claims.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidToken("the token has no name")
    cases = claims.get("cases") or []
    if isinstance(cases, str):
        cases = [cases]
    if not isinstance(cases, list) or not all(isinstance(c, str) for c in cases):
        raise InvalidToken("cases must be a list of case ids, or *")
    return Principal(
        sub=str(claims["sub"]),
        name=name,
        agency=agency,
        roles=tuple(roles),
        cases=tuple(_case_claim(c) for c in cases),
    )


def _case_claim(text: str) -> str:
    """A case id as the store writes it (lower case, hyphenated), however the token wrote it;
    `*`, or text that is no UUID (it names no case), as given."""
    try:
        return str(UUID(text))
    except ValueError:
        return text
