"""Validated inputs of the backtest: hedges, splits and the returns panel of the test windows.

Every check raises one line naming the table, column, ticker and date (``errors.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hedging_pipeline.backtest.walk_forward import Split
from hedging_pipeline.data.tables import HEDGE_KEY, RETURN_COLUMNS, WEIGHT_COLUMNS
from hedging_pipeline.data.validation import require_columns, require_unique
from hedging_pipeline.errors import DataError, InvalidValueError
from hedging_pipeline.types import FloatArray, IntArray

DIAGNOSTIC_INPUT_COLUMNS = ("as_of", "ticker", "method", "predicted_te")
"""The ``hedge_diagnostics`` columns the backtest reads."""


def normalised_dates(values: pd.Series, name: str) -> pd.Series:
    """Return ``values`` as midnight-normalised ``datetime64[ns]``; raise on NaT."""
    dates = pd.to_datetime(values).dt.normalize().astype("datetime64[ns]")
    if dates.isna().any():
        raise InvalidValueError(
            f"{name} has a missing date in row {int(np.flatnonzero(dates.isna())[0])}"
        )
    return dates


def validate_splits(splits: Sequence[Split]) -> list[Split]:
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


def prepare_hedges(
    hedge_weights: pd.DataFrame, hedge_diagnostics: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate weights and diagnostics; return (weights, hedges) with a hedge id ``hid``."""
    require_columns(hedge_weights, WEIGHT_COLUMNS, "hedge_weights")
    require_columns(hedge_diagnostics, DIAGNOSTIC_INPUT_COLUMNS, "hedge_diagnostics")
    weights = hedge_weights.loc[:, list(WEIGHT_COLUMNS)].copy()
    weights["as_of"] = normalised_dates(weights["as_of"], "hedge_weights.as_of")
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
    diagnostics["as_of"] = normalised_dates(diagnostics["as_of"], "hedge_diagnostics.as_of")
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


def returns_panel(
    daily_returns: pd.DataFrame, splits: Sequence[Split], tickers: pd.Index
) -> tuple[pd.DatetimeIndex, FloatArray]:
    """Return the wide returns inside the test windows: dates, (n_dates, n_tickers), NaN = missing.

    Only the days inside some split's window are read, so nothing at or before a rebalance date (nor
    after the last window) can leak into a result.
    """
    require_columns(daily_returns, RETURN_COLUMNS, "daily_returns")
    returns = daily_returns.loc[:, list(RETURN_COLUMNS)].copy()
    returns["date"] = normalised_dates(returns["date"], "daily_returns.date")
    in_window = np.zeros(len(returns), dtype=bool)
    for split in splits:
        in_window |= split.contains(returns["date"])
    returns = returns.loc[in_window & returns["ticker"].isin(tickers)]
    require_unique(returns, "daily_returns")
    wide = returns.pivot(index="date", columns="ticker", values="ret").sort_index()
    wide = wide.reindex(columns=tickers)
    return pd.DatetimeIndex(wide.index), wide.to_numpy(dtype=float)


def grouped_moments(
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


def first_missing_name(
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
