"""Factor covariance as of rebalance dates: rolling window or EWMA, optional Newey-West, PSD.

For an as-of date ``a`` the window is the last ``window_days`` factor-return dates ``<= a`` (the
return on ``a`` is known at its close). Second moments are taken about zero, as Barra models do:
the sample mean of daily factor returns is mostly noise and would bias risk down.

* ``method="rolling"``: equal weights over the window (the seed's 504-day model, now the baseline).
* ``method="ewma"``: exponential weights ``0.5 ** (age / half_life)`` inside the window, with a
  shorter half-life for volatilities than for correlations (USE4: 84 and 504 trading days), so
  ``F = D C D`` with ``D`` the EWMA volatilities and ``C`` the EWMA correlations.
* ``newey_west_lags = L > 0`` adds the Bartlett-weighted autocovariances
  ``sum_{l=1..L} (1 - l / (L + 1)) (G_l + G_lᵀ)``, for serial correlation of daily returns.

The matrix is annualised (``x TRADING_DAYS_PER_YEAR``), symmetrised and projected on the positive
semi-definite cone by clipping eigenvalues below ``min_eigenvalue`` (0 by default). A factor return
absent on a date inside the window (e.g. an industry that did not exist yet) counts as 0, like a
factor the regression pinned.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import numpy as np
import pandas as pd

from hedging_pipeline.data.validation import require_columns, require_unique
from hedging_pipeline.errors import (
    InsufficientHistoryError,
    InvalidValueError,
)
from hedging_pipeline.risk.regime import regime_multiplier
from hedging_pipeline.types import TRADING_DAYS_PER_YEAR, FloatArray

WINDOW_DAYS = 504
"""Trading days in the covariance window (two years; the seed's default)."""

VOLATILITY_HALF_LIFE_DAYS = 84
"""USE4S factor volatility half-life (trading days)."""

CORRELATION_HALF_LIFE_DAYS = 504
"""USE4S factor correlation half-life (trading days)."""

CovarianceMethod = Literal["rolling", "ewma"]

MODEL_COVARIANCE_SETTINGS = {"method": "ewma", "regime_adjustment": True}
"""What the ``factor_covariance`` asset uses: EWMA volatilities (84 days) over EWMA correlations (504)
with the USE4 volatility regime adjustment (mean squared z-score over factors), no Newey-West terms
(a daily-horizon forecast: the pipeline compares it with tracking errors measured on daily returns).
Chosen over the 504-day equal-weight window by the bias statistics of random portfolios and of
``factor`` hedges, month by month on the real data 2018-04 → 2020-04 (issue 12,
``benchmarks/RESULTS.md``); Newey-West 2 lags helps the monthly-horizon tests a little and is a
parameter (``newey_west_lags``)."""


def _weights(n: int, half_life: float | None) -> FloatArray:
    """Window weights, oldest first; equal when ``half_life`` is None."""
    if half_life is None:
        return np.ones(n)
    age = np.arange(n - 1, -1, -1, dtype=float)
    return 0.5 ** (age / half_life)


def weighted_second_moment(x: FloatArray, weights: FloatArray, newey_west_lags: int) -> FloatArray:
    """Weighted second moment about zero with Newey-West autocovariance terms.

    Parameters
    ----------
    x : FloatArray
        Returns, shape ``(n_dates, n_factors)``, oldest first, no NaN.
    weights : FloatArray
        Observation weights, shape ``(n_dates,)``.
    newey_west_lags : int
        Number of Bartlett-weighted lags ``L`` (0 for none).

    Returns
    -------
    FloatArray
        ``G_0 + sum_{l=1..L} (1 - l / (L + 1)) (G_l + G_lᵀ)``, shape ``(n_factors, n_factors)``,
        where ``G_l = sum_t w_t x_t x_{t-l}ᵀ / sum_t w_t`` (daily units).
    """
    total = weights.sum()
    xw = x * weights[:, None]
    out = xw.T @ x / total
    for lag in range(1, newey_west_lags + 1):
        g = xw[lag:].T @ x[:-lag] / total
        out += (1.0 - lag / (newey_west_lags + 1.0)) * (g + g.T)
    return out


def nearest_psd(matrix: FloatArray, min_eigenvalue: float = 0.0) -> FloatArray:
    """Symmetrise and clip eigenvalues below ``min_eigenvalue`` (the PSD projection for 0)."""
    sym = 0.5 * (matrix + matrix.T)
    values, vectors = np.linalg.eigh(sym)
    clipped = (vectors * np.maximum(values, min_eigenvalue)) @ vectors.T
    return 0.5 * (clipped + clipped.T)


def factor_covariance_matrix(
    returns: FloatArray,
    *,
    method: CovarianceMethod = "rolling",
    half_life_days: float = VOLATILITY_HALF_LIFE_DAYS,
    correlation_half_life_days: float = CORRELATION_HALF_LIFE_DAYS,
    newey_west_lags: int = 0,
    min_eigenvalue: float = 0.0,
) -> FloatArray:
    """Annualised PSD covariance of one window of daily factor returns.

    Parameters
    ----------
    returns : FloatArray
        Daily factor returns of the window, shape ``(window_days, n_factors)``, oldest first.
    method, half_life_days, correlation_half_life_days, newey_west_lags, min_eigenvalue
        See :func:`rolling_factor_covariance`.

    Returns
    -------
    FloatArray
        Shape ``(n_factors, n_factors)``, symmetric PSD, annualised.
    """
    n = len(returns)
    if method == "rolling":
        daily = weighted_second_moment(returns, _weights(n, None), newey_west_lags)
    elif method == "ewma":
        vol = weighted_second_moment(returns, _weights(n, half_life_days), newey_west_lags)
        cor = weighted_second_moment(
            returns, _weights(n, correlation_half_life_days), newey_west_lags
        )
        sd_vol = np.sqrt(np.clip(np.diag(vol), 0.0, None))
        sd_cor = np.sqrt(np.clip(np.diag(cor), 0.0, None))
        scale = np.divide(sd_vol, sd_cor, out=np.zeros_like(sd_vol), where=sd_cor > 0)
        daily = cor * np.outer(scale, scale)  # D_vol C D_vol with C = cor / (sd_cor sd_corᵀ)
    else:
        raise InvalidValueError(f"covariance method must be 'rolling' or 'ewma', got {method!r}")
    return nearest_psd(daily * TRADING_DAYS_PER_YEAR, min_eigenvalue)


def factor_return_matrix(factor_returns: pd.DataFrame) -> pd.DataFrame:
    """Wide ``date x factor`` daily returns, sorted by date, absent values as 0 (see module doc).

    Raises
    ------
    MissingColumnError, DuplicateRowsError, InvalidValueError
        Missing columns, a repeated (date, factor), or a NaN return.
    """
    require_columns(factor_returns, ("date", "factor", "ret"), "factor_returns")
    require_unique(factor_returns, "factor_returns", ("date", "factor"))
    bad = factor_returns["ret"].isna()
    if bad.any():
        row = factor_returns.loc[bad].iloc[0]
        raise InvalidValueError(
            f"factor_returns: ret is NaN for factor {row['factor']} on "
            f"{pd.Timestamp(row['date']).date()}; the regression never writes NaN, re-run it"
        )
    wide = factor_returns.pivot(index="date", columns="factor", values="ret").sort_index()
    return wide.fillna(0.0)


def rolling_factor_covariance(
    factor_returns: pd.DataFrame,
    as_of_dates: Iterable[pd.Timestamp],
    *,
    window_days: int = WINDOW_DAYS,
    method: CovarianceMethod = "rolling",
    half_life_days: float = VOLATILITY_HALF_LIFE_DAYS,
    correlation_half_life_days: float = CORRELATION_HALF_LIFE_DAYS,
    newey_west_lags: int = 0,
    min_eigenvalue: float = 0.0,
    factors: Iterable[str] | None = None,
    skip_insufficient: bool = False,
    regime_adjustment: bool = False,
    regime_pooled: bool = False,
) -> pd.DataFrame:
    """Annualised factor covariance matrices as of each date, in long form.

    Parameters
    ----------
    factor_returns : pd.DataFrame
        ``date, factor, ret``: daily factor returns (at least ``window_days`` dates before each
        as-of date).
    as_of_dates : iterable of Timestamp
        Dates the matrices are known at (month ends for the hedges).
    window_days : int
        Trading days in the window.
    method : {"rolling", "ewma"}
        Equal weights, or exponential weights with the two half-lives below.
    half_life_days : float
        EWMA half-life of the volatilities (trading days).
    correlation_half_life_days : float
        EWMA half-life of the correlations (trading days).
    newey_west_lags : int
        Bartlett-weighted autocovariance lags (0: none).
    min_eigenvalue : float
        Eigenvalue floor of the PSD projection (annualised variance units).
    factors : iterable of str, optional
        Factor order of the output (default: the order of first appearance in ``factor_returns``,
        which is the regression's order).
    skip_insufficient : bool
        Leave out (instead of raising for) as-of dates with fewer than ``window_days`` dates of
        history; the caller sees them missing from the output.
    regime_adjustment : bool
        Multiply each matrix by the window's volatility regime multiplier ``λ_F²``
        (:func:`~hedging_pipeline.risk.regime.regime_multiplier`, USE4).
    regime_pooled : bool
        Score the days by pooled variance ratios instead of USE4's mean squared z-score.

    Returns
    -------
    pd.DataFrame
        ``date, factor_1, factor_2, cov``: every ordered pair, ``k**2`` rows per as-of date.

    Raises
    ------
    InsufficientHistoryError
        Fewer than ``window_days`` factor-return dates up to an as-of date.
    """
    wide = factor_return_matrix(factor_returns)
    order = list(factors) if factors is not None else list(dict.fromkeys(factor_returns["factor"]))
    unknown = set(order) - set(wide.columns)
    if unknown:
        raise InvalidValueError(
            f"factor_returns: no returns for factor(s) {sorted(unknown)} requested in the "
            f"covariance"
        )
    wide = wide[order]
    values = wide.to_numpy(dtype=float)
    dates = wide.index
    frames = []
    k = len(order)
    for as_of in pd.DatetimeIndex(pd.to_datetime(list(as_of_dates))).unique().sort_values():
        end = int(dates.searchsorted(as_of, side="right"))
        if end < window_days and skip_insufficient:
            continue
        if end < window_days:
            raise InsufficientHistoryError(
                f"factor_returns: {end} dates up to {as_of.date()}, fewer than the "
                f"{window_days}-day covariance window; start the covariance later or materialise "
                f"earlier factor returns"
            )
        cov = factor_covariance_matrix(
            values[end - window_days : end],
            method=method,
            half_life_days=half_life_days,
            correlation_half_life_days=correlation_half_life_days,
            newey_west_lags=newey_west_lags,
            min_eigenvalue=min_eigenvalue,
        )
        if regime_adjustment:
            cov = cov * regime_multiplier(values[end - window_days : end], pooled=regime_pooled)
        frames.append(
            pd.DataFrame(
                {
                    "date": as_of,
                    "factor_1": np.repeat(order, k),
                    "factor_2": np.tile(order, k),
                    "cov": cov.reshape(-1),
                }
            )
        )
    if not frames:
        return pd.DataFrame(
            {"date": pd.Series(dtype="datetime64[ns]"), "factor_1": [], "factor_2": [], "cov": []}
        )
    out = pd.concat(frames, ignore_index=True)
    out["date"] = out["date"].astype("datetime64[ns]")
    return out


def covariance_from_rows(
    rows: pd.DataFrame, factors: Iterable[str] | None = None
) -> tuple[tuple[str, ...], FloatArray]:
    """Rebuild one ``(k, k)`` matrix from the long rows of a single date.

    Raises
    ------
    InvalidValueError
        The rows hold several dates, or some pair is missing.
    """
    if rows["date"].nunique() != 1:
        raise InvalidValueError(
            f"factor_covariance: expected the rows of one date, got {rows['date'].nunique()} dates"
        )
    order = list(factors) if factors is not None else list(dict.fromkeys(rows["factor_1"]))
    wide = rows.pivot(index="factor_1", columns="factor_2", values="cov").reindex(
        index=order, columns=order
    )
    if wide.isna().any().any():
        f1 = wide.isna().any(axis=1).idxmax()
        raise InvalidValueError(
            f"factor_covariance: pair ({f1}, ...) missing on "
            f"{pd.Timestamp(rows['date'].iloc[0]).date()}"
        )
    return tuple(order), wide.to_numpy(dtype=float)
