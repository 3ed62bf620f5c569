"""The `casetrail` command: serve, mint tokens, load the demo, export the OpenAPI document.

Every command reads the same settings as `serve` (`CASETRAIL_DATABASE_URL`, `CASETRAIL_DATA_DIR`).
"""

from __future__ import annotations

import json
import os
import re
import signal
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError

from projections import cli as projections_cli
from service.settings import Settings

app = typer.Typer(help="Casetrail: an event-sourced case record service.", no_args_is_help=True)

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
T = TypeVar("T")


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if not match:
        raise typer.BadParameter("use a number and a unit: 30m, 8h, 7d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
) -> None:
    """Start the HTTP service; it logs JSON lines on stderr (see the README's "Operations")."""
    import uvicorn

    from service.auth import ensure_local_keys
    from service.logs import logging_config
    from service.projector import Projector

    settings = Settings()
    settings.prepare()
    if not settings.jwt_secret_text and settings.jwt_jwks_file is None:
        # Before the workers start: each one's create_app then finds the keys made.
        ensure_local_keys(settings)
    # Every table, once, before the processes that use them start together (on PostgreSQL two
    # sessions creating one table at once fail: "duplicate key value violates unique constraint").
    _refuse_unreadable("serve", _create_tables, settings)
    projector = None
    if settings.projections_in_process and not settings.projections_in_workers:
        # The read models' runner in a process of its own; the workers, which read their
        # settings from the environment, run none.
        projector = Projector()
        projector.start()
        os.environ["CASETRAIL_PROJECTIONS_IN_PROCESS"] = "false"
        # uvicorn stops on SIGTERM, then raises it again under the handler it found: this one
        # stops the runner first.
        signal.signal(signal.SIGTERM, _raise_signalled)
    signalled = None
    try:
        uvicorn.run(
            "service.api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=settings.log_level,
            # JSON lines from every logger; uvicorn's access log is off: the service writes its
            # own access line per request (route template, status, duration, principal, request
            # id).
            log_config=logging_config(settings.log_level),
            access_log=False,
        )
    except _Signalled as stop:
        signalled = stop.signum
        # A second one ends `serve` at once (its runner follows it within a second).
        signal.signal(signalled, signal.SIG_DFL)
    finally:
        if projector is not None:
            projector.stop()
    if signalled is not None:  # end as the signal would have, as uvicorn does
        signal.raise_signal(signalled)


def _create_tables(settings: Settings) -> None:
    """The log's, the access audit's and the read models' tables, as each store creates them."""
    from projections.registry import default_models
    from projections.store import ReadModelStore
    from service.audit import AuditLog
    from service.records import CaseRecords

    CaseRecords(settings).close()
    AuditLog(settings).close()
    read_models = ReadModelStore(settings)
    try:
        for model in default_models():
            read_models.ensure(model)
    finally:
        read_models.close()


def _refuse_unreadable(command: str, do: Callable[[Settings], T], settings: Settings) -> T:
    """`do(settings)`, or exit 1 with the reason when the log cannot be read with these settings
    (another encryption key, or none, than the store was written with)."""
    from service.errors import UnreadableStore

    try:
        return do(settings)
    except UnreadableStore as e:
        typer.echo(f"casetrail {command}: {e}", err=True)
        raise typer.Exit(1) from None


class _Signalled(BaseException):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_signalled(signum: int, frame: object) -> None:
    raise _Signalled(signum)


@app.command()
def token(
    sub: Annotated[str, typer.Option(help="Subject: the user's or system's id")],
    agency: Annotated[str, typer.Option(help="KIND:NAME, e.g. csc:barsetshire")],
    role: Annotated[list[str], typer.Option(help="A role; repeat for several")],
    name: Annotated[str | None, typer.Option(help="Display name (defaults to the subject)")] = None,
    cases: Annotated[
        str | None, typer.Option(help="Reviewers: comma-separated case ids, or *")
    ] = None,
    expires: Annotated[str, typer.Option(help="Lifetime: 30m, 8h, 7d")] = "8h",
) -> None:
    """Print a signed bearer token, alone on one line (for scripts to capture)."""
    from service.auth import InvalidToken, TokenService

    tokens = TokenService(Settings())
    case_list = [c.strip() for c in cases.split(",") if c.strip()] if cases else None
    try:
        minted = tokens.mint(
            sub=sub,
            name=name or sub,
            agency=agency,
            roles=role,
            cases=case_list,
            expires=parse_duration(expires),
        )
    except InvalidToken as e:
        typer.echo(f"casetrail token: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(minted)


@app.command()
def demo() -> None:
    """Load a realistic synthetic multi-agency case into the store, and say how to look at it."""
    from service.demo import load_demo

    case_id = _refuse_unreadable("demo", load_demo, Settings())
    typer.echo(f"Demo case loaded: {case_id}")
    typer.echo("Read it with a token from `casetrail token`, e.g.:")
    typer.echo(
        f'  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/cases/{case_id}/chronology'
    )


def openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document, built on a throwaway store so nothing on disk is touched."""
    from service.api.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        application = create_app(Settings(data_dir=Path(tmp), database_url=""))
        document = application.openapi()
        application.state.records.close()
        return document


@app.command("export-openapi")
def export_openapi(
    out: Annotated[Path, typer.Option(help="Where to write it")] = Path("openapi/openapi.json"),
) -> None:
    """Write the OpenAPI document the app serves (the committed copy must equal it)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n")
    typer.echo(f"wrote {out}")


@app.command()
def verify(
    case: Annotated[str | None, typer.Option("--case", help="Only this case id")] = None,
    seal_file: Annotated[
        Path | None,
        typer.Option("--seal", help="Also check the store against this seal file", dir_okay=False),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="The seal's Ed25519 public key (PEM); default: seal-public-key.pem "
            "beside the seal signing key",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Recompute every case's hash chain from the stored rows; with --seal, check the seal.

    Exits 0 only when nothing is wrong, 1 otherwise.
    """
    from uuid import UUID

    from service.errors import CaseNotFoundError
    from service.integrity import NoStore, SealError, run_verify

    try:
        case_id = UUID(case) if case else None
    except ValueError:
        raise typer.BadParameter("not a case id (a UUID)", param_hint="--case") from None
    try:
        lines, ok = run_verify(
            Settings(), case_id=case_id, seal_path=seal_file, public_key_file=public_key
        )
    except (CaseNotFoundError, NoStore) as e:
        typer.echo(f"casetrail verify: {e}", err=True)
        raise typer.Exit(1) from None
    except SealError as e:
        typer.echo(f"casetrail verify: seal refused: {e}", err=True)
        raise typer.Exit(1) from None
    for line in lines:
        typer.echo(line)
    raise typer.Exit(0 if ok else 1)


@app.command("seal")
def seal_store(
    out: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the seal (default: <data dir>/seals/seal-<position>.json)"
        ),
    ] = None,
) -> None:
    """Sign the latest version and hash of every case and the global position; print its path."""
    from service.errors import UnreadableStore
    from service.integrity import (
        ChainsBroken,
        NoStore,
        SealError,
        make_seal,
        verification_report,
    )

    try:
        path, document = make_seal(Settings(), out)
    except ChainsBroken as e:
        lines = verification_report(
            e.broken, every_case=False, foreign=e.foreign, unindexed=e.unindexed
        )
        for line in lines:
            typer.echo(line, err=True)
        typer.echo(f"casetrail seal: {e}", err=True)
        raise typer.Exit(1) from None
    except (SealError, NoStore, UnreadableStore) as e:
        typer.echo(f"casetrail seal: {e}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"sealed {len(document['cases'])} case(s) at position {document['position']}", err=True
    )
    typer.echo(str(path))


app.add_typer(projections_cli.app, name="projections", help="Cross-case read models.")
app.add_typer(projections_cli.alerts_app, name="alerts", help="The cross-case alerts.")


def main() -> None:
    """`casetrail`: a setting it cannot use stops every command with one line naming it (never
    its value, which may be a key or hold a password), not a traceback."""
    try:
        app()
    except ValidationError as e:
        if e.title != Settings.__name__:
            raise
        for error in e.errors():
            typer.echo(f"casetrail: {_setting_refused(error)}", err=True)
        raise SystemExit(1) from None
    except SettingsError as e:
        # A structured setting (a JSON map) whose value does not parse: its field is named in
        # the message, its value nowhere.
        field = re.search(r'field "(\w+)"', str(e))
        name = f"CASETRAIL_{field.group(1).upper()}" if field else "a setting"
        typer.echo(f"casetrail: {name} is not valid JSON ({e.__cause__})", err=True)
        raise SystemExit(1) from None


def _setting_refused(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if message.startswith("CASETRAIL_") or not error["loc"]:
        return message  # the validator's own message names the variable
    # An entry of a map (CASETRAIL_RULE_TIMESCALES) is named by its key too.
    where = "".join(f"{part}: " for part in error["loc"][1:])
    return f"CASETRAIL_{str(error['loc'][0]).upper()}: {where}{message}"


if __name__ == "__main__":
    main()
