from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.backtest.metrics import (
    RESULT_COLUMNS,
    SCOPE_FULL_PERIOD,
    SCOPE_REBALANCE,
    evaluate_hedges,
)
from hedging_pipeline.backtest.summary import summarise_backtest
from hedging_pipeline.backtest.walk_forward import Split, walk_forward_splits
from hedging_pipeline.errors import (
    DataError,
    DuplicateRowsError,
    InsufficientHistoryError,
    InvalidValueError,
    MissingColumnError,
)
from hedging_pipeline_tests.backtest.synthetic import month_ends, naive_evaluate

NUMBERS = ["horizon_days", "vol_unhedged", "vol_hedged", "predicted_te", "variance_reduction"]
KEYS = ["as_of", "ticker", "method", "scope"]


# --- hand-built 3-asset example -------------------------------------------------------------------
# Target T hedged 50/50 with A and B. Rebalances 2020-01-03 and 2020-01-09; the days before the
# first as_of carry huge returns that must never enter a result.
HAND_DAYS = pd.bdate_range("2020-01-01", "2020-01-14")  # 1,2,3 | 6,7,8,9 | 10,13,14
HAND_RETURNS = {
    #        pre-window        month 1 (4 days)             month 2 (3 days)
    "T": [0.50, -0.40, 0.30, 0.01, -0.02, 0.03, 0.00, 0.02, -0.01, 0.01],
    "A": [-0.30, 0.20, 0.10, 0.01, -0.01, 0.02, 0.00, 0.02, 0.00, 0.01],
    "B": [0.40, 0.10, -0.20, 0.00, -0.03, 0.04, 0.01, 0.02, -0.02, 0.01],
}
HAND_AS_OF = [pd.Timestamp("2020-01-03"), pd.Timestamp("2020-01-09")]
HAND_TE = [0.05, 0.02]


def _hand_inputs():
    returns = pd.DataFrame(HAND_RETURNS, index=HAND_DAYS).rename_axis("date")
    returns = returns.rename_axis(columns="ticker").stack().rename("ret").reset_index()
    weights = pd.DataFrame(
        [(d, "T", "factor", name, 0.5) for d in HAND_AS_OF for name in ("A", "B")],
        columns=["as_of", "ticker", "method", "hedge_ticker", "weight"],
    )
    diagnostics = pd.DataFrame(
        [(d, "T", "factor", te) for d, te in zip(HAND_AS_OF, HAND_TE, strict=True)],
        columns=["as_of", "ticker", "method", "predicted_te"],
    )
    return weights, diagnostics, returns


def test_hand_built_three_asset_example_matches_hand_computed_numbers():
    weights, diagnostics, returns = _hand_inputs()
    splits = walk_forward_splits(HAND_DAYS, HAND_AS_OF)
    assert splits[0].test_start == pd.Timestamp("2020-01-06")
    assert splits[1].test_end == pd.Timestamp("2020-01-14")
    res = evaluate_hedges(weights, diagnostics, returns, splits).results
    assert list(res.columns) == list(RESULT_COLUMNS)
    month1, month2, full = (res.iloc[i] for i in range(3))

    # Month 1: hedged = T - (A+B)/2 = [0.005, 0, 0, -0.005] -> var = 5e-5 / 3;
    # T = [0.01, -0.02, 0.03, 0] has mean 0.005 and squared deviations summing to 1.3e-3 -> var
    # 1.3e-3/3.
    assert month1["scope"] == SCOPE_REBALANCE and month1["horizon_days"] == 4
    assert month1["variance_reduction"] == pytest.approx(1 - 5e-5 / 1.3e-3, abs=1e-12)  # 25/26
    assert month1["variance_reduction"] == pytest.approx(25 / 26, abs=1e-12)
    assert month1["vol_unhedged"] == pytest.approx(np.sqrt(1.3e-3 / 3 * 252), abs=1e-12)
    assert month1["vol_hedged"] == pytest.approx(np.sqrt(5e-5 / 3 * 252), abs=1e-12)
    assert month1["predicted_te"] == 0.05

    # Month 2: the basket replicates T exactly -> 100 % reduction.
    assert month2["horizon_days"] == 3
    assert month2["vol_hedged"] == pytest.approx(0.0, abs=1e-12)
    assert month2["variance_reduction"] == pytest.approx(1.0, abs=1e-12)

    # Full period, 7 stitched days: hedged squares sum to 5e-5 (mean 0) -> var 5e-5/6;
    # T sums to 0.04 with squares summing to 2e-3 -> SS = 2e-3 - 0.04**2/7 = 0.0124/7.
    # VR = 1 - 5e-5 / (0.0124/7) = 1 - 7/248 = 241/248.
    assert full["scope"] == SCOPE_FULL_PERIOD
    assert full["as_of"] == HAND_AS_OF[-1]
    assert full["horizon_days"] == 7 and full["n_rebalances"] == 2
    assert full["test_start"] == pd.Timestamp("2020-01-06")
    assert full["test_end"] == pd.Timestamp("2020-01-14")
    assert full["variance_reduction"] == pytest.approx(241 / 248, abs=1e-12)
    assert full["predicted_te"] == pytest.approx(
        np.sqrt((4 * 0.05**2 + 3 * 0.02**2) / 7), abs=1e-12
    )


def test_vectorised_evaluation_matches_naive_per_hedge_loop(panel):
    ev = evaluate_hedges(panel["weights"], panel["diagnostics"], panel["returns"], panel["splits"])
    ref = naive_evaluate(panel["weights"], panel["diagnostics"], panel["returns"], panel["splits"])
    res = ev.results
    assert len(res) == len(ref) == 40 * 3 * 12 + 40 * 3
    assert (res[KEYS].to_numpy() == ref[KEYS].to_numpy()).all()
    np.testing.assert_allclose(
        res[NUMBERS].to_numpy(float), ref[NUMBERS].to_numpy(float), rtol=0, atol=1e-12
    )
    assert ev.skipped.empty
    # Random baskets of factor-driven names remove a good part of the variance but not all.
    full = res.loc[res["scope"] == SCOPE_FULL_PERIOD, "variance_reduction"]
    assert 0.3 < full.median() < 0.9


def test_daily_series_are_the_stitched_hedged_returns(panel):
    ev = evaluate_hedges(panel["weights"], panel["diagnostics"], panel["returns"], panel["splits"])
    daily = ev.daily
    one = daily.loc[(daily["ticker"] == "T005") & (daily["method"] == "nlp")]
    assert one["date"].is_monotonic_increasing and one["date"].is_unique
    assert one["date"].iloc[0] == panel["splits"][0].test_start
    assert one["date"].iloc[-1] == panel["splits"][-1].test_end
    np.testing.assert_allclose(one["ret_hedged"], one["ret_target"] - one["ret_basket"], atol=0)
    full = ev.results.query("scope == 'full_period' and ticker == 'T005' and method == 'nlp'")
    vr = 1 - one["ret_hedged"].var() / one["ret_target"].var()
    assert full["variance_reduction"].item() == pytest.approx(vr, abs=1e-12)
    assert full["horizon_days"].item() == len(one)


def test_perfect_hedge_removes_all_variance_and_zero_hedge_none(panel):
    returns = panel["returns"]
    wide = returns.pivot(index="date", columns="ticker", values="ret")
    basket = {"T001": 0.25, "T002": 0.25, "T003": 0.2, "T004": 0.2, "T005": 0.1}
    replica = sum(w * wide[t] for t, w in basket.items())
    replica_rows = replica.rename("ret").reset_index().assign(ticker="REPLICA")
    cash_rows = replica.rename("ret").reset_index().assign(ticker="CASH", ret=0.0)
    all_returns = pd.concat([returns, replica_rows, cash_rows], ignore_index=True)
    as_of = panel["as_of"]
    perfect = pd.DataFrame(
        [(d, "REPLICA", "factor", t, w) for d in as_of for t, w in basket.items()],
        columns=["as_of", "ticker", "method", "hedge_ticker", "weight"],
    )
    zero_weight = perfect.assign(method="nlp", weight=0.0)
    in_cash = pd.DataFrame(
        [(d, "REPLICA", "market", "CASH", 1.0) for d in as_of],
        columns=["as_of", "ticker", "method", "hedge_ticker", "weight"],
    )
    weights = pd.concat([perfect, zero_weight, in_cash], ignore_index=True)
    diagnostics = weights[["as_of", "ticker", "method"]].drop_duplicates().assign(predicted_te=0.1)
    res = evaluate_hedges(weights, diagnostics, all_returns, panel["splits"]).results
    vr = res.set_index(["scope", "method", "as_of"])["variance_reduction"].sort_index()
    assert np.allclose(vr.loc[("rebalance", "factor")], 1.0, atol=1e-12)
    assert vr.loc[("full_period", "factor")].item() == pytest.approx(1.0, abs=1e-12)
    for method in ("nlp", "market"):
        assert (vr.loc[("rebalance", method)] == 0.0).all()
        assert vr.loc[("full_period", method)].item() == 0.0
    zero = res.loc[res["method"] == "nlp"]
    assert (zero["vol_hedged"] == zero["vol_unhedged"]).all()


def _perturb(returns, mask, amount=0.5):
    out = returns.copy()
    out.loc[mask, "ret"] = out.loc[mask, "ret"] + amount
    return out


def test_no_look_ahead_returns_outside_a_window_do_not_change_its_result(panel):
    splits, weights, diagnostics = panel["splits"], panel["weights"], panel["diagnostics"]
    base = evaluate_hedges(weights, diagnostics, panel["returns"], splits).results
    split = splits[4]
    dates = panel["returns"]["date"]

    def month_rows(res):
        return res.loc[(res["scope"] == SCOPE_REBALANCE) & (res["as_of"] == split.as_of)]

    # Returns after the test window (later months) and at or before as_of (the past, up to the
    # rebalance close itself) leave this month's hedges untouched.
    for mask in (dates > split.test_end, dates <= split.as_of):
        moved = evaluate_hedges(weights, diagnostics, _perturb(panel["returns"], mask), splits)
        pd.testing.assert_frame_equal(month_rows(moved.results), month_rows(base))
    # Returns before the first rebalance never enter any result.
    early = dates <= splits[0].as_of
    moved = evaluate_hedges(weights, diagnostics, _perturb(panel["returns"], early), splits)
    pd.testing.assert_frame_equal(moved.results, base)
    # ...while a change inside the window does move it (the test can fail).
    inside = (dates == split.test_start) & (panel["returns"]["ticker"] == "T000")
    moved = evaluate_hedges(weights, diagnostics, _perturb(panel["returns"], inside), splits)
    changed = month_rows(moved.results).query("ticker == 'T000'")["vol_unhedged"]
    assert (changed.to_numpy() != month_rows(base).query("ticker == 'T000'")["vol_unhedged"]).all()


def test_delisted_hedge_name_is_held_in_cash_and_counted(panel):
    splits, weights = panel["splits"], panel["weights"]
    split = splits[3]
    hedge = weights.loc[(weights["as_of"] == split.as_of) & (weights["ticker"] == "T010")]
    gone = hedge.loc[hedge["method"] == "factor", "hedge_ticker"].iloc[0]
    returns = panel["returns"]
    delisted = (returns["ticker"] == gone) & (
        returns["date"] > split.test_start + pd.Timedelta(days=7)
    )
    in_window = delisted & split.contains(returns["date"])
    ev = evaluate_hedges(weights, panel["diagnostics"], returns.loc[~delisted], splits)
    ref = naive_evaluate(weights, panel["diagnostics"], returns.loc[~delisted], splits)
    # As a target, the delisted name has no returns in later months: those hedges are skipped.
    later = panel["as_of"][panel["as_of"] > split.as_of]
    gone_skipped = ev.skipped.loc[ev.skipped["ticker"] == gone]
    assert set(gone_skipped["as_of"]) == set(later) and len(gone_skipped) == 3 * len(later)
    assert gone_skipped["reason"].str.contains("target has 0 returns").all()
    ref = ref.loc[
        (ref["ticker"] != gone) | ((ref["scope"] == "rebalance") & (ref["as_of"] <= split.as_of))
    ]
    ours = ev.results.loc[ev.results["ticker"] != gone]
    ours = pd.concat(
        [
            ours,
            ev.results.loc[(ev.results["ticker"] == gone) & (ev.results["scope"] == "rebalance")],
        ]
    )
    ours = ours.sort_values(
        ["scope", "as_of", "ticker", "method"], ascending=[False, True, True, True]
    )
    ref = ref.sort_values(
        ["scope", "as_of", "ticker", "method"], ascending=[False, True, True, True]
    )
    assert (ours[KEYS].to_numpy() == ref[KEYS].to_numpy()).all()
    np.testing.assert_allclose(
        ours[NUMBERS].to_numpy(float), ref[NUMBERS].to_numpy(float), atol=1e-12
    )
    row = ev.results.query(
        "scope == 'rebalance' and ticker == 'T010' and method == 'factor' and as_of == @split.as_of"
    )
    assert row["n_missing_hedge_returns"].item() == int(in_window.sum()) > 0
    # Every hedge holding the delisted name in that or a later month counts its missing days.
    assert (ev.results["n_missing_hedge_returns"] > 0).sum() > 1
    assert not ev.results[NUMBERS].isna().any().any()
    first_missing = returns.loc[in_window, "date"].min().date()
    with pytest.raises(
        InvalidValueError, match=f"no return for hedge ticker {gone} on {first_missing}"
    ):
        evaluate_hedges(
            weights,
            panel["diagnostics"],
            returns.loc[~delisted],
            splits,
            missing_hedge_returns="raise",
        )


def test_missing_target_days_are_dropped_from_both_series(panel):
    returns = panel["returns"]
    split = panel["splits"][2]
    holes = (returns["ticker"] == "T007") & split.contains(returns["date"])
    holes &= returns["date"].dt.dayofweek == 0  # Mondays missing
    ev = evaluate_hedges(
        panel["weights"], panel["diagnostics"], returns.loc[~holes], panel["splits"]
    )
    ref = naive_evaluate(
        panel["weights"], panel["diagnostics"], returns.loc[~holes], panel["splits"]
    )
    np.testing.assert_allclose(
        ev.results[NUMBERS].to_numpy(float), ref[NUMBERS].to_numpy(float), atol=1e-12
    )
    row = ev.results.query("scope == 'rebalance' and ticker == 'T007' and as_of == @split.as_of")
    n_window = split.contains(pd.DatetimeIndex(returns["date"].unique())).sum()
    assert (row["horizon_days"] == n_window - holes.sum()).all()


def test_target_without_a_hedge_for_one_method_in_one_month(panel):
    weights, diagnostics = panel["weights"], panel["diagnostics"]
    as_of = panel["as_of"][5]
    drop = (
        (weights["ticker"] == "T003") & (weights["method"] == "nlp") & (weights["as_of"] == as_of)
    )
    ev = evaluate_hedges(weights.loc[~drop], diagnostics, panel["returns"], panel["splits"])
    res = ev.results
    rebal = res.query("scope == 'rebalance' and ticker == 'T003'")
    assert len(rebal) == 3 * 12 - 1
    full = res.query("scope == 'full_period' and ticker == 'T003'").set_index("method")
    # The month is dropped for every method of T003, so the methods stay comparable...
    assert (full["n_rebalances"] == 11).all()
    assert full["horizon_days"].nunique() == 1
    # ...and other tickers keep all 12 months.
    assert (res.query("scope == 'full_period' and ticker != 'T003'")["n_rebalances"] == 12).all()
    # A method missing entirely for a ticker leaves the other methods' months intact.
    gone = (weights["ticker"] == "T004") & (weights["method"] == "market")
    res = evaluate_hedges(
        weights.loc[~gone], diagnostics, panel["returns"], panel["splits"]
    ).results
    full = res.query("scope == 'full_period' and ticker == 'T004'")
    assert sorted(full["method"]) == ["factor", "nlp"] and (full["n_rebalances"] == 12).all()


def test_hedges_that_cannot_be_evaluated_are_listed_as_skipped(panel):
    returns = panel["returns"]
    split = panel["splits"][1]
    window = split.contains(returns["date"])
    # T008 trades on one day only in that window.
    first_day = returns["date"] == split.test_start
    thin = (returns["ticker"] == "T008") & window & ~first_day
    extra_as_of = panel["dates"][-1]  # a hedge dated on the last day: nothing to test it on
    late = (
        panel["weights"]
        .loc[panel["weights"]["as_of"] == panel["as_of"][0]]
        .assign(as_of=extra_as_of)
    )
    late_diag = panel["diagnostics"].loc[panel["diagnostics"]["as_of"] == panel["as_of"][0]]
    weights = pd.concat([panel["weights"], late], ignore_index=True)
    diagnostics = pd.concat([panel["diagnostics"], late_diag.assign(as_of=extra_as_of)])
    ev = evaluate_hedges(weights, diagnostics, returns.loc[~thin], panel["splits"])
    skipped = ev.skipped
    thin_rows = skipped.loc[(skipped["ticker"] == "T008") & (skipped["as_of"] != extra_as_of)]
    assert (thin_rows["as_of"] == split.as_of).all() and len(thin_rows) == 3
    assert thin_rows["reason"].str.contains("target has 1 returns in the test window").all()
    late_rows = skipped.loc[skipped["as_of"] == extra_as_of]
    assert len(late_rows) == 40 * 3 and (late_rows["reason"] == "no test window after as_of").all()
    assert not ((ev.results["ticker"] == "T008") & (ev.results["as_of"] == split.as_of)).any()


def test_missing_column_is_an_error_naming_table_and_column(panel):
    with pytest.raises(MissingColumnError, match=r"hedge_weights: missing column\(s\) weight"):
        evaluate_hedges(
            panel["weights"].drop(columns="weight"),
            panel["diagnostics"],
            panel["returns"],
            panel["splits"],
        )
    with pytest.raises(MissingColumnError, match=r"daily_returns: missing column\(s\) ret"):
        evaluate_hedges(
            panel["weights"],
            panel["diagnostics"],
            panel["returns"].rename(columns={"ret": "return"}),
            panel["splits"],
        )


def test_hedge_without_diagnostics_is_an_error_naming_ticker_and_date(panel):
    diagnostics = panel["diagnostics"]
    drop = (diagnostics["ticker"] == "T002") & (diagnostics["as_of"] == panel["as_of"][3])
    drop &= diagnostics["method"] == "market"
    date = panel["as_of"][3].date()
    with pytest.raises(
        DataError, match=f"market hedge of ticker T002 as of {date} has no hedge_diag"
    ):
        evaluate_hedges(panel["weights"], diagnostics.loc[~drop], panel["returns"], panel["splits"])


def test_bad_weights_and_duplicates_are_errors(panel):
    weights = panel["weights"].copy()
    weights.loc[7, "weight"] = -0.1
    row = weights.loc[7]
    with pytest.raises(
        InvalidValueError, match=f"{row['hedge_ticker']} in the {row['method']} hedge"
    ):
        evaluate_hedges(weights, panel["diagnostics"], panel["returns"], panel["splits"])
    doubled = pd.concat([panel["weights"], panel["weights"].iloc[[0]]])
    first = panel["weights"].iloc[0]
    with pytest.raises(DuplicateRowsError, match=f"ticker {first['ticker']}.*hedge_ticker"):
        evaluate_hedges(doubled, panel["diagnostics"], panel["returns"], panel["splits"])
    returns = pd.concat([panel["returns"], panel["returns"].iloc[[-1]]])
    with pytest.raises(DuplicateRowsError, match=r"daily_returns: \(date, ticker\) repeats"):
        evaluate_hedges(panel["weights"], panel["diagnostics"], returns, panel["splits"])


def test_overlapping_or_empty_splits_are_errors(panel):
    a = Split(pd.Timestamp("2020-01-31"), pd.Timestamp("2020-02-03"), pd.Timestamp("2020-03-31"))
    b = Split(pd.Timestamp("2020-02-28"), pd.Timestamp("2020-03-02"), pd.Timestamp("2020-03-31"))
    with pytest.raises(InvalidValueError, match="splits as of 2020-01-31 and 2020-02-28 overlap"):
        evaluate_hedges(panel["weights"], panel["diagnostics"], panel["returns"], [a, b])
    bad = Split(pd.Timestamp("2020-01-31"), pd.Timestamp("2020-01-31"), pd.Timestamp("2020-02-28"))
    with pytest.raises(InvalidValueError, match="must start after as_of"):
        evaluate_hedges(panel["weights"], panel["diagnostics"], panel["returns"], [bad])
    with pytest.raises(InsufficientHistoryError, match="no hedge could be evaluated"):
        evaluate_hedges(panel["weights"], panel["diagnostics"], panel["returns"], [])
    with pytest.raises(InvalidValueError, match="missing_hedge_returns must be one of"):
        evaluate_hedges(
            panel["weights"],
            panel["diagnostics"],
            panel["returns"],
            panel["splits"],
            missing_hedge_returns="drop",
        )


@pytest.mark.realdata
def test_sector_baskets_reduce_risk_out_of_sample_on_real_prices(real_data_dir):
    prices = pd.read_parquet(
        real_data_dir / "prices.parquet",
        columns=["date", "ticker", "adj_close"],
        filters=[("date", ">=", pd.Timestamp("2017-01-01"))],
    )
    companies = pd.read_parquet(
        real_data_dir / "companies.parquet", columns=["ticker", "gics_sector"]
    )
    wide = prices.pivot(index="date", columns="ticker", values="adj_close").sort_index()
    rets = wide.pct_change(fill_method=None).iloc[1:]
    returns = rets.stack().rename("ret").reset_index()
    dates = pd.DatetimeIndex(rets.index)
    as_of = month_ends(dates[(dates >= "2018-04-01") & (dates < "2020-04-01")])
    splits = walk_forward_splits(dates, as_of)
    full_history = rets.columns[rets.notna().all()]
    sectors = companies.set_index("ticker")["gics_sector"].reindex(full_history).dropna()
    targets = sorted(sectors.index)[::15]
    rows = []
    for date in as_of:
        trailing = rets.loc[:date].iloc[-252:]  # only data known at the as_of close
        for target in targets:
            peers = sectors.index[(sectors == sectors[target]) & (sectors.index != target)]
            corr = trailing[peers].corrwith(trailing[target]).nlargest(10)
            rows += [(date, target, "correlation", peer, 0.1) for peer in corr.index]
            market = [t for t in full_history[:11] if t != target][:10]
            rows += [(date, target, "market", peer, 0.1) for peer in market]
    weights = pd.DataFrame(rows, columns=["as_of", "ticker", "method", "hedge_ticker", "weight"])
    diagnostics = weights[["as_of", "ticker", "method"]].drop_duplicates().assign(predicted_te=0.1)
    ev = evaluate_hedges(weights, diagnostics, returns, splits, missing_hedge_returns="raise")
    assert ev.skipped.empty
    full = ev.results.query("scope == 'full_period'").set_index(["method", "ticker"])
    assert (full["n_rebalances"] == 24).all()
    assert full["test_end"].max() == pd.Timestamp("2020-04-21")
    vr = full["variance_reduction"].unstack("method")
    # Ten most correlated same-sector names remove a good part of a stock's daily variance, and more
    # than ten arbitrary (alphabetical) names do.
    assert vr["correlation"].median() > 0.3
    summary = summarise_backtest(ev.results, baseline="market", n_bootstrap=500).set_index("method")
    assert (
        summary.loc["correlation", "win_rate_vs_factor"]
        == (vr["correlation"] > vr["market"]).mean()
    )
    assert summary.loc["correlation", "win_rate_ci_low"] > 0.6
    assert summary.loc["correlation", "median_variance_reduction_ci_low"] > 0.3
