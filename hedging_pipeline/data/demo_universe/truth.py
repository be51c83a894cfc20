"""The planted truth of the demo universe (written under ``truth/``): factor returns, loadings, tickers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hedging_pipeline.data.demo_universe.layout import Layout
from hedging_pipeline.data.demo_universe.market import Market
from hedging_pipeline.data.demo_universe.returns import Planted
from hedging_pipeline.data.demo_universe.templates import Templates


def truth_factor_returns(days: pd.DatetimeIndex, planted: Planted) -> pd.DataFrame:
    """Planted factor returns in long format: date, factor, ret."""
    n_days, k = planted.factor_returns.shape
    return pd.DataFrame(
        {
            "date": np.repeat(days.to_numpy(), k),
            "factor": np.tile(np.asarray(planted.factors, dtype=object), n_days),
            "ret": planted.factor_returns.ravel(),
        }
    )


def truth_loadings(layout: Layout, planted: Planted) -> pd.DataFrame:
    """Non-zero planted loadings: ticker, factor, loading."""
    ticker_index, factor_index = np.nonzero(planted.loadings)
    frame = pd.DataFrame(
        {
            "ticker": np.asarray(layout.tickers, dtype=object)[ticker_index],
            "factor": np.asarray(planted.factors, dtype=object)[factor_index],
            "loading": planted.loadings[ticker_index, factor_index],
        }
    )
    return frame.sort_values(["ticker"], kind="stable").reset_index(drop=True)


def truth_tickers(
    templates: Templates,
    layout: Layout,
    planted: Planted,
    market: Market,
    days: pd.DatetimeIndex,
    ai_roles: tuple[str, ...],
    has_10k: tuple[bool, ...],
) -> pd.DataFrame:
    """One row of planted facts per priced ticker."""
    subs = templates.sub_industries
    split_dates = [days[d] if d >= 0 else pd.NaT for d in market.split_day]
    frame = pd.DataFrame(
        {
            "ticker": list(layout.tickers),
            "gics_sector": [subs[k].sector for k in layout.spec_index],
            "gics_sub_industry": [subs[k].name for k in layout.spec_index],
            "ai_role": list(ai_roles),
            "listing_date": days[layout.listing_day],
            "listing_kind": list(layout.listing_kind),
            "idio_vol_daily": planted.idio_vol,
            "market_cap_initial": np.exp(planted.log_cap),
            "book_to_price": planted.book_to_price,
            "dividend_yield": market.dividend_yield,
            "split_date": pd.to_datetime(pd.Series(split_dates, dtype="datetime64[ns]")),
            "split_ratio": market.split_ratio,
            "has_10k": list(has_10k),
        }
    )
    return frame.sort_values("ticker", kind="stable").reset_index(drop=True)


def truth_returns(
    days: pd.DatetimeIndex, layout: Layout, planted: Planted, market: Market
) -> pd.DataFrame:
    """Planted total, specific and drift returns of every day with a return (not the listing day)."""
    n_days, n = market.alive.shape
    first = np.arange(n_days)[:, None] == layout.listing_day[None, :]
    mask = (market.alive & ~first).ravel()
    specific = planted.returns - planted.factor_returns @ planted.loadings.T
    return pd.DataFrame(
        {
            "date": np.repeat(days.to_numpy(), n)[mask],
            "ticker": np.tile(np.asarray(layout.tickers, dtype=object), n_days)[mask],
            "ret": planted.returns.ravel()[mask],
            "specific_ret": specific.ravel()[mask],
            "drift": planted.drift.ravel()[mask],
        }
    )
