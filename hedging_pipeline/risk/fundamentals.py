"""Point-in-time fundamentals and the descriptors built from them (value, profitability, leverage).

A statement is usable from ``period_end + reporting_lag_days`` (31 December of ``fiscal_year`` when
``period_end`` is missing; :func:`usable_fundamentals`). On each date every *statement item* takes
the latest usable statement in which it can be computed, carried forward with its **age** (days
since the statement became usable) for at most ``max_fundamental_age_days``.

Fiscal years are never mixed inside one ratio: each ratio of two statement lines (ROE, ROA,
operating margin, liabilities / assets, book leverage) is computed *within* one statement, and only
then carried forward; the market ratios (book-to-price, earnings-to-price, market leverage) combine
one statement line (equity, net income or total debt, itself from one statement) with the day's
market cap. Total debt is long-term plus short-term debt of the same statement.

A style's statement age on a date is the age of the oldest statement among the descriptors it uses
that day (NaN when it has none, i.e. when the exposure is imputed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hedging_pipeline.data.schema import FUNDAMENTAL_VALUES
from hedging_pipeline.data.validation import require_columns
from hedging_pipeline.types import FloatArray

DAYS_PER_YEAR_END = (12, 31)
"""Fiscal year end assumed when ``period_end`` is missing."""

FUNDAMENTAL_FIELDS = FUNDAMENTAL_VALUES[:8]
"""The statement values the styles read (the raw file's values less share count and EPS)."""


def usable_fundamentals(fundamentals: pd.DataFrame, reporting_lag_days: int) -> pd.DataFrame:
    """Add ``known_date``: the first date a statement may be used (period end + reporting lag).

    Rows without ``period_end`` use 31 December of ``fiscal_year``; rows with neither are dropped.
    The result is sorted by ``known_date`` then ``fiscal_year`` (the later year wins a tie).
    """
    require_columns(fundamentals, ("ticker",), "fundamentals")
    f = fundamentals.copy()
    period_end = pd.to_datetime(f["period_end"]) if "period_end" in f else pd.NaT
    if "fiscal_year" in f:
        year = pd.to_numeric(f["fiscal_year"], errors="coerce")
        month, day = DAYS_PER_YEAR_END
        fiscal_end = pd.to_datetime(
            {"year": year, "month": month, "day": day}, errors="coerce"
        ).where(year.notna())
    else:
        fiscal_end = pd.Series(pd.NaT, index=f.index)
    end = pd.Series(period_end, index=f.index).fillna(fiscal_end)
    f["known_date"] = end + pd.Timedelta(days=reporting_lag_days)
    f = f[f["known_date"].notna()]
    for column in FUNDAMENTAL_FIELDS:
        if column not in f:
            f[column] = np.nan
    sort = ["known_date", "fiscal_year"] if "fiscal_year" in f else ["known_date"]
    return f.sort_values(sort, kind="stable").reset_index(drop=True)


def _ratio(num: pd.Series, den: pd.Series, positive_den: bool = True) -> pd.Series:
    ok = num.notna() & den.notna() & ((den > 0) if positive_den else (den != 0))
    return (num / den.where(ok)).where(ok)


def _debt(f: pd.DataFrame) -> pd.Series:
    lt, st = f["long_term_debt"], f["short_term_debt"]
    return (lt.fillna(0.0) + st.fillna(0.0)).where(lt.notna() | st.notna())


STATEMENT_ITEMS: Mapping[str, Callable[[pd.DataFrame], pd.Series]] = {
    "total_equity": lambda f: f["total_equity"],
    "net_income": lambda f: f["net_income"],
    "total_debt": _debt,
    "roe": lambda f: _ratio(f["net_income"], f["total_equity"]),
    "roa": lambda f: _ratio(f["net_income"], f["total_assets"]),
    "operating_margin": lambda f: _ratio(f["operating_income"], f["revenue"]),
    "debt_to_assets": lambda f: _ratio(f["total_liabilities"], f["total_assets"]),
    "book_leverage": lambda f: _ratio(f["total_equity"] + _debt(f), f["total_equity"]),
}
"""Quantities computed inside one statement (never across fiscal years), then carried forward."""

DESCRIPTOR_ITEMS: Mapping[str, str] = {
    "book_to_price": "total_equity",
    "earnings_to_price": "net_income",
    "market_leverage": "total_debt",
    "roe": "roe",
    "roa": "roa",
    "operating_margin": "operating_margin",
    "debt_to_assets": "debt_to_assets",
    "book_leverage": "book_leverage",
}
"""The statement item behind each fundamental descriptor (its age is the item's)."""


@dataclass(frozen=True)
class PointInTimeItems:
    """Statement items as of each date, axes ``(n_dates, n_assets)``.

    Attributes
    ----------
    values : dict of str to FloatArray
        Each item of :data:`STATEMENT_ITEMS` from the latest usable statement that has it (NaN when
        none within the maximum age).
    age_days : dict of str to FloatArray
        Calendar days since that statement became usable (NaN with the value).
    """

    values: dict[str, FloatArray]
    age_days: dict[str, FloatArray]


def point_in_time_fundamentals(
    fundamentals: pd.DataFrame,
    dates: pd.DatetimeIndex,
    tickers: pd.Index,
    reporting_lag_days: int,
    max_fundamental_age_days: int,
) -> PointInTimeItems:
    """Carry each statement item forward from the day it is known, with its age.

    Parameters
    ----------
    fundamentals : pd.DataFrame
        Annual statements (``ticker``, ``period_end`` and/or ``fiscal_year``, the line items).
    dates : pd.DatetimeIndex
        Output dates, sorted.
    tickers : pd.Index
        Output tickers.
    reporting_lag_days : int
        Days from period end until a statement is usable.
    max_fundamental_age_days : int
        Days after becoming usable that a statement stays in use.

    Returns
    -------
    PointInTimeItems
        Values and ages of :data:`STATEMENT_ITEMS`, each ``(n_dates, n_assets)``.
    """
    known = usable_fundamentals(fundamentals, reporting_lag_days)
    known = known[known["ticker"].isin(tickers)]
    items = pd.DataFrame({name: rule(known) for name, rule in STATEMENT_ITEMS.items()})
    items[["ticker", "known_date"]] = known[["ticker", "known_date"]]
    grid = pd.DataFrame(
        {
            "date": np.repeat(dates.to_numpy(), len(tickers)),
            "ticker": np.tile(tickers.to_numpy(), len(dates)),
        }
    )
    grid["row"] = np.arange(len(grid))
    grid = grid.sort_values("date", kind="stable")
    values, ages = {}, {}
    for item in STATEMENT_ITEMS:
        right = items.loc[items[item].notna(), ["ticker", "known_date", item]]
        merged = pd.merge_asof(
            grid,
            right,
            left_on="date",
            right_on="known_date",
            by="ticker",
            direction="backward",
            tolerance=pd.Timedelta(days=max_fundamental_age_days),
        )
        rows = merged["row"].to_numpy()
        value, age = np.full(len(grid), np.nan), np.full(len(grid), np.nan)
        value[rows] = merged[item].to_numpy(dtype=float)
        age[rows] = (merged["date"] - merged["known_date"]).dt.days.to_numpy(dtype=float)
        values[item] = value.reshape(len(dates), len(tickers))
        ages[item] = age.reshape(len(dates), len(tickers))
    return PointInTimeItems(values=values, age_days=ages)


def fundamental_descriptors(items: PointInTimeItems, cap: FloatArray) -> dict[str, FloatArray]:
    """Value, profitability and leverage descriptors from point-in-time items and market caps.

    Book-to-price ``B / cap``, earnings-to-price ``E / cap`` and market leverage
    ``(cap + debt) / cap`` use the day's cap; the other descriptors are the statement ratios.
    """
    v = items.values
    ok_cap = np.isfinite(cap) & (cap > 0)
    safe_cap = np.where(ok_cap, cap, 1.0)

    def per_cap(x: FloatArray) -> FloatArray:
        return np.where(ok_cap & np.isfinite(x), x / safe_cap, np.nan)

    out = {
        "book_to_price": per_cap(v["total_equity"]),
        "earnings_to_price": per_cap(v["net_income"]),
        "market_leverage": np.where(
            ok_cap & np.isfinite(v["total_debt"]), (cap + v["total_debt"]) / safe_cap, np.nan
        ),
    }
    for name in ("roe", "roa", "operating_margin", "debt_to_assets", "book_leverage"):
        out[name] = v[name].copy()
    return out


def style_statement_age(
    items: PointInTimeItems,
    descriptors: Mapping[str, FloatArray],
    weights: Mapping[str, float],
) -> FloatArray:
    """Age (days) of the oldest statement among a style's available descriptors; NaN if none."""
    age = np.full_like(next(iter(items.age_days.values())), np.nan)
    for name in weights:
        item_age = np.where(
            np.isfinite(descriptors[name]), items.age_days[DESCRIPTOR_ITEMS[name]], np.nan
        )
        age = np.fmax(age, item_age)
    return age
