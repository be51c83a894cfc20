"""Trading calendar helpers: month-end rebalance dates and month keys (``YYYY-MM``)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from hedging_pipeline.errors import InsufficientHistoryError

MONTH_KEY_FORMAT = "%Y-%m"


def month_key(date: pd.Timestamp) -> str:
    """``YYYY-MM`` key of the month holding ``date``."""
    return pd.Timestamp(date).strftime(MONTH_KEY_FORMAT)


def last_complete_month(data_end: pd.Timestamp) -> pd.Period:
    """The last month whose final business day is covered by data ending on ``data_end``."""
    end = pd.Timestamp(data_end)
    month = end.to_period("M")
    return month if (end + pd.offsets.BDay(1)).month != end.month else month - 1


def month_end_dates(calendar: Sequence[pd.Timestamp] | pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Last trading day of every month present in ``calendar`` (sorted).

    The final month counts only if it is complete, i.e. the calendar continues past it; a month whose last
    trading day is also the calendar's last day is treated as still open.
    """
    days = pd.DatetimeIndex(sorted(pd.DatetimeIndex(calendar).unique()))
    if days.empty:
        return days
    ends = pd.Series(days, index=days).groupby(days.to_period("M")).max()
    ends = pd.DatetimeIndex(ends.to_numpy())
    return ends[ends < days[-1]] if _month_open(days) else ends


def _month_open(days: pd.DatetimeIndex) -> bool:
    last = days[-1]
    return (last + pd.offsets.BDay(1)).month == last.month


def as_of_for_month(calendar: Sequence[pd.Timestamp] | pd.DatetimeIndex, key: str) -> pd.Timestamp:
    """The rebalance date of month ``key``: its last trading day in ``calendar``.

    Raises
    ------
    InsufficientHistoryError
        If the calendar has no trading day in that month.
    """
    days = pd.DatetimeIndex(calendar)
    period = pd.Period(key, freq="M")
    inside = days[(days >= period.start_time) & (days <= period.end_time)]
    if inside.empty:
        raise InsufficientHistoryError(
            f"month {key}: no trading day in the data (data spans "
            f"{days.min().date() if len(days) else 'nothing'} to "
            f"{days.max().date() if len(days) else 'nothing'})"
        )
    return pd.Timestamp(inside.max())


def trading_days_before(
    calendar: Sequence[pd.Timestamp] | pd.DatetimeIndex, date: pd.Timestamp, count: int
) -> pd.Timestamp:
    """The trading day ``count`` days before ``date`` (or the first one available)."""
    days = pd.DatetimeIndex(sorted(pd.DatetimeIndex(calendar)))
    position = int(days.searchsorted(pd.Timestamp(date), side="left"))
    return pd.Timestamp(days[max(position - count, 0)]) if len(days) else pd.Timestamp(date)
