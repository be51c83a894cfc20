"""Volatility regime adjustment (USE4): planted regimes give the expected multiplier."""

import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.risk.covariance import rolling_factor_covariance
from hedging_pipeline.risk.regime import regime_multiplier


def test_constant_volatility_gives_a_multiplier_near_one():
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 0.01, (504, 40))
    assert regime_multiplier(x) == pytest.approx(1.0, abs=0.08)


def test_a_recent_volatility_jump_raises_the_multiplier_and_a_calm_spell_lowers_it():
    rng = np.random.default_rng(1)
    calm = rng.normal(0.0, 0.01, (440, 40))
    storm = rng.normal(0.0, 0.03, (64, 40))
    up = regime_multiplier(np.vstack([calm, storm]))
    # The last 64 days are 9x the variance; the 84-day forecast catches up only partly.
    assert 2.0 < up < 9.0
    down = regime_multiplier(np.vstack([rng.normal(0.0, 0.03, (440, 40)), calm[:64]]))
    assert down < 0.6


def test_unobserved_values_and_short_windows():
    x = np.full((100, 3), np.nan)
    assert regime_multiplier(x) == 1.0
    assert regime_multiplier(np.ones((10, 2))) == 1.0
    rng = np.random.default_rng(2)
    y = rng.normal(0.0, 0.01, (300, 4))
    y[:, 0] = 0.0  # a pinned factor is ignored
    assert regime_multiplier(y) == pytest.approx(regime_multiplier(y[:, 1:]))


def test_covariance_is_scaled_by_the_multiplier():
    rng = np.random.default_rng(3)
    dates = pd.bdate_range("2019-01-01", periods=300)
    values = rng.normal(0.0, 0.01, (300, 3))
    values[-40:] *= 2.0
    frame = pd.DataFrame(
        {
            "date": np.repeat(dates, 3),
            "factor": np.tile(["market", "a", "b"], 300),
            "ret": values.reshape(-1),
        }
    )
    plain = rolling_factor_covariance(frame, [dates[-1]], window_days=250, method="ewma")
    adjusted = rolling_factor_covariance(
        frame, [dates[-1]], window_days=250, method="ewma", regime_adjustment=True
    )
    lam2 = regime_multiplier(values[-250:])
    assert lam2 > 1.2
    assert np.allclose(adjusted["cov"], plain["cov"] * lam2)


def test_pooled_score_is_not_biased_up_by_noisy_forecasts():
    # Heavy-tailed series with a stable volatility: the mean of x² / σ² exceeds 1 (Jensen), the
    # pooled ratio stays near 1.
    rng = np.random.default_rng(4)
    x = rng.standard_t(3, (504, 300)) * 0.01
    assert regime_multiplier(x) > regime_multiplier(x, pooled=True)
    assert regime_multiplier(x, pooled=True) == pytest.approx(1.0, abs=0.15)
