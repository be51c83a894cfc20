"""``hedging-pipeline``: run the whole asset graph, open the UI, print a hedge.

The CLI holds no maths: ``run`` executes the stage jobs of the code location through Dagster (same assets, same
instance as the UI), ``ui`` starts ``dagster dev`` for the project's instance, ``hedge`` asks the hedging service.
Bad input ends with one line naming the file, column, ticker or date, and a non-zero exit status.
"""

import argparse
import logging
import math
import os
import subprocess
import sys
import time
from collections.abc import Sequence

import pandas as pd

from hedging_pipeline.errors import HedgingError
from hedging_pipeline.instance import ensure_instance_dir
from hedging_pipeline.settings import PROJECT_ROOT, Settings, load_settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
UI_HOST = "127.0.0.1"
UI_PORT = 3000
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
TARGETS_TAG = "hedging/tickers"


def _echo(message: str) -> None:
    print(message, flush=True)


def _parse_date(text: str | None, flag: str) -> pd.Timestamp | None:
    if text is None:
        return None
    try:
        return pd.Timestamp(text).normalize()
    except (ValueError, TypeError):
        raise HedgingError(f"{flag} {text!r} is not a date (expected YYYY-MM-DD)") from None


def _parse_tickers(text: str | None) -> list[str] | None:
    if not text:
        return None
    from hedging_pipeline.data.schema import TICKER_PATTERN

    tickers = [t.strip().upper() for t in text.split(",") if t.strip()]
    for ticker in tickers:
        if not TICKER_PATTERN.match(ticker):
            raise HedgingError(
                f"--tickers: invalid ticker {ticker!r} (expected A-Z, 0-9, '.', '-')"
            )
    return tickers


# -- run ---------------------------------------------------------------------------------------------------------
def _stage_keys(stage, instance, settings, parts, start, end, tickers) -> list[str] | None:
    """Partition keys a stage covers within the run's bounds (``None`` for unpartitioned stages)."""
    import dagster as dg

    from hedging_pipeline.data.calendar import last_complete_month

    pdef = stage.partitions_def
    if pdef is None:
        return None
    if isinstance(pdef, dg.DynamicPartitionsDefinition):
        keys = list(instance.get_dynamic_partitions(pdef.name))
        return [k for k in keys if tickers is None or k in tickers]
    keys = pdef.get_partition_keys()
    lo = max(parts.data_start, start) if start is not None else parts.data_start
    hi = min(parts.data_end, end) if end is not None else parts.data_end
    lo_month, hi_month = lo.to_period("M"), hi.to_period("M")
    if pdef == parts.hedge_months:  # hedges exist for closed months only
        hi_month = min(hi_month, last_complete_month(parts.data_end))
    return [k for k in keys if lo_month <= pd.Period(k, freq="M") <= hi_month]


def _register_tickers(instance, settings: Settings, tickers: list[str] | None) -> int:
    """Register the universe (companies in the warehouse) as dynamic ``tickers`` partitions."""
    from hedging_pipeline.defs.partitions import TICKERS_PARTITION
    from hedging_pipeline.warehouse.duckdb import Warehouse

    wh = Warehouse(settings.warehouse_path, lock_timeout_s=settings.lock_timeout_s)
    universe = sorted(wh.read("raw_companies", columns=["ticker"])["ticker"])
    if tickers is not None:
        unknown = sorted(set(tickers) - set(universe))
        if unknown:
            import difflib

            from hedging_pipeline.errors import UnknownTickerError

            close = difflib.get_close_matches(unknown[0], universe, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UnknownTickerError(
                f"--tickers: {', '.join(unknown)} not in the companies file{hint}"
            )
    existing = set(instance.get_dynamic_partitions(TICKERS_PARTITION))
    for gone in sorted(existing - set(universe)):  # a corrected companies file removed it
        instance.delete_dynamic_partition(TICKERS_PARTITION, gone)
    new = [t for t in universe if t not in existing]
    if new:
        instance.add_dynamic_partitions(TICKERS_PARTITION, new)
    return len(new)


def _first_error(result) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            while error.cause is not None and error.cls_name in (
                "DagsterExecutionStepExecutionError",
                "DagsterUserCodeExecutionError",
            ):
                error = error.cause
            message = error.message.strip().splitlines()[0] if error.message else error.cls_name
            # Dagster prefixes the exception's qualified class name; the message itself is the useful part.
            message = message.split(f"{error.cls_name}: ", 1)[-1]
            return f"{event.step_key}: {message}"
    return "run failed (see the Dagster UI for the event log)"


def _open_instance(settings: Settings):
    """The project's Dagster instance, opened under an exclusive file lock.

    The first use creates the SQLite schema; processes doing that at the same moment corrupt it for good
    ("alembic_version has more than one head"), e.g. two runs started together on a fresh HEDGING_HOME.
    """
    import fcntl

    import dagster as dg

    with open(settings.dagster_home / ".instance.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return dg.DagsterInstance.get()


def _recover_orphaned_runs(instance) -> None:
    """Fail runs left active by a killed process and free their pool slots (else later steps wait for ever)."""
    from hedging_pipeline.defs.executors import recover_orphaned_runs

    for orphan in recover_orphaned_runs(instance):
        pids = ", ".join(map(str, orphan.pids))
        _echo(
            f"  recovered run {orphan.run_id[:8]} ({orphan.job_name}): process {pids} is gone; marked "
            f"failed, {orphan.freed_slots} pool slot(s) freed"
        )


def _execute_stage(defs, instance, stage, plan, tickers) -> str | None:
    """Run the plan of one stage (one run per partition block); the first error line, or ``None``."""
    from hedging_pipeline.defs.executors import run_process_tags
    from hedging_pipeline.defs.logging import progress_logger_config

    job = defs.resolve_job_def(stage.job_name)
    subset = None if set(plan.keys) == set(stage.asset_keys) else list(plan.keys)
    for block in plan.blocks or [None]:
        tags = {} if block is None else {RANGE_START_TAG: block[0], RANGE_END_TAG: block[1]}
        if tickers:
            tags[TARGETS_TAG] = ",".join(tickers)
        tags.update(run_process_tags())
        began = time.monotonic()
        result = job.execute_in_process(
            instance=instance,
            tags=tags,
            run_config=progress_logger_config(),
            raise_on_error=False,
            asset_selection=subset,
        )
        if not result.success:
            _echo(f"error: {_first_error(result)}")
            _echo(f"run {result.run_id} failed; earlier materialisations are intact")
            return _first_error(result)
        _echo(f"    done in {time.monotonic() - began:.1f} s (run {result.run_id[:8]})")
    return None


def _describe_plan(stage, plan, count: int) -> str:
    names = ", ".join(k.to_user_string() for k in plan.keys)
    if plan.blocks is None:
        return f"[{stage.index + 1}/{count}] {stage.name}: {names} ({plan.reason})"
    spans = ", ".join(a if a == b else f"{a}..{b}" for a, b in plan.blocks)
    return f"[{stage.index + 1}/{count}] {stage.name}: {names} over {spans} ({plan.reason})"


def _selection(instance, settings: Settings, repo, parts, stages, force: bool):
    """The stale-only selection context and the drop state to save after a successful run."""
    from hedging_pipeline.data.digests import fingerprints
    from hedging_pipeline.defs import selection as sel

    state = sel.load_run_state(settings.home)
    prints = fingerprints(settings.raw_dir)
    stale, changes, drop = sel.raw_changes(instance, settings.raw_dir, prints, state)
    assets = {k: a for k, a in repo.assets_defs_by_key.items()}
    selection = sel.Selection(
        instance=instance,
        assets=assets,
        parts=parts,
        log=sel.ChangeLog(instance, state.watermark if state else 0),
        stale_files=stale,
        changes=changes,
        force=force,
        entry_keys=frozenset(stages[0].asset_keys) if stages else frozenset(),
    )
    return selection, drop


def command_run(args: argparse.Namespace) -> int:
    """Materialise what is stale in the asset graph, stage by stage, and print where the results are."""
    settings = load_settings()
    start = _parse_date(args.start, "--start")
    end = _parse_date(args.end, "--end")
    tickers = _parse_tickers(args.tickers)
    if start is not None and end is not None and start > end:
        raise HedgingError(f"--start {start.date()} is after --end {end.date()}")
    ensure_instance_dir(settings)
    _echo(f"hedging-pipeline: {settings.describe_raw_source()}")
    _echo(f"hedging-pipeline: home {settings.home} (warehouse, Dagster instance, reports)")

    import dagster as dg

    from hedging_pipeline.definitions import build_definitions
    from hedging_pipeline.defs import selection as sel
    from hedging_pipeline.defs.partitions import build_partitions
    from hedging_pipeline.defs.stages import compute_stages

    defs = build_definitions(settings)
    parts = build_partitions(settings)
    repo = defs.get_repository_def()
    stages = compute_stages(list({id(a): a for a in repo.assets_defs_by_key.values()}.values()))
    instance = _open_instance(settings)
    total_start = time.monotonic()
    selection, drop = _selection(instance, settings, repo, parts, stages, args.force)
    for stage in stages:
        _recover_orphaned_runs(instance)
        if isinstance(stage.partitions_def, dg.DynamicPartitionsDefinition):
            added = _register_tickers(instance, settings, tickers)
            if added:
                _echo(f"  registered {added} ticker partitions")
        window = _stage_keys(stage, instance, settings, parts, start, end, tickers)
        plan = sel.plan_stage(selection, stage, window)
        if plan.empty:
            names = ", ".join(k.to_user_string() for k in stage.asset_keys)
            why = plan.reason or "no partitions in range"
            _echo(f"[{stage.index + 1}/{len(stages)}] {stage.name}: nothing to do, {why} ({names})")
            continue
        _echo(_describe_plan(stage, plan, len(stages)))
        if _execute_stage(defs, instance, stage, plan, tickers) is not None:
            return EXIT_FAILED
        selection.log.refresh()
    if drop is not None and start is None and end is None and tickers is None:
        # A bounded run leaves changes outside its bounds stale: only a whole run advances the memory.
        mark = sel.watermark(instance, repo.assets_defs_by_key)
        sel.save_run_state(settings.home, sel.RunState(drop, mark))
    _summary(settings, time.monotonic() - total_start)
    return EXIT_OK


def _summary(settings: Settings, seconds: float) -> None:
    from hedging_pipeline.warehouse.duckdb import Warehouse

    counts = Warehouse(
        settings.warehouse_path, lock_timeout_s=settings.lock_timeout_s
    ).table_counts()
    _echo(f"\nfinished in {seconds:.0f} s")
    _echo(f"warehouse: {settings.warehouse_path}")
    width = max((len(t) for t in counts), default=10)
    for table, rows in counts.items():
        _echo(f"  {table:<{width}}  {rows:>12,} rows")
    _echo(f"reports:   {settings.reports_dir}")
    _echo(f"dagster:   {settings.dagster_home} (open the UI with: hedging-pipeline ui)")


# -- ui ----------------------------------------------------------------------------------------------------------
def command_ui(args: argparse.Namespace) -> int:
    """Start the Dagster webserver and daemon on 127.0.0.1 for this project's instance."""
    settings = load_settings()
    ensure_instance_dir(settings)
    workspace = PROJECT_ROOT / "workspace.yaml"
    cmd = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-h",
        UI_HOST,
        "-p",
        str(args.port),
    ]
    cmd += ["-w", str(workspace)] if workspace.exists() else ["-m", "hedging_pipeline.definitions"]
    _echo(f"hedging-pipeline: {settings.describe_raw_source()}")
    _echo(
        f"Dagster UI on http://{UI_HOST}:{args.port} (instance {settings.dagster_home}); Ctrl-C stops"
    )
    env = dict(os.environ, DAGSTER_HOME=str(settings.dagster_home))
    try:
        return subprocess.call(cmd, env=env, cwd=str(PROJECT_ROOT))
    except KeyboardInterrupt:
        return EXIT_OK


# -- hedge -------------------------------------------------------------------------------------------------------
def _hedge_arguments(args: argparse.Namespace) -> tuple[str, pd.Timestamp | None]:
    """The one ticker and the ``--as-of`` date; checks ``--notional`` and ``--max-adv`` first."""
    from hedging_pipeline.hedging.liquidity import check_notional

    ticker = _parse_tickers(args.ticker)
    if not ticker or len(ticker) != 1:
        raise HedgingError(f"expected one ticker, got {args.ticker!r}")
    if args.notional is not None:
        check_notional(args.notional)
    if getattr(args, "max_adv", None) is not None:
        if args.notional is None:
            raise HedgingError("--max-adv needs --notional (the position value in USD)")
        if not (math.isfinite(args.max_adv) and 0 < args.max_adv <= 1):
            raise HedgingError(f"--max-adv {args.max_adv:g} must be a fraction in (0, 1], e.g. 0.1")
    return ticker[0], _parse_date(args.as_of, "--as-of")


def _peer_model(settings: Settings) -> str:
    """The model id the assets store peers under, computed without importing Dagster.

    Equal to ``EmbeddingModelResource.model_id`` at its default dimension; importing Dagster would
    cost the ``hedge`` command seconds.
    """
    from hedging_pipeline.nlp.embedding import expected_model_id

    return expected_model_id(settings.embedding_model)


def _plain_missing_table(exc: HedgingError) -> HedgingError:
    """A missing warehouse table in the user's words: what is missing and the command that builds it."""
    what = str(exc).split(";", 1)[0]
    return HedgingError(f"{what}; build the results first with: hedging-pipeline run")


def command_hedge(args: argparse.Namespace) -> int:
    """Print the hedge basket of one ticker from the warehouse (or every method with --compare)."""
    settings = load_settings()
    ticker, as_of = _hedge_arguments(args)

    from hedging_pipeline.services import hedges
    from hedging_pipeline.warehouse.duckdb import Warehouse

    warehouse = Warehouse(settings.warehouse_path)
    peer_model = _peer_model(settings)
    if args.compare:
        from hedging_pipeline.services import proposal

        table = proposal.compare_methods(
            warehouse,
            ticker,
            as_of=as_of,
            notional=args.notional,
            max_adv=args.max_adv,
            peer_model=peer_model,
        )
        _echo(table.to_text())
        return EXIT_OK
    report = hedges.hedge_for_cli(
        warehouse,
        ticker,
        method=args.method,
        as_of=as_of,
        notional=args.notional,
        peer_model=peer_model,
        max_adv=args.max_adv,
    )
    _echo(report.to_text())
    return EXIT_OK


# -- report ------------------------------------------------------------------------------------------------------
def command_report(args: argparse.Namespace) -> int:
    """Write the one-file HTML hedge proposal of one ticker."""
    settings = load_settings()
    ticker, as_of = _hedge_arguments(args)

    from hedging_pipeline.services import proposal
    from hedging_pipeline.warehouse.duckdb import Warehouse

    path = proposal.write_proposal(
        Warehouse(settings.warehouse_path),
        ticker,
        args.out,
        as_of=as_of,
        notional=args.notional,
        max_adv=args.max_adv,
        method=args.method,
        peer_model=_peer_model(settings),
        source_note=settings.describe_raw_source(),
    )
    _echo(f"wrote {path} ({path.stat().st_size / 1024:,.0f} KiB); open it in a browser")
    return EXIT_OK


def _storage_failure(exc: BaseException) -> str | None:
    """One line for a home that cannot be written (permissions, read-only, full disk), else ``None``.

    Covers failures outside the warehouse (creating ``HEDGING_HOME``, the Dagster instance's SQLite files); the
    warehouse itself raises :class:`~hedging_pipeline.warehouse.duckdb.WarehouseWriteError` already.
    """
    from hedging_pipeline.warehouse.duckdb import is_storage_failure

    if isinstance(exc, OSError) and exc.strerror:
        where = f" {exc.filename}" if exc.filename else ""
        return (
            f"cannot write{where}: {exc.strerror}; set HEDGING_HOME to a writable folder with free space "
            "and re-run (nothing was changed)"
        )
    if is_storage_failure(exc):
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return f"cannot write under HEDGING_HOME ({first}); free space or make it writable, then re-run"
    return None


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows every argument's default, unless its help already says it in words."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def _method_help() -> str:
    from hedging_pipeline.hedging.registry import ALL_METHODS, INDEX_METHODS

    baskets = ", ".join(m for m in ALL_METHODS if m not in INDEX_METHODS)
    index = " and ".join(INDEX_METHODS)
    return (
        f"hedge method: {baskets} (or <candidates>_<risk>, e.g. correlation_sample); {index} "
        "are index shorts built by the backtest, shown by --compare"
    )


def _position_arguments(parser: argparse.ArgumentParser) -> None:
    """``TICKER``, ``--method``, ``--as-of``, ``--notional``, ``--max-adv`` (hedge and report)."""
    parser.add_argument("ticker", help="the stock held, e.g. AAPL")
    parser.add_argument("--method", default="factor", help=_method_help())
    parser.add_argument(
        "--as-of",
        dest="as_of",
        default=None,
        help="use the latest month-end rebalance on or before this date, YYYY-MM-DD "
        "(default: the latest)",
    )
    parser.add_argument(
        "--notional",
        type=float,
        default=None,
        help="position value in USD, e.g. 1000000000 (default: 1,000,000)",
    )
    parser.add_argument(
        "--max-adv",
        dest="max_adv",
        type=float,
        default=None,
        help="cap each name's short at this fraction of its 20-day average daily dollar volume, "
        "e.g. 0.1 (needs --notional; default: no cap)",
    )


def _translated(command):
    """Run ``command`` with a missing warehouse table reported as what to run, not which asset."""

    def run(args: argparse.Namespace) -> int:
        from hedging_pipeline.warehouse.duckdb import MissingTableError

        try:
            return command(args)
        except MissingTableError as exc:
            raise _plain_missing_table(exc) from None

    return run


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``hedging-pipeline``."""
    parser = argparse.ArgumentParser(
        prog="hedging-pipeline",
        formatter_class=_HelpFormatter,
        description="Nightly hedges for concentrated stock positions, as a Dagster code location.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="materialise the whole asset graph and print where results are",
        formatter_class=_HelpFormatter,
    )
    run.add_argument(
        "--start", help="first trading day to (re)compute, YYYY-MM-DD (default: the first)"
    )
    run.add_argument(
        "--end", help="last trading day to (re)compute, YYYY-MM-DD (default: the last)"
    )
    run.add_argument(
        "--tickers", help="comma-separated tickers for the per-ticker stages (default: all)"
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="recompute every asset in the window, not only what is stale",
    )
    run.set_defaults(func=command_run)
    ui = sub.add_parser(
        "ui",
        help="start the Dagster UI (webserver + daemon) on 127.0.0.1",
        formatter_class=_HelpFormatter,
    )
    ui.add_argument("--port", type=int, default=UI_PORT, help="TCP port of the web UI")
    ui.set_defaults(func=command_ui)
    hedge = sub.add_parser(
        "hedge",
        help="print the hedge basket of a ticker (or every method side by side)",
        formatter_class=_HelpFormatter,
    )
    _position_arguments(hedge)
    hedge.add_argument(
        "--compare",
        action="store_true",
        help="show every method side by side, each priced by the factor model as well as its own "
        "risk, with its realised variance reduction in the backtest",
    )
    hedge.set_defaults(func=_translated(command_hedge))
    report = sub.add_parser(
        "report",
        help="write a one-file HTML hedge proposal (tables and inline plots)",
        formatter_class=_HelpFormatter,
    )
    _position_arguments(report)
    report.add_argument(
        "--out", required=True, help="HTML file to write, e.g. proposal.html (required)"
    )
    report.set_defaults(func=_translated(command_report))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.getLogger("py.warnings").setLevel(logging.ERROR)
    try:
        return int(args.func(args))
    except HedgingError as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"error: {message}", file=sys.stderr, flush=True)
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - storage failures become one line; anything else is a bug
        message = _storage_failure(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr, flush=True)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
