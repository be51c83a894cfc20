"""The code location loads; partitions rewrite only their rows; a failed run leaves the warehouse intact."""

import shutil

import dagster as dg
import pandas as pd
import pytest

from hedging_pipeline.definitions import build_definitions
from hedging_pipeline.defs.panels import build_panel_assets
from hedging_pipeline.defs.partitions import build_partitions
from hedging_pipeline.defs.raw import build_raw_assets
from hedging_pipeline.defs.resources import build_resources
from hedging_pipeline.warehouse.duckdb import Warehouse
from hedging_pipeline_tests.conftest import make_settings

CONTRACT_TABLES = {"prices", "daily_returns"}


def test_definitions_load_with_stage_jobs(demo_settings):
    defs = build_definitions(demo_settings)
    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert CONTRACT_TABLES | {"raw_prices", "raw_companies", "market_caps"} <= keys
    jobs = {j.name for j in repo.get_all_jobs()}
    assert "stage_0_unpartitioned" in jobs
    assert any(name.endswith("_monthly") for name in jobs)


def test_module_level_defs_load():
    from hedging_pipeline.definitions import defs

    assert defs.get_repository_def().asset_graph.get_all_asset_keys()


def test_partitions_start_at_the_data(demo_settings):
    parts = build_partitions(demo_settings)
    assert parts.data_start == pd.Timestamp("2020-01-02")
    assert parts.months.get_first_partition_key() == "2020-01"
    hedge_keys = parts.hedge_months.get_partition_keys()
    assert hedge_keys[0] == "2022-07" and "2022-12" in hedge_keys  # the last 6 complete months


def _materialize_month(settings, month):
    parts = build_partitions(settings)
    assets = [*build_raw_assets(parts), *build_panel_assets(parts)]
    panels = [a for a in assets if a.partitions_def is not None]
    return dg.materialize(
        assets,
        selection=panels,
        partition_key=month,
        resources=build_resources(settings),
        instance=dg.DagsterInstance.ephemeral(),
    )


def test_rematerialising_one_month_rewrites_only_its_rows(panels_settings):
    wh = Warehouse(panels_settings.warehouse_path)
    before = wh.read("daily_returns")
    with wh.connect() as con:  # mark every row so we can tell rewritten rows from untouched ones
        con.execute("update daily_returns set ret = 123.0")
    assert _materialize_month(panels_settings, "2021-06").success
    after = wh.read("daily_returns")
    in_june = after["date"].dt.strftime("%Y-%m") == "2021-06"
    assert len(after) == len(before)
    assert (after.loc[~in_june, "ret"] == 123.0).all()  # other months untouched
    recomputed = after.loc[in_june].set_index(["date", "ticker"])["ret"]
    original = before.set_index(["date", "ticker"]).loc[recomputed.index, "ret"]
    pd.testing.assert_series_equal(
        recomputed, original
    )  # June recomputed, identical to the first run


def test_bad_input_fails_the_run_and_keeps_earlier_rows(demo_raw_dir, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(demo_raw_dir, raw)
    settings = make_settings(raw, tmp_path / "home")
    parts = build_partitions(settings)
    assets = build_raw_assets(parts)
    resources = build_resources(settings)
    assert dg.materialize(assets, resources=resources).success
    wh = Warehouse(settings.warehouse_path)
    rows_before = wh.row_count("raw_prices")

    prices = pd.read_parquet(raw / "prices.parquet")
    prices.loc[5, "close"] = -1.0
    prices.to_parquet(raw / "prices.parquet")
    result = dg.materialize(assets, resources=resources, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.cause.message
    row = prices.loc[5]
    assert (
        f"column 'close' is -1 (must be > 0) for ticker {row['ticker']} on {row['date'].date()}"
        in message
    )
    assert wh.row_count("raw_prices") == rows_before
    assert (wh.read("raw_prices")["close"] > 0).all()


def test_unknown_ticker_in_prices_fails_with_its_name(demo_raw_dir, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(demo_raw_dir, raw)
    prices = pd.read_parquet(raw / "prices.parquet")
    prices.loc[0, "ticker"] = "ZZZZ"
    prices.to_parquet(raw / "prices.parquet")
    settings = make_settings(raw, tmp_path / "home")
    result = dg.materialize(
        build_raw_assets(build_partitions(settings)),
        resources=build_resources(settings),
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "1 ticker(s) not in companies: ZZZZ" in failure.step_failure_data.error.cause.message


@pytest.mark.slow
def test_panel_checks_are_recorded(panels_settings):
    result = _materialize_month(panels_settings, "2021-03")
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations["unique_date_ticker"] is True
    assert evaluations["positive_prices"] is True
    assert evaluations["finite_returns"] is True
