"""Dagster assets of the hedges area: ``hedge_weights`` and ``hedge_diagnostics`` (one multi-asset).

Partitioned by ``hedge_months`` (``YYYY-MM``, the backtest window; single-run backfills). Each month
hedges every ticker of its rebalance date's risk model by every method. Per-ticker staleness lives
inside the month: each (month, ticker, method) hedge stores the fingerprint of its inputs and is
re-solved only when it changed (docs/ARCHITECTURE.md), so re-running a month after, say, new semantic
peers re-solves only the peer-based hedges of the tickers whose peers moved. A run tagged
``hedging/tickers=A,B`` hedges only those tickers and replaces only their rows.
"""

import os
from collections.abc import Callable, Iterator

import dagster as dg
import pandas as pd

from hedging_pipeline.data.quality import QualityResult, load_quality_config
from hedging_pipeline.defs.common import (
    GROUP_HEDGING,
    OWNER,
    WAREHOUSE_POOL,
    add_partition_metadata,
    frame_metadata,
    lookback_dep,
    plot_metadata,
)
from hedging_pipeline.defs.panels import check_results, check_specs, raise_on_blocking
from hedging_pipeline.defs.partitions import PartitionSet
from hedging_pipeline.defs.resources import EmbeddingModelResource, WarehouseResource
from hedging_pipeline.hedging import quality
from hedging_pipeline.hedging.registry import HEDGE_STAGE_METHODS
from hedging_pipeline.reporting.hedge_report import hedge_plot, method_summary
from hedging_pipeline.reporting.tables import frame_to_markdown
from hedging_pipeline.services.hedges import (
    DEFAULT_SETTINGS,
    RETURNS_LOOKBACK_DAYS,
    MonthHedges,
    months_hedges,
    stack_months,
)
from hedging_pipeline.settings import Settings
from hedging_pipeline.warehouse.duckdb import Warehouse

TICKERS_TAG = "hedging/tickers"
HEDGE_WORKERS = os.cpu_count() or 1
"""Processes solving hedge months in parallel (reads and writes stay in the asset's process)."""
RETURNS_LOOKBACK_MONTHS = RETURNS_LOOKBACK_DAYS // 30 + 1
"""Months of daily returns before a rebalance date that the hedges read."""
WEIGHTS_BLOCKING, DIAGNOSTICS_BLOCKING = ("constraints_hold",), ("diagnostics_match",)
DIAGNOSTICS_WARN = ("gap_within_tolerance", "methods_cover_targets")


HEDGES_EMPTY = "no rows by design: no risk model or no eligible target at this month end"


def _tagged_tickers(context: dg.AssetExecutionContext) -> list[str] | None:
    tag = context.run.tags.get(TICKERS_TAG)
    return [t.strip().upper() for t in tag.split(",") if t.strip()] if tag else None


def _write(wh: Warehouse, month: MonthHedges, targets: list[str] | None) -> None:
    """Replace the month's rows (or only the tagged tickers' rows) of both tables."""
    start, end = month.window
    for table, frame in (
        ("hedge_weights", month.weights),
        ("hedge_diagnostics", month.diagnostics),
    ):
        if frame.empty and not wh.has_table(table):
            continue  # nothing to replace, and an empty frame cannot type a new table's columns
        if targets is not None and month.as_of is not None:
            wh.replace_rows(table, frame, keys={"as_of": [month.as_of], "ticker": targets})
        else:
            wh.write_partition(table, frame, start=start, end=end, date_column="as_of")


def _progress(context: dg.AssetExecutionContext) -> Callable[[MonthHedges], None]:
    """Log one line per finished month (the CLI shows these)."""

    def log(month: MonthHedges) -> None:
        context.log.info(
            f"hedges {month.month}: {len(month.diagnostics):,} hedges, {month.reused:,} reused"
        )

    return log


def _results(
    weights: pd.DataFrame,
    diagnostics: pd.DataFrame,
    months: list[MonthHedges],
    checks: dict[str, QualityResult],
    warehouse: WarehouseResource,
) -> Iterator[dg.MaterializeResult]:
    """The two materialisations, with metadata and their check results."""
    yield dg.MaterializeResult(
        asset_key="hedge_weights",
        metadata=_weights_metadata(weights, months),
        check_results=check_results(
            "hedge_weights", {k: checks[k] for k in WEIGHTS_BLOCKING}, blocking=WEIGHTS_BLOCKING
        ),
    )
    yield dg.MaterializeResult(
        asset_key="hedge_diagnostics",
        metadata=_diagnostics_metadata(diagnostics, months, warehouse),
        check_results=check_results(
            "hedge_diagnostics",
            {k: checks[k] for k in DIAGNOSTICS_BLOCKING + DIAGNOSTICS_WARN},
            blocking=DIAGNOSTICS_BLOCKING,
        ),
    )


def build_hedges_defs(parts: PartitionSet, settings: Settings) -> dg.Definitions:
    """Assets and checks of the hedges area."""
    deps = [
        "factor_covariance",
        "specific_risk",
        "style_exposures",
        "market_caps",
        lookback_dep("daily_returns", RETURNS_LOOKBACK_MONTHS),
        "semantic_peers",
        "raw_companies",
    ]
    common = {"deps": deps, "owners": [OWNER], "group_name": GROUP_HEDGING}
    specs = [
        dg.AssetSpec(
            "hedge_weights",
            description="Short basket per month end, ticker and method (≤ 10 names, ≤ 25 %, sum 1).",
            kinds={"duckdb", "pandas"},
            **common,
        ),
        dg.AssetSpec(
            "hedge_diagnostics",
            description="Predicted TE, certified lower bound and gap, solve time, fingerprint.",
            kinds={"duckdb", "pandas"},
            **common,
        ),
    ]

    @dg.multi_asset(
        name="hedges",
        specs=specs,
        check_specs=[
            *check_specs("hedge_weights", WEIGHTS_BLOCKING, ()),
            *check_specs("hedge_diagnostics", DIAGNOSTICS_BLOCKING, DIAGNOSTICS_WARN),
        ],
        partitions_def=parts.hedge_months,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
    )
    def hedges(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        embedding_model: EmbeddingModelResource,
    ):
        """Certified hedges of every ticker by every method at each month end (stale ones re-solved)."""
        wh, targets = warehouse.get(), _tagged_tickers(context)
        months = months_hedges(
            wh,
            context.partition_keys,
            targets,
            methods=HEDGE_STAGE_METHODS,
            peer_model=embedding_model.model_id,
            workers=HEDGE_WORKERS,
            progress=_progress(context),
        )
        weights, diagnostics = stack_months(months)
        gap_exceptions = load_quality_config().exceptions_for("gap_within_tolerance")
        checks = quality.hedge_checks(weights, diagnostics, DEFAULT_SETTINGS.solver, gap_exceptions)
        raise_on_blocking("hedges", checks, WEIGHTS_BLOCKING + DIAGNOSTICS_BLOCKING)
        for month in months:
            _write(wh, month, targets)
        for key, frame in (("hedge_weights", weights), ("hedge_diagnostics", diagnostics)):
            add_partition_metadata(
                context, frame, date_column="as_of", asset_key=key, empty_reason=HEDGES_EMPTY
            )
        yield from _results(weights, diagnostics, months, checks, warehouse)

    return dg.Definitions(assets=[hedges])


def _weights_metadata(weights: pd.DataFrame, months: list[MonthHedges]) -> dict:
    meta = frame_metadata(weights, date_column="as_of")
    meta["months"] = dg.MetadataValue.md(
        frame_to_markdown(
            pd.DataFrame(
                {
                    "month": [m.month for m in months],
                    "as_of": [str(m.as_of.date()) if m.as_of is not None else "" for m in months],
                    "hedges": [len(m.diagnostics) for m in months],
                    "reused": [m.reused for m in months],
                    "note": [m.note for m in months],
                }
            ),
            max_rows=len(months),
        )
    )
    return meta


def _diagnostics_metadata(
    diagnostics: pd.DataFrame, months: list[MonthHedges], warehouse: WarehouseResource
) -> dict:
    meta = frame_metadata(diagnostics, date_column="as_of")
    meta["reused"] = dg.MetadataValue.int(sum(m.reused for m in months))
    meta["re_solved"] = dg.MetadataValue.int(
        int((diagnostics["status"] != "infeasible").sum()) - sum(m.reused for m in months)
    )
    if len(diagnostics):
        meta["by_method"] = dg.MetadataValue.md(
            frame_to_markdown(method_summary(diagnostics), max_rows=20)
        )
        last = months[-1].month
        meta |= plot_metadata(
            hedge_plot(diagnostics),
            title="hedge_quality",
            save_to=warehouse.reports_dir / "hedges" / f"hedge_quality_{last}.png",
        )
    return meta
