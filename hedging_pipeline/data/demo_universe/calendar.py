"""US trading days of the demo universe and validation of the generator's arguments."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.holiday import (
    AbstractHolidayCalendar,
    GoodFriday,
    Holiday,
    USLaborDay,
    USMartinLutherKingJr,
    USMemorialDay,
    USPresidentsDay,
    USThanksgivingDay,
    nearest_workday,
    sunday_to_monday,
)

from hedging_pipeline.data.demo_universe.parameters import (
    MAX_TICKERS,
    MIN_TICKERS_PER_SUB_INDUSTRY,
    MIN_TRADING_DAYS,
)
from hedging_pipeline.data.demo_universe.templates import Templates
from hedging_pipeline.errors import InvalidValueError


class _NyseHolidayCalendar(AbstractHolidayCalendar):
    rules = [
        Holiday("New Year's Day", month=1, day=1, observance=sunday_to_monday),
        USMartinLutherKingJr,
        USPresidentsDay,
        GoodFriday,
        USMemorialDay,
        Holiday("Juneteenth", month=6, day=19, start_date="2022-01-01", observance=nearest_workday),
        Holiday("Independence Day", month=7, day=4, observance=nearest_workday),
        USLaborDay,
        USThanksgivingDay,
        Holiday("Christmas Day", month=12, day=25, observance=nearest_workday),
    ]


def demo_trading_days(start: str | pd.Timestamp, end: str | pd.Timestamp) -> pd.DatetimeIndex:
    """US equity trading days between ``start`` and ``end`` (inclusive).

    Weekdays without the regular NYSE holidays: New Year's Day (Sunday -> Monday; a Saturday one is
    not moved), Martin Luther King Jr. Day, Presidents' Day, Good Friday, Memorial Day, Juneteenth
    (from 2022), Independence Day, Labor Day, Thanksgiving and Christmas (Saturday -> Friday,
    Sunday -> Monday). One-off closures (national days of mourning, storms) are not modelled.

    Parameters
    ----------
    start, end : str or pd.Timestamp
        Calendar bounds, inclusive.

    Returns
    -------
    pd.DatetimeIndex
        Sorted trading days (``datetime64[ns]``, midnight).
    """
    first, last = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    weekdays = pd.bdate_range(first, last)
    holidays = _NyseHolidayCalendar().holidays(first, last)
    return weekdays.difference(holidays)


def parse_date(value: str, label: str) -> pd.Timestamp:
    """``value`` as a midnight timestamp; an error naming ``label`` when it is not a date."""
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise InvalidValueError(
            f"demo universe: {label}={value!r} is not a date; give it as YYYY-MM-DD"
        )
    return stamp.normalize()


def validate_arguments(
    seed: int, n_tickers: int, start: str, end: str, templates: Templates
) -> pd.DatetimeIndex:
    """The trading days of ``start``..``end``, after checking every argument (one-line errors)."""
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise InvalidValueError(f"demo universe: seed={seed!r} must be a non-negative integer")
    n_sub = len(templates.sub_industries)
    low = MIN_TICKERS_PER_SUB_INDUSTRY * n_sub
    if not isinstance(n_tickers, int | np.integer) or not low <= n_tickers <= MAX_TICKERS:
        raise InvalidValueError(
            f"demo universe: n_tickers={n_tickers!r} is outside [{low}, {MAX_TICKERS}] "
            f"({MIN_TICKERS_PER_SUB_INDUSTRY} per sub-industry x {n_sub} sub-industries at least)"
        )
    first, last = parse_date(start, "start"), parse_date(end, "end")
    days = demo_trading_days(first, last)
    if len(days) < MIN_TRADING_DAYS:
        raise InvalidValueError(
            f"demo universe: start={first.date()} to end={last.date()} holds {len(days)} "
            f"trading days; need at least {MIN_TRADING_DAYS} (one year)"
        )
    return days


def manifest_parameters(seed: int, n_tickers: int, start: str, end: str) -> dict[str, Any]:
    """The generator arguments as the manifest records them (dates normalised to ``YYYY-MM-DD``)."""
    return {
        "seed": int(seed),
        "n_tickers": int(n_tickers),
        "start": str(parse_date(start, "start").date()),
        "end": str(parse_date(end, "end").date()),
    }
