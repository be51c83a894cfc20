"""Out-of-sample risk reduction of hedges: realised tracking error and variance reduction.

A hedge is short the basket, so the hedged position's daily return on test day ``d`` is

    h_d = r_target,d − Σ_i w_i r_i,d

with the weights ``w_i`` set at the rebalance date (``hedge_weights.weight``) when the basket is
re-set to them every day (``holding="weights"``). The pipeline holds the short as **share counts**
until the next rebalance (``holding="shares"``, what a desk does): name ``i`` is then worth
``w_i G_i,d−1`` and the position ``P_d−1`` before day ``d`` (growth since the rebalance), so the
basket's effective weight drifts to ``w_i G_i,d−1 / P_d−1``. At the next rebalance the desk trades
from the drifted basket to the new one: the **turnover** ``Σ_i |w_new,i − w_end,i|`` (fraction of the
position's value, NaN for a hedge's first month) costs ``cost_bp`` basis points of that notional,
charged on the new window's first day; ``variance_reduction_net`` is the variance reduction of that
net-of-cost series. The **variance reduction** of a hedge is


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

from hedging_pipeline.backtest.index import index_hedges, index_returns
from hedging_pipeline.backtest.inputs import (
    DIAGNOSTIC_INPUT_COLUMNS,
    first_missing_name,
    grouped_moments,
    normalised_dates,
    prepare_hedges,
    returns_panel,
    validate_splits,
)
from hedging_pipeline.backtest.walk_forward import Split, walk_forward_splits
from hedging_pipeline.data.tables import (
    HEDGE_KEY,
    RESULT_COLUMNS,
    RETURN_COLUMNS,
    SKIPPED_COLUMNS,
    WEIGHT_COLUMNS,
)
from hedging_pipeline.data.validation import require_columns
from hedging_pipeline.errors import InsufficientHistoryError, InvalidValueError
from hedging_pipeline.types import TRADING_DAYS_PER_YEAR, FloatArray, IntArray

MissingReturnPolicy = Literal["cash", "raise"]
MISSING_RETURN_POLICIES: tuple[MissingReturnPolicy, ...] = ("cash", "raise")

Holding = Literal["shares", "weights"]
HOLDINGS: tuple[Holding, ...] = ("shares", "weights")

MIN_TEST_DAYS = 2
"""A sample variance (``ddof=1``) needs at least two observations."""

COST_BP = 5.0
"""Default trading cost, basis points of traded notional (a liquid large-cap short: half-spread plus
commission)."""
BP = 1e-4

SCOPE_REBALANCE = "rebalance"
SCOPE_FULL_PERIOD = "full_period"


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
    cost: FloatArray  # trading cost charged on the day, fraction of the position

    @property
    def hedged(self) -> FloatArray:
        return self.target - self.basket

    @property
    def net(self) -> FloatArray:
        return self.target - self.basket - self.cost


def _check_options(
    missing_hedge_returns: str, min_test_days: int, holding: str, cost_bp: float
) -> None:
    if holding not in HOLDINGS or not np.isfinite(cost_bp) or cost_bp < 0:
        raise InvalidValueError(
            f"holding must be one of {HOLDINGS} and cost_bp finite >= 0, "
            f"got holding={holding!r}, cost_bp={cost_bp}"
        )
    if missing_hedge_returns not in MISSING_RETURN_POLICIES:
        raise InvalidValueError(
            f"missing_hedge_returns must be one of {MISSING_RETURN_POLICIES}, "
            f"got {missing_hedge_returns!r}"
        )
    if min_test_days < MIN_TEST_DAYS:
        raise InvalidValueError(f"min_test_days must be >= {MIN_TEST_DAYS}, got {min_test_days}")


def _basket_returns(
    basket_w: sp.csr_matrix, filled: FloatArray, target_col: IntArray, holding: Holding
) -> tuple[FloatArray, sp.csr_matrix]:
    """Daily basket returns ``(n_hedges, n_days)`` and the end-of-window weights of each hedge.

    ``weights``: ``Σ_i w_i r_id`` (re-set every day), end weights = ``w``. ``shares``: the short is
    held as share counts, so name ``i`` is worth ``w_i G_i,d−1`` and the position ``P_d−1`` before
    day ``d`` (``G``, ``P``: growth since the rebalance, missing returns count as 0); the basket
    return as a fraction of the position is ``Σ_i w_i G_i,d−1 r_id / P_d−1`` and the end weights are
    ``w_i G_i,end / P_end``.
    """
    if holding == "weights":
        return np.asarray(basket_w @ filled.T), basket_w
    growth = np.cumprod(1.0 + filled, axis=0)  # (n_days, n_tickers)
    prev = np.vstack([np.ones((1, growth.shape[1])), growth[:-1]])
    basket = np.asarray(basket_w @ (prev * filled).T) / prev[:, target_col].T
    end = sp.diags(1.0 / growth[-1, target_col]) @ basket_w.multiply(growth[-1][None, :])
    return basket, sp.csr_matrix(end)


def _split_long(
    split: Split,
    weights: pd.DataFrame,
    hedges: pd.DataFrame,
    panel: _Panel,
    missing_hedge_returns: MissingReturnPolicy,
    holding: Holding,
) -> tuple[tuple[IntArray, IntArray, FloatArray, FloatArray, IntArray], pd.DataFrame] | None:
    """Target, basket and missing-name counts of one split's hedges on observed days; end weights."""
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
    held = sp.csr_matrix(((w > 0).astype(float), at), shape=shape)
    valid = panel.valid[rows]
    filled = np.where(valid, panel.values[rows], 0.0)
    target_col = panel.tickers.get_indexer(hedges["ticker"].to_numpy()[hids])
    basket, end = _basket_returns(
        sp.csr_matrix((w, at), shape=shape), filled, target_col, holding
    )  # (n_hedges, n_days)
    n_missing = np.rint(np.asarray(held @ (~valid).T.astype(float))).astype(np.int64)
    target = panel.values[rows][:, target_col].T  # (n_hedges, n_days)
    observed = ~np.isnan(target)
    if missing_hedge_returns == "raise" and (n_missing[observed] > 0).any():
        h, d = np.argwhere(observed & (n_missing > 0))[0]
        _raise_missing(weights, hedges.loc[hids[h]], panel, panel.dates[rows[d]])
    h_idx, d_idx = np.nonzero(observed)
    end = end.tocoo()
    drift = pd.DataFrame(
        {"hid": hids[end.row], "hedge_ticker": panel.tickers[end.col], "weight_end": end.data}
    )
    long = (
        hids[h_idx],
        rows[d_idx],
        target[h_idx, d_idx],
        basket[h_idx, d_idx],
        n_missing[h_idx, d_idx],
    )
    return long, drift


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
    holding: Holding,
) -> tuple[_Long, pd.DataFrame]:
    """Concatenate every split's observed hedge days; the end-of-window weights of every hedge."""
    parts, drifts = [], []
    for split in ordered:
        part = _split_long(split, weights, hedges, panel, missing_hedge_returns, holding)
        if part is not None:
            parts.append(part[0])
            drifts.append(part[1])
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        drift = pd.DataFrame(
            {"hid": empty, "hedge_ticker": pd.Series(dtype=object), "weight_end": np.zeros(0)}
        )

        return _Long(empty, empty, np.zeros(0), np.zeros(0), empty, np.zeros(0)), drift
    arrays = [np.concatenate(p) for p in zip(*parts, strict=True)]
    return _Long(*arrays, np.zeros(len(arrays[0]))), pd.concat(drifts, ignore_index=True)


def _turnover(
    hedges: pd.DataFrame, weights: pd.DataFrame, drift: pd.DataFrame, ordered: list[Split]
) -> FloatArray:
    """One-way traded notional at each rebalance, as a fraction of the position's value.

    ``Σ_i |w_new,i − w_end,i|`` against the previous month's basket of the same (ticker, method)
    as it drifted to the end of its window; NaN for a hedge without one (the first month: setting
    the hedge up is not a rebalancing cost).
    """
    prev_as_of = {nxt.as_of: prev.as_of for prev, nxt in zip(ordered, ordered[1:], strict=False)}
    key = hedges[["ticker", "method", "as_of", "hid"]]
    pairs = key.assign(as_of=key["as_of"].map(prev_as_of)).dropna(subset=["as_of"])
    pairs = pairs.merge(
        key.rename(columns={"hid": "prev_hid"}), on=["ticker", "method", "as_of"], how="inner"
    )[["hid", "prev_hid"]]
    old = drift.rename(columns={"hid": "prev_hid"}).merge(pairs, on="prev_hid")
    new = weights.loc[weights["hid"].isin(pairs["hid"]), ["hid", "hedge_ticker", "weight"]]
    both = new.merge(
        old[["hid", "hedge_ticker", "weight_end"]], on=["hid", "hedge_ticker"], how="outer"
    )
    traded = (both["weight"].fillna(0.0) - both["weight_end"].fillna(0.0)).abs()
    out = np.full(len(hedges), np.nan)
    out[pairs["hid"].to_numpy()] = 0.0
    per_hedge = traded.groupby(both["hid"]).sum()
    out[per_hedge.index.to_numpy(dtype=np.int64)] = per_hedge.to_numpy()
    return out


def _charge_costs(long: _Long, turnover: FloatArray, cost_bp: float) -> _Long:
    """Charge ``cost_bp`` of the traded notional on each hedge's first observed test day."""
    cost = np.zeros(len(long.hid))
    if len(long.hid):
        _, first = np.unique(long.hid, return_index=True)
        cost[first] = cost_bp * BP * np.nan_to_num(turnover[long.hid[first]])
    return _Long(long.hid, long.row, long.target, long.basket, long.missing, cost)


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
    var_net: FloatArray,
    per_hedge: tuple[IntArray, FloatArray],
    splits: pd.DataFrame,
    sqrt_year: float,
) -> pd.DataFrame:
    """One ``scope = rebalance`` row per evaluated hedge."""
    n_missing, turnover = per_hedge
    rebalance = hedges.loc[ok, [*HEDGE_KEY, "predicted_te"]].merge(splits, on="as_of", how="left")
    return rebalance.assign(
        scope=SCOPE_REBALANCE,
        horizon_days=count[ok],
        vol_unhedged=np.sqrt(var_u[ok]) * sqrt_year,
        vol_hedged=np.sqrt(var_h[ok]) * sqrt_year,
        variance_reduction=1.0 - var_h[ok] / var_u[ok],
        n_rebalances=1,
        n_missing_hedge_returns=n_missing[ok],
        turnover=turnover[ok],
        variance_reduction_net=1.0 - var_net[ok] / var_u[ok],
    )


def _full_period_rows(
    hedges: pd.DataFrame,
    ok: np.ndarray,
    count: IntArray,
    long: _Long,
    per_hedge: tuple[IntArray, FloatArray],
    splits: pd.DataFrame,
    sqrt_year: float,
) -> pd.DataFrame:
    """One ``scope = full_period`` row per (ticker, method), on the months every method has."""
    n_missing, turnover = per_hedge
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
    g_count, (g_var_u, g_var_h, g_var_net) = grouped_moments(
        gid_of_hid[long.hid][in_full],
        len(group_keys),
        long.target[in_full],
        long.hedged[in_full],
        long.net[in_full],
    )
    kept["turnover"] = turnover[kept["hid"].to_numpy()]
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
        turnover=grouped["turnover"].mean().reindex(group_keys["gid"]).to_numpy(),
        variance_reduction_net=1.0 - g_var_net / g_var_u,
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
    holding: Holding = "weights",
    cost_bp: float = COST_BP,
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
    holding : {"weights", "shares"}
        ``weights``: the basket is re-set to its weights every day; ``shares``: it is held as share
        counts until the next rebalance, so its weights drift (see the module docstring).
    cost_bp : float
        Trading cost in basis points of traded notional, charged on a hedge's first test day on the
        turnover from the previous month's drifted basket (``variance_reduction_net``).

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
    _check_options(missing_hedge_returns, min_test_days, holding, cost_bp)
    weights, hedges = prepare_hedges(hedge_weights, hedge_diagnostics)
    ordered = validate_splits(splits)
    tickers = pd.Index(sorted(set(weights["hedge_ticker"]) | set(hedges["ticker"])))
    dates, values = returns_panel(daily_returns, ordered, tickers)
    panel = _Panel(dates, tickers, values)
    skipped: list[pd.DataFrame] = []
    no_split = ~hedges["as_of"].isin([s.as_of for s in ordered]).to_numpy()
    if no_split.any():
        skipped.append(hedges.loc[no_split, HEDGE_KEY].assign(reason="no test window after as_of"))
    long, drift = _long_returns(ordered, weights, hedges, panel, missing_hedge_returns, holding)
    turnover = _turnover(hedges, weights, drift, ordered)
    long = _charge_costs(long, turnover, cost_bp)
    count, (var_u, var_h, var_net) = grouped_moments(
        long.hid, len(hedges), long.target, long.hedged, long.net
    )
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
    per_hedge = (n_missing, turnover)
    rebalance = _rebalance_rows(
        hedges, ok, count, var_u, var_h, var_net, per_hedge, split_frame, sqrt_year
    )
    full = _full_period_rows(hedges, ok, count, long, per_hedge, split_frame, sqrt_year)
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
    market_caps: pd.DataFrame | None = None,
    holding: Holding = "shares",
    cost_bp: float = COST_BP,
) -> BacktestEvaluation:
    """Run the whole walk-forward backtest: splits from the hedges' as_of dates, then evaluation.

    The trading calendar is the set of dates present in ``daily_returns``; every ``as_of`` of
    ``hedge_weights`` is a rebalance date, held until the next one (``walk_forward_splits``). With
    ``market_caps``, every hedged (as_of, ticker) also gets the ``index`` and ``index_beta`` shorts
    of the cap-weighted universe index (``backtest.index``).

    Parameters
    ----------
    hedge_weights, hedge_diagnostics, daily_returns : pd.DataFrame
        As for ``evaluate_hedges``; ``daily_returns`` must cover the dates after the first as_of.
    horizon : int, optional
        Cap on the holding period in trading days (``walk_forward_splits``).
    missing_hedge_returns : {"cash", "raise"}
        Treatment of missing hedge-name returns (``evaluate_hedges``).
    market_caps : pd.DataFrame, optional
        ``date, ticker, market_cap``: adds the index baselines.
    holding : {"shares", "weights"}
        How the short is held between rebalances (``evaluate_hedges``); the pipeline holds shares.
    cost_bp : float
        Trading cost, basis points of traded notional (``evaluate_hedges``).

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
    if market_caps is not None:
        index = index_returns(daily_returns, market_caps)
        targets = hedge_weights[["as_of", "ticker"]].drop_duplicates()
        targets = targets.assign(as_of=normalised_dates(targets["as_of"], "hedge_weights.as_of"))
        idx_weights, idx_diagnostics = index_hedges(targets, daily_returns, index)
        hedge_weights = pd.concat([hedge_weights[list(WEIGHT_COLUMNS)], idx_weights])
        hedge_diagnostics = pd.concat(
            [hedge_diagnostics[list(DIAGNOSTIC_INPUT_COLUMNS)], idx_diagnostics], ignore_index=True
        )
        daily_returns = pd.concat([daily_returns[list(RETURN_COLUMNS)], index], ignore_index=True)
    return evaluate_hedges(
        hedge_weights,
        hedge_diagnostics,
        daily_returns,
        splits,
        missing_hedge_returns=missing_hedge_returns,
        holding=holding,
        cost_bp=cost_bp,
    )
