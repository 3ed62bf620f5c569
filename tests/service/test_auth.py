"""Bearer tokens over HTTP: which endpoints need one, and which tokens are refused.

Three ways to configure verification are exercised: the embedded default (a local Ed25519 key and
its JWKS), a shared HS256 secret, and a JWKS file of RS256 keys chosen by `kid` (key rotation).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import os
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from fastapi.testclient import TestClient
from httpx import Response

from service.auth import local_jwks_path, local_signing_key_path
from service.settings import Settings
from tests.support import app_routes, event

Headers = dict[str, str]

PROBLEM_JSON = "application/problem+json"
SECRET = "a-shared-secret-long-enough-for-hs512-which-wants-64-bytes-of-key!"
DROP = object()  # a claim value meaning "leave this claim out"

# Endpoints anyone may call (DESIGN.md "HTTP API"). The reviewer web page (`/`, `/ui/...`) has its
# own sign-in, so it answers an anonymous browser with its sign-in page, not a bearer challenge.
OPEN_PATHS = {"/health", "/ready", "/metrics", "/docs", "/docs/oauth2-redirect", "/openapi.json"}
OWN_SIGN_IN = re.compile(r"^/(ui(/.*)?)?$")


# --- helpers ---------------------------------------------------------------------------------


def claims(settings: Settings, **changes: Any) -> dict[str, Any]:
    """A valid claim set for `settings`, with claims changed (or left out with DROP)."""
    now = int(time.time())
    body: dict[str, Any] = {
        "sub": "ann.worker",
        "name": "Ann Worker",
        "agency": "csc:barsetshire",
        "roles": ["practitioner"],
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + 600,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not DROP}


def bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], body: dict[str, Any], signature: bytes = b"") -> str:
    """A compact JWS assembled by hand (for `alg: none` and algorithm-confusion tokens)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body).encode())}"
    return f"{signing_input}.{_b64(signature)}"


def local_key(settings: Settings) -> tuple[Any, str, dict[str, Any]]:
    """The embedded default's private signing key, its kid and its public JWK."""
    private = serialization.load_pem_private_key(
        local_signing_key_path(settings).read_bytes(), password=None
    )
    (jwk,) = json.loads(local_jwks_path(settings).read_text())["keys"]
    return private, str(jwk["kid"]), jwk


def assert_unauthorised(response: Response, error: str | None = "invalid_token") -> None:
    """A 401 problem with the Bearer challenge of RFC 6750 §3: with `error` when a token was
    sent, without when none was (or another scheme's credentials)."""
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    challenge = 'Bearer realm="casetrail"'
    if error is not None:
        challenge += f', error="{error}"'
    assert response.headers["WWW-Authenticate"] == challenge
    if response.request.method == "HEAD":  # (the GET's headers, no body)
        assert response.content == b""
        return
    body = response.json()
    assert body["status"] == 401
    assert body["type"] and body["title"] and body["detail"]


def probe(client: TestClient, headers: Headers) -> Response:
    """A request that needs a token: open a new case."""
    response: Response = client.post(
        "/cases", json={"events": [event("CaseOpened")]}, headers=headers
    )
    return response


def api_routes(client: TestClient) -> list[tuple[str, set[str]]]:
    """Every FastAPI route of the app as (full path, methods), included routers flattened."""
    app: Any = client.app
    return [(route.path, set(route.methods or ())) for route in app_routes(app)]


def guarded_routes(client: TestClient) -> list[tuple[str, str]]:
    """(method, concrete path) for every route that needs a token, path parameters filled in."""

    def value(match: re.Match[str]) -> str:
        return str(uuid.uuid4()) if match.group(1).endswith("id") else "1"

    requests: list[tuple[str, str]] = []
    for path, methods in api_routes(client):
        if path in OPEN_PATHS or OWN_SIGN_IN.match(path):
            continue
        concrete = re.sub(r"\{([^}:]+)(?::[^}]*)?\}", value, path)
        served = methods | {"HEAD"} if "GET" in methods else methods  # (`service.api.head`)
        requests.extend((method, concrete) for method in sorted(served))
    return requests


# --- which endpoints need a token ---------------------------------------------------------


def test_every_api_route_when_called_without_token_then_401_bearer_challenge(
    client: TestClient,
) -> None:
    # Given
    requests = guarded_routes(client)
    walked = {path for path, _ in api_routes(client)}
    documented = set(client.get("/openapi.json").json()["paths"])
    assert documented <= walked, "the walk must see every documented endpoint"
    assert ("POST", "/cases") in requests
    assert ("HEAD", "/cases") in requests

    for method, path in requests:
        # When
        response = client.request(method, path, json={"events": [event("CaseOpened")]})

        # Then
        assert response.status_code == 401, (method, path, response.text)
        assert_unauthorised(response, error=None)


@pytest.mark.parametrize(
    ("authorization", "error"),
    [
        ("", None),
        ("Basic YW5uOnNlY3JldA==", None),
        ("Token abc", None),
        ("Bearer", "invalid_request"),
        ("Bearer    ", "invalid_request"),
        ("Bearer not-a-token", "invalid_token"),
    ],
)
def test_every_api_route_when_authorization_not_a_bearer_token_then_401(
    client: TestClient, authorization: str, error: str | None
) -> None:
    # Given
    requests = guarded_routes(client)

    for method, path in requests:
        # When
        response = client.request(method, path, headers={"Authorization": authorization})

        # Then
        assert response.status_code == 401, (method, path, authorization, response.text)
        assert_unauthorised(response, error)


@pytest.mark.parametrize("path", ["/health", "/ready", "/docs", "/openapi.json"])
def test_open_endpoint_when_called_without_token_then_200(client: TestClient, path: str) -> None:
    # Given
    anonymous: Headers = {}

    # When
    response = client.get(path, headers=anonymous)

    # Then
    assert response.status_code == 200, response.text


# --- the embedded default: a local Ed25519 key ----------------------------------------------


def test_token_when_minted_by_local_key_then_accepted_and_recorded(
    client: TestClient, settings: Settings
) -> None:
    # Given
    private, kid, _ = local_key(settings)
    token = jwt.encode(claims(settings), private, algorithm="EdDSA", headers={"kid": kid})

    # When
    response = probe(client, bearer(token))
    lower_case_scheme = probe(client, {"Authorization": f"bearer {token}"})

    # Then
    assert response.status_code == 201, response.text
    assert lower_case_scheme.status_code == 201, lower_case_scheme.text
    case_id = response.json()["case_id"]
    (opened,) = client.get(f"/cases/{case_id}/events", headers=bearer(token)).json()["events"]
    assert opened["recorded_by"] == {
        "sub": "ann.worker",
        "name": "Ann Worker",
        "agency": "csc:barsetshire",
        "roles": ["practitioner"],
    }


def _bad_local_tokens(settings: Settings) -> dict[str, str]:
    private, kid, jwk = local_key(settings)
    stranger = ed25519.Ed25519PrivateKey.generate()

    def signed(key: Any = private, headers: dict[str, Any] | None = None, **changes: Any) -> str:
        return jwt.encode(
            claims(settings, **changes), key, algorithm="EdDSA", headers=headers or {"kid": kid}
        )

    confused = unsigned({"alg": "HS256", "typ": "JWT", "kid": kid}, claims(settings))
    signing_input = confused.rsplit(".", 1)[0].encode()
    mac = hmac.new(jwk["x"].encode(), signing_input, hashlib.sha256).digest()
    return {
        "expired": signed(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
        "signed by another key under our kid": signed(key=stranger),
        "wrong audience": signed(aud="another-service"),
        "wrong issuer": signed(iss="https://idp.example.org"),
        "alg none": unsigned({"alg": "none", "typ": "JWT", "kid": kid}, claims(settings)),
        "alg none without signature dot": unsigned(
            {"alg": "none", "kid": kid}, claims(settings)
        ).rstrip("."),
        "HS256 keyed with our public key": f"{signing_input.decode()}.{_b64(mac)}",
        "unknown kid": signed(key=stranger, headers={"kid": "not-one-of-ours"}),
        "our key under an unknown kid": signed(headers={"kid": "not-one-of-ours"}),
        "no kid": signed(headers={"typ": "JWT"}),
        "garbage": "not-a-token",
        "three garbage parts": "a.b.c",
        "tampered claims": _tampered(signed(), roles=["admin"]),
        "no exp": signed(exp=DROP),
        "no sub": signed(sub=DROP),
        "no name": signed(name=DROP),
        "no agency": signed(agency=DROP),
        "agency without kind": signed(agency="barsetshire"),
        "agency of unknown kind": signed(agency="gp:maidstone"),
        "agency ending in a newline": signed(agency="csc:barsetshire\n"),
        "unknown role": signed(roles=["wizard"]),
        "no roles": signed(roles=[]),
        "roles not strings": signed(roles=[["practitioner"]]),
        "roles an object": signed(roles={"practitioner": True}),
        "cases not a list": signed(roles=["reviewer"], cases=5),
    }


def _tampered(token: str, **changes: Any) -> str:
    header, body, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    decoded.update(changes)
    return f"{header}.{_b64(json.dumps(decoded).encode())}.{signature}"


BAD_LOCAL = [
    "expired",
    "signed by another key under our kid",
    "wrong audience",
    "wrong issuer",
    "alg none",
    "alg none without signature dot",
    "HS256 keyed with our public key",
    "unknown kid",
    "our key under an unknown kid",
    "no kid",
    "garbage",
    "three garbage parts",
    "tampered claims",
    "no exp",
    "no sub",
    "no name",
    "no agency",
    "agency without kind",
    "agency of unknown kind",
    "agency ending in a newline",
    "unknown role",
    "no roles",
    "roles not strings",
    "roles an object",
    "cases not a list",
]


def test_token_when_untrustworthy_then_401_and_nothing_stored(
    client: TestClient, settings: Settings, headers: Headers
) -> None:
    # Given
    tokens = _bad_local_tokens(settings)
    assert sorted(tokens) == sorted(BAD_LOCAL)
    opened = event("CaseOpened")
    case_id = str(uuid.uuid4())

    for label in BAD_LOCAL:
        # When
        response = client.post(
            "/cases",
            json={"case_id": case_id, "events": [opened]},
            headers=bearer(tokens[label]),
        )

        # Then
        assert response.status_code == 401, (label, response.text)
        assert_unauthorised(response)

    assert client.get(f"/cases/{case_id}", headers=headers).status_code == 404
    assert probe(client, headers).status_code == 201


def test_token_when_expired_within_leeway_then_accepted(
    client: TestClient, settings: Settings
) -> None:
    # Given
    private, kid, _ = local_key(settings)
    leeway = settings.jwt_leeway_seconds
    token = jwt.encode(
        claims(settings, exp=int(time.time()) - leeway // 2),
        private,
        algorithm="EdDSA",
        headers={"kid": kid},
    )

    # When
    response = probe(client, bearer(token))

    # Then
    assert response.status_code == 201, response.text


def test_token_when_it_expires_after_being_accepted_then_refused(
    start_app: Callable[..., TestClient], settings: Settings
) -> None:
    # Given a token accepted a second before it expires, with no leeway
    app = start_app(jwt_leeway_seconds=0)
    private, kid, _ = local_key(settings)
    expires = time.time() + 1
    token = jwt.encode(
        claims(settings, exp=math.ceil(expires)), private, algorithm="EdDSA", headers={"kid": kid}
    )
    assert probe(app, bearer(token)).status_code == 201

    # When it has expired
    time.sleep(max(0.0, math.ceil(expires) - time.time()) + 0.2)

    # Then the same token is refused, though it was accepted before
    assert_unauthorised(probe(app, bearer(token)))


# --- a shared HS256 secret ----------------------------------------------------------------


def test_hs256_token_when_signed_with_configured_secret_then_accepted(
    start_app: Callable[..., TestClient], settings: Settings
) -> None:
    # Given
    app = start_app(jwt_secret=SECRET)
    token = jwt.encode(claims(settings, sub="svc-cms", roles=["system"]), SECRET, algorithm="HS256")

    # When
    response = probe(app, bearer(token))

    # Then
    assert response.status_code == 201, response.text
    case_id = response.json()["case_id"]
    (opened,) = app.get(f"/cases/{case_id}/events", headers=bearer(token)).json()["events"]
    assert opened["recorded_by"]["sub"] == "svc-cms"
    assert opened["recorded_by"]["roles"] == ["system"]


def test_hs256_token_when_untrustworthy_then_401(
    start_app: Callable[..., TestClient], settings: Settings
) -> None:
    # Given
    app = start_app(jwt_secret=SECRET)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = {
        "another secret": jwt.encode(claims(settings), "x" * 40, algorithm="HS256"),
        "expired": jwt.encode(
            claims(settings, exp=int(time.time()) - 3600), SECRET, algorithm="HS256"
        ),
        "wrong audience": jwt.encode(claims(settings, aud="other"), SECRET, algorithm="HS256"),
        "wrong issuer": jwt.encode(claims(settings, iss="other"), SECRET, algorithm="HS256"),
        "alg none": unsigned({"alg": "none", "typ": "JWT"}, claims(settings)),
        "RS256 signed": jwt.encode(claims(settings), rsa_key, algorithm="RS256"),
        "no agency": jwt.encode(claims(settings, agency=DROP), SECRET, algorithm="HS256"),
        "unknown role": jwt.encode(claims(settings, roles=["root"]), SECRET, algorithm="HS256"),
        "HS512 with the secret": jwt.encode(claims(settings), SECRET, algorithm="HS512"),
    }

    for label, token in bad.items():
        # When
        response = probe(app, bearer(token))

        # Then
        assert response.status_code == 401, (label, response.text)
        assert_unauthorised(response)


# --- a JWKS file of RS256 keys (rotation) -------------------------------------------------


@pytest.fixture(scope="module")
def rsa_keys() -> dict[str, rsa.RSAPrivateKey]:
    """Three RSA keys: two published in the JWKS, one never published."""
    return {
        kid: rsa.generate_private_key(public_exponent=65537, key_size=2048)
        for kid in ("2026-01", "2026-07", "stranger")
    }


def write_jwks(path: Path, keys: dict[str, rsa.RSAPrivateKey]) -> None:
    published = []
    for kid, key in keys.items():
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        jwk.update(kid=kid, use="sig", alg="RS256")
        published.append(jwk)
    path.write_text(json.dumps({"keys": published}))


def rs256(settings: Settings, key: rsa.RSAPrivateKey, kid: str, **changes: Any) -> str:
    return jwt.encode(claims(settings, **changes), key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def jwks_file(tmp_path: Path, rsa_keys: dict[str, rsa.RSAPrivateKey]) -> Path:
    path = tmp_path / "jwks.json"
    write_jwks(path, {kid: rsa_keys[kid] for kid in ("2026-01", "2026-07")})
    return path


def test_jwks_token_when_signed_by_either_published_key_then_accepted(
    start_app: Callable[..., TestClient],
    settings: Settings,
    jwks_file: Path,
    rsa_keys: dict[str, rsa.RSAPrivateKey],
) -> None:
    # Given
    app = start_app(jwt_jwks_file=jwks_file)

    for kid in ("2026-01", "2026-07"):
        # When
        response = probe(app, bearer(rs256(settings, rsa_keys[kid], kid, sub=f"signed-{kid}")))

        # Then
        assert response.status_code == 201, (kid, response.text)


def test_jwks_token_when_signed_by_unpublished_key_then_401(
    start_app: Callable[..., TestClient],
    settings: Settings,
    jwks_file: Path,
    rsa_keys: dict[str, rsa.RSAPrivateKey],
) -> None:
    # Given
    app = start_app(jwt_jwks_file=jwks_file)
    stranger = rsa_keys["stranger"]
    bad = {
        "its own kid": rs256(settings, stranger, "stranger"),
        "a published kid": rs256(settings, stranger, "2026-01"),
        "no kid": jwt.encode(claims(settings), stranger, algorithm="RS256"),
        "alg none under a published kid": unsigned(
            {"alg": "none", "kid": "2026-01"}, claims(settings)
        ),
        "published key, wrong audience": rs256(
            settings, rsa_keys["2026-01"], "2026-01", aud="other"
        ),
        "published key, expired": rs256(
            settings, rsa_keys["2026-07"], "2026-07", exp=int(time.time()) - 3600
        ),
    }

    for label, token in bad.items():
        # When
        response = probe(app, bearer(token))

        # Then
        assert response.status_code == 401, (label, response.text)
        assert_unauthorised(response)


def test_jwks_when_key_rotated_out_then_its_tokens_refused_without_restart(
    start_app: Callable[..., TestClient],
    settings: Settings,
    jwks_file: Path,
    rsa_keys: dict[str, rsa.RSAPrivateKey],
) -> None:
    # Given
    app = start_app(jwt_jwks_file=jwks_file)
    old = rs256(settings, rsa_keys["2026-01"], "2026-01")
    new = rs256(settings, rsa_keys["2026-07"], "2026-07")
    assert probe(app, bearer(old)).status_code == 201

    # When
    write_jwks(jwks_file, {"2026-07": rsa_keys["2026-07"]})
    later = jwks_file.stat().st_mtime + 5
    os.utime(jwks_file, (later, later))

    # Then
    assert_unauthorised(probe(app, bearer(old)))
    assert probe(app, bearer(new)).status_code == 201
