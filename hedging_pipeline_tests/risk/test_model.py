from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.errors import InvalidValueError
from hedging_pipeline.risk.covariance import rolling_factor_covariance
from hedging_pipeline.risk.model import RiskModel
from hedging_pipeline.risk.regression import estimate_factor_returns
from hedging_pipeline.risk.specific import estimate_specific_risk
from hedging_pipeline.types import STYLE_FACTORS
from hedging_pipeline_tests.synthetic import make_factor_panel


@pytest.fixture(scope="module")
def pieces():
    p = make_factor_panel(n_tickers=60, n_days=140, n_industries=4, seed=11)
    reg = estimate_factor_returns(p.style_exposures, p.daily_returns)
    as_of = reg.factor_returns["date"].max()
    cov = rolling_factor_covariance(reg.factor_returns, [as_of], window_days=120)
    spec = estimate_specific_risk(reg.specific_returns, p.market_caps, [as_of], window_days=120)
    return p, reg, as_of, cov, spec


def test_from_frames_matches_the_regression_design(pieces):
    p, reg, as_of, cov, spec = pieces
    model = RiskModel.from_frames(as_of, p.style_exposures, cov, spec)
    assert model.factors == reg.factors
    assert model.tickers == tuple(sorted(p.companies["ticker"]))
    day = (
        p.style_exposures[p.style_exposures["date"] == as_of]
        .set_index("ticker")
        .loc[list(model.tickers)]
    )
    x = model.exposures
    assert x.shape == (60, 1 + 4 + 7)
    np.testing.assert_array_equal(x[:, 0], 1.0)
    np.testing.assert_array_equal(x[:, 1:5].sum(axis=1), 1.0)
    for j, industry in enumerate(model.factors[1:5]):
        np.testing.assert_array_equal(x[:, 1 + j], (day["industry"] == industry).to_numpy(float))
    np.testing.assert_array_equal(x[:, 5:], day[list(STYLE_FACTORS)].to_numpy())
    np.testing.assert_allclose(
        model.specific_variance, spec.set_index("ticker").loc[list(model.tickers), "vol"] ** 2
    )
    sigma = model.covariance()
    assert np.linalg.eigvalsh(sigma).min() > 0
    sub = model.subset(["T003", "T001"])
    np.testing.assert_allclose(sub.covariance(), sigma[np.ix_([3, 1], [3, 1])])


def test_from_frames_keeps_tickers_with_both_exposures_and_specific_risk(pieces):
    p, _, as_of, cov, spec = pieces
    model = RiskModel.from_frames(as_of, p.style_exposures, cov, spec[spec["ticker"] != "T010"])
    assert "T010" not in model.tickers and len(model.tickers) == 59


def test_from_frames_errors(pieces):
    p, _, as_of, cov, spec = pieces
    with pytest.raises(InvalidValueError, match="specific_risk: no rows on 2000-01-03"):
        RiskModel.from_frames(
            "2000-01-03",
            p.style_exposures.assign(date=pd.Timestamp("2000-01-03")),
            cov.assign(date=pd.Timestamp("2000-01-03")),
            spec,
        )
    ex = p.style_exposures.copy()
    ex.loc[ex["date"] == as_of, "industry"] = ex.loc[ex["date"] == as_of, "industry"].replace(
        "Energy", "Oil"
    )
    with pytest.raises(InvalidValueError, match="industry 'Oil' .* has no factor"):
        RiskModel.from_frames(as_of, ex, cov, spec)
    shuffled = cov.replace({"factor_1": {"market": "zzz"}, "factor_2": {"market": "zzz"}})
    with pytest.raises(InvalidValueError, match="expected market, the industries, then the styles"):
        RiskModel.from_frames(as_of, p.style_exposures, shuffled, spec)


def test_model_design_reproduces_the_next_day_regression_residuals(pieces):
    p, reg, _, _, _ = pieces
    dates = sorted(reg.factor_returns["date"].unique())
    as_of, next_day = dates[-10], dates[-9]
    cov = rolling_factor_covariance(reg.factor_returns, [as_of], window_days=120)
    spec = estimate_specific_risk(reg.specific_returns, p.market_caps, [as_of], window_days=120)
    model = RiskModel.from_frames(as_of, p.style_exposures, cov, spec)
    f = reg.factor_returns[reg.factor_returns["date"] == next_day].set_index("factor")["ret"]
    r = p.daily_returns[p.daily_returns["date"] == next_day].set_index("ticker")["ret"]
    e = reg.specific_returns[reg.specific_returns["date"] == next_day].set_index("ticker")["ret"]
    tickers = list(model.tickers)
    fitted = model.exposures @ f.loc[list(model.factors)].to_numpy()
    np.testing.assert_allclose(
        r.loc[tickers].to_numpy() - fitted, e.loc[tickers].to_numpy(), atol=1e-14
    )
