"""Errors the use cases raise, each carrying what a client needs.

One table in `service.api.problems` maps them to HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


class CasetrailError(Exception):
    """Base of the errors a client can act on."""


@dataclass
class FieldProblem:
    pointer: str
    detail: str


class InvalidEvents(CasetrailError):
    """A batch that breaks a rule: each problem names the JSON pointer of what is wrong."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.pointer}: {p.detail}" for p in problems))
        self.problems = problems


class CaseNotFoundError(CasetrailError):
    """No such case (or, later, one the caller may not see)."""

    def __init__(self, case_id: UUID) -> None:
        super().__init__(f"case {case_id} not found")
        self.case_id = case_id


class CaseExistsError(CasetrailError):
    """A `POST /cases` for a case id that is already open, with new events."""

    def __init__(self, case_id: UUID) -> None:
        super().__init__(
            f"case {case_id} already exists: append to it with POST /cases/{case_id}/events"
        )
        self.case_id = case_id


class EventIdReused(CasetrailError):
    """Event ids already stored with different content, in another case, or mixed with new ones."""

    def __init__(self, detail: str, event_ids: list[str]) -> None:
        super().__init__(detail)
        self.event_ids = event_ids


class VersionMismatch(CasetrailError):
    """An `If-Match` precondition that does not hold."""

    def __init__(self, expected: int | None, current: int | None) -> None:
        super().__init__(
            f"the case is at version {current}, not {expected}"
            if current is not None
            else "the case does not exist"
        )
        self.expected = expected
        self.current = current


class Forbidden(CasetrailError):
    """A request the access policy refuses, with the reason the caller is given."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StoreBusy(CasetrailError):
    """The append could not win against concurrent writers in time; safe to retry."""

    retry_after_seconds = 1


class UnreadableEntry(CasetrailError):
    """A stored event that cannot be decrypted or decoded with this configuration."""

    def __init__(self) -> None:
        super().__init__(
            "a stored event cannot be read with this configuration (encryption key, or damage)"
        )


class LostEvent(UnreadableEntry):
    """An event id the event-id index holds, whose event the log does not hold where the index
    says, or cannot read there: written or deleted behind the service's back."""

    def __init__(self, event_ids: list[str]) -> None:
        CasetrailError.__init__(
            self,
            f"event(s) {', '.join(event_ids)}: the event-id index names an event the log does "
            "not hold or cannot read (`casetrail verify` names it)",
        )
        self.event_ids = event_ids


class DamagedCase(UnreadableEntry):
    """A case whose stored versions do not run on without a gap: a row was removed from the
    store behind the service's back."""

    def __init__(self, case_id: UUID) -> None:
        CasetrailError.__init__(
            self,
            f"case {case_id} cannot be read: a stored version is missing "
            f"(GET /cases/{case_id}/verify names it)",
        )
        self.case_id = case_id


class UnreadableStore(RuntimeError):
    """The store cannot be read with this configuration: the service must not start."""
