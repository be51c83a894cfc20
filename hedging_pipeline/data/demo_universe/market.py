"""Prices, dividends, splits and volume of the demo universe, from the planted returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hedging_pipeline.data.demo_universe.layout import Layout
from hedging_pipeline.data.demo_universe.parameters import (
    CENT,
    DAYS_PER_QUARTER,
    DIVIDEND_YIELD_DISPERSION,
    MAX_RANGE_FRACTION,
    OPEN_NOISE,
    OPEN_RETURN_SHARE,
    PRICE_BOUNDS_USD,
    PRICE_DISPERSION,
    PRICE_MEDIAN_USD,
    RANGE_NOISE,
    SNAPSHOT_MONTH,
    SPLIT_MIN_HISTORY_DAYS,
    SPLITS,
    TURNOVER_DISPERSION,
    TURNOVER_MEDIAN_DAILY,
    TURNOVER_SIZE_ELASTICITY,
    TURNOVER_VOL_ELASTICITY,
    VOLUME_NOISE,
    VOLUME_SHOCK_SENSITIVITY,
)
from hedging_pipeline.data.demo_universe.returns import Planted, standardise
from hedging_pipeline.data.demo_universe.templates import Templates
from hedging_pipeline.errors import InvalidValueError
from hedging_pipeline.types import FloatArray


@dataclass(frozen=True)
class Market:
    """Simulated market data, arrays of shape ``(n_days, n)`` unless noted."""

    close: FloatArray  # (n_days, n), NaN before listing
    open: FloatArray
    high: FloatArray
    low: FloatArray
    adj_close: FloatArray
    dividend: FloatArray
    split: FloatArray  # split_coefficient, 1 where none
    shares: FloatArray  # (n_days, n) raw shares outstanding (split-aware)
    volume: np.ndarray  # int64
    alive: np.ndarray  # bool (n_days, n)
    dividend_yield: FloatArray  # (n,) annual, 0 for non-payers
    split_day: np.ndarray  # (n,) -1 where none
    split_ratio: FloatArray  # (n,) 1 where none


def to_cents(values: FloatArray) -> FloatArray:
    """Prices rounded to cents, at least one cent."""
    return np.maximum(np.round(values, 2), CENT)


def simulate_market(
    rng: np.random.Generator,
    templates: Templates,
    layout: Layout,
    planted: Planted,
    n_days: int,
) -> Market:
    """Prices, dividends, splits and volume implied by the planted returns.

    The draws from ``rng`` come in a fixed order (starting prices, dividends, open/high/low noise,
    volume), so the same seed always gives the same market.
    """
    n = len(layout.tickers)
    day = np.arange(n_days)[:, None]
    alive = day >= layout.listing_day[None, :]
    first = day == layout.listing_day[None, :]
    traded = alive & ~first  # days with a return

    low_price, high_price = PRICE_BOUNDS_USD
    price0 = np.clip(
        PRICE_MEDIAN_USD * np.exp(PRICE_DISPERSION * rng.standard_normal(n)), low_price, high_price
    )
    shares0 = np.exp(planted.log_cap) / price0
    dividend_yield, ex_day, quarter_share = _dividend_schedule(rng, templates, layout, day, traded)

    # Unrounded close without splits: total return net of the dividend paid out.
    growth = np.where(traded, (1.0 + planted.returns) * (1.0 - quarter_share), 1.0)
    close_nosplit = price0 * np.cumprod(growth, axis=0)
    split, split_day, split_ratio = _place_splits(layout, close_nosplit, ex_day)
    cum_split = np.cumprod(split, axis=0)

    close = to_cents(close_nosplit / cum_split)
    prev_close = np.vstack([close[:1], close[:-1]])
    dividend = np.where(
        ex_day, np.round(quarter_share / (1.0 - quarter_share) * close * split, 2), 0.0
    )
    realised = np.where(traded, (close * split + dividend) / prev_close - 1.0, 0.0)
    growth_adj = np.cumprod(1.0 + realised, axis=0)
    adj_close = close[-1] * growth_adj / growth_adj[-1]

    sigma = planted.idio_vol[None, :] * np.sqrt(planted.regime)[:, None]
    open_, high, low = _open_high_low(rng, close, prev_close, split, realised, first, sigma)
    shares = shares0 * cum_split
    volume = _volume(rng, planted, shares, sigma)

    def hide(values: FloatArray) -> FloatArray:
        return np.where(alive, values, np.nan)

    return Market(
        close=hide(close),
        open=hide(open_),
        high=hide(high),
        low=hide(low),
        adj_close=hide(adj_close),
        dividend=np.where(alive, dividend, 0.0),
        split=split,
        shares=shares,
        volume=volume,
        alive=alive,
        dividend_yield=dividend_yield,
        split_day=split_day,
        split_ratio=split_ratio,
    )


def _dividend_schedule(
    rng: np.random.Generator,
    templates: Templates,
    layout: Layout,
    day: np.ndarray,
    traded: np.ndarray,
) -> tuple[FloatArray, np.ndarray, FloatArray]:
    """Dividend yield per ticker (annual, 0 for non-payers), ex-dividend days, share paid out.

    The share of the price paid out is a quarter of the yield on ex-days, 0 elsewhere.
    """
    subs = templates.sub_industries
    n = len(layout.tickers)
    payer = rng.random(n) < np.array([subs[k].payer_share for k in layout.spec_index])
    spec_yield = np.array([subs[k].dividend_yield for k in layout.spec_index])
    dividend_yield = np.where(
        payer, spec_yield * np.exp(DIVIDEND_YIELD_DISPERSION * rng.standard_normal(n)), 0.0
    )
    phase = rng.integers(0, DAYS_PER_QUARTER, n)
    ex_day = traded & ((day - phase[None, :]) % DAYS_PER_QUARTER == 0) & payer[None, :]
    quarter_share = np.where(ex_day, dividend_yield / 4.0, 0.0)
    return dividend_yield, ex_day, quarter_share


def _place_splits(
    layout: Layout, close_nosplit: FloatArray, ex_day: np.ndarray
) -> tuple[FloatArray, np.ndarray, FloatArray]:
    """Split coefficients (1 where none), each ticker's split day (-1: none) and ratio.

    Each split of :data:`SPLITS` goes to the highest-priced eligible ticker on its day.
    """
    n_days, n = close_nosplit.shape
    split = np.ones((n_days, n))
    split_day = np.full(n, -1, dtype=np.int64)
    split_ratio = np.ones(n)
    for position, ratio in SPLITS:
        d = round(position * (n_days - 1))
        eligible = (layout.listing_day <= d - SPLIT_MIN_HISTORY_DAYS) & (split_day < 0)
        eligible &= ~ex_day[d]  # no dividend on a split day: its per-share basis would be ambiguous
        if not eligible.any():
            continue
        level = np.where(eligible, close_nosplit[d - 1] / np.cumprod(split, axis=0)[d - 1], -np.inf)
        chosen = int(np.argmax(level))
        split[d, chosen] = ratio
        split_day[chosen], split_ratio[chosen] = d, ratio
    return split, split_day, split_ratio


def _open_high_low(
    rng: np.random.Generator,
    close: FloatArray,
    prev_close: FloatArray,
    split: FloatArray,
    realised: FloatArray,
    first: np.ndarray,
    sigma: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Open, high and low in cents, consistent with the close (``low <= open, close <= high``)."""
    shape = close.shape
    open_base = np.where(first, close, prev_close / split)
    open_move = np.where(first, 0.0, OPEN_RETURN_SHARE * realised)
    open_ = to_cents(
        open_base * (1.0 + open_move + OPEN_NOISE * sigma * rng.standard_normal(shape))
    )
    up = np.minimum(RANGE_NOISE * sigma * np.abs(rng.standard_normal(shape)), MAX_RANGE_FRACTION)
    down = np.minimum(RANGE_NOISE * sigma * np.abs(rng.standard_normal(shape)), MAX_RANGE_FRACTION)
    high = np.ceil(np.maximum(open_, close) * (1.0 + up) / CENT) * CENT
    low = np.maximum(np.floor(np.minimum(open_, close) * (1.0 - down) / CENT) * CENT, CENT)
    # Rounding to cents must not break low <= open, close <= high.
    high = np.round(np.maximum(high, np.maximum(open_, close)), 2)
    low = np.round(np.minimum(low, np.minimum(open_, close)), 2)
    return open_, high, low


def _volume(
    rng: np.random.Generator, planted: Planted, shares: FloatArray, sigma: FloatArray
) -> np.ndarray:
    """Daily volume in shares (int64, at least 1).

    Turnover rises with volatility, falls with size, and is higher on news days (large
    idiosyncratic shocks).
    """
    n = shares.shape[1]
    size = standardise(planted.log_cap)
    vol_z = standardise(np.log(planted.idio_vol))
    turnover = TURNOVER_MEDIAN_DAILY * np.exp(
        TURNOVER_DISPERSION * rng.standard_normal(n)
        - TURNOVER_SIZE_ELASTICITY * size
        + TURNOVER_VOL_ELASTICITY * vol_z
    )
    shock = np.abs(planted.noise) / sigma  # news days trade more
    log_volume_noise = VOLUME_NOISE * rng.standard_normal(shares.shape)
    log_volume_noise += VOLUME_SHOCK_SENSITIVITY * (shock - shock.mean())
    return np.maximum(np.rint(shares * turnover * np.exp(log_volume_noise)), 1.0).astype(np.int64)


def market_cap_snapshot(days: pd.DatetimeIndex) -> tuple[int, str]:
    """Trading-day index and column name of the market-cap snapshot.

    The first trading day of February of the span's second calendar year when the span reaches it,
    else of the first February in the span (a one-year span always holds one).
    """
    first, last = days[0], days[-1]
    for year in (first.year + 1, first.year, first.year + 2):
        anchor = pd.Timestamp(year=year, month=SNAPSHOT_MONTH, day=1)
        if first <= anchor and anchor <= last:
            index = int(days.searchsorted(anchor))
            return index, f"market_cap_usd_{year}"
    raise InvalidValueError(  # unreachable for spans of at least MIN_TRADING_DAYS
        f"demo universe: {first.date()} to {last.date()} holds no February 1 for the market-cap "
        "snapshot"
    )
