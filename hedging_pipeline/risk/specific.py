"""Specific (idiosyncratic) risk per stock, shrunk toward its size group (USE4 Bayesian shrinkage).

For an as-of date ``a`` each stock's daily specific variance is the weighted second moment of its
specific returns over the last ``window_days`` dates ``<= a`` (equal weights, or EWMA with
``half_life_days``; optional Newey-West lags), on the days it was in the regression. Stocks are then
grouped into ``n_size_groups`` equal-count market-cap groups (deciles) on ``a``, and the time-series
estimate ``σ̂`` is shrunk toward the cap-weighted mean ``σ̄`` of its group (USE4, Menchero et al.
2011)::

    σ = v σ̄ + (1 - v) σ̂,    v = q |σ̂ - σ̄| / (Δ + q |σ̂ - σ̄|),    Δ = sqrt(mean_group (σ̂ -
    σ̄)²)

with ``q = shrinkage`` (0.1 in USE4). Optionally (``scale="huber"``) the time-series estimate is Huber's
proposal-2 scale about zero instead of the second moment: ``σ̂²`` solves
``Σ_t w_t min(e_t², c² σ̂²) = β(c) σ̂² Σ_t w_t`` with ``c = HUBER_SCALE_C`` and ``β(c) = E[min(Z², c²)]``
for a standard normal ``Z`` (the normal-consistency factor), so one earnings-day jump moves it
little; the Newey-West terms then use the returns winsorised at ``± c σ̂``. A stock with fewer than ``min_observations`` specific returns
in the window gets its group's ``σ̄`` (full shrinkage; the market-wide cap-weighted mean if its
group has no estimate at all). The output covers the stocks with a market cap on ``a`` and is
annualised (``x sqrt(TRADING_DAYS_PER_YEAR)``).
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
SPECIFIC_HALF_LIFE_DAYS = 84
"""USE4S specific volatility half-life (trading days), used with ``method="ewma"``."""

SHRINKAGE = 0.1
"""USE4's Bayesian shrinkage intensity ``q``."""

N_SIZE_GROUPS = 10
MIN_OBSERVATIONS = 63
"""Specific returns (about three months) needed for a stock's own estimate."""

MAX_CAP_AGE_DAYS = 10
"""The market cap that places a stock in a size group may be this many calendar days old."""

HUBER_SCALE_C = 1.5
"""Winsorisation point (in scale units) of Huber's proposal-2 scale (Huber 1981, the usual 1.5)."""

HUBER_ITERATIONS = 50

SpecificMethod = Literal["rolling", "ewma"]
SpecificScale = Literal["second_moment", "huber"]

MODEL_SPECIFIC_SETTINGS = {"method": "ewma", "regime_adjustment": True, "regime_pooled": True}
"""What the ``specific_risk`` asset uses: EWMA 84 days, second moment (not the Huber scale), USE4
shrinkage ``q = 0.1``, the regime adjustment scored by pooled variance ratios, no Newey-West (a
daily-horizon forecast, like the daily-return tracking error it is compared with). Measured against
one-change alternatives on every ``factor`` hedge of every month, 2018-04 → 2020-04 (issue 12,
``benchmarks/RESULTS.md``): median monthly bias of the hedges 1.01 (USE4's mean z² for the regime
adjustment: 0.96, the forecasts too high; Huber scale: the forecasts too low; no shrinkage: 1.02)."""


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    require_columns(frame, columns, name)
    require_unique(frame, name)


def huber_consistency(c: float) -> float:
    """``β(c) = E[min(Z², c²)]`` for a standard normal ``Z``."""
    from scipy.stats import norm

    return float((2 * norm.cdf(c) - 1) - 2 * c * norm.pdf(c) + 2 * c**2 * norm.sf(c))


def huber_scale_variance(
    ez: FloatArray, w: FloatArray, c: float = HUBER_SCALE_C, iterations: int = HUBER_ITERATIONS
) -> FloatArray:
    """Weighted Huber proposal-2 variance about zero per column (see the module docstring).

    ``ez`` (returns, 0 where unobserved) and ``w`` (weights, 0 where unobserved) have shape
    ``(n_days, n_assets)``; the fixed point is reached from the second moment, which bounds it above.
    """
    wsum = w.sum(axis=0)
    safe = np.where(wsum > 0, wsum, 1.0)
    beta = huber_consistency(c)
    var = (w * ez**2).sum(axis=0) / safe
    for _ in range(iterations):
        var = (w * np.minimum(ez**2, c**2 * var)).sum(axis=0) / (beta * safe)
    return var


def _window_variance(
    e: FloatArray, weights: FloatArray, newey_west_lags: int, scale: SpecificScale = "second_moment"
) -> tuple[FloatArray, FloatArray]:
    """Per-column weighted second moment (or Huber scale) over observed days, and counts.

    ``e`` has shape ``(window_days, n_assets)``, oldest first; NaN = not observed.
    """
    ok = np.isfinite(e)
    ez = np.where(ok, e, 0.0)
    w = weights[:, None] * ok
    wsum = w.sum(axis=0)
    safe = np.where(wsum > 0, wsum, 1.0)
    if scale == "huber":
        var = huber_scale_variance(ez, w)
        limit = HUBER_SCALE_C * np.sqrt(var)
        ez = np.clip(ez, -limit, limit)
    else:
        var = (w * ez**2).sum(axis=0) / safe
    for lag in range(1, newey_west_lags + 1):
        pair = w[lag:] * ok[:-lag]
        psum = pair.sum(axis=0)
        auto = np.divide(
            (pair * ez[lag:] * ez[:-lag]).sum(axis=0), psum, out=np.zeros_like(var), where=psum > 0
        )
        var += 2.0 * (1.0 - lag / (newey_west_lags + 1.0)) * auto
    return np.clip(var, 0.0, None), ok.sum(axis=0).astype(float)


def size_groups(cap: FloatArray, n_groups: int) -> FloatArray:
    """Equal-count size groups ``0 .. n_groups - 1`` by market cap rank (0 = smallest)."""
    ranks = cap.argsort(kind="stable").argsort(kind="stable")
    return np.minimum(ranks * n_groups // max(len(cap), 1), n_groups - 1)


def shrink_to_size_groups(
    sigma: FloatArray,
    cap: FloatArray,
    *,
    shrinkage: float = SHRINKAGE,
    n_groups: int = N_SIZE_GROUPS,
) -> FloatArray:
    """Bayesian shrinkage of ``sigma`` toward the cap-weighted mean of each size group.

    Parameters
    ----------
    sigma : FloatArray
        Time-series specific volatilities, shape ``(n_assets,)``; NaN where there is no estimate.
    cap : FloatArray
        Market caps, shape ``(n_assets,)``, positive.
    shrinkage : float
        Intensity ``q`` (see the module docstring).
    n_groups : int
        Number of equal-count size groups.

    Returns
    -------
    FloatArray
        Shrunk volatilities, shape ``(n_assets,)``, finite wherever any stock has an estimate.
    """
    group = size_groups(cap, n_groups)
    have = np.isfinite(sigma)
    onehot = np.zeros((len(sigma), n_groups))
    onehot[np.arange(len(sigma)), group] = 1.0
    w = np.where(have, cap, 0.0)
    gw = w @ onehot
    market_mean = np.divide((w * np.nan_to_num(sigma)).sum(), w.sum()) if w.sum() > 0 else np.nan
    g_mean = np.divide(
        (w * np.nan_to_num(sigma)) @ onehot, gw, out=np.full(n_groups, market_mean), where=gw > 0
    )
    prior = g_mean[group]
    dev = np.where(have, sigma - prior, 0.0)
    counts = have.astype(float) @ onehot
    spread = np.sqrt(np.divide(dev**2 @ onehot, counts, out=np.zeros(n_groups), where=counts > 0))[
        group
    ]
    gap = shrinkage * np.abs(dev)
    v = np.divide(gap, spread + gap, out=np.zeros_like(gap), where=(spread + gap) > 0)
    return np.where(have, v * prior + (1.0 - v) * np.nan_to_num(sigma), prior)


def estimate_specific_risk(
    specific_returns: pd.DataFrame,
    market_caps: pd.DataFrame,
    as_of_dates: Iterable[pd.Timestamp],
    *,
    window_days: int = WINDOW_DAYS,
    method: SpecificMethod = "rolling",
    half_life_days: float = SPECIFIC_HALF_LIFE_DAYS,
    newey_west_lags: int = 0,
    shrinkage: float = SHRINKAGE,
    n_size_groups: int = N_SIZE_GROUPS,
    min_observations: int = MIN_OBSERVATIONS,
    skip_insufficient: bool = False,
    regime_adjustment: bool = False,
    regime_pooled: bool = True,
    scale: SpecificScale = "second_moment",
) -> pd.DataFrame:
    """Annualised specific volatility per stock as of each date.

    Parameters
    ----------
    specific_returns : pd.DataFrame
        ``date, ticker, ret``: residuals of the factor regression.
    market_caps : pd.DataFrame
        ``date, ticker, market_cap``: the size groups and shrinkage weights on each as-of date (the
        latest cap at most :data:`MAX_CAP_AGE_DAYS` old).
    as_of_dates : iterable of Timestamp
        Dates the estimates are known at.
    window_days : int
        Specific-return dates in the window.
    method : {"rolling", "ewma"}
        Equal weights, or exponential weights with ``half_life_days``.
    half_life_days : float
        EWMA half-life (trading days).
    newey_west_lags : int
        Bartlett-weighted autocovariance lags (0: none).
    shrinkage : float
        Bayesian shrinkage intensity ``q``.
    n_size_groups : int
        Equal-count size groups.
    min_observations : int
        Specific returns needed in the window for a stock's own estimate.
    skip_insufficient : bool
        Leave out (instead of raising for) as-of dates with fewer than ``window_days`` dates of
        history.
    regime_adjustment : bool
        Multiply every volatility by the window's specific regime multiplier ``λ_S``
        (:func:`~hedging_pipeline.risk.regime.regime_multiplier`, USE4).
    regime_pooled : bool
        Score the days by pooled variance ratios (default; see ``regime_multiplier``).
    scale : {"second_moment", "huber"}
        The time-series estimate: weighted second moment, or Huber's proposal-2 scale.

    Returns
    -------
    pd.DataFrame
        ``date, ticker, vol``: annualised specific volatility, positive and finite.

    Raises
    ------
    InsufficientHistoryError
        Fewer than ``window_days`` specific-return dates up to an as-of date, or no market caps near
        it.
    InvalidValueError
        Unknown ``method``, or no stock with enough observations on an as-of date.
    """
    _require(specific_returns, ("date", "ticker", "ret"), "specific_returns")
    _require(market_caps, ("date", "ticker", "market_cap"), "market_caps")
    if method not in ("rolling", "ewma") or scale not in ("second_moment", "huber"):
        raise InvalidValueError(
            f"specific risk method must be 'rolling' or 'ewma' and scale 'second_moment' or "
            f"'huber', got {method!r} and {scale!r}"
        )
    dates = pd.DatetimeIndex(specific_returns["date"].unique()).sort_values()
    tickers = pd.Index(sorted(specific_returns["ticker"].unique()))
    wide = np.full((len(dates), len(tickers)), np.nan)
    wide[
        dates.get_indexer(specific_returns["date"]), tickers.get_indexer(specific_returns["ticker"])
    ] = specific_returns["ret"].to_numpy(dtype=float)
    cap_dates = pd.DatetimeIndex(market_caps["date"].unique()).sort_values()
    frames = []
    for as_of in pd.DatetimeIndex(pd.to_datetime(list(as_of_dates))).unique().sort_values():
        end = int(dates.searchsorted(as_of, side="right"))
        if end < window_days and skip_insufficient:
            continue
        if end < window_days:
            raise InsufficientHistoryError(
                f"specific_returns: {end} dates up to {as_of.date()}, fewer than the "
                f"{window_days}-day specific-risk window; start later or materialise earlier "
                f"specific returns"
            )
        pos = int(cap_dates.searchsorted(as_of, side="right")) - 1
        if pos < 0 or (as_of - cap_dates[pos]).days > MAX_CAP_AGE_DAYS:
            raise InsufficientHistoryError(
                f"market_caps: no market caps within {MAX_CAP_AGE_DAYS} days before {as_of.date()}"
            )
        caps = market_caps[
            (market_caps["date"] == cap_dates[pos]) & (market_caps["market_cap"] > 0)
        ]
        universe = pd.Index(sorted(caps["ticker"]))
        cap = caps.set_index("ticker").loc[universe, "market_cap"].to_numpy(dtype=float)
        weights = (
            np.ones(window_days)
            if method == "rolling"
            else 0.5 ** (np.arange(window_days - 1, -1, -1) / half_life_days)
        )
        var, count = _window_variance(
            wide[end - window_days : end], weights, newey_west_lags, scale
        )
        col = tickers.get_indexer(universe)
        own = np.where(col >= 0, var[np.maximum(col, 0)], np.nan)
        n_obs = np.where(col >= 0, count[np.maximum(col, 0)], 0.0)
        sigma = np.where(n_obs >= min_observations, np.sqrt(own), np.nan)
        if not np.isfinite(sigma).any():
            raise InvalidValueError(
                f"specific_returns: no stock has {min_observations} specific returns in the window "
                f"ending {as_of.date()}"
            )
        vol = shrink_to_size_groups(sigma, cap, shrinkage=shrinkage, n_groups=n_size_groups)
        if regime_adjustment:
            vol = vol * np.sqrt(
                regime_multiplier(wide[end - window_days : end], pooled=regime_pooled)
            )
        frames.append(
            pd.DataFrame(
                {"date": as_of, "ticker": universe, "vol": vol * np.sqrt(TRADING_DAYS_PER_YEAR)}
            )
        )
    if not frames:
        return pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "ticker": [], "vol": []})
    out = pd.concat(frames, ignore_index=True)
    out["date"] = out["date"].astype("datetime64[ns]")
    return out
