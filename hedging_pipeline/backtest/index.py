"""The "just sell futures" baselines: short the cap-weighted universe index, at 100 % or at beta.

The index is the cap-weighted universe: its return on day ``t`` is

    I_t = Σ_i c_i,t−1 r_i,t / Σ_i c_i,t−1

over the names with a return on ``t`` and a market cap at the previous close (``market_caps``), the
return of a buy-and-hold of the index between two closes. It enters the backtest as one more return
series (pseudo-ticker ``INDEX_TICKER``), and each target gets two hedges at every rebalance date:

* ``index``: short the index at 100 % of the position's value;
* ``index_beta``: short it at the target's beta ``β = cov(r, I) / var(I)`` over the trailing
  ``BETA_WINDOW_DAYS`` trading days up to ``as_of`` (at least ``MIN_BETA_DAYS`` common returns;
  a negative beta is floored at 0, i.e. no hedge).

Held as share counts like every basket, so the short drifts with the index between rebalances. The
predicted tracking error in ``hedge_diagnostics`` terms is the trailing realised one of the same
window (``std(r − h I) · sqrt(252)``), known at ``as_of``. Nothing after ``as_of`` is read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hedging_pipeline.data.validation import require_columns
from hedging_pipeline.types import TRADING_DAYS_PER_YEAR

INDEX_TICKER = "^INDEX"
"""Pseudo-ticker of the index return series (cannot clash with a listed ticker)."""
BETA_WINDOW_DAYS = 252
MIN_BETA_DAYS = 126
CAP_COLUMNS = ("date", "ticker", "market_cap")


def index_returns(daily_returns: pd.DataFrame, market_caps: pd.DataFrame) -> pd.DataFrame:
    """Daily returns of the cap-weighted universe index.

    Parameters
    ----------
    daily_returns : pd.DataFrame
        ``date, ticker, ret``.
    market_caps : pd.DataFrame
        ``date, ticker, market_cap`` (USD); the cap at the previous trading date weights each
        return.

    Returns
    -------
    pd.DataFrame
        ``date, ticker (= INDEX_TICKER), ret``, one row per date with at least one weighted return.
    """
    require_columns(market_caps, CAP_COLUMNS, "market_caps")
    rets = daily_returns.pivot(index="date", columns="ticker", values="ret").sort_index()
    caps = market_caps.pivot(index="date", columns="ticker", values="market_cap").sort_index()
    caps = caps.reindex(index=rets.index, columns=rets.columns).ffill().shift(1)
    weights = caps.where(rets.notna() & (caps > 0))
    total = weights.sum(axis=1, min_count=1)
    ret = (weights * rets).sum(axis=1, min_count=1) / total
    ret = ret.dropna()
    return pd.DataFrame({"date": ret.index, "ticker": INDEX_TICKER, "ret": ret.to_numpy()})


def _trailing_fit(window: pd.DataFrame, index: pd.Series) -> pd.DataFrame:
    """Beta and trailing TE (hedge 1 and beta) of every column against ``index`` on common days."""
    joint = window.notna() & index.notna().to_numpy()[:, None]
    n = joint.sum().to_numpy()
    x = np.where(joint, index.to_numpy()[:, None], 0.0)
    y = np.where(joint, window.to_numpy(), 0.0)
    safe = np.maximum(n, 1)
    mx, my = x.sum(0) / safe, y.sum(0) / safe
    dx, dy = np.where(joint, x - mx, 0.0), np.where(joint, y - my, 0.0)
    var_x = (dx * dx).sum(0)
    beta = np.where(var_x > 0, (dx * dy).sum(0) / np.where(var_x > 0, var_x, 1.0), np.nan)
    beta = np.clip(beta, 0.0, None)
    scale = TRADING_DAYS_PER_YEAR / np.maximum(n - 1, 1)
    te_one = np.sqrt(((dy - dx) ** 2).sum(0) * scale)
    te_beta = np.sqrt(((dy - beta * dx) ** 2).sum(0) * scale)
    fit = pd.DataFrame(
        {"ticker": window.columns, "beta": beta, "te_one": te_one, "te_beta": te_beta, "n": n}
    )
    return fit.loc[(fit["n"] >= MIN_BETA_DAYS) & fit["beta"].notna()]


def index_hedges(
    targets: pd.DataFrame, daily_returns: pd.DataFrame, index: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``index`` and ``index_beta`` hedges of every (as_of, ticker) in ``targets``.

    Parameters
    ----------
    targets : pd.DataFrame
        ``as_of, ticker``: the hedges to add (e.g. every pair the hedge stage hedged).
    daily_returns : pd.DataFrame
        ``date, ticker, ret`` covering ``BETA_WINDOW_DAYS`` before each as_of.
    index : pd.DataFrame
        :func:`index_returns`.

    Returns
    -------
    weights, diagnostics : pd.DataFrame
        ``hedge_weights`` rows (one name, ``INDEX_TICKER``, weight 1 or beta) and
        ``as_of, ticker, method, predicted_te`` rows. A target with fewer than ``MIN_BETA_DAYS``
        trailing returns gets no index hedge.
    """
    rets = daily_returns.pivot(index="date", columns="ticker", values="ret").sort_index()
    idx = index.set_index("date")["ret"].reindex(rets.index)
    weights, diagnostics = [], []
    for as_of, group in targets.groupby("as_of"):
        window = rets.loc[rets.index <= as_of].iloc[-BETA_WINDOW_DAYS:]
        names = [t for t in pd.unique(group["ticker"]) if t in window.columns]
        fit = _trailing_fit(window[names], idx.loc[window.index])
        for method, hedge, te in (
            ("index", 1.0, "te_one"),
            ("index_beta", fit["beta"].to_numpy(), "te_beta"),
        ):
            rows = pd.DataFrame(
                {"as_of": as_of, "ticker": fit["ticker"].to_numpy(), "method": method}
            )
            weights.append(rows.assign(hedge_ticker=INDEX_TICKER, weight=hedge))
            diagnostics.append(rows.assign(predicted_te=fit[te].to_numpy()))
    if not weights:
        empty = pd.DataFrame(columns=["as_of", "ticker", "method"])
        return empty.assign(hedge_ticker=[], weight=[]), empty.assign(predicted_te=[])
    out_w = pd.concat(weights, ignore_index=True)
    out_w["weight"] = out_w["weight"].astype(float)
    return out_w, pd.concat(diagnostics, ignore_index=True)
