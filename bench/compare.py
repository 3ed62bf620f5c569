"""Row 2 of two builds: this checkout's and another's, one server at a time, alternated.

`python -m bench.compare OTHER [--runs 4] [--batches 100]` measures row 2 (100-event appends
against the library's 100-event transactions, interleaved, on SQLite) with this checkout's
server and with the server of the checkout at `OTHER` (a git worktree of another commit), each
run on a fresh store with a server of its own, the builds alternated (ABBA...), so a machine
that speeds up or slows down over the runs weighs on both alike. It prints each run's ratio to
the library and, per build, their mean.

One server at a time, because two servers measured side by side in one run share the disk's
flushes: each one's commits wait on the other's, which hides what a build saves at commit (a
build without the unique index of event ids: 1.01x the current one side by side, 1.06x one at
a time). Each run first opens small cases and sends them one-event appends, as the full
benchmark's row 1 does before row 2, so both builds append to a store of the same shape.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench import library, over_http
from bench.server import mint_token, running_service
from bench.stores import sqlite_store
from bench.timing import interleave, time_loop

REPO = Path(__file__).resolve().parent.parent
BATCH = 100
SMALL_CASES, SMALL_APPENDS = 20, 200


def row_2(checkout: Path, batches: int) -> float:
    """One run of row 2 with the server of `checkout`: its events/s over the library's."""
    with tempfile.TemporaryDirectory(prefix="casetrail-compare-") as tmp:
        root = Path(tmp)
        with sqlite_store(root) as store:
            env = store.service_environment()
            app = library.open_library(store.library)
            try:
                with running_service(
                    env, root / "server.log", mint_token(env), checkout=checkout
                ) as service:
                    small = over_http.open_cases(service, SMALL_CASES)
                    time_loop(over_http.single_appends(service, small, SMALL_APPENDS))
                    case = over_http.open_cases(service, 1)[0]
                    builder = library.BatchBuilder(app, batches, BATCH)
                    appends, saves = interleave(
                        over_http.batch_appends(service, case, batches, BATCH), builder.loop
                    )
            finally:
                app.close()
    return appends.per_second / saves.per_second


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__)
    parser.add_argument("other", type=Path, help="the other checkout (a git worktree)")
    parser.add_argument("--runs", type=int, default=4, help="runs of each build")
    parser.add_argument("--batches", type=int, default=100, help="100-event appends per run")
    args = parser.parse_args(argv)
    builds = {"this": REPO, "other": args.other.resolve()}
    ratios: dict[str, list[float]] = {name: [] for name in builds}
    for run in range(args.runs):
        for name in builds if run % 2 == 0 else reversed(builds):
            ratio = row_2(builds[name], args.batches)
            ratios[name].append(ratio)
            print(f"run {run + 1}, {name}: {ratio:.3f}x the library's events/s", flush=True)
    means = {name: statistics.mean(values) for name, values in ratios.items()}
    for name, mean in means.items():
        print(f"{name} ({builds[name]}): mean {mean:.3f}x over {args.runs} runs")
    print(f"other / this: {means['other'] / means['this']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
