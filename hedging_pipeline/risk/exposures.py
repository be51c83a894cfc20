"""The 7 style exposures (Bloomberg names), point in time, standardised the USE4 way.

Each style is a weighted blend of *descriptors* computed from data known at the close of each date:

=================  ===================================================================  ========
style              descriptors (weight)                                                 data
=================  ===================================================================  ========
size               log market cap (1)                                                   caps
value              book-to-price (1/2), earnings-to-price (1/2)                         fund.
momentum           sum of log returns over 252 days ending 21 days ago, half-life 126   returns
volatility         daily return std, 252 days half-life 42 (1/2); beta to the           returns
                   cap-weighted market, 252 days half-life 63 (1/2)
profitability      ROE (1/3), ROA (1/3), operating margin (1/3)                         fund.
leverage           (cap + debt) / cap (1/3), liabilities / assets (1/3),                fund.
                   (book + debt) / book (1/3)
trading_activity   log share turnover over 21 (0.35), 63 (0.35) and 252 (0.30) days    volume
=================  ===================================================================  ========

Point in time: a fundamentals row is usable from ``period_end + reporting_lag_days`` (90 days: the
10-K deadline), or from 31 December of ``fiscal_year`` plus the lag when ``period_end`` is missing.
The latest usable statement is carried forward with its age for at most
``max_fundamental_age_days`` (default five years; see :class:`ExposureParameters`), and fiscal
years are never mixed inside one ratio (:mod:`hedging_pipeline.risk.fundamentals`). Rolling windows are trailing and fixed-length, so a value on date ``d`` depends only on
rows dated ``<= d`` and never on how much history precedes the window. A rolling descriptor needs at
least half its window observed.

Standardisation, each day over that day's universe (tickers with a positive market cap):

1. each descriptor: ``z = (x - cap-weighted mean) / equal-weighted std``, then clipped at
   ``±winsor_sigma`` and re-standardised until no value exceeds the bound (USE4's iterative
   winsorisation; a few passes), on the assets that have it;
2. the style is the weighted mean of the available descriptor z-scores, standardised again;
3. if fewer than ``min_coverage`` of the day's assets have the style it is set to 0 for everyone
   (an unidentified style; the regression then pins its factor return at 0);
4. otherwise a missing exposure is filled with the cap-weighted mean exposure of the asset's
   industry (0, the market's, when the industry has none): USE4's fill by industry;
5. the filled style is standardised and winsorised a last time, so every day has cap-weighted
   mean 0, equal-weighted std 1 and no value beyond ``±winsor_sigma``.

Besides the exposures, each row records which styles are *observed* (not imputed by step 3 or 4),
as the bit mask ``observed_styles`` (bit ``i`` for ``STYLE_FACTORS[i]``; :func:`style_coverage`
decodes it into the share of names observed per style), and for value, profitability and leverage
the statement age in days (``value_age_days``, ...; NaN when imputed).

Tickers without a market cap on a date get no row that day (they could not be weighted). A
non-positive market cap is an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hedging_pipeline.data.tables import EXPOSURE_COLUMNS
from hedging_pipeline.data.validation import require_columns, require_unique
from hedging_pipeline.errors import InvalidValueError
from hedging_pipeline.risk.descriptors import (
    momentum_descriptor,
    turnover_descriptors,
    volatility_descriptors,
)
from hedging_pipeline.risk.fundamentals import (
    PointInTimeItems,
    fundamental_descriptors,
    point_in_time_fundamentals,
    style_statement_age,
)
from hedging_pipeline.risk.industries import DEFAULT_INDUSTRY_LEVEL, model_industries
from hedging_pipeline.types import STYLE_FACTORS, BoolArray, FloatArray, IntArray

WINSOR_MAX_PASSES = 50
WINSOR_TOLERANCE = 1e-9
"""Clip-and-restandardise until no value exceeds ``winsor_sigma * (1 + WINSOR_TOLERANCE)``."""

DESCRIPTOR_WEIGHTS: Mapping[str, Mapping[str, float]] = {
    "size": {"log_cap": 1.0},
    "value": {"book_to_price": 0.5, "earnings_to_price": 0.5},
    "momentum": {"relative_strength": 1.0},
    "volatility": {"daily_std": 0.5, "beta": 0.5},
    "profitability": {"roe": 1 / 3, "roa": 1 / 3, "operating_margin": 1 / 3},
    "leverage": {"market_leverage": 1 / 3, "debt_to_assets": 1 / 3, "book_leverage": 1 / 3},
    "trading_activity": {"turnover_month": 0.35, "turnover_quarter": 0.35, "turnover_year": 0.30},
}
"""Descriptor blend of each style (USE4-like weights; renormalised over available descriptors)."""


FUNDAMENTAL_STYLES = ("value", "profitability", "leverage")
AGE_COLUMNS = tuple(f"{style}_age_days" for style in FUNDAMENTAL_STYLES)
OBSERVED_COLUMN = "observed_styles"
"""Bit mask column: bit ``i`` set when ``STYLE_FACTORS[i]`` is observed (not imputed) on the row."""


@dataclass(frozen=True)
class ExposureParameters:
    """Windows, lags and limits of the style exposures (trading days unless said otherwise).

    Attributes
    ----------
    reporting_lag_days : int
        Calendar days after a fiscal period end before its statements are used.
    max_fundamental_age_days : int
        Calendar days after becoming usable that a statement stays in use. Default five years
        (1826 days), set by principle and not fit to any window: balance-sheet quantities move
        slowly, and five years is the shortest horizon over which value investors traditionally
        normalise earnings (Graham and Dodd's five-to-ten-year average earnings), so an older
        statement no longer describes the firm; a name that stopped filing drops out then.
    momentum_window_days, momentum_lag_days, momentum_half_life_days : int
        Relative strength: sum of log returns over the window, skipping the most recent lag days.
    volatility_window_days, volatility_half_life_days : int
        Exponentially weighted daily return standard deviation.
    beta_window_days, beta_half_life_days : int
        Exponentially weighted beta to the cap-weighted market return.
    turnover_windows_days : tuple of int
        Windows of the month, quarter and year share turnover descriptors.
    min_observation_fraction : float
        Share of a rolling window that must be observed.
    winsor_sigma : float
        Clip standardised descriptors at this many standard deviations.
    min_coverage : float
        Share of a day's assets that must have a style for it to be estimated that day.
    vendor_max_age_days : int
        Calendar days a vendor exposure stays in use (vendor files are often monthly).
    industry_level : str
        GICS level of the industry factors: ``gics_sector``, ``gics_industry_group`` (default) or
        ``gics_industry`` (:func:`~hedging_pipeline.risk.industries.model_industries`).
    """

    reporting_lag_days: int = 90
    max_fundamental_age_days: int = 1826
    momentum_window_days: int = 252
    momentum_lag_days: int = 21
    momentum_half_life_days: int = 126
    volatility_window_days: int = 252
    volatility_half_life_days: int = 42
    beta_window_days: int = 252
    beta_half_life_days: int = 63
    turnover_windows_days: tuple[int, int, int] = (21, 63, 252)
    min_observation_fraction: float = 0.5
    winsor_sigma: float = 3.0
    min_coverage: float = 0.5
    vendor_max_age_days: int = 31
    industry_level: str = DEFAULT_INDUSTRY_LEVEL

    @property
    def lookback_days(self) -> int:
        """Trading days of history needed before the first output date."""
        return max(
            self.momentum_window_days + self.momentum_lag_days,
            self.volatility_window_days,
            self.beta_window_days,
            *self.turnover_windows_days,
        )


DEFAULT_PARAMETERS = ExposureParameters()
TRADING_TO_CALENDAR = 7 / 5 * 1.05
"""Calendar days per trading day, with 5 % margin for holidays."""

LOOKBACK_CALENDAR_DAYS = int(np.ceil(DEFAULT_PARAMETERS.lookback_days * TRADING_TO_CALENDAR))
"""Calendar days of prices, returns and caps to load before the first output date."""


def _check_caps(market_caps: pd.DataFrame) -> None:
    cap = market_caps["market_cap"].to_numpy(dtype=float)
    bad = np.isfinite(cap) & (cap <= 0)
    if bad.any():
        row = market_caps.loc[bad].iloc[0]
        raise InvalidValueError(
            f"market_caps: column market_cap must be positive, found {row['market_cap']} for "
            f"ticker {row['ticker']} on {pd.Timestamp(row['date']).date()} "
            f"({int(bad.sum())} such rows); use NaN for an unknown cap"
        )


# -- cross-sectional standardisation ---------------------------------------------------------------
def _standardise(x: FloatArray, cap: FloatArray, have: BoolArray) -> FloatArray:
    """Rows of ``x``: cap-weighted mean 0 and equal-weighted std 1 over ``have`` (NaN elsewhere)."""
    w = np.where(have, cap, 0.0)
    wsum = w.sum(axis=1, keepdims=True)
    xz = np.where(have, x, 0.0)
    mean = np.divide(
        (w * xz).sum(axis=1, keepdims=True), wsum, out=np.zeros_like(wsum), where=wsum > 0
    )
    n = have.sum(axis=1, keepdims=True)
    eq_mean = np.divide(xz.sum(axis=1, keepdims=True), n, out=np.zeros_like(wsum), where=n > 0)
    var = np.divide(
        (np.where(have, x - eq_mean, 0.0) ** 2).sum(axis=1, keepdims=True),
        n,
        out=np.zeros_like(wsum),
        where=n > 0,
    )
    std = np.sqrt(var)
    z = np.divide(x - mean, std, out=np.zeros_like(x), where=std > 0)
    return np.where(have, z, np.nan)


def _winsorised_z(
    x: FloatArray, cap: FloatArray, have: BoolArray, winsor_sigma: float
) -> FloatArray:
    """Standardise, then clip at ``±winsor_sigma`` and re-standardise until nothing sticks out."""
    z = _standardise(x, cap, have)
    bound = winsor_sigma * (1 + WINSOR_TOLERANCE)
    for _ in range(WINSOR_MAX_PASSES):
        # Only the days with a value beyond the bound are re-standardised (the others are done).
        rows = np.flatnonzero((np.abs(np.where(have, z, 0.0)) > bound).any(axis=1))
        if rows.size == 0:
            break
        z[rows] = _standardise(np.clip(z[rows], -winsor_sigma, winsor_sigma), cap[rows], have[rows])
    return z


def standardise_cross_section(
    raw: FloatArray,
    cap: FloatArray,
    universe: BoolArray,
    industry_code: IntArray,
    *,
    winsor_sigma: float = DEFAULT_PARAMETERS.winsor_sigma,
    min_coverage: float = DEFAULT_PARAMETERS.min_coverage,
) -> FloatArray:
    """Winsorise, standardise and fill one style, day by day (steps 1, 3-5 of the module docstring).

    Parameters
    ----------
    raw : FloatArray
        Raw style values, shape ``(n_dates, n_assets)``; NaN where missing.
    cap : FloatArray
        Market caps, same shape (weights of the means).
    universe : BoolArray
        Assets in the day's universe, same shape.
    industry_code : IntArray
        Industry index of each asset, shape ``(n_assets,)`` (for the fill).
    winsor_sigma, min_coverage : float
        See :class:`ExposureParameters`.

    Returns
    -------
    FloatArray
        Standardised exposures, shape ``(n_dates, n_assets)``; NaN outside the universe, complete
        inside it.
    """
    have = universe & np.isfinite(raw)
    n_universe = universe.sum(axis=1)
    coverage = np.divide(have.sum(axis=1), n_universe, out=np.zeros(len(raw)), where=n_universe > 0)
    z = _winsorised_z(raw, cap, have, winsor_sigma)

    onehot = np.zeros((raw.shape[1], int(industry_code.max(initial=-1)) + 1))
    onehot[np.arange(raw.shape[1]), industry_code] = 1.0
    w = np.where(have, cap, 0.0)
    ind_sum = (w * np.nan_to_num(z)) @ onehot
    ind_w = w @ onehot
    ind_mean = np.divide(ind_sum, ind_w, out=np.zeros_like(ind_sum), where=ind_w > 0)
    filled = np.where(have, z, ind_mean[:, industry_code])
    out = _winsorised_z(filled, cap, universe, winsor_sigma)
    out[coverage < min_coverage] = 0.0
    return np.where(universe, out, np.nan)


def _blend(descriptors: Mapping[str, FloatArray], weights: Mapping[str, float]) -> FloatArray:
    """Weighted mean of the available standardised descriptors (weights renormalised)."""
    num = np.zeros_like(next(iter(descriptors.values())))
    den = np.zeros_like(num)
    for name, w in weights.items():
        z = descriptors[name]
        ok = np.isfinite(z)
        num += np.where(ok, w * z, 0.0)
        den += np.where(ok, w, 0.0)
    return np.divide(num, den, out=np.full_like(num, np.nan), where=den > 0)


# -- assembly --------------------------------------------------------------------------------------
def _wide(
    frame: pd.DataFrame, column: str, dates: pd.DatetimeIndex, tickers: pd.Index
) -> FloatArray:
    out = np.full((len(dates), len(tickers)), np.nan)
    di = dates.get_indexer(frame["date"])
    ti = tickers.get_indexer(frame["ticker"])
    keep = (di >= 0) & (ti >= 0)
    out[di[keep], ti[keep]] = frame[column].to_numpy(dtype=float)[keep]
    return out


def _industry_codes(industries: pd.DataFrame, tickers: pd.Index) -> tuple[IntArray, pd.Series]:
    mapping = industries.drop_duplicates("ticker").set_index("ticker")["industry"]
    missing = tickers.difference(mapping.index)
    if len(missing):
        raise InvalidValueError(
            f"industries: ticker {missing[0]} has a market cap but no industry "
            f"({len(missing)} such tickers)"
        )
    labels = mapping.loc[tickers]
    codes = pd.Index(sorted(labels.unique())).get_indexer(labels)
    return codes.astype(np.int64), labels


def _to_frame(
    dates: pd.DatetimeIndex,
    tickers: pd.Index,
    universe: BoolArray,
    labels: pd.Series,
    cap: FloatArray,
    styles: Mapping[str, FloatArray],
    observed: Mapping[str, BoolArray],
    ages: Mapping[str, FloatArray],
) -> pd.DataFrame:
    di, ti = np.nonzero(universe)
    frame = pd.DataFrame(
        {
            "date": dates.to_numpy()[di],
            "ticker": tickers.to_numpy()[ti],
            "industry": labels.to_numpy()[ti].astype(str),
            "market_cap": cap[di, ti],
        }
    )
    mask = np.zeros(len(frame), dtype=np.int64)
    for bit, name in enumerate(STYLE_FACTORS):
        frame[name] = styles[name][di, ti]
        mask |= observed[name][di, ti].astype(np.int64) << bit
    frame[OBSERVED_COLUMN] = mask
    for style, column in zip(FUNDAMENTAL_STYLES, AGE_COLUMNS, strict=True):
        age = ages.get(style)
        frame[column] = age[di, ti] if age is not None else np.nan
    return frame


def _observed(raw: FloatArray, universe: BoolArray, min_coverage: float) -> BoolArray:
    """Assets whose style is estimated from their own data (steps 3-4 impute the others)."""
    have = universe & np.isfinite(raw)
    n = universe.sum(axis=1, keepdims=True)
    coverage = np.divide(
        have.sum(axis=1, keepdims=True), n, out=np.zeros((len(raw), 1)), where=n > 0
    )
    return have & (coverage >= min_coverage)


def style_coverage(style_exposures: pd.DataFrame, freq: str = "MS") -> pd.DataFrame:
    """Share of names with an observed (non-imputed) exposure, per style and period.

    Parameters
    ----------
    style_exposures : pd.DataFrame
        ``date`` and :data:`OBSERVED_COLUMN` (as written by :func:`compute_style_exposures`).
    freq : str
        Pandas period start frequency of the rows (default monthly, labelled by month start).

    Returns
    -------
    pd.DataFrame
        ``period`` and one column per style: the mean over the period's rows of the observed flag;
        ``min_daily_<style>`` columns hold the lowest daily share within the period.
    """
    require_columns(style_exposures, ("date", OBSERVED_COLUMN), "style_exposures")
    mask = style_exposures[OBSERVED_COLUMN].to_numpy(dtype=np.int64)
    flags = pd.DataFrame(
        {name: (mask >> bit) & 1 for bit, name in enumerate(STYLE_FACTORS)}, dtype=float
    )
    flags["date"] = pd.to_datetime(style_exposures["date"]).to_numpy()
    daily = flags.groupby("date").mean()
    period = daily.index.to_period(freq[0] if freq != "MS" else "M").to_timestamp()
    mean = daily.groupby(period).mean()
    low = daily.groupby(period).min().add_prefix("min_daily_")
    return pd.concat([mean, low], axis=1).rename_axis("period").reset_index()


def _output_dates(
    dates: Iterable[pd.Timestamp] | None, calendar: pd.DatetimeIndex
) -> pd.DatetimeIndex:
    if dates is None:
        return calendar
    wanted = pd.DatetimeIndex(pd.to_datetime(list(dates))).unique().sort_values()
    return wanted[wanted.isin(calendar)]


def _descriptors(
    prices: pd.DataFrame,
    daily_returns: pd.DataFrame,
    cap_all: FloatArray,
    fundamentals: pd.DataFrame,
    calendar: pd.DatetimeIndex,
    out_dates: pd.DatetimeIndex,
    tickers: pd.Index,
    parameters: ExposureParameters,
) -> tuple[dict[str, FloatArray], PointInTimeItems]:
    """Raw descriptors of every style on the output dates, and the statement items behind them."""
    ret_all = _wide(daily_returns, "ret", calendar, tickers)
    rows = calendar.get_indexer(out_dates)
    cap = cap_all[rows]
    universe = np.isfinite(cap)
    descriptors: dict[str, FloatArray] = {"log_cap": np.log(np.where(universe, cap, np.nan))}
    descriptors["relative_strength"] = momentum_descriptor(ret_all, parameters)[rows]
    descriptors |= {
        k: v[rows] for k, v in volatility_descriptors(ret_all, cap_all, parameters).items()
    }
    turnover = turnover_descriptors(
        _wide(prices, "volume", calendar, tickers),
        _wide(prices, "close", calendar, tickers),
        cap_all,
        parameters,
    )
    descriptors |= {k: v[rows] for k, v in turnover.items()}
    items = point_in_time_fundamentals(
        fundamentals,
        out_dates,
        tickers,
        parameters.reporting_lag_days,
        parameters.max_fundamental_age_days,
    )
    descriptors |= fundamental_descriptors(items, cap)
    return descriptors, items


def compute_style_exposures(
    prices: pd.DataFrame,
    daily_returns: pd.DataFrame,
    market_caps: pd.DataFrame,
    companies: pd.DataFrame,
    fundamentals: pd.DataFrame,
    dates: Iterable[pd.Timestamp] | None = None,
    *,
    industries: pd.DataFrame | None = None,
    parameters: ExposureParameters = DEFAULT_PARAMETERS,
) -> pd.DataFrame:
    """Compute the standardised style exposures known at the close of each date.

    Parameters
    ----------
    prices : pd.DataFrame
        ``date, ticker, close, volume``: traded close and share volume (for turnover).
    daily_returns : pd.DataFrame
        ``date, ticker, ret``: simple returns from ``adj_close``.
    market_caps : pd.DataFrame
        ``date, ticker, market_cap`` in USD; NaN for unknown (such tickers get no row that day).
    companies : pd.DataFrame
        ``ticker, gics_sector`` (and finer GICS columns); used when ``industries`` is not given.
    fundamentals : pd.DataFrame
        Annual statements: ``ticker``, ``period_end`` and/or ``fiscal_year``, and the fields of
        :data:`FUNDAMENTAL_FIELDS` (missing ones count as NaN).
    dates : iterable of Timestamp, optional
        Dates to output (trading days present in ``market_caps``); default: all of them. The other
        frames should reach :attr:`ExposureParameters.lookback_days` trading days further back.
    industries : pd.DataFrame, optional
        ``ticker, industry``; default :func:`~hedging_pipeline.risk.industries.model_industries`
        on the whole ``companies`` table, so that every date window gets the same industries.
    parameters : ExposureParameters
        Windows, lags and limits.

    Returns
    -------
    pd.DataFrame
        CONTRACT ``style_exposures``: ``date, ticker, industry, market_cap`` and the 7 styles,
        sorted by (date, ticker), complete (no NaN).

    Raises
    ------
    MissingColumnError, DuplicateRowsError
        Malformed inputs.
    InvalidValueError
        A non-positive market cap, or a ticker without an industry.
    """
    require_columns(prices, ("date", "ticker", "close", "volume"), "prices")
    require_columns(daily_returns, ("date", "ticker", "ret"), "daily_returns")
    require_columns(market_caps, ("date", "ticker", "market_cap"), "market_caps")
    for frame, name in (
        (prices, "prices"),
        (daily_returns, "daily_returns"),
        (market_caps, "market_caps"),
    ):
        require_unique(frame, name)
    _check_caps(market_caps)

    calendar = pd.DatetimeIndex(
        pd.concat([prices["date"], daily_returns["date"], market_caps["date"]]).unique()
    ).sort_values()
    out_dates = _output_dates(dates, pd.DatetimeIndex(market_caps["date"].unique()).sort_values())
    if len(out_dates) == 0:
        columns = (*EXPOSURE_COLUMNS, OBSERVED_COLUMN, *AGE_COLUMNS)
        return pd.DataFrame({c: pd.Series(dtype=float) for c in columns}).astype(
            {"date": "datetime64[ns]", "ticker": str, "industry": str, OBSERVED_COLUMN: "int64"}
        )
    calendar = calendar[calendar <= out_dates[-1]]
    caps_out = market_caps[market_caps["date"].isin(out_dates) & market_caps["market_cap"].notna()]
    tickers = pd.Index(sorted(caps_out["ticker"].unique()))
    if industries is None:
        industries = model_industries(companies, level=parameters.industry_level)
    codes, labels = _industry_codes(industries, tickers)

    cap_all = _wide(market_caps, "market_cap", calendar, tickers)
    rows = calendar.get_indexer(out_dates)
    cap = cap_all[rows]
    universe = np.isfinite(cap)
    descriptors, items = _descriptors(
        prices, daily_returns, cap_all, fundamentals, calendar, out_dates, tickers, parameters
    )
    z = {
        name: _winsorised_z(x, cap, universe & np.isfinite(x), parameters.winsor_sigma)
        for name, x in descriptors.items()
    }
    blends = {style: _blend(z, DESCRIPTOR_WEIGHTS[style]) for style in STYLE_FACTORS}
    styles = {
        style: standardise_cross_section(
            blends[style],
            cap,
            universe,
            codes,
            winsor_sigma=parameters.winsor_sigma,
            min_coverage=parameters.min_coverage,
        )
        for style in STYLE_FACTORS
    }
    observed = {
        style: _observed(raw, universe, parameters.min_coverage) for style, raw in blends.items()
    }
    ages = {
        style: np.where(
            observed[style],
            style_statement_age(items, descriptors, DESCRIPTOR_WEIGHTS[style]),
            np.nan,
        )
        for style in FUNDAMENTAL_STYLES
    }
    return _to_frame(out_dates, tickers, universe, labels, cap, styles, observed, ages)


def standardise_vendor_exposures(
    vendor_exposures: pd.DataFrame,
    market_caps: pd.DataFrame,
    industries: pd.DataFrame,
    dates: Iterable[pd.Timestamp] | None = None,
    *,
    parameters: ExposureParameters = DEFAULT_PARAMETERS,
) -> pd.DataFrame:
    """Turn vendor exposures (e.g. a Bloomberg PORT export) into CONTRACT ``style_exposures``.

    Each output date uses, per ticker, the latest vendor row dated on or before it and at most
    ``vendor_max_age_days`` old; each style is then winsorised, standardised and filled exactly like
    the computed ones (:func:`standardise_cross_section`), so both paths feed the regression the
    same scale.

    Parameters
    ----------
    vendor_exposures : pd.DataFrame
        ``date, ticker`` and the 7 style columns (the loader renames PORT headers).
    market_caps : pd.DataFrame
        ``date, ticker, market_cap``: the universe and weights of each output date.
    industries : pd.DataFrame
        ``ticker, industry``.
    dates : iterable of Timestamp, optional
        Dates to output (default: every date of ``market_caps``).
    parameters : ExposureParameters
        ``winsor_sigma``, ``min_coverage`` and ``vendor_max_age_days`` apply.

    Returns
    -------
    pd.DataFrame
        ``date, ticker, industry, market_cap`` and the 7 styles, sorted by (date, ticker).

    Raises
    ------
    MissingColumnError, DuplicateRowsError, InvalidValueError
        Malformed inputs, a non-positive market cap, a ticker without an industry.
    """
    require_columns(vendor_exposures, ("date", "ticker", *STYLE_FACTORS), "exposures")
    require_columns(market_caps, ("date", "ticker", "market_cap"), "market_caps")
    require_unique(vendor_exposures, "exposures")
    require_unique(market_caps, "market_caps")
    _check_caps(market_caps)
    out_dates = _output_dates(dates, pd.DatetimeIndex(market_caps["date"].unique()).sort_values())
    caps_out = market_caps[market_caps["date"].isin(out_dates) & market_caps["market_cap"].notna()]
    tickers = pd.Index(sorted(caps_out["ticker"].unique()))
    codes, labels = _industry_codes(industries, tickers)
    cap = _wide(caps_out, "market_cap", out_dates, tickers)
    universe = np.isfinite(cap)

    left = caps_out[["date", "ticker"]].sort_values("date", kind="stable")
    right = vendor_exposures[["date", "ticker", *STYLE_FACTORS]].rename(
        columns={"date": "vendor_date"}
    )
    right = right.sort_values("vendor_date", kind="stable")
    merged = pd.merge_asof(
        left,
        right,
        left_on="date",
        right_on="vendor_date",
        by="ticker",
        direction="backward",
        tolerance=pd.Timedelta(days=parameters.vendor_max_age_days),
    )
    raw = {style: _wide(merged, style, out_dates, tickers) for style in STYLE_FACTORS}
    styles = {
        style: standardise_cross_section(
            raw[style],
            cap,
            universe,
            codes,
            winsor_sigma=parameters.winsor_sigma,
            min_coverage=parameters.min_coverage,
        )
        for style in STYLE_FACTORS
    }
    observed = {name: _observed(x, universe, parameters.min_coverage) for name, x in raw.items()}
    return _to_frame(out_dates, tickers, universe, labels, cap, styles, observed, {})


def build_style_exposures(
    prices: pd.DataFrame,
    daily_returns: pd.DataFrame,
    market_caps: pd.DataFrame,
    companies: pd.DataFrame,
    fundamentals: pd.DataFrame,
    vendor_exposures: pd.DataFrame | None = None,
    dates: Iterable[pd.Timestamp] | None = None,
    *,
    parameters: ExposureParameters = DEFAULT_PARAMETERS,
) -> pd.DataFrame:
    """The ``style_exposures`` of ``dates``: vendor exposures when given, else computed.

    Dispatches to :func:`standardise_vendor_exposures` when ``vendor_exposures`` has rows (industries
    from :func:`~hedging_pipeline.risk.industries.model_industries` on ``companies``), otherwise to
    :func:`compute_style_exposures`. Parameters and result as those functions.
    """
    if vendor_exposures is not None and len(vendor_exposures):
        return standardise_vendor_exposures(
            vendor_exposures,
            market_caps,
            model_industries(companies, level=parameters.industry_level),
            dates,
            parameters=parameters,
        )
    return compute_style_exposures(
        prices, daily_returns, market_caps, companies, fundamentals, dates, parameters=parameters
    )
