"""Data-quality rules of the risk model, evaluated before its tables are written.

Pure functions returning :class:`~hedging_pipeline.data.quality.QualityResult`; the Dagster layer turns
them into blocking checks (rules that must stop downstream work) or WARN checks (diagnostics).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from hedging_pipeline.data.quality import QualityResult, non_null
from hedging_pipeline.risk.diagnostics import BiasStatistics
from hedging_pipeline.types import STYLE_FACTORS

STANDARDISATION_TOLERANCE = 1e-6
PSD_TOLERANCE = 1e-10
"""Smallest eigenvalue allowed, relative to the largest (rounding of the stored matrix)."""

R2_RANGE = (0.02, 0.9)
"""Mean daily R² outside this range points at a broken regression (too little fit or overfit)."""


def exposures_complete(frame: pd.DataFrame) -> QualityResult:
    """Every row has all 7 styles and a positive market cap (blocking)."""
    result = non_null(frame, ["market_cap", "industry", *STYLE_FACTORS])
    if not result.passed:
        return result
    if (frame["market_cap"] <= 0).any():
        row = frame.loc[frame["market_cap"] <= 0].iloc[0]
        return QualityResult(
            False,
            f"non-positive market_cap for {row['ticker']} on {pd.Timestamp(row['date']).date()}",
        )
    return QualityResult(True, f"{len(frame):,} rows with 7 styles and a positive market cap")


STYLE_COVERAGE_WARN = 0.8
"""Share of names below which a style's coverage (observed, not imputed) earns a WARN."""
STYLE_WARMUP_MONTHS = 12
"""Months after a style is first observed in the drop before its coverage is held to the threshold.

A drop's fundamentals start with one fiscal year whose statements are filed over twelve months (fiscal years end
in different months), so value, profitability and leverage ramp up over a year; the price styles reach their
lookback for all names at once. Before a style is first observed the drop has no data for it at all: the
check reports that span instead of failing on it."""


def first_observed_periods(coverage: pd.DataFrame) -> dict[str, pd.Timestamp]:
    """First ``period`` of :func:`~hedging_pipeline.risk.exposures.style_coverage` with any observed name."""
    out = {}
    for style in STYLE_FACTORS:
        seen = coverage.loc[coverage[style] > 0, "period"]
        if len(seen):
            out[style] = pd.Timestamp(seen.min())
    return out


def style_coverage_sufficient(
    coverage: pd.DataFrame,
    threshold: float = STYLE_COVERAGE_WARN,
    *,
    first_observed: Mapping[str, pd.Timestamp] | None = None,
    warmup_months: int = STYLE_WARMUP_MONTHS,
) -> QualityResult:
    """Every style is observed for at least ``threshold`` of the names on every day (WARN).

    ``coverage`` is :func:`~hedging_pipeline.risk.exposures.style_coverage` (``min_daily_<style>``). A
    style is held to ``threshold`` from ``warmup_months`` after it is first observed: the earlier of
    ``first_observed`` (e.g. from the stored history, for a one-month run) and the first period of
    ``coverage`` with an observed name. The summary names the spans not held to it.
    """
    if coverage.empty:
        return QualityResult(True, "no rows")
    first = first_observed_periods(coverage)
    for style, when in (first_observed or {}).items():
        first[style] = min(pd.Timestamp(when), first.get(style, pd.Timestamp(when)))
    lows: dict[str, float] = {}
    where: dict[str, pd.Timestamp] = {}
    waived = []
    for style in STYLE_FACTORS:
        if style not in first:
            waived.append(f"{style} (never observed)")
            continue
        held_from = first[style].to_period("M").to_timestamp() + pd.DateOffset(months=warmup_months)
        if coverage["period"].min() < held_from:
            waived.append(f"{style} before {held_from:%Y-%m}")
        rows = coverage.loc[coverage["period"] >= held_from]
        if len(rows):
            column = rows[f"min_daily_{style}"]
            lows[style] = float(column.min())
            where[style] = pd.Timestamp(rows.loc[column.idxmin(), "period"])
    details = {f"min_{s}": v for s, v in lows.items()} | {"not_held": waived}
    not_held = (
        f"; not held to it (first {warmup_months} months of data, or none): {', '.join(waived)}"
    )
    if not lows:
        return QualityResult(True, "no style past its warm-up" + not_held, details)
    worst = min(lows, key=lows.get)
    passed = lows[worst] >= threshold
    summary = (
        f"lowest daily coverage {lows[worst]:.0%} ({worst}, {where[worst]:%Y-%m})"
        f"; {'all' if passed else 'not all'} styles >= {threshold:.0%} every day"
    )
    return QualityResult(passed, summary + (not_held if waived else ""), details)


def exposures_standardised(
    frame: pd.DataFrame, tolerance: float = STANDARDISATION_TOLERANCE
) -> QualityResult:
    """Each day and style: cap-weighted mean 0 and equal-weighted std 1 (or an all-zero style)."""
    if frame.empty:
        return QualityResult(True, "no rows")
    w = frame["market_cap"] / frame.groupby("date")["market_cap"].transform("sum")
    worst_mean, worst_std, where = 0.0, 0.0, ""
    for style in STYLE_FACTORS:
        mean = (w * frame[style]).groupby(frame["date"]).sum().abs()
        std = frame.groupby("date")[style].std(ddof=0)
        off = (std - 1.0).abs().where(std > tolerance, 0.0)  # an unidentified style is all 0
        if mean.max() > worst_mean or off.max() > worst_std:
            where = f"{style} on {pd.Timestamp(max(mean.idxmax(), off.idxmax())).date()}"
        worst_mean, worst_std = max(worst_mean, mean.max()), max(worst_std, off.max())
    passed = bool(worst_mean <= tolerance and worst_std <= tolerance)
    summary = f"largest |cap-weighted mean| {worst_mean:.1e}, largest |std - 1| {worst_std:.1e}" + (
        "" if passed else f" ({where})"
    )
    return QualityResult(
        passed, summary, {"max_abs_mean": float(worst_mean), "max_std_error": float(worst_std)}
    )


def factor_returns_complete(factor_returns: pd.DataFrame, n_factors: int) -> QualityResult:
    """No NaN factor return and every regression date carries every factor (blocking)."""
    result = non_null(factor_returns, ["ret"])
    if not result.passed:
        return result
    counts = factor_returns.groupby("date").size()
    short = counts[counts != n_factors]
    if len(short):
        return QualityResult(
            False,
            f"{pd.Timestamp(short.index[0]).date()} has {short.iloc[0]} factor returns, "
            f"expected {n_factors}",
        )
    return QualityResult(True, f"{len(counts):,} dates x {n_factors} factors, all finite")


def mean_r2_in_range(stats: pd.DataFrame, bounds: tuple[float, float] = R2_RANGE) -> QualityResult:
    """The mean daily R² lies in a plausible range (WARN)."""
    if stats.empty:
        return QualityResult(True, "no regression days in this window")
    mean = float(stats["r2"].mean())
    low, high = bounds
    return QualityResult(
        bool(low <= mean <= high),
        f"mean daily R² {mean:.3f} over {len(stats):,} days (expected {low}..{high})",
        {"mean_r2": mean},
    )


def covariance_psd(rows: pd.DataFrame, tolerance: float = PSD_TOLERANCE) -> QualityResult:
    """Every stored matrix is symmetric positive semi-definite (blocking)."""
    for date, day in rows.groupby("date"):
        wide = day.pivot(index="factor_1", columns="factor_2", values="cov")
        matrix = wide.loc[wide.columns].to_numpy(dtype=float)
        values = np.linalg.eigvalsh(0.5 * (matrix + matrix.T))
        asym = np.abs(matrix - matrix.T).max()
        if values.min() < -tolerance * max(values.max(), 1e-300) or asym > tolerance:
            return QualityResult(
                False,
                f"matrix of {pd.Timestamp(date).date()} not PSD: smallest eigenvalue "
                f"{values.min():.2e}, asymmetry {asym:.1e}",
            )
    return QualityResult(True, f"{rows['date'].nunique()} matrices symmetric PSD")


def specific_vol_positive(rows: pd.DataFrame) -> QualityResult:
    """Every specific volatility is finite and positive (blocking)."""
    result = non_null(rows, ["vol"])
    if not result.passed:
        return result
    bad = rows["vol"] <= 0
    if bad.any():
        row = rows.loc[bad].iloc[0]
        return QualityResult(
            False, f"vol {row['vol']} for {row['ticker']} on {pd.Timestamp(row['date']).date()}"
        )
    return QualityResult(True, f"{len(rows):,} positive specific vols")


def bias_in_band(bias: BiasStatistics | None) -> QualityResult:
    """The random portfolios' median bias statistic lies in ``1 ± sqrt(2/T)`` (WARN)."""
    if bias is None:
        return QualityResult(False, "no month-end risk model with a following period to test")
    low, high = bias.band
    median = bias.median_portfolio_bias
    return QualityResult(
        bool(low <= median <= high),
        f"median portfolio bias {median:.3f}, band [{low:.3f}, {high:.3f}] (T={bias.n_periods}); "
        f"{bias.share_portfolios_in_band:.0%} of portfolios in band",
        {"median_portfolio_bias": median, "median_stock_bias": bias.median_stock_bias},
    )
