"""Dagster assets of the backtest area: ``backtest_results`` and ``backtest_summary`` (unpartitioned).

Both read the hedges of every hedge month at once (the walk-forward test stitches all months of a
target together), so they are recomputed as a whole after the hedges change; on the real universe
that is seconds. The Markdown report is the ``backtest_report`` asset (``defs/reports.py``).
"""

import dagster as dg
import pandas as pd

from hedging_pipeline.backtest import quality
from hedging_pipeline.backtest.metrics import backtest_hedges
from hedging_pipeline.backtest.summary import order_methods, summarise_grid
from hedging_pipeline.defs.common import (
    GROUP_BACKTEST,
    OWNER,
    WAREHOUSE_POOL,
    frame_metadata,
    plot_metadata,
)
from hedging_pipeline.defs.panels import check_results, check_specs, raise_on_blocking
from hedging_pipeline.defs.partitions import PartitionSet
from hedging_pipeline.defs.resources import WarehouseResource
from hedging_pipeline.hedging.registry import INDEX_METHODS
from hedging_pipeline.reporting import backtest_report as report
from hedging_pipeline.reporting.tables import frame_to_markdown
from hedging_pipeline.settings import Settings
from hedging_pipeline.types import METHODS

RESULTS_BLOCKING = ("unique_keys", "finite_results")
RESULTS_WARN = ("hedges_evaluated",)
SUMMARY_BLOCKING = ("finite_summary",)
SUMMARY_WARN = ("covers_every_method", "eligible_share", "te_calibration")
RETURNS_LOOKBACK = pd.Timedelta(days=400)
"""Calendar days of returns read before the first rebalance (the index beta's 252 trading days)."""
HEDGE_INPUTS = ["hedge_weights", "hedge_diagnostics", "daily_returns", "market_caps"]


def _read_inputs(warehouse: WarehouseResource):
    """Read every hedge and the daily returns from the first rebalance date on."""
    wh = warehouse.get()
    weights = wh.read("hedge_weights", date_column="as_of")
    diagnostics = wh.read("hedge_diagnostics", date_column="as_of")
    first = weights["as_of"].min() - RETURNS_LOOKBACK if len(weights) else None
    return weights, diagnostics, wh.read("daily_returns", start=first)


def _expected(diagnostics: pd.DataFrame) -> list[str]:
    """Methods the summary must hold: CONTRACT's, every method hedged, the index shorts."""
    return order_methods([*{*METHODS, *diagnostics["method"], *INDEX_METHODS}])


def _read_caps(warehouse: WarehouseResource, start):
    """Market caps from ``start`` on (they weight the index baseline)."""
    return warehouse.get().read(
        "market_caps", start=start, columns=["date", "ticker", "market_cap"]
    )


def build_backtest_defs(parts: PartitionSet, settings: Settings) -> dg.Definitions:
    """Assets and checks of the backtest area."""
    common = {
        "pool": WAREHOUSE_POOL,
        "owners": [OWNER],
        "group_name": GROUP_BACKTEST,
        "kinds": {"duckdb", "pandas"},
    }

    @dg.asset(
        deps=HEDGE_INPUTS,
        check_specs=check_specs("backtest_results", RESULTS_BLOCKING, RESULTS_WARN),
        **common,
    )
    def backtest_results(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        """Out-of-sample vols and variance reduction per hedge-month and per target and method."""
        weights, diagnostics, returns = _read_inputs(warehouse)
        caps = _read_caps(warehouse, returns["date"].min())
        evaluation = backtest_hedges(weights, diagnostics, returns, market_caps=caps)
        results = evaluation.results
        context.log.info(
            f"backtested {len(results):,} rows; {len(evaluation.skipped)} hedges skipped"
        )
        checks = {
            "unique_keys": quality.unique_result_keys(results),
            "finite_results": quality.finite_results(results),
            "hedges_evaluated": quality.evaluated_share(results, evaluation.skipped),
        }
        raise_on_blocking("backtest_results", checks, RESULTS_BLOCKING)
        warehouse.get().replace_table("backtest_results", results)
        full = results.loc[results["scope"] == "full_period"]
        meta = frame_metadata(results, date_column="as_of")
        meta["full_period_preview"] = dg.MetadataValue.md(frame_to_markdown(full))
        meta["n_skipped"] = dg.MetadataValue.int(len(evaluation.skipped))
        meta |= plot_metadata(report.plot_variance_reduction(results), title="variance_reduction")
        meta |= plot_metadata(report.plot_te_scatter(results), title="realised_vs_predicted_te")
        return dg.MaterializeResult(
            metadata=meta,
            check_results=check_results("backtest_results", checks, blocking=RESULTS_BLOCKING),
        )

    @dg.asset(
        deps=["backtest_results", *HEDGE_INPUTS],
        check_specs=check_specs("backtest_summary", SUMMARY_BLOCKING, SUMMARY_WARN),
        **common,
    )
    def backtest_summary(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        """Per method: median/mean variance reduction, win rate vs factor (bootstrap CIs), TE ratio."""
        results = warehouse.get().read("backtest_results", date_column="as_of")
        weights, diagnostics, returns = _read_inputs(warehouse)
        summary = summarise_grid(results, weights)
        checks = {
            "finite_summary": quality.finite_summary(summary),
            "covers_every_method": quality.covers_methods(summary, _expected(diagnostics)),
            "eligible_share": quality.eligible_share(results, summary),
            "te_calibration": quality.te_calibration(summary),
        }
        raise_on_blocking("backtest_summary", checks, SUMMARY_BLOCKING)
        warehouse.get().replace_table("backtest_summary", summary)
        meta = frame_metadata(summary, date_column=None, preview_rows=len(summary))
        return dg.MaterializeResult(
            metadata=meta,
            check_results=check_results("backtest_summary", checks, blocking=SUMMARY_BLOCKING),
        )

    return dg.Definitions(assets=[backtest_results, backtest_summary])
