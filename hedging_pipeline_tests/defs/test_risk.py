"""In-process materialisations of the risk assets on the demo warehouse (30 tickers, 2020-2022)."""

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.defs.partitions import build_partitions
from hedging_pipeline.defs.resources import build_resources
from hedging_pipeline.defs.risk import REPORT_NAME, build_risk_defs
from hedging_pipeline.risk.covariance import covariance_from_rows
from hedging_pipeline.risk.exposures import build_style_exposures
from hedging_pipeline.risk.regression import estimate_factor_returns
from hedging_pipeline.types import STYLE_FACTORS
from hedging_pipeline.warehouse.duckdb import Warehouse
from hedging_pipeline_tests.defs.conftest import RANGE_END, RANGE_START

TABLES = (
    "style_exposures",
    "factor_returns",
    "specific_returns",
    "factor_regression_stats",
    "factor_covariance",
    "specific_risk",
    "risk_model_diagnostics",
)


def _materialize(settings, instance):
    parts = build_partitions(settings)
    defs = build_risk_defs(parts, settings)
    months = [k for k in parts.months.get_partition_keys() if k <= parts.data_end.strftime("%Y-%m")]
    monthly = [a for a in defs.assets if a.partitions_def is not None]
    whole = [a for a in defs.assets if a.partitions_def is None]
    resources = build_resources(settings)
    first = dg.materialize(
        monthly,
        instance=instance,
        resources=resources,
        tags={RANGE_START: months[0], RANGE_END: months[-1]},
    )
    second = dg.materialize(whole, instance=instance, resources=resources)
    return first, second


@pytest.fixture(scope="module")
def materialised(panels_home, demo_raw_dir, tmp_path_factory):
    import shutil

    from hedging_pipeline_tests.conftest import make_settings

    home = tmp_path_factory.mktemp("risk_home")
    shutil.copyfile(panels_home / "warehouse.duckdb", home / "warehouse.duckdb")
    settings = make_settings(demo_raw_dir, home)
    instance = dg.DagsterInstance.ephemeral()
    first, second = _materialize(settings, instance)
    wh = Warehouse(home / "warehouse.duckdb")
    tables = {t: wh.read(t) for t in TABLES}
    return settings, instance, first, second, wh, tables


def test_risk_assets_write_the_contract_tables(materialised):
    settings, _, first, second, wh, tables = materialised
    assert first.success and second.success
    ex = tables["style_exposures"]
    assert list(ex.columns)[:11] == ["date", "ticker", "industry", "market_cap", *STYLE_FACTORS]
    assert ex[list(STYLE_FACTORS)].notna().all().all()
    fr = tables["factor_returns"]
    assert {"date", "factor", "ret"} <= set(fr.columns)
    assert fr["ret"].notna().all()
    n_factors = fr["factor"].nunique()
    assert fr.groupby("date").size().eq(n_factors).all()
    assert {"date", "r2", "n_assets"} <= set(tables["factor_regression_stats"].columns)
    assert {"date", "ticker", "ret"} <= set(tables["specific_returns"].columns)
    cov = tables["factor_covariance"]
    assert cov["date"].nunique() >= 6  # month ends once two years of factor returns exist
    for _, rows in cov.groupby("date"):
        _, matrix = covariance_from_rows(rows)
        assert np.linalg.eigvalsh(matrix).min() >= -1e-12
    spec = tables["specific_risk"]
    assert set(spec["date"].unique()) == set(cov["date"].unique())
    assert (spec["vol"] > 0).all()
    diag = tables["risk_model_diagnostics"].set_index("metric")["value"]
    assert diag["n_models"] == cov["date"].nunique()
    assert 0.0 < diag["mean_r2"] < 1.0
    report = next(settings.home.rglob(REPORT_NAME))
    assert report.read_text().count("data:image/png;base64,") == 3
    evaluations = first.get_asset_check_evaluations() + second.get_asset_check_evaluations()
    names = {(e.asset_key.to_user_string(), e.check_name): e for e in evaluations}
    for key in [
        ("style_exposures", "complete_exposures"),
        ("style_exposures", "standardised_exposures"),
        ("factor_returns", "complete_factor_returns"),
        ("factor_covariance", "psd"),
        ("specific_risk", "positive_vol"),
    ]:
        assert names[key].passed, key
    assert ("risk_model_diagnostics", "bias_in_band") in names


def test_monthly_partitions_reproduce_the_whole_history_computation(materialised):
    _, _, _, _, wh, tables = materialised
    caps = wh.read("market_caps", columns=["date", "ticker", "market_cap"])
    expected = build_style_exposures(
        wh.read("prices", columns=["date", "ticker", "close", "volume"]),
        wh.read("daily_returns"),
        caps,
        wh.read("raw_companies"),
        wh.read("raw_fundamentals"),
        wh.read("raw_exposures"),
    )
    got = tables["style_exposures"][expected.columns]
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True), expected, check_exact=False, rtol=1e-9, atol=1e-9
    )
    full = estimate_factor_returns(got, wh.read("daily_returns"), skip_thin_days=True)
    stored = tables["factor_returns"].sort_values(["date", "factor"], ignore_index=True)
    want = full.factor_returns.sort_values(["date", "factor"], ignore_index=True)
    np.testing.assert_allclose(stored["ret"], want["ret"], rtol=0, atol=1e-12)


def test_rematerialising_is_idempotent(materialised):
    settings, instance, _, _, wh, tables = materialised
    first, second = _materialize(settings, instance)
    assert first.success and second.success
    for table in TABLES:
        again = wh.read(table)
        assert len(again) == len(tables[table]), table
        pd.testing.assert_frame_equal(again, tables[table], check_exact=False, rtol=1e-12)
