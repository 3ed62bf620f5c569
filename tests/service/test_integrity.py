"""Tamper evidence: `verify` recomputes every chain from the stored rows; a seal catches the rest.

Every tamper goes behind the service's back, straight at the store: the SQLite file through the
`sqlite3` module (the `stored_events` table), or the PostgreSQL schema through psycopg
(`<schema>.caserecords_events`). A row's `state` is the library's event as JSON bytes, with the
entry under "entry". The app stays open while the rows change, so reads it cached (the event
cache, the aggregate cache) must not hide anything: verification reads the stored rows fresh.

`verify` catches what breaks a chain: a changed payload byte, a deleted middle row, two rows'
states swapped — each as the first bad version, with its own reason. A chain cannot show what was
cut off its end, a case deleted whole (with their rows in the event-id index, which `verify`
checks against the log), or a store rewritten with every hash recomputed: `verify` passes for
each, and `verify --seal` (public key only) catches each.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from domain.envelope import GENESIS, chain_hash, client_digest
from service.cli import app as command_line
from service.integrity import (
    SealError,
    check_seal,
    load_public_key,
    public_key_path,
    seal,
    unindexed_line,
    verify_case,
    verify_store,
)
from service.records import CaseRecords
from service.settings import Settings
from tests.conftest import POSTGRES_URL, Headers
from tests.support import append, event, open_case

ROOT = Path(__file__).resolve().parents[2]
NOTES = ["First visit arranged", "Home visit: Amy seen alone", "Mum rang about Tuesday", "School"]
VERSIONS = 1 + len(NOTES)


# --- the store, behind the service's back --------------------------------------------------


class Log:
    """Direct access to the stored rows of the log."""

    # Whether the event-id index holds each event's case, version, type and digest (else only
    # its position, the rest read from the event there).
    keeps_index_facts = True

    def states(self, case_id: str) -> dict[int, bytes]:
        raise NotImplementedError

    def set_state(self, case_id: str, version: int, state: bytes) -> None:
        raise NotImplementedError

    def set_topic(self, case_id: str, version: int, topic: str) -> None:
        """Store the row as another class of the library's events (its state kept)."""
        raise NotImplementedError

    def delete(self, case_id: str, version: int | None = None) -> None:
        """Delete one row of the case, or (no version) the whole case."""
        raise NotImplementedError

    def insert_copy(
        self, case_id: str, version: int, originator_id: str, as_version: object
    ) -> None:
        """Insert a copy of one row of the case under `originator_id` (any text) and another
        version (on SQLite, any value its column holds)."""
        raise NotImplementedError

    def snapshots(self, case_id: str) -> dict[int, bytes]:
        """The states of the case's stored snapshots, by version."""
        raise NotImplementedError

    def unindex(self, case_id: str, *versions: int) -> None:
        """Delete the event-id index rows of the case's events at `versions`."""
        raise NotImplementedError

    def set_indexed_type(self, case_id: str, version: int, event_type: str) -> None:
        """Change the type the event-id index holds for the case's event at `version`."""
        raise NotImplementedError

    def set_indexed_position(self, case_id: str, version: int, position: int) -> None:
        """Change the position the event-id index holds for the case's event at `version`."""
        raise NotImplementedError

    def set_indexed_digest(self, case_id: str, version: int, digest: str) -> None:
        """Change the digest of what the client sent, which the event-id index holds for the
        case's event at `version` (what a resent event is judged a replay by)."""
        raise NotImplementedError

    def index(self, event_id: str, case_id: str, version: int, position: int) -> None:
        """Add a row to the event-id index."""
        raise NotImplementedError

    def set_snapshot(self, case_id: str, version: int, state: bytes) -> None:
        """Store a snapshot of the case at `version` (replacing one there)."""
        raise NotImplementedError

    # Tampers built on those.

    def erase(self, case_id: str, version: int | None = None) -> None:
        """Delete one row of the case, or the whole case, with its event-id index rows: nothing
        of it is left in the store."""
        versions = [version] if version is not None else sorted(self.states(case_id))
        self.unindex(case_id, *versions)
        self.delete(case_id, version)

    def forge_snapshot(self, case_id: str, version: int, change: Callable[[Any], None]) -> None:
        """Edit the state of the case's snapshot at `version` (every other field kept)."""
        document = orjson.loads(self.snapshots(case_id)[version])
        change(document["state"])
        self.set_snapshot(case_id, version, orjson.dumps(document))

    def change_byte(self, case_id: str, version: int, old: bytes, new: bytes) -> None:
        state = self.states(case_id)[version]
        assert state.count(old) == 1 and len(old) == len(new)
        self.set_state(case_id, version, state.replace(old, new))

    def swap(self, case_id: str, a: int, b: int) -> None:
        states = self.states(case_id)
        self.set_state(case_id, a, states[b])
        self.set_state(case_id, b, states[a])

    def rewrite(self, case_id: str, version: int, change: Callable[[dict[str, Any]], None]) -> None:
        """Edit one entry, then recompute every hash from there on, and its digest in the
        event-id index: a consistent forgery."""
        states = self.states(case_id)
        prev = GENESIS if version == 1 else orjson.loads(states[version - 1])["entry"]["hash"]
        for v in range(version, max(states) + 1):
            document = orjson.loads(states[v])
            entry = document["entry"]
            if v == version:
                change(entry)
                if self.keeps_index_facts:
                    self.set_indexed_digest(case_id, v, client_digest(entry))
            entry["hash"] = chain_hash(UUID(case_id), v, entry, prev)
            prev = entry["hash"]
            self.set_state(case_id, v, orjson.dumps(document))


class SQLiteLog(Log):
    keeps_index_facts = False

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def states(self, case_id: str) -> dict[int, bytes]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT originator_version, state FROM stored_events WHERE originator_id=?",
                (UUID(case_id).hex,),
            ).fetchall()
        return {version: bytes(state) for version, state in rows}

    def set_state(self, case_id: str, version: int, state: bytes) -> None:
        with self._connect() as db:
            changed = db.execute(
                "UPDATE stored_events SET state=? WHERE originator_id=? AND originator_version=?",
                (state, UUID(case_id).hex, version),
            ).rowcount
        assert changed == 1

    def set_topic(self, case_id: str, version: int, topic: str) -> None:
        with self._connect() as db:
            changed = db.execute(
                "UPDATE stored_events SET topic=? WHERE originator_id=? AND originator_version=?",
                (topic, UUID(case_id).hex, version),
            ).rowcount
        assert changed == 1

    def delete(self, case_id: str, version: int | None = None) -> None:
        with self._connect() as db:
            if version is None:
                db.execute("DELETE FROM stored_events WHERE originator_id=?", (UUID(case_id).hex,))
            else:
                db.execute(
                    "DELETE FROM stored_events WHERE originator_id=? AND originator_version=?",
                    (UUID(case_id).hex, version),
                )

    def snapshots(self, case_id: str) -> dict[int, bytes]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT originator_version, state FROM stored_snapshots WHERE originator_id=?",
                (UUID(case_id).hex,),
            ).fetchall()
        return {version: bytes(state) for version, state in rows}

    def set_snapshot(self, case_id: str, version: int, state: bytes) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO stored_snapshots VALUES (?, ?, ?, ?)",
                (UUID(case_id).hex, version, "eventsourcing.domain:Snapshot", state),
            )

    def unindex(self, case_id: str, *versions: int) -> None:
        with self._connect() as db:
            for version in versions:
                changed = db.execute(
                    "DELETE FROM casetrail_event_positions WHERE position = (SELECT rowid FROM "
                    "stored_events WHERE originator_id=? AND originator_version=?)",
                    (UUID(case_id).hex, version),
                ).rowcount
                assert changed == 1

    def set_indexed_position(self, case_id: str, version: int, position: int) -> None:
        with self._connect() as db:
            changed = db.execute(
                "UPDATE casetrail_event_positions SET position=? WHERE position = (SELECT rowid "
                "FROM stored_events WHERE originator_id=? AND originator_version=?)",
                (position, UUID(case_id).hex, version),
            ).rowcount
        assert changed == 1

    def index(self, event_id: str, case_id: str, version: int, position: int) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO casetrail_event_positions VALUES (?, ?)",
                (UUID(event_id).bytes, position),
            )

    def insert_copy(
        self, case_id: str, version: int, originator_id: str, as_version: object
    ) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO stored_events (originator_id, originator_version, topic, state) "
                "SELECT ?, ?, topic, state FROM stored_events "
                "WHERE originator_id=? AND originator_version=?",
                (originator_id, as_version, UUID(case_id).hex, version),
            )


class PostgresLog(Log):
    def __init__(self, schema: str) -> None:
        self.table = f'"{schema}".caserecords_events'
        self.snapshot_table = f'"{schema}".caserecords_snapshots'
        self.index_table = f'"{schema}".caserecords_events_ids'

    def snapshots(self, case_id: str) -> dict[int, bytes]:
        rows = self._run(
            f"SELECT originator_version, state FROM {self.snapshot_table} WHERE originator_id=%s",
            (UUID(case_id),),
        )
        return {version: bytes(state) for version, state in rows}

    def set_snapshot(self, case_id: str, version: int, state: bytes) -> None:
        self._run(
            f"INSERT INTO {self.snapshot_table} VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (originator_id, originator_version) DO UPDATE SET state = EXCLUDED.state",
            (UUID(case_id), version, "eventsourcing.domain:Snapshot", state),
        )

    def _run(self, statement: str, params: tuple[Any, ...]) -> Any:
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            cursor = conn.execute(statement.format(table=self.table), params)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else cursor.rowcount

    def states(self, case_id: str) -> dict[int, bytes]:
        rows = self._run(
            "SELECT originator_version, state FROM {table} WHERE originator_id=%s",
            (UUID(case_id),),
        )
        return {version: bytes(state) for version, state in rows}

    def set_state(self, case_id: str, version: int, state: bytes) -> None:
        changed = self._run(
            "UPDATE {table} SET state=%s WHERE originator_id=%s AND originator_version=%s",
            (state, UUID(case_id), version),
        )
        assert changed == 1

    def set_topic(self, case_id: str, version: int, topic: str) -> None:
        changed = self._run(
            "UPDATE {table} SET topic=%s WHERE originator_id=%s AND originator_version=%s",
            (topic, UUID(case_id), version),
        )
        assert changed == 1

    def delete(self, case_id: str, version: int | None = None) -> None:
        if version is None:
            self._run("DELETE FROM {table} WHERE originator_id=%s", (UUID(case_id),))
        else:
            self._run(
                "DELETE FROM {table} WHERE originator_id=%s AND originator_version=%s",
                (UUID(case_id), version),
            )

    def unindex(self, case_id: str, *versions: int) -> None:
        for version in versions:
            changed = self._run(
                f"DELETE FROM {self.index_table} WHERE case_id=%s AND version=%s",
                (UUID(case_id), version),
            )
            assert changed == 1

    def set_indexed_type(self, case_id: str, version: int, event_type: str) -> None:
        changed = self._run(
            f"UPDATE {self.index_table} SET type=%s WHERE case_id=%s AND version=%s",
            (event_type, UUID(case_id), version),
        )
        assert changed == 1

    def set_indexed_digest(self, case_id: str, version: int, digest: str) -> None:
        changed = self._run(
            f"UPDATE {self.index_table} SET digest=%s WHERE case_id=%s AND version=%s",
            (digest, UUID(case_id), version),
        )
        assert changed == 1

    def set_indexed_position(self, case_id: str, version: int, position: int) -> None:
        changed = self._run(
            f"UPDATE {self.index_table} SET position=%s WHERE case_id=%s AND version=%s",
            (position, UUID(case_id), version),
        )
        assert changed == 1

    def index(self, event_id: str, case_id: str, version: int, position: int) -> None:
        self._run(
            f"INSERT INTO {self.index_table} VALUES (%s, %s, %s, 'CaseNoteRecorded', %s, '')",
            (event_id, UUID(case_id), version, position),
        )

    def insert_copy(
        self, case_id: str, version: int, originator_id: str, as_version: object
    ) -> None:
        self._run(
            "INSERT INTO {table} (originator_id, originator_version, topic, state) "
            "SELECT %s::uuid, %s, topic, state FROM {table} "
            "WHERE originator_id=%s AND originator_version=%s",
            (originator_id, as_version, UUID(case_id), version),
        )


@pytest.fixture
def log(settings: Settings) -> Log:
    if settings.is_postgres:
        return PostgresLog(settings.postgres_schema)
    return SQLiteLog(settings.sqlite_path)


@pytest.fixture
def records(client: TestClient) -> CaseRecords:
    app_records: CaseRecords = client.app.state.records  # type: ignore[attr-defined]
    return app_records


@pytest.fixture
def new_case(client: TestClient, headers: Headers) -> Callable[[], str]:
    """Open a case with five versions: CaseOpened and four case notes, in two batches."""

    def make() -> str:
        notes = [event("CaseNoteRecorded", data={"kind": "note", "text": text}) for text in NOTES]
        case_id, _ = open_case(client, headers, *notes[:2])
        response = append(client, headers, case_id, *notes[2:])
        assert response.status_code == 201, response.text
        return case_id

    return make


@pytest.fixture
def case_id(new_case: Callable[[], str], client: TestClient, headers: Headers) -> str:
    """A five-version case, read once so the app's event cache holds it before any tamper."""
    made = new_case()
    assert client.get(f"/cases/{made}/chronology", headers=headers).status_code == 200
    return made


def cli(
    settings: Settings, *args: str, seal_key: Path | None = None, own_process: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run `casetrail ARGS`, configured like `serve` by the environment (no other `CASETRAIL_`
    setting): through typer's runner in this process, or (`own_process`) as `python -m
    service.cli` in a fresh one, the way an operator runs it. Each command opens the store
    anew either way, so what the app in this process has cached hides nothing from it."""
    chosen = {"CASETRAIL_DATA_DIR": str(settings.data_dir)}
    if settings.database_url_text:
        chosen["CASETRAIL_DATABASE_URL"] = settings.database_url_text
        chosen["CASETRAIL_POSTGRES_SCHEMA"] = settings.postgres_schema
    if seal_key is not None:
        chosen["CASETRAIL_SEAL_KEY_PATH"] = str(seal_key)
    if own_process:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("CASETRAIL_")}
        return subprocess.run(
            [sys.executable, "-m", "service.cli", *args],
            env={**inherited, **chosen},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    # (the runner sets the variables given, and unsets those given as None, for the command)
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("CASETRAIL_")}
    result = CliRunner().invoke(command_line, list(args), env={**unset, **chosen})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


# --- verify: what breaks a chain -------------------------------------------------------------


def test_verify_when_untouched_then_every_version_checks(
    client: TestClient, headers: Headers, records: CaseRecords, case_id: str
) -> None:
    # Given a five-version case nobody touched
    # When it is verified over HTTP and directly
    response = client.get(f"/cases/{case_id}/verify", headers=headers)
    # Then every version checks
    assert response.status_code == 200, response.text
    assert response.json() == {
        "case_id": case_id,
        "ok": True,
        "checked": VERSIONS,
        "first_bad_version": None,
        "reason": None,
    }
    assert verify_case(records, UUID(case_id)).model_dump(mode="json") == response.json()


# (tamper, first bad version, reason)
TAMPERS: dict[str, tuple[Callable[[Log, str], None], int, str]] = {
    "payload byte changed": (
        lambda log, case: log.change_byte(case, 3, b"Amy seen alone", b"Amy seen along"),
        3,
        "payload or envelope changed at version 3",
    ),
    "middle row deleted": (
        lambda log, case: log.delete(case, 3),
        3,
        "version 3 missing",
    ),
    "two rows swapped": (
        lambda log, case: log.swap(case, 2, 4),
        2,
        "order broken at version 2: its entry is stored at version 4",
    ),
    # Every hash recomputed: a forgery made to look known years before it was written.
    "newest entry back-dated": (
        lambda log, case: log.rewrite(
            case, VERSIONS, lambda entry: entry.update(recorded_at="2010-01-05T09:00:00.000000Z")
        ),
        VERSIONS,
        f"entry at version {VERSIONS} recorded at 2010-01-05T09:00:00.000000Z, before version "
        f"{VERSIONS - 1} was",
    ),
}


@pytest.mark.parametrize("tamper", list(TAMPERS))
def test_verify_when_chain_tampered_then_first_bad_version_and_why(
    client: TestClient,
    headers: Headers,
    records: CaseRecords,
    log: Log,
    case_id: str,
    tamper: str,
) -> None:
    # Given a case whose stored rows were tampered with, after the app cached its events
    change, version, reason = TAMPERS[tamper]
    change(log, case_id)
    # When it is verified over HTTP
    response = client.get(f"/cases/{case_id}/verify", headers=headers)
    # Then the first bad version is reported, with why
    assert response.status_code == 200, response.text
    assert response.json() == {
        "case_id": case_id,
        "ok": False,
        "checked": version - 1,
        "first_bad_version": version,
        "reason": reason,
    }
    # And the use case agrees
    assert verify_case(records, UUID(case_id)).model_dump(mode="json") == response.json()


# (damage, the finding): neither lets the case's aggregate be loaded
DAMAGE: dict[str, tuple[Callable[[Log, str], None], str]] = {
    "middle row deleted": (lambda log, case: log.delete(case, 3), "version 3 missing"),
    "row not an entry": (
        lambda log, case: log.set_state(case, 4, b"\x00not json"),
        "entry at version 4 cannot be decoded",
    ),
    "a later row stored as an opening": (
        lambda log, case: log.set_topic(case, 4, "domain.case:Case.Opened"),
        "entry at version 4 cannot be decoded",
    ),
    "the opening stored as a later entry": (
        lambda log, case: log.set_topic(case, 1, "domain.case:Case.Recorded"),
        "entry at version 1 cannot be decoded",
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_verify_over_http_when_case_damaged_and_not_cached_then_the_report(
    start_app: Callable[..., TestClient],
    token: Callable[..., Headers],
    headers: Headers,
    log: Log,
    new_case: Callable[[], str],
    damage: str,
) -> None:
    # Given a case damaged in the store, read by a service started afterwards (nothing cached)
    change, reason = DAMAGE[damage]
    case_id = new_case()
    change(log, case_id)
    client = start_app()
    # When its owning authority asks for its verification
    response = client.get(f"/cases/{case_id}/verify", headers=headers)
    # Then the answer is the report, naming the damage
    assert response.status_code == 200, response.text
    assert response.json()["ok"] is False
    assert response.json()["reason"] == reason
    # And another authority still cannot see the case
    other = client.get(f"/cases/{case_id}/verify", headers=token(agency="csc:wessex"))
    assert other.status_code == 404, other.text
    # And a reviewer given the case can verify it
    reviewer = token(agency="other:ofsted", roles=("reviewer",), cases=[case_id])
    assert client.get(f"/cases/{case_id}/verify", headers=reviewer).status_code == 200
    # And the case's other views say the store cannot be read, never a server error
    for view in ("", "/chronology", "/events"):
        answer = client.get(f"/cases/{case_id}{view}", headers=headers)
        assert answer.status_code == 503, answer.text
        assert answer.json()["type"] == "urn:casetrail:problem:store-unreadable"


def test_verify_over_http_when_opening_corrected_to_another_owner_then_owner_from_entries(
    client: TestClient,
    start_app: Callable[..., TestClient],
    token: Callable[..., Headers],
    headers: Headers,
    log: Log,
    case_id: str,
) -> None:
    # Given a case whose opening was corrected to another owning authority, then damaged
    opened = client.get(f"/cases/{case_id}/events", headers=headers).json()["events"][0]
    corrected = {**opened["data"], "local_authority": "csc:wessex"}
    correction = event(
        "EntryCorrected",
        data={"target_event_id": opened["id"], "data": corrected, "reason": "moved area"},
    )
    assert append(client, headers, case_id, correction).status_code == 201
    log.delete(case_id, 3)
    restarted = start_app()
    # When the new owner and the former one ask for its verification
    new_owner = restarted.get(f"/cases/{case_id}/verify", headers=token(agency="csc:wessex"))
    former = restarted.get(f"/cases/{case_id}/verify", headers=headers)
    # Then the new owner gets the report, the former owner nothing
    assert new_owner.status_code == 200, new_owner.text
    assert new_owner.json()["reason"] == "version 3 missing"
    assert former.status_code == 404, former.text


def test_verify_store_when_each_case_tampered_differently_then_distinct_reasons(
    records: CaseRecords, log: Log, new_case: Callable[[], str]
) -> None:
    # Given one intact case and one case for each way of tampering
    intact = new_case()
    tampered = {}
    for name, (change, _, _) in TAMPERS.items():
        tampered[name] = new_case()
        change(log, tampered[name])
    # When the whole store is verified
    found = {str(v.case_id): v for v in verify_store(records).cases}
    # Then every case is reported, the intact one ok
    assert set(found) == {intact, *tampered.values()}
    assert found[intact].ok
    # And each tamper at its first bad version, with its own reason
    reasons = {name: found[case].reason for name, case in tampered.items()}
    assert reasons == {name: reason for name, (_, _, reason) in TAMPERS.items()}
    assert len(set(reasons.values())) == len(TAMPERS)


def _edit_entry(log: Log, case_id: str, version: int, change: Callable[[Any], Any]) -> None:
    """Replace the stored entry at `version` by `change(entry)` (its hash left as it was)."""
    document = orjson.loads(log.states(case_id)[version])
    document["entry"] = change(document["entry"])
    log.set_state(case_id, version, orjson.dumps(document))


# (the stored entry at version 4 becomes..., the finding)
UNREADABLE_ENTRIES: dict[str, tuple[Callable[[Any], Any], str]] = {
    "a list": (lambda entry: [entry], "entry at version 4 cannot be decoded"),
    "of an unknown type": (
        lambda entry: {**entry, "type": "CaseErased"},
        "payload or envelope changed at version 4",
    ),
    "dated by no date": (
        lambda entry: {**entry, "occurred_at": "last spring"},
        "payload or envelope changed at version 4",
    ),
    "without its recorder": (
        lambda entry: {**entry, "recorded_by": None},
        "payload or envelope changed at version 4",
    ),
    "with a payload that is no object": (
        lambda entry: {**entry, "data": ["Mum rang about Tuesday"]},
        "payload or envelope changed at version 4",
    ),
    "with a hash that is no text": (
        lambda entry: {**entry, "hash": 4},
        "payload or envelope changed at version 4",
    ),
    # (the schema version is not hashed: the chain holds, the entry cannot be read)
    "at a schema version its payload is not": (
        lambda entry: {**entry, "schema_version": 1},
        "entry at version 4 cannot be decoded",
    ),
    "at a schema version its type never had": (
        lambda entry: {**entry, "schema_version": "2"},
        "entry at version 4 cannot be decoded",
    ),
}


@pytest.mark.parametrize("damage", list(UNREADABLE_ENTRIES))
def test_read_when_a_stored_entry_is_made_unreadable_then_503_and_verify_names_it(
    settings: Settings,
    start_app: Callable[..., TestClient],
    headers: Headers,
    log: Log,
    new_case: Callable[[], str],
    damage: str,
) -> None:
    # Given a case whose fourth row still holds JSON, but no entry the service can read
    change, reason = UNREADABLE_ENTRIES[damage]
    case_id = new_case()
    _edit_entry(log, case_id, 4, change)
    # When a service started afterwards (nothing cached) reads the case
    client = TestClient(start_app().app, raise_server_exceptions=False)
    # Then each view says the store cannot be read, never a server error or a guess
    for view in ("", "/chronology", "/events", "/involvement"):
        answer = client.get(f"/cases/{case_id}{view}", headers=headers)
        assert answer.status_code == 503, f"{view}: {answer.status_code} {answer.text}"
        assert answer.json()["type"] == "urn:casetrail:problem:store-unreadable"
    # And verification names the row, over HTTP and from the CLI
    response = client.get(f"/cases/{case_id}/verify", headers=headers)
    assert response.status_code == 200, response.text
    assert (response.json()["first_bad_version"], response.json()["reason"]) == (4, reason)
    checked = cli(settings, "verify", "--case", case_id)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"BROKEN at version 4: {reason}" in checked.stdout


# (version, edit, the views that reach it and their answer) — made with every hash after it
# recomputed: each chain holds, yet the entry's payload is no valid one of its type. An owner
# that is no agency leaves the case no one's: 404 to the authority that owned it.
UNACCEPTABLE_PAYLOADS: dict[str, tuple[int, Callable[[dict[str, Any]], None], list[str], int]] = {
    "a child that is no object": (
        1,
        lambda entry: entry["data"].update(child="x"),
        ["", "/chronology", "/involvement", "/alerts"],
        503,
    ),
    "an owner that is no agency": (
        1,
        lambda entry: entry["data"].update(local_authority=5),
        ["", "/chronology", "/involvement", "/alerts", "/verify"],
        404,
    ),
    "a note that is no text": (
        3,
        lambda entry: entry["data"].update(text=["x"]),
        ["/chronology?min_significance=routine"],
        503,
    ),
}


@pytest.mark.parametrize("damage", list(UNACCEPTABLE_PAYLOADS))
def test_read_when_a_payload_is_forged_invalid_with_every_hash_recomputed_then_503_and_found(
    settings: Settings,
    start_app: Callable[..., TestClient],
    headers: Headers,
    log: Log,
    new_case: Callable[[], str],
    damage: str,
) -> None:
    # Given a case whose entry was edited into a payload its type does not accept, every hash
    # after it recomputed (a consistent forgery)
    version, change, views, status = UNACCEPTABLE_PAYLOADS[damage]
    case_id = new_case()
    log.rewrite(case_id, version, change)
    # When a service started afterwards reads the case
    client = TestClient(start_app().app, raise_server_exceptions=False)
    # Then each view that reaches the entry says the store cannot be read (or, with no owner,
    # that there is no case to read), never a server error
    for view in views:
        answer = client.get(f"/cases/{case_id}{view}", headers=headers)
        assert answer.status_code == status, f"{view}: {answer.status_code} {answer.text}"
        assert answer.headers["content-type"] == "application/problem+json"
    # And verification names the entry
    checked = cli(settings, "verify", "--case", case_id)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"BROKEN at version {version}: entry at version {version} cannot be decoded" in (
        checked.stdout
    )


@pytest.mark.parametrize("damage", list(UNREADABLE_ENTRIES))
def test_feed_when_an_entry_is_made_unreadable_under_a_running_service_then_503(
    client: TestClient, headers: Headers, log: Log, new_case: Callable[[], str], damage: str
) -> None:
    # Given a case the running service holds in memory, whose fourth row is then damaged
    change, _ = UNREADABLE_ENTRIES[damage]
    case_id = new_case()
    assert client.get(f"/cases/{case_id}", headers=headers).status_code == 200
    _edit_entry(log, case_id, 4, change)

    # When the owning authority reads the feed over it
    feed = TestClient(client.app, raise_server_exceptions=False)
    answer = feed.get("/feed", headers=headers)

    # Then it says the store cannot be read: never a server error, nor the entry as it now is
    assert answer.status_code == 503, answer.text
    assert answer.json()["type"] == "urn:casetrail:problem:store-unreadable"


def test_verify_when_a_row_is_not_an_entry_then_cannot_be_decoded(
    records: CaseRecords, log: Log, case_id: str
) -> None:
    # Given a row whose state is no longer JSON
    log.set_state(case_id, 4, b"\x00not json")
    # When the case is verified
    verification = verify_case(records, UUID(case_id))
    # Then version 4 is reported as unreadable
    assert (verification.ok, verification.first_bad_version) == (False, 4)
    assert verification.reason == "entry at version 4 cannot be decoded"


def test_verify_when_the_first_row_is_deleted_then_version_1_missing(
    records: CaseRecords, log: Log, case_id: str
) -> None:
    # Given a case whose CaseOpened row was deleted
    log.delete(case_id, 1)
    # When it is verified
    verification = verify_case(records, UUID(case_id))
    # Then version 1 is missing
    assert (verification.first_bad_version, verification.reason) == (1, "version 1 missing")


def test_verify_over_http_when_unknown_case_or_no_token_then_problems(
    client: TestClient, headers: Headers, case_id: str
) -> None:
    # Given an unknown case, and a request without a token
    unknown = client.get(f"/cases/{uuid.uuid4()}/verify", headers=headers)
    anonymous = client.get(f"/cases/{case_id}/verify")
    # Then 404 and 401 problem documents
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"


def test_verify_cli_when_untouched_then_exit_0_and_when_tampered_then_exit_1(
    settings: Settings, log: Log, case_id: str, new_case: Callable[[], str]
) -> None:
    # Given a store with two intact cases
    other = new_case()
    # When `casetrail verify` runs on it
    clean = cli(settings, "verify", own_process=True)
    # Then it exits 0 and says so
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "2 case(s), 10 version(s) verified: every chain intact" in clean.stdout
    # When a payload byte of one case is changed
    log.change_byte(case_id, 2, b"First visit", b"First Visit")
    broken = cli(settings, "verify", own_process=True)
    # Then it exits 1, naming the case, the version and why
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert (
        f"case {case_id}: BROKEN at version 2: payload or envelope changed at version 2"
        in broken.stdout
    )
    assert other not in broken.stdout
    # And --case checks one case only
    assert cli(settings, "verify", "--case", other).returncode == 0
    assert cli(settings, "verify", "--case", case_id).returncode == 1
    # And an unknown case is an error
    unknown = cli(settings, "verify", "--case", str(uuid.uuid4()))
    assert unknown.returncode == 1
    assert "not found" in unknown.stderr


# --- verify: every row of the log is accounted for --------------------------------------------


FORMS: dict[str, Callable[[str], str]] = {
    "hyphenated": lambda case: case,
    "hyphenated upper case": str.upper,
    "upper case": lambda case: UUID(case).hex.upper(),
}


@pytest.mark.parametrize("form", list(FORMS))
def test_verify_when_a_row_is_added_under_another_form_of_the_case_id_then_found(
    settings: Settings,
    client: TestClient,
    headers: Headers,
    log: Log,
    case_id: str,
    form: str,
) -> None:
    # Given a row copied from version 2 of a case and inserted at version 2 again (and at 6)
    # under another text of the case's id: hyphenated, or in upper case
    forged = FORMS[form](case_id)
    if not settings.is_postgres:
        log.insert_copy(case_id, 2, forged, as_version=2)
    log.insert_copy(case_id, 2, forged, as_version=VERSIONS + 1)
    # When the case is verified over HTTP
    response = client.get(f"/cases/{case_id}/verify", headers=headers)
    # Then it does not verify
    assert response.status_code == 200, response.text
    verification = response.json()
    assert verification["ok"] is False
    if settings.is_postgres:
        # (PostgreSQL's uuid column holds every form of the id as the one value: the row is
        # simply version 6 of the case, and its hash is not the one for version 6)
        assert verification["reason"] == f"payload or envelope changed at version {VERSIONS + 1}"
    else:
        # the earliest row outside the chain, with the form it is stored under
        assert verification["first_bad_version"] == 2
        assert verification["reason"] == (
            f"row at version 2 stored under another form of the case id ({forged!r})"
        )
        assert verification["checked"] == VERSIONS
    # And `casetrail verify` lists the case once, broken, and exits 1
    checked = cli(settings, "verify")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert checked.stdout.count(f"case {case_id}: BROKEN") == 1
    assert "1 case(s) verified: 1 broken" in checked.stdout
    # And the store is not sealed
    sealed = cli(settings, "seal")
    assert sealed.returncode == 1
    assert f"case {case_id}: BROKEN" in sealed.stderr


# (a copy of the row at version, stored at as_version): versions no chain reaches, which the
# library still loads as the case's
OUTLYING_ROWS: dict[str, tuple[int, int]] = {
    "the opening again at version 0": (1, 0),
    "an entry before version 1": (2, -1),
    "an entry at the highest version": (2, 2**63 - 1),
}


@pytest.mark.parametrize("row", list(OUTLYING_ROWS))
def test_verify_when_a_row_is_added_at_a_version_no_chain_reaches_then_found(
    settings: Settings,
    start_app: Callable[..., TestClient],
    headers: Headers,
    log: Log,
    case_id: str,
    row: str,
) -> None:
    # Given a row of the case copied under its own id to a version below 1 or far beyond its end
    version, as_version = OUTLYING_ROWS[row]
    stored_id = case_id if settings.is_postgres else UUID(case_id).hex
    log.insert_copy(case_id, version, stored_id, as_version=as_version)
    # When it is verified, then it is found at that version
    assert_found_outside_the_chain(settings, start_app, headers, case_id, as_version, as_version)


# A version that is no integer, which SQLite's column holds as written (a text that is no
# number, a blob, a fraction)
UNNUMBERED_VERSIONS: dict[str, object] = {"text": "x", "a blob": b"\x03", "a fraction": 2.5}


@pytest.mark.parametrize("kind", list(UNNUMBERED_VERSIONS))
def test_verify_when_a_row_is_added_at_a_version_that_is_no_integer_then_found(
    settings: Settings,
    start_app: Callable[..., TestClient],
    headers: Headers,
    log: Log,
    case_id: str,
    kind: str,
) -> None:
    if settings.is_postgres:
        pytest.skip("PostgreSQL's version column holds nothing but integers")
    # Given a row of the case copied under its own id to a version that is no integer
    as_version = UNNUMBERED_VERSIONS[kind]
    log.insert_copy(case_id, 2, UUID(case_id).hex, as_version=as_version)
    # When it is verified, then it is found just after the chain's last version, named as stored
    shown = repr(as_version)
    assert_found_outside_the_chain(settings, start_app, headers, case_id, VERSIONS + 1, shown)


def assert_found_outside_the_chain(
    settings: Settings,
    start_app: Callable[..., TestClient],
    headers: Headers,
    case_id: str,
    first_bad_version: int,
    shown: object,
) -> None:
    """Verified over HTTP, the case does not verify: every version of its chain checked, the
    row outside it reported at `first_bad_version`, named as `shown`; the case's views say the
    store cannot be read (never a server error); `casetrail verify` exits 1 naming the row, and
    the store is not sealed."""
    client = TestClient(start_app().app, raise_server_exceptions=False)
    response = client.get(f"/cases/{case_id}/verify", headers=headers)
    assert response.status_code == 200, response.text
    reason = f"row at version {shown} outside the chain"
    assert response.json() == {
        "case_id": case_id,
        "ok": False,
        "checked": VERSIONS,
        "first_bad_version": first_bad_version,
        "reason": reason,
    }
    for view in ("", "/events"):
        answer = client.get(f"/cases/{case_id}{view}", headers=headers)
        assert answer.status_code == 503, f"{view}: {answer.status_code} {answer.text}"
    checked = cli(settings, "verify")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"case {case_id}: BROKEN at version {first_bad_version}: {reason}" in checked.stdout
    assert cli(settings, "seal").returncode == 1


def test_verify_when_a_row_names_no_case_then_reported_and_exit_1(
    settings: Settings, log: Log, case_id: str
) -> None:
    if settings.is_postgres:
        pytest.skip("PostgreSQL's uuid column holds nothing but case ids")
    # Given a row stored under a text that is no case id at all
    log.insert_copy(case_id, 2, "not-a-case", as_version=1)
    # When the store is verified
    checked = cli(settings, "verify")
    # Then the row is reported, the case itself still intact, and it exits 1
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "stored under 'not-a-case', no case id" in checked.stdout
    assert "1 case(s) verified: 0 broken; 1 row(s) stored under no case id" in checked.stdout
    # And the store is not sealed
    sealed = cli(settings, "seal")
    assert sealed.returncode == 1
    assert "stored under 'not-a-case', no case id" in sealed.stderr


# --- verify: the event-id index names every stored event, and nothing else ------------------


def test_verify_when_an_id_left_out_of_the_index_is_posted_again_then_found(
    settings: Settings, client: TestClient, headers: Headers, case_id: str, log: Log
) -> None:
    # Given a case whose third event was deleted from the event-id index
    third = client.get(f"/cases/{case_id}/events", headers=headers).json()["events"][2]
    log.unindex(case_id, 3)
    # And a new event posted with that event's id, which the store no longer knows it holds
    reused = event("CaseNoteRecorded", data={"kind": "note", "text": "Again"}, id=third["id"])
    assert append(client, headers, case_id, reused).status_code == 201
    # When the case is verified over HTTP
    response = client.get(f"/cases/{case_id}/verify", headers=headers)
    # Then the third event is reported: the index names the new one in its place
    assert response.status_code == 200, response.text
    assert response.json() == {
        "case_id": case_id,
        "ok": False,
        "checked": VERSIONS + 1,
        "first_bad_version": 3,
        "reason": "event-id index at version 3 does not match (version, position, digest differ)",
    }
    # And `casetrail verify` exits 1, naming it
    checked = cli(settings, "verify")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"case {case_id}: BROKEN at version 3: event-id index at version 3" in checked.stdout


def test_verify_when_the_index_digest_is_forged_for_other_content_then_found(
    settings: Settings, client: TestClient, headers: Headers, case_id: str, log: Log
) -> None:
    # Given a case whose third event's digest in the event-id index was replaced by the digest
    # of other content under its id, so that content posted with that id passes as a replay
    if not log.keeps_index_facts:
        pytest.skip("SQLite's index keeps no digest: it is read from the hash-chained entry")
    third = client.get(f"/cases/{case_id}/events", headers=headers).json()["events"][2]
    other = event("CaseNoteRecorded", data={"kind": "note", "text": "Amy not seen"}, id=third["id"])
    sent = {**third, "data": other["data"], "author": None, "source": None}
    log.set_indexed_digest(case_id, 3, client_digest(sent))
    resent = append(client, headers, case_id, other)
    assert (resent.status_code, resent.json()["events"][0]["replayed"]) == (200, True)
    # When the case is verified over HTTP
    response = client.get(f"/cases/{case_id}/verify", headers=headers)
    # Then the third event is reported: the index no longer holds what was stored there
    assert response.status_code == 200, response.text
    assert response.json() == {
        "case_id": case_id,
        "ok": False,
        "checked": VERSIONS,
        "first_bad_version": 3,
        "reason": "event-id index at version 3 does not match (digest differs)",
    }
    # And `casetrail verify` exits 1, naming it, and the store is not sealed
    checked = cli(settings, "verify")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"case {case_id}: BROKEN at version 3: event-id index at version 3" in checked.stdout
    assert cli(settings, "seal").returncode == 1


def _row_deleted(log: Log, case_id: str, stored: list[dict[str, Any]]) -> str | None:
    log.unindex(case_id, 2)
    return "event id at version 2 not in the event-id index"


def _type_changed(log: Log, case_id: str, stored: list[dict[str, Any]]) -> str | None:
    if not log.keeps_index_facts:  # SQLite's index holds no type: the entry's is read
        return None
    log.set_indexed_type(case_id, 2, "CaseOpened")
    return "event-id index at version 2 does not match (type differs)"


def _position_moved(log: Log, case_id: str, stored: list[dict[str, Any]]) -> str | None:
    # Pointed at the third event: on SQLite the row then names the third's version, and no
    # type or digest (the entry there is not the second's id's).
    log.set_indexed_position(case_id, 2, stored[2]["position"])
    differ = (
        "position differs" if log.keeps_index_facts else "version, type, position, digest differ"
    )
    return f"event-id index at version 2 does not match ({differ})"


# Each tamper of the event-id index, giving the reason verify reports (None: the store's index
# holds nothing to tamper with so).
INDEX_TAMPERS: dict[str, Callable[[Log, str, list[dict[str, Any]]], str | None]] = {
    "row deleted": _row_deleted,
    "type changed": _type_changed,
    "position moved": _position_moved,
}


@pytest.mark.parametrize("tamper", list(INDEX_TAMPERS))
def test_verify_when_the_index_row_of_an_event_is_tampered_then_found(
    settings: Settings,
    client: TestClient,
    headers: Headers,
    records: CaseRecords,
    case_id: str,
    log: Log,
    tamper: str,
) -> None:
    # Given a case whose second event's row in the event-id index was deleted or changed
    stored = client.get(f"/cases/{case_id}/events", headers=headers).json()["events"]
    reason = INDEX_TAMPERS[tamper](log, case_id, stored)
    if reason is None:
        pytest.skip(f"{tamper}: this store's index holds no such fact")
    # When it is verified over HTTP
    response = client.get(f"/cases/{case_id}/verify", headers=headers)
    # Then version 2 is reported, the chain itself intact
    assert response.status_code == 200, response.text
    verification = response.json()
    assert (verification["ok"], verification["first_bad_version"]) == (False, 2)
    assert (verification["reason"], verification["checked"]) == (reason, VERSIONS)
    assert verify_case(records, UUID(case_id)).model_dump(mode="json") == verification
    # And `casetrail verify` exits 1, and the store is not sealed
    checked = cli(settings, "verify")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"case {case_id}: BROKEN at version 2: {reason}" in checked.stdout
    assert cli(settings, "seal").returncode == 1


def test_verify_when_the_index_names_an_event_not_stored_then_reported_and_exit_1(
    settings: Settings, client: TestClient, headers: Headers, case_id: str, log: Log
) -> None:
    # Given a sealed store, then a row added to the event-id index for an event never stored,
    # in the place of the case's second
    path = make_seal(settings)
    second = client.get(f"/cases/{case_id}/events", headers=headers).json()["events"][1]
    forged = str(uuid.uuid4())
    log.index(forged, case_id, 2, second["position"])
    # When the store is verified
    checked = cli(settings, "verify")
    # Then the row is reported, the case itself intact, and it exits 1
    line = (
        f"event-id index row of {forged}: names version 2 of case {case_id}, "
        "which holds no such event"
    )
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert line in checked.stdout
    assert "1 case(s) verified: 0 broken; 1 event-id index row(s) naming no stored event" in (
        checked.stdout
    )
    # And checking the seal finds it too
    against_seal = cli(settings, "verify", "--seal", str(path))
    assert against_seal.returncode == 1, against_seal.stdout + against_seal.stderr
    assert f"finding: {line}" in against_seal.stdout
    # And the store is not sealed
    sealed = cli(settings, "seal")
    assert sealed.returncode == 1
    assert line in sealed.stderr


# (rows deleted from the log behind the service's back, their event-id index rows left)
RESENT_AFTER_DELETION: dict[str, tuple[int | None, int]] = {
    "its newest event": (VERSIONS, VERSIONS - 1),
    "the whole case": (None, 0),
}


@pytest.mark.parametrize("deleted", list(RESENT_AFTER_DELETION))
def test_resend_when_the_stored_event_was_deleted_but_its_index_row_kept_then_503(
    settings: Settings,
    client: TestClient,
    start_app: Callable[..., TestClient],
    headers: Headers,
    log: Log,
    case_id: str,
    deleted: str,
) -> None:
    # Given a case whose newest event, or every event, was deleted from the log, though the
    # event-id index still says where it was stored
    version, left = RESENT_AFTER_DELETION[deleted]
    stored = client.get(f"/cases/{case_id}/events", headers=headers).json()["events"]
    sent = stored[-1] if version is not None else stored[0]
    log.delete(case_id, version)
    resent = {name: sent[name] for name in ("id", "type", "occurred_at", "data")}
    # When its posting system resends it to a service started afterwards
    restarted = TestClient(start_app().app, raise_server_exceptions=False)
    if version is not None:
        response = append(restarted, headers, case_id, resent)
    else:
        response = restarted.post("/cases", json={"events": [resent]}, headers=headers)
    # Then the answer says the store cannot be read, never a server error
    assert response.status_code == 503, response.text
    assert response.json()["type"] == "urn:casetrail:problem:store-unreadable"
    # And verify names the index row of the event the log no longer holds
    checked = cli(settings, "verify")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    names = (
        f"version {sent['version']} of case {case_id}, which holds no such event"
        if log.keeps_index_facts
        else f"position {sent['position']}, where the log holds no event"
    )
    assert f"event-id index row of {sent['id']}: names {names}" in checked.stdout
    assert len(log.states(case_id)) == left


def test_resend_when_deleted_and_its_position_taken_by_an_event_alike_then_503_not_a_replay(
    settings: Settings,
    start_app: Callable[..., TestClient],
    headers: Headers,
    log: Log,
    case_id: str,
) -> None:
    # Given a case whose newest event was deleted from the log, its index row kept, and then an
    # event with the same content under another id appended in its place (SQLite gives the new
    # row the deleted row's position)
    if log.keeps_index_facts:
        pytest.skip("PostgreSQL's index keeps each event's case, version and digest")
    restarted = TestClient(start_app().app, raise_server_exceptions=False)
    stored = restarted.get(f"/cases/{case_id}/events", headers=headers).json()["events"]
    deleted = {name: stored[-1][name] for name in ("id", "type", "occurred_at", "data")}
    log.delete(case_id, VERSIONS)
    restarted = TestClient(start_app().app, raise_server_exceptions=False)
    alike = {**deleted, "id": str(uuid.uuid4())}
    placed = append(restarted, headers, case_id, alike)
    assert placed.status_code == 201, placed.text
    assert placed.json()["events"][0]["position"] == stored[-1]["position"]
    # When the deleted event is resent
    response = append(restarted, headers, case_id, deleted)
    # Then the answer says the store cannot be read: never a replay of the other event
    assert response.status_code == 503, response.text
    assert response.json()["type"] == "urn:casetrail:problem:store-unreadable"
    # And verify names the index row left behind
    checked = cli(settings, "verify")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"event-id index row of {deleted['id']}: names version {VERSIONS} of case" in (
        checked.stdout
    )


def test_verify_when_index_rows_are_keyed_by_no_uuid_then_each_reported_across_pages(
    settings: Settings, records: CaseRecords, log: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given rows added by hand to SQLite's event-id index under keys that are no event id (a
    # text and an integer), naming a position the log holds no event at
    if log.keeps_index_facts:
        pytest.skip("PostgreSQL's index column holds text alone")
    with sqlite3.connect(settings.sqlite_path) as db:
        db.executemany(
            "INSERT INTO casetrail_event_positions VALUES (?, ?)",
            [("not-an-id", 999_999), (7, 999_998)],
        )
    db.close()
    # When the store is verified, the index read a row at a time
    monkeypatch.setattr("service.store.INDEX_PAGE", 1)
    verified = verify_store(records)
    # Then both rows are reported, by the position they name
    assert sorted(unindexed_line(row) for row in verified.unindexed) == [
        "event-id index row of 7: names position 999998, where the log holds no event",
        "event-id index row of not-an-id: names position 999999, where the log holds no event",
    ]
    assert not verified.ok


def test_correction_when_its_target_entry_became_unreadable_then_503_and_nothing_stored(
    client: TestClient, headers: Headers, log: Log, case_id: str
) -> None:
    # Given a case the service has read (it holds its events decoded), whose second entry was
    # then damaged in the store so that it is no longer an entry
    if log.keeps_index_facts:
        pytest.skip("PostgreSQL's index keeps each event's type: a correction is judged on it")
    assert client.get(f"/cases/{case_id}/chronology", headers=headers).status_code == 200
    target = client.get(f"/cases/{case_id}/events", headers=headers).json()["events"][1]
    _edit_entry(log, case_id, 2, lambda entry: [entry])
    # When its owner corrects that entry
    correction = event(
        "EntryCorrected",
        data={"target_event_id": target["id"], "data": target["data"], "reason": "typo"},
    )
    response = append(client, headers, case_id, correction)
    # Then the answer says the store cannot be read (the target's type is unknown), never a
    # server error, and nothing was stored
    assert response.status_code == 503, response.text
    assert response.json()["type"] == "urn:casetrail:problem:store-unreadable"
    assert len(log.states(case_id)) == VERSIONS


# --- verify and load: snapshots are checked against the log ----------------------------------


SNAPSHOT_INTERVAL = 4


@pytest.fixture
def snapshotted(
    start_app: Callable[..., TestClient], headers: Headers
) -> Callable[[], tuple[TestClient, str]]:
    """A case with a snapshot at version 4 (and one version after it), written by an app that
    snapshots every 4 versions; returns a freshly started app on the store, and the case."""

    def make() -> tuple[TestClient, str]:
        writer = start_app(snapshot_interval=SNAPSHOT_INTERVAL)
        notes = [event("CaseNoteRecorded", data={"kind": "note", "text": t}) for t in NOTES]
        case_id, _ = open_case(writer, headers, *notes[:3])
        assert append(writer, headers, case_id, notes[3]).status_code == 201
        return start_app(snapshot_interval=SNAPSHOT_INTERVAL), case_id

    return make


def test_read_when_snapshot_forged_to_another_owner_then_ignored_and_verify_finds_it(
    snapshotted: Callable[[], tuple[TestClient, str]],
    start_app: Callable[..., TestClient],
    token: Callable[..., Headers],
    headers: Headers,
    settings: Settings,
    log: Log,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a case owned by csc:barsetshire whose snapshot is then forged to name another
    # owning authority (its last hash left as it was)
    _, case_id = snapshotted()
    assert set(log.snapshots(case_id)) == {SNAPSHOT_INTERVAL}
    log.forge_snapshot(case_id, SNAPSHOT_INTERVAL, lambda s: s.update(local_authority="csc:wessex"))
    # When the service, started afresh, is asked for the case by the forged owner and the true one
    client = start_app(snapshot_interval=SNAPSHOT_INTERVAL)
    intruder = client.get(f"/cases/{case_id}", headers=token(agency="csc:wessex"))
    owner = client.get(f"/cases/{case_id}", headers=headers)
    # Then the snapshot is not trusted: the case is read from its events, and access follows them
    assert intruder.status_code == 404, intruder.text
    assert owner.status_code == 200, owner.text
    assert owner.json()["version"] == VERSIONS
    assert f"snapshot of case {case_id} at version {SNAPSHOT_INTERVAL} ignored" in caplog.text
    # And verify reports the snapshot, over HTTP and from the CLI
    response = client.get(f"/cases/{case_id}/verify", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "case_id": case_id,
        "ok": False,
        "checked": VERSIONS,
        "first_bad_version": SNAPSHOT_INTERVAL,
        "reason": f"snapshot at version {SNAPSHOT_INTERVAL} does not match "
        "(local_authority differs)",
    }
    checked = cli(settings, "verify")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"case {case_id}: BROKEN at version {SNAPSHOT_INTERVAL}: snapshot" in checked.stdout
    # And the store is not sealed
    assert cli(settings, "seal").returncode == 1


def test_read_when_snapshot_forged_to_restore_another_kind_of_object_then_ignored_and_found(
    snapshotted: Callable[[], tuple[TestClient, str]],
    start_app: Callable[..., TestClient],
    headers: Headers,
    log: Log,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a case whose snapshot is edited to restore another kind of object than a case
    _, case_id = snapshotted()
    document = orjson.loads(log.snapshots(case_id)[SNAPSHOT_INTERVAL])
    assert document["topic"] == "domain.case:Case"
    document["topic"] = "builtins:dict"
    log.set_snapshot(case_id, SNAPSHOT_INTERVAL, orjson.dumps(document))
    # When the service, started afresh, reads the case and appends to it
    client = start_app(snapshot_interval=SNAPSHOT_INTERVAL)
    read = client.get(f"/cases/{case_id}", headers=headers)
    appended = append(client, headers, case_id, event("CaseNoteRecorded"))
    # Then the snapshot is passed over with a warning and the case read from its events
    assert read.status_code == 200, read.text
    assert read.json()["version"] == VERSIONS
    assert appended.status_code == 201, appended.text
    assert f"snapshot of case {case_id} at version {SNAPSHOT_INTERVAL} ignored" in caplog.text
    # And verify reports the snapshot
    report = client.get(f"/cases/{case_id}/verify", headers=headers).json()
    assert report["first_bad_version"] == SNAPSHOT_INTERVAL
    assert report["reason"].startswith(f"snapshot at version {SNAPSHOT_INTERVAL} does not match")


def test_read_when_snapshot_forged_beyond_the_case_then_ignored_and_verify_finds_it(
    snapshotted: Callable[[], tuple[TestClient, str]],
    start_app: Callable[..., TestClient],
    headers: Headers,
    log: Log,
) -> None:
    # Given a copy of a case's snapshot stored at a version the case never reached
    _, case_id = snapshotted()
    log.set_snapshot(case_id, 99, log.snapshots(case_id)[SNAPSHOT_INTERVAL])
    # When the service, started afresh, appends to the case
    client = start_app(snapshot_interval=SNAPSHOT_INTERVAL)
    response = append(client, headers, case_id, event("CaseNoteRecorded"))
    # Then the append follows the case's real last version
    assert response.status_code == 201, response.text
    assert response.json()["version"] == VERSIONS + 1
    # And verify reports the snapshot
    verification = client.get(f"/cases/{case_id}/verify", headers=headers).json()
    assert (
        verification["reason"]
        == "snapshot at version 99 does not match (the case has no version 99)"
    )


def test_verify_when_snapshot_reverts_a_corrected_owner_then_found(
    snapshotted: Callable[[], tuple[TestClient, str]],
    start_app: Callable[..., TestClient],
    token: Callable[..., Headers],
    headers: Headers,
    settings: Settings,
    log: Log,
) -> None:
    # Given a case whose opening was corrected to a new owning authority, and a snapshot taken
    # after that, then forged back to the first owner, as if no correction had been made
    client, case_id = snapshotted()
    opened = client.get(f"/cases/{case_id}/events", headers=headers).json()["events"][0]
    corrected = {**opened["data"], "local_authority": "csc:wessex"}
    correction = event(
        "EntryCorrected",
        data={"target_event_id": opened["id"], "data": corrected, "reason": "moved area"},
    )
    batch = [correction] + [event("CaseNoteRecorded") for _ in range(2)]
    assert append(client, headers, case_id, *batch).status_code == 201
    snapshot = 2 * SNAPSHOT_INTERVAL
    assert set(log.snapshots(case_id)) == {SNAPSHOT_INTERVAL, snapshot}
    log.forge_snapshot(
        case_id,
        snapshot,
        lambda s: s.update(local_authority="csc:barsetshire", authority_version=1),
    )
    # When the store is verified
    checked = cli(settings, "verify")
    # Then the snapshot is reported: it does not sum up the entries before it
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert (
        f"case {case_id}: BROKEN at version {snapshot}: snapshot at version {snapshot} does not "
        "match (local_authority, authority_version differ)"
    ) in checked.stdout


# --- no store: nothing verified, nothing created --------------------------------------------


@pytest.mark.parametrize(
    "command", ["verify", "seal", "projections status", "projections rebuild", "alerts refresh"]
)
def test_verify_and_seal_when_settings_point_at_no_store_then_refused_and_nothing_created(
    settings: Settings, command: str
) -> None:
    # Given settings naming a data directory (or PostgreSQL schema) that holds no store (a
    # restore that landed elsewhere)
    # When `casetrail verify`, `casetrail seal`, or a command on the read models runs on them
    run = cli(settings, *command.split())
    # Then it refuses, saying where it looked and which settings chose the place, and exits 1
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"casetrail {command}: no Casetrail store at" in run.stderr
    place = "CASETRAIL_POSTGRES_SCHEMA" if settings.is_postgres else "CASETRAIL_DATA_DIR"
    assert f"and {place}" in run.stderr or f"{place} and" in run.stderr
    assert "every chain intact" not in run.stdout
    # And creates nothing: no data directory, no tables, no key
    assert not settings.data_dir.exists()
    if settings.is_postgres:
        import psycopg

        with psycopg.connect(POSTGRES_URL) as conn:
            table = f'"{settings.postgres_schema}".caserecords_events'
            assert conn.execute("SELECT to_regclass(%s)", (table,)).fetchone() == (None,)


# --- seals: what only a seal can catch -------------------------------------------------------


def make_seal(settings: Settings, *extra: str, seal_key: Path | None = None) -> Path:
    sealed = cli(settings, "seal", *extra, seal_key=seal_key)
    assert sealed.returncode == 0, sealed.stdout + sealed.stderr
    path = Path(sealed.stdout.strip())
    assert path.exists()
    return path


def test_seal_when_made_then_signed_file_under_data_dir_and_key_kept_private(
    settings: Settings, case_id: str
) -> None:
    # Given a store with one case
    # When it is sealed
    path = make_seal(settings)
    # Then the seal is under the data directory, named by the position it sealed
    document = json.loads(path.read_text())
    assert path == settings.data_dir / "seals" / f"seal-{document['position']}.json"
    assert document["format"] == "casetrail-seal/1"
    assert set(document) == {
        "format", "sealed_at", "position", "cases", "public_key", "signature",
    }  # fmt: skip
    assert document["cases"][case_id]["version"] == VERSIONS
    # And the signing key was generated, readable by its owner only, its public key beside it
    key = settings.resolved_seal_key_path
    assert key == settings.data_dir / "keys" / "seal-signing-key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert public_key_path(key).exists()
    # And a second seal at the same position does not overwrite the first
    again = make_seal(settings)
    assert again != path and path.exists()
    # And --out chooses the file
    chosen = settings.data_dir.parent / "elsewhere" / "my-seal.json"
    assert make_seal(settings, "--out", str(chosen)) == chosen


def test_seal_when_out_cannot_be_written_then_says_where_and_exit_1(
    settings: Settings, case_id: str
) -> None:
    # Given a sealed store's --out under a file, where no folder can be made
    blocker = settings.data_dir.parent / "a-file"
    blocker.write_text("not a folder")
    # When a seal is written there
    run = cli(settings, "seal", "--out", str(blocker / "seal.json"))
    # Then it says it cannot write it there, without a traceback, and exits 1
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"casetrail seal: cannot write the seal to {blocker / 'seal.json'}" in run.stderr
    assert "Traceback" not in run.stderr


def test_verify_seal_when_untouched_then_exit_0(settings: Settings, case_id: str) -> None:
    # Given a sealed store
    path = make_seal(settings)
    # When it is checked against its seal
    checked = cli(settings, "verify", "--seal", str(path))
    # Then nothing is found
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "signature valid" in checked.stdout
    assert "the store holds everything the seal attests" in checked.stdout


def _rewrite_note(entry: dict[str, Any]) -> None:
    entry["data"]["text"] = "Home visit: Amy not seen"


# (tamper after the seal, finding) — each leaves every chain intact, and nothing in the event-id
# index that names a deleted event.
SEAL_ONLY: dict[str, tuple[Callable[[Log, str], None], str]] = {
    "newest row deleted": (
        lambda log, case: log.erase(case, VERSIONS),
        f"case truncated: sealed at version {VERSIONS}, now at version {VERSIONS - 1}",
    ),
    "whole case deleted": (
        lambda log, case: log.erase(case),
        f"case deleted: sealed at version {VERSIONS}, now absent from the log",
    ),
    "every hash rewritten consistently": (
        lambda log, case: log.rewrite(case, 3, _rewrite_note),
        f"case rewritten: its hash at version {VERSIONS} is not the sealed one",
    ),
}


@pytest.mark.parametrize("tamper", list(SEAL_ONLY))
def test_verify_seal_when_chain_still_valid_then_only_the_seal_catches_it(
    settings: Settings,
    log: Log,
    case_id: str,
    new_case: Callable[[], str],
    tamper: str,
) -> None:
    # Given a sealed store of two cases (the tampered one is not the newest in the log)
    new_case_first = case_id
    later = new_case()
    path = make_seal(settings)
    # When one case is tampered with in a way that keeps every chain valid
    change, finding = SEAL_ONLY[tamper]
    change(log, new_case_first)
    # Then plain verify finds nothing
    plain = cli(settings, "verify")
    assert plain.returncode == 0, plain.stdout + plain.stderr
    # But verify --seal exits 1 with the finding, for that case only
    checked = cli(settings, "verify", "--seal", str(path))
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"finding: case {new_case_first}: {finding}" in checked.stdout
    assert later not in checked.stdout
    assert "1 seal finding(s)" in checked.stdout


def test_verify_seal_of_one_case_when_another_sealed_case_deleted_then_no_claim_for_the_store(
    settings: Settings, log: Log, case_id: str, new_case: Callable[[], str]
) -> None:
    # Given a sealed store of two cases, the older of which is then deleted
    later = new_case()
    path = make_seal(settings)
    log.erase(case_id)
    # When the intact case alone is checked against the seal
    checked = cli(settings, "verify", "--seal", str(path), "--case", later)
    # Then it passes, but says so of that case only: the deleted case was not looked at
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "the store holds everything the seal attests" not in checked.stdout
    assert f"case {later} holds everything the seal attests of it" in checked.stdout
    assert "(the seal's other cases were not checked)" in checked.stdout


def test_verify_seal_when_newest_rows_of_the_log_deleted_then_position_went_back(
    settings: Settings, records: CaseRecords, log: Log, case_id: str
) -> None:
    # Given a sealed store whose newest row in the whole log is then deleted
    path = make_seal(settings)
    log.erase(case_id, VERSIONS)
    # When it is checked against the seal (with the public key given explicitly)
    key = public_key_path(settings.resolved_seal_key_path)
    check = check_seal(records, json.loads(path.read_text()), load_public_key(key))
    # Then the case is truncated and the log's position went back
    assert not check.ok
    assert [f.kind for f in check.findings] == ["position", "truncated"]
    assert check.position < check.sealed_position
    assert all(v.ok for v in check.verifications)


def test_verify_seal_when_case_created_after_the_seal_then_not_a_finding(
    settings: Settings, case_id: str, new_case: Callable[[], str]
) -> None:
    # Given a sealed store, and a case opened after the seal
    path = make_seal(settings)
    new_case()
    # When the store is checked against the seal
    checked = cli(settings, "verify", "--seal", str(path))
    # Then nothing is found
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_verify_seal_when_a_chain_is_broken_too_then_reported_with_the_findings(
    settings: Settings, log: Log, case_id: str
) -> None:
    # Given a sealed store whose case then has a payload byte changed
    path = make_seal(settings)
    log.change_byte(case_id, 3, b"Amy seen alone", b"Amy seen along")
    # When it is checked against the seal
    checked = cli(settings, "verify", "--seal", str(path), "--case", case_id)
    # Then the broken chain is reported (the sealed hash of the newest version still matches)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "BROKEN at version 3: payload or envelope changed at version 3" in checked.stdout
    # And so is what it means for the seal: what it attests is no longer intact in the store
    assert (
        f"finding: case {case_id}: case changed since the seal: it does not verify at version 3, "
        f"at or before its sealed version {VERSIONS}"
    ) in checked.stdout
    assert "the store holds everything the seal attests" not in checked.stdout
    assert "1 seal finding(s)" in checked.stdout


# (tamper after the seal, first bad version) — each breaks a chain where the seal attests it.
BROKEN_WHERE_SEALED: dict[str, tuple[Callable[[Log, str], None], int]] = {
    "a byte changed": (lambda log, case: log.change_byte(case, 2, b"First", b"Firsx"), 2),
    "a row deleted": (lambda log, case: log.delete(case, 2), 2),
    "two rows swapped": (lambda log, case: _swap(log, case, 2, 3), 2),
}


def _swap(log: Log, case_id: str, a: int, b: int) -> None:
    states = log.states(case_id)
    log.set_state(case_id, a, states[b])
    log.set_state(case_id, b, states[a])


@pytest.mark.parametrize("tamper", list(BROKEN_WHERE_SEALED))
def test_verify_seal_when_sealed_entries_changed_then_a_seal_finding_too(
    settings: Settings, log: Log, case_id: str, new_case: Callable[[], str], tamper: str
) -> None:
    # Given a sealed store of two cases, and one of them changed where the seal attests it
    later = new_case()
    path = make_seal(settings)
    change, version = BROKEN_WHERE_SEALED[tamper]
    change(log, case_id)
    # When the whole store is checked against the seal
    checked = cli(settings, "verify", "--seal", str(path))
    # Then it exits 1, with a seal finding for that case only, never saying the store holds
    # everything the seal attests
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert (
        f"finding: case {case_id}: case changed since the seal: it does not verify at version "
        f"{version}, at or before its sealed version {VERSIONS}"
    ) in checked.stdout
    assert f"finding: case {later}" not in checked.stdout
    assert "the store holds everything the seal attests" not in checked.stdout


def test_verify_seal_when_a_row_is_stored_as_an_opening_then_cannot_be_decoded(
    settings: Settings, log: Log, case_id: str
) -> None:
    # Given a sealed store, then a later row of a case stored as the library's opening event
    path = make_seal(settings)
    log.set_topic(case_id, 3, "domain.case:Case.Opened")
    # When the store is checked against the seal
    checked = cli(settings, "verify", "--seal", str(path))
    # Then the row is reported as an entry that cannot be decoded, and it exits 1
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"case {case_id}: BROKEN at version 3: entry at version 3 cannot be decoded" in (
        checked.stdout
    )
    # And the store is not sealed again
    assert cli(settings, "seal").returncode == 1


def test_verify_seal_when_signed_by_another_key_then_refused(
    settings: Settings, records: CaseRecords, case_id: str, tmp_path: Path
) -> None:
    # Given the store's own seal key, and a seal made with another key
    make_seal(settings)
    own_public = public_key_path(settings.resolved_seal_key_path)
    forger_key = tmp_path / "forger" / "seal-signing-key.pem"
    forger_key.parent.mkdir()
    document = seal(records, forger_key)  # the forger's key is generated on first use
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(document))
    # When it is checked with the store's public key (given, or the default beside the key)
    for args in (["--public-key", str(own_public)], []):
        checked = cli(settings, "verify", "--seal", str(forged), *args)
        # Then it is refused
        assert checked.returncode == 1, checked.stdout + checked.stderr
        assert "seal refused: the seal was signed by another key" in checked.stderr
    # And directly, too
    with pytest.raises(SealError, match="another key"):
        check_seal(records, document, load_public_key(own_public))
    # But with the forger's public key it verifies
    assert check_seal(records, document, load_public_key(public_key_path(forger_key))).ok


def test_verify_seal_when_seal_file_altered_then_refused(settings: Settings, case_id: str) -> None:
    # Given a seal whose recorded version of a case was lowered to hide a later deletion
    path = make_seal(settings)
    document = json.loads(path.read_text())
    document["cases"][case_id]["version"] = VERSIONS - 1
    path.write_text(json.dumps(document))
    # When it is checked
    checked = cli(settings, "verify", "--seal", str(path))
    # Then it is refused: the signature no longer verifies
    assert checked.returncode == 1
    assert "signature does not verify" in checked.stderr


def test_verify_seal_when_seal_file_replaced_by_deeply_nested_json_then_refused(
    settings: Settings, case_id: str
) -> None:
    # Given a seal file overwritten with JSON nested deeper than any parser's recursion
    path = make_seal(settings)
    path.write_text("[" * 100_000 + "]" * 100_000)
    # When it is checked
    checked = cli(settings, "verify", "--seal", str(path))
    # Then it is refused as unreadable, in one line, not with a traceback
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"seal refused: cannot read the seal {path}" in checked.stderr
    assert "Traceback" not in checked.stderr


def test_seal_when_a_chain_is_broken_then_refused(
    settings: Settings, log: Log, case_id: str
) -> None:
    # Given a store with a broken chain
    log.delete(case_id, 2)
    # When it is sealed
    sealed = cli(settings, "seal")
    # Then nothing is sealed: a seal attests an intact store
    assert sealed.returncode == 1
    assert f"case {case_id}: BROKEN at version 2: version 2 missing" in sealed.stderr
    assert not (settings.data_dir / "seals").exists()


def test_seal_when_key_path_set_but_missing_then_refused(
    settings: Settings, case_id: str, tmp_path: Path
) -> None:
    # Given CASETRAIL_SEAL_KEY_PATH naming a file that does not exist
    missing = tmp_path / "offsite" / "seal-key.pem"
    # When sealing
    sealed = cli(settings, "seal", seal_key=missing)
    # Then it is refused rather than silently making a new key there
    assert sealed.returncode == 1
    assert "does not exist" in sealed.stderr
    assert not missing.exists()


def test_seal_when_signing_key_replaced_then_public_key_follows_and_new_seals_verify(
    settings: Settings, case_id: str
) -> None:
    # Given a store sealed once with the generated key, whose signing key is then replaced
    make_seal(settings)
    key = settings.resolved_seal_key_path
    public = public_key_path(key)
    stale = public.read_bytes()
    key.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    # When the store is sealed again (in a process of its own: the warning is logged, to stderr)
    sealed = cli(settings, "seal", own_process=True)
    # Then the public key beside the signing key is rewritten to match it, and it says so
    assert sealed.returncode == 0, sealed.stdout + sealed.stderr
    assert public.read_bytes() != stale
    assert "did not hold the public key of the seal signing key" in sealed.stderr
    # And the new seal verifies with the default public key
    checked = cli(settings, "verify", "--seal", sealed.stdout.strip())
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_seal_when_key_path_set_then_that_key_signs(
    settings: Settings, records: CaseRecords, case_id: str, tmp_path: Path
) -> None:
    # Given a seal signing key kept outside the data directory
    key = tmp_path / "keys-elsewhere" / "seal-signing-key.pem"
    seal(records, key)  # generates it (as an operator would with openssl genpkey)
    # When the store is sealed with CASETRAIL_SEAL_KEY_PATH set to it
    path = make_seal(settings, seal_key=key)
    # Then the seal verifies with that key's public key only
    checked = cli(
        settings, "verify", "--seal", str(path), "--public-key", str(public_key_path(key))
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert not (settings.data_dir / "keys" / "seal-signing-key.pem").exists()
