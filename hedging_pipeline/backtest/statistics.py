"""Statistics that survive a crash: per-month variance reductions, ex-crisis, paired, two-way bootstrap.

The unit is the **target-month** (one ``scope = rebalance`` row of ``backtest_results``). Methods are
compared on the same cells: only (ticker, as_of) pairs that every compared method evaluated enter.

* ``median_monthly_variance_reduction``: median over those cells of the month's variance reduction
  (each month counts once per target, whatever its volatility; the pooled full-period figure
  ``median_variance_reduction`` weights a month by its variance, so a crash dominates it);
* ``median_variance_reduction_ex_crisis``: the same without the months whose test window overlaps
  the crisis (Feb-Apr 2020 by default, ``CRISIS``);
* ``net_median_variance_reduction``: the monthly median of the net-of-cost variance reductions;
* confidence intervals: a **two-way bootstrap** resampling months (each month is a block of days that
  every target shares, so the common shocks stay together) and targets independently, with the same
  resample for every method (paired);
* paired differences (:func:`paired_differences`): for methods ``a`` and ``b``, per month the median
  over targets of ``VR_a − VR_b``; reported as the median over months, the share of months ``a`` wins,
  and the two-way bootstrap interval of the median cell difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hedging_pipeline.backtest.metrics import SCOPE_REBALANCE
from hedging_pipeline.data.validation import require_columns
from hedging_pipeline.errors import InsufficientHistoryError

CRISIS = (pd.Timestamp("2020-02-01"), pd.Timestamp("2020-04-30"))
"""First and last day of the crisis months (COVID crash) left out of the ex-crisis figures."""
N_MONTH_BOOTSTRAP = 1000
CONFIDENCE_LEVEL = 0.95
MONTHLY_COLUMNS = ("ticker", "as_of", "method", "variance_reduction", "test_start", "test_end")


@dataclass(frozen=True)
class MonthlyCube:
    """Variance reductions on the common cells: ``values[k, j, m]`` for method k, target j, month m.

    NaN where target ``j`` has no common cell in month ``m``. ``net`` likewise (net of costs).
    """

    methods: tuple[str, ...]
    tickers: pd.Index
    months: pd.DatetimeIndex
    values: np.ndarray
    net: np.ndarray
    crisis: np.ndarray  # (n_months,) bool


def monthly_cube(
    results: pd.DataFrame,
    methods: Sequence[str],
    crisis: tuple[pd.Timestamp, pd.Timestamp] = CRISIS,
) -> MonthlyCube:
    """Stack the rebalance rows of ``methods`` on the (ticker, as_of) cells they all have.

    Raises
    ------
    MissingColumnError
        If ``results`` lacks a needed column.
    InsufficientHistoryError
        If no cell is common to every method.
    """
    require_columns(results, MONTHLY_COLUMNS, "backtest_results")
    rows = results.loc[
        (results["scope"] == SCOPE_REBALANCE) & results["method"].isin(list(methods))
    ].copy()
    if "variance_reduction_net" not in rows.columns:
        rows["variance_reduction_net"] = rows["variance_reduction"]
    count = rows.groupby(["ticker", "as_of"])["method"].transform("nunique")
    rows = rows.loc[count == len(methods)]
    if rows.empty:
        raise InsufficientHistoryError(
            f"no (ticker, as_of) has backtest results for every method {list(methods)}"
        )
    tickers = pd.Index(sorted(rows["ticker"].unique()))
    months = pd.DatetimeIndex(sorted(rows["as_of"].unique()))
    shape = (len(methods), len(tickers), len(months))
    values, net = np.full(shape, np.nan), np.full(shape, np.nan)
    k = pd.Index(list(methods)).get_indexer(rows["method"])
    j, m = tickers.get_indexer(rows["ticker"]), months.get_indexer(rows["as_of"])
    values[k, j, m] = rows["variance_reduction"].to_numpy(dtype=float)
    net[k, j, m] = rows["variance_reduction_net"].to_numpy(dtype=float)
    window = rows.groupby("as_of")[["test_start", "test_end"]].agg(
        {"test_start": "min", "test_end": "max"}
    )
    window = window.reindex(months)
    in_crisis = (window["test_start"] <= crisis[1]) & (window["test_end"] >= crisis[0])
    return MonthlyCube(tuple(methods), tickers, months, values, net, in_crisis.to_numpy())


def _resamples(
    n_targets: int, n_months: int, n_bootstrap: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    return (
        rng.integers(0, n_targets, size=(n_bootstrap, n_targets)),
        rng.integers(0, n_months, size=(n_bootstrap, n_months)),
    )


def _boot_medians(cells: np.ndarray, targets: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Median of ``cells[t, m]`` over each resample of targets and months (NaN cells skipped)."""
    out = np.empty(len(targets))
    for b in range(len(targets)):
        out[b] = np.nanmedian(cells[np.ix_(targets[b], months[b])])
    return out


def _interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = 100.0 * (1.0 - confidence) / 2.0
    return float(np.nanpercentile(samples, tail)), float(np.nanpercentile(samples, 100.0 - tail))


def monthly_statistics(
    cube: MonthlyCube,
    *,
    n_bootstrap: int = N_MONTH_BOOTSTRAP,
    confidence: float = CONFIDENCE_LEVEL,
    rng: np.random.Generator | int = 0,
) -> pd.DataFrame:
    """Per method: monthly median, ex-crisis median and net median, with two-way bootstrap CIs.

    Returns
    -------
    pd.DataFrame
        ``method, n_months, n_cells, median_monthly_variance_reduction, monthly_ci_low,
        monthly_ci_high, median_variance_reduction_ex_crisis, ex_crisis_ci_low, ex_crisis_ci_high,
        net_median_variance_reduction``.
    """
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    n_t, n_m = len(cube.tickers), len(cube.months)
    targets, months = _resamples(n_t, n_m, n_bootstrap, generator)
    calm = np.flatnonzero(~cube.crisis)
    calm_months = calm[generator.integers(0, max(len(calm), 1), size=(n_bootstrap, len(calm)))]
    rows = []
    for k, method in enumerate(cube.methods):
        cells = cube.values[k]
        ex = cells[:, calm]
        low, high = _interval(_boot_medians(cells, targets, months), confidence)
        ex_low, ex_high = (
            _interval(_boot_medians(cells, targets, calm_months), confidence)
            if len(calm)
            else (np.nan, np.nan)
        )
        rows.append(
            {
                "method": method,
                "n_months": n_m,
                "n_cells": int(np.isfinite(cells).sum()),
                "median_monthly_variance_reduction": float(np.nanmedian(cells)),
                "monthly_ci_low": low,
                "monthly_ci_high": high,
                "median_variance_reduction_ex_crisis": float(np.nanmedian(ex))
                if len(calm)
                else np.nan,
                "ex_crisis_ci_low": ex_low,
                "ex_crisis_ci_high": ex_high,
                "net_median_variance_reduction": float(np.nanmedian(cube.net[k])),
            }
        )
    return pd.DataFrame(rows)


TIE_TOLERANCE = 1e-12
"""Paired VR differences this small are ties (the two methods held the same basket)."""


def paired_differences(
    cube: MonthlyCube,
    pairs: Sequence[tuple[str, str]],
    *,
    n_bootstrap: int = N_MONTH_BOOTSTRAP,
    confidence: float = CONFIDENCE_LEVEL,
    rng: np.random.Generator | int = 0,
) -> pd.DataFrame:
    """Month-by-month paired differences ``a − b`` of the variance reduction, with and without crisis.

    Returns
    -------
    pd.DataFrame
        ``a, b, median_difference`` (median over cells), ``ci_low, ci_high`` (two-way bootstrap),
        ``median_monthly_difference`` (median over months of the month's median difference),
        ``months_a_wins`` (share of months whose median difference is > 0), and the same three
        ``*_ex_crisis``; ``cells_a_wins``, ``cells_tied`` (share of target-months with a > b, a = b:
        identical baskets make a median of exactly 0, which ``months_a_wins`` counts against a).
    """
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    targets, months = _resamples(len(cube.tickers), len(cube.months), n_bootstrap, generator)
    calm = ~cube.crisis
    rows = []
    for a, b in pairs:
        if a not in cube.methods or b not in cube.methods:
            continue
        diff = cube.values[cube.methods.index(a)] - cube.values[cube.methods.index(b)]
        per_month = np.nanmedian(diff, axis=0)
        valid = np.isfinite(diff)
        low, high = _interval(_boot_medians(diff, targets, months), confidence)
        rows.append(
            {
                "a": a,
                "b": b,
                "median_difference": float(np.nanmedian(diff)),
                "ci_low": low,
                "ci_high": high,
                "median_monthly_difference": float(np.median(per_month)),
                "months_a_wins": float(np.mean(per_month > 0)),
                "cells_a_wins": float(np.mean(diff[valid] > TIE_TOLERANCE)),
                "cells_tied": float(np.mean(np.abs(diff[valid]) <= TIE_TOLERANCE)),
                "median_difference_ex_crisis": float(np.nanmedian(diff[:, calm]))
                if calm.any()
                else np.nan,
                "months_a_wins_ex_crisis": float(np.mean(per_month[calm] > 0))
                if calm.any()
                else np.nan,
            }
        )
    return pd.DataFrame(rows)


def pooled_ex_crisis(
    results: pd.DataFrame,
    methods: Sequence[str],
    crisis: tuple[pd.Timestamp, pd.Timestamp] = CRISIS,
) -> pd.Series:
    """Per method, the median over targets of the pooled VR without the crisis months.

    ``1 − Σ_m n_m σ²_hedged,m / Σ_m n_m σ²_unhedged,m`` over a target's non-crisis months ``m``
    (``n_m`` test days; the day-weighted pooled variance, up to the differences between monthly
    means), on the (ticker, as_of) cells every method has.
    """
    rows = results.loc[
        (results["scope"] == SCOPE_REBALANCE) & results["method"].isin(list(methods))
    ]
    count = rows.groupby(["ticker", "as_of"])["method"].transform("nunique")
    rows = rows.loc[(count == len(methods))]
    calm = ~((rows["test_start"] <= crisis[1]) & (rows["test_end"] >= crisis[0]))
    rows = rows.loc[calm]
    hedged = (
        (rows["horizon_days"] * rows["vol_hedged"] ** 2)
        .groupby([rows["method"], rows["ticker"]])
        .sum()
    )
    unhedged = (
        (rows["horizon_days"] * rows["vol_unhedged"] ** 2)
        .groupby([rows["method"], rows["ticker"]])
        .sum()
    )
    return (1.0 - hedged / unhedged).groupby(level="method").median()
