"""The risk model on ../shared/data (2014 to mid-2016): sklearn agreement and invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.risk.covariance import covariance_from_rows, rolling_factor_covariance
from hedging_pipeline.risk.exposures import compute_style_exposures
from hedging_pipeline.risk.model import RiskModel
from hedging_pipeline.risk.regression import (
    estimate_factor_returns,
)
from hedging_pipeline.risk.regression_reference import estimate_factor_returns_reference
from hedging_pipeline.risk.specific import estimate_specific_risk
from hedging_pipeline.types import STYLE_FACTORS

pytestmark = pytest.mark.realdata

LOAD_FROM = pd.Timestamp("2012-10-01")
FIRST = pd.Timestamp("2014-01-02")
LAST = pd.Timestamp("2016-06-30")


@pytest.fixture(scope="module")
def real(real_panels):
    panels = real_panels
    window = [
        f[(f["date"] >= LOAD_FROM) & (f["date"] <= LAST)]
        for f in (panels.prices, panels.daily_returns, panels.market_caps)
    ]
    dates = pd.DatetimeIndex(sorted(window[2]["date"].unique()))
    exposures = compute_style_exposures(
        *window, panels.companies, panels.fundamentals, dates[dates >= FIRST - pd.Timedelta(days=7)]
    )
    returns = window[1][window[1]["date"] >= FIRST]
    result = estimate_factor_returns(exposures, returns)
    return panels, window, exposures, returns, result


def test_huber_matches_sklearn_on_real_dates(real):
    _, _, exposures, returns, result = real
    dates = sorted(returns["date"].unique())[::40]
    sk = estimate_factor_returns_reference(exposures, returns, dates)
    exact = estimate_factor_returns_reference(exposures, returns, dates, exact=True)
    ours = estimate_factor_returns(exposures, returns, dates)
    e_ours, e_sk = ours.specific_returns, sk.specific_returns
    assert (e_ours[["date", "ticker"]].to_numpy() == e_sk[["date", "ticker"]].to_numpy()).all()
    for date in dates:
        day = e_ours["date"] == date
        assert np.corrcoef(e_ours.loc[day, "ret"], e_sk.loc[day, "ret"])[0, 1] > 0.999
    f_ours = ours.factor_returns["ret"].to_numpy()
    scale = result.factor_returns.groupby("factor")["ret"].std()
    ref = exact.factor_returns.assign(scale=lambda f: f["factor"].map(scale))
    assert (np.abs(f_ours - ref["ret"]) / ref["scale"]).max() < 1e-6
    # The batched result for those dates is the one of the full run.
    full = result.factor_returns[result.factor_returns["date"].isin(dates)]
    np.testing.assert_allclose(full["ret"], f_ours, rtol=0, atol=1e-12)


def test_real_model_invariants(real):
    panels, window, exposures, returns, result = real
    fr = result.factor_returns
    assert fr["ret"].notna().all()
    stats = result.stats
    assert 0.1 < stats["r2"].mean() < 0.5
    assert stats["n_assets"].min() > 300
    # Fundamentals are available 2013-2018 in this data: the fundamental styles are estimated.
    for style in ("value", "profitability", "leverage"):
        assert fr.loc[fr["factor"] == style, "t_stat"].notna().mean() > 0.99
    # Industries sum to zero with the previous day's caps.
    wide = fr.pivot(index="date", columns="factor", values="ret")
    industries = [f for f in result.factors if f != "market" and f not in STYLE_FACTORS]
    prev = dict(zip(exposures["date"].unique()[1:], exposures["date"].unique()[:-1], strict=True))
    date = wide.index[100]
    day = exposures[exposures["date"] == prev[date]]
    ret_day = returns[returns["date"] == date].set_index("ticker")["ret"]
    day = day[day["ticker"].isin(ret_day.index)]
    caps = day.groupby("industry")["market_cap"].sum().reindex(industries)
    assert abs((caps * wide.loc[date, industries]).sum()) < 1e-10 * caps.sum()

    as_of = pd.Timestamp("2016-05-31")
    cov = rolling_factor_covariance(result.factor_returns, [as_of])
    _, matrix = covariance_from_rows(cov)
    assert np.linalg.eigvalsh(matrix).min() >= -1e-12
    assert 0.1 < np.sqrt(matrix[0, 0]) < 0.3  # the market's annual volatility
    spec = estimate_specific_risk(result.specific_returns, window[2], [as_of])
    assert spec["vol"].between(0.05, 1.5).all()
    model = RiskModel.from_frames(as_of, exposures, cov, spec)
    assert len(model.tickers) > 300
    sigma = model.covariance()
    vols = np.sqrt(np.diag(sigma))
    assert 0.12 < np.median(vols) < 0.45


def test_industry_groups_and_share_classes_on_real_data(real_panels):
    from hedging_pipeline.risk.industries import model_industries

    panels = real_panels
    tickers = panels.market_caps["ticker"].unique()
    groups = model_industries(panels.companies, tickers)
    assert groups["industry"].nunique() >= 20
    caps = panels.market_caps
    day = caps[caps["date"] == pd.Timestamp("2019-12-31")].set_index("ticker")["market_cap"]
    alphabet = day["GOOG"] + day["GOOGL"]
    assert 0.75e12 < alphabet < 1.05e12
