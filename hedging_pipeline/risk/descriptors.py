"""Market-data descriptors on trailing windows: momentum, volatility and beta, share turnover.

Windows are trailing and fixed-length with exponential (half-life) weights, so a value on date
``d`` depends only on rows dated ``<= d``; a descriptor needs at least
``min_observation_fraction`` of its window observed. Arrays are ``(n_dates, n_assets)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import convolve1d

from hedging_pipeline.types import BoolArray, FloatArray

if TYPE_CHECKING:
    from hedging_pipeline.risk.exposures import ExposureParameters


def _half_life_weights(window: int, half_life: float, lag: int = 0) -> FloatArray:
    """Weights of lags ``0 .. lag + window - 1``: 0 for the skipped lags, then ``0.5**(l / hl)``."""
    w = np.zeros(lag + window)
    w[lag:] = 0.5 ** (np.arange(window) / half_life)
    return w


def _trailing_sum(x: FloatArray, weights: FloatArray) -> FloatArray:
    """``sum_l weights[l] * x[t - l]`` along axis 0 (rows before the first count as 0)."""
    return convolve1d(x, weights, axis=0, mode="constant", cval=0.0, origin=-(len(weights) // 2))


def _trailing_stats(
    x: FloatArray, weights: FloatArray, min_fraction: float
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Weighted sum of the observed ``x``, the observed weight, and whether enough was observed."""
    ok = np.isfinite(x)
    xs = _trailing_sum(np.where(ok, x, 0.0), weights)
    ws = _trailing_sum(ok.astype(float), weights)
    count = _trailing_sum(ok.astype(float), (weights > 0).astype(float))
    enough = count >= min_fraction * (weights > 0).sum()
    return xs, ws, enough


def momentum_descriptor(ret: FloatArray, p: ExposureParameters) -> FloatArray:
    """Relative strength: half-life-weighted sum of log returns, skipping the latest lag days."""
    w = _half_life_weights(p.momentum_window_days, p.momentum_half_life_days, p.momentum_lag_days)
    with np.errstate(invalid="ignore"):
        log_ret = np.log1p(ret)
    s, ws, enough = _trailing_stats(log_ret, w, p.min_observation_fraction)
    full = w.sum()
    return np.where(enough & (ws > 0), s * full / np.where(ws > 0, ws, 1.0), np.nan)


def _weighted_moments(
    x: FloatArray, y: FloatArray, weights: FloatArray, min_fraction: float
) -> tuple[FloatArray, FloatArray, FloatArray, BoolArray]:
    """Weighted covariance of ``x`` and ``y``, variance of ``y`` and of ``x`` over pairs seen."""
    ok = np.isfinite(x) & np.isfinite(y)
    xz, yz, okf = np.where(ok, x, 0.0), np.where(ok, y, 0.0), ok.astype(float)
    sw = _trailing_sum(okf, weights)
    count = _trailing_sum(okf, (weights > 0).astype(float))
    enough = (count >= min_fraction * (weights > 0).sum()) & (sw > 0)
    safe = np.where(sw > 0, sw, 1.0)
    mx, my = _trailing_sum(xz, weights) / safe, _trailing_sum(yz, weights) / safe
    cov = _trailing_sum(xz * yz, weights) / safe - mx * my
    var_y = _trailing_sum(yz * yz, weights) / safe - my * my
    var_x = _trailing_sum(xz * xz, weights) / safe - mx * mx
    return cov, var_y, var_x, enough


def volatility_descriptors(
    ret: FloatArray, cap: FloatArray, p: ExposureParameters
) -> dict[str, FloatArray]:
    """Daily return std and beta to the cap-weighted market (previous close's caps)."""
    # Cap-weighted market return with the previous close's caps.
    prev_cap = np.vstack([np.full((1, cap.shape[1]), np.nan), cap[:-1]])
    ok = np.isfinite(ret) & np.isfinite(prev_cap)
    wsum = np.where(ok, prev_cap, 0.0).sum(axis=1)
    market = np.divide(
        np.where(ok, prev_cap * ret, 0.0).sum(axis=1),
        wsum,
        out=np.full(len(ret), np.nan),
        where=wsum > 0,
    )
    w_vol = _half_life_weights(p.volatility_window_days, p.volatility_half_life_days)
    _, _, var_r, enough_v = _weighted_moments(ret, ret, w_vol, p.min_observation_fraction)
    daily_std = np.where(enough_v, np.sqrt(np.clip(var_r, 0.0, None)), np.nan)
    w_beta = _half_life_weights(p.beta_window_days, p.beta_half_life_days)
    market_panel = np.broadcast_to(market[:, None], ret.shape)
    cov, var_m, _, enough_b = _weighted_moments(
        ret, market_panel, w_beta, p.min_observation_fraction
    )
    beta = np.divide(cov, var_m, out=np.full_like(cov, np.nan), where=enough_b & (var_m > 0))
    return {"daily_std": daily_std, "beta": beta}


def turnover_descriptors(
    volume: FloatArray, close: FloatArray, cap: FloatArray, p: ExposureParameters
) -> dict[str, FloatArray]:
    """Log average monthly share turnover over the month, quarter and year windows."""
    with np.errstate(divide="ignore", invalid="ignore"):
        turnover = volume * close / cap  # shares traded / shares outstanding
    out = {}
    names = ("turnover_month", "turnover_quarter", "turnover_year")
    for name, window in zip(names, p.turnover_windows_days, strict=True):
        w = np.ones(window)
        s, ws, enough = _trailing_stats(turnover, w, p.min_observation_fraction)
        total = s * window / np.where(ws > 0, ws, 1.0)
        months = (
            window / p.turnover_windows_days[0]
        )  # average monthly turnover, as USE4's STOQ/STOA
        with np.errstate(divide="ignore", invalid="ignore"):
            out[name] = np.where(enough & (total > 0), np.log(total / months), np.nan)
    return out
