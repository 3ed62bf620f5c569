"""Encryption at rest: `CASETRAIL_ENCRYPTION_KEY` encrypts stored events with the library's AES-GCM.

With a key, a case reads back over HTTP exactly as without one, while its payloads appear nowhere
in the store's bytes (the SQLite files, every table of the PostgreSQL schema); `verify` and the
seal work the same. An app given another key, or none, over an encrypted store cannot read it and
says so (an error, never different data). A key that is not base64 AES is refused at
construction, and the key is never shown: not in errors, not in the settings' repr.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest
from eventsourcing.cryptography import AESCipher
from eventsourcing.utils import resolve_topic
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from service.api.app import create_app
from service.clock import SettableClock
from service.errors import UnreadableStore
from service.integrity import (
    check_seal,
    load_public_key,
    make_seal,
    public_key_path,
    run_verify,
    seal,
    verify_case,
)
from service.records import CaseRecords
from service.settings import Settings
from tests.conftest import POSTGRES_URL, Headers
from tests.support import LOCAL_AUTHORITY, append, event, payload

ROOT = Path(__file__).resolve().parents[2]

# Distinctive strings that live only in payloads: the child's name, and a case note.
CHILD_NAME = "Philippa Quennell-Ashworth"
NOTE = "Zebedee showed the bruise on his arm"
SECRETS = (CHILD_NAME.encode(), NOTE.encode())


def key(num_bytes: int = 32) -> str:
    return AESCipher.create_key(num_bytes)


def headers(client: TestClient) -> Headers:
    """A practitioner of the owning children's social care."""
    tokens = client.app.state.tokens  # type: ignore[attr-defined]
    jwt = tokens.mint(
        sub="ann.worker",
        name="Ann Worker",
        agency=LOCAL_AUTHORITY,
        roles=["practitioner"],
        cases=None,
    )
    return {"Authorization": f"Bearer {jwt}"}


def batches() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """An opening batch naming the child, and a later batch with a case note (fixed ids)."""
    child = {**payload("CaseOpened")["child"], "name": CHILD_NAME}
    opening = [
        event("CaseOpened", "2024-05-13", data=payload("CaseOpened", child=child)),
        event("ContactReceived", "2024-05-13"),
    ]
    later = [
        event("CaseNoteRecorded", "2024-05-14", data={"kind": "home visit", "text": NOTE}),
        event("CaseNoteRecorded", "2024-05-15"),
    ]
    return opening, later


def post_case(
    client: TestClient, opening: list[dict[str, Any]], later: list[dict[str, Any]]
) -> str:
    """Open the case with `opening`, append `later`; returns the case id."""
    h = headers(client)
    opened = client.post("/cases", json={"events": opening}, headers=h)
    assert opened.status_code == 201, opened.text
    case_id = str(opened.json()["case_id"])
    appended = append(client, h, case_id, *later)
    assert appended.status_code == 201, appended.text
    return case_id


def views(client: TestClient, case_id: str) -> dict[str, Any]:
    """Everything a reader sees of the case: state, chronologies (JSON and CSV), raw events."""
    h = headers(client)
    found = {}
    for name, path in {
        "state": f"/cases/{case_id}",
        "chronology": f"/cases/{case_id}/chronology?min_significance=routine",
        "chronology csv": f"/cases/{case_id}/chronology?min_significance=routine&format=csv",
        "events": f"/cases/{case_id}/events",
    }.items():
        response = client.get(path, headers=h)
        assert response.status_code == 200, response.text
        found[name] = (response.headers.get("etag"), response.text)
    return found


def encrypted(settings: Settings, cipher_key: str | None = None) -> Settings:
    """The same store, its events encrypted with `cipher_key` (a fresh key by default)."""
    return settings.model_copy(update={"encryption_key": SecretStr(cipher_key or key())})


@pytest.fixture
def other_store(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """A second, empty store of the same kind (another data directory; another schema)."""
    if not settings.is_postgres:
        yield settings.model_copy(update={"data_dir": tmp_path / "other"})
        return
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield settings.model_copy(update={"data_dir": tmp_path / "other", "postgres_schema": schema})
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


# --- what the store holds, read behind the service's back ------------------------------------


def stored_bytes(settings: Settings) -> bytes:
    """Every byte the store holds: each file of the data directory (the SQLite log, its WAL, the
    audit, keys), and on PostgreSQL every value of every table in the schema."""
    chunks = [p.read_bytes() for p in sorted(settings.data_dir.rglob("*")) if p.is_file()]
    if settings.is_postgres:
        import psycopg
        from psycopg.sql import SQL, Identifier

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                    (settings.postgres_schema,),
                ).fetchall()
            ]
            assert "caserecords_events" in tables
            for table in tables:
                query = SQL("SELECT * FROM {}.{}").format(
                    Identifier(settings.postgres_schema), Identifier(table)
                )
                for row in conn.execute(query).fetchall():
                    chunks.extend(_as_bytes(value) for value in row)
    return b"\n".join(chunks)


def _as_bytes(value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, default=str).encode()


def event_states(settings: Settings) -> list[bytes]:
    """The `state` of every stored event (the SQLite `stored_events` table, or the PostgreSQL
    `caserecords_events` one)."""
    if settings.is_postgres:
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            rows = conn.execute(
                f'SELECT state FROM "{settings.postgres_schema}".caserecords_events'
            ).fetchall()
    else:
        import sqlite3

        with sqlite3.connect(settings.sqlite_path) as db:
            rows = db.execute("SELECT state FROM stored_events").fetchall()
    return [bytes(row[0]) for row in rows]


# --- the setting ------------------------------------------------------------------------------


def test_setting_when_unset_then_nothing_is_encrypted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no CASETRAIL_ENCRYPTION_KEY, but a stray CIPHER_KEY in the process environment
    monkeypatch.setenv("CIPHER_KEY", key())
    settings = Settings(data_dir=tmp_path)
    # Then encryption is off, and the library builds no cipher from the stray variable
    assert not settings.encrypted
    assert settings.library_environment()["CIPHER_TOPIC"] == ""
    records = CaseRecords(settings)
    try:
        assert records.mapper.cipher is None
    finally:
        records.close()


@pytest.mark.parametrize("num_bytes", [16, 24, 32])
def test_setting_when_set_then_the_library_uses_its_aes_gcm_cipher_with_that_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, num_bytes: int
) -> None:
    # Given a base64 AES key of 16, 24 or 32 bytes, from the environment like `serve` reads it
    cipher_key = key(num_bytes)
    monkeypatch.setenv("CASETRAIL_ENCRYPTION_KEY", cipher_key + "\n")  # as an env file might
    settings = Settings(data_dir=tmp_path)
    # Then the library's environment names the `cryptography`-based AES-GCM cipher and the key
    env = settings.library_environment()
    assert env["CIPHER_TOPIC"] == "eventsourcing.cryptography:AESCipher"
    assert resolve_topic(env["CIPHER_TOPIC"]) is AESCipher
    assert env["CIPHER_KEY"] == cipher_key
    records = CaseRecords(settings)
    try:
        assert type(records.mapper.cipher) is AESCipher
        assert len(records.mapper.cipher.key) == num_bytes
    finally:
        records.close()
    # And the key is never shown: not in the repr, the str, nor a JSON dump of the settings
    for shown in (repr(settings), str(settings), settings.model_dump_json()):
        assert cipher_key not in shown


BAD_KEYS = {
    "not base64": ("this is not a key!", "not valid base64"),
    "15 bytes": (base64.b64encode(AESCipher.random_bytes(15)).decode(), "decodes to 15 bytes"),
    "33 bytes": (base64.b64encode(AESCipher.random_bytes(33)).decode(), "decodes to 33 bytes"),
    "url-safe alphabet": (base64.urlsafe_b64encode(b"\xfb\xff" * 8).decode(), "not valid base64"),
}


@pytest.mark.parametrize("bad", BAD_KEYS.values(), ids=list(BAD_KEYS))
def test_setting_when_not_an_aes_key_then_refused_without_showing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: tuple[str, str]
) -> None:
    text, why = bad
    # When the settings are made with it, directly or from the environment
    with pytest.raises(ValidationError) as direct:
        Settings(data_dir=tmp_path, encryption_key=text)
    monkeypatch.setenv("CASETRAIL_ENCRYPTION_KEY", text)
    with pytest.raises(ValidationError) as from_env:
        Settings(data_dir=tmp_path)
    # Then they are refused, saying which setting and why, and how to make a key, never the key
    for refused in (direct.value, from_env.value):
        message = str(refused)
        assert "CASETRAIL_ENCRYPTION_KEY" in message
        assert why in message
        assert "openssl rand -base64 32" in message
        assert text not in message
        assert text not in repr(refused)


def test_setting_when_copied_with_a_bad_key_then_the_log_refuses_to_start(
    settings: Settings,
) -> None:
    # Given settings copied with a bad key (model_copy does not validate)
    bad = "dG9vIHNob3J0"  # base64 of 9 bytes
    copied = settings.model_copy(update={"encryption_key": SecretStr(bad)})
    # When the log starts with them, then it refuses, without showing the key
    with pytest.raises(ValueError, match="decodes to 9 bytes") as refused:
        CaseRecords(copied)
    assert bad not in str(refused.value)


def test_setting_when_not_an_aes_key_then_the_cli_fails_at_start_without_showing_it(
    tmp_path: Path,
) -> None:
    # Given a key of the wrong length in the environment `casetrail` reads
    bad = key(32)[:-4] + "AA=="  # still base64, now 31 bytes
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASETRAIL_")}
    env.update(CASETRAIL_DATA_DIR=str(tmp_path / "data"), CASETRAIL_ENCRYPTION_KEY=bad)
    env["COLUMNS"] = "200"  # the traceback's width: keep the message on one line
    # When a command starts
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "verify"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # Then it fails with the reason, and the key appears in none of its output
    assert done.returncode != 0
    assert "CASETRAIL_ENCRYPTION_KEY decodes to 31 bytes" in done.stderr
    assert bad not in done.stderr + done.stdout
    assert not (tmp_path / "data" / "casetrail.db").exists()


# --- with a key -------------------------------------------------------------------------------


def test_encrypted_when_read_back_then_exactly_as_without_encryption(
    settings: Settings, other_store: Settings, clock: SettableClock
) -> None:
    # Given the same batches posted to a store without encryption and to one with it
    opening, later = batches()
    with TestClient(create_app(settings, clock)) as plain:
        plain_case = post_case(plain, opening, later)
        expected = views(plain, plain_case)
    with TestClient(create_app(encrypted(other_store), clock)) as client:
        case_id = post_case(client, opening, later)
        # When the case is read back over HTTP
        found = views(client, case_id)
    # Then state, chronology (JSON and CSV) and raw events are byte for byte the same, ETags too
    assert case_id == plain_case
    assert found == expected
    assert CHILD_NAME in found["state"][1]
    assert NOTE in found["events"][1]


def test_encrypted_when_stored_then_payloads_are_nowhere_in_the_store_in_clear(
    settings: Settings, other_store: Settings, clock: SettableClock
) -> None:
    # Given the same case stored without encryption, and with it (snapshots too); no projection
    # runner, so nothing is copied into the read models, which the key does not cover (README:
    # "What is not encrypted") and which a runner fills at its own moment
    opening, later = batches()
    with_key = encrypted(other_store).model_copy(
        update={"snapshot_interval": 2, "projections_in_process": False}
    )
    for store in (settings, with_key):
        with TestClient(create_app(store, clock)) as client:
            case_id = post_case(client, opening, later)
            assert CHILD_NAME in client.get(f"/cases/{case_id}", headers=headers(client)).text
    # Then without encryption the payloads are in the events' stored state in clear
    plain_states = event_states(settings)
    assert len(plain_states) == len(opening) + len(later)
    for secret in SECRETS:
        assert any(secret in state for state in plain_states)
    # And with it they are in no event's state, nor anywhere else the store holds bytes
    states = event_states(with_key)
    assert len(states) == len(opening) + len(later)
    everything = stored_bytes(with_key)
    for secret in SECRETS:
        assert not any(secret in state for state in states)
        assert secret not in everything
    # Every state is AES-GCM ciphertext: not JSON, and what is stored differs from the plain one
    for state in states:
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(state)
    assert not set(states) & set(plain_states)


def test_encrypted_when_verified_and_sealed_then_the_same_as_without(
    settings: Settings, clock: SettableClock, tmp_path: Path
) -> None:
    # Given an encrypted store with a case
    with TestClient(create_app(encrypted(settings), clock)) as client:
        case_id = post_case(client, *batches())
        records: CaseRecords = client.app.state.records  # type: ignore[attr-defined]
        # When the case is verified, over HTTP and directly
        response = client.get(f"/cases/{case_id}/verify", headers=headers(client))
        # Then every version checks
        assert response.status_code == 200, response.text
        assert response.json()["ok"] is True
        assert response.json()["checked"] == 4
        assert verify_case(records, UUID(case_id)).model_dump(mode="json") == response.json()
        # And a seal is made, and checks against the store with the public key alone
        signing_key = tmp_path / "keys" / "seal-signing-key.pem"
        document = seal(records, signing_key)
        assert document["cases"][case_id]["version"] == 4
        public = load_public_key(public_key_path(signing_key))
        check = check_seal(records, document, public)
        assert check.ok, check
        assert check.findings == []
        # And the seal still catches a case cut short behind the service's back
        _delete_newest(settings, case_id)
        truncated = check_seal(records, document, public)
        assert not truncated.ok
        # (and the event-id index row the deletion left behind, which names no stored event)
        assert {f.kind for f in truncated.findings} == {"truncated", "position", "unindexed"}
        assert all(v.ok for v in truncated.verifications)  # the chain alone cannot show it


def _delete_newest(settings: Settings, case_id: str) -> None:
    if settings.is_postgres:
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(
                f'DELETE FROM "{settings.postgres_schema}".caserecords_events '
                "WHERE originator_id = %s AND originator_version = 4",
                (UUID(case_id),),
            )
    else:
        import sqlite3

        with sqlite3.connect(settings.sqlite_path) as db:
            db.execute(
                "DELETE FROM stored_events WHERE originator_id = ? AND originator_version = 4",
                (UUID(case_id).hex,),
            )


def test_encrypted_when_a_ciphertext_byte_changes_then_verify_reports_that_version(
    settings: Settings, clock: SettableClock
) -> None:
    # Given an encrypted case whose third version's ciphertext has one byte flipped
    with TestClient(create_app(encrypted(settings), clock)) as client:
        case_id = post_case(client, *batches())
        records: CaseRecords = client.app.state.records  # type: ignore[attr-defined]
        _flip_last_byte(settings, case_id, version=3)
        # When the case is verified, then AES-GCM's tag makes that version the first bad one
        verification = verify_case(records, UUID(case_id))
    assert not verification.ok
    assert verification.first_bad_version == 3
    assert verification.reason == "entry at version 3 cannot be decoded"


def _flip_last_byte(settings: Settings, case_id: str, *, version: int) -> None:
    def flipped(state: bytes) -> bytes:
        return state[:-1] + bytes([state[-1] ^ 0x01])

    if settings.is_postgres:
        import psycopg

        table = f'"{settings.postgres_schema}".caserecords_events'
        where = "WHERE originator_id = %s AND originator_version = %s"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            row = conn.execute(
                f"SELECT state FROM {table} {where}", (UUID(case_id), version)
            ).fetchone()
            assert row is not None
            conn.execute(
                f"UPDATE {table} SET state = %s {where}",
                (flipped(bytes(row[0])), UUID(case_id), version),
            )
    else:
        import sqlite3

        where = "WHERE originator_id = ? AND originator_version = ?"
        with sqlite3.connect(settings.sqlite_path) as db:
            (state,) = db.execute(
                f"SELECT state FROM stored_events {where}", (UUID(case_id).hex, version)
            ).fetchone()
            db.execute(
                f"UPDATE stored_events SET state = ? {where}",
                (flipped(bytes(state)), UUID(case_id).hex, version),
            )


# --- with another key, or none ------------------------------------------------------------------


# What an app that cannot decrypt the store raises, from CaseRecords.decode, wherever it reads:
# the access decision of every case route (Gatekeeper.read / check_write → known_events).
@pytest.mark.parametrize("reader", ["another key", "no key"])
def test_encrypted_when_opened_with_another_key_or_none_then_refuses_to_start(
    settings: Settings, clock: SettableClock, reader: str
) -> None:
    # Given a case stored encrypted
    with_key = encrypted(settings)
    with TestClient(create_app(with_key, clock)) as client:
        case_id = post_case(client, *batches())
        expected = views(client, case_id)
    other = encrypted(settings) if reader == "another key" else settings

    # When a service starts with another key (or none)
    # Then it refuses to start, saying which setting to check (and not the key)
    with pytest.raises(UnreadableStore, match="CASETRAIL_ENCRYPTION_KEY") as refused:
        create_app(other, clock)
    assert with_key.encryption_key.get_secret_value() not in str(refused.value)

    # And nothing was written under the other key: with the right one the case is as it was
    with TestClient(create_app(with_key, clock)) as client:
        assert views(client, case_id) == expected


def test_encrypted_when_a_row_cannot_be_decrypted_then_503_problem_naming_nothing(
    settings: Settings, clock: SettableClock
) -> None:
    # Given an encrypted case whose first stored row has been damaged (its ciphertext altered)
    with_key = encrypted(settings)
    app = create_app(with_key, clock)
    with TestClient(app) as client:
        case_id = post_case(client, *batches())
        records: CaseRecords = app.state.records
        original = records.decode
        first = records.index.case_rows(UUID(case_id), limit=1)[0].state

        def damaged(state: bytes) -> dict[str, Any]:
            return original(state[:-1] + bytes([state[-1] ^ 1]) if state == first else state)

        records.decode = damaged  # type: ignore[method-assign]
        records.event_cache = type(records.event_cache)(records.event_cache.max_events)

        # When the case is read
        response = client.get(f"/cases/{case_id}", headers=headers(client))

        # Then the answer is a 503 problem that names nothing of the case
        assert response.status_code == 503
        assert response.json()["type"] == "urn:casetrail:problem:store-unreadable"
        assert CHILD_NAME not in response.text


@pytest.mark.parametrize("reader", ["another key", "no key"])
def test_encrypted_when_verified_or_sealed_with_another_key_or_none_then_says_so(
    settings: Settings, clock: SettableClock, reader: str
) -> None:
    # Given a case stored encrypted
    with_key = encrypted(settings)
    with TestClient(create_app(with_key, clock)) as client:
        post_case(client, *batches())
    other = encrypted(settings) if reader == "another key" else settings

    # When `casetrail verify` runs with another key (or none)
    lines, ok = run_verify(other)

    # Then it fails, and says first which setting to check, before the versions it cannot read
    assert not ok
    assert "CASETRAIL_ENCRYPTION_KEY" in lines[0]
    assert any("cannot be decoded" in line for line in lines[1:])

    # And `casetrail seal` refuses, with the same reason, and writes no seal
    with pytest.raises(UnreadableStore, match="CASETRAIL_ENCRYPTION_KEY"):
        make_seal(other)
    assert not (other.data_dir / "seals").exists()
    assert with_key.encryption_key.get_secret_value() not in "\n".join(lines)
