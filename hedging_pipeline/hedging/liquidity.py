"""Liquidity of the hedge names: average daily dollar volume and the weight caps it implies.

A short of ``w_i · N`` dollars in name ``i`` (position value ``N``) is tradable when it stays within
a fraction ``f`` (``--max-adv``) of the name's average daily dollar volume::

    ADV_i = mean over the last ``window_days`` trading days up to the rebalance date of close · volume
    w_i ≤ f · ADV_i / N

The trading days are the dates of the price table on or before the rebalance date (its own close
included: the hedge is placed after it), so nothing after the rebalance date is read. A name with
fewer than ``min_days`` prices in the window has no ADV and a cap of 0 (it is not traded).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from hedging_pipeline.errors import InvalidValueError

ADV_WINDOW_DAYS = 20
"""Trading days in the average daily dollar volume (one month, the desk convention)."""
MIN_ADV_DAYS = 10
"""Fewest prices a name needs in the window to have an ADV (half the window)."""
MAX_NOTIONAL_USD = 1e13
"""Largest position the CLI accepts (above the market value of any listed company)."""
FloatLike = Sequence[float] | np.ndarray | pd.Series
BISECTION_STEPS = 200
"""Halvings in :func:`smallest_ratio` (enough for double precision on any bracket)."""


def adv_window(prices: pd.DataFrame, as_of: pd.Timestamp, window_days: int) -> pd.DataFrame:
    """Rows of the last ``window_days`` trading days of ``prices`` on or before ``as_of``.

    Parameters
    ----------
    prices : pd.DataFrame
        Long ``date, ticker, close, volume``.
    as_of : pd.Timestamp
        Rebalance date (its close is known).
    window_days : int
    """
    known = prices[pd.to_datetime(prices["date"]) <= pd.Timestamp(as_of)]
    dates = np.sort(pd.to_datetime(known["date"]).unique())[-window_days:]
    return known[pd.to_datetime(known["date"]).isin(dates)]


def average_dollar_volume(
    prices: pd.DataFrame,
    as_of: pd.Timestamp,
    window_days: int = ADV_WINDOW_DAYS,
    min_days: int = MIN_ADV_DAYS,
) -> pd.Series:
    """Average daily dollar volume (USD) per ticker over the trailing window (see module docstring).

    Returns
    -------
    pd.Series
        Indexed by ticker; tickers with fewer than ``min_days`` valid rows are left out.
    """
    window = adv_window(prices, as_of, window_days)
    dollars = (window["close"] * window["volume"]).where(
        (window["close"] > 0) & (window["volume"] >= 0)
    )
    frame = pd.DataFrame({"ticker": window["ticker"], "usd": dollars}).dropna()
    grouped = frame.groupby("ticker")["usd"]
    counts = grouped.count()
    return grouped.mean()[counts >= min_days].rename("adv_usd")


def last_close(prices: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """Each ticker's latest close on or before ``as_of`` (USD per share), indexed by ticker."""
    known = prices[(pd.to_datetime(prices["date"]) <= pd.Timestamp(as_of)) & (prices["close"] > 0)]
    latest = known.sort_values(["ticker", "date"]).groupby("ticker").tail(1)
    return latest.set_index("ticker")["close"].astype(float).rename("close")


def adv_weight_caps(
    adv_usd: pd.Series, tickers: Sequence[str], notional: float, max_adv: float
) -> tuple[tuple[str, float], ...]:
    """Per-name weight caps ``f · ADV_i / N`` for ``tickers`` (0 without an ADV).

    The pairs feed ``SolverSettings.name_caps`` (``max_weight`` still applies on top).
    """
    check_notional(notional)
    if not (math.isfinite(max_adv) and 0 < max_adv <= 1):
        raise InvalidValueError(f"--max-adv {max_adv:g} must be a fraction in (0, 1], e.g. 0.1")
    adv = adv_usd.reindex(list(tickers)).fillna(0.0).to_numpy(dtype=np.float64)
    caps = max_adv * adv / notional
    return tuple((t, float(c)) for t, c in zip(tickers, caps, strict=True))


def check_notional(notional: float) -> None:
    """Raise ``InvalidValueError`` unless ``0 < notional ≤ MAX_NOTIONAL_USD`` and finite."""
    if not (math.isfinite(notional) and 0 < notional <= MAX_NOTIONAL_USD):
        raise InvalidValueError(
            f"--notional {notional:g} must be positive and finite: a position value in USD of at "
            f"most {MAX_NOTIONAL_USD:.0e}"
        )


def smallest_ratio(adv_usd: FloatLike, max_names: int, max_weight: float) -> float:
    """Smallest ``r = f / N`` for which the ``K`` largest caps ``min(u, r · ADV_i)`` reach 1.

    ``inf`` when even uncapped names cannot (``K · u < 1`` or fewer than ``ceil(1/u)`` names with
    an ADV). Then ``f ≥ r · N`` is the ``--max-adv`` a notional ``N`` needs, and ``N ≤ f / r`` the
    largest notional a given ``f`` allows.
    """
    adv = np.sort(np.asarray(adv_usd, dtype=np.float64))[::-1][:max_names]
    adv = adv[adv > 0]
    if adv.size * max_weight < 1.0 - 1e-12:
        return math.inf
    lo, hi = 0.0, max_weight / float(adv.min())  # at hi every kept name sits at max_weight
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        if np.minimum(max_weight, mid * adv).sum() >= 1.0:
            hi = mid
        else:
            lo = mid
    return hi
