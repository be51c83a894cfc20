"""A simple stand-in factor risk model built from trailing returns, for optimiser tests and
benchmarks.

The real model is the risk engineer's (``hedging_pipeline/risk``); the optimiser only needs *a*
model of the same shape (market + industries + styles, annualised), so this one is deliberately
plain:
exposures known at ``as_of`` (industry dummies, standardised style proxies: trailing volatility,
12-1 momentum, beta, short-term reversal and log-size from the 2018 market-cap snapshot), daily
cross-sectional least squares over the trailing window, factor covariance = sample covariance of the
factor returns, specific variance = sample variance of the residuals (both x 252).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hedging_pipeline.risk.model import RiskModel
from hedging_pipeline.types import TRADING_DAYS_PER_YEAR

WINDOW_DAYS = 504
MOMENTUM_DAYS = 252
MOMENTUM_SKIP_DAYS = 21
VOL_DAYS = 63
REVERSAL_DAYS = 21


def load_wide_returns(raw_dir: str) -> pd.DataFrame:
    """Daily simple returns from ``adj_close``, wide (dates x tickers)."""
    prices = pd.read_parquet(f"{raw_dir}/prices.parquet", columns=["date", "ticker", "adj_close"])
    wide = prices.pivot(index="date", columns="ticker", values="adj_close").sort_index()
    return wide.pct_change(fill_method=None).iloc[1:]


def _zscore(x: pd.Series) -> pd.Series:
    x = x.astype(float)
    x = x.fillna(x.median())
    return (x - x.mean()) / x.std()


def standin_risk_model(
    returns: pd.DataFrame,
    companies: pd.DataFrame,
    as_of: pd.Timestamp,
    industry_column: str = "gics_sector",
    window_days: int = WINDOW_DAYS,
) -> RiskModel:
    """Fit the stand-in model on the ``window_days`` returns up to and including ``as_of``."""
    window = returns.loc[:as_of].iloc[-window_days:]
    window = window.loc[:, window.notna().all()]
    tickers = sorted(set(window.columns) & set(companies["ticker"]))
    window = window[tickers]
    comp = companies.set_index("ticker").loc[tickers]
    industry = comp[industry_column].fillna("Unknown")
    dummies = pd.get_dummies(industry).astype(float)
    market = window.mean(axis=1)
    beta = window.apply(lambda r: np.cov(r, market)[0, 1]) / market.var()
    styles = pd.DataFrame(
        {
            "size": _zscore(np.log(comp["market_cap_usd_2018"])),
            "volatility": _zscore(window.iloc[-VOL_DAYS:].std()),
            "momentum": _zscore((1 + window.iloc[-MOMENTUM_DAYS:-MOMENTUM_SKIP_DAYS]).prod() - 1),
            "beta": _zscore(beta),
            "reversal": _zscore((1 + window.iloc[-REVERSAL_DAYS:]).prod() - 1),
        },
        index=tickers,
    )
    x = np.hstack([dummies.to_numpy(), styles.to_numpy()])
    y = window.to_numpy().T  # (n, T)
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)  # (k, T)
    resid = y - x @ coef
    f_cov = np.cov(coef) * TRADING_DAYS_PER_YEAR
    spec = resid.var(axis=1, ddof=1) * TRADING_DAYS_PER_YEAR
    return RiskModel(
        as_of=pd.Timestamp(as_of),
        tickers=tuple(tickers),
        factors=tuple(dummies.columns) + tuple(styles.columns),
        exposures=x,
        factor_covariance=(f_cov + f_cov.T) / 2,
        specific_variance=spec,
    )
