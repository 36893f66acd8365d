"""The ``jtrader`` command line: one typed entry point for the desk, researchers and CI.

Settings are built once here and passed down; a bad setting stops the command
with the key, the value and what is expected (exit code 2).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from jtrader.config import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from jtrader.storage.sql import SqlStore

app = typer.Typer(help="jtrader: crypto trading platform", no_args_is_help=True, add_completion=False)
lake_app = typer.Typer(help="inspect the Parquet lake", no_args_is_help=True)
app.add_typer(lake_app, name="lake")
# Wide tables when output is piped (CI logs), the terminal's width otherwise.
console = Console(width=None if sys.stdout.isatty() else max(140, shutil.get_terminal_size().columns))


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        console.print(f"[red]settings error:[/red] {exc}")
        raise typer.Exit(2) from None


def _store(settings: Settings) -> SqlStore:
    from jtrader.storage.sql import SqlStore, StoreError

    try:
        return SqlStore.from_settings(settings)
    except StoreError as exc:
        console.print(f"[red]SQL store error:[/red] {exc}")
        raise typer.Exit(2) from None


@app.command("settings")
def show_settings() -> None:
    """Print the effective settings (secrets masked)."""
    settings = _settings()
    table = Table("setting", "value", title="jtrader settings")
    for name, value in settings.model_dump().items():
        shown = "<set>" if name == "mongo_uri" and value is not None else str(value)
        table.add_row(f"JTRADER_{name.upper()}", shown)
    console.print(table)


@app.command("ingest")
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="capture files, kline zips, or folders holding them")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="parse and check only; write nothing")] = False,
) -> None:
    """Ingest raw venue files into the lake and print per-file counts.

    Exits non-zero only if a file could not be read at all; malformed lines are
    counted and listed with their line numbers.
    """
    from jtrader.ingest import ingest_with_progress, print_file_reports, record_run
    from jtrader.storage.lake import Lake

    settings = _settings()
    lake = None if dry_run else Lake(settings.lake_dir)
    report = ingest_with_progress(paths, lake, console)
    print_file_reports(report, console)
    if not dry_run and report.files:
        with _store(settings) as store:
            run_id = record_run(store, report, {"paths": [str(p) for p in paths]})
        console.print(f"recorded as run {run_id} in the SQL store")
    if not report.files:
        console.print("[red]no files found[/red] under the given paths: pass capture .gz files or kline .zip files")
        raise typer.Exit(1)
    if report.unreadable:
        raise typer.Exit(1)


@app.command("keys")
def keys(
    directory: Annotated[Path, typer.Argument(help="where to write the key files")] = Path("var/keys"),
    force: Annotated[bool, typer.Option("--force", help="replace existing keys")] = False,
) -> None:
    """Generate CURVE key pairs for the order channel (server, client, allowed_clients/).

    Prints the files written, never the keys; secret files are mode 0600.
    """
    from jtrader.bus.auth import CurveError, keys_command

    try:
        keys_command(directory, overwrite=force, echo=console.print)
    except (CurveError, FileExistsError) as exc:
        console.print(f"[red]keys:[/red] {exc}")
        raise typer.Exit(1) from None


@lake_app.command("summary")
def lake_summary() -> None:
    """Rows per dataset, venue, symbol and day."""
    from jtrader.ingest import print_lake_summary
    from jtrader.storage.lake import Lake

    print_lake_summary(Lake(_settings().lake_dir), console)


@app.command("demo")
def demo() -> None:
    """Run the platform's main job end to end on the embedded defaults and the sample data."""
    from jtrader.demo import run_demo

    if not run_demo(_settings(), console):
        raise typer.Exit(1)


def main() -> None:  # pragma: no cover - console entry point
    app(prog_name="jtrader")


if __name__ == "__main__":  # pragma: no cover
    main()
