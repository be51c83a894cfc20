"""Point-in-time fundamentals and the descriptors built from them (value, profitability, leverage).

A statement is usable from ``period_end + reporting_lag_days`` (31 December of ``fiscal_year`` when
``period_end`` is missing); see :func:`usable_fundamentals`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hedging_pipeline.data.validation import require_columns
from hedging_pipeline.types import FloatArray

if TYPE_CHECKING:
    from hedging_pipeline.risk.exposures import ExposureParameters

DAYS_PER_YEAR_END = (12, 31)
"""Fiscal year end assumed when ``period_end`` is missing."""

FUNDAMENTAL_FIELDS = (
    "total_equity",
    "total_assets",
    "total_liabilities",
    "long_term_debt",
    "short_term_debt",
    "net_income",
    "revenue",
    "operating_income",
)


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


def point_in_time_fundamentals(
    fundamentals: pd.DataFrame, dates: pd.DatetimeIndex, tickers: pd.Index, p: ExposureParameters
) -> dict[str, FloatArray]:
    """Each field as of each date: the latest usable non-missing value, ``(n_dates, n_assets)``."""
    known = usable_fundamentals(fundamentals, p.reporting_lag_days)
    known = known[known["ticker"].isin(tickers)]
    grid = pd.DataFrame(
        {
            "date": np.repeat(dates.to_numpy(), len(tickers)),
            "ticker": np.tile(tickers.to_numpy(), len(dates)),
        }
    )
    grid["row"] = np.arange(len(grid))
    grid = grid.sort_values("date", kind="stable")
    out = {}
    for field in FUNDAMENTAL_FIELDS:
        right = known.loc[known[field].notna(), ["ticker", "known_date", field]]
        merged = pd.merge_asof(
            grid,
            right,
            left_on="date",
            right_on="known_date",
            by="ticker",
            direction="backward",
            tolerance=pd.Timedelta(days=p.max_fundamental_age_days),
        )
        values = np.full(len(grid), np.nan)
        values[merged["row"].to_numpy()] = merged[field].to_numpy(dtype=float)
        out[field] = values.reshape(len(dates), len(tickers))
    return out


def fundamental_descriptors(f: Mapping[str, FloatArray], cap: FloatArray) -> dict[str, FloatArray]:
    """Value, profitability and leverage descriptors from point-in-time fields and market caps."""

    def ratio(num: FloatArray, den: FloatArray, positive_den: bool = True) -> FloatArray:
        ok = np.isfinite(num) & np.isfinite(den) & ((den > 0) if positive_den else (den != 0))
        return np.divide(num, den, out=np.full_like(num, np.nan), where=ok)

    debt = np.where(
        np.isfinite(f["long_term_debt"]) | np.isfinite(f["short_term_debt"]),
        np.nan_to_num(f["long_term_debt"]) + np.nan_to_num(f["short_term_debt"]),
        np.nan,
    )
    equity = f["total_equity"]
    return {
        "book_to_price": ratio(equity, cap),
        "earnings_to_price": ratio(f["net_income"], cap),
        "roe": ratio(f["net_income"], equity),
        "roa": ratio(f["net_income"], f["total_assets"]),
        "operating_margin": ratio(f["operating_income"], f["revenue"]),
        "market_leverage": ratio(cap + debt, cap),
        "debt_to_assets": ratio(f["total_liabilities"], f["total_assets"]),
        "book_leverage": ratio(equity + debt, equity),
    }
