"""In-process materialisations of backtest_results and backtest_summary on the demo warehouse."""

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.backtest.metrics import backtest_hedges
from hedging_pipeline.backtest.summary import order_methods, summarise_backtest
from hedging_pipeline.defs.backtest import build_backtest_defs
from hedging_pipeline.defs.partitions import build_partitions
from hedging_pipeline.defs.reports import REPORT_INPUTS, build_report_assets
from hedging_pipeline.defs.resources import build_resources
from hedging_pipeline.hedging.registry import INDEX_METHODS
from hedging_pipeline.reporting.backtest_report import IMAGE_NAMES, REPORT_NAME
from hedging_pipeline.types import METHODS
from hedging_pipeline.warehouse.duckdb import Warehouse
from hedging_pipeline_tests.backtest.synthetic import month_ends, random_hedges

N_MONTHS = 6


@pytest.fixture
def hedged_settings(panels_settings):
    """The demo panels warehouse plus random hedges for every method over the last months."""
    wh = Warehouse(panels_settings.home / "warehouse.duckdb")
    returns = wh.read("daily_returns")
    as_of = month_ends(returns["date"].unique())[-N_MONTHS - 1 :]  # the last one has no test window
    tickers = sorted(returns["ticker"].unique())
    weights, diagnostics = random_hedges(tickers, as_of, METHODS, n_names=5, seed=4)
    wh.replace_table("hedge_weights", weights)
    wh.replace_table("hedge_diagnostics", diagnostics)
    return panels_settings


def _materialize(settings, instance, raise_on_error=True):
    defs = build_backtest_defs(build_partitions(settings), settings)
    inputs = {
        dg.AssetKey(k) for k in REPORT_INPUTS
    }  # the report asset (defs/reports.py) renders it
    return dg.materialize(
        [*defs.assets, *build_report_assets(inputs)],
        instance=instance,
        resources=build_resources(settings),
        raise_on_error=raise_on_error,
    )


def test_backtest_assets_materialise_idempotently_and_write_the_report(hedged_settings):
    instance = dg.DagsterInstance.ephemeral()
    result = _materialize(hedged_settings, instance)
    assert result.success
    wh = Warehouse(hedged_settings.home / "warehouse.duckdb")
    stored = wh.read("backtest_results", date_column="as_of")
    weights = wh.read("hedge_weights", date_column="as_of")
    diagnostics = wh.read("hedge_diagnostics", date_column="as_of")
    caps = wh.read("market_caps", columns=["date", "ticker", "market_cap"])
    expected = backtest_hedges(weights, diagnostics, wh.read("daily_returns"), market_caps=caps)
    n_tickers = weights["ticker"].nunique()
    assert set(stored["method"]) == set(METHODS) | set(INDEX_METHODS)
    assert len(stored) == len(expected.results)
    keys = ["scope", "as_of", "ticker", "method"]
    got = stored.sort_values(keys, ignore_index=True)
    want = expected.results.sort_values(keys, ignore_index=True)
    numbers = ["horizon_days", "vol_unhedged", "vol_hedged", "predicted_te", "variance_reduction"]
    assert (got[keys].to_numpy() == want[keys].to_numpy()).all()
    np.testing.assert_allclose(got[numbers].to_numpy(float), want[numbers].to_numpy(float))
    summary = wh.read("backtest_summary")
    assert list(summary["method"]) == order_methods([*METHODS, *INDEX_METHODS])
    assert (summary["n_targets"] >= 0.8 * n_tickers).all()
    np.testing.assert_allclose(
        summary["median_variance_reduction"],
        summarise_backtest(expected.results)["median_variance_reduction"],
    )
    assert summary["median_monthly_variance_reduction"].notna().all()
    # Checks: the last month's hedges have no test window by design, which is not a warning.
    checks = {
        (c.asset_key.path[-1], c.check_name): c.passed for c in result.get_asset_check_evaluations()
    }
    assert checks[("backtest_results", "hedges_evaluated")]
    assert checks[("backtest_results", "finite_results")]
    assert checks[("backtest_summary", "covers_every_method")]
    # Metadata carries the plots; the report is on disk with its images.
    meta = result.asset_materializations_for_node("backtest_results")[0].metadata
    assert meta["dagster/row_count"].value == len(stored)
    assert meta["variance_reduction"].value.startswith(
        "![variance_reduction](data:image/png;base64,"
    )
    report_dir = hedged_settings.home / "reports" / "backtest"
    text = (report_dir / REPORT_NAME).read_text()
    assert "| nlp_equal" in text and "Hedges not evaluated" in text
    assert all((report_dir / name).stat().st_size > 1000 for name in IMAGE_NAMES.values())

    # Re-running replaces, never appends.
    assert _materialize(hedged_settings, instance).success
    again = wh.read("backtest_results", date_column="as_of").sort_values(keys, ignore_index=True)
    pd.testing.assert_frame_equal(again, got)
    pd.testing.assert_frame_equal(wh.read("backtest_summary"), summary)
    assert (report_dir / REPORT_NAME).read_text() == text


def test_a_failed_backtest_keeps_the_previous_results(hedged_settings):
    instance = dg.DagsterInstance.ephemeral()
    assert _materialize(hedged_settings, instance).success
    wh = Warehouse(hedged_settings.home / "warehouse.duckdb")
    before = wh.read("backtest_results", date_column="as_of")
    diagnostics = wh.read("hedge_diagnostics", date_column="as_of")
    diagnostics.loc[0, "predicted_te"] = np.nan  # a hedge whose diagnostics went missing
    wh.replace_table("hedge_diagnostics", diagnostics)
    result = _materialize(hedged_settings, instance, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    ticker = diagnostics.loc[0, "ticker"]
    error = failure.step_failure_data.error.cause
    assert error.cls_name == "DataError"
    assert f"hedge of ticker {ticker} as of" in error.message
    pd.testing.assert_frame_equal(wh.read("backtest_results", date_column="as_of"), before)
