from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.backtest.metrics import evaluate_hedges
from hedging_pipeline.backtest.summary import SUMMARY_COLUMNS, summarise_backtest
from hedging_pipeline.errors import InsufficientHistoryError, InvalidValueError, MissingColumnError


def _full_rows(vr: dict[str, list[float]], te_ratio: float = 1.0) -> pd.DataFrame:
    """Full-period results for targets T0.. with the given variance reductions per method."""
    rows = []
    for method, values in vr.items():
        for j, v in enumerate(values):
            if np.isnan(v):
                continue
            vol_unhedged = 0.3
            vol_hedged = vol_unhedged * np.sqrt(1 - v)
            rows.append(
                {
                    "as_of": pd.Timestamp("2020-03-31"),
                    "ticker": f"T{j}",
                    "method": method,
                    "scope": "full_period",
                    "horizon_days": 250,
                    "vol_unhedged": vol_unhedged,
                    "vol_hedged": vol_hedged,
                    "predicted_te": vol_hedged / te_ratio,
                    "variance_reduction": v,
                }
            )
    return pd.DataFrame(rows)


def test_summary_numbers_on_a_hand_built_table():
    results = _full_rows(
        {
            "factor": [0.5, 0.6, 0.7, 0.8],
            "nlp": [0.6, 0.5, 0.9, 0.8],  # wins, loses, wins, ties
            "market": [0.1, 0.2, 0.3, 0.4],
        },
        te_ratio=1.25,
    )
    summary = summarise_backtest(results, n_bootstrap=200, rng=0)
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert list(summary["method"]) == ["factor", "nlp", "market"]  # METHODS order
    by = summary.set_index("method")
    assert (by["n_targets"] == 4).all()
    assert by.loc["factor", "median_variance_reduction"] == pytest.approx(0.65)
    assert by.loc["nlp", "median_variance_reduction"] == pytest.approx(0.7)
    assert by.loc["nlp", "mean_variance_reduction"] == pytest.approx(0.7)
    assert by.loc["market", "mean_variance_reduction"] == pytest.approx(0.25)
    assert by.loc["factor", "win_rate_vs_factor"] == 0.5  # ties with itself count half
    assert by.loc["nlp", "win_rate_vs_factor"] == pytest.approx((1 + 0 + 1 + 0.5) / 4)
    assert by.loc["market", "win_rate_vs_factor"] == 0.0
    assert by["median_te_ratio"].to_numpy() == pytest.approx(1.25)
    middle_two = 0.3 * (np.sqrt(1 - 0.2) + np.sqrt(1 - 0.3)) / 2
    assert by.loc["market", "median_vol_hedged"] == pytest.approx(middle_two)
    # A method that loses everywhere has a degenerate win-rate interval at 0.
    assert by.loc["market", "win_rate_ci_low"] == by.loc["market", "win_rate_ci_high"] == 0.0


def test_only_targets_with_every_method_are_eligible():
    nan = float("nan")
    results = _full_rows(
        {
            "factor": [0.5, 0.6, 0.7, 0.8, 0.9],
            "nlp": [0.6, 0.5, nan, 0.9, 0.1],  # T2 has no nlp hedge
            "gics": [0.2, 0.2, 0.2, nan, 0.2],  # T3 has no gics hedge
        }
    )
    summary = summarise_backtest(results, n_bootstrap=50).set_index("method")
    assert (summary["n_targets"] == 3).all()  # T0, T1, T4
    assert summary.loc["factor", "median_variance_reduction"] == pytest.approx(0.6)
    assert summary.loc["nlp", "win_rate_vs_factor"] == pytest.approx(1 / 3)
    # Comparing fewer methods makes more targets eligible.
    two = summarise_backtest(results, methods=["factor", "gics"], n_bootstrap=50)
    assert (two["n_targets"] == 4).all() and list(two["method"]) == ["factor", "gics"]


def test_rebalance_rows_are_ignored():
    results = _full_rows({"factor": [0.5, 0.6], "nlp": [0.7, 0.8]})
    noise = results.assign(scope="rebalance", variance_reduction=-5.0)
    a = summarise_backtest(results, n_bootstrap=100, rng=3)
    b = summarise_backtest(pd.concat([results, noise]), n_bootstrap=100, rng=3)
    pd.testing.assert_frame_equal(a, b)


def test_bootstrap_is_seeded_contains_the_estimate_and_narrows_with_more_targets():
    rng = np.random.default_rng(11)

    def draw(n):
        factor = rng.beta(5, 3, size=n)
        nlp = np.clip(factor + rng.normal(0.02, 0.1, size=n), -1, 1)
        return _full_rows({"factor": list(factor), "nlp": list(nlp)})

    small, large = draw(30), draw(600)
    s1 = summarise_backtest(small, n_bootstrap=500, rng=7)
    s2 = summarise_backtest(small, n_bootstrap=500, rng=np.random.default_rng(7))
    pd.testing.assert_frame_equal(s1, s2)
    s3 = summarise_backtest(small, n_bootstrap=500, rng=8)
    assert not np.allclose(
        s1["median_variance_reduction_ci_low"], s3["median_variance_reduction_ci_low"]
    )
    big = summarise_backtest(large, n_bootstrap=500, rng=7)
    for frame in (s1, big):
        lo, hi = (
            frame["median_variance_reduction_ci_low"],
            frame["median_variance_reduction_ci_high"],
        )
        assert (
            (lo <= frame["median_variance_reduction"]) & (frame["median_variance_reduction"] <= hi)
        ).all()
        nlp = frame.set_index("method").loc["nlp"]
        assert nlp["win_rate_ci_low"] <= nlp["win_rate_vs_factor"] <= nlp["win_rate_ci_high"]
    width = lambda f, c: (f[f"{c}_ci_high"] - f[f"{c}_ci_low"]).to_numpy()  # noqa: E731
    assert (
        width(big, "median_variance_reduction") < 0.5 * width(s1, "median_variance_reduction")
    ).all()
    assert width(big, "win_rate")[1] < 0.5 * width(s1, "win_rate")[1]
    # The 95 % interval of the median covers the true median of Beta(5, 3) (about 0.636).
    true_median = 0.6364
    big_factor = big.set_index("method").loc["factor"]
    assert big_factor["median_variance_reduction_ci_low"] < true_median
    assert true_median < big_factor["median_variance_reduction_ci_high"]


def test_summary_of_an_evaluated_panel_covers_every_method(panel):
    ev = evaluate_hedges(panel["weights"], panel["diagnostics"], panel["returns"], panel["splits"])
    summary = summarise_backtest(ev.results, n_bootstrap=200)
    assert list(summary["method"]) == ["factor", "nlp", "market"]
    assert (summary["n_targets"] == 40).all()
    full = ev.results.query("scope == 'full_period'")
    for method, row in summary.set_index("method").iterrows():
        vr = full.loc[full["method"] == method, "variance_reduction"]
        assert row["median_variance_reduction"] == pytest.approx(vr.median())
        assert row["mean_variance_reduction"] == pytest.approx(vr.mean())
    # Random predicted TE in [0.05, 0.3] against realised TE around 0.2: the ratio is of order 1.
    assert ((summary["median_te_ratio"] > 0.5) & (summary["median_te_ratio"] < 3)).all()


def test_summary_errors_name_what_is_missing():
    results = _full_rows({"factor": [0.5, float("nan")], "nlp": [float("nan"), 0.8]})
    with pytest.raises(
        InsufficientHistoryError, match="no ticker has full-period backtest results"
    ):
        summarise_backtest(results)
    with pytest.raises(InvalidValueError, match="baseline method 'factor' has no full-period"):
        summarise_backtest(_full_rows({"nlp": [0.5], "gics": [0.4]}))
    with pytest.raises(MissingColumnError, match=r"backtest_results: missing column\(s\) scope"):
        summarise_backtest(results.drop(columns="scope"))
    with pytest.raises(InvalidValueError, match="need n_bootstrap >= 1 and 0 < confidence < 1"):
        summarise_backtest(results, confidence=1.5)
