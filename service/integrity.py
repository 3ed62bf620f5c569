"""Tamper evidence: recompute every case's hash chain from the stored rows, and seal the store.

`verify_case` reads a case's rows straight from the log (never the event cache), in version
order, and recomputes each entry's `chain_hash` with the previous row's *stored* hash. The first
version that fails is reported with one of these reasons:

- `version N missing` — the versions are not contiguous from 1 (a row was deleted);
- `order broken at version N: its entry is stored at version M` — the entry that chains at N
  is intact but stored elsewhere (rows' contents were swapped or moved);
- `payload or envelope changed at version N` — the entry no longer hashes to its stored hash
  and no other row of the case holds the entry that belongs there;
- `entry at version N cannot be decoded` — the row is not a readable entry (its hash may
  hold: the schema version is not hashed), or is stored as another class of event than its
  version's (`topic_at`: the opening only at version 1);
- `snapshot at version N does not match (...)` — a stored snapshot of the case (what a cold
  load starts from) is not the case its entries up to N make: its owning authority, opening,
  last hash or recording time differ, or it cannot be decoded;
- `row at version N stored under another form of the case id ('...')` — a row outside the chain
  that the library nevertheless reads as the case's (on SQLite, an id with hyphens or upper
  case: `service.store.StrayRow`), so every row of the log is accounted for. A row stored
  under no case's id at all is reported on its own (`foreign_rows`);
- `row at version N outside the chain` — a row under the case's id at a version no chain
  reaches (below 1, or beyond `MAX_VERSION`), which the library loads as the case's all the same;
- `event id at version N not in the event-id index` and `event-id index at version N does not
  match (...)` — the index, which decides whether a posted id is new or a replay and what a
  correction targets, does not name the verified entry where it is stored, or with the digest
  of its content. Verifying the whole store also
  reports the index's rows whose id no stored entry holds (`StoreVerification.unindexed`).

A chain cannot show what was cut off its end, or a case deleted whole, or a store rewritten with
every hash recomputed. A **seal** can: `seal` signs (Ed25519) the latest version and hash of every
case and the global position; `check_seal` checks the store against a seal with the public key
alone, and reports a deleted case, a truncated case, a rewritten case and a position gone back.
Cases created after the seal are not findings.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, Field, ValidationError

from domain.case import authority_set_by, snapshot_conflict
from domain.catalogue import catalogue
from domain.envelope import (
    GENESIS,
    NotAnEntry,
    RecordedEvent,
    canonical,
    chain_hash,
    client_digest,
)
from domain.moments import format_utc
from service.errors import CaseNotFoundError, UnreadableStore
from service.readiness import check_log, postgres_log_table
from service.records import CaseRecords
from service.settings import Settings
from service.store import MAX_VERSION, CaseRow, IndexRow, StrayRow
from service.transcoder import topic_at

logger = logging.getLogger("casetrail.integrity")

SEAL_FORMAT = "casetrail-seal/1"
PUBLIC_KEY_NAME = "seal-public-key.pem"
STORE_CHECK_SECONDS = 10.0
_PAGE = 1000


class Verification(BaseModel):
    """The result of recomputing one case's hash chain from its stored rows."""

    case_id: UUID
    ok: bool = Field(description="true when every stored version chains correctly")
    checked: int = Field(description="versions whose hash was recomputed and matched")
    first_bad_version: int | None = Field(
        default=None, description="the first version that does not verify; null when ok"
    )
    reason: str | None = Field(
        default=None,
        description="why it does not verify: `version N missing`, `order broken at version N`, "
        "`payload or envelope changed at version N`, `entry at version N cannot be decoded`, "
        "`snapshot at version N does not match`, "
        "`row at version N stored under another form of the case id`, "
        "`row at version N outside the chain`, "
        "`event id at version N not in the event-id index` or "
        "`event-id index at version N does not match`",
    )


@dataclass(frozen=True)
class _Tip:
    """The last verified version of a case at or before a global position, and its hash."""

    version: int
    hash: str


class _Unreadable(Exception):
    pass


class _Stored(NamedTuple):
    """A verified entry of a case, as the event-id index must name it."""

    event_id: str
    version: int
    type: str
    position: int
    digest: str


def _rows(records: CaseRecords, case_id: UUID) -> Iterator[CaseRow]:
    """The case's stored rows in version order, read fresh from the log in pages."""
    after = 0
    while True:
        page = records.index.case_rows(case_id, gt=after, limit=_PAGE)
        yield from page
        if len(page) < _PAGE:
            return
        after = page[-1].version


def _outlying(records: CaseRecords, case_id: UUID, checked: int) -> list[tuple[int, str]]:
    """The lowest row of the case below version 1, the lowest beyond the versions `_rows`
    reads, and the first at a version that is no integer (placed just after the `checked`
    versions of the chain): no chain reaches them, yet the library loads every row stored
    under the case's id as its event."""
    below = records.index.case_rows(case_id, gt=-(2**63), lte=0, limit=1)
    beyond = records.index.case_rows(case_id, gt=MAX_VERSION, lte=2**63 - 1, limit=1)
    unnumbered = records.index.unnumbered_rows(case_id)[:1]
    return [
        *((r.version, f"row at version {r.version} outside the chain") for r in below + beyond),
        *((checked + 1, f"row at version {r.version!r} outside the chain") for r in unnumbered),
    ]


def _entry(records: CaseRecords, row: CaseRow) -> dict[str, Any]:
    try:
        entry = records.decode(row.state)
    except Exception as e:  # any undecodable row (bad JSON, bad ciphertext) is a finding
        raise _Unreadable from e
    if not isinstance(entry, dict):
        raise _Unreadable
    return entry


def _rehash(case_id: UUID, version: int, entry: dict[str, Any], prev: str) -> str | None:
    """The chain hash the entry should carry here, or None if it cannot be canonicalised."""
    try:
        return chain_hash(case_id, version, entry, prev)
    except Exception:  # e.g. an integer beyond JSON's safe range, written in by hand
        return None


def _walk(
    records: CaseRecords,
    case_id: UUID,
    *,
    upto: int | None = None,
    strays: Sequence[StrayRow] = (),
    indexed: set[str] | None = None,
) -> tuple[Verification, _Tip | None]:
    """Verify the case's chain, that no row of the case lies outside it (`strays`: the case's
    rows stored under another form of its id) and that the event-id index names each verified
    entry where it is stored; also return its last good version at or before `upto`. The ids
    of its entries found in the index are added to `indexed`."""
    prev, expected, tip = GENESIS, 1, None
    rows = _rows(records, case_id)
    findings: list[tuple[int, str]] = []
    verified: list[_Stored] = []
    snapshots = records.snapshot_states(case_id)
    last_recorded: datetime | None = None
    # The entries a snapshot sums up: the opening, and the latest that set the owning authority.
    opened: dict[str, Any] | None = None
    authority: tuple[int, dict[str, Any]] | None = None
    for row in rows:
        if type(row.version) is not int:
            continue  # no version of the chain: `_outlying` reports it
        if row.version != expected:
            findings.append((expected, f"version {expected} missing"))
            break
        try:
            if row.topic != topic_at(expected):  # what the library would read it as
                raise _Unreadable
            entry = _entry(records, row)
        except _Unreadable:
            findings.append((expected, f"entry at version {expected} cannot be decoded"))
            break
        stored = entry.get("hash")
        if not isinstance(stored, str) or _rehash(case_id, expected, entry, prev) != stored:
            moved = _find_moved(records, case_id, expected, prev, rows)
            if moved is not None:
                reason = (
                    f"order broken at version {expected}: its entry is stored at version {moved}"
                )
            else:
                reason = f"payload or envelope changed at version {expected}"
            findings.append((expected, reason))
            break
        try:
            recorded = RecordedEvent.from_stored(case_id, expected, row.position, entry)
        except NotAnEntry:  # hashed as stored, yet no entry a view can read (or upcast)
            findings.append((expected, f"entry at version {expected} cannot be decoded"))
            break
        if catalogue[recorded.type].stored_form(recorded.data) is None:
            # Hashed as stored, yet a payload its type does not accept (edited, every hash
            # after it recomputed): the views answer 503 for it.
            findings.append((expected, f"entry at version {expected} cannot be decoded"))
            break
        if last_recorded is not None and recorded.recorded_at < last_recorded:
            # The service never records an entry earlier than the one before it: one that says
            # so was written behind its back (back-dated to look known before it was).
            findings.append(
                (
                    expected,
                    f"entry at version {expected} recorded at {entry.get('recorded_at')}, "
                    f"before version {expected - 1} was",
                )
            )
            break
        last_recorded = recorded.recorded_at
        if upto is None or row.position <= upto:
            tip = _Tip(expected, stored)
        if expected == 1:
            opened = entry
        if opened is not None and _sets_authority(entry, opened):
            authority = (expected, entry)
        if expected in snapshots:
            why = _snapshot_conflict(snapshots[expected], opened, authority, entry)
            if why is not None:
                findings.append(
                    (expected, f"snapshot at version {expected} does not match ({why})")
                )
        verified.append(
            _Stored(
                str(entry.get("id")),
                expected,
                str(entry.get("type")),
                row.position,
                client_digest(entry),
            )
        )
        if len(verified) == _PAGE:
            findings += _index_findings(records, case_id, verified, indexed)
            verified = []
        prev = stored
        expected += 1
    findings += _index_findings(records, case_id, verified, indexed)
    outlying = _outlying(records, case_id, expected - 1)
    if expected == 1 and not findings and not strays and not outlying:
        raise CaseNotFoundError(case_id)
    if not findings:
        findings += [
            (v, f"snapshot at version {v} does not match (the case has no version {v})")
            for v in sorted(snapshots)
            if v >= expected
        ]
    findings += [
        (
            s.version,
            f"row at version {s.version} stored under another form of the case id "
            f"({s.originator_id!r})",
        )
        for s in strays
    ]
    findings += outlying
    if not findings:
        return Verification(case_id=case_id, ok=True, checked=expected - 1), tip
    version, reason = min(findings, key=lambda finding: finding[0])
    verification = Verification(
        case_id=case_id, ok=False, checked=expected - 1, first_bad_version=version, reason=reason
    )
    return verification, tip


def _index_findings(
    records: CaseRecords, case_id: UUID, entries: Sequence[_Stored], indexed: set[str] | None
) -> list[tuple[int, str]]:
    """Each entry's id must be in the event-id index (which holds an id once), naming this case
    and the entry's version, type and position, with the digest of what its client sent: what
    a replay, a correction's target and a reused id are judged by (a forged digest would pass
    other content resent under the id as a replay, and store nothing). One read of the index
    by its ids."""
    found = records.locate(e.event_id for e in entries) if entries else {}
    findings = []
    for e in entries:
        row = found.get(e.event_id)
        if row is None:
            findings.append(
                (e.version, f"event id at version {e.version} not in the event-id index")
            )
            continue
        if indexed is not None:
            indexed.add(e.event_id)
        differ = [
            name
            for name, stored, wanted in (
                ("case", row.case_id, case_id),
                ("version", row.version, e.version),
                ("type", row.type, e.type),
                ("position", row.position, e.position),
                ("digest", row.digest, e.digest),
            )
            if stored != wanted
        ]
        if differ:
            what = f"{', '.join(differ)} {'differs' if len(differ) == 1 else 'differ'}"
            findings.append(
                (e.version, f"event-id index at version {e.version} does not match ({what})")
            )
    return findings


def _sets_authority(entry: dict[str, Any], opened: dict[str, Any]) -> bool:
    try:
        return authority_set_by(entry, str(opened["id"])) is not None
    except (KeyError, TypeError):
        return False


def _snapshot_conflict(
    state: Mapping[str, Any] | None,
    opened: dict[str, Any] | None,
    authority: tuple[int, dict[str, Any]] | None,
    last: dict[str, Any],
) -> str | None:
    """Why a snapshot at `last`'s version is not the case its verified entries make, or None."""
    if state is None:
        return "it cannot be decoded"
    if opened is None or authority is None:
        return "no entry sets its owning authority"
    return snapshot_conflict(state, opened, authority, last)


def _find_moved(
    records: CaseRecords, case_id: UUID, version: int, prev: str, later: Iterator[CaseRow]
) -> int | None:
    """The later row holding, intact, the entry that chains at `version` after `prev`."""
    for row in later:
        try:
            entry = _entry(records, row)
        except _Unreadable:
            continue
        stored = entry.get("hash")
        if isinstance(stored, str) and _rehash(case_id, version, entry, prev) == stored:
            return row.version
    return None


def verify_case(records: CaseRecords, case_id: UUID) -> Verification:
    """Recompute the case's chain from its stored rows; CaseNotFoundError if it has none."""
    strays = [s for s in records.index.stray_rows() if s.case_id == case_id]
    verification, _ = _walk(records, case_id, strays=strays)
    return verification


def _strays_by_case(records: CaseRecords) -> dict[UUID, list[StrayRow]]:
    by_case: dict[UUID, list[StrayRow]] = {}
    for stray in records.index.stray_rows():
        if stray.case_id is not None:
            by_case.setdefault(stray.case_id, []).append(stray)
    return by_case


def foreign_rows(records: CaseRecords) -> list[StrayRow]:
    """The stored events whose originator id is no case's id at all."""
    return [s for s in records.index.stray_rows() if s.case_id is None]


def foreign_line(row: StrayRow) -> str:
    return f"row at position {row.position}: stored under {row.originator_id!r}, no case id"


def unindexed_line(row: IndexRow) -> str:
    if row.case_id is None:
        return (
            f"event-id index row of {row.event_id}: names position {row.position}, "
            "where the log holds no event"
        )
    return (
        f"event-id index row of {row.event_id}: names version {row.version} of case "
        f"{row.case_id}, which holds no such event"
    )


@dataclass(frozen=True)
class StoreVerification:
    """The whole store verified: every case, the rows that name no case, and the rows of the
    event-id index whose id no stored entry holds."""

    cases: list[Verification]
    foreign: list[StrayRow]
    unindexed: list[IndexRow]

    @property
    def ok(self) -> bool:
        return not self.foreign and not self.unindexed and all(v.ok for v in self.cases)


def verify_store(records: CaseRecords) -> StoreVerification:
    """Every case in the log verified, and every row of the log and of the event-id index
    accounted for."""
    verified, _ = _verify_all(records, records.recorder.max_notification_id() or 0)
    return verified


def _verify_all(records: CaseRecords, position: int) -> tuple[StoreVerification, dict[UUID, _Tip]]:
    """The store verified, and each case's last good version at or before `position` (the
    log's position when verifying began)."""
    strays = _strays_by_case(records)
    indexed: set[str] = set()
    cases, tips = [], {}
    for case_id in records.index.case_ids():
        try:
            verification, tip = _walk(
                records, case_id, upto=position, strays=strays.get(case_id, ()), indexed=indexed
            )
        except CaseNotFoundError:  # listed, then gone: only a hand-made deletion does that
            continue
        cases.append(verification)
        if tip is not None:
            tips[case_id] = tip
    unindexed = _unindexed(records, indexed, cases, position)
    return StoreVerification(cases, foreign_rows(records), unindexed), tips


def _unindexed(
    records: CaseRecords, indexed: set[str], cases: Sequence[Verification], position: int
) -> list[IndexRow]:
    """The rows of the event-id index whose id no verified entry holds (one read of the whole
    index): a reused id would be refused, or a correction checked, against an event that is
    not stored. Not counted: rows past where a broken case stopped verifying (the case is
    reported), and rows written while verifying (past `position`)."""
    stopped = {str(v.case_id): v.checked for v in cases if not v.ok}
    found = [
        row
        for row in records.index.index_rows()
        if row.event_id not in indexed and not _past_a_break(row, stopped)
    ]
    now = records.recorder.max_notification_id() or 0
    return [row for row in found if not position < row.position <= now]


def _past_a_break(row: IndexRow, stopped: dict[str, int]) -> bool:
    """Whether `row` names a version past where its case stopped verifying."""
    if row.case_id is None or row.version is None or row.case_id not in stopped:
        return False
    try:
        return bool(row.version > stopped[row.case_id])
    except TypeError:  # a version stored as something else than a number, by hand
        return False


# --- seals --------------------------------------------------------------------------------


class NoStore(Exception):
    """The settings point at no store: nothing to verify or seal, and nothing is created."""


def require_store(settings: Settings) -> None:
    """Refuse (NoStore) unless the settings' log exists: opening the application would create
    an empty one, which verifies and seals as an intact store of no cases."""
    check = check_log(
        settings, log_table=postgres_log_table(CaseRecords.name), timeout=STORE_CHECK_SECONDS
    )
    if check.reachable:
        return
    detail = check.detail
    if settings.is_postgres and not (detail or "").startswith("table "):
        # No connection at all: whether a store is there cannot be told.
        raise NoStore(
            f"cannot reach the PostgreSQL database ({detail}): check that it is running and "
            "CASETRAIL_DATABASE_URL"
        )
    if not settings.is_postgres and not settings.sqlite_path.exists():
        detail = "no such file"
    if settings.is_postgres:
        where = f"schema {settings.postgres_schema!r} of the PostgreSQL database"
        chosen_by = "CASETRAIL_DATABASE_URL and CASETRAIL_POSTGRES_SCHEMA"
    else:
        where = str(settings.sqlite_path)
        chosen_by = "CASETRAIL_DATA_DIR and CASETRAIL_DATABASE_URL"
    raise NoStore(f"no Casetrail store at {where} ({detail}): check {chosen_by}")


class SealError(Exception):
    """A seal cannot be made or checked: a key problem, or a seal that is not to be trusted."""


class ChainsBroken(SealError):
    """The store does not verify, so it is not sealed: a seal attests an intact store."""

    def __init__(self, verified: StoreVerification) -> None:
        self.broken = [v for v in verified.cases if not v.ok]
        self.foreign = verified.foreign
        self.unindexed = verified.unindexed
        rows = len(self.foreign) + len(self.unindexed)
        what = f"{len(self.broken)} case(s)" + (f" and {rows} row(s)" if rows else "")
        super().__init__(f"{what} fail verification: not sealed")


class SealedCase(BaseModel):
    version: int = Field(ge=1)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")


class SealDocument(BaseModel):
    """The shape of a seal file (its signature is checked over the raw document)."""

    format: Literal["casetrail-seal/1"]
    sealed_at: str
    position: int = Field(ge=0)
    cases: dict[UUID, SealedCase]
    public_key: str
    signature: str


class SealFinding(BaseModel):
    """Something the store no longer holds that the seal says it held."""

    kind: Literal[
        "deleted", "truncated", "rewritten", "changed", "position", "foreign", "unindexed"
    ]
    case_id: UUID | None = None
    detail: str


class SealCheck(BaseModel):
    """The store checked against a seal: the seal's findings and every chain's verification."""

    ok: bool
    sealed_at: str
    sealed_position: int
    position: int
    sealed_cases: int
    findings: list[SealFinding]
    verifications: list[Verification]
    # Set when one case alone was checked: the others the seal attests were not looked at.
    case_id: UUID | None = None


def seal_key_path(settings: Settings) -> Path:
    """Where the seal signing key is: the setting, or the default (generated on first use)."""
    path = settings.resolved_seal_key_path
    if settings.seal_key_path is not None and not path.exists():
        raise SealError(
            f"CASETRAIL_SEAL_KEY_PATH is {path}, which does not exist: create an Ed25519 key "
            "there (openssl genpkey -algorithm ed25519 -out FILE), or unset the setting"
        )
    return path


def public_key_path(key_path: Path) -> Path:
    """The public key written beside the private key."""
    return key_path.parent / PUBLIC_KEY_NAME


def load_signing_key(key_path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key at `key_path`, generated (mode 0600) if there is none yet.

    Its public key is derived each time and written beside it as `seal-public-key.pem` when
    that file is missing or holds another key (the signing key was replaced): a stale public
    key would refuse every new seal.
    """
    if not key_path.exists():
        key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        generated = Ed25519PrivateKey.generate()
        pem = generated.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError) as e:
        raise SealError(f"{key_path} is not a PEM private key: {e}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SealError(f"{key_path} is not an Ed25519 private key")
    public = public_key_path(key_path)
    derived = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        written: bytes | None = public.read_bytes()
    except FileNotFoundError:
        written = None
    if written != derived:
        public.write_bytes(derived)
        if written is not None:
            logger.warning(
                "%s did not hold the public key of the seal signing key %s: rewritten",
                public,
                key_path,
            )
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file."""
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as e:
        raise SealError(f"cannot read a public key from {path}: {e}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SealError(f"{path} is not an Ed25519 public key")
    return key


def _raw_b64(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def seal(records: CaseRecords, key_path: Path) -> dict[str, Any]:
    """Sign the latest version and hash of every case, and the global position.

    Every chain is verified first: a store that fails verification is not sealed. Cases are
    sealed as they stood at the position read first, so a case written while sealing is not
    half-counted (notification ids follow commit order on both stores).
    """
    key = load_signing_key(key_path)
    position = records.recorder.max_notification_id() or 0
    verified, tips = _verify_all(records, position)
    if not verified.ok:
        raise ChainsBroken(verified)
    cases = {
        str(case_id): {"version": tip.version, "hash": tip.hash} for case_id, tip in tips.items()
    }
    document: dict[str, Any] = {
        "format": SEAL_FORMAT,
        "sealed_at": format_utc(records.clock()),
        "position": position,
        "cases": cases,
        "public_key": _raw_b64(key.public_key()),
    }
    document["signature"] = base64.b64encode(key.sign(canonical(document))).decode("ascii")
    return document


def check_seal(
    records: CaseRecords,
    seal_doc: dict[str, Any],
    public_key: Ed25519PublicKey,
    *,
    case_id: UUID | None = None,
) -> SealCheck:
    """Check the store against a seal signed by `public_key` (SealError if it is not).

    With `case_id`, only that case (and the global position) is checked.
    """
    try:
        parsed = SealDocument.model_validate(seal_doc)
    except ValidationError as e:
        raise SealError(f"not a {SEAL_FORMAT} document: {e.errors()[0]['msg']}") from None
    if parsed.public_key != _raw_b64(public_key):
        raise SealError("the seal was signed by another key: its public key is not the one given")
    body = {name: value for name, value in seal_doc.items() if name != "signature"}
    try:
        public_key.verify(base64.b64decode(parsed.signature, validate=True), canonical(body))
    except (InvalidSignature, ValueError):
        raise SealError("the seal's signature does not verify: the file was altered") from None

    findings: list[SealFinding] = []
    if case_id is None:
        verified = verify_store(records)
        verifications = verified.cases
        findings += [SealFinding(kind="foreign", detail=foreign_line(r)) for r in verified.foreign]
        findings += [
            SealFinding(kind="unindexed", detail=unindexed_line(r)) for r in verified.unindexed
        ]
    position = records.recorder.max_notification_id() or 0
    if position < parsed.position:
        findings.append(
            SealFinding(
                kind="position",
                detail=f"the log's position went back: sealed at {parsed.position}, now {position}",
            )
        )
    if case_id is not None:
        try:
            verifications = [verify_case(records, case_id)]
        except CaseNotFoundError:
            verifications = []
            if case_id not in parsed.cases:
                raise
    broken = {v.case_id: v for v in verifications if not v.ok}
    for sealed_id, sealed in parsed.cases.items():
        if case_id is None or sealed_id == case_id:
            finding = _against_seal(records, sealed_id, sealed) or _broken_where_sealed(
                broken.get(sealed_id), sealed
            )
            if finding is not None:
                findings.append(finding)
    return SealCheck(
        ok=not findings and all(v.ok for v in verifications),
        sealed_at=parsed.sealed_at,
        sealed_position=parsed.position,
        position=position,
        sealed_cases=len(parsed.cases),
        findings=findings,
        verifications=verifications,
        case_id=case_id,
    )


def _against_seal(records: CaseRecords, case_id: UUID, sealed: SealedCase) -> SealFinding | None:
    try:
        current = records.current_version(case_id)
    except CaseNotFoundError:
        return SealFinding(
            kind="deleted",
            case_id=case_id,
            detail=f"case deleted: sealed at version {sealed.version}, now absent from the log",
        )
    if current < sealed.version:
        return SealFinding(
            kind="truncated",
            case_id=case_id,
            detail=f"case truncated: sealed at version {sealed.version}, now at version {current}",
        )
    rows = records.index.case_rows(case_id, gt=sealed.version - 1, lte=sealed.version)
    stored: object = None
    if rows:
        try:
            stored = _entry(records, rows[0]).get("hash")
        except _Unreadable:
            stored = None
    if stored != sealed.hash:
        return SealFinding(
            kind="rewritten",
            case_id=case_id,
            detail=f"case rewritten: its hash at version {sealed.version} is not the sealed one",
        )
    return None


def _broken_where_sealed(broken: Verification | None, sealed: SealedCase) -> SealFinding | None:
    """A case whose chain breaks at or before its sealed version (an entry the seal attests was
    edited, deleted or moved, its hashes left as they were) no longer holds what was sealed,
    though its sealed hash is still stored at the sealed version."""
    bad = None if broken is None else broken.first_bad_version
    if broken is None or bad is None or bad > sealed.version:
        return None
    return SealFinding(
        kind="changed",
        case_id=broken.case_id,
        detail=f"case changed since the seal: it does not verify at version {bad}, at or "
        f"before its sealed version {sealed.version}",
    )


def default_seal_path(settings: Settings, position: int) -> Path:
    """`<data dir>/seals/seal-<position>.json`, never overwriting an earlier seal."""
    folder = settings.data_dir / "seals"
    path = folder / f"seal-{position}.json"
    n = 2
    while path.exists():
        path = folder / f"seal-{position}-{n}.json"
        n += 1
    return path


# --- the CLI's commands -------------------------------------------------------------------


def make_seal(settings: Settings, out: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """`casetrail seal`: seal the store and write the seal file; returns where, and the seal.

    Raises NoStore when there is no store to seal (before any key is made)."""
    require_store(settings)
    key_path = seal_key_path(settings)
    # Verification reports unreadable rows itself, version by version, whatever their cause.
    records = CaseRecords(settings, check_key=False)
    try:
        # A store read with the wrong key is refused as that, not sealed as damaged.
        problem = _key_problem(records)
        if problem is not None:
            raise UnreadableStore(problem)
        document = seal(records, key_path)
    finally:
        records.close()
    path = out or default_seal_path(settings, document["position"])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as e:
        raise SealError(f"cannot write the seal to {path}: {e.strerror}") from None
    return path, document


def read_seal(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise SealError(f"cannot read the seal {path}: {e}") from None
    except RecursionError:  # nested deeper than the parser goes: no seal of ours
        raise SealError(f"cannot read the seal {path}: nested too deep") from None
    if not isinstance(document, dict):
        raise SealError(f"{path} is not a {SEAL_FORMAT} document")
    return document


def run_verify(
    settings: Settings,
    *,
    case_id: UUID | None = None,
    seal_path: Path | None = None,
    public_key_file: Path | None = None,
) -> tuple[list[str], bool]:
    """`casetrail verify`: the report's lines, and whether nothing is wrong.

    Raises CaseNotFoundError for an unknown `case_id`, SealError for a seal not to be trusted,
    NoStore when the settings point at no store.
    """
    require_store(settings)
    public_key = None
    if seal_path is not None:
        key_file = public_key_file or public_key_path(settings.resolved_seal_key_path)
        if not key_file.exists():
            raise SealError(f"no public key at {key_file}: pass --public-key FILE")
        public_key = load_public_key(key_file)
    # Verification reports unreadable rows itself, version by version, whatever their cause.
    records = CaseRecords(settings, check_key=False)
    try:
        # A wrong key makes every row unreadable, which the report alone would show as damage:
        # it says first which setting to check, and still lists what it could not read.
        key_problem = _key_problem(records)
        if seal_path is None or public_key is None:
            if case_id is not None:
                verified = StoreVerification([verify_case(records, case_id)], [], [])
            else:
                verified = verify_store(records)
            lines = verification_report(
                verified.cases,
                every_case=case_id is not None,
                foreign=verified.foreign,
                unindexed=verified.unindexed,
            )
            ok = verified.ok
        else:
            check = check_seal(records, read_seal(seal_path), public_key, case_id=case_id)
            lines, ok = seal_report(check, every_case=case_id is not None), check.ok
    finally:
        records.close()
    if key_problem is not None:
        return [key_problem, *lines], False
    return lines, ok


def _key_problem(records: CaseRecords) -> str | None:
    try:
        records.check_key()
    except UnreadableStore as e:
        return str(e)
    except ValueError:  # the newest rows name no case: damage, which the report lists
        pass
    return None


# --- reports for the CLI ------------------------------------------------------------------


def verification_line(v: Verification) -> str:
    if v.ok:
        return f"case {v.case_id}: ok ({v.checked} versions)"
    return f"case {v.case_id}: BROKEN at version {v.first_bad_version}: {v.reason}"


def verification_report(
    verifications: list[Verification],
    *,
    every_case: bool,
    foreign: Sequence[StrayRow] = (),
    unindexed: Sequence[IndexRow] = (),
) -> list[str]:
    """One line per broken case (or per case when `every_case`), one per row that names no
    case, one per row of the event-id index whose event is not stored, then a summary."""
    lines = [verification_line(v) for v in verifications if every_case or not v.ok]
    lines += [foreign_line(row) for row in foreign]
    lines += [unindexed_line(row) for row in unindexed]
    broken = sum(not v.ok for v in verifications)
    versions = sum(v.checked for v in verifications)
    rows = [f"{len(foreign)} row(s) stored under no case id"] if foreign else []
    if unindexed:
        rows.append(f"{len(unindexed)} event-id index row(s) naming no stored event")
    if rows:
        lines.append(f"{len(verifications)} case(s) verified: {broken} broken; {'; '.join(rows)}")
    elif broken:
        lines.append(f"{len(verifications)} case(s) verified: {broken} broken")
    else:
        lines.append(
            f"{len(verifications)} case(s), {versions} version(s) verified: every chain intact"
        )
    return lines


def seal_report(check: SealCheck, *, every_case: bool) -> list[str]:
    lines = [
        f"seal of {check.sealed_at}: signature valid; {check.sealed_cases} case(s) sealed at "
        f"position {check.sealed_position}; the log is now at position {check.position}"
    ]
    lines += [
        f"finding: case {f.case_id}: {f.detail}" if f.case_id else f"finding: {f.detail}"
        for f in check.findings
    ]
    lines += verification_report(check.verifications, every_case=every_case)
    if check.findings:
        lines.append(f"{len(check.findings)} seal finding(s)")
    elif check.case_id is not None:
        lines.append(
            f"case {check.case_id} holds everything the seal attests of it "
            "(the seal's other cases were not checked)"
        )
    else:
        lines.append("the store holds everything the seal attests")
    return lines
