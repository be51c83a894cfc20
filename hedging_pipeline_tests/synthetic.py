"""Synthetic panels with planted truth, shared by the test suites.

* :func:`make_factor_panel` plants factor returns on standardised exposures (the inputs of the
factor
  regression) and returns the truth next to the observable frames.
* :func:`make_market_panel` builds raw-looking prices, returns, market caps, companies and annual
fundamentals
  (the inputs of the style exposures and of the Dagster layer).

Everything is deterministic given ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hedging_pipeline.types import STYLE_FACTORS

SECTORS = (
    "Energy",
    "Financials",
    "Health Care",
    "Industrials",
    "Information Technology",
    "Utilities",
    "Materials",
    "Real Estate",
)


@dataclass(frozen=True)
class SyntheticFactorPanel:
    """Observable regression inputs plus the planted truth.

    Attributes
    ----------
    style_exposures : date, ticker, industry, market_cap, 7 styles (known at the close of ``date``).
    daily_returns : date, ticker, ret (returns over ``date``, generated from the previous day's
    exposures).
    factor_returns : date, factor, ret: the planted factor returns (industries satisfy the
    cap-weighted
        sum-to-zero constraint with the previous day's caps).
    specific_returns : date, ticker, ret: the planted noise (before corruption).
    corrupted : date, ticker of the returns replaced by outliers.
    companies : ticker, name, gics_sector.
    market_caps : date, ticker, market_cap.
    """

    style_exposures: pd.DataFrame
    daily_returns: pd.DataFrame
    factor_returns: pd.DataFrame
    specific_returns: pd.DataFrame
    corrupted: pd.DataFrame
    companies: pd.DataFrame
    market_caps: pd.DataFrame


def _standardise(x: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Cap-weighted mean 0, equal-weighted std 1 along the last axis."""
    w = cap / cap.sum(axis=-1, keepdims=True)
    centred = x - (w * x).sum(axis=-1, keepdims=True)
    return centred / centred.std(axis=-1, keepdims=True)


def make_factor_panel(
    n_tickers: int = 60,
    n_days: int = 120,
    n_industries: int = 4,
    *,
    seed: int = 0,
    outlier_fraction: float = 0.0,
    outlier_size: float = 0.3,
    market_vol: float = 0.01,
    industry_vol: float = 0.006,
    style_vol: float = 0.004,
    specific_vol: tuple[float, float] = (0.008, 0.02),
    start: str = "2015-01-02",
) -> SyntheticFactorPanel:
    """Build a panel whose returns follow the factor model exactly, plus optional outliers.

    ``ret[d] = X[d-1] f[d] + e[d]`` with ``X`` = [1, industry one-hot, 7 standardised styles] and
    ``e ~ N(0, specific_vol_i²)``; then a fraction ``outlier_fraction`` of returns is replaced by
    ``±U(outlier_size, 2 outlier_size)``. The first date has exposures only.
    """
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(start, periods=n_days)
    tickers = np.array([f"T{i:03d}" for i in range(n_tickers)])
    sectors = np.array(SECTORS[:n_industries])
    industry = sectors[np.arange(n_tickers) % n_industries]
    n_s = len(STYLE_FACTORS)

    base = rng.standard_normal((n_tickers, n_s))
    drift = 0.05 * rng.standard_normal((n_days, n_tickers, n_s)).cumsum(axis=0)
    raw_styles = base[None] + drift
    cap = np.empty((n_days, n_tickers))
    cap[0] = np.exp(rng.normal(23.0, 1.0, n_tickers))
    sigma_e = rng.uniform(*specific_vol, n_tickers)

    n_k = 1 + n_industries + n_s
    factors = ["market", *sorted(sectors), *STYLE_FACTORS]
    onehot = (industry[:, None] == np.array(sorted(sectors))[None, :]).astype(float)
    f = np.zeros((n_days, n_k))
    rets = np.full((n_days, n_tickers), np.nan)
    noise = np.zeros((n_days, n_tickers))
    styles = np.empty_like(raw_styles)
    styles[0] = _standardise(raw_styles[0].T, cap[0]).T
    for d in range(1, n_days):
        w_ind = onehot.T @ cap[d - 1]
        f_ind = rng.normal(0.0, industry_vol, n_industries)
        f_ind -= (w_ind @ f_ind) / w_ind.sum()
        f[d] = np.concatenate(
            [[rng.normal(3e-4, market_vol)], f_ind, rng.normal(0.0, style_vol, n_s)]
        )
        x = np.concatenate([np.ones((n_tickers, 1)), onehot, styles[d - 1]], axis=1)
        noise[d] = rng.normal(0.0, sigma_e)
        rets[d] = x @ f[d] + noise[d]
        cap[d] = cap[d - 1] * (1.0 + rets[d])
        styles[d] = _standardise(raw_styles[d].T, cap[d]).T

    corrupt = np.zeros((n_days, n_tickers), dtype=bool)
    if outlier_fraction > 0:
        corrupt[1:] = rng.random((n_days - 1, n_tickers)) < outlier_fraction
        size = rng.uniform(outlier_size, 2 * outlier_size, corrupt.sum())
        rets[corrupt] = np.sign(rng.standard_normal(corrupt.sum())) * size

    di, ti = np.meshgrid(np.arange(n_days), np.arange(n_tickers), indexing="ij")
    di, ti = di.ravel(), ti.ravel()
    exposures = pd.DataFrame(
        {
            "date": dates[di],
            "ticker": tickers[ti],
            "industry": industry[ti],
            "market_cap": cap[di, ti],
        }
    )
    for j, name in enumerate(STYLE_FACTORS):
        exposures[name] = styles[di, ti, j]
    later = di > 0
    returns = pd.DataFrame(
        {"date": dates[di[later]], "ticker": tickers[ti[later]], "ret": rets[di[later], ti[later]]}
    )
    specific = pd.DataFrame(
        {"date": dates[di[later]], "ticker": tickers[ti[later]], "ret": noise[di[later], ti[later]]}
    )
    fd, fk = np.meshgrid(np.arange(1, n_days), np.arange(n_k), indexing="ij")
    factor_returns = pd.DataFrame(
        {
            "date": dates[fd.ravel()],
            "factor": np.asarray(factors)[fk.ravel()],
            "ret": f[fd.ravel(), fk.ravel()],
        }
    )
    cd, ct = np.nonzero(corrupt)
    return SyntheticFactorPanel(
        style_exposures=exposures,
        daily_returns=returns,
        factor_returns=factor_returns,
        specific_returns=specific,
        corrupted=pd.DataFrame({"date": dates[cd], "ticker": tickers[ct]}),
        companies=pd.DataFrame(
            {"ticker": tickers, "name": [f"Company {t}" for t in tickers], "gics_sector": industry}
        ),
        market_caps=exposures[["date", "ticker", "market_cap"]].copy(),
    )


@dataclass(frozen=True)
class SyntheticMarketPanel:
    """Raw-looking inputs of the style exposures.

    Attributes
    ----------
    prices : date, ticker, close, adj_close, volume (close = adj_close: no splits or dividends).
    daily_returns : date, ticker, ret.
    market_caps : date, ticker, market_cap (= close x constant shares outstanding).
    companies : ticker, name, gics_sector.
    fundamentals : ticker, source, fiscal_year, period_end and the annual statement columns.
    shares_outstanding : pd.Series indexed by ticker.
    """

    prices: pd.DataFrame
    daily_returns: pd.DataFrame
    market_caps: pd.DataFrame
    companies: pd.DataFrame
    fundamentals: pd.DataFrame
    shares_outstanding: pd.Series


def make_market_panel(
    n_tickers: int = 40,
    n_days: int = 400,
    n_industries: int = 4,
    *,
    seed: int = 0,
    start: str = "2014-01-02",
    fundamentals_start_year: int = 2012,
) -> SyntheticMarketPanel:
    """Build prices from a one-factor-plus-industry process, with annual fundamentals per ticker.

    Fundamentals have ``period_end`` on 31 December of each fiscal year from
    ``fundamentals_start_year`` to the last year of the prices; book equity is about a random
    book-to-price times the year-end cap.
    """
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(start, periods=n_days)
    tickers = np.array([f"S{i:03d}" for i in range(n_tickers)])
    industry = np.array(SECTORS[:n_industries])[np.arange(n_tickers) % n_industries]
    beta = rng.uniform(0.6, 1.4, n_tickers)
    vol = rng.uniform(0.01, 0.025, n_tickers)
    market = rng.normal(3e-4, 0.01, n_days)
    ind_codes = np.arange(n_tickers) % n_industries
    ind_ret = rng.normal(0.0, 0.005, (n_days, n_industries))
    rets = (
        market[:, None] * beta[None]
        + ind_ret[:, ind_codes]
        + rng.normal(0.0, vol, (n_days, n_tickers))
    )
    rets[0] = 0.0
    price = rng.uniform(20.0, 200.0, n_tickers) * np.cumprod(1.0 + rets, axis=0)
    shares = np.exp(rng.normal(19.5, 1.0, n_tickers))
    turnover = rng.uniform(0.002, 0.02, n_tickers)
    volume = np.round(shares[None] * turnover[None] * rng.lognormal(0.0, 0.3, (n_days, n_tickers)))

    di, ti = np.meshgrid(np.arange(n_days), np.arange(n_tickers), indexing="ij")
    di, ti = di.ravel(), ti.ravel()
    prices = pd.DataFrame(
        {
            "date": dates[di],
            "ticker": tickers[ti],
            "close": price[di, ti],
            "adj_close": price[di, ti],
            "volume": volume[di, ti],
        }
    )
    returns = pd.DataFrame(
        {
            "date": dates[di[di > 0]],
            "ticker": tickers[ti[di > 0]],
            "ret": rets[di[di > 0], ti[di > 0]],
        }
    )
    caps = pd.DataFrame(
        {"date": dates[di], "ticker": tickers[ti], "market_cap": price[di, ti] * shares[ti]}
    )

    years = np.arange(fundamentals_start_year, dates[-1].year + 1)
    rows = []
    mean_cap = (price * shares[None]).mean(axis=0)
    btp = rng.uniform(0.1, 1.2, n_tickers)
    roe = rng.normal(0.12, 0.06, n_tickers)
    lev = rng.uniform(0.2, 0.8, n_tickers)
    for i, t in enumerate(tickers):
        for y in years:
            g = 1.0 + rng.normal(0.0, 0.05)
            equity = btp[i] * mean_cap[i] * g
            assets = equity / (1.0 - lev[i])
            income = roe[i] * equity
            rows.append(
                {
                    "ticker": t,
                    "source": "synthetic",
                    "fiscal_year": int(y),
                    "period_end": pd.Timestamp(f"{y}-12-31"),
                    "total_equity": equity,
                    "total_assets": assets,
                    "total_liabilities": assets - equity,
                    "long_term_debt": 0.5 * (assets - equity),
                    "short_term_debt": 0.1 * (assets - equity),
                    "net_income": income,
                    "revenue": 4.0 * income + 0.2 * assets,
                    "operating_income": 1.3 * income,
                    "shares_outstanding": shares[i],
                    "eps": income / shares[i],
                }
            )
    fundamentals = pd.DataFrame(rows)
    fundamentals["fiscal_year"] = fundamentals["fiscal_year"].astype("Int64")
    return SyntheticMarketPanel(
        prices=prices,
        daily_returns=returns,
        market_caps=caps,
        companies=pd.DataFrame(
            {"ticker": tickers, "name": [f"Company {t}" for t in tickers], "gics_sector": industry}
        ),
        fundamentals=fundamentals,
        shares_outstanding=pd.Series(shares, index=tickers),
    )
