from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.errors import InvalidValueError, MissingColumnError
from hedging_pipeline.reporting.risk_report import build_risk_report
from hedging_pipeline.risk.diagnostics import (
    bias_statistics,
    summarise_regression_fit,
    t_stat_exceedance,
    tracking_error_bias,
)
from hedging_pipeline.risk.model import RiskModel
from hedging_pipeline.risk.regression import estimate_factor_returns
from hedging_pipeline_tests.synthetic import make_factor_panel

PNG = b"\x89PNG"


def _world(n_months=60, n_stocks=80, k=4, seed=0, scale=1.0):
    """Returns from a known factor model, and models (covariance x scale) predicting them."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, k))
    f_cov = (a @ a.T + np.eye(k)) * 0.01  # annual
    spec = rng.uniform(0.15, 0.4, n_stocks) ** 2
    tickers = tuple(f"S{i:03d}" for i in range(n_stocks))
    dates = pd.bdate_range("2010-01-04", periods=n_months * 21 + 1)
    models, rows = [], []
    for m in range(n_months):
        x = rng.standard_normal((n_stocks, k))
        models.append(
            RiskModel(dates[m * 21], tickers, tuple("abcd"), x, f_cov * scale, spec * scale)
        )
        f = rng.multivariate_normal(np.zeros(k), f_cov / 252, size=21)
        e = rng.standard_normal((21, n_stocks)) * np.sqrt(spec / 252)
        r = f @ x.T + e
        for d in range(21):
            rows.append(
                pd.DataFrame({"date": dates[m * 21 + d + 1], "ticker": tickers, "ret": r[d]})
            )
    return models, pd.concat(rows, ignore_index=True)


def test_bias_is_one_when_the_model_is_true():
    models, returns = _world()
    bias = bias_statistics(models, returns, n_portfolios=60, portfolio_size=30)
    assert bias.n_periods == 60
    low, high = bias.band
    assert low == pytest.approx(1 - np.sqrt(2 / 60)) and high == pytest.approx(1 + np.sqrt(2 / 60))
    # Simple (not log) compounding adds a little dispersion; the truth sits well inside the band.
    assert 0.93 < bias.median_portfolio_bias < 1.07
    assert 0.93 < bias.median_stock_bias < 1.07
    assert bias.share_portfolios_in_band > 0.8
    assert bias.share_stocks_in_band > 0.8
    assert set(bias.outcomes.columns) == {"as_of", "n_days", "portfolio", "z"}


def test_bias_detects_overstated_risk():
    models, returns = _world(scale=4.0)  # variance x4 -> predicted vol x2 -> bias ~ 0.5
    bias = bias_statistics(models, returns, n_portfolios=40, portfolio_size=30)
    assert bias.median_portfolio_bias == pytest.approx(0.5, abs=0.05)
    assert bias.share_portfolios_in_band < 0.05


def test_bias_errors():
    with pytest.raises(InvalidValueError, match="at least one risk model"):
        bias_statistics([], pd.DataFrame(columns=["date", "ticker", "ret"]))
    models, returns = _world(n_months=2)
    early = returns.iloc[:1].assign(date=pd.Timestamp("2000-01-03"))
    with pytest.raises(InvalidValueError, match="no realised returns after the 2 rebalance dates"):
        bias_statistics(models, early)


def _hedges(scale: float, n_months=4, n_hedges=400, days=21, dof=4, seed=0) -> pd.DataFrame:
    """Hedges whose daily active returns are Student-t with variance (scale x predicted)²."""
    rng = np.random.default_rng(seed)
    pred = rng.uniform(0.05, 0.4, (n_months, n_hedges))
    t = rng.standard_t(dof, (n_months, n_hedges, days)) / np.sqrt(dof / (dof - 2))
    daily = t * (scale * pred / np.sqrt(252))[..., None]
    return pd.DataFrame(
        {
            "as_of": np.repeat(
                pd.bdate_range("2019-01-31", periods=n_months, freq="BME"), n_hedges
            ),
            "predicted_te": pred.reshape(-1),
            "realised_te": (daily.std(axis=2, ddof=1) * np.sqrt(252)).reshape(-1),
        }
    )


def test_tracking_error_bias_is_one_for_calibrated_fat_tailed_hedges():
    out = tracking_error_bias(_hedges(1.0))
    assert list(out.columns) == ["as_of", "n_hedges", "bias", "pooled", "median_ratio"]
    assert (out["n_hedges"] == 400).all()
    # E[s²] = σ² for any tails: the RMS ratio is 1 up to noise (sd about 0.03 here) ...
    np.testing.assert_allclose(out["bias"], 1.0, atol=0.06)
    # ... while the median of 21-day ratios sits clearly below 1 with t(4) days.
    assert (out["median_ratio"] < 0.95).all()
    h = _hedges(1.0)
    first = h[h["as_of"] == h["as_of"].min()]
    assert out["pooled"].iloc[0] == pytest.approx(
        np.sqrt((first["realised_te"] ** 2).sum() / (first["predicted_te"] ** 2).sum()), rel=1e-12
    )
    assert out["bias"].iloc[0] == pytest.approx(
        np.sqrt(((first["realised_te"] / first["predicted_te"]) ** 2).mean()), rel=1e-12
    )


def test_tracking_error_bias_detects_understated_risk_and_bad_input():
    out = tracking_error_bias(_hedges(2.0))
    np.testing.assert_allclose(out["bias"], 2.0, atol=0.12)
    with pytest.raises(InvalidValueError, match="predicted_te must be positive"):
        tracking_error_bias(_hedges(1.0).assign(predicted_te=0.0))
    with pytest.raises(MissingColumnError, match="realised_te"):
        tracking_error_bias(_hedges(1.0).drop(columns="realised_te"))


@pytest.fixture(scope="module")
def regression():
    p = make_factor_panel(n_tickers=120, n_days=70, n_industries=4, seed=2)
    return p, estimate_factor_returns(p.style_exposures, p.daily_returns)


def test_regression_fit_summary(regression):
    _, reg = regression
    summary = summarise_regression_fit(reg.stats)
    assert summary.n_days == 69
    assert summary.mean_r2 == pytest.approx(reg.stats["r2"].mean())
    assert summary.quantiles.index.tolist() == [0.05, 0.25, 0.5, 0.75, 0.95]
    assert summary.quantiles.is_monotonic_increasing
    with pytest.raises(MissingColumnError, match="factor_regression_stats: missing column"):
        summarise_regression_fit(reg.stats.drop(columns="r2"))
    with pytest.raises(InvalidValueError, match="no rows"):
        summarise_regression_fit(reg.stats.iloc[:0])


def test_t_stat_exceedance_separates_signal_from_noise(regression):
    p, reg = regression
    fr = reg.factor_returns.copy()
    out = t_stat_exceedance(fr).set_index("factor")
    assert list(out.index) == list(reg.factors)
    # The planted market factor (1 % a day) is significant nearly every day.
    assert out.loc["market", "share_abs_t_above"] > 0.6
    # A column of pure noise t-stats exceeds 2 about 4.6 % of the time.
    rng = np.random.default_rng(0)
    noise = pd.DataFrame(
        {
            "date": np.arange(20000),
            "factor": "noise",
            "ret": 0.0,
            "t_stat": rng.standard_normal(20000),
        }
    )
    share = t_stat_exceedance(noise).loc[0, "share_abs_t_above"]
    assert share == pytest.approx(0.0455, abs=0.005)
    # Pinned days (NaN t) are not counted.
    fr.loc[fr["factor"] == "value", "t_stat"] = np.nan
    assert t_stat_exceedance(fr).set_index("factor").loc["value", "n_days"] == 0


def test_report_embeds_plots_and_tables(regression):
    _, reg = regression
    models, returns = _world(n_months=14)
    bias = bias_statistics(models, returns, n_portfolios=10, portfolio_size=20)
    report = build_risk_report(
        summarise_regression_fit(reg.stats), reg.stats, t_stat_exceedance(reg.factor_returns), bias
    )
    assert set(report.images) == {"r2", "t_stats", "bias"}
    assert all(png.startswith(PNG) for png in report.images.values())
    assert report.markdown.count("data:image/png;base64,") == 3
    assert "| market |" in report.markdown
    assert f"T={bias.n_periods}" in report.markdown
