"""Synthetic inputs and a naive reference for the walk-forward backtest (tests and benchmark).

Returns follow a planted factor model ``r = B f + e`` so that baskets of other names can hedge a
target; hedges are random baskets with weights normalised to 1 (or a planted perfect replication).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hedging_pipeline.backtest.walk_forward import Split


def synthetic_returns(
    n_tickers: int = 30,
    start: str = "2019-01-01",
    end: str = "2020-12-31",
    n_factors: int = 3,
    specific_vol: float = 0.01,
    seed: int = 0,
) -> pd.DataFrame:
    """Long daily returns (date, ticker, ret) on weekdays, from a planted factor model."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(start, end)
    tickers = [f"T{i:03d}" for i in range(n_tickers)]
    loadings = rng.normal(1.0, 0.5, size=(n_tickers, n_factors))
    factors = rng.normal(0.0, 0.01, size=(len(dates), n_factors))
    rets = factors @ loadings.T + rng.normal(0.0, specific_vol, size=(len(dates), n_tickers))
    frame = pd.DataFrame(rets, index=dates, columns=tickers)
    frame.index.name = "date"
    frame.columns.name = "ticker"
    return frame.stack().rename("ret").reset_index()


def month_ends(dates: Sequence[pd.Timestamp] | pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Last trading day of every month in ``dates``."""
    index = pd.DatetimeIndex(sorted(set(pd.DatetimeIndex(dates))))
    frame = pd.Series(index, index=index)
    return pd.DatetimeIndex(frame.groupby(index.to_period("M")).max().to_numpy())


def random_hedges(
    tickers: Sequence[str],
    as_of_dates: Sequence[pd.Timestamp],
    methods: Sequence[str],
    targets: Sequence[str] | None = None,
    n_names: int = 10,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random baskets of ``n_names`` other tickers (weights in [0.5, 1.5] normalised to sum 1).

    Returns ``(hedge_weights, hedge_diagnostics)`` in CONTRACT layout; ``predicted_te`` is random in
    [0.05, 0.3].
    """
    rng = np.random.default_rng(seed)
    universe = np.asarray(list(tickers))
    targets = list(targets) if targets is not None else list(universe)
    n_hedges = len(as_of_dates) * len(targets) * len(methods)
    keys = pd.MultiIndex.from_product(
        [pd.DatetimeIndex(as_of_dates), targets, list(methods)], names=["as_of", "ticker", "method"]
    ).to_frame(index=False)
    # Draw names from the universe without the target: sample positions among n-1 and skip the
    # target.
    target_pos = pd.Index(universe).get_indexer(keys["ticker"])
    picks = np.argsort(rng.random((n_hedges, len(universe) - 1)), axis=1)[:, :n_names]
    picks = picks + (picks >= target_pos[:, None])
    raw = rng.uniform(0.5, 1.5, size=(n_hedges, n_names))
    weights = raw / raw.sum(axis=1, keepdims=True)
    hedge_weights = pd.DataFrame(
        {
            "as_of": np.repeat(keys["as_of"].to_numpy(), n_names),
            "ticker": np.repeat(keys["ticker"].to_numpy(), n_names),
            "method": np.repeat(keys["method"].to_numpy(), n_names),
            "hedge_ticker": universe[picks.ravel()],
            "weight": weights.ravel(),
        }
    )
    diagnostics = keys.assign(
        predicted_te=rng.uniform(0.05, 0.3, size=n_hedges),
        lower_bound=0.0,
        gap=0.0,
        solve_ms=1.0,
    )
    return hedge_weights, diagnostics


def naive_evaluate(
    hedge_weights: pd.DataFrame,
    hedge_diagnostics: pd.DataFrame,
    daily_returns: pd.DataFrame,
    splits: Sequence[Split],
    periods_per_year: int = 252,
) -> pd.DataFrame:
    """Per-(target, method, month) pandas loop: the obvious way to compute ``backtest_results``.

    Same conventions as ``evaluate_hedges`` (missing hedge-name returns = cash, days without a
    target return dropped, full period over the months every method of the ticker has).
    """
    wide = daily_returns.pivot(index="date", columns="ticker", values="ret")
    by_asof = {s.as_of: s for s in splits}
    te = hedge_diagnostics.set_index(["as_of", "ticker", "method"])["predicted_te"]
    rows = []
    series: dict[tuple, pd.DataFrame] = {}
    for (as_of, ticker, method), basket in hedge_weights.groupby(["as_of", "ticker", "method"]):
        split = by_asof[as_of]
        window = wide.loc[(wide.index >= split.test_start) & (wide.index <= split.test_end)]
        target = window[ticker].dropna()
        names = window.reindex(columns=basket["hedge_ticker"]).loc[target.index].fillna(0.0)
        hedged = target - names.to_numpy() @ basket["weight"].to_numpy()
        series[(as_of, ticker, method)] = pd.DataFrame({"target": target, "hedged": hedged})
        rows.append(
            {
                "as_of": as_of,
                "ticker": ticker,
                "method": method,
                "scope": "rebalance",
                "horizon_days": len(target),
                "vol_unhedged": target.std() * np.sqrt(periods_per_year),
                "vol_hedged": hedged.std() * np.sqrt(periods_per_year),
                "predicted_te": te.loc[(as_of, ticker, method)],
                "variance_reduction": 1 - hedged.var() / target.var(),
            }
        )
    rebalance = pd.DataFrame(rows)
    full_rows = []
    for ticker, group in rebalance.groupby("ticker"):
        methods = set(group["method"])
        months = [m for m, g in group.groupby("as_of") if set(g["method"]) == methods]
        for method in sorted(methods):
            parts = [series[(m, ticker, method)] for m in months]
            stitched = pd.concat(parts)
            days = np.array([len(p) for p in parts])
            tes = np.array([te.loc[(m, ticker, method)] for m in months])
            full_rows.append(
                {
                    "as_of": max(months),
                    "ticker": ticker,
                    "method": method,
                    "scope": "full_period",
                    "horizon_days": len(stitched),
                    "vol_unhedged": stitched["target"].std() * np.sqrt(periods_per_year),
                    "vol_hedged": stitched["hedged"].std() * np.sqrt(periods_per_year),
                    "predicted_te": np.sqrt((days * tes**2).sum() / days.sum()),
                    "variance_reduction": 1 - stitched["hedged"].var() / stitched["target"].var(),
                }
            )
    keys = ["as_of", "ticker", "method"]
    return pd.concat(
        [rebalance.sort_values(keys), pd.DataFrame(full_rows).sort_values(keys)], ignore_index=True
    )
