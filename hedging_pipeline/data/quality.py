"""Data-quality rules evaluated on panels before they are written.

Pure functions; the Dagster layer turns each :class:`QualityResult` into an asset check result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MIN_DAILY_COVERAGE = 0.5
"""A trading day whose panel holds fewer than this fraction of the day's traded tickers is flagged."""
EXTREME_RETURN = 0.5
"""Absolute daily return above which a row is reported for review (most are real events)."""


@dataclass(frozen=True)
class QualityResult:
    """Outcome of one rule: whether it passed, a one-line summary and details for metadata."""

    passed: bool
    summary: str
    details: dict[str, object] = field(default_factory=dict)


def unique_keys(frame: pd.DataFrame, keys: Sequence[str]) -> QualityResult:
    """No two rows share ``keys``."""
    dup = frame.duplicated(list(keys), keep=False)
    if not dup.any():
        return QualityResult(True, f"{len(frame):,} rows, ({', '.join(keys)}) unique")
    first = frame.loc[dup].iloc[0]
    where = ", ".join(f"{k}={first[k]}" for k in keys)
    return QualityResult(False, f"{int(dup.sum())} rows with duplicate keys, first at {where}")


def non_null(frame: pd.DataFrame, columns: Sequence[str]) -> QualityResult:
    """Required columns hold no NaN / infinite values."""
    for column in columns:
        values = frame[column]
        bad = values.isna()
        if pd.api.types.is_float_dtype(values):
            bad |= ~np.isfinite(values.to_numpy())
        if bad.any():
            row = frame.loc[bad].iloc[0]
            label = _row_label(row)
            return QualityResult(
                False, f"{int(bad.sum())} null/infinite {column!r} values, first {label}"
            )
    return QualityResult(True, f"no null values in {', '.join(columns)}")


def positive(frame: pd.DataFrame, columns: Sequence[str]) -> QualityResult:
    """Columns are strictly positive where present."""
    for column in columns:
        bad = frame[column] <= 0
        if bad.any():
            row = frame.loc[bad].iloc[0]
            return QualityResult(
                False, f"{int(bad.sum())} non-positive {column!r} values, first {_row_label(row)}"
            )
    return QualityResult(True, f"{', '.join(columns)} > 0 everywhere")


def coverage_per_date(
    frame: pd.DataFrame, expected: pd.Series, *, min_fraction: float = MIN_DAILY_COVERAGE
) -> QualityResult:
    """Each date's row count is at least ``min_fraction`` of the ``expected`` count (index date)."""
    if expected.empty:
        return QualityResult(True, "no trading days in the window")
    counts = frame.groupby("date").size().reindex(expected.index, fill_value=0)
    ratio = counts / expected.clip(lower=1)
    low = ratio[ratio < min_fraction]
    details = {"min_coverage": float(ratio.min()), "n_dates": int(len(ratio))}
    if low.empty:
        return QualityResult(
            True, f"every day covers >= {min_fraction:.0%} of traded tickers", details
        )
    return QualityResult(
        False,
        f"{len(low)} day(s) below {min_fraction:.0%} coverage, first {low.index[0].date()} "
        f"({low.iloc[0]:.0%})",
        details,
    )


def extreme_returns(frame: pd.DataFrame, *, threshold: float = EXTREME_RETURN) -> QualityResult:
    """Report daily returns with ``|ret| > threshold`` (passes when none)."""
    bad = frame["ret"].abs() > threshold
    if not bad.any():
        return QualityResult(True, f"no |ret| > {threshold:.0%}")
    rows = frame.loc[bad].sort_values("ret", key=np.abs, ascending=False).head(10)
    listed = "; ".join(f"{r.ticker} {r.date.date()} {r.ret:+.1%}" for r in rows.itertuples())
    return QualityResult(False, f"{int(bad.sum())} returns with |ret| > {threshold:.0%}: {listed}")


def _row_label(row: pd.Series) -> str:
    parts = []
    if "ticker" in row.index:
        parts.append(f"ticker {row['ticker']}")
    if "date" in row.index:
        parts.append(f"on {pd.Timestamp(row['date']).date()}")
    return " ".join(parts) or f"row {row.name}"
