"""Walk-forward splits: which trading days each month-end hedge is judged on.

A hedge chosen at the close of rebalance date ``as_of`` uses only data known at that close
(exposures, covariance, specific risk, peers, trailing returns). It is put on at that close and
held, with constant weights, until the close of the next rebalance date. Its out-of-sample test
window is therefore the trading
days in the half-open interval ``(as_of, next_as_of]``:

* the **first test day** is the first trading day strictly after ``as_of`` (its return is earned
  from the ``as_of`` close to the next close, so it is the first return the hedge can affect);
* the **last test day** is the next rebalance date itself (its return is earned before the next
  basket is put on at that close);
* nothing at or before ``as_of`` is ever in a test window, and consecutive windows do not overlap,
  so the windows stitched together form one continuous out-of-sample series.

The last rebalance date has no successor; its basket is held over the trading days of the following
calendar month present in ``trading_dates`` (possibly a partial month at the end of the data). A
rebalance date with no trading day after it gets no split.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hedging_pipeline.errors import InsufficientHistoryError, InvalidValueError


@dataclass(frozen=True)
class Split:
    """One out-of-sample test window of the walk-forward backtest.

    Attributes
    ----------
    as_of : pd.Timestamp
        Rebalance date: the basket is chosen with data known at this close.
    test_start : pd.Timestamp
        First test day, the first trading day strictly after ``as_of``.
    test_end : pd.Timestamp
        Last test day (inclusive): the next rebalance date, or the cap set by ``horizon``.
    """

    as_of: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp

    def contains(self, dates: pd.DatetimeIndex | pd.Series) -> np.ndarray:
        """Return a boolean mask of ``dates`` inside the window ``[test_start, test_end]``."""
        values = pd.DatetimeIndex(dates)
        return np.asarray((values >= self.test_start) & (values <= self.test_end))


def _as_sorted_dates(values: Iterable[pd.Timestamp], name: str) -> pd.DatetimeIndex:
    """Return ``values`` as a sorted, unique, midnight-normalised DatetimeIndex (no NaT)."""
    index = pd.DatetimeIndex(pd.to_datetime(list(values)))
    if index.hasnans:
        raise InvalidValueError(f"{name} contains a missing date (NaT); every entry must be a date")
    return index.normalize().unique().sort_values().astype("datetime64[ns]")


def walk_forward_splits(
    trading_dates: Iterable[pd.Timestamp],
    as_of_dates: Iterable[pd.Timestamp],
    horizon: int | None = None,
) -> list[Split]:
    """Build the walk-forward test windows, one per rebalance date.

    Parameters
    ----------
    trading_dates : iterable of Timestamp
        Every trading day of the data (any order, duplicates ignored).
    as_of_dates : iterable of Timestamp
        Rebalance dates (month ends); each must be one of ``trading_dates``.
    horizon : int, optional
        Maximum number of trading days a basket is held. ``None`` (default) holds it until the next
        rebalance date, i.e. the window is ``(as_of, next_as_of]``; a smaller horizon truncates each
        window to its first ``horizon`` trading days (the rest of the month is then not tested).

    Returns
    -------
    list of Split
        Sorted by ``as_of``; rebalance dates with no trading day after them are left out.

    Raises
    ------
    InvalidValueError
        If a rebalance date is not a trading day, or ``horizon`` is not a positive integer.
    InsufficientHistoryError
        If ``trading_dates`` or ``as_of_dates`` is empty.
    """
    if horizon is not None and (
        isinstance(horizon, bool) or int(horizon) != horizon or horizon < 1
    ):
        raise InvalidValueError(
            f"horizon must be a positive number of trading days, got {horizon!r}"
        )
    days = _as_sorted_dates(trading_dates, "trading_dates")
    rebalances = _as_sorted_dates(as_of_dates, "as_of_dates")
    if days.empty or rebalances.empty:
        raise InsufficientHistoryError(
            f"walk-forward splits need trading days and rebalance dates, got {len(days)} "
            f"trading days "
            f"and {len(rebalances)} rebalance dates"
        )
    unknown = rebalances.difference(days)
    if not unknown.empty:
        raise InvalidValueError(
            f"rebalance date {unknown[0].date()} is not a trading day in the returns "
            f"({len(unknown)} such dates); use the last trading day of each month present in "
            f"the data"
        )

    positions = days.get_indexer(rebalances)
    # Window end (exclusive position in `days`): the position after the next rebalance date; for the
    # last rebalance, the position after the last trading day of the following calendar month.
    month_after_next = (rebalances[-1].to_period("M") + 2).start_time
    last_end = int(np.searchsorted(days.values, month_after_next.to_datetime64(), side="left"))
    ends = np.append(positions[1:] + 1, last_end)
    starts = positions + 1
    if horizon is not None:
        ends = np.minimum(ends, starts + int(horizon))
    return [
        Split(as_of=rebalances[i], test_start=days[starts[i]], test_end=days[ends[i] - 1])
        for i in range(len(rebalances))
        if ends[i] > starts[i]
    ]
