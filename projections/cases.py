"""The case list read model (`GET /cases`): one row per case, with its identifiers and agencies.

A case's state depends on its whole stream (corrections, retractions, business-time order), so
when events of a case arrive its rows are recomputed from the case's events up to the newest one
in the page: once per case per page, and always from exactly the log up to the model's position.
The fold sees everything recorded, whenever it happened (`HORIZON` for both time axes), so a row is
a function of the log alone: an incremental run and a rebuild from the log give the same rows.

Each row also holds what a partner agency may see of the searchable fields (`partner_*`, and
`partner_visible` on identifiers): the fold with every restricted entry withheld. A partner that
wrote restricted entries itself sees them in its per-case views, so for each such agency whose
view differs the case also has an own view (`casetrail_case_own_*`): the fold with only the other
agencies' restricted entries withheld, which its list rows and searches use instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from domain.access import withheld_from
from domain.envelope import RecordedEvent
from domain.moments import Moment, format_utc
from domain.state import CaseState, case_state
from projections.model import LogReader
from projections.per_case import PerCaseModel, replace_rows

CASES = "casetrail_cases"
IDENTIFIERS = "casetrail_case_identifiers"
AGENCIES = "casetrail_case_agencies"
PARTNER_AGENCIES = "casetrail_case_partner_agencies"
OWN_VIEWS = "casetrail_case_own_views"
OWN_IDENTIFIERS = "casetrail_case_own_identifiers"
OWN_AGENCIES = "casetrail_case_own_agencies"

# Both time axes of the fold: everything recorded, whenever it happened.
HORIZON = datetime(9999, 1, 1, tzinfo=UTC)
_CHUNK = 500


@dataclass(frozen=True)
class CaseTables:
    cases: Table
    identifiers: Table
    agencies: Table
    partner_agencies: Table
    own_views: Table
    own_identifiers: Table
    own_agencies: Table

    def all(self) -> tuple[Table, ...]:
        return (
            self.cases,
            self.identifiers,
            self.agencies,
            self.partner_agencies,
            self.own_views,
            self.own_identifiers,
            self.own_agencies,
        )


def case_tables(metadata: MetaData, suffix: str = "") -> CaseTables:
    """The case list's tables (and their indexes) named with `suffix`."""
    cases = Table(
        CASES + suffix,
        metadata,
        Column("case_id", String(36), nullable=False),
        Column("created_position", BigInteger, nullable=False),
        Column("local_authority", String(200), nullable=False),
        Column("child_name", Text),
        Column("child_name_key", Text),
        Column("date_of_birth", String(10)),
        Column("status", String(16), nullable=False),
        Column("plan", String(24), nullable=False),
        Column("allocated_worker", Text),
        Column("team", Text),
        # What a partner agency sees: the fold with every restricted entry withheld.
        Column("partner_child_name", Text),
        Column("partner_child_name_key", Text),
        Column("partner_date_of_birth", String(10)),
        Column("partner_allocated_worker", Text),
        Column("partner_team", Text),
        Column("last_activity", String(32), nullable=False),
        Column("version", Integer, nullable=False),
        PrimaryKeyConstraint("case_id", name=f"{CASES}_pkey{suffix}"),
        Index(f"{CASES}_by_created{suffix}", "created_position", unique=True),
        Index(f"{CASES}_by_activity{suffix}", "last_activity", "created_position"),
        Index(f"{CASES}_by_authority{suffix}", "local_authority", "created_position"),
        Index(f"{CASES}_by_dob{suffix}", "date_of_birth"),
        Index(f"{CASES}_by_worker{suffix}", "allocated_worker"),
        Index(f"{CASES}_by_team{suffix}", "team"),
    )
    identifiers = Table(
        IDENTIFIERS + suffix,
        metadata,
        Column("case_id", String(36), nullable=False),
        Column("seq", Integer, nullable=False),
        Column("scheme", String(100), nullable=False),
        Column("value", Text, nullable=False),
        Column("value_key", Text, nullable=False),
        Column("partner_visible", Boolean, nullable=False),
        PrimaryKeyConstraint("case_id", "seq", name=f"{IDENTIFIERS}_pkey{suffix}"),
        Index(f"{IDENTIFIERS}_by_value{suffix}", "scheme", "value_key"),
    )
    agencies = Table(
        AGENCIES + suffix,
        metadata,
        Column("case_id", String(36), nullable=False),
        Column("agency", String(200), nullable=False),
        Column("involved_from", String(40), nullable=False),
        Column("involved_to", String(40)),
        # The London date the involvement ended (null: ongoing), for partner access.
        Column("involved_to_date", String(10)),
        PrimaryKeyConstraint("case_id", "agency", name=f"{AGENCIES}_pkey{suffix}"),
        Index(f"{AGENCIES}_by_agency{suffix}", "agency", "case_id"),
    )
    # The agencies a partner is shown: those the fold with every restricted entry withheld
    # names. An agency named only in restricted entries is involved (`agencies` gives it
    # access), but other partners are not told of it.
    partner_agencies = Table(
        PARTNER_AGENCIES + suffix,
        metadata,
        Column("case_id", String(36), nullable=False),
        Column("agency", String(200), nullable=False),
        Column("involved_from", String(40), nullable=False),
        PrimaryKeyConstraint("case_id", "agency", name=f"{PARTNER_AGENCIES}_pkey{suffix}"),
        Index(f"{PARTNER_AGENCIES}_by_agency{suffix}", "agency", "case_id"),
    )
    # A partner that wrote restricted entries sees them: where that changes what it is shown,
    # its own view of the case replaces the partner columns and rows above for it alone.
    own_views = Table(
        OWN_VIEWS + suffix,
        metadata,
        Column("case_id", String(36), nullable=False),
        Column("agency", String(200), nullable=False),
        Column("child_name", Text),
        Column("child_name_key", Text),
        Column("date_of_birth", String(10)),
        Column("allocated_worker", Text),
        Column("team", Text),
        PrimaryKeyConstraint("case_id", "agency", name=f"{OWN_VIEWS}_pkey{suffix}"),
    )
    # The identifiers (by `seq`) and the agencies its own view shows.
    own_identifiers = Table(
        OWN_IDENTIFIERS + suffix,
        metadata,
        Column("case_id", String(36), nullable=False),
        Column("agency", String(200), nullable=False),
        Column("seq", Integer, nullable=False),
        PrimaryKeyConstraint("case_id", "agency", "seq", name=f"{OWN_IDENTIFIERS}_pkey{suffix}"),
    )
    own_agencies = Table(
        OWN_AGENCIES + suffix,
        metadata,
        Column("case_id", String(36), nullable=False),
        Column("viewer", String(200), nullable=False),
        Column("agency", String(200), nullable=False),
        Column("involved_from", String(40), nullable=False),
        PrimaryKeyConstraint("case_id", "viewer", "agency", name=f"{OWN_AGENCIES}_pkey{suffix}"),
        Index(f"{OWN_AGENCIES}_by_agency{suffix}", "viewer", "agency", "case_id"),
    )
    return CaseTables(
        cases,
        identifiers,
        agencies,
        partner_agencies,
        own_views,
        own_identifiers,
        own_agencies,
    )


def name_key(name: str) -> str:
    """The searchable form of a name (case-insensitive substring search)."""
    return name.casefold()


def identifier_key(value: str) -> str:
    """The searchable form of an identifier: no whitespace, upper case ("943 476 5919")."""
    return "".join(value.split()).upper()


@dataclass(frozen=True)
class CaseRows:
    """A case's rows in the case list's tables."""

    case: dict[str, Any]
    identifiers: list[dict[str, Any]]
    agencies: list[dict[str, Any]]
    partner_agencies: list[dict[str, Any]]
    own_views: list[dict[str, Any]] = field(default_factory=list)
    own_identifiers: list[dict[str, Any]] = field(default_factory=list)
    own_agencies: list[dict[str, Any]] = field(default_factory=list)


def case_rows(case_id: UUID, events: Sequence[RecordedEvent]) -> CaseRows:
    """The rows of a case from its events (versions 1..n)."""
    full = case_state(case_id, events, as_of=HORIZON, known_at=HORIZON)
    restricted = withheld_from(events, None)
    partner = (
        case_state(case_id, events, as_of=HORIZON, known_at=HORIZON, withheld=restricted)
        if restricted
        else full
    )
    key = str(case_id)
    name, partner_name = _text(full.child.get("name")), _text(partner.child.get("name"))
    created = events[0].position
    if created is None:  # never: rows read from the log carry their position
        raise ValueError(f"case {key}: its first event has no position")
    case = {
        "case_id": key,
        "created_position": created,
        "local_authority": full.local_authority,
        "child_name": name,
        "child_name_key": name_key(name) if name is not None else None,
        "date_of_birth": _text(full.child.get("date_of_birth")),
        "status": full.status,
        "plan": full.plan,
        "allocated_worker": full.allocated_worker,
        "team": full.team,
        "partner_child_name": partner_name,
        "partner_child_name_key": name_key(partner_name) if partner_name is not None else None,
        "partner_date_of_birth": _text(partner.child.get("date_of_birth")),
        "partner_allocated_worker": partner.allocated_worker,
        "partner_team": partner.team,
        "last_activity": format_utc(max(e.recorded_at for e in events)),
        "version": full.version,
    }
    partner_agencies = [
        {"case_id": key, "agency": i.agency, "involved_from": i.involved_from}
        for i in partner.involved_agencies
    ]
    rows = CaseRows(case, _identifiers(key, full, partner), _agencies(key, full), partner_agencies)
    partner_view = _view(partner, _shown(full, partner))
    # Agencies that wrote restricted entries (the owning authority sees the case in full).
    for agency in sorted({e.agency for e in events if e.sensitivity == "restricted"}):
        if agency != full.local_authority:
            _add_own_view(rows, case_id, events, full, partner_view, agency)
    return rows


def _add_own_view(
    rows: CaseRows,
    case_id: UUID,
    events: Sequence[RecordedEvent],
    full: CaseState,
    partner_view: tuple[Any, ...],
    agency: str,
) -> None:
    """Add `agency`'s own view of the case (the fold with only the other agencies' restricted
    entries withheld) to `rows`, if it shows something the partner view does not."""
    own = case_state(
        case_id, events, as_of=HORIZON, known_at=HORIZON, withheld=withheld_from(events, agency)
    )
    shown = _shown(full, own)
    view = _view(own, shown)
    if view == partner_view:
        return
    key = str(case_id)
    name = _text(own.child.get("name"))
    rows.own_views.append(
        {
            "case_id": key,
            "agency": agency,
            "child_name": name,
            "child_name_key": name_key(name) if name is not None else None,
            "date_of_birth": _text(own.child.get("date_of_birth")),
            "allocated_worker": own.allocated_worker,
            "team": own.team,
        }
    )
    rows.own_identifiers.extend(
        {"case_id": key, "agency": agency, "seq": seq}
        for seq, visible in enumerate(shown, start=1)
        if visible
    )
    rows.own_agencies.extend(
        {"case_id": key, "viewer": agency, "agency": i.agency, "involved_from": i.involved_from}
        for i in own.involved_agencies
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _shown(full: CaseState, view: CaseState) -> tuple[bool, ...]:
    """For each of the case's identifiers (in order), whether `view` (a fold with some entries
    withheld) shows it."""
    shown: dict[tuple[str, str], int] = {}
    for ident in view.identifiers:
        shown[(ident.scheme, ident.value)] = shown.get((ident.scheme, ident.value), 0) + 1
    visible = []
    for ident in full.identifiers:
        pair = (ident.scheme, ident.value)
        visible.append(shown.get(pair, 0) > 0)
        if visible[-1]:
            shown[pair] -= 1
    return tuple(visible)


def _view(state: CaseState, shown: tuple[bool, ...]) -> tuple[Any, ...]:
    """What a list row shows from a fold: the searchable fields, which identifiers, and the
    agencies with their start."""
    return (
        state.child.get("name"),
        state.child.get("date_of_birth"),
        state.allocated_worker,
        state.team,
        shown,
        tuple((i.agency, i.involved_from) for i in state.involved_agencies),
    )


def _identifiers(key: str, full: CaseState, partner: CaseState) -> list[dict[str, Any]]:
    rows = []
    for seq, (ident, visible) in enumerate(
        zip(full.identifiers, _shown(full, partner), strict=True), start=1
    ):
        rows.append(
            {
                "case_id": key,
                "seq": seq,
                "scheme": ident.scheme,
                "value": ident.value,
                "value_key": identifier_key(ident.value),
                "partner_visible": visible,
            }
        )
    return rows


def _agencies(key: str, full: CaseState) -> list[dict[str, Any]]:
    return [
        {
            "case_id": key,
            "agency": involvement.agency,
            "involved_from": involvement.involved_from,
            "involved_to": involvement.involved_to,
            "involved_to_date": (
                Moment.parse(involvement.involved_to).london_date.isoformat()
                if involvement.involved_to
                else None
            ),
        }
        for involvement in full.involved_agencies
    ]


class CaseList(PerCaseModel[CaseTables, CaseRows]):
    """The case list: rows recomputed per touched case, once per page."""

    name = "cases"

    def define(self, metadata: MetaData, suffix: str = "") -> CaseTables:
        return case_tables(metadata, suffix)

    def table_list(self, tables: CaseTables) -> Sequence[Table]:
        return tables.all()

    def rows_of(self, case_id: UUID, events: Sequence[RecordedEvent], log: LogReader) -> CaseRows:
        return case_rows(case_id, events)

    def write(self, conn: Connection, tables: CaseTables, rows: Sequence[CaseRows]) -> None:
        replace_rows(
            conn,
            [r.case["case_id"] for r in rows],
            [
                (tables.cases, [r.case for r in rows]),
                (tables.identifiers, [i for r in rows for i in r.identifiers]),
                (tables.agencies, [a for r in rows for a in r.agencies]),
                (tables.partner_agencies, [a for r in rows for a in r.partner_agencies]),
                (tables.own_views, [v for r in rows for v in r.own_views]),
                (tables.own_identifiers, [i for r in rows for i in r.own_identifiers]),
                (tables.own_agencies, [a for r in rows for a in r.own_agencies]),
            ],
        )
