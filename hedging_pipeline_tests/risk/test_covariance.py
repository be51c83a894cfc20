from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.errors import (
    DuplicateRowsError,
    InsufficientHistoryError,
    InvalidValueError,
    MissingColumnError,
)
from hedging_pipeline.risk.covariance import (
    covariance_from_rows,
    nearest_psd,
    rolling_factor_covariance,
    weighted_second_moment,
)

FACTORS = ["market", "Energy", "Utilities", "size", "value"]


def _long(values: np.ndarray, factors=FACTORS, start="2010-01-04") -> pd.DataFrame:
    dates = pd.bdate_range(start, periods=len(values))
    return pd.DataFrame(
        {
            "date": np.repeat(dates, len(factors)),
            "factor": np.tile(factors, len(dates)),
            "ret": values.reshape(-1),
        }
    )


def _matrix(rows: pd.DataFrame, as_of) -> np.ndarray:
    return covariance_from_rows(rows[rows["date"] == as_of])[1]


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 5))
    sigma = (a @ a.T + np.eye(5)) * 1e-5  # daily
    values = rng.multivariate_normal(np.zeros(5), sigma, size=3000)
    return sigma, values


def test_rolling_window_is_the_annualised_second_moment(planted):
    _, values = planted
    frame = _long(values[:600])
    as_of = frame["date"].unique()[-1]
    cov = _matrix(rolling_factor_covariance(frame, [as_of]), as_of)
    x = values[600 - 504 : 600]
    np.testing.assert_allclose(cov, x.T @ x / 504 * 252, rtol=1e-12)


def test_recovers_a_planted_covariance(planted):
    sigma, values = planted
    frame = _long(values)
    as_of = frame["date"].unique()[-1]
    cov = _matrix(rolling_factor_covariance(frame, [as_of], window_days=3000), as_of)
    np.testing.assert_allclose(cov, sigma * 252, atol=0.08 * np.abs(sigma * 252).max())


def test_ewma_combines_volatility_and_correlation_half_lives(planted):
    _, values = planted
    frame = _long(values[:700])
    as_of = frame["date"].unique()[-1]
    cov = _matrix(
        rolling_factor_covariance(
            frame, [as_of], method="ewma", half_life_days=20, correlation_half_life_days=200
        ),
        as_of,
    )
    x = values[700 - 504 : 700]
    age = np.arange(503, -1, -1)
    wv, wc = 0.5 ** (age / 20), 0.5 ** (age / 200)
    vol = np.sqrt(np.einsum("t,ti->i", wv, x**2) / wv.sum())
    mc = np.einsum("t,ti,tj->ij", wc, x, x) / wc.sum()
    corr = mc / np.sqrt(np.outer(np.diag(mc), np.diag(mc)))
    np.testing.assert_allclose(cov, np.outer(vol, vol) * corr * 252, rtol=1e-10)


def test_newey_west_adds_bartlett_weighted_autocovariances():
    rng = np.random.default_rng(1)
    e = rng.standard_normal((20000, 1))
    x = e.copy()
    for t in range(1, len(x)):
        x[t] = 0.5 * x[t - 1] + e[t]
    w = np.ones(len(x))
    plain = weighted_second_moment(x, w, 0)[0, 0]
    nw = weighted_second_moment(x, w, 2)[0, 0]
    g1 = (x[1:, 0] * x[:-1, 0]).sum() / len(x)
    g2 = (x[2:, 0] * x[:-2, 0]).sum() / len(x)
    assert nw == pytest.approx(plain + 2 * (2 / 3) * g1 + 2 * (1 / 3) * g2, rel=1e-12)
    assert nw > 1.5 * plain  # positive autocorrelation raises the long-horizon variance


def test_psd_even_with_fewer_days_than_factors_and_newey_west():
    rng = np.random.default_rng(2)
    values = rng.standard_normal((40, 5)) * 0.01
    values[1::2] *= -1.0  # strong negative autocorrelation
    frame = _long(values)
    dates = frame["date"].unique()
    out = rolling_factor_covariance(
        frame, dates[-3:], window_days=3, method="ewma", newey_west_lags=2
    )
    for as_of in dates[-3:]:
        cov = _matrix(out, as_of)
        np.testing.assert_allclose(cov, cov.T, atol=0)
        assert np.linalg.eigvalsh(cov).min() >= -1e-15
    indefinite = np.array([[1.0, 2.0], [2.0, 1.0]])
    fixed = nearest_psd(indefinite)
    assert np.linalg.eigvalsh(fixed).min() >= -1e-15
    np.testing.assert_allclose(fixed, [[1.5, 1.5], [1.5, 1.5]], atol=1e-12)


def test_long_form_and_factor_order(planted):
    _, values = planted
    frame = _long(values[:600])
    dates = frame["date"].unique()
    out = rolling_factor_covariance(frame, [dates[-1], dates[-30]])
    assert list(out.columns) == ["date", "factor_1", "factor_2", "cov"]
    assert len(out) == 2 * 25
    assert list(out["factor_1"].iloc[:5]) == ["market"] * 5
    assert list(out["factor_2"].iloc[:5]) == FACTORS
    factors, _ = covariance_from_rows(out[out["date"] == dates[-1]])
    assert factors == tuple(FACTORS)


def test_no_look_ahead(planted):
    _, values = planted
    frame = _long(values[:700])
    as_of = frame["date"].unique()[600]
    moved = frame.copy()
    moved.loc[moved["date"] > as_of, "ret"] = 5.0
    a = rolling_factor_covariance(frame, [as_of], method="ewma", newey_west_lags=3)
    b = rolling_factor_covariance(moved, [as_of], method="ewma", newey_west_lags=3)
    pd.testing.assert_frame_equal(a, b)


def test_absent_factor_on_a_date_counts_as_zero(planted):
    _, values = planted
    frame = _long(values[:600])
    dates = frame["date"].unique()
    gap = frame[~((frame["factor"] == "Energy") & (frame["date"] == dates[-1]))]
    cov = _matrix(rolling_factor_covariance(gap, [dates[-1]]), dates[-1])
    x = values[600 - 504 : 600].copy()
    x[-1, 1] = 0.0
    np.testing.assert_allclose(cov, x.T @ x / 504 * 252, rtol=1e-12)


def test_errors(planted):
    _, values = planted
    frame = _long(values[:300])
    last = frame["date"].unique()[-1]
    with pytest.raises(
        InsufficientHistoryError, match=f"300 dates up to {pd.Timestamp(last).date()}"
    ):
        rolling_factor_covariance(frame, [last])
    dates = frame["date"].unique()
    kept = rolling_factor_covariance(
        frame, [dates[5], last], window_days=100, skip_insufficient=True
    )
    assert list(kept["date"].unique()) == [last]
    bad = frame.copy()
    bad.loc[7, "ret"] = np.nan
    with pytest.raises(InvalidValueError, match="ret is NaN for factor Utilities on 2010-01-05"):
        rolling_factor_covariance(bad, [last], window_days=10)
    with pytest.raises(DuplicateRowsError, match="repeats, e.g. .*factor market"):
        rolling_factor_covariance(pd.concat([frame.iloc[:1], frame]), [last], window_days=10)
    with pytest.raises(MissingColumnError, match="factor_returns: missing column"):
        rolling_factor_covariance(frame.drop(columns="ret"), [last], window_days=10)
    with pytest.raises(InvalidValueError, match="method must be 'rolling' or 'ewma'"):
        rolling_factor_covariance(frame, [last], window_days=10, method="garch")
    with pytest.raises(InvalidValueError, match=r"no returns for factor\(s\) \['growth'\]"):
        rolling_factor_covariance(frame, [last], window_days=10, factors=[*FACTORS, "growth"])
    rows = rolling_factor_covariance(frame, [last], window_days=10)
    with pytest.raises(InvalidValueError, match="pair .* missing"):
        covariance_from_rows(rows.iloc[1:])
    two = rolling_factor_covariance(frame, frame["date"].unique()[-2:], window_days=10)
    with pytest.raises(InvalidValueError, match="rows of one date"):
        covariance_from_rows(two)
