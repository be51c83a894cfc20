"""Volatility regime adjustment (USE4): scale risk forecasts by their recent bias.

A risk model whose volatilities follow a long window under-predicts when the market turns volatile and
over-predicts when it calms. USE4 (Menchero, Orr and Wang, *The Barra US Equity Model (USE4),
Methodology Notes*, 2011) corrects the level with the recent *cross-sectional bias statistic*: on each day
``t`` of the window, every series' return is standardised by its volatility forecast made the day before,

    B_t² = mean_i (x_it / σ_i,t|t-1)²,

and the forecasts are multiplied by ``λ² = Σ_t w_t B_t² / Σ_t w_t`` with weights of half-life
``vra_half_life_days`` (42 trading days, the USE4 value). Applied to factor returns (``λ_F²`` scales the
factor covariance) and to specific returns (``λ_S`` scales every specific volatility).

The daily forecasts ``σ_i,t|t-1`` are exponentially weighted with ``vol_half_life_days`` (84 days, the
model's own factor and specific volatility half-life), seeded with the mean square of the first
``seed_days`` of the window; the statistic is computed on the window alone, so the multiplier of an as-of
date depends only on its window. A return exactly ``0.0`` (a pinned factor) or NaN is not observed.
Specific bias is equal-weighted over stocks: the portfolios the model serves (hedge baskets, the random
test portfolios) are not cap-weighted.
"""

from __future__ import annotations

import numpy as np

from hedging_pipeline.types import FloatArray

VRA_HALF_LIFE_DAYS = 42
"""Half-life (trading days) of the bias statistic average (USE4)."""
VOL_HALF_LIFE_DAYS = 84
"""Half-life of the daily volatility forecasts that standardise the returns (USE4 factor/specific)."""
SEED_DAYS = 63
"""Days of the window that seed the volatility forecasts (not scored)."""


def regime_multiplier(
    x: FloatArray,
    *,
    pooled: bool = False,
    vra_half_life_days: float = VRA_HALF_LIFE_DAYS,
    vol_half_life_days: float = VOL_HALF_LIFE_DAYS,
    seed_days: int = SEED_DAYS,
) -> float:
    """Variance multiplier ``λ²`` of a window of daily returns.

    Parameters
    ----------
    x : FloatArray
        Daily returns, shape ``(n_days, n_series)``, oldest first; NaN or exactly 0 = not observed.
    vra_half_life_days, vol_half_life_days : float
        Half-lives of the bias average and of the volatility forecasts (trading days).
    seed_days : int
        Leading days used only to seed the forecasts.
    pooled : bool
        Score each day by ``Σ_i x_it² / Σ_i σ²_i,t|t-1`` instead of the mean of the ratios: the
        mean of ``x² / σ²`` is biased up when the forecasts are noisy (Jensen: ``1 / σ²`` is
        convex), as single-stock specific forecasts are.

    Returns
    -------
    float
        ``λ²`` (1.0 when no day can be scored).
    """
    observed = np.isfinite(x) & (x != 0.0)
    sq = np.where(observed, x, 0.0) ** 2
    n_days = len(x)
    if n_days <= seed_days:
        return 1.0
    count = observed[:seed_days].sum(axis=0)
    var = np.divide(sq[:seed_days].sum(axis=0), count, out=np.zeros(x.shape[1]), where=count > 0)
    decay = 0.5 ** (1.0 / vol_half_life_days)
    b2 = np.full(n_days, np.nan)
    for t in range(seed_days, n_days):
        scored = observed[t] & (var > 0)
        if scored.any():
            if pooled:
                b2[t] = float(sq[t, scored].sum() / var[scored].sum())
            else:
                b2[t] = float(np.mean(sq[t, scored] / var[scored]))
        var = np.where(observed[t], decay * var + (1.0 - decay) * sq[t], var)
    age = np.arange(n_days - 1, -1, -1, dtype=float)
    w = np.where(np.isfinite(b2), 0.5 ** (age / vra_half_life_days), 0.0)
    if w.sum() <= 0:
        return 1.0
    return float(np.nansum(w * np.nan_to_num(b2)) / w.sum())
