"""Inputs of the daily factor regression: validation and the dense ``(dates, assets)`` panel.

The regression of the returns over ``d`` uses the exposures of the latest ``style_exposures`` date
strictly before ``d`` (at most ``max_exposure_age_days`` older); this module selects those dates,
checks the exposures (positive caps, an industry for every row, known industries) and scatters the
long tables into the dense arrays :mod:`hedging_pipeline.risk.regression` works on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hedging_pipeline.data.tables import EXPOSURE_COLUMNS, RETURN_COLUMNS
from hedging_pipeline.data.validation import require_columns, require_unique
from hedging_pipeline.errors import InsufficientHistoryError, InvalidValueError
from hedging_pipeline.types import STYLE_FACTORS, FloatArray, IntArray


@dataclass(frozen=True)
class Panel:
    """Dense regression inputs; axes ``(n_dates, n_assets[, n_factors])``."""

    dates: pd.DatetimeIndex
    tickers: pd.Index
    industries: tuple[str, ...]
    y: FloatArray  # (T, N) returns over each date, NaN where missing
    exposure_row: IntArray  # (T,) row of the exposure arrays used for each date
    exposure_dates: pd.DatetimeIndex  # (E,)
    styles: FloatArray  # (E, N, S)
    industry_code: IntArray  # (E, N), -1 where the asset has no exposure row
    cap: FloatArray  # (E, N), NaN where no exposure row


def _first_date(index: pd.DatetimeIndex) -> str:
    return str(index.min().date()) if len(index) else "nowhere"


def _check_exposure_values(style_exposures: pd.DataFrame) -> None:
    """Raise on a non-positive or missing market cap, or a missing industry."""
    cap = style_exposures["market_cap"].to_numpy(dtype=float)
    bad = ~(np.isfinite(cap) & (cap > 0))
    if bad.any():
        row = style_exposures.loc[bad].iloc[0]
        raise InvalidValueError(
            f"style_exposures: column market_cap must be positive and finite, found "
            f"{row['market_cap']} for ticker {row['ticker']} on {pd.Timestamp(row['date']).date()} "
            f"({int(bad.sum())} such rows); "
            f"leave assets without a market cap out of style_exposures"
        )
    if style_exposures["industry"].isna().any():
        row = style_exposures.loc[style_exposures["industry"].isna()].iloc[0]
        raise InvalidValueError(
            f"style_exposures: column industry is missing for ticker {row['ticker']} on "
            f"{pd.Timestamp(row['date']).date()}"
        )


def _select_dates(
    exposure_dates_all: pd.DatetimeIndex,
    return_dates: pd.DatetimeIndex,
    dates: Iterable[pd.Timestamp] | None,
    max_exposure_age_days: int,
    skip_unexplained: bool,
) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex, list[pd.Timestamp]]:
    """Output dates, the exposure date explaining each, and the dates left unexplained."""
    if dates is None:
        out_dates = (
            return_dates[return_dates > exposure_dates_all.min()] if len(exposure_dates_all) else []
        )
        out_dates = pd.DatetimeIndex(out_dates)
    else:
        wanted = pd.DatetimeIndex(pd.to_datetime(list(dates))).unique().sort_values()
        out_dates = wanted[
            wanted.isin(return_dates)
        ]  # dates without any return are non-trading days

    # The exposures explaining date d are the latest ones strictly before d.
    pos = exposure_dates_all.searchsorted(out_dates, side="left") - 1
    unexplained = list(out_dates[pos < 0]) if skip_unexplained else []
    if unexplained:
        out_dates, pos = out_dates[pos >= 0], pos[pos >= 0]
    if len(out_dates) and (pos < 0).any():
        first = out_dates[int(np.flatnonzero(pos < 0)[0])]
        raise InsufficientHistoryError(
            f"style_exposures: no exposures before {first.date()} to explain its returns "
            f"(exposures start {_first_date(exposure_dates_all)}); "
            f"pass a lookback that includes the previous trading day"
        )
    used = exposure_dates_all[pos] if len(out_dates) else pd.DatetimeIndex([])
    age = (out_dates - used).days if len(out_dates) else np.array([], dtype=int)
    if len(out_dates) and (np.asarray(age) > max_exposure_age_days).any():
        k = int(np.flatnonzero(np.asarray(age) > max_exposure_age_days)[0])
        raise InsufficientHistoryError(
            f"style_exposures: the latest exposures before {out_dates[k].date()} are from "
            f"{used[k].date()}, "
            f"{int(age[k])} days earlier (at most {max_exposure_age_days} allowed); materialise "
            f"style_exposures for the previous trading day"
        )
    return pd.DatetimeIndex(out_dates), pd.DatetimeIndex(used), unexplained


def _dense_panel(
    style_exposures: pd.DataFrame,
    daily_returns: pd.DataFrame,
    out_dates: pd.DatetimeIndex,
    used: pd.DatetimeIndex,
    industries: Sequence[str] | None,
) -> Panel:
    """Scatter the long exposures and returns into the dense arrays of :class:`Panel`."""
    exposure_dates = pd.DatetimeIndex(used.unique()).sort_values()
    exposure_row = exposure_dates.get_indexer(used).astype(np.int64)

    ex = style_exposures[style_exposures["date"].isin(exposure_dates)]
    industry_list = tuple(
        sorted(set(industries) if industries is not None else set(ex["industry"]))
    )
    unknown = set(ex["industry"]) - set(industry_list)
    if unknown:
        raise InvalidValueError(
            f"style_exposures: industry {sorted(unknown)[0]!r} is not among the model's industries "
            f"{list(industry_list)}"
        )
    tickers = pd.Index(sorted(ex["ticker"].unique()))
    n_e, n_a, n_s = len(exposure_dates), len(tickers), len(STYLE_FACTORS)
    ei = exposure_dates.get_indexer(ex["date"])
    ai = tickers.get_indexer(ex["ticker"])
    styles = np.full((n_e, n_a, n_s), np.nan)
    styles[ei, ai, :] = ex[list(STYLE_FACTORS)].to_numpy(dtype=float)
    code = np.full((n_e, n_a), -1, dtype=np.int64)
    code[ei, ai] = pd.Index(industry_list).get_indexer(ex["industry"])
    caps = np.full((n_e, n_a), np.nan)
    caps[ei, ai] = ex["market_cap"].to_numpy(dtype=float)

    rets = daily_returns[daily_returns["date"].isin(out_dates)]
    rets = rets[rets["ticker"].isin(tickers)]
    y = np.full((len(out_dates), n_a), np.nan)
    y[out_dates.get_indexer(rets["date"]), tickers.get_indexer(rets["ticker"])] = rets[
        "ret"
    ].to_numpy(dtype=float)
    return Panel(
        dates=pd.DatetimeIndex(out_dates),
        tickers=tickers,
        industries=industry_list,
        y=y,
        exposure_row=exposure_row,
        exposure_dates=exposure_dates,
        styles=styles,
        industry_code=code,
        cap=caps,
    )


def prepare_panel(
    style_exposures: pd.DataFrame,
    daily_returns: pd.DataFrame,
    dates: Iterable[pd.Timestamp] | None,
    industries: Sequence[str] | None,
    max_exposure_age_days: int,
    skip_unexplained: bool = False,
) -> tuple[Panel, list[pd.Timestamp]]:
    """Validate the inputs and build the dense panel; also return the unexplained dates."""
    require_columns(style_exposures, EXPOSURE_COLUMNS, "style_exposures")
    require_columns(daily_returns, RETURN_COLUMNS, "daily_returns")
    require_unique(style_exposures, "style_exposures")
    require_unique(daily_returns, "daily_returns")
    _check_exposure_values(style_exposures)
    out_dates, used, unexplained = _select_dates(
        pd.DatetimeIndex(style_exposures["date"].unique()).sort_values(),
        pd.DatetimeIndex(daily_returns["date"].unique()).sort_values(),
        dates,
        max_exposure_age_days,
        skip_unexplained,
    )
    panel = _dense_panel(style_exposures, daily_returns, out_dates, used, industries)
    return panel, unexplained
