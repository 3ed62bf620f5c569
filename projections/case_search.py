"""Searching the case list (`GET /cases`): filters, access, and cursor pagination.

Ordering. By default cases come in creation order (the position of their `CaseOpened` in the
global log) and the cursor is that position: a page asks for cases created after the cursor. The
runner applies the log in order, so every case created at or before a projected case is already
projected: walking the pages never skips or repeats a case, and cases opened during the walk come
at its end. `sort="last_activity"` (most recent first; cursor `<last_activity>|<position>`) is
offered too, but a case written to during a walk moves, so it can be skipped or seen twice: it is
not stable under concurrent writes.

Access (DESIGN.md "Who may see what"), judged at request time by `Visibility`: the owning
authority sees its cases in full; a reviewer the cases its token names (all with `*`); a partner
agency the cases it is involved in, until `access_years` after its involvement ended, through the
`partner_*` columns (every restricted entry withheld), so a search never matches on what a
partner may not see.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    exists,
    false,
    or_,
    select,
    true,
)

from domain.access import Caller
from domain.moments import LONDON, years_after
from projections.cases import CaseList, CaseTables, identifier_key, name_key
from projections.store import ReadModelStore

Sort = Literal["created", "last_activity"]
DEFAULT_LIMIT = 50
_VIEW_FIELDS = ("child_name", "child_name_key", "date_of_birth", "allocated_worker", "team")


class BadCursor(ValueError):
    """A cursor this listing did not hand out (or one for another sort)."""


@dataclass(frozen=True)
class Visibility:
    """Which cases a caller may list, and in which view."""

    agency: str | None = None  # owner (full view) or involved partner (partner view)
    partner_cutoff: date | None = None  # partners whose involvement ended before: no access
    case_ids: frozenset[str] = frozenset()  # a reviewer's named cases (full view)
    all_cases: bool = False  # an inspectorate reviewer (`*`)

    @classmethod
    def of(cls, caller: Caller, *, now: datetime, access_years: int) -> Visibility:
        """The visibility `domain.access.decide` would grant, case by case, now."""
        reviewer = caller.has("reviewer")
        return cls(
            # A reviewer-only token reads the cases it names, whatever its agency.
            agency=caller.agency if caller.roles - {"reviewer"} else None,
            partner_cutoff=partner_cutoff(now, access_years),
            case_ids=frozenset(caller.cases - {"*"}) if reviewer else frozenset(),
            all_cases=reviewer and "*" in caller.cases,
        )

    def sees_in_full(self, case_id: str, local_authority: str) -> bool:
        """Whether the caller sees this case in full (its own authority's, or a reviewer's)."""
        return self.all_cases or local_authority == self.agency or case_id in self.case_ids


def partner_cutoff(now: datetime, access_years: int) -> date:
    """The earliest London end date of an involvement that still gives access now: a partner
    keeps access until the end of the day `access_years` after its involvement ended."""
    today = now.astimezone(LONDON).date()
    day = years_after(today, -access_years) - timedelta(days=2)
    while years_after(day, access_years) < today:
        day += timedelta(days=1)
    return day


@dataclass(frozen=True)
class CaseFilters:
    """The list's search parameters; each one given narrows the list."""

    q: str | None = None  # child's name, case-insensitive substring
    dob: str | None = None  # YYYY-MM-DD
    identifier: str | None = None  # scheme:value (value compared without spaces, any case)
    status: str | None = None
    plan: str | None = None
    worker: str | None = None
    team: str | None = None
    agency: str | None = None  # an involved partner agency (any involvement, past or present)


@dataclass(frozen=True)
class CaseSummary:
    """One case in the list, in the view the caller may have."""

    case_id: str
    created_position: int
    view: Literal["full", "partner"]
    child_name: str | None
    date_of_birth: str | None
    identifiers: list[dict[str, str]]
    status: str
    plan: str
    allocated_worker: str | None
    team: str | None
    local_authority: str
    involved_agencies: list[str]
    last_activity: str
    version: int


@dataclass(frozen=True)
class CasePage:
    """A page of the list, the cursor of the next page (None: no more now) and the read
    model's position the page was read at (`X-Projection-Position`)."""

    cases: list[CaseSummary]
    next_cursor: str | None
    position: int
    case_ids: list[str] = field(default_factory=list)  # for the audit


class CaseSearch:
    """Queries over the case list's live tables."""

    def __init__(
        self, store: ReadModelStore, model: CaseList | None = None, *, ensure: bool = True
    ) -> None:
        """With `ensure`, create the tables if no runner has yet (a write: do it once, at
        start-up, not per request)."""
        self.store = store
        self.model = model or CaseList()
        self.tables: CaseTables = store.ensure(self.model) if ensure else store.tables(self.model)

    def list_cases(
        self,
        filters: CaseFilters = CaseFilters(),
        *,
        visible: Visibility | None = None,
        after_cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
        sort: Sort = "created",
    ) -> CasePage:
        """A page of the cases `visible` may see that match `filters` (everything when
        `visible` is None: for trusted callers only); at most `limit`, which the caller
        clamps (the service to `CASETRAIL_MAX_PAGE`)."""
        limit = max(1, limit)
        cases = self.tables.cases
        full_view = _full_view(self.tables, visible)
        own = _own(self.tables, visible)
        viewer = visible.agency if visible is not None else None
        view = {name: _view_column(self.tables, name, full_view, own) for name in _VIEW_FIELDS}
        query = select(
            cases,
            (true() if full_view is None else full_view).label("full_view"),
            (false() if own is None else own.c.case_id.is_not(None)).label("own_view"),
            *(column.label(f"view_{name}") for name, column in view.items()),
        ).where(
            _access(self.tables, visible),
            *_filters(self.tables, filters, view, full_view, own, viewer),
        )
        if own is not None:
            query = query.select_from(
                cases.outerjoin(own, and_(own.c.case_id == cases.c.case_id, own.c.agency == viewer))
            )
        query = _page(query, self.tables, sort, after_cursor).limit(limit + 1)
        with self.store.begin_read() as conn:
            position = self.store.position(conn, self.model.name) or 0
            rows = [row._mapping for row in conn.execute(query)]
            more = len(rows) > limit
            rows = rows[:limit]
            children = self._children(
                conn,
                [r["case_id"] for r in rows],
                [r["case_id"] for r in rows if r["own_view"] and not r["full_view"]],
                viewer,
            )
        summaries = [_summary(row, children) for row in rows]
        next_cursor = _cursor(rows[-1], sort) if more and rows else None
        return CasePage(summaries, next_cursor, position, [s.case_id for s in summaries])

    def _children(
        self,
        conn: Connection,
        case_ids: Sequence[str],
        own_ids: Sequence[str],
        agency: str | None,
    ) -> dict[str, _Children]:
        """The listed cases' identifiers and agencies; for `own_ids`, the caller's (`agency`)
        own view of them."""
        found = {c: _Children([], [], [], set()) for c in case_ids}
        if not case_ids:
            return found
        idents = self.tables.identifiers
        for row in conn.execute(
            select(idents)
            .where(idents.c.case_id.in_(case_ids))
            .order_by(idents.c.case_id, idents.c.seq)
        ):
            found[row.case_id].identifiers.append(dict(row._mapping))
        for table, lists in (
            (self.tables.agencies, {c: f.agencies for c, f in found.items()}),
            (self.tables.partner_agencies, {c: f.partner_agencies for c, f in found.items()}),
        ):
            for row in conn.execute(
                select(table.c.case_id, table.c.agency)
                .where(table.c.case_id.in_(case_ids))
                .order_by(table.c.case_id, table.c.involved_from, table.c.agency)
            ):
                lists[row.case_id].append(row.agency)
        if own_ids:
            own_idents, own_agencies = self.tables.own_identifiers, self.tables.own_agencies
            for case_id in own_ids:  # its own view's agencies replace the partner rows'
                found[case_id].partner_agencies.clear()
            for row in conn.execute(
                select(own_idents.c.case_id, own_idents.c.seq).where(
                    own_idents.c.case_id.in_(own_ids), own_idents.c.agency == agency
                )
            ):
                found[row.case_id].own_seqs.add(row.seq)
            for row in conn.execute(
                select(own_agencies.c.case_id, own_agencies.c.agency)
                .where(own_agencies.c.case_id.in_(own_ids), own_agencies.c.viewer == agency)
                .order_by(
                    own_agencies.c.case_id, own_agencies.c.involved_from, own_agencies.c.agency
                )
            ):
                found[row.case_id].partner_agencies.append(row.agency)
        return found


@dataclass(frozen=True)
class _Children:
    """A listed case's identifiers and agencies (in full, and as a partner is shown them: for
    a partner with its own view of the case, that view's agencies and identifiers' `seq`)."""

    identifiers: list[dict[str, Any]]
    agencies: list[str]
    partner_agencies: list[str]
    own_seqs: set[int]


def list_cases(
    store: ReadModelStore,
    *,
    q: str | None = None,
    dob: str | None = None,
    identifier: str | None = None,
    status: str | None = None,
    plan: str | None = None,
    worker: str | None = None,
    team: str | None = None,
    agency: str | None = None,
    visible: Visibility | None = None,
    after_cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    sort: Sort = "created",
) -> CasePage:
    """`CaseSearch(store).list_cases(...)` with the filters as keywords (the tables must
    exist: a runner or a `CaseSearch` made them)."""
    filters = CaseFilters(q, dob, identifier, status, plan, worker, team, agency)
    return CaseSearch(store, ensure=False).list_cases(
        filters, visible=visible, after_cursor=after_cursor, limit=limit, sort=sort
    )


# --- query parts ---------------------------------------------------------------------------


def _full_view(tables: CaseTables, visible: Visibility | None) -> ColumnElement[bool] | None:
    """Whether a row is seen in full (owner, named reviewer) rather than as a partner; None
    when every row is (no visibility given, or an inspectorate)."""
    cases = tables.cases
    if visible is None or visible.all_cases:
        return None
    terms: list[ColumnElement[bool]] = []
    if visible.agency is not None:
        terms.append(cases.c.local_authority == visible.agency)
    if visible.case_ids:
        terms.append(cases.c.case_id.in_(sorted(visible.case_ids)))
    return or_(*terms) if terms else false()


def _own(tables: CaseTables, visible: Visibility | None) -> Any:
    """The caller's own views of cases (joined on its agency), if it may be a partner of some:
    a partner that wrote restricted entries sees them, and is listed by its own view."""
    if visible is None or visible.all_cases or visible.agency is None:
        return None
    return tables.own_views


def _view_column(
    tables: CaseTables, name: str, full_view: ColumnElement[bool] | None, own: Any
) -> Any:
    cases = tables.cases
    if full_view is None:
        return cases.c[name]
    partner = cases.c[f"partner_{name}"]
    if own is None:
        return case((full_view, cases.c[name]), else_=partner)
    return case(
        (full_view, cases.c[name]), (own.c.case_id.is_not(None), own.c[name]), else_=partner
    )


def _access(tables: CaseTables, visible: Visibility | None) -> ColumnElement[bool]:
    full_view = _full_view(tables, visible)
    if visible is None or full_view is None:
        return true()
    cases, agencies = tables.cases, tables.agencies
    terms = [full_view]
    if visible.agency is not None:
        involved = agencies.c.agency == visible.agency
        if visible.partner_cutoff is not None:
            involved = and_(
                involved,
                or_(
                    agencies.c.involved_to_date.is_(None),
                    agencies.c.involved_to_date >= visible.partner_cutoff.isoformat(),
                ),
            )
        terms.append(exists().where(agencies.c.case_id == cases.c.case_id, involved))
    return or_(*terms)


def _filters(
    tables: CaseTables,
    filters: CaseFilters,
    view: dict[str, Any],
    full_view: ColumnElement[bool] | None,
    own: Any,
    viewer: str | None,
) -> list[ColumnElement[bool]]:
    cases = tables.cases
    # A partner with its own view of a case is shown that view's identifiers and agencies.
    no_own = true() if own is None else own.c.case_id.is_(None)
    where: list[ColumnElement[bool]] = []
    if filters.q:
        pattern = "%" + _escape_like(name_key(filters.q.strip())) + "%"
        where.append(view["child_name_key"].like(pattern, escape="\\"))
    if filters.dob:
        where.append(view["date_of_birth"] == filters.dob)
    if filters.status:
        where.append(cases.c.status == filters.status)
    if filters.plan:
        where.append(cases.c.plan == filters.plan)
    if filters.worker:
        where.append(view["allocated_worker"] == filters.worker)
    if filters.team:
        where.append(view["team"] == filters.team)
    if filters.agency:
        agencies, shown = tables.agencies, tables.partner_agencies
        involved = exists().where(
            agencies.c.case_id == cases.c.case_id, agencies.c.agency == filters.agency
        )
        shown_to_partners = and_(
            no_own,
            exists().where(shown.c.case_id == cases.c.case_id, shown.c.agency == filters.agency),
        )
        terms = [and_(full_view, involved), shown_to_partners] if full_view is not None else []
        if own is not None:
            own_agencies = tables.own_agencies
            terms.append(
                exists().where(
                    own_agencies.c.case_id == cases.c.case_id,
                    own_agencies.c.viewer == viewer,
                    own_agencies.c.agency == filters.agency,
                )
            )
        where.append(involved if full_view is None else or_(*terms))
    if filters.identifier:
        scheme, value = parse_identifier(filters.identifier)
        idents, own_idents = tables.identifiers, tables.own_identifiers
        visible_to: list[ColumnElement[bool]] = (
            [] if full_view is None else [full_view, and_(no_own, idents.c.partner_visible)]
        )
        if own is not None:
            visible_to.append(
                exists().where(
                    own_idents.c.case_id == idents.c.case_id,
                    own_idents.c.agency == viewer,
                    own_idents.c.seq == idents.c.seq,
                )
            )
        where.append(
            exists().where(
                idents.c.case_id == cases.c.case_id,
                idents.c.scheme == scheme,
                idents.c.value_key == identifier_key(value),
                true() if full_view is None else or_(*visible_to),
            )
        )
    return where


def parse_identifier(text: str) -> tuple[str, str]:
    """`scheme:value` (the value may itself contain colons); ValueError if malformed."""
    scheme, sep, value = text.partition(":")
    if not sep or not scheme.strip() or not value.strip():
        raise ValueError("identifier must be scheme:value, e.g. nhs_number:9434765919")
    return scheme.strip(), value.strip()


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _page(query: Any, tables: CaseTables, sort: Sort, after: str | None) -> Any:
    cases = tables.cases
    if sort == "created":
        if after is not None:
            query = query.where(cases.c.created_position > _created_cursor(after))
        return query.order_by(cases.c.created_position)
    if sort != "last_activity":
        raise ValueError(f"unknown sort {sort!r}: created or last_activity")
    if after is not None:
        activity, position = _activity_cursor(after)
        query = query.where(
            or_(
                cases.c.last_activity < activity,
                and_(cases.c.last_activity == activity, cases.c.created_position < position),
            )
        )
    return query.order_by(cases.c.last_activity.desc(), cases.c.created_position.desc())


_POSITION = re.compile(r"[0-9]{1,18}")
# A recording time as the read model stores it (`format_utc`).
_ACTIVITY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")


def _created_cursor(text: str) -> int:
    if not _POSITION.fullmatch(text):
        raise BadCursor("a cursor of the creation-ordered list is a position (digits)")
    return int(text)


def _activity_cursor(text: str) -> tuple[str, int]:
    activity, sep, position = text.rpartition("|")
    if not sep or not _POSITION.fullmatch(position) or not _ACTIVITY.fullmatch(activity):
        raise BadCursor("a cursor of the last_activity list is <last_activity>|<position>")
    return activity, int(position)


def _cursor(row: Any, sort: Sort) -> str:
    if sort == "created":
        return str(row["created_position"])
    return f"{row['last_activity']}|{row['created_position']}"


def _summary(row: Any, children: dict[str, _Children]) -> CaseSummary:
    full = bool(row["full_view"])
    own = bool(row["own_view"]) and not full
    found = children[row["case_id"]]
    identifiers = found.identifiers
    return CaseSummary(
        case_id=row["case_id"],
        created_position=int(row["created_position"]),
        view="full" if full else "partner",
        child_name=row["view_child_name"],
        date_of_birth=row["view_date_of_birth"],
        identifiers=[
            {"scheme": i["scheme"], "value": i["value"]}
            for i in identifiers
            if full or (i["seq"] in found.own_seqs if own else i["partner_visible"])
        ],
        status=row["status"],
        plan=row["plan"],
        allocated_worker=row["view_allocated_worker"],
        team=row["view_team"],
        local_authority=row["local_authority"],
        involved_agencies=found.agencies if full else found.partner_agencies,
        last_activity=row["last_activity"],
        version=int(row["version"]),
    )
