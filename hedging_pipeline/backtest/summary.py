"""Per-method summary of the backtest: medians, win rates and bootstrap confidence intervals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hedging_pipeline.backtest.metrics import SCOPE_FULL_PERIOD
from hedging_pipeline.backtest.statistics import (
    N_MONTH_BOOTSTRAP,
    monthly_cube,
    monthly_statistics,
    pooled_ex_crisis,
)
from hedging_pipeline.data.tables import GRID_COLUMNS, SUMMARY_COLUMNS
from hedging_pipeline.data.validation import require_columns, require_unique
from hedging_pipeline.errors import InsufficientHistoryError, InvalidValueError
from hedging_pipeline.hedging.registry import ALL_METHODS, grid_columns

BASELINE_METHOD = "factor"
N_BOOTSTRAP = 2000
CONFIDENCE_LEVEL = 0.95
TIE_TOLERANCE = 1e-12
"""Variance reductions closer than this count as a tie (half a win), e.g. the baseline against
itself."""


REBALANCES_PER_YEAR = 12
NAME_CAP_TOLERANCE = 1e-6
"""A weight within this of the name cap counts as at the cap."""


def order_methods(methods: Sequence[str]) -> list[str]:
    """Return ``methods`` in the registry's order (``ALL_METHODS``), then others alphabetically."""
    known = [m for m in ALL_METHODS if m in methods]

    return known + sorted(set(methods) - set(known))


def _eligible(
    results: pd.DataFrame,
    methods: Sequence[str] | None,
    baseline: str,
    n_bootstrap: int,
    confidence: float,
) -> tuple[pd.DataFrame, list[str], pd.Index, np.ndarray]:
    """Validate; return full-period rows, methods compared, eligible tickers and their VRs."""
    needed = (
        "ticker",
        "method",
        "scope",
        "variance_reduction",
        "vol_unhedged",
        "vol_hedged",
        "predicted_te",
    )
    require_columns(results, needed, "backtest_results")
    if n_bootstrap < 1 or not 0.0 < confidence < 1.0:
        raise InvalidValueError(
            f"need n_bootstrap >= 1 and 0 < confidence < 1, got n_bootstrap={n_bootstrap}, "
            f"confidence={confidence}"
        )
    full = results.loc[results["scope"] == SCOPE_FULL_PERIOD]
    require_unique(full, "backtest_results (scope full_period)", ["ticker", "method"])
    compared = order_methods(
        list(methods) if methods is not None else list(full["method"].unique())
    )
    if baseline not in compared:
        raise InvalidValueError(
            f"baseline method {baseline!r} has no full-period results among the methods "
            f"compared {compared}"
        )
    full = full.loc[full["method"].isin(compared)]
    vr_wide = full.pivot(index="ticker", columns="method", values="variance_reduction").reindex(
        columns=compared
    )
    eligible = vr_wide.notna().all(axis=1)
    if not eligible.any():
        coverage = vr_wide.notna().sum().sort_values()
        raise InsufficientHistoryError(
            f"no ticker has full-period backtest results for every method {compared}; "
            f"fewest targets: "
            f"method {coverage.index[0]!r} with {int(coverage.iloc[0])} of {len(vr_wide)} tickers"
        )
    tickers = vr_wide.index[eligible]
    vr = vr_wide.loc[tickers].to_numpy()  # (n_targets, n_methods)
    return full, compared, tickers, vr


def summarise_backtest(
    results: pd.DataFrame,
    *,
    methods: Sequence[str] | None = None,
    baseline: str = BASELINE_METHOD,
    n_bootstrap: int = N_BOOTSTRAP,
    confidence: float = CONFIDENCE_LEVEL,
    rng: np.random.Generator | int = 0,
) -> pd.DataFrame:
    """Summarise the full-period variance reduction per method, with paired bootstrap CIs.

    Only **eligible** targets enter: those with a full-period row for every method compared, so that
    every method is judged on the same names (and, by ``evaluate_hedges``' month alignment, the same
    days).

    For method ``m`` and eligible targets ``j = 1..n`` with full-period variance reductions
    ``VR_mj``:

    * ``median_variance_reduction`` / ``mean_variance_reduction``: median / mean over ``j`` of
      ``VR_mj``;
    * ``win_rate_vs_factor``: ``(1/n) Σ_j [VR_mj > VR_bj] + ½ [VR_mj = VR_bj]`` against the baseline
      ``b`` (ties, within ``TIE_TOLERANCE``, count half, so the baseline's own win rate is 0.5);
    * ``*_ci_low`` / ``*_ci_high``: percentile bootstrap interval at ``confidence`` for the median
      and the win rate, resampling targets with replacement (the same resample for every method, so
      comparisons with the baseline stay paired);
    * ``median_te_ratio``: median over targets of realised / predicted tracking error
      (``vol_hedged / predicted_te``, full period, annualised both; targets with zero predicted TE
      left out, NaN when none is left); 1 means the risk model predicted the hedge's risk right;
    * ``median_vol_unhedged`` / ``median_vol_hedged``: medians of the annualised vols.

    Parameters
    ----------
    results : pd.DataFrame
        ``backtest_results`` from ``evaluate_hedges`` (needs ticker, method, scope,
        variance_reduction, vol_unhedged, vol_hedged, predicted_te).
    methods : sequence of str, optional
        Methods to compare; default every method in ``results``. Must include ``baseline``.
    baseline : str
        The method win rates are measured against (the column keeps its CONTRACT name
        ``win_rate_vs_factor`` whatever the baseline).
    n_bootstrap : int
        Number of bootstrap resamples.
    confidence : float
        Two-sided confidence level of the intervals, in (0, 1).
    rng : numpy.random.Generator or int
        Random generator, or a seed for one.

    Returns
    -------
    pd.DataFrame
        The ``backtest_summary`` table, ``SUMMARY_COLUMNS``, one row per method in ``METHODS``
        order.

    Raises
    ------
    MissingColumnError
        If ``results`` lacks a required column.
    InvalidValueError
        If ``baseline`` is not among the methods, or ``n_bootstrap`` / ``confidence`` is out of
        range.
    InsufficientHistoryError
        If no target has a full-period result for every method compared.
    """
    full, compared, tickers, vr = _eligible(results, methods, baseline, n_bootstrap, confidence)
    wins = np.where(
        np.abs(vr - vr[:, [compared.index(baseline)]]) <= TIE_TOLERANCE,
        0.5,
        (vr > vr[:, [compared.index(baseline)]]).astype(float),
    )

    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    resample = generator.integers(0, len(tickers), size=(n_bootstrap, len(tickers)))
    tail = 100.0 * (1.0 - confidence) / 2.0
    rows = []
    for k, method in enumerate(compared):
        boot_median = np.median(vr[resample, k], axis=1)
        boot_win = wins[resample, k].mean(axis=1)
        own = full.loc[full["method"] == method].set_index("ticker").loc[tickers]
        te = own["predicted_te"].to_numpy(dtype=float)
        positive = te > 0
        ratio = own["vol_hedged"].to_numpy(dtype=float)[positive] / te[positive]
        rows.append(
            {
                "method": method,
                "n_targets": len(tickers),
                "median_variance_reduction": float(np.median(vr[:, k])),
                "mean_variance_reduction": float(np.mean(vr[:, k])),
                "win_rate_vs_factor": float(wins[:, k].mean()),
                "median_variance_reduction_ci_low": float(np.percentile(boot_median, tail)),
                "median_variance_reduction_ci_high": float(
                    np.percentile(boot_median, 100.0 - tail)
                ),
                "win_rate_ci_low": float(np.percentile(boot_win, tail)),
                "win_rate_ci_high": float(np.percentile(boot_win, 100.0 - tail)),
                "median_te_ratio": float(np.median(ratio)) if ratio.size else float("nan"),
                "median_vol_unhedged": float(own["vol_unhedged"].median()),
                "median_vol_hedged": float(own["vol_hedged"].median()),
            }
        )
    summary = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    summary["n_targets"] = summary["n_targets"].astype(np.int64)
    return summary


def share_at_name_cap(hedge_weights: pd.DataFrame, max_weight: float) -> pd.Series:
    """Per method, the share of baskets whose largest weight is at the name cap ``max_weight``."""
    largest = hedge_weights.groupby(["as_of", "ticker", "method"])["weight"].max()
    at_cap = (largest >= max_weight - NAME_CAP_TOLERANCE).groupby(level="method").mean()
    return at_cap.astype(float)


def summarise_grid(
    results: pd.DataFrame,
    hedge_weights: pd.DataFrame | None = None,
    *,
    max_weight: float = 0.25,
    cost_bp: float = 5.0,
    n_bootstrap: int = N_MONTH_BOOTSTRAP,
    rng: int = 0,
) -> pd.DataFrame:
    """The ``backtest_summary`` table: one row per method of the grid with every statistic.

    Combines :func:`summarise_backtest` (pooled full-period figures, win rate vs ``factor``, target
    bootstrap) with ``statistics.monthly_statistics`` (median of monthly variance reductions, with
    and without the crisis, net of costs, two-way month x target bootstrap), the mean turnover per
    rebalance, the annual cost ``turnover · 12 · cost_bp`` (basis points of the position per year)
    and the share of baskets holding a name at the cap.

    Parameters
    ----------
    results : pd.DataFrame
        ``backtest_results`` with ``turnover`` and ``variance_reduction_net``.
    hedge_weights : pd.DataFrame, optional
        For ``share_at_name_cap`` (NaN without it, and for the index shorts).
    max_weight : float
        The name cap.
    cost_bp : float
        Trading cost the results were computed with (basis points of traded notional).
    n_bootstrap : int
        Resamples of each bootstrap.
    rng : int
        Seed of the bootstraps.

    Returns
    -------
    pd.DataFrame
        ``GRID_COLUMNS``, in registry order.
    """
    methods = order_methods(list(results["method"].unique()))
    base = summarise_backtest(results, methods=methods, n_bootstrap=n_bootstrap, rng=rng)
    cube = monthly_cube(results, methods)
    monthly = monthly_statistics(cube, n_bootstrap=n_bootstrap, rng=rng)
    summary = base.merge(monthly, on="method", how="left")
    grid = [grid_columns(m) for m in summary["method"]]
    summary["candidates"] = [g[0] for g in grid]
    summary["risk"] = [g[1] for g in grid]
    rebalance = results.loc[results["scope"] == "rebalance"]
    turnover = rebalance.groupby("method")["turnover"].mean()
    summary["turnover"] = summary["method"].map(turnover).astype(float)
    summary["annual_cost_bp"] = summary["turnover"] * REBALANCES_PER_YEAR * cost_bp
    capped = (
        share_at_name_cap(hedge_weights, max_weight)
        if hedge_weights is not None and len(hedge_weights)
        else pd.Series(dtype=float)
    )
    summary["share_at_name_cap"] = summary["method"].map(capped).astype(float)
    pooled = pooled_ex_crisis(results, methods)
    summary["pooled_variance_reduction_ex_crisis"] = summary["method"].map(pooled).astype(float)
    for column in ("n_months", "n_cells"):
        summary[column] = summary[column].astype(np.int64)
    return summary.loc[:, list(GRID_COLUMNS)]
