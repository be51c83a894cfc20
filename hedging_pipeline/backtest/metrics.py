"""Out-of-sample risk reduction of hedges: realised tracking error and variance reduction.

A hedge is short the basket, so the hedged position's daily return on test day ``d`` is

    h_d = r_target,d − Σ_i w_i r_i,d

with the weights ``w_i`` fixed at the rebalance date (``hedge_weights.weight``; the basket is
rebalanced back to them every day, so ``Σ w_i r_i`` is the basket's daily return as a fraction of
the position's value). The **variance reduction** of a hedge is

    VR = 1 − var(h) / var(r_target)

over the same days: 1 for a perfect hedge, 0 for a hedge that does nothing, negative for one that
adds risk. Vols are sample standard deviations (``ddof=1``) of daily returns, annualised by
``sqrt(252)``, in the same units as ``hedge_diagnostics.predicted_te``.

``backtest_results`` holds two kinds of rows, told apart by the column ``scope``:

* ``scope = "rebalance"``: one row per hedge (as_of, ticker, method) over its own test window
  ``(as_of, next as_of]``; ``horizon_days`` is the number of test days with a target return.
* ``scope = "full_period"``: one row per (ticker, method) over all its test windows stitched
  together into one daily series (the number the client cares about). ``as_of`` is the LAST
  rebalance date included, ``test_start``/``test_end`` span the whole period, ``horizon_days`` is
  the total number of test days, ``n_rebalances`` the number of months, and ``predicted_te`` the
  day-weighted root mean square of the monthly predictions ``sqrt(Σ n_k te_k² / Σ n_k)``. So that
  methods are compared on the same days, a ticker's full period only uses the rebalance dates at
  which every method that ever hedged that ticker has a hedge; a month where one method failed is
  dropped for all of that ticker's methods (visible in ``n_rebalances``).

Missing data, never silent:

* a **target** return missing on a test day (not yet listed, delisted, a gap): the day is left out
  of both the hedged and the unhedged series, so both are compared on the same days; a hedge with
  fewer than ``min_test_days`` target returns in its window is not evaluated and is listed in
  ``skipped``, and so is a hedge whose target did not move at all (zero variance) and one whose
  as_of has no split;
* a **hedge name** return missing on a test day (delisted or halted inside the month): with the
  default policy ``"cash"`` the short in that name is treated as covered at its last price with the
  proceeds held in cash (return 0) for the rest of the day(s) it is missing, and every such name-day
  is counted in ``n_missing_hedge_returns``; with ``"raise"`` it is an error naming the ticker and
  date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from hedging_pipeline.backtest.walk_forward import Split, walk_forward_splits
from hedging_pipeline.data.tables import (
    RESULT_COLUMNS,
    RETURN_COLUMNS,
    SKIPPED_COLUMNS,
    SUMMARY_COLUMNS,
    WEIGHT_COLUMNS,
)
from hedging_pipeline.data.validation import require_columns, require_unique
from hedging_pipeline.errors import (
    DataError,
    InsufficientHistoryError,
    InvalidValueError,
)
from hedging_pipeline.types import METHODS, TRADING_DAYS_PER_YEAR, FloatArray, IntArray

MissingReturnPolicy = Literal["cash", "raise"]
MISSING_RETURN_POLICIES: tuple[MissingReturnPolicy, ...] = ("cash", "raise")

MIN_TEST_DAYS = 2
"""A sample variance (``ddof=1``) needs at least two observations."""

SCOPE_REBALANCE = "rebalance"
SCOPE_FULL_PERIOD = "full_period"

DIAGNOSTIC_INPUT_COLUMNS = ("as_of", "ticker", "method", "predicted_te")
"""The ``hedge_diagnostics`` columns the backtest reads."""
HEDGE_KEY = ["as_of", "ticker", "method"]


@dataclass(frozen=True)
class BacktestEvaluation:
    """Everything the walk-forward evaluation produces.

    Attributes
    ----------
    results : pd.DataFrame
        The ``backtest_results`` table: ``RESULT_COLUMNS``, rebalance rows then full-period rows,
        each sorted by (as_of, ticker, method).
    daily : pd.DataFrame
        The stitched out-of-sample daily series of every evaluated hedge: ``DAILY_COLUMNS`` (returns
        as fractions), sorted by (ticker, method, date). For cumulative-return plots.
    skipped : pd.DataFrame
        Hedges that could not be evaluated, with the reason: ``SKIPPED_COLUMNS``.
    """

    results: pd.DataFrame
    daily: pd.DataFrame
    skipped: pd.DataFrame


def _normalised_dates(values: pd.Series, name: str) -> pd.Series:
    """Return ``values`` as midnight-normalised ``datetime64[ns]``; raise on NaT."""
    dates = pd.to_datetime(values).dt.normalize().astype("datetime64[ns]")
    if dates.isna().any():
        raise InvalidValueError(
            f"{name} has a missing date in row {int(np.flatnonzero(dates.isna())[0])}"
        )
    return dates


def _validate_splits(splits: Sequence[Split]) -> list[Split]:
    """Return ``splits`` sorted by as_of; windows must start after as_of and be disjoint."""
    ordered = sorted(splits, key=lambda s: s.as_of)
    for split in ordered:
        if not split.as_of < split.test_start <= split.test_end:
            raise InvalidValueError(
                f"split as of {split.as_of.date()} has test window {split.test_start.date()}.."
                f"{split.test_end.date()}; it must start after as_of and not end before it starts"
            )
    for prev, nxt in zip(ordered, ordered[1:], strict=False):
        if nxt.as_of == prev.as_of or nxt.test_start <= prev.test_end:
            raise InvalidValueError(
                f"splits as of {prev.as_of.date()} and {nxt.as_of.date()} overlap "
                f"(test windows must be disjoint so that the stitched series counts each day once)"
            )
    return ordered


def _prepare_hedges(
    hedge_weights: pd.DataFrame, hedge_diagnostics: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate weights and diagnostics; return (weights, hedges) with a hedge id ``hid``."""
    require_columns(hedge_weights, WEIGHT_COLUMNS, "hedge_weights")
    require_columns(hedge_diagnostics, DIAGNOSTIC_INPUT_COLUMNS, "hedge_diagnostics")
    weights = hedge_weights.loc[:, list(WEIGHT_COLUMNS)].copy()
    weights["as_of"] = _normalised_dates(weights["as_of"], "hedge_weights.as_of")
    weights["weight"] = weights["weight"].astype(float)
    bad = ~np.isfinite(weights["weight"].to_numpy()) | (weights["weight"].to_numpy() < 0)
    if bad.any():
        row = weights.loc[bad].iloc[0]
        raise InvalidValueError(
            f"hedge_weights.weight of {row['hedge_ticker']} in the {row['method']} hedge of ticker "
            f"{row['ticker']} as of {row['as_of'].date()} is {row['weight']}; "
            f"expected a finite value >= 0"
        )
    require_unique(weights, "hedge_weights", [*HEDGE_KEY, "hedge_ticker"])

    diagnostics = hedge_diagnostics.loc[:, list(DIAGNOSTIC_INPUT_COLUMNS)].copy()
    diagnostics["as_of"] = _normalised_dates(diagnostics["as_of"], "hedge_diagnostics.as_of")
    require_unique(diagnostics, "hedge_diagnostics", HEDGE_KEY)

    hedges = weights[HEDGE_KEY].drop_duplicates().sort_values(HEDGE_KEY, ignore_index=True)
    hedges = hedges.merge(diagnostics, on=HEDGE_KEY, how="left", validate="one_to_one")
    te = hedges["predicted_te"].astype(float).to_numpy()
    bad = ~np.isfinite(te) | (te < 0)
    if bad.any():
        row = hedges.loc[bad].iloc[0]
        what = (
            "has no hedge_diagnostics row"
            if pd.isna(row["predicted_te"])
            else "has predicted_te < 0"
        )
        raise DataError(
            f"the {row['method']} hedge of ticker {row['ticker']} as of {row['as_of'].date()} "
            f"{what} ({int(bad.sum())} hedges affected); hedge_diagnostics needs a finite "
            f"predicted_te per hedge"
        )
    hedges["predicted_te"] = te
    hedges["hid"] = np.arange(len(hedges))
    weights = weights.merge(hedges[[*HEDGE_KEY, "hid"]], on=HEDGE_KEY, how="left")
    return weights, hedges


def _returns_panel(
    daily_returns: pd.DataFrame, splits: Sequence[Split], tickers: pd.Index
) -> tuple[pd.DatetimeIndex, FloatArray]:
    """Return the wide returns inside the test windows: dates, (n_dates, n_tickers), NaN = missing.

    Only the days inside some split's window are read, so nothing at or before a rebalance date (nor
    after the last window) can leak into a result.
    """
    require_columns(daily_returns, RETURN_COLUMNS, "daily_returns")
    returns = daily_returns.loc[:, list(RETURN_COLUMNS)].copy()
    returns["date"] = _normalised_dates(returns["date"], "daily_returns.date")
    in_window = np.zeros(len(returns), dtype=bool)
    for split in splits:
        in_window |= split.contains(returns["date"])
    returns = returns.loc[in_window & returns["ticker"].isin(tickers)]
    require_unique(returns, "daily_returns")
    wide = returns.pivot(index="date", columns="ticker", values="ret").sort_index()
    wide = wide.reindex(columns=tickers)
    return pd.DatetimeIndex(wide.index), wide.to_numpy(dtype=float)


def _grouped_moments(
    group: IntArray, n_groups: int, *series: FloatArray
) -> tuple[IntArray, list[FloatArray]]:
    """Per-group count and sample variance (``ddof=1``, two-pass) of each of ``series``."""
    count = np.bincount(group, minlength=n_groups)
    variances = []
    safe = np.maximum(count, 1)
    for x in series:
        mean = np.bincount(group, weights=x, minlength=n_groups) / safe
        dev = x - mean[group]
        variances.append(
            np.bincount(group, weights=dev * dev, minlength=n_groups) / np.maximum(count - 1, 1)
        )
    return count, variances


def _first_missing_name(
    weights: pd.DataFrame,
    hid: int,
    day: pd.Timestamp,
    dates: pd.DatetimeIndex,
    panel: FloatArray,
    tickers,
) -> str:
    """Name of a hedge ticker of hedge ``hid`` with no return on ``day`` (for error messages)."""
    names = weights.loc[(weights["hid"] == hid) & (weights["weight"] > 0), "hedge_ticker"]
    row = panel[dates.get_loc(day)] if day in dates else np.full(len(tickers), np.nan)
    for name in names:
        if np.isnan(row[tickers.get_loc(name)]):
            return str(name)
    return str(names.iloc[0])


def evaluate_hedges(
    hedge_weights: pd.DataFrame,
    hedge_diagnostics: pd.DataFrame,
    daily_returns: pd.DataFrame,
    splits: Sequence[Split],
    *,
    missing_hedge_returns: MissingReturnPolicy = "cash",
    min_test_days: int = MIN_TEST_DAYS,
    periods_per_year: int = TRADING_DAYS_PER_YEAR,
) -> BacktestEvaluation:
    """Evaluate every hedge out of sample on its walk-forward window, and per (ticker, method).

    Parameters
    ----------
    hedge_weights : pd.DataFrame
        ``hedge_weights`` table: as_of, ticker, method, hedge_ticker, weight (fraction of the
        position shorted in each name, >= 0).
    hedge_diagnostics : pd.DataFrame
        ``hedge_diagnostics`` table; needs as_of, ticker, method, predicted_te (annualised) for
        every hedge.
    daily_returns : pd.DataFrame
        ``daily_returns`` table: date, ticker, ret (simple daily returns as fractions). Rows outside
        the test windows are ignored.
    splits : sequence of Split
        Test windows from ``walk_forward_splits``; a hedge is evaluated on the split with its
        ``as_of``.
    missing_hedge_returns : {"cash", "raise"}
        Treatment of a hedge name without a return on a test day (see the module docstring).
    min_test_days : int
        Fewest target returns a test window needs to be evaluated.
    periods_per_year : int
        Annualisation factor of the daily vols.

    Returns
    -------
    BacktestEvaluation
        ``results`` (the ``backtest_results`` table, both scopes), ``daily`` and ``skipped``.

    Raises
    ------
    MissingColumnError
        If an input lacks a required column.
    DuplicateRowsError
        If a hedge name, a hedge, or a (date, ticker) return repeats.
    DataError
        If a hedge has no finite ``predicted_te`` in ``hedge_diagnostics``.
    InvalidValueError
        On a negative or non-finite weight, overlapping splits, or (policy ``"raise"``) a missing
        hedge-name return, naming the ticker and date.
    InsufficientHistoryError
        If no hedge at all could be evaluated.
    """
    if missing_hedge_returns not in MISSING_RETURN_POLICIES:
        raise InvalidValueError(
            f"missing_hedge_returns must be one of {MISSING_RETURN_POLICIES}, "
            f"got {missing_hedge_returns!r}"
        )
    if min_test_days < MIN_TEST_DAYS:
        raise InvalidValueError(f"min_test_days must be >= {MIN_TEST_DAYS}, got {min_test_days}")
    weights, hedges = _prepare_hedges(hedge_weights, hedge_diagnostics)
    ordered = _validate_splits(splits)
    tickers = pd.Index(sorted(set(weights["hedge_ticker"]) | set(hedges["ticker"])))
    dates, panel = _returns_panel(daily_returns, ordered, tickers)
    valid = ~np.isnan(panel)
    filled = np.where(valid, panel, 0.0)
    target_col = tickers.get_indexer(hedges["ticker"])
    weight_col = tickers.get_indexer(weights["hedge_ticker"])

    skipped: list[pd.DataFrame] = []
    split_of_asof = {s.as_of: s for s in ordered}
    no_split = ~hedges["as_of"].isin(list(split_of_asof))
    if no_split.any():
        skipped.append(hedges.loc[no_split, HEDGE_KEY].assign(reason="no test window after as_of"))

    parts: list[tuple[IntArray, IntArray, FloatArray, FloatArray, IntArray]] = []
    for split in ordered:
        rows = np.flatnonzero(split.contains(dates))
        hids = hedges.loc[hedges["as_of"] == split.as_of, "hid"].to_numpy()
        if hids.size == 0 or rows.size == 0:
            continue
        local = np.full(len(hedges), -1)
        local[hids] = np.arange(hids.size)
        w_rows = weights.loc[weights["as_of"] == split.as_of]
        w_idx = w_rows.index.to_numpy()
        basket_w = sp.csr_matrix(
            (w_rows["weight"].to_numpy(), (local[w_rows["hid"].to_numpy()], weight_col[w_idx])),
            shape=(hids.size, len(tickers)),
        )
        held = sp.csr_matrix(
            (
                (w_rows["weight"].to_numpy() > 0).astype(float),
                (local[w_rows["hid"].to_numpy()], weight_col[w_idx]),
            ),
            shape=(hids.size, len(tickers)),
        )
        basket = np.asarray(basket_w @ filled[rows].T)  # (n_hedges, n_days)
        n_missing = np.rint(np.asarray(held @ (~valid[rows]).T.astype(float))).astype(np.int64)
        target = panel[rows][:, target_col[hids]].T  # (n_hedges, n_days)
        observed = ~np.isnan(target)
        if missing_hedge_returns == "raise" and (n_missing[observed] > 0).any():
            h, d = np.argwhere(observed & (n_missing > 0))[0]
            hedge = hedges.loc[hids[h]]
            day = dates[rows[d]]
            name = _first_missing_name(weights, int(hids[h]), day, dates, panel, tickers)
            raise InvalidValueError(
                f"daily_returns has no return for hedge ticker {name} on {day.date()} (in the "
                f"{hedge['method']} hedge of ticker {hedge['ticker']} as of "
                f"{hedge['as_of'].date()}); "
                f"use missing_hedge_returns='cash' to hold the proceeds in cash"
            )
        h_idx, d_idx = np.nonzero(observed)
        parts.append(
            (
                hids[h_idx],
                rows[d_idx],
                target[h_idx, d_idx],
                basket[h_idx, d_idx],
                n_missing[h_idx, d_idx],
            )
        )

    if parts:
        hid_long, row_long, r_target, r_basket, miss_long = (
            np.concatenate(p) for p in zip(*parts, strict=True)
        )
    else:
        hid_long = row_long = miss_long = np.zeros(0, dtype=np.int64)
        r_target = r_basket = np.zeros(0)
    r_hedged = r_target - r_basket

    count, (var_u, var_h) = _grouped_moments(hid_long, len(hedges), r_target, r_hedged)
    too_short = (count < min_test_days) & ~no_split.to_numpy()
    flat = (count >= min_test_days) & (var_u <= 0)
    if too_short.any():
        reason = [
            f"target has {c} returns in the test window (need >= {min_test_days})"
            for c in count[too_short]
        ]
        skipped.append(hedges.loc[too_short, HEDGE_KEY].assign(reason=reason))
    if flat.any():
        skipped.append(
            hedges.loc[flat, HEDGE_KEY].assign(
                reason="target return has zero variance in the test window"
            )
        )
    ok = (count >= min_test_days) & (var_u > 0)
    if not ok.any():
        raise InsufficientHistoryError(
            f"no hedge could be evaluated: {len(hedges)} hedges, {len(ordered)} splits, "
            f"{len(dates)} test days with returns; check that the splits follow the hedges' "
            f"as_of dates"
        )

    sqrt_year = np.sqrt(periods_per_year)
    n_missing_total = np.bincount(hid_long, weights=miss_long, minlength=len(hedges)).astype(
        np.int64
    )
    split_frame = pd.DataFrame(
        [(s.as_of, s.test_start, s.test_end) for s in ordered],
        columns=["as_of", "test_start", "test_end"],
    )
    rebalance = hedges.loc[ok, [*HEDGE_KEY, "predicted_te"]].merge(
        split_frame, on="as_of", how="left"
    )
    rebalance = rebalance.assign(
        scope=SCOPE_REBALANCE,
        horizon_days=count[ok],
        vol_unhedged=np.sqrt(var_u[ok]) * sqrt_year,
        vol_hedged=np.sqrt(var_h[ok]) * sqrt_year,
        variance_reduction=1.0 - var_h[ok] / var_u[ok],
        n_rebalances=1,
        n_missing_hedge_returns=n_missing_total[ok],
    )

    # Full period: keep, per ticker, the months where every method of that ticker was evaluated.
    evaluated = hedges.loc[ok, HEDGE_KEY + ["hid", "predicted_te"]]
    n_methods = evaluated.groupby("ticker")["method"].transform("nunique")
    per_month = evaluated.groupby(["ticker", "as_of"])["method"].transform("nunique")
    kept = evaluated.loc[per_month == n_methods].copy()
    kept["days"] = count[kept["hid"].to_numpy()]
    group_keys = (
        kept[["ticker", "method"]]
        .drop_duplicates()
        .sort_values(["ticker", "method"], ignore_index=True)
    )
    group_keys["gid"] = np.arange(len(group_keys))
    kept = kept.merge(group_keys, on=["ticker", "method"], how="left").merge(
        split_frame, on="as_of", how="left"
    )
    gid_of_hid = np.full(len(hedges), -1)
    gid_of_hid[kept["hid"].to_numpy()] = kept["gid"].to_numpy()
    in_full = gid_of_hid[hid_long] >= 0
    g_count, (g_var_u, g_var_h) = _grouped_moments(
        gid_of_hid[hid_long][in_full], len(group_keys), r_target[in_full], r_hedged[in_full]
    )
    grouped = kept.groupby("gid")
    te_sq = (kept["predicted_te"] ** 2 * kept["days"]).groupby(kept["gid"]).sum() / grouped[
        "days"
    ].sum()
    full = group_keys.assign(
        as_of=grouped["as_of"].max().to_numpy(),
        scope=SCOPE_FULL_PERIOD,
        horizon_days=g_count,
        vol_unhedged=np.sqrt(g_var_u) * sqrt_year,
        vol_hedged=np.sqrt(g_var_h) * sqrt_year,
        predicted_te=np.sqrt(te_sq.to_numpy()),
        variance_reduction=1.0 - g_var_h / g_var_u,
        test_start=grouped["test_start"].min().to_numpy(),
        test_end=grouped["test_end"].max().to_numpy(),
        n_rebalances=grouped["as_of"].nunique().to_numpy(),
        n_missing_hedge_returns=np.bincount(
            kept["gid"].to_numpy(),
            weights=n_missing_total[kept["hid"].to_numpy()],
            minlength=len(group_keys),
        ),
    )

    results = pd.concat(
        [
            rebalance.sort_values(HEDGE_KEY).loc[:, list(RESULT_COLUMNS)],
            full.sort_values(HEDGE_KEY).loc[:, list(RESULT_COLUMNS)],
        ],
        ignore_index=True,
    )
    results["horizon_days"] = results["horizon_days"].astype(np.int64)
    results["n_rebalances"] = results["n_rebalances"].astype(np.int64)
    results["n_missing_hedge_returns"] = results["n_missing_hedge_returns"].astype(np.int64)

    keep_long = ok[hid_long]
    daily = pd.DataFrame(
        {
            "date": dates[row_long[keep_long]],
            "as_of": hedges["as_of"].to_numpy()[hid_long[keep_long]],
            "ticker": hedges["ticker"].to_numpy()[hid_long[keep_long]],
            "method": hedges["method"].to_numpy()[hid_long[keep_long]],
            "ret_target": r_target[keep_long],
            "ret_basket": r_basket[keep_long],
            "ret_hedged": r_hedged[keep_long],
        }
    ).sort_values(["ticker", "method", "date"], ignore_index=True)
    skipped_frame = (
        pd.concat(skipped, ignore_index=True).sort_values(HEDGE_KEY, ignore_index=True)
        if skipped
        else pd.DataFrame({c: pd.Series(dtype=object) for c in SKIPPED_COLUMNS})
    )
    return BacktestEvaluation(
        results=results, daily=daily, skipped=skipped_frame.loc[:, list(SKIPPED_COLUMNS)]
    )


BASELINE_METHOD = "factor"
N_BOOTSTRAP = 2000
CONFIDENCE_LEVEL = 0.95
TIE_TOLERANCE = 1e-12
"""Variance reductions closer than this count as a tie (half a win), e.g. the baseline against
itself."""


def order_methods(methods: Sequence[str]) -> list[str]:
    """Return ``methods`` in the order of ``METHODS``, then any other method alphabetically."""
    known = [m for m in METHODS if m in methods]
    return known + sorted(set(methods) - set(known))


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


def backtest_hedges(
    hedge_weights: pd.DataFrame,
    hedge_diagnostics: pd.DataFrame,
    daily_returns: pd.DataFrame,
    *,
    horizon: int | None = None,
    missing_hedge_returns: MissingReturnPolicy = "cash",
) -> BacktestEvaluation:
    """Run the whole walk-forward backtest: splits from the hedges' as_of dates, then evaluation.

    The trading calendar is the set of dates present in ``daily_returns``; every ``as_of`` of
    ``hedge_weights`` is a rebalance date, held until the next one (``walk_forward_splits``).

    Parameters
    ----------
    hedge_weights, hedge_diagnostics, daily_returns : pd.DataFrame
        As for ``evaluate_hedges``; ``daily_returns`` must cover the dates after the first as_of.
    horizon : int, optional
        Cap on the holding period in trading days (``walk_forward_splits``).
    missing_hedge_returns : {"cash", "raise"}
        Treatment of missing hedge-name returns (``evaluate_hedges``).

    Returns
    -------
    BacktestEvaluation
        As ``evaluate_hedges``.

    Raises
    ------
    MissingColumnError
        If ``hedge_weights`` or ``daily_returns`` lacks its date column.
    InvalidValueError
        If a hedge's as_of is not a date of ``daily_returns`` (and as ``evaluate_hedges``).
    """
    require_columns(hedge_weights, WEIGHT_COLUMNS, "hedge_weights")
    require_columns(daily_returns, RETURN_COLUMNS, "daily_returns")
    as_of = _normalised_dates(hedge_weights["as_of"], "hedge_weights.as_of").unique()
    trading_dates = _normalised_dates(daily_returns["date"], "daily_returns.date").unique()
    splits = walk_forward_splits(trading_dates, as_of, horizon=horizon)
    return evaluate_hedges(
        hedge_weights,
        hedge_diagnostics,
        daily_returns,
        splits,
        missing_hedge_returns=missing_hedge_returns,
    )
