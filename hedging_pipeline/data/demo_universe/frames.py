"""The raw tables of the demo universe: prices, companies and annual fundamentals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from hedging_pipeline.data.demo_universe.files import FUNDAMENTAL_COLUMNS
from hedging_pipeline.data.demo_universe.layout import Layout
from hedging_pipeline.data.demo_universe.market import Market
from hedging_pipeline.data.demo_universe.parameters import (
    CAPEX_TO_SALES,
    CASH_SHARE_OF_ASSETS,
    CIK_BASE,
    CURRENT_ASSETS_SHARE,
    CURRENT_LIABILITIES_SHARE,
    DEPRECIATION_TO_SALES,
    FOUNDED_RANGE,
    FUNDAMENTAL_YEARS_BEFORE,
    FUNDAMENTALS_SOURCE,
    HEADQUARTERS,
    INDEX_ADDED_RANGE,
    INTEREST_RATE,
    IPO_AGE_YEARS,
    MARGIN_NOISE,
    PRE_LISTING_YEARS,
    RATIO_DISPERSION,
    SHORT_TERM_DEBT_SHARE,
    SUB_INDUSTRY_SOURCE,
    TAX_RATE,
    YEARLY_NOISE,
)
from hedging_pipeline.data.demo_universe.returns import Planted
from hedging_pipeline.data.demo_universe.templates import SubIndustry, Templates


def prices_frame(days: pd.DatetimeIndex, layout: Layout, market: Market) -> pd.DataFrame:
    """The ``prices`` table: one row per listed (ticker, day), sorted by ticker then date."""
    n_days, n = market.alive.shape
    # rows by (ticker, date), like the real file
    order = np.argsort(np.asarray(layout.tickers), kind="stable")
    mask = market.alive[:, order].T.ravel()
    date_grid = np.broadcast_to(days.to_numpy()[:, None], (n_days, n))[:, order].T.ravel()
    ticker_grid = np.broadcast_to(np.asarray(layout.tickers, dtype=object)[None, :], (n_days, n))
    ticker_grid = ticker_grid[:, order].T.ravel()

    def column(values: np.ndarray) -> np.ndarray:
        return values[:, order].T.ravel()[mask]

    frame = pd.DataFrame(
        {
            "date": pd.DatetimeIndex(date_grid[mask]).astype("datetime64[us]"),
            "ticker": ticker_grid[mask],
            "open": column(market.open),
            "high": column(market.high),
            "low": column(market.low),
            "close": column(market.close),
            "adj_close": column(market.adj_close),
            "volume": column(market.volume).astype(np.int64),
            "dividend": column(market.dividend),
            "split_coefficient": column(market.split),
        }
    )
    return frame.reset_index(drop=True)


def companies_frame(
    rng: np.random.Generator,
    templates: Templates,
    layout: Layout,
    market: Market,
    days: pd.DatetimeIndex,
    snapshot_day: int,
    cap_column: str,
) -> pd.DataFrame:
    """The ``companies`` table, the unpriced company included, with the market-cap snapshot column."""
    subs = templates.sub_industries
    n = len(layout.tickers)
    spec = [*layout.spec_index.tolist(), layout.unpriced_spec]
    tickers = [*layout.tickers, layout.unpriced_ticker]
    names = [*layout.names, layout.unpriced_name]
    listing_years = [days[d].year for d in layout.listing_day] + [days[-1].year + 1]
    kinds = [*layout.listing_kind, "ipo"]
    founded, added = [], []
    for k in range(n + 1):
        if kinds[k] == "ipo":
            low_age, high_age = IPO_AGE_YEARS
            founded.append(str(listing_years[k] - int(rng.integers(low_age, high_age + 1))))
        else:
            founded.append(str(int(rng.integers(FOUNDED_RANGE[0], FOUNDED_RANGE[1] + 1))))
        if kinds[k]:
            added.append(
                str(days[min(layout.listing_day[k], len(days) - 1)].date()) if k < n else None
            )
        else:
            year = int(
                rng.integers(max(int(founded[-1]), INDEX_ADDED_RANGE[0]), INDEX_ADDED_RANGE[1] + 1)
            )
            added.append(f"{year}-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d}")
    cap = market.shares[snapshot_day] * market.close[snapshot_day]  # NaN before listing
    headquarters = [HEADQUARTERS[int(i)] for i in rng.integers(0, len(HEADQUARTERS), n + 1)]
    frame = pd.DataFrame(
        {
            "ticker": tickers,
            "name": names,
            "gics_sector": [subs[k].sector for k in spec],
            "gics_sub_industry": [subs[k].name for k in spec],
            "gics_sub_industry_source": SUB_INDUSTRY_SOURCE,
            "gics_sector_2023": [subs[k].sector for k in spec],
            "cik": [f"{CIK_BASE + 1 + k:010d}" for k in range(n + 1)],
            "headquarters": headquarters,
            "date_added": added,
            "founded": pd.array(founded, dtype="string"),
            cap_column: np.append(cap, np.nan),
            "in_prices": np.append(np.ones(n, dtype=bool), False),
            "later_ticker": pd.Series([None] * (n + 1), dtype=object),
        }
    )
    return frame.sort_values("ticker", kind="stable").reset_index(drop=True)


def _period_end(year: int, month: int) -> pd.Timestamp:
    return pd.Timestamp(year=year, month=month, day=1) + pd.offsets.MonthEnd(0)


def fundamentals_frame(
    rng: np.random.Generator,
    templates: Templates,
    layout: Layout,
    planted: Planted,
    market: Market,
    days: pd.DatetimeIndex,
) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Annual statements; also returns each ticker's latest statement (for the texts)."""
    subs = templates.sub_industries
    n = len(layout.tickers)
    first_year, last_year = days[0].year - FUNDAMENTAL_YEARS_BEFORE, days[-1].year
    day_values = days.to_numpy()
    cap0 = np.exp(planted.log_cap)
    assets_to_equity = np.array([subs[k].assets_to_equity for k in layout.spec_index])
    assets_to_equity *= np.exp(RATIO_DISPERSION * rng.standard_normal(n))
    sales_to_assets = np.array([subs[k].sales_to_assets for k in layout.spec_index])
    sales_to_assets *= np.exp(RATIO_DISPERSION * rng.standard_normal(n))
    records = []
    for i in range(n):
        spec = subs[layout.spec_index[i]]
        months = spec.fiscal_year_end_months
        month = months[int(rng.integers(len(months)))]
        listing = days[layout.listing_day[i]]
        late = layout.listing_day[i] > 0
        for year in range(first_year, last_year + 1):
            end = _period_end(year, month)
            if end > days[-1] or (late and end.year < listing.year - PRE_LISTING_YEARS):
                continue
            d = int(np.searchsorted(day_values, end.to_datetime64(), side="right")) - 1
            if d >= layout.listing_day[i]:
                shares = market.shares[d, i]
                cap = shares * market.close[d, i]
            else:  # before the prices start or before listing: the starting size
                shares = market.shares[max(d, 0), i]
                cap = cap0[i] * math.exp(YEARLY_NOISE * rng.standard_normal())
            records.append(
                {
                    "ticker": layout.tickers[i],
                    "source_ticker": layout.tickers[i],
                    "source": FUNDAMENTALS_SOURCE,
                    "fiscal_year": year - 1 if month == 1 else year,
                    "period_end": end,
                    **_statement(
                        rng,
                        spec,
                        cap=cap,
                        shares=shares,
                        book_to_price=planted.book_to_price[i],
                        assets_to_equity=assets_to_equity[i],
                        sales_to_assets=sales_to_assets[i],
                    ),
                }
            )
    frame = pd.DataFrame.from_records(records)
    for column in FUNDAMENTAL_COLUMNS:
        if column not in frame.columns:
            frame[column] = np.nan  # absent from the demo source, as from the real NYSE source
    frame = frame[list(FUNDAMENTAL_COLUMNS)]
    frame["fiscal_year"] = frame["fiscal_year"].astype("Int64")
    frame["period_end"] = pd.to_datetime(frame["period_end"]).astype("datetime64[ns]")
    frame = frame.sort_values(["ticker", "fiscal_year"], kind="stable").reset_index(drop=True)
    latest = {t: g.iloc[-1] for t, g in frame.groupby("ticker", sort=False)}
    return frame, latest


def _statement(
    rng: np.random.Generator,
    spec: SubIndustry,
    *,
    cap: float,
    shares: float,
    book_to_price: float,
    assets_to_equity: float,
    sales_to_assets: float,
) -> dict[str, float]:
    """One annual statement (USD) of a company worth ``cap``, from its sub-industry's ratios."""
    equity = book_to_price * cap * math.exp(YEARLY_NOISE * rng.standard_normal())
    assets = equity * assets_to_equity
    liabilities = assets - equity
    long_debt = liabilities * spec.long_term_debt_share
    short_debt = liabilities * SHORT_TERM_DEBT_SHARE
    revenue = assets * sales_to_assets * math.exp(YEARLY_NOISE * rng.standard_normal())
    operating = revenue * spec.operating_margin * math.exp(MARGIN_NOISE * rng.standard_normal())
    net = (operating - INTEREST_RATE * (long_debt + short_debt)) * (1.0 - TAX_RATE)
    return {
        "revenue": revenue,
        "net_income": net,
        "total_assets": assets,
        "total_liabilities": liabilities,
        "total_equity": equity,
        "long_term_debt": long_debt,
        "short_term_debt": short_debt,
        "cash_and_equiv": assets * CASH_SHARE_OF_ASSETS,
        "shares_outstanding": float(shares),
        "eps": net / shares,
        "gross_profit": revenue * spec.gross_margin,
        "operating_income": operating,
        "current_assets": assets * CURRENT_ASSETS_SHARE,
        "current_liabilities": assets * CURRENT_LIABILITIES_SHARE,
        "capex": -revenue * CAPEX_TO_SALES,
        "cfo": net + revenue * DEPRECIATION_TO_SALES,
        "rnd_expense": revenue * spec.rnd_to_sales,
    }
