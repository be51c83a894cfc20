"""Held shorts, turnover and costs, the index baselines, and the crash-robust statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.backtest.index import INDEX_TICKER, index_hedges, index_returns
from hedging_pipeline.backtest.metrics import backtest_hedges, evaluate_hedges
from hedging_pipeline.backtest.statistics import (
    CRISIS,
    monthly_cube,
    monthly_statistics,
    paired_differences,
    pooled_ex_crisis,
)
from hedging_pipeline.backtest.summary import share_at_name_cap
from hedging_pipeline.backtest.walk_forward import walk_forward_splits

DATES = pd.bdate_range("2020-01-01", periods=12)


def _returns(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    wide = pd.DataFrame(rng.normal(0, 0.02, size=(len(DATES), 3)), index=DATES, columns=list("TAB"))
    return wide.stack().rename("ret").rename_axis(["date", "ticker"]).reset_index()


def _hedges(as_ofs, baskets):
    rows = [
        (a, "T", "m", name, w)
        for a, basket in zip(as_ofs, baskets, strict=False)
        for name, w in basket.items()
    ]
    weights = pd.DataFrame(rows, columns=["as_of", "ticker", "method", "hedge_ticker", "weight"])
    diag = pd.DataFrame({"as_of": as_ofs, "ticker": "T", "method": "m", "predicted_te": 0.1})
    return weights, diag


def test_held_shares_drift_and_turnover_match_a_loop():
    returns = _returns()
    wide = returns.pivot(index="date", columns="ticker", values="ret")
    as_ofs = [DATES[1], DATES[6]]
    baskets = [{"A": 0.6, "B": 0.4}, {"A": 0.3, "B": 0.7}]
    weights, diag = _hedges(as_ofs, baskets)
    splits = walk_forward_splits(DATES, as_ofs)
    out = evaluate_hedges(weights, diag, returns, splits, holding="shares", cost_bp=10.0)
    rows = out.results[out.results["scope"] == "rebalance"].reset_index(drop=True)
    drift_end = None
    for k, split in enumerate(splits):
        days = wide.loc[split.test_start : split.test_end]
        value = {n: w for n, w in baskets[k].items()}  # dollars short, position = 1
        position, hedged = 1.0, []
        for _, r in days.iterrows():
            pnl_basket = sum(value[n] * r[n] for n in value)
            hedged.append(r["T"] - pnl_basket / position)
            value = {n: v * (1 + r[n]) for n, v in value.items()}
            position *= 1 + r["T"]
        hedged = np.array(hedged)
        if k == 1:
            turnover = sum(abs(baskets[1][n] - drift_end[n]) for n in baskets[1])
            assert rows.loc[k, "turnover"] == pytest.approx(turnover, rel=1e-12)
            net = hedged.copy()
            net[0] -= 10e-4 * turnover
            expected_net = 1 - net.var(ddof=1) / days["T"].var(ddof=1)
            assert rows.loc[k, "variance_reduction_net"] == pytest.approx(expected_net, rel=1e-10)
        else:
            assert np.isnan(rows.loc[k, "turnover"])
        expected = 1 - hedged.var(ddof=1) / days["T"].var(ddof=1)
        assert rows.loc[k, "variance_reduction"] == pytest.approx(expected, rel=1e-10)
        drift_end = {n: v / position for n, v in value.items()}


def test_index_returns_and_beta_hedges():
    dates = pd.bdate_range("2019-01-01", periods=200)
    rng = np.random.default_rng(1)
    market = rng.normal(0, 0.01, size=len(dates))
    wide = pd.DataFrame(
        {"A": market, "B": market, "T": 1.5 * market + rng.normal(0, 0.001, len(dates))},
        index=dates,
    )
    returns = wide.stack().rename("ret").rename_axis(["date", "ticker"]).reset_index()
    caps = returns.assign(market_cap=np.where(returns["ticker"] == "A", 3.0, 1.0))
    index = index_returns(returns, caps.drop(columns="ret"))
    # day 1 has no previous cap; afterwards I = (3 r_A + r_B + r_T) / 5
    expected = (3 * wide["A"] + wide["B"] + wide["T"]) / 5
    np.testing.assert_allclose(index["ret"].to_numpy(), expected.iloc[1:].to_numpy(), rtol=1e-12)
    weights, diag = index_hedges(
        pd.DataFrame({"as_of": [dates[-1]], "ticker": ["T"]}), returns, index
    )
    beta = weights.set_index("method").loc["index_beta", "weight"]
    idx = index.set_index("date")["ret"]
    t = wide["T"].loc[idx.index]
    assert beta == pytest.approx(np.cov(t, idx)[0, 1] / idx.var(), rel=1e-10)
    assert weights.set_index("method").loc["index", "weight"] == 1.0
    assert set(weights["hedge_ticker"]) == {INDEX_TICKER} and len(diag) == 2


def test_backtest_adds_the_index_baselines():
    returns = _returns(2)
    caps = returns.assign(market_cap=1.0).drop(columns="ret")
    weights, diag = _hedges([DATES[1], DATES[6]], [{"A": 0.5, "B": 0.5}] * 2)
    out = backtest_hedges(weights, diag, returns, market_caps=caps)
    # the 12-day panel is shorter than MIN_BETA_DAYS: no index hedge, the baskets still evaluated
    assert set(out.results["method"]) == {"m"}


def _results(vr: dict[str, np.ndarray], months: pd.DatetimeIndex) -> pd.DataFrame:
    rows = []
    for method, grid in vr.items():
        for j in range(grid.shape[0]):
            for m, as_of in enumerate(months):
                rows.append(
                    {
                        "ticker": f"T{j}",
                        "as_of": as_of,
                        "method": method,
                        "scope": "rebalance",
                        "variance_reduction": grid[j, m],
                        "variance_reduction_net": grid[j, m] - 0.01,
                        "test_start": as_of + pd.Timedelta(days=1),
                        "test_end": as_of + pd.Timedelta(days=28),
                    }
                )
    return pd.DataFrame(rows)


def test_monthly_statistics_and_crisis_exclusion():
    months = pd.date_range("2019-11-30", periods=6, freq="ME")  # test months Dec .. May
    a = np.tile([0.5, 0.6, 0.9, 0.95, 0.9, 0.55], (5, 1)) + np.arange(5)[:, None] * 0.01
    b = a - 0.1
    b[:, 2:5] += 0.2  # b wins in the crisis months only (tests in Feb, Mar, Apr 2020)
    cube = monthly_cube(_results({"a": a, "b": b}, months), ["a", "b"])
    assert cube.crisis.tolist() == [False, False, True, True, True, False]
    stats = monthly_statistics(cube, n_bootstrap=50).set_index("method")
    assert stats.loc["a", "median_monthly_variance_reduction"] == pytest.approx(np.median(a))
    calm = a[:, [0, 1, 5]]
    assert stats.loc["a", "median_variance_reduction_ex_crisis"] == pytest.approx(np.median(calm))
    assert stats.loc["a", "net_median_variance_reduction"] == pytest.approx(np.median(a) - 0.01)
    assert stats.loc["a", "monthly_ci_low"] <= np.median(a) <= stats.loc["a", "monthly_ci_high"]
    paired = paired_differences(cube, [("a", "b")], n_bootstrap=50).iloc[0]
    assert paired["months_a_wins"] == pytest.approx(0.5)
    assert paired["months_a_wins_ex_crisis"] == 1.0
    assert paired["cells_a_wins"] == pytest.approx(0.5) and paired["cells_tied"] == 0.0
    # identical baskets: every month's median difference is 0, counted as ties, not as losses
    same = paired_differences(
        monthly_cube(_results({"a": a, "c": a.copy()}, months), ["a", "c"]),
        [("a", "c")],
        n_bootstrap=10,
    ).iloc[0]
    assert (
        same["months_a_wins"] == 0.0 and same["cells_a_wins"] == 0.0 and same["cells_tied"] == 1.0
    )
    assert paired["median_difference_ex_crisis"] == pytest.approx(0.1)


def test_share_at_name_cap():
    weights = pd.DataFrame(
        {
            "as_of": pd.Timestamp("2020-01-31"),
            "ticker": ["T"] * 8,
            "method": ["x"] * 4 + ["y"] * 4,
            "hedge_ticker": list("ABCD") * 2,
            "weight": [0.25] * 4 + [0.4, 0.2, 0.2, 0.2],
        }
    )
    assert share_at_name_cap(weights, 0.25).to_dict() == {"x": 1.0, "y": 1.0}
    assert share_at_name_cap(weights.iloc[4:], 0.45).to_dict() == {"y": 0.0}


def test_pooled_ex_crisis_weights_months_by_days_and_variance():
    months = pd.date_range("2020-03-31", periods=3, freq="ME")  # tests Apr (crisis), May, Jun
    rows = []
    for m, as_of in enumerate(months):
        rows.append(
            {
                "ticker": "T0",
                "as_of": as_of,
                "method": "a",
                "scope": "rebalance",
                "horizon_days": [20, 10, 30][m],
                "vol_unhedged": 0.2,
                "vol_hedged": [0.1, 0.1, 0.05][m],
                "test_start": as_of + pd.Timedelta(days=1),
                "test_end": as_of + pd.Timedelta(days=28),
            }
        )
    out = pooled_ex_crisis(pd.DataFrame(rows), ["a"], crisis=CRISIS)
    assert out["a"] == pytest.approx(1 - (10 * 0.01 + 30 * 0.0025) / (40 * 0.04))
