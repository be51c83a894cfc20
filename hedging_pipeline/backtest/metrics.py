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

from hedging_pipeline.backtest.inputs import (
    HEDGE_KEY,
    RETURN_COLUMNS,
    WEIGHT_COLUMNS,
    first_missing_name,
    grouped_moments,
    normalised_dates,
    prepare_hedges,
    require_columns,
    returns_panel,
    validate_splits,
)
from hedging_pipeline.backtest.walk_forward import Split, walk_forward_splits
from hedging_pipeline.errors import InsufficientHistoryError, InvalidValueError
from hedging_pipeline.types import TRADING_DAYS_PER_YEAR, FloatArray, IntArray

MissingReturnPolicy = Literal["cash", "raise"]
MISSING_RETURN_POLICIES: tuple[MissingReturnPolicy, ...] = ("cash", "raise")

MIN_TEST_DAYS = 2
"""A sample variance (``ddof=1``) needs at least two observations."""

SCOPE_REBALANCE = "rebalance"
SCOPE_FULL_PERIOD = "full_period"

RESULT_COLUMNS = (
    "as_of",
    "ticker",
    "method",
    "scope",
    "horizon_days",
    "vol_unhedged",
    "vol_hedged",
    "predicted_te",
    "variance_reduction",
    "test_start",
    "test_end",
    "n_rebalances",
    "n_missing_hedge_returns",
)
DAILY_COLUMNS = ("date", "as_of", "ticker", "method", "ret_target", "ret_basket", "ret_hedged")
SKIPPED_COLUMNS = ("as_of", "ticker", "method", "reason")


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


@dataclass(frozen=True)
class _Panel:
    """Returns of the test windows over the tickers the hedges need (``NaN`` = missing)."""

    dates: pd.DatetimeIndex
    tickers: pd.Index
    values: FloatArray  # (n_dates, n_tickers)

    @property
    def valid(self) -> np.ndarray:
        return ~np.isnan(self.values)


@dataclass(frozen=True)
class _Long:
    """Observed test days of every hedge in long form (one entry per hedge and target-return day)."""

    hid: IntArray
    row: IntArray
    target: FloatArray
    basket: FloatArray
    missing: IntArray

    @property
    def hedged(self) -> FloatArray:
        return self.target - self.basket


def _check_options(missing_hedge_returns: str, min_test_days: int) -> None:
    if missing_hedge_returns not in MISSING_RETURN_POLICIES:
        raise InvalidValueError(
            f"missing_hedge_returns must be one of {MISSING_RETURN_POLICIES}, "
            f"got {missing_hedge_returns!r}"
        )
    if min_test_days < MIN_TEST_DAYS:
        raise InvalidValueError(f"min_test_days must be >= {MIN_TEST_DAYS}, got {min_test_days}")


def _split_long(
    split: Split,
    weights: pd.DataFrame,
    hedges: pd.DataFrame,
    panel: _Panel,
    missing_hedge_returns: MissingReturnPolicy,
) -> tuple[IntArray, IntArray, FloatArray, FloatArray, IntArray] | None:
    """Target, basket and missing-name counts of the hedges of one split, on observed days."""
    rows = np.flatnonzero(split.contains(panel.dates))
    hids = hedges.loc[hedges["as_of"] == split.as_of, "hid"].to_numpy()
    if hids.size == 0 or rows.size == 0:
        return None
    local = np.full(len(hedges), -1)
    local[hids] = np.arange(hids.size)
    w_rows = weights.loc[weights["as_of"] == split.as_of]
    at = (local[w_rows["hid"].to_numpy()], panel.tickers.get_indexer(w_rows["hedge_ticker"]))
    shape = (hids.size, len(panel.tickers))
    w = w_rows["weight"].to_numpy()
    basket_w = sp.csr_matrix((w, at), shape=shape)
    held = sp.csr_matrix(((w > 0).astype(float), at), shape=shape)
    valid = panel.valid[rows]
    filled = np.where(valid, panel.values[rows], 0.0)
    basket = np.asarray(basket_w @ filled.T)  # (n_hedges, n_days)
    n_missing = np.rint(np.asarray(held @ (~valid).T.astype(float))).astype(np.int64)
    target_col = panel.tickers.get_indexer(hedges["ticker"].to_numpy()[hids])
    target = panel.values[rows][:, target_col].T  # (n_hedges, n_days)
    observed = ~np.isnan(target)
    if missing_hedge_returns == "raise" and (n_missing[observed] > 0).any():
        h, d = np.argwhere(observed & (n_missing > 0))[0]
        _raise_missing(weights, hedges.loc[hids[h]], panel, panel.dates[rows[d]])
    h_idx, d_idx = np.nonzero(observed)
    return (
        hids[h_idx],
        rows[d_idx],
        target[h_idx, d_idx],
        basket[h_idx, d_idx],
        n_missing[h_idx, d_idx],
    )


def _raise_missing(
    weights: pd.DataFrame, hedge: pd.Series, panel: _Panel, day: pd.Timestamp
) -> None:
    name = first_missing_name(
        weights, int(hedge["hid"]), day, panel.dates, panel.values, panel.tickers
    )
    raise InvalidValueError(
        f"daily_returns has no return for hedge ticker {name} on {day.date()} (in the "
        f"{hedge['method']} hedge of ticker {hedge['ticker']} as of "
        f"{hedge['as_of'].date()}); "
        f"use missing_hedge_returns='cash' to hold the proceeds in cash"
    )


def _long_returns(
    ordered: list[Split],
    weights: pd.DataFrame,
    hedges: pd.DataFrame,
    panel: _Panel,
    missing_hedge_returns: MissingReturnPolicy,
) -> _Long:
    """Concatenate every split's observed hedge days."""
    parts = [
        part
        for split in ordered
        if (part := _split_long(split, weights, hedges, panel, missing_hedge_returns)) is not None
    ]
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return _Long(empty, empty, np.zeros(0), np.zeros(0), empty)
    return _Long(*(np.concatenate(p) for p in zip(*parts, strict=True)))


def _screen(
    hedges: pd.DataFrame,
    count: IntArray,
    var_u: FloatArray,
    no_split: np.ndarray,
    min_test_days: int,
    skipped: list[pd.DataFrame],
) -> np.ndarray:
    """Mask of the hedges that can be evaluated; the others are appended to ``skipped``."""
    too_short = (count < min_test_days) & ~no_split
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
    return (count >= min_test_days) & (var_u > 0)


def _split_frame(ordered: list[Split]) -> pd.DataFrame:
    return pd.DataFrame(
        [(s.as_of, s.test_start, s.test_end) for s in ordered],
        columns=["as_of", "test_start", "test_end"],
    )


def _rebalance_rows(
    hedges: pd.DataFrame,
    ok: np.ndarray,
    count: IntArray,
    var_u: FloatArray,
    var_h: FloatArray,
    n_missing: IntArray,
    splits: pd.DataFrame,
    sqrt_year: float,
) -> pd.DataFrame:
    """One ``scope = rebalance`` row per evaluated hedge."""
    rebalance = hedges.loc[ok, [*HEDGE_KEY, "predicted_te"]].merge(splits, on="as_of", how="left")
    return rebalance.assign(
        scope=SCOPE_REBALANCE,
        horizon_days=count[ok],
        vol_unhedged=np.sqrt(var_u[ok]) * sqrt_year,
        vol_hedged=np.sqrt(var_h[ok]) * sqrt_year,
        variance_reduction=1.0 - var_h[ok] / var_u[ok],
        n_rebalances=1,
        n_missing_hedge_returns=n_missing[ok],
    )


def _full_period_rows(
    hedges: pd.DataFrame,
    ok: np.ndarray,
    count: IntArray,
    long: _Long,
    n_missing: IntArray,
    splits: pd.DataFrame,
    sqrt_year: float,
) -> pd.DataFrame:
    """One ``scope = full_period`` row per (ticker, method), on the months every method has."""
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
        splits, on="as_of", how="left"
    )
    gid_of_hid = np.full(len(hedges), -1)
    gid_of_hid[kept["hid"].to_numpy()] = kept["gid"].to_numpy()
    in_full = gid_of_hid[long.hid] >= 0
    g_count, (g_var_u, g_var_h) = grouped_moments(
        gid_of_hid[long.hid][in_full], len(group_keys), long.target[in_full], long.hedged[in_full]
    )
    grouped = kept.groupby("gid")
    te_sq = (kept["predicted_te"] ** 2 * kept["days"]).groupby(kept["gid"]).sum() / grouped[
        "days"
    ].sum()
    return group_keys.assign(
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
            weights=n_missing[kept["hid"].to_numpy()],
            minlength=len(group_keys),
        ),
    )


def _stack_results(rebalance: pd.DataFrame, full: pd.DataFrame) -> pd.DataFrame:
    results = pd.concat(
        [
            rebalance.sort_values(HEDGE_KEY).loc[:, list(RESULT_COLUMNS)],
            full.sort_values(HEDGE_KEY).loc[:, list(RESULT_COLUMNS)],
        ],
        ignore_index=True,
    )
    for column in ("horizon_days", "n_rebalances", "n_missing_hedge_returns"):
        results[column] = results[column].astype(np.int64)
    return results


def _daily_frame(
    hedges: pd.DataFrame, ok: np.ndarray, long: _Long, dates: pd.DatetimeIndex
) -> pd.DataFrame:
    keep = ok[long.hid]
    hid = long.hid[keep]
    return pd.DataFrame(
        {
            "date": dates[long.row[keep]],
            "as_of": hedges["as_of"].to_numpy()[hid],
            "ticker": hedges["ticker"].to_numpy()[hid],
            "method": hedges["method"].to_numpy()[hid],
            "ret_target": long.target[keep],
            "ret_basket": long.basket[keep],
            "ret_hedged": long.hedged[keep],
        }
    ).sort_values(["ticker", "method", "date"], ignore_index=True)


def _skipped_frame(skipped: list[pd.DataFrame]) -> pd.DataFrame:
    frame = (
        pd.concat(skipped, ignore_index=True).sort_values(HEDGE_KEY, ignore_index=True)
        if skipped
        else pd.DataFrame({c: pd.Series(dtype=object) for c in SKIPPED_COLUMNS})
    )
    return frame.loc[:, list(SKIPPED_COLUMNS)]


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
    _check_options(missing_hedge_returns, min_test_days)
    weights, hedges = prepare_hedges(hedge_weights, hedge_diagnostics)
    ordered = validate_splits(splits)
    tickers = pd.Index(sorted(set(weights["hedge_ticker"]) | set(hedges["ticker"])))
    dates, values = returns_panel(daily_returns, ordered, tickers)
    panel = _Panel(dates, tickers, values)
    skipped: list[pd.DataFrame] = []
    no_split = ~hedges["as_of"].isin([s.as_of for s in ordered]).to_numpy()
    if no_split.any():
        skipped.append(hedges.loc[no_split, HEDGE_KEY].assign(reason="no test window after as_of"))
    long = _long_returns(ordered, weights, hedges, panel, missing_hedge_returns)
    count, (var_u, var_h) = grouped_moments(long.hid, len(hedges), long.target, long.hedged)
    ok = _screen(hedges, count, var_u, no_split, min_test_days, skipped)
    if not ok.any():
        raise InsufficientHistoryError(
            f"no hedge could be evaluated: {len(hedges)} hedges, {len(ordered)} splits, "
            f"{len(panel.dates)} test days with returns; check that the splits follow the hedges' "
            f"as_of dates"
        )
    sqrt_year = float(np.sqrt(periods_per_year))
    n_missing = np.bincount(long.hid, weights=long.missing, minlength=len(hedges)).astype(np.int64)
    split_frame = _split_frame(ordered)
    rebalance = _rebalance_rows(hedges, ok, count, var_u, var_h, n_missing, split_frame, sqrt_year)
    full = _full_period_rows(hedges, ok, count, long, n_missing, split_frame, sqrt_year)
    return BacktestEvaluation(
        results=_stack_results(rebalance, full),
        daily=_daily_frame(hedges, ok, long, panel.dates),
        skipped=_skipped_frame(skipped),
    )


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
    as_of = normalised_dates(hedge_weights["as_of"], "hedge_weights.as_of").unique()
    trading_dates = normalised_dates(daily_returns["date"], "daily_returns.date").unique()
    splits = walk_forward_splits(trading_dates, as_of, horizon=horizon)
    return evaluate_hedges(
        hedge_weights,
        hedge_diagnostics,
        daily_returns,
        splits,
        missing_hedge_returns=missing_hedge_returns,
    )
