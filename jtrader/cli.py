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
from rich.markup import escape
from rich.table import Table

from jtrader.config import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from jtrader.domain import Instrument
    from jtrader.live.config import RunConfig
    from jtrader.optimize import Space
    from jtrader.storage.sql import SqlStore

app = typer.Typer(help="jtrader: crypto trading platform", no_args_is_help=True, add_completion=False)
lake_app = typer.Typer(help="inspect the Parquet lake", no_args_is_help=True)
app.add_typer(lake_app, name="lake")
models_app = typer.Typer(help="the model registry: list, promote or roll back the champion", no_args_is_help=True)
app.add_typer(models_app, name="models")
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


def _run_config(path: Path) -> RunConfig:
    from jtrader.live.config import RunConfigError, load_run_config

    try:
        return load_run_config(path)
    except RunConfigError as exc:
        console.print(f"[red]config error:[/red] {exc}")
        raise typer.Exit(2) from None


def _check_live(run_config: RunConfig, settings: Settings) -> None:
    """Stop before any process starts if the live venue or its API key is missing."""
    from jtrader.gateways.credentials import CredentialsError
    from jtrader.live.config import RunConfigError
    from jtrader.live.venues import live_credentials, live_venue

    try:
        venue = live_venue(run_config)
        credentials = live_credentials(run_config, settings)
    except RunConfigError as exc:
        console.print(f"[red]config error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    except CredentialsError as exc:
        console.print(f"[red]--mode live:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    console.print(f"live order entry on {venue.value} (API key from {escape(credentials.source)})")


@app.command("run")
def run(
    config: Annotated[Path, typer.Option("--config", help="the desk's TOML run config")],
    mode: Annotated[str, typer.Option("--mode", help="paper (simulated venue) or live")] = "paper",
    duration: Annotated[float | None, typer.Option("--duration", help="stop after this many seconds")] = None,
) -> None:
    """Run the desk (venue, OMS, strategy host) until SIGTERM; crashed processes are restarted."""
    import msgspec

    from jtrader.live.supervisor import run_supervised

    settings = _settings()
    run_config = _run_config(config)
    if mode not in ("paper", "live"):
        console.print(f"[red]--mode {escape(mode)}[/red]: expected paper or live")
        raise typer.Exit(2)
    if mode != run_config.run.mode:
        console.print(
            f"[red]--mode {mode}[/red] but {escape(str(config))} says run.mode = {run_config.run.mode!r}: "
            "a live desk says so in its config as well (run.mode = 'live' and a live section naming the venue), "
            "so neither a flag nor a file alone starts live trading"
        )
        raise typer.Exit(2)
    if mode == "live":
        _check_live(run_config, settings)
    if duration is not None:
        run_config = msgspec.structs.replace(
            run_config, run=msgspec.structs.replace(run_config.run, duration_s=duration)
        )
    from jtrader.live.config import RunConfigError

    try:
        code = run_supervised(run_config, config, settings)
    except RunConfigError as exc:  # e.g. run.transport = "inproc", which only a lockstep run can use
        console.print(f"[red]{escape(str(config))}[/red]: {escape(str(exc))}")
        raise typer.Exit(2) from None
    raise typer.Exit(code)


@app.command("ctl")
def ctl(
    command: Annotated[str, typer.Argument(help="status, orders, positions, kill, reset or flatten")],
    config: Annotated[Path, typer.Option("--config", help="the desk's TOML run config")],
    reason: Annotated[str, typer.Option("--reason", help="recorded with kill/reset")] = "",
) -> None:
    """Send an operator command to the running OMS and print its reply."""
    import json

    from jtrader.live.ctl import CONTROL_COMMANDS, ControlTimeout, send_control

    if command not in CONTROL_COMMANDS:
        console.print(f"[red]unknown command {command!r}[/red]: expected one of {', '.join(CONTROL_COMMANDS)}")
        raise typer.Exit(2)
    try:
        reply = send_control(_run_config(config), _settings(), command, args={"reason": reason} if reason else {})
    except ControlTimeout as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    answer = {"ok": reply.ok, "message": reply.message, "payload": reply.payload}
    console.print(json.dumps(answer, indent=2, default=str))
    if not reply.ok:
        raise typer.Exit(1)


@app.command("crawl")
def crawl(
    date_from: Annotated[str, typer.Option("--from", help="first day, YYYY-MM-DD")],
    date_to: Annotated[str, typer.Option("--to", help="last day, YYYY-MM-DD (inclusive)")],
    source: Annotated[
        list[str] | None, typer.Option("--source", help="capture | binance_archive | huobi_klines")
    ] = None,
    venue: Annotated[list[str] | None, typer.Option("--venue", help="venues to crawl (default: all)")] = None,
    symbol: Annotated[list[str] | None, typer.Option("--symbol", help="symbols to crawl (default: all)")] = None,
    location: Annotated[str, typer.Option(help="mirror folder or archive base URL (default: data path)")] = "",
    dataset: Annotated[
        list[str] | None, typer.Option("--dataset", help="trades, aggTrades, klines (default: trades, klines)")
    ] = None,
    restart: Annotated[bool, typer.Option("--restart", help="forget finished units and crawl everything")] = False,
) -> None:
    """Backfill the lake day by day; retries with backoff and resumes where an earlier run stopped."""
    import datetime as dt

    from jtrader.crawl import crawl_days_with_progress

    if source is None:
        source = ["capture"]
    settings = _settings()
    try:
        start, end = dt.date.fromisoformat(date_from), dt.date.fromisoformat(date_to)
    except ValueError as exc:
        console.print(f"[red]bad date:[/red] {exc}; expected YYYY-MM-DD")
        raise typer.Exit(2) from None
    state = settings.var_path / "crawl" / "state.json"
    results = crawl_days_with_progress(
        settings, start, end, console, sources=source or ("capture",), venues=venue, symbols=symbol, location=location,
        datasets=dataset or (), state_file=state, resume=not restart,
    )  # fmt: skip
    table = Table("unit", "status", "rows", "rejects", "gaps", "crossed", "note", title="crawl")
    for r in results:
        table.add_row(r.unit.key, r.status, f"{r.rows:,}", str(r.rejects), str(r.gaps), str(r.crossed), r.message)
    console.print(table)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


@app.command("record")
def record(
    venue: Annotated[str, typer.Option(help="binance | binance_usdm | binance_coinm | bitmex | huobi")],
    symbols: Annotated[list[str], typer.Option("--symbols", help="venue symbols, e.g. BTCUSDT")],
    out: Annotated[Path, typer.Option(help="output folder")] = Path("var/captures"),
    seconds: Annotated[float, typer.Option(help="stop after this many seconds (0: until Ctrl-C)")] = 0.0,
) -> None:
    """Write raw frames of a live gateway as '<recv ns> <JSON>' lines, one gzip file per hour."""
    import time

    from jtrader.domain import Venue
    from jtrader.gateways.live import build_feed, snapshot_fetcher_for
    from jtrader.gateways.recorder import HourlyCaptureWriter
    from jtrader.gateways.stream import StreamingMarketDataClient

    try:
        feed = build_feed(Venue(venue), symbols)
    except ValueError as exc:
        console.print(f"[red]record:[/red] {exc}")
        raise typer.Exit(2) from None
    name = symbols[0].lower() if len(symbols) == 1 else "multi"
    writer = HourlyCaptureWriter(_settings().resolve(out), venue, name)
    client = StreamingMarketDataClient(feed, snapshot_fetcher=snapshot_fetcher_for(Venue(venue)), on_raw=writer.write)
    client.start(lambda _event: None)
    console.print(f"recording {venue} {', '.join(symbols)} from {feed.url} into {writer.dir}; Ctrl-C stops")
    started = time.monotonic()
    try:
        while not seconds or time.monotonic() - started < seconds:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        client.close()
        writer.close()
    console.print(f"{writer.lines:,} frames in {len(writer.files)} file(s); {client.stats}")


@lake_app.command("summary")
def lake_summary() -> None:
    """Rows per dataset, venue, symbol and day."""
    from jtrader.ingest import print_lake_summary
    from jtrader.storage.lake import Lake

    print_lake_summary(Lake(_settings().lake_dir), console)


def _parse_value(text: str) -> object:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _instruments(specs: list[str]) -> list[Instrument]:
    from jtrader.domain import DomainError
    from jtrader.gateways.instruments import default_registry

    registry = default_registry()
    try:
        return [registry.find(*spec.rsplit(".", 1)) for spec in specs]
    except (DomainError, TypeError) as exc:
        console.print(f"[red]instrument:[/red] {exc}; write SYMBOL.venue, e.g. btcusdt.huobi")
        raise typer.Exit(2) from None


@app.command("backtest")
def backtest(
    strategy: Annotated[str, typer.Option(help="ma_cross or quoting")] = "ma_cross",
    instrument: Annotated[list[str], typer.Option(help="SYMBOL.venue, repeatable")] = ["btcusdt.huobi"],  # noqa: B006
    matching: Annotated[str, typer.Option(help="bar, queue or book")] = "bar",
    queue_model: Annotated[str, typer.Option(help="risk_averse, proportional or power<n>")] = "risk_averse",
    param: Annotated[list[str], typer.Option(help="strategy parameter NAME=VALUE, repeatable")] = [],  # noqa: B006
    order_latency_ms: Annotated[float, typer.Option(help="constant order-entry latency")] = 0.0,
    md_latency_ms: Annotated[float, typer.Option(help="constant market-data latency")] = 0.0,
    no_mlflow: Annotated[bool, typer.Option("--no-mlflow", help="skip MLflow logging")] = False,
) -> None:
    """Backtest a strategy on the lake's data; write an HTML report; store the run (SQL store, MLflow)."""
    from jtrader.backtest import BacktestConfig, ConstantLatency
    from jtrader.backtest.runner import run_lake_backtest

    settings = _settings()
    params = {k: _parse_value(v) for k, _, v in (p.partition("=") for p in param)}
    config = BacktestConfig(
        matching=matching, queue_model=queue_model,
        order_latency=ConstantLatency(int(order_latency_ms * 1e6)),
        md_latency=ConstantLatency(int(md_latency_ms * 1e6)),
        sample_interval_ns=60_000_000_000 if matching == "bar" else 1_000_000_000,
    )  # fmt: skip
    try:
        done = run_lake_backtest(settings, strategy, _instruments(instrument), params, config, mlflow=not no_mlflow)
    except (ValueError, TypeError) as exc:
        console.print(f"[red]backtest:[/red] {exc}")
        raise typer.Exit(2) from None
    table = Table("metric", "value", title=f"backtest {strategy} ({matching})")
    for key, value in done.result.metrics.items():
        table.add_row(key, f"{value:,.6g}")
    console.print(table)
    console.print(f"report {done.report}; run {done.run_id}; MLflow run {done.mlflow_run_id}")


_DEFAULT_SPACE = ["fast=5:30:5", "slow=20:120:20"]
_DEFAULT_OBJECTIVE = ["sharpe"]
_OBJECTIVE_HELP = "sharpe, sortino, pnl, calmar or pnl_over_maxdd; repeat for a Pareto front"


@app.command("optimize")
def optimize_command(
    instrument: Annotated[str, typer.Option(help="SYMBOL.venue with 1-minute bars")] = "btcusdt.huobi",
    space: Annotated[list[str], typer.Option(help="NAME=LOW:HIGH:STEP, repeatable")] = _DEFAULT_SPACE,
    objective: Annotated[list[str], typer.Option(help=_OBJECTIVE_HELP)] = _DEFAULT_OBJECTIVE,
    sampler: Annotated[str, typer.Option(help="tpe, grid or random")] = "tpe",
    trials: Annotated[int, typer.Option(help="number of trials")] = 30,
    seed: Annotated[int, typer.Option(help="sampler seed")] = 0,
    walk_forward_days: Annotated[int, typer.Option(help="train days per walk-forward window (0: none)")] = 0,
    no_mlflow: Annotated[bool, typer.Option("--no-mlflow", help="skip MLflow logging")] = False,
) -> None:
    """Optimise the MA crossover's parameters with Optuna; log every trial to MLflow under one parent run."""
    from jtrader.backtest import load_events
    from jtrader.optimize import IntRange, heatmap, log_study, optimize, walk_forward
    from jtrader.optimize.backtests import fast_below_slow, ma_cross_metrics
    from jtrader.storage.lake import Lake

    settings = _settings()
    target = _instruments([instrument])[0]
    ranges: Space = {}
    for item in space:
        name, _, spec = item.partition("=")
        low, high, step = (int(x) for x in [*spec.split(":"), "1"][:3])
        ranges[name] = IntRange(low, high, step)
    events = load_events(Lake(settings.lake_dir), [target])
    if not events:
        console.print(f"[red]optimize:[/red] no bars for {target.id} in the lake: run `jtrader ingest` first")
        raise typer.Exit(2)
    try:
        result = optimize(
            lambda p: ma_cross_metrics(events, target, p), ranges, objective, sampler, trials, seed, fast_below_slow
        )
    except ValueError as exc:
        console.print(f"[red]optimize:[/red] {exc}")
        raise typer.Exit(2) from None
    table = Table(*ranges, *result.objectives, title=f"best of {len(result.trials)} trials ({sampler})")
    for trial in result.best:
        table.add_row(*(str(trial.params[k]) for k in ranges), *(f"{v:,.4g}" for v in trial.values))
    console.print(table)
    artifacts = []
    if len(ranges) >= 2:
        x, y = list(ranges)[:2]
        path = settings.var_path / "reports" / f"heatmap-{x}-{y}.png"
        artifacts.append(heatmap(result, x, y, objective[0], path))
        console.print(f"heatmap {artifacts[-1]}")
    if walk_forward_days:
        per_day = 1440
        windows = walk_forward(
            lambda p, a, b: ma_cross_metrics(events[a:b], target, p), len(events), ranges,
            walk_forward_days * per_day, per_day, objective[0], sampler, trials, seed, fast_below_slow,
        )  # fmt: skip
        wf = Table("window", "best", f"in-sample {objective[0]}", f"out-of-sample {objective[0]}", "oos pnl")
        for i, w in enumerate(windows):
            wf.add_row(str(i), str(w.best_params), f"{w.in_sample.get(objective[0], 0):,.4g}",
                       f"{w.out_of_sample.get(objective[0], 0):,.4g}",
                       f"{w.out_of_sample.get('pnl', 0):,.4g}")  # fmt: skip
        console.print(wf)
    if not no_mlflow:
        name = f"optimize-ma_cross-{target.id.symbol}"
        parent = log_study(settings, name, result, {"sampler": sampler, "seed": seed}, artifacts)
        console.print(f"MLflow parent run {parent} with {len(result.trials)} trial runs")


@models_app.command("list")
def models_list(name: Annotated[str | None, typer.Argument(help="a registered model (all if omitted)")] = None) -> None:
    """List registered versions with their aliases, holdout metrics and gate decisions."""
    from models.registry import list_versions

    table = Table("model", "version", "aliases", "interval", "holdout IC", "hit rate", "gate", "reason")
    for r in list_versions(_settings(), name):
        ic, hit = r["holdout_ic"], r["holdout_hit_rate"]
        table.add_row(r["model"], r["version"], r["aliases"], r["interval"], "" if ic is None else f"{ic:.4f}",
                      "" if hit is None else f"{hit:.3f}", r["gate"], r["reason"])  # fmt: skip
    console.print(table)


@models_app.command("promote")
def models_promote(name: str, version: str) -> None:
    """Point the ``champion`` alias of NAME at VERSION (by hand; the replaced version is kept for rollback)."""
    from models.registry import RegistryError, promote

    try:
        console.print(f"{name}: champion is now v{promote(_settings(), name, version)}")
    except RegistryError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


@models_app.command("rollback")
def models_rollback(name: str) -> None:
    """Move the ``champion`` alias of NAME back to the version it replaced."""
    from models.registry import RegistryError, rollback

    try:
        console.print(f"{name}: champion rolled back to v{rollback(_settings(), name)}")
    except RegistryError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


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
