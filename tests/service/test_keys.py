"""Verification keys that go missing or bad, and the local signing key made by racing workers."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from fastapi.testclient import TestClient
from httpx import Response

from service.auth import (
    TokenService,
    ensure_local_keys,
    local_jwks_path,
    local_signing_key_path,
)
from service.settings import Settings
from tests.support import event

Headers = dict[str, str]

PROBLEM_JSON = "application/problem+json"


def probe(client: TestClient, headers: Headers) -> Response:
    """A request that needs a token: open a new case."""
    response: Response = client.post(
        "/cases", json={"events": [event("CaseOpened")]}, headers=headers
    )
    return response


def assert_keys_unavailable(response: Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.headers["Retry-After"] == "5"
    body = response.json()
    assert body["type"] == "urn:casetrail:problem:keys-unavailable"
    assert body["status"] == 503


def touch_later(path: Path) -> None:
    """Move the file's mtime on, so the service notices the change whatever the clock grain."""
    later = time.time() + 60
    os.utime(path, (later, later))


def eddsa_token(settings: Settings, key: ed25519.Ed25519PrivateKey, kid: str) -> str:
    now = int(time.time())
    claims = {
        "sub": "ann.worker",
        "name": "Ann Worker",
        "agency": "csc:barsetshire",
        "roles": ["practitioner"],
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + 600,
    }
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})


def write_jwks(path: Path, key: ed25519.Ed25519PrivateKey, kid: str) -> None:
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=kid, use="sig", alg="EdDSA")
    path.write_text(json.dumps({"keys": [jwk]}))


# --- a JWKS that goes bad ------------------------------------------------------------------


@pytest.mark.parametrize(
    "damage",
    ["{not json", "", '{"keys": []}', '{"keys": [{"kty": "nonsense"}]}', "[1, 2]"],
    ids=["not-json", "empty", "no-keys", "bad-key", "not-an-object"],
)
def test_local_jwks_when_corrupted_after_good_request_then_cached_keys_still_accept(
    client: TestClient, headers: Headers, settings: Settings, damage: str
) -> None:
    # Given a request accepted with the local JWKS
    assert probe(client, headers).status_code == 201
    # When the JWKS is overwritten with something unusable
    path = local_jwks_path(settings)
    path.write_text(damage)
    touch_later(path)
    # Then the same token is still accepted with the last good keys, not a 500
    response = probe(client, headers)
    assert response.status_code == 201, response.text


def test_local_jwks_when_deleted_after_good_request_then_cached_keys_still_accept(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    # Given a request accepted with the local JWKS
    assert probe(client, headers).status_code == 201
    # When the JWKS file is deleted
    local_jwks_path(settings).unlink()
    # Then tokens are still judged with the last good keys
    response = probe(client, headers)
    assert response.status_code == 201, response.text
    # And a forged token is still refused
    forged = eddsa_token(settings, ed25519.Ed25519PrivateKey.generate(), "nobody")
    assert probe(client, {"Authorization": f"Bearer {forged}"}).status_code == 401


def test_jwks_file_when_never_existed_then_503_keys_unavailable_not_500(
    start_app: Callable[..., TestClient], settings: Settings, tmp_path: Path
) -> None:
    # Given a configured JWKS file that does not exist
    missing = tmp_path / "no-such-dir" / "jwks.json"
    client = start_app(jwt_jwks_file=missing)
    key = ed25519.Ed25519PrivateKey.generate()
    token = eddsa_token(settings, key, "k1")
    # When a request with a well-formed token arrives
    response = probe(client, {"Authorization": f"Bearer {token}"})
    # Then it is a 503 keys-unavailable problem with Retry-After
    assert_keys_unavailable(response)
    # And once the file appears the token is accepted, without a restart
    missing.parent.mkdir()
    write_jwks(missing, key, "k1")
    assert probe(client, {"Authorization": f"Bearer {token}"}).status_code == 201


def test_jwks_file_when_corrupt_from_the_start_then_503_keys_unavailable(
    start_app: Callable[..., TestClient], settings: Settings, tmp_path: Path
) -> None:
    # Given a configured JWKS file that was never valid
    path = tmp_path / "jwks.json"
    path.write_text('{"keys": [')
    client = start_app(jwt_jwks_file=path)
    token = eddsa_token(settings, ed25519.Ed25519PrivateKey.generate(), "k1")
    # When a request with a well-formed token arrives
    response = probe(client, {"Authorization": f"Bearer {token}"})
    # Then it is a 503, not a 500 and not a 401 (the token is not at fault)
    assert_keys_unavailable(response)


def test_jwks_file_when_missing_then_request_without_token_still_401(
    start_app: Callable[..., TestClient], tmp_path: Path
) -> None:
    # Given a configured JWKS file that does not exist
    client = start_app(jwt_jwks_file=tmp_path / "jwks.json")
    # When a request arrives without a token
    response = probe(client, {})
    # Then it is the usual 401 challenge
    assert response.status_code == 401


# --- creating the local signing key ---------------------------------------------------------


def _public_x(private: Any) -> str:
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(private.public_key()))
    return str(jwk["x"])


@pytest.mark.parametrize("round_", range(10))
def test_ensure_local_keys_when_threads_race_on_fresh_dir_then_pem_matches_jwks(
    tmp_path: Path, round_: int
) -> None:
    # Given a fresh data directory and several workers starting at once
    settings = Settings(data_dir=tmp_path / "data", jwt_secret="", jwt_jwks_file=None)
    workers = 8
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            barrier.wait()
            ensure_local_keys(settings)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(workers)]
    # When each makes sure the local keys exist
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then none failed, and the JWKS publishes exactly the PEM's public key
    assert errors == []
    key_path, jwks_path = local_signing_key_path(settings), local_jwks_path(settings)
    private = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    (jwk,) = json.loads(jwks_path.read_text())["keys"]
    assert jwk["x"] == _public_x(private)
    # And the private key is readable by its owner only, and no temporary file is left behind
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert sorted(p.name for p in key_path.parent.iterdir() if p.name.endswith(".tmp")) == []
    # And a token minted now verifies
    tokens = TokenService(settings)
    token = tokens.mint(sub="ann", name="Ann", agency="csc:barsetshire", roles=["practitioner"])
    assert tokens.verify(token).sub == "ann"


def test_ensure_local_keys_when_jwks_lost_then_rebuilt_from_existing_pem(tmp_path: Path) -> None:
    # Given local keys, and a token signed with them
    settings = Settings(data_dir=tmp_path / "data")
    ensure_local_keys(settings)
    tokens = TokenService(settings)
    token = tokens.mint(sub="ann", name="Ann", agency="csc:barsetshire", roles=["practitioner"])
    pem = local_signing_key_path(settings).read_bytes()
    # When the JWKS is lost and the keys are ensured again
    local_jwks_path(settings).unlink()
    ensure_local_keys(settings)
    # Then the signing key is kept and the earlier token still verifies
    assert local_signing_key_path(settings).read_bytes() == pem
    assert TokenService(settings).verify(token).sub == "ann"


def test_ensure_local_keys_when_both_exist_then_untouched(tmp_path: Path) -> None:
    # Given local keys
    settings = Settings(data_dir=tmp_path / "data")
    ensure_local_keys(settings)
    before = (
        local_signing_key_path(settings).read_bytes(),
        local_jwks_path(settings).read_bytes(),
    )
    # When they are ensured again
    ensure_local_keys(settings)
    # Then nothing changed
    after = (
        local_signing_key_path(settings).read_bytes(),
        local_jwks_path(settings).read_bytes(),
    )
    assert after == before
