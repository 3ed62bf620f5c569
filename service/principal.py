"""Who is asking: the identity a verified token carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Principal:
    """A caller: person or system, the agency it acts for, its roles and (reviewers) its cases."""

    sub: str
    name: str
    agency: str
    roles: tuple[str, ...]
    cases: tuple[str, ...] = ()

    def recorded_by(self) -> dict[str, Any]:
        """What every event it writes records as `recorded_by`."""
        return {
            "sub": self.sub,
            "name": self.name,
            "agency": self.agency,
            "roles": list(self.roles),
        }
