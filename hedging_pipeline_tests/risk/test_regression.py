from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import HuberRegressor

from hedging_pipeline.errors import (
    DuplicateRowsError,
    InsufficientHistoryError,
    InvalidValueError,
    MissingColumnError,
)
from hedging_pipeline.risk import regression as reg
from hedging_pipeline.risk.regression import (
    InsufficientAssetsError,
    estimate_factor_returns,
    factor_names,
)
from hedging_pipeline.risk.regression_inputs import prepare_panel
from hedging_pipeline.risk.regression_reference import estimate_factor_returns_reference
from hedging_pipeline.types import STYLE_FACTORS
from hedging_pipeline_tests.synthetic import make_factor_panel


@pytest.fixture(scope="module")
def clean_panel():
    return make_factor_panel(n_tickers=200, n_days=80, n_industries=5, seed=3)


@pytest.fixture(scope="module")
def corrupted_panel():
    return make_factor_panel(
        n_tickers=200, n_days=80, n_industries=5, seed=4, outlier_fraction=0.05
    )


def _wide(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.pivot(index="date", columns="factor", values="ret")


def _rmse(est: pd.DataFrame, truth: pd.DataFrame) -> float:
    a, b = _wide(est).align(_wide(truth), join="inner")
    return float(np.sqrt(((a - b) ** 2).to_numpy().mean()))


def test_factor_order_is_market_industries_styles():
    assert factor_names(["b", "a", "b"]) == ("market", "a", "b", *STYLE_FACTORS)


def test_recovers_planted_factor_returns_with_outliers():
    panel = make_factor_panel(
        n_tickers=200, n_days=80, n_industries=5, seed=5, outlier_fraction=0.02
    )
    result = estimate_factor_returns(panel.style_exposures, panel.daily_returns)
    est, truth = _wide(result.factor_returns).align(_wide(panel.factor_returns), join="inner")
    assert est.shape == (79, 1 + 5 + 7)
    corrs = pd.Series({f: np.corrcoef(est[f], truth[f])[0, 1] for f in est.columns})
    assert corrs.min() > 0.85, corrs
    assert corrs.mean() > 0.93, corrs
    # Estimation error well below the planted factor volatilities (0.4 % to 1 % a day).
    assert _rmse(result.factor_returns, panel.factor_returns) < 2.5e-3
    assert result.stats["n_assets"].eq(200).all()
    assert result.stats["n_factors"].eq(13).all()
    assert result.factor_returns["ret"].notna().all()


def test_huber_beats_least_squares_with_five_percent_corrupted_returns(corrupted_panel):
    p = corrupted_panel
    huber = estimate_factor_returns(p.style_exposures, p.daily_returns)
    wls = estimate_factor_returns(p.style_exposures, p.daily_returns, method="wls")
    huber_err = _rmse(huber.factor_returns, p.factor_returns)
    wls_err = _rmse(wls.factor_returns, p.factor_returns)
    assert huber_err < 0.3 * wls_err, (huber_err, wls_err)
    # Without outliers the two agree closely (Huber is 95 % efficient under normal noise).
    clean = make_factor_panel(n_tickers=200, n_days=40, n_industries=5, seed=4)
    h = estimate_factor_returns(clean.style_exposures, clean.daily_returns)
    w = estimate_factor_returns(clean.style_exposures, clean.daily_returns, method="wls")
    assert _rmse(h.factor_returns, clean.factor_returns) < 1.2 * _rmse(
        w.factor_returns, clean.factor_returns
    )


def test_batch_composition_does_not_change_results(corrupted_panel):
    p = corrupted_panel
    full = estimate_factor_returns(p.style_exposures, p.daily_returns, chunk_days=256)
    one = estimate_factor_returns(p.style_exposures, p.daily_returns, chunk_days=1)
    np.testing.assert_allclose(
        full.factor_returns["ret"], one.factor_returns["ret"], rtol=0, atol=1e-13
    )
    np.testing.assert_allclose(
        full.specific_returns["ret"], one.specific_returns["ret"], rtol=0, atol=1e-13
    )


def test_wls_matches_per_date_lstsq_reference(clean_panel):
    p = clean_panel
    fast = estimate_factor_returns(p.style_exposures, p.daily_returns, method="wls")
    slow = estimate_factor_returns_reference(p.style_exposures, p.daily_returns, method="wls")
    np.testing.assert_allclose(
        fast.factor_returns["ret"], slow.factor_returns["ret"], rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(fast.stats["r2"], slow.stats["r2"], rtol=0, atol=1e-10)


def test_huber_matches_sklearn_huber_regressor_loop():
    p = make_factor_panel(n_tickers=120, n_days=25, n_industries=4, seed=6, outlier_fraction=0.05)
    fast = estimate_factor_returns(p.style_exposures, p.daily_returns)
    slow = estimate_factor_returns_reference(p.style_exposures, p.daily_returns)
    f_fast, f_slow = fast.factor_returns["ret"].to_numpy(), slow.factor_returns["ret"].to_numpy()
    scale = f_slow.std()
    # sklearn's L-BFGS stops on a relative objective decrease of 2.2e-9 (scipy's default ftol),
    # which leaves about 1e-5 relative error in the coefficients; our Newton iterations go to 1e-12.
    assert np.abs(f_fast - f_slow).max() < 1e-3 * scale
    assert np.median(np.abs(f_fast - f_slow)) < 1e-4 * scale
    e_fast, e_slow = fast.specific_returns["ret"], slow.specific_returns["ret"]
    assert np.corrcoef(e_fast, e_slow)[0, 1] > 0.999999
    # The same objective minimised by L-BFGS-B until it stops progressing agrees to 1e-6 of the
    # factor returns' standard deviation (the benchmark's target).
    exact = estimate_factor_returns_reference(p.style_exposures, p.daily_returns, exact=True)
    assert np.abs(f_fast - exact.factor_returns["ret"].to_numpy()).max() < 1e-6 * scale


def test_sklearn_started_at_our_solution_cannot_improve_it(corrupted_panel):
    p = corrupted_panel
    panel, _ = prepare_panel(p.style_exposures, p.daily_returns, None, None, 10)
    design = reg._build_design(panel, slice(0, 6), reg.MIN_INDUSTRY_MEMBERS)
    g, sigma, _, _ = reg._huber_newton(design, 1.35, 1e-12, 100, panel.dates[:6])
    for t in range(6):
        rows, cols = design.mask[t], ~design.pinned[t]
        z, y, s = design.z[t][np.ix_(rows, cols)], design.y[t, rows], design.s[t, rows]
        model = HuberRegressor(
            epsilon=1.35, alpha=0.0, fit_intercept=False, warm_start=True, tol=1e-12
        )
        model.coef_, model.scale_, model.intercept_ = g[t, cols].copy(), float(sigma[t]), 0.0
        model.fit(z, y, sample_weight=s)
        ours = reg._huber_objective((y - z @ g[t, cols])[None], sigma[t : t + 1], s[None], 1.35)[0]
        theirs = reg._huber_objective(
            (y - z @ model.coef_)[None], np.array([model.scale_]), s[None], 1.35
        )[0]
        assert theirs >= ours - 1e-12 * ours
        np.testing.assert_allclose(model.coef_, g[t, cols], rtol=0, atol=1e-9)


def test_exact_scale_minimises_the_profile_objective():
    rng = np.random.default_rng(0)
    resid = rng.standard_t(3, size=(3, 50)) * 0.01
    s = rng.uniform(0.5, 1.5, size=(3, 50))
    sigma = reg._huber_scale(resid, s, 1.35)
    for t in range(3):
        grid = sigma[t] * np.linspace(0.5, 1.5, 2001)
        values = [
            reg._huber_objective(resid[t : t + 1], np.array([v]), s[t : t + 1], 1.35)[0]
            for v in grid
        ]
        assert abs(grid[int(np.argmin(values))] - sigma[t]) <= 1e-3 * sigma[t]


def test_industry_returns_cap_weighted_sum_to_zero(corrupted_panel):
    p = corrupted_panel
    result = estimate_factor_returns(p.style_exposures, p.daily_returns)
    wide = _wide(result.factor_returns)
    ex = p.style_exposures.copy()
    dates = sorted(ex["date"].unique())
    prev = dict(zip(dates[1:], dates[:-1], strict=True))
    industries = sorted(ex["industry"].unique())
    for date in wide.index:
        caps = ex[ex["date"] == prev[date]].groupby("industry")["market_cap"].sum()
        total = float((caps[industries] * wide.loc[date, industries]).sum())
        assert abs(total) < 1e-12 * caps.sum()
    # And the market factor is then the cap-weighted market (up to styles and noise): far from zero.
    assert wide["market"].abs().mean() > 1e-3


def test_industry_with_one_member_is_pinned_and_documented(clean_panel):
    p = clean_panel
    ex = p.style_exposures.copy()
    date = ex["date"].unique()[10]
    on_day = ex["date"] == date
    energy = ex.index[on_day & (ex["industry"] == "Energy")]
    lone = energy[0]
    ex.loc[energy[1:], "industry"] = "Financials"
    result = estimate_factor_returns(ex, p.daily_returns)
    next_day = sorted(ex["date"].unique())[11]
    day = result.factor_returns[result.factor_returns["date"] == next_day].set_index("factor")
    assert day.loc["Energy", "ret"] == 0.0
    assert np.isnan(day.loc["Energy", "t_stat"])
    assert day["ret"].notna().all()
    assert result.stats.set_index("date").loc[next_day, "n_factors"] == 12
    lone_ticker = ex.loc[lone, "ticker"]
    spec = result.specific_returns
    assert ((spec["date"] == next_day) & (spec["ticker"] == lone_ticker)).sum() == 1


def test_all_zero_style_is_pinned(clean_panel):
    p = clean_panel
    ex = p.style_exposures.assign(value=0.0)
    result = estimate_factor_returns(ex, p.daily_returns)
    value = result.factor_returns[result.factor_returns["factor"] == "value"]
    assert value["ret"].eq(0.0).all()
    assert value["t_stat"].isna().all()
    assert result.stats["n_factors"].eq(12).all()


def test_all_nan_exposures_on_a_day_raise_or_skip(clean_panel):
    p = clean_panel
    ex = p.style_exposures.copy()
    date = sorted(ex["date"].unique())[5]
    ex.loc[ex["date"] == date, "momentum"] = np.nan
    next_day = sorted(ex["date"].unique())[6]
    with pytest.raises(InsufficientAssetsError, match=f"on {next_day.date()} only 0 assets"):
        estimate_factor_returns(ex, p.daily_returns)
    result = estimate_factor_returns(ex, p.daily_returns, skip_thin_days=True)
    assert result.skipped_dates == (next_day,)
    assert not result.factor_returns["date"].eq(next_day).any()
    assert result.factor_returns["ret"].notna().all()


def test_assets_with_a_missing_exposure_are_left_out(clean_panel):
    p = clean_panel
    ex = p.style_exposures.copy()
    date = sorted(ex["date"].unique())[5]
    hole = ex.index[(ex["date"] == date) & (ex["ticker"] == "T007")]
    ex.loc[hole, "leverage"] = np.nan
    result = estimate_factor_returns(ex, p.daily_returns)
    next_day = sorted(ex["date"].unique())[6]
    assert result.stats.set_index("date").loc[next_day, "n_assets"] == 199
    spec = result.specific_returns
    assert not ((spec["date"] == next_day) & (spec["ticker"] == "T007")).any()


def test_fewer_assets_than_factors_raises_with_the_date(clean_panel):
    p = clean_panel
    keep = [f"T{i:03d}" for i in range(10)]
    ex = p.style_exposures[p.style_exposures["ticker"].isin(keep)]
    first = sorted(ex["date"].unique())[1]
    with pytest.raises(InsufficientAssetsError, match=f"on {first.date()} only 10 assets"):
        estimate_factor_returns(ex, p.daily_returns, industries=sorted(ex["industry"].unique()))
    skipped = estimate_factor_returns(ex, p.daily_returns, skip_thin_days=True)
    assert len(skipped.skipped_dates) == 79
    assert skipped.factor_returns.empty


def test_zero_market_cap_is_rejected(clean_panel):
    ex = clean_panel.style_exposures.copy()
    ex.loc[ex.index[3], "market_cap"] = 0.0
    with pytest.raises(InvalidValueError, match="market_cap must be positive.*ticker T003"):
        estimate_factor_returns(ex, clean_panel.daily_returns)


def test_collinear_styles_are_rejected(clean_panel):
    ex = clean_panel.style_exposures.assign(momentum=lambda f: f["size"])
    with pytest.raises(InvalidValueError, match="collinear on"):
        estimate_factor_returns(ex, clean_panel.daily_returns)


def test_unknown_industry_and_missing_industry_are_rejected(clean_panel):
    ex = clean_panel.style_exposures
    with pytest.raises(InvalidValueError, match="industry 'Energy' is not among"):
        estimate_factor_returns(ex, clean_panel.daily_returns, industries=["Financials"])
    bad = ex.copy()
    bad.loc[bad.index[5], "industry"] = None
    with pytest.raises(InvalidValueError, match="industry is missing for ticker T005"):
        estimate_factor_returns(bad, clean_panel.daily_returns)


def test_malformed_inputs_are_rejected(clean_panel):
    p = clean_panel
    with pytest.raises(MissingColumnError, match="style_exposures: missing column.*momentum"):
        estimate_factor_returns(p.style_exposures.drop(columns="momentum"), p.daily_returns)
    with pytest.raises(DuplicateRowsError, match="daily_returns: .*ticker T000"):
        estimate_factor_returns(
            p.style_exposures, pd.concat([p.daily_returns.iloc[:1], p.daily_returns])
        )


def test_returns_need_recent_exposures(clean_panel):
    p = clean_panel
    dates = sorted(p.style_exposures["date"].unique())
    first_day = p.daily_returns[p.daily_returns["date"] == dates[1]].assign(date=dates[0])
    rets = pd.concat([first_day, p.daily_returns], ignore_index=True)
    with pytest.raises(InsufficientHistoryError, match=f"no exposures before {dates[0].date()}"):
        estimate_factor_returns(p.style_exposures, rets, dates=[dates[0], dates[1]])
    # The first day of the data has nothing to explain it: skipped and listed when asked to.
    skipped = estimate_factor_returns(
        p.style_exposures, rets, [dates[0], dates[1]], skip_thin_days=True
    )
    assert skipped.skipped_dates == (dates[0],)
    assert list(skipped.stats["date"]) == [dates[1]]
    gap = p.style_exposures[~p.style_exposures["date"].between(dates[20], dates[40])]
    with pytest.raises(
        InsufficientHistoryError, match=r"latest exposures before .* \(at most 10 allowed\)"
    ):
        estimate_factor_returns(gap, p.daily_returns)


def test_no_look_ahead_in_factor_and_specific_returns(corrupted_panel):
    p = corrupted_panel
    cut = sorted(p.style_exposures["date"].unique())[40]
    base = estimate_factor_returns(p.style_exposures, p.daily_returns)
    rng = np.random.default_rng(9)
    ex = p.style_exposures.copy()
    future = ex["date"] > cut
    ex.loc[future, list(STYLE_FACTORS)] = rng.standard_normal((future.sum(), 7))
    ex.loc[future, "market_cap"] *= 3.0
    rets = p.daily_returns.copy()
    later = rets["date"] > cut
    rets.loc[later, "ret"] = rng.normal(0, 0.05, later.sum())
    moved = estimate_factor_returns(ex, rets)
    for a, b in [
        (base.factor_returns, moved.factor_returns),
        (base.specific_returns, moved.specific_returns),
    ]:
        pa, pb = a[a["date"] <= cut], b[b["date"] <= cut]
        assert len(pa) > 0
        np.testing.assert_allclose(pa["ret"], pb["ret"], rtol=0, atol=1e-14)
    after = base.factor_returns["date"] > cut
    assert not np.allclose(
        base.factor_returns.loc[after, "ret"], moved.factor_returns.loc[after, "ret"]
    )
