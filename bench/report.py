"""The results: rows of service-versus-baseline figures, the machine, Markdown and JSON output.

A ratio is the service's median divided by the baseline's median, both measured in the same run:
above 1 the service takes longer. Nothing here is asserted; a target is printed as PASS or MISS
for information: a time (the service's median under `target_ms`), a rate relative to the baseline
(the service's calls per second at least `rate_floor` times the baseline's), an absolute rate
(the service's units per second at least `min_rate`), or a ratio of medians (at most
`max_ratio`).
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bench.plan import Plan
from bench.timing import Timing


@dataclass(frozen=True)
class Row:
    """One service figure beside one baseline figure."""

    id: str  # stable: "1a", "2", "4c", ... (the smoke test looks for each)
    store: str
    measure: str
    service: Timing
    baseline_label: str
    baseline: Timing
    rate: bool = False  # show events/s (appends), or `unit`/s
    target_ms: float | None = None
    unit: str = "events"  # what each sample's `units` count, in the rate column
    rate_floor: float | None = None  # target: service rate ≥ this fraction of the baseline's
    min_rate: float | None = None  # target: service `unit`/s ≥ this
    baseline_unit: str | None = None  # what the baseline's `units` count, when not `unit`
    max_ratio: float | None = None  # target: service median / baseline median ≤ this

    @property
    def ratio(self) -> float:
        return self.service.median_ms / self.baseline.median_ms

    @property
    def rate_ratio(self) -> float:
        """The service's calls (units) per second over the baseline's: below 1 it does fewer
        (of different things when the baseline counts another unit)."""
        baseline = self.baseline.per_second
        return self.service.per_second / baseline if baseline else 0.0

    @property
    def verdict(self) -> str:
        if self.min_rate is not None:
            met = "PASS" if self.service.per_second >= self.min_rate else "MISS"
            return f"{met} (≥{self.min_rate:,.0f} {self.unit}/s)"
        if self.rate_floor is not None:
            met = "PASS" if self.rate_ratio >= self.rate_floor else "MISS"
            return (
                f"{met} ({self.rate_ratio:.2f}x the baseline's {self.unit}/s; "
                f"target ≥{self.rate_floor:g}x)"
            )
        if self.max_ratio is not None:
            met = "PASS" if self.ratio <= self.max_ratio else "MISS"
            return f"{met} (ratio ≤{self.max_ratio:g}x)"
        if self.target_ms is None:
            return ""
        met = "PASS" if self.service.median_ms < self.target_ms else "MISS"
        return f"{met} (<{self.target_ms:g} ms)"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "store": self.store,
            "measure": self.measure,
            "service": self.service.as_dict(),
            "baseline_label": self.baseline_label,
            "baseline": self.baseline.as_dict(),
            "ratio": round(self.ratio, 3),
            "unit": self.unit,
            "baseline_unit": self.baseline_unit or self.unit,
            "rate_ratio": round(self.rate_ratio, 3),
            "target_ms": self.target_ms,
            "rate_floor": self.rate_floor,
            "min_rate": self.min_rate,
            "max_ratio": self.max_ratio,
            "target": self.verdict or None,
        }


@dataclass
class Report:
    machine: dict[str, str]
    plan: Plan
    rows: list[Row]
    notes: list[str]

    def markdown(self) -> str:
        lines = ["# Casetrail benchmark", "", *_machine_lines(self.machine), ""]
        lines += [*_table(self.rows), ""]
        lines += [
            "Ratio = service median / baseline median (above 1: the service takes longer).",
            "",
        ]
        lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines).rstrip() + "\n"

    def as_dict(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "plan": self.plan.as_dict(),
            "rows": [row.as_dict() for row in self.rows],
            "notes": self.notes,
        }

    def write(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.md").write_text(self.markdown())
        (out / "results.json").write_text(json.dumps(self.as_dict(), indent=2) + "\n")


HEADER = (
    "| # | store | service | n | median ms | p95 ms | events/s "
    "| baseline (same run) | n | median ms | p95 ms | events/s | ratio | target |"
)


def _table(rows: list[Row]) -> list[str]:
    lines = [HEADER, "|" + "---|" * HEADER.count(" | ") + "---|"]
    for row in rows:
        lines.append(
            "| "
            + " | ".join(
                [
                    row.id,
                    row.store,
                    row.measure,
                    *_figures(row.service, row.rate, row.unit),
                    row.baseline_label,
                    *_figures(row.baseline, row.rate, row.baseline_unit or row.unit),
                    f"{row.ratio:.2f}x",
                    row.verdict,
                ]
            )
            + " |"
        )
    return lines


def _figures(timing: Timing, rate: bool, unit: str) -> list[str]:
    per_second = f"{timing.per_second:,.0f}"
    if unit != "events":  # the column is events/s: name any other unit in the cell
        per_second += f" {unit}/s"
    return [
        str(timing.n),
        f"{timing.median_ms:.2f}",
        f"{timing.p95_ms:.2f}",
        per_second if rate else "",
    ]


def _machine_lines(machine: dict[str, str]) -> list[str]:
    return [f"- **{key}**: {value}" for key, value in machine.items()]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def machine(postgres: str) -> dict[str, str]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "CPU": _cpu_model(),
        "cores": f"{os.cpu_count()} ({usable} usable)",
        "Python": platform.python_version(),
        "eventsourcing": _package("eventsourcing"),
        "FastAPI": _package("fastapi"),
        "uvicorn": _package("uvicorn"),
        "SQLite": sqlite3.sqlite_version,
        "PostgreSQL": postgres,
    }
