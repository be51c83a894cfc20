from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.errors import (
    InfeasibleHedgeError,
    InsufficientHistoryError,
    UnknownTickerError,
)
from hedging_pipeline.hedging.methods import compute_hedges
from hedging_pipeline.hedging.registry import HEDGE_STAGE_METHODS
from hedging_pipeline.reporting.hedge_report import hedge_plot, method_summary
from hedging_pipeline.services.hedges import (
    hedge_for_cli,
    months_hedges,
    read_hedge_inputs,
    rebalance_date,
)
from hedging_pipeline.warehouse.duckdb import MissingTableError, Warehouse
from hedging_pipeline_tests.hedging.synthetic import warehouse_tables


@pytest.fixture(scope="module")
def warehouse(month, tmp_path_factory):
    wh = Warehouse(tmp_path_factory.mktemp("hedge_wh") / "warehouse.duckdb")
    for table, frame in warehouse_tables(month).items():
        wh.replace_table(table, frame)
    return wh


def test_cli_hedge_matches_the_batch_and_prices_the_shorts(warehouse, month):
    report = hedge_for_cli(warehouse, "S1N04", method="hybrid", notional=2_500_000)
    weights, diag = compute_hedges(
        *month.frames,
        methods=("hybrid",),
        targets=["S1N04"],
    )
    assert report.as_of == month.as_of
    assert [b.ticker for b in report.basket] == list(weights["hedge_ticker"])
    np.testing.assert_allclose([b.weight for b in report.basket], weights["weight"], rtol=1e-10)
    np.testing.assert_allclose(
        [b.short_usd for b in report.basket], weights["weight"] * 2_500_000, rtol=1e-10
    )
    assert report.hedged_vol == pytest.approx(diag["predicted_te"].iloc[0], rel=1e-10)
    assert report.target_vol > report.hedged_vol >= report.bound_vol
    assert report.gap <= 0.005 and report.status == "certified"
    # hybrid baskets are made of peers, each tagged with its rank
    assert all(b.peer_rank is not None and b.similarity is not None for b in report.basket)
    assert [p.ticker for p in report.peers] == list(
        month.peers[month.peers["ticker"] == "S1N04"].sort_values("rank")["peer"][:10]
    )
    text = report.to_text()
    assert "Hedge for S1N04 (Company S1N04)" in text
    assert f"{report.basket[0].short_usd:,.0f}" in text
    assert "gap" in text and "Semantic peers: S1N" in text


@pytest.mark.parametrize("method", ["factor", "universe_sample", "gics_blend", "nlp_equal"])
def test_cli_hedge_of_each_risk_kind_matches_the_batch(warehouse, month, method):
    # one `hedge` call prepares the sample covariance only for methods that price with it
    report = hedge_for_cli(warehouse, "S1N04", method=method)
    weights, diag = compute_hedges(
        *month.frames,
        methods=(method,),
        targets=["S1N04"],
    )
    got = pd.Series({b.ticker: b.weight for b in report.basket}).sort_index()
    expected = weights.set_index("hedge_ticker")["weight"].sort_index()  # equal weights: any order
    assert list(got.index) == list(expected.index)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-10)
    assert report.hedged_vol == pytest.approx(diag["predicted_te"].iloc[0], rel=1e-10)


def test_as_of_picks_the_latest_model_on_or_before(warehouse, month):
    assert rebalance_date(warehouse) == month.as_of
    assert rebalance_date(warehouse, month.as_of + pd.Timedelta(days=30)) == month.as_of
    with pytest.raises(
        InsufficientHistoryError, match="no risk model dated on or before 2019-06-28"
    ):
        rebalance_date(warehouse, "2019-06-28")
    report = hedge_for_cli(warehouse, "S0N00", as_of=month.as_of + pd.Timedelta(days=3))
    assert report.method == "factor" and report.notional == 1_000_000
    assert len(report.basket) <= 10 and sum(b.weight for b in report.basket) == pytest.approx(1)


def test_inputs_stop_at_the_rebalance_date(warehouse, month):
    inputs = read_hedge_inputs(warehouse, month.as_of)
    assert inputs.returns["date"].max() == month.as_of
    assert inputs.market_caps["date"].max() == month.as_of
    assert inputs.risk_model.tickers == month.model.tickers


def test_cli_errors_name_ticker_and_date(warehouse, month, tmp_path):
    with pytest.raises(UnknownTickerError, match="unknown ticker 'NOPE' \\(48 companies known\\)"):
        hedge_for_cli(warehouse, "NOPE")
    empty = Warehouse(tmp_path / "empty.duckdb")
    with pytest.raises(MissingTableError, match="factor_covariance"):
        hedge_for_cli(empty, "S0N00")
    no_peers = Warehouse(tmp_path / "no_peers.duckdb")
    for table, frame in warehouse_tables(month).items():
        if table != "semantic_peers":
            no_peers.replace_table(table, frame)
    with pytest.raises(
        InfeasibleHedgeError, match="ticker 'S0N00' as of 2020-02-24: method nlp needs"
    ):
        hedge_for_cli(no_peers, "S0N00", method="nlp")
    assert hedge_for_cli(no_peers, "S0N00").peers == ()


def test_method_summary_and_plot(month):
    _, diag = compute_hedges(
        *month.frames,
        targets=list(month.model.tickers[:12]),
    )
    table = method_summary(diag)
    assert list(table["method"]) == [
        "factor",
        "nlp",
        "nlp_equal",
        "hybrid",
        "gics",
        "correlation",
        "market",
    ]
    assert (table["n_hedges"] == 12).all()
    factor = table.set_index("method").loc["factor"]
    assert factor["n_certified"] == 12 and factor["max_gap"] <= 0.005
    expected = (1 - (diag["predicted_te"] / diag["target_vol"]) ** 2)[
        diag["method"] == "factor"
    ].median()
    assert factor["median_variance_reduction"] == pytest.approx(expected)
    png = hedge_plot(diag)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_months_in_worker_processes_match_in_process(month, tmp_path):
    wh = Warehouse(tmp_path / "months.duckdb")
    tables = warehouse_tables(month)
    dates = [pd.Timestamp("2019-12-31"), pd.Timestamp("2020-01-31"), month.as_of]
    for table in ("style_exposures", "factor_covariance", "specific_risk"):
        frame = tables[table]
        tables[table] = pd.concat([frame.assign(date=d) for d in dates], ignore_index=True)
    for table, frame in tables.items():
        wh.replace_table(table, frame)
    keys = ["2019-11", "2019-12", "2020-01", "2020-02"]
    targets = list(month.model.tickers[:5])
    seen = []
    serial = months_hedges(wh, keys, targets, workers=1)
    # fork keeps the test fast; the job still crosses the process boundary pickled
    parallel = months_hedges(
        wh, keys, targets, workers=2, progress=lambda m: seen.append(m.month), start_method="fork"
    )
    assert sorted(seen) == keys
    assert [m.as_of for m in parallel] == [None, *dates]
    assert "no risk model dated in 2019-11" in parallel[0].note
    for a, b in zip(serial, parallel, strict=True):
        pd.testing.assert_frame_equal(a.weights, b.weights)
        cols = [c for c in a.diagnostics.columns if c != "solve_ms"]
        pd.testing.assert_frame_equal(a.diagnostics[cols], b.diagnostics[cols])
    assert len(parallel[1].diagnostics) == 5 * len(
        HEDGE_STAGE_METHODS
    )  # 5 targets x every method the hedge stage solves


def test_peers_of_the_model_id_passed_in(month, tmp_path, monkeypatch):
    # two embedding models stored: the caller's model id decides, the environment does not
    wh = Warehouse(tmp_path / "two_models.duckdb")
    tables = warehouse_tables(month)
    other = month.peers.assign(model="other")
    other["peer"] = other.groupby("ticker")["peer"].transform(lambda s: s.iloc[::-1].to_numpy())
    tables["semantic_peers"] = pd.concat([month.peers, other], ignore_index=True)
    for table, frame in tables.items():
        wh.replace_table(table, frame)
    monkeypatch.setenv("HEDGING_EMBEDDING_MODEL", "other")
    fake = hedge_for_cli(wh, "S1N04", method="nlp", peer_model="fake")
    reversed_ = hedge_for_cli(wh, "S1N04", method="nlp", peer_model="other")
    mine = month.peers[month.peers["ticker"] == "S1N04"].sort_values("rank")
    assert [p.ticker for p in fake.peers] == list(mine["peer"][:10])
    assert [p.ticker for p in reversed_.peers] == list(mine["peer"][::-1][:10])
