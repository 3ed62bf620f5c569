"""`casetrail projections run | status | rebuild [NAME]`: a Typer sub-app for the main CLI.

Mount it with `app.add_typer(projections.cli.app, name="projections")`. Every command reads the
same settings as `casetrail serve`. The service is imported inside the commands only, so the
`projections` package itself never depends on `service` (DESIGN.md "Layout").
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from projections.collector import collect_young_every
from projections.rebuild import DEFAULT_REBUILD_PAGE, RebuildInProgress, rebuild
from projections.registry import default_models, model_named, model_names
from projections.runner import DEFAULT_PAGE_SIZE, Runner, divergence, refresh_model, status
from projections.store import ReadModelStore

if TYPE_CHECKING:
    from service.records import CaseRecords
    from service.settings import Settings

app = typer.Typer(
    name="projections",
    help="Cross-case read models: keep them current, report their lag, rebuild them.",
    no_args_is_help=True,
)
alerts_app = typer.Typer(
    name="alerts",
    help="The cross-case alerts read model.",
    no_args_is_help=True,
)
console = Console(stderr=True)
logger = logging.getLogger("casetrail.projections")
# How much lower `casetrail serve`'s runner process runs than its workers (nice(1)'s scale).
SERVE_RUNNER_NICENESS = 10


def _open(
    command: str, settings: Settings | None = None, *, existing: bool = True
) -> tuple[Settings, CaseRecords]:
    """The settings and the log, or exit 1 saying why not: the log cannot be read with these
    settings (the encryption key), or, when `existing`, they point at no store at all (opening
    one would create it empty, and report its read models as current at position 0)."""
    from service.errors import UnreadableStore
    from service.integrity import NoStore, require_store
    from service.records import CaseRecords
    from service.settings import Settings

    settings = settings or Settings()
    try:
        if existing:
            require_store(settings)
        return settings, CaseRecords(settings)
    except (NoStore, UnreadableStore) as e:
        typer.echo(f"casetrail {command}: {e}", err=True)
        raise typer.Exit(1) from None


@app.command()
def run(
    poll_interval: Annotated[
        float | None,
        typer.Option(
            help="Seconds between polls of the log when current "
            "(default: CASETRAIL_PROJECTION_POLL_SECONDS, 0.5)"
        ),
    ] = None,
    page_size: Annotated[int, typer.Option(help="Events per transaction")] = DEFAULT_PAGE_SIZE,
    once: Annotated[bool, typer.Option(help="Catch up once and exit")] = False,
    parent: Annotated[
        int | None,
        typer.Option(
            hidden=True,
            help="Run as `casetrail serve`'s runner: its JSON logs, at a lower CPU priority, "
            "and stop when the process PARENT is gone",
        ),
    ] = None,
) -> None:
    """Keep the read models current; leads each model no other runner leads (and takes over
    when its leader stops). Stops cleanly on SIGINT or SIGTERM."""
    from service.settings import Settings

    settings = Settings()
    if once:  # a one-off run, for a person: its summary printed, its errors plain lines
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    else:
        _log_as_serve(settings)
    if parent is not None:
        os.nice(SERVE_RUNNER_NICENESS)  # below the workers it serves beside
    # A runner may start before `casetrail serve` has made the store: it makes it.
    _, records = _open("projections run", settings, existing=False)
    say = console.print if once else logger.info  # (a process that keeps running logs)
    collect_young_every(settings.gc_threshold)
    try:
        with Runner(settings, records, default_models(), page_size=page_size) as runner:
            if once:
                applied = runner.run_once()
                say(f"applied {applied} events; leading: {sorted(runner.leading)}")
                return
            stop = threading.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
            if parent is not None:
                threading.Thread(
                    target=_stop_when_gone, args=(parent, stop), name="parent", daemon=True
                ).start()
            say(f"projection runner started (models: {', '.join(runner.models)})")
            runner.run_forever(
                stop,
                settings.projection_poll_seconds if poll_interval is None else poll_interval,
                refresh_interval=settings.alerts_refresh_seconds,
            )
            say("projection runner stopped")
    finally:
        records.close()


def _log_as_serve(settings: Settings) -> None:
    """`casetrail serve`'s JSON log lines on stderr (at `CASETRAIL_LOG_LEVEL`), whether the
    runner is serve's or runs on its own."""
    import logging.config

    from service.logs import logging_config

    logging.config.dictConfig(logging_config(settings.log_level))


def _stop_when_gone(parent: int, stop: threading.Event) -> None:
    """Set `stop` once the process `parent` is no longer this process's parent (it ended, and
    this one was handed to another)."""
    while not stop.wait(1.0):
        if os.getppid() != parent:
            logger.warning("the serving process %d is gone: the projection runner stops", parent)
            stop.set()


@app.command("status")
def status_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Each read model's position, the log's newest position, the lag, and whether a runner
    leads it; a model diverged from the log (read models restored from a newer backup than the
    log) is flagged, its lag the whole log."""
    settings, records = _open("projections status")
    try:
        report = status(settings, records, model_names())
    finally:
        records.close()
    if as_json:
        typer.echo(json.dumps([asdict(s) for s in report], indent=2))
        return
    table = Table("model", "position", "log position", "lag", "runner")
    for s in report:
        runner = "running" if s.running else "none"
        position = str(s.position) if s.started else "never run"
        if s.diverged:
            position += " (diverged from the log: the runner rebuilds it)"
        table.add_row(s.name, position, str(s.log_position), str(s.lag), runner)
    Console().print(table)
    for s in report:
        if s.diverged:
            console.print(
                f"[red]{s.name}: the log does not hold the event this model applied at position "
                f"{s.position}; were the read models restored from a newer backup than the log? "
                "The runner clears it and applies the log again at its next round.[/red]"
            )


@app.command("rebuild")
def rebuild_command(
    name: Annotated[
        str | None, typer.Argument(help="The read model to rebuild (default: every one)")
    ] = None,
    page_size: Annotated[int, typer.Option(help="Events per transaction")] = DEFAULT_REBUILD_PAGE,
) -> None:
    """Rebuild read models from the log into new tables, then swap them in; the live tables
    keep serving (and a running runner keeps them current) until the swap."""
    names = [name] if name else model_names()
    for each in names:
        try:
            model_named(each)
        except KeyError:
            raise typer.BadParameter(
                f"no read model {each!r}; known: {', '.join(model_names())}"
            ) from None
    settings, records = _open("projections rebuild")
    try:
        for each in names:
            _rebuild_one(settings, records, each, page_size)
    except RebuildInProgress as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(1) from None
    finally:
        records.close()


def _rebuild_one(settings: Settings, records: CaseRecords, name: str, page_size: int) -> None:
    columns = (
        TextColumn(f"rebuilding {name}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("positions"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(name, total=None)

        def report(position: int, target: int) -> None:
            bar.update(task, completed=position, total=max(target, 1))

        result = rebuild(settings, records, model_named(name), page_size=page_size, progress=report)
    rate = result.events / result.seconds if result.seconds else 0.0
    console.print(
        f"{name}: rebuilt at position {result.position} "
        f"({result.events} events in {result.seconds:.1f} s, {rate:,.0f} events/s)"
    )


@alerts_app.command("refresh")
def alerts_refresh() -> None:
    """Re-evaluate now the alerts whose deadlines have passed with no new event (a running
    runner does this every CASETRAIL_ALERTS_REFRESH_SECONDS); safe beside a running runner.
    A model that does not match the log (restored from a newer backup than it) is left for
    `casetrail projections run` to rebuild first."""
    settings, records = _open("alerts refresh")
    store = ReadModelStore(settings)
    try:
        model = model_named("alerts")
        tables = store.ensure(model)
        with store.begin_read() as conn:
            tracked = store.tracked(conn, model.name)
        why = None if tracked is None else divergence(records.recorder, tracked)
        if why is not None:
            console.print(
                f"[red]alerts: the read model does not match the log ({why}); run "
                "`casetrail projections run --once` to rebuild it, then refresh[/red]"
            )
            raise typer.Exit(1)
        changed = refresh_model(store, model, tables, records)
    finally:
        store.close()
        records.close()
    console.print(f"alerts: re-evaluated {changed} cases")
