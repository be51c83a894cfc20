"""Deterministic demo universe: a fictional raw drop folder with a planted factor structure.

A fresh clone has no ``../shared/data``; the pipeline then runs on this universe, written as the
four raw files of the drop folder (CONTRACT.md) with the columns and dtypes of the real data
(PROVENANCE.md):

* ``prices.parquet``: US trading days (weekdays without the NYSE holidays); raw
  ``open/high/low/close`` that jump at stock splits; ``adj_close`` split- and dividend-adjusted
  as of the last day (equal to ``close`` there); quarterly ``dividend`` for the payers;
  ``split_coefficient`` (new shares per old share) on split days; ``volume`` in shares, rising
  with company size;
* ``companies.parquet``: fictional names and tickers, GICS sector and sub-industry, and a
  market-cap snapshot ``market_cap_usd_YYYY`` at the first trading day of February of YYYY (like
  the real ``market_cap_usd_2018``); one company has no prices (``in_prices`` false), as in the
  real file;
* ``fundamentals.parquet``: annual statements with ``period_end`` and split-aware share counts;
* ``descriptions.parquet``: a short encyclopedia-style text (``wikipedia``) for every company and
  a 10-K Item 1 style text with sections (``sec_10k_item1``) for most, drawn from
  per-sub-industry templates (``templates/demo_universe.toml``). Semiconductor and
  systems-software companies are "AI makers"; a few companies of the other sub-industries are
  "AI users".

Daily simple returns of asset ``i`` on day ``t`` are planted as

    r_it = mu_it + beta_i m_t + s_{t,sector(i)} + u_{t,sub(i)} + sum_k z_ik f_tk + e_it,

with a market factor ``m`` (drift plus volatility regime) and dispersed betas, sector factors
``s`` and sub-industry factors ``u`` (unit loadings: industry membership is a dummy), style
factors ``f`` for size, value and volatility with standardised loadings ``z``, a persistent
(momentum-like) AR(1) drift ``mu``, and Student-t idiosyncratic noise ``e`` whose scale varies
across assets (smaller companies are more volatile). All factor scales follow one shared AR(1)
log-volatility regime. The planted factor returns, loadings and per-ticker facts go under
``truth/``.

The same seed always gives identical frames: every draw comes from ``numpy.random.Generator``s
spawned from one ``SeedSequence``, one per part (names, returns, prices, fundamentals, texts, AI
roles), so that editing the texts does not change the prices.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
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

from hedging_pipeline.errors import InvalidValueError
from hedging_pipeline.types import MARKET_FACTOR, TRADING_DAYS_PER_YEAR, FloatArray

GENERATOR_VERSION = "3"
"""Bump whenever the code changes the output for a given seed; ``ensure_demo_universe`` then
regenerates. Edits of the template file are caught by its digest in the manifest."""
DEFAULT_SEED = 20240601
DEFAULT_N_TICKERS = 60
DEFAULT_START = "2020-01-01"
DEFAULT_END = "2023-12-31"

MANIFEST_NAME = "manifest.json"
TRUTH_DIR = "truth"
RAW_FILES = ("prices", "companies", "fundamentals", "descriptions")
"""Stems of the raw drop-folder files the demo writes (``<stem>.parquet``)."""
TRUTH_FILES = ("factor_returns", "loadings", "tickers", "returns")
"""Stems of the planted-truth files under ``truth/``."""
PARQUET_COMPRESSION = "zstd"

MIN_TRADING_DAYS = TRADING_DAYS_PER_YEAR
"""Shortest span the demo accepts: one year, so that it holds a February market-cap snapshot."""
MIN_TICKERS_PER_SUB_INDUSTRY = 2
"""Every sub-industry needs a peer, and one sub-industry gives up a ticker to a late listing."""
MAX_TICKERS = 300
"""Bounded by the fictional name roots (syllable pairs) available."""

# --- planted return structure (daily, simple returns) ---------------------------------------------
MARKET_DRIFT_DAILY = 0.0003
MARKET_VOL_DAILY = 0.010
SECTOR_VOL_DAILY = 0.008
SUB_INDUSTRY_VOL_DAILY = 0.005
STYLE_FACTORS_PLANTED = ("size", "value", "volatility")
"""Style factors present in the planted returns (the names match ``types.STYLE_FACTORS``)."""
STYLE_VOL_DAILY = (0.003, 0.003, 0.003)
"""Daily volatility of the planted style factor returns, ordered as ``STYLE_FACTORS_PLANTED``."""
BETA_DISPERSION = 0.2
"""Standard deviation of log market beta around its sector's beta."""
VOL_REGIME_PERSISTENCE = 0.985
"""Daily AR(1) coefficient of the shared log-volatility regime (half-life about 46 days)."""
VOL_REGIME_SHOCK = 0.07
"""Daily innovation of the log-volatility regime (stationary standard deviation about 0.4)."""
IDIO_VOL_MEDIAN_DAILY = 0.013
IDIO_VOL_DISPERSION = 0.35
"""Standard deviation of log idiosyncratic volatility across assets."""
IDIO_VOL_SIZE_ELASTICITY = 0.15
"""Log idiosyncratic volatility falls by this much per standard deviation of log market cap."""
STUDENT_T_DOF = 4.0
"""Degrees of freedom of the idiosyncratic noise (fat tails, finite variance)."""
DRIFT_PERSISTENCE = 0.997
"""Daily AR(1) coefficient of each asset's drift (half-life about 230 days): momentum-like."""
DRIFT_SPREAD_DAILY = 0.0006
"""Stationary cross-sectional standard deviation of the drift (about 15 % a year)."""
RETURN_FLOOR = -0.9
"""Planted daily returns are floored here so that prices stay positive in the far tail."""

# --- size, prices, trading ------------------------------------------------------------------------
MARKET_CAP_MEDIAN_USD = 20e9
MARKET_CAP_DISPERSION = 1.0
"""Standard deviation of log market cap at the start."""
PRICE_MEDIAN_USD = 70.0
PRICE_DISPERSION = 0.6
PRICE_BOUNDS_USD = (12.0, 600.0)
CENT = 0.01
OPEN_RETURN_SHARE = 0.3
"""Share of the day's return already in the open (the rest happens during the session)."""
OPEN_NOISE = 0.4
"""Open-to-close noise in units of the asset's idiosyncratic daily volatility."""
RANGE_NOISE = 0.6
"""Intraday excursion beyond open/close, in units of the asset's daily volatility."""
MAX_RANGE_FRACTION = 0.5
TURNOVER_MEDIAN_DAILY = 0.006
"""Median share turnover (volume / shares outstanding) per day."""
TURNOVER_DISPERSION = 0.3
TURNOVER_SIZE_ELASTICITY = 0.15
"""Turnover falls with size, so dollar volume rises with market cap at elasticity about 0.85."""
TURNOVER_VOL_ELASTICITY = 0.2
VOLUME_NOISE = 0.35
VOLUME_SHOCK_SENSITIVITY = 0.25
"""Log volume rises by this much per unit of |idiosyncratic shock| / volatility."""
DAYS_PER_QUARTER = 63
DIVIDEND_YIELD_DISPERSION = 0.25
SPLITS: tuple[tuple[float, float], ...] = ((0.30, 4.0), (0.55, 2.0), (0.80, 3.0))
"""(position in the span, ratio): each goes to the highest-priced eligible stock on that day."""
SPLIT_MIN_HISTORY_DAYS = 20
LATE_LISTINGS: tuple[tuple[str, float, str], ...] = (
    ("Systems Software", 0.45, "ipo"),
    ("Aerospace & Defense", 0.70, "spin-off"),
)
"""(sub-industry, position in the span, kind): that sub-industry's last ticker lists on that day."""
SNAPSHOT_MONTH = 2
"""``market_cap_usd_YYYY`` is the cap at the first trading day of this month of YYYY."""

# --- fundamentals (annual) ------------------------------------------------------------------------
FUNDAMENTALS_SOURCE = "demo_annual"
FUNDAMENTAL_YEARS_BEFORE = 2
"""Fiscal years reported before the price span starts, so statements are known from day one."""
PRE_LISTING_YEARS = 1
"""Fiscal years a late listing reports before it lists (its prospectus)."""
RATIO_DISPERSION = 0.1
"""Standard deviation of log leverage and asset-turnover ratios around the sub-industry's."""
BOOK_TO_PRICE_DISPERSION = 0.5
YEARLY_NOISE = 0.06
MARGIN_NOISE = 0.2
SHORT_TERM_DEBT_SHARE = 0.04
"""Short-term debt as a share of liabilities."""
INTEREST_RATE = 0.04
TAX_RATE = 0.22
CASH_SHARE_OF_ASSETS = 0.08
CURRENT_ASSETS_SHARE = 0.30
CURRENT_LIABILITIES_SHARE = 0.20
CAPEX_TO_SALES = 0.05
DEPRECIATION_TO_SALES = 0.05

# --- companies and texts --------------------------------------------------------------------------
SUB_INDUSTRY_SOURCE = "demo_templates"
CIK_BASE = 9_000_000
"""Fictional CIKs start here (real CIKs are below 2.1 million)."""
FOUNDED_RANGE = (1890, 2005)
IPO_AGE_YEARS = (3, 12)
INDEX_ADDED_RANGE = (1980, 2018)
AI_USER_SHARE = 0.3
"""Share of the companies of a "mixed" sub-industry that use AI (at least one per sub-industry)."""
TENK_MISSING_SHARE = 0.15
"""Share of companies without a 10-K text (only the encyclopedia text), as in the real data."""
FORWARD_LOOKING_SHARE = 0.2
"""Share of 10-K texts that open with the forward-looking-statements boilerplate."""
TENK_FILING_LAG_DAYS = (30, 150)
"""The 10-K texts are filed after the price span ends (a look-ahead, as in the real data)."""
N_PRODUCTS = (4, 6)
N_CUSTOMERS = (2, 3)
N_PEERS = (2, 3)
EMPLOYEE_ROUNDING = 100
US_EMPLOYEE_SHARE = (55, 90)
HEADQUARTERS = (
    "Austin, Texas",
    "Boston, Massachusetts",
    "Charlotte, North Carolina",
    "Chicago, Illinois",
    "Columbus, Ohio",
    "Dallas, Texas",
    "Denver, Colorado",
    "Houston, Texas",
    "Minneapolis, Minnesota",
    "Nashville, Tennessee",
    "New York City, New York",
    "Philadelphia, Pennsylvania",
    "Phoenix, Arizona",
    "Pittsburgh, Pennsylvania",
    "Raleigh, North Carolina",
    "San Diego, California",
    "San Jose, California",
    "Seattle, Washington",
    "St. Louis, Missouri",
    "Atlanta, Georgia",
)
NAME_ONSETS = (
    "Ar", "Bel", "Cen", "Dun", "El", "Fen", "Gal", "Hal", "Ir", "Jor", "Kel", "Lum", "Mar",
    "Nov", "Or", "Pel", "Quen", "Ros", "Sel", "Tav", "Ul", "Ver", "Wes", "Xan", "Yor", "Zen",
)  # fmt: skip
NAME_CODAS = (
    "ada",
    "ex",
    "ion",
    "ora",
    "is",
    "an",
    "ix",
    "ent",
    "ova",
    "yx",
    "era",
    "ium",
    "ant",
    "on",
)
TICKER_LETTERS = (2, 4)
TICKER_LENGTHS = (4, 3, 2)
TICKER_LENGTH_SHARES = (0.7, 0.25, 0.05)
"""Preferred ticker lengths and their shares (4-letter symbols rarely clash with real ones)."""

_TEMPLATE_PACKAGE = "hedging_pipeline.data"
_TEMPLATE_PATH = "templates/demo_universe.toml"
_N_SEED_STREAMS = 6


# ================================================================================================
# Results
# ================================================================================================
@dataclass(frozen=True)
class DemoFrames:
    """The demo universe in memory (what :func:`generate_demo_universe` writes).

    Attributes
    ----------
    prices, companies, fundamentals, descriptions : pd.DataFrame
        The raw drop-folder tables, with the columns and dtypes of the real files.
    truth_factor_returns : pd.DataFrame
        Planted factor returns: date, factor, ret (daily simple returns).
    truth_loadings : pd.DataFrame
        Planted loadings: ticker, factor, loading (market beta, 1 on the ticker's sector and
        sub-industry, and the standardised size, value and volatility loadings).
    truth_tickers : pd.DataFrame
        One row per priced ticker: sector, sub-industry, AI role, listing date, daily idiosyncratic
        volatility, initial market cap, book-to-price, dividend yield, split date and ratio.
    truth_returns : pd.DataFrame
        date, ticker, ret (planted total return), specific_ret (drift + noise), drift; days with a
        return only (not the listing day).
    market_cap_column : str
        Name of the market-cap snapshot column of ``companies`` (``market_cap_usd_YYYY``).
    """

    prices: pd.DataFrame
    companies: pd.DataFrame
    fundamentals: pd.DataFrame
    descriptions: pd.DataFrame
    truth_factor_returns: pd.DataFrame
    truth_loadings: pd.DataFrame
    truth_tickers: pd.DataFrame
    truth_returns: pd.DataFrame
    market_cap_column: str

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table keyed by its path relative to the output folder, without the suffix."""
        return {
            "prices": self.prices,
            "companies": self.companies,
            "fundamentals": self.fundamentals,
            "descriptions": self.descriptions,
            f"{TRUTH_DIR}/factor_returns": self.truth_factor_returns,
            f"{TRUTH_DIR}/loadings": self.truth_loadings,
            f"{TRUTH_DIR}/tickers": self.truth_tickers,
            f"{TRUTH_DIR}/returns": self.truth_returns,
        }


@dataclass(frozen=True)
class DemoUniverse:
    """A demo universe written to disk.

    Attributes
    ----------
    out_dir : Path
        The drop folder (point ``HEDGING_RAW_DIR`` here).
    prices, companies, fundamentals, descriptions : Path
        The raw files.
    truth_factor_returns, truth_loadings, truth_tickers, truth_returns : Path
        The planted truth (see :class:`DemoFrames`).
    manifest : Path
        JSON with the generator version, parameters and row counts.
    row_counts : dict of str to int
        Rows per file, keyed by the path relative to ``out_dir``.
    summary : str
        One line for logs: tickers, sectors, trading days, date range, seed.
    """

    out_dir: Path
    prices: Path
    companies: Path
    fundamentals: Path
    descriptions: Path
    truth_factor_returns: Path
    truth_loadings: Path
    truth_tickers: Path
    truth_returns: Path
    manifest: Path
    row_counts: dict[str, int]
    summary: str


@dataclass(frozen=True)
class _SubIndustry:
    sector: str
    sector_beta: float
    sector_sentences: tuple[str, ...]
    name: str
    weight: int
    ai_role: str
    descriptor: str
    suffixes: tuple[str, ...]
    activity: tuple[str, ...]
    products: tuple[str, ...]
    customers: tuple[str, ...]
    operations: tuple[str, ...]
    competition: tuple[str, ...]
    research: tuple[str, ...]
    regulation: tuple[str, ...]
    ai: tuple[str, ...]
    ai_use: tuple[str, ...]
    book_to_price: float
    assets_to_equity: float
    long_term_debt_share: float
    sales_to_assets: float
    gross_margin: float
    operating_margin: float
    rnd_to_sales: float
    payer_share: float
    dividend_yield: float
    employees_per_musd: float
    fiscal_year_end_months: tuple[int, ...]


@dataclass(frozen=True)
class _Templates:
    sub_industries: tuple[_SubIndustry, ...]
    text: dict[str, str]
    digest: str  # sha256 of the template file

    @property
    def sectors(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.sector for s in self.sub_industries))


@dataclass(frozen=True)
class _Layout:
    """Who is who: one entry per priced ticker (arrays of length n), plus the unpriced company."""

    tickers: tuple[str, ...]
    names: tuple[str, ...]
    spec_index: np.ndarray  # (n,) index into templates.sub_industries
    listing_day: np.ndarray  # (n,) first trading-day index
    listing_kind: tuple[str, ...]  # "", "ipo" or "spin-off"
    unpriced_ticker: str
    unpriced_name: str
    unpriced_spec: int


@dataclass(frozen=True)
class _Planted:
    factors: tuple[str, ...]
    factor_returns: FloatArray  # (n_days, k)
    loadings: FloatArray  # (n, k)
    drift: FloatArray  # (n_days, n)
    noise: FloatArray  # (n_days, n) idiosyncratic shock e_it
    returns: FloatArray  # (n_days, n) planted total return, floored
    idio_vol: FloatArray  # (n,) daily
    regime: FloatArray  # (n_days,)
    log_cap: FloatArray  # (n,)
    book_to_price: FloatArray  # (n,)


@dataclass(frozen=True)
class _Market:
    close: FloatArray  # (n_days, n), NaN before listing
    open: FloatArray
    high: FloatArray
    low: FloatArray
    adj_close: FloatArray
    dividend: FloatArray
    split: FloatArray  # split_coefficient, 1 where none
    shares: FloatArray  # (n_days, n) raw shares outstanding (split-aware)
    volume: np.ndarray  # int64
    alive: np.ndarray  # bool (n_days, n)
    dividend_yield: FloatArray  # (n,) annual, 0 for non-payers
    split_day: np.ndarray  # (n,) -1 where none
    split_ratio: FloatArray  # (n,) 1 where none


# ================================================================================================
# Public API
# ================================================================================================
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


def build_demo_frames(
    *,
    seed: int = DEFAULT_SEED,
    n_tickers: int = DEFAULT_N_TICKERS,
    start: str = DEFAULT_START,
    end: str = DEFAULT_END,
) -> DemoFrames:
    """Build the demo universe in memory; pure and deterministic in its arguments.

    Parameters
    ----------
    seed : int
        Seed of the ``numpy.random.SeedSequence`` every draw comes from (non-negative).
    n_tickers : int
        Number of priced tickers, shared out over the 13 sub-industries in proportion to their
        template weights (the default 60 gives the template counts exactly).
    start, end : str
        Calendar bounds of the price history (``YYYY-MM-DD``), inclusive.

    Returns
    -------
    DemoFrames

    Raises
    ------
    InvalidValueError
        If the seed is negative, ``n_tickers`` is outside the supported range, a date does not
        parse, or the span holds fewer than ``MIN_TRADING_DAYS`` trading days.
    """
    templates = _load_templates()
    days = _validate(seed, n_tickers, start, end, templates)
    streams = [
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(_N_SEED_STREAMS)
    ]
    rng_names, rng_returns, rng_prices, rng_fund, rng_text, rng_roles = streams

    layout = _layout(rng_names, templates, n_tickers, len(days))
    planted = _plant_returns(rng_returns, templates, layout, len(days))
    market = _simulate_market(rng_prices, templates, layout, planted, len(days))
    snapshot_day, cap_column = _snapshot(days)
    ai_roles = _ai_roles(rng_roles, templates, layout)

    prices = _prices_frame(days, layout, market)
    fundamentals, latest_fy = _fundamentals_frame(
        rng_fund, templates, layout, planted, market, days
    )
    companies = _companies_frame(
        rng_text, templates, layout, market, days, snapshot_day, cap_column
    )
    descriptions, has_10k = _descriptions_frame(
        rng_text, templates, layout, companies, latest_fy, ai_roles, days
    )
    truth_tickers = _truth_tickers(templates, layout, planted, market, days, ai_roles, has_10k)
    return DemoFrames(
        prices=prices,
        companies=companies,
        fundamentals=fundamentals,
        descriptions=descriptions,
        truth_factor_returns=_truth_factor_returns(days, planted),
        truth_loadings=_truth_loadings(layout, planted),
        truth_tickers=truth_tickers,
        truth_returns=_truth_returns(days, layout, planted, market),
        market_cap_column=cap_column,
    )


def generate_demo_universe(
    out_dir: Path,
    *,
    seed: int = DEFAULT_SEED,
    n_tickers: int = DEFAULT_N_TICKERS,
    start: str = DEFAULT_START,
    end: str = DEFAULT_END,
) -> DemoUniverse:
    """Write the demo universe (raw files, planted truth, manifest) under ``out_dir``.

    Each file is written to a temporary name and renamed into place, and the manifest comes last,
    so a crash or a concurrent writer never leaves a folder that :func:`ensure_demo_universe` takes
    as complete.

    Parameters
    ----------
    out_dir : Path
        Folder to write (created if missing); existing demo files are replaced.
    seed, n_tickers, start, end
        See :func:`build_demo_frames`.

    Returns
    -------
    DemoUniverse
        The paths written, row counts and a one-line summary.

    Raises
    ------
    InvalidValueError
        On invalid parameters (see :func:`build_demo_frames`).
    """
    frames = build_demo_frames(seed=seed, n_tickers=n_tickers, start=start, end=end)
    out_dir = Path(out_dir)
    (out_dir / TRUTH_DIR).mkdir(parents=True, exist_ok=True)
    row_counts: dict[str, int] = {}
    for stem, frame in frames.tables().items():
        relative = f"{stem}.parquet"
        _write_parquet(frame, out_dir / relative, _schema_for(stem, frame))
        row_counts[relative] = len(frame)
    summary = _summary(frames, seed)
    manifest = {
        "generator": __name__,
        "version": GENERATOR_VERSION,
        "templates_sha256": _load_templates().digest,
        "parameters": _parameters(seed, n_tickers, start, end),
        "files": row_counts,
        "summary": summary,
    }
    _write_atomic(out_dir / MANIFEST_NAME, (json.dumps(manifest, indent=2) + "\n").encode())
    return _universe(out_dir, row_counts, summary)


def ensure_demo_universe(
    out_dir: Path,
    *,
    seed: int = DEFAULT_SEED,
    n_tickers: int = DEFAULT_N_TICKERS,
    start: str = DEFAULT_START,
    end: str = DEFAULT_END,
) -> Path:
    """Return ``out_dir`` holding the demo universe, generating it only when needed.

    The folder is current when its manifest names this generator version and these parameters and
    every file it lists exists with the recorded row count; then nothing is rewritten. Otherwise
    (missing or unreadable manifest or file, another version, other parameters) the universe is
    generated afresh.

    Parameters
    ----------
    out_dir : Path
        The demo drop folder (``data/demo`` in the checkout).
    seed, n_tickers, start, end
        See :func:`build_demo_frames`.

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    InvalidValueError
        On invalid parameters (see :func:`build_demo_frames`).
    """
    out_dir = Path(out_dir)
    _validate(seed, n_tickers, start, end, _load_templates())
    parameters = _parameters(seed, n_tickers, start, end)
    if not _is_current(out_dir, parameters):
        generate_demo_universe(out_dir, seed=seed, n_tickers=n_tickers, start=start, end=end)
    return out_dir


def read_demo_manifest(out_dir: Path) -> dict[str, Any] | None:
    """Return the manifest of a demo folder, or None when it is missing or not valid JSON."""
    try:
        content = json.loads((Path(out_dir) / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return None
    return content if isinstance(content, dict) else None


# ================================================================================================
# Validation, templates, calendar
# ================================================================================================
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


def _parse_date(value: str, label: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise InvalidValueError(
            f"demo universe: {label}={value!r} is not a date; give it as YYYY-MM-DD"
        )
    return stamp.normalize()


def _validate(
    seed: int, n_tickers: int, start: str, end: str, templates: _Templates
) -> pd.DatetimeIndex:
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise InvalidValueError(f"demo universe: seed={seed!r} must be a non-negative integer")
    n_sub = len(templates.sub_industries)
    low = MIN_TICKERS_PER_SUB_INDUSTRY * n_sub
    if not isinstance(n_tickers, int | np.integer) or not low <= n_tickers <= MAX_TICKERS:
        raise InvalidValueError(
            f"demo universe: n_tickers={n_tickers!r} is outside [{low}, {MAX_TICKERS}] "
            f"({MIN_TICKERS_PER_SUB_INDUSTRY} per sub-industry x {n_sub} sub-industries at least)"
        )
    first, last = _parse_date(start, "start"), _parse_date(end, "end")
    days = demo_trading_days(first, last)
    if len(days) < MIN_TRADING_DAYS:
        raise InvalidValueError(
            f"demo universe: start={first.date()} to end={last.date()} holds {len(days)} "
            f"trading days; need at least {MIN_TRADING_DAYS} (one year)"
        )
    return days


@lru_cache(maxsize=1)
def _load_templates() -> _Templates:
    text = resources.files(_TEMPLATE_PACKAGE).joinpath(_TEMPLATE_PATH).read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    subs: list[_SubIndustry] = []
    tuple_fields = {
        "suffixes", "activity", "products", "customers", "operations", "competition", "research",
        "regulation", "ai", "ai_use", "fiscal_year_end_months",
    }  # fmt: skip
    for sector in raw["sector"]:
        for sub in sector["sub_industry"]:
            values = {k: (tuple(v) if k in tuple_fields else v) for k, v in sub.items()}
            subs.append(
                _SubIndustry(
                    sector=sector["name"],
                    sector_beta=float(sector["beta"]),
                    sector_sentences=tuple(sector["sentences"]),
                    **values,
                )
            )
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return _Templates(sub_industries=tuple(subs), text=dict(raw["text"]), digest=digest)


def _parameters(seed: int, n_tickers: int, start: str, end: str) -> dict[str, Any]:
    return {
        "seed": int(seed),
        "n_tickers": int(n_tickers),
        "start": str(_parse_date(start, "start").date()),
        "end": str(_parse_date(end, "end").date()),
    }


# ================================================================================================
# Universe layout: names, tickers, sub-industries, listings
# ================================================================================================
def _allocate(total: int, weights: Sequence[int], minimum: int) -> np.ndarray:
    """Largest-remainder apportionment of ``total`` over ``weights`` with a floor per bucket."""
    w = np.asarray(weights, dtype=float)
    counts = np.full(len(w), minimum, dtype=np.int64)
    spare = total - counts.sum()
    quota = spare * w / w.sum()
    counts += np.floor(quota).astype(np.int64)
    remainder = quota - np.floor(quota)
    missing = total - counts.sum()
    order = np.lexsort((np.arange(len(w)), -remainder))  # largest remainder first, ties by position
    counts[order[:missing]] += 1
    return counts


def _ticker_candidates(root: str, suffix: str, preferred_length: int) -> list[str]:
    """Tickers derived from a name, those of ``preferred_length`` letters first."""
    letters = root.upper()
    skeleton = letters[0] + "".join(c for c in letters[1:] if c not in "AEIOUY")
    tail = suffix.upper()[0]
    raw = [
        skeleton[:3] + tail,
        letters[:3] + tail,
        letters[:4],
        skeleton[:3],
        letters[:3],
        letters[0] + tail,
        letters[:2] + tail,
        skeleton[:2] + tail,
        *(letters[:2] + chr(ord("A") + k) + tail for k in range(26)),
    ]
    low, high = TICKER_LETTERS
    valid = [t for t in dict.fromkeys(raw) if low <= len(t) <= high and t.isalpha()]
    return sorted(valid, key=lambda t: len(t) != preferred_length)  # stable: keeps the order above


def _layout(
    rng: np.random.Generator, templates: _Templates, n_tickers: int, n_days: int
) -> _Layout:
    subs = templates.sub_industries
    counts = _allocate(n_tickers, [s.weight for s in subs], MIN_TICKERS_PER_SUB_INDUSTRY)
    spec_index = np.repeat(np.arange(len(subs)), counts)
    roots = [onset + coda for onset in NAME_ONSETS for coda in NAME_CODAS]
    roots = [roots[i] for i in rng.permutation(len(roots))[: n_tickers + 1]]
    lengths = rng.choice(TICKER_LENGTHS, size=n_tickers + 1, p=TICKER_LENGTH_SHARES)
    unpriced_spec = int(rng.integers(len(subs)))
    used: set[str] = set()
    tickers: list[str] = []
    names: list[str] = []
    for k, root in enumerate(roots):
        spec = subs[spec_index[k]] if k < n_tickers else subs[unpriced_spec]
        suffix = spec.suffixes[int(rng.integers(len(spec.suffixes)))]
        ticker = next(t for t in _ticker_candidates(root, suffix, lengths[k]) if t not in used)
        used.add(ticker)
        tickers.append(ticker)
        names.append(f"{root} {suffix}")
    listing_day = np.zeros(n_tickers, dtype=np.int64)
    kinds = [""] * n_tickers
    sub_names = [s.name for s in subs]
    for sub_name, position, kind in LATE_LISTINGS:
        last_of_sub = int(np.flatnonzero(spec_index == sub_names.index(sub_name))[-1])
        listing_day[last_of_sub] = round(position * (n_days - 1))
        kinds[last_of_sub] = kind
    return _Layout(
        tickers=tuple(tickers[:n_tickers]),
        names=tuple(names[:n_tickers]),
        spec_index=spec_index,
        listing_day=listing_day,
        listing_kind=tuple(kinds),
        unpriced_ticker=tickers[n_tickers],
        unpriced_name=names[n_tickers],
        unpriced_spec=unpriced_spec,
    )


def _ai_roles(rng: np.random.Generator, templates: _Templates, layout: _Layout) -> tuple[str, ...]:
    roles = ["none"] * len(layout.tickers)
    for k, spec in enumerate(templates.sub_industries):
        members = np.flatnonzero(layout.spec_index == k)
        if spec.ai_role == "maker":
            for i in members:
                roles[i] = "maker"
        elif spec.ai_use:
            n_users = max(1, round(AI_USER_SHARE * len(members)))
            for i in rng.choice(members, size=n_users, replace=False):
                roles[int(i)] = "user"
    return tuple(roles)


# ================================================================================================
# Planted returns
# ================================================================================================
def _standardise(values: FloatArray) -> FloatArray:
    return (values - values.mean()) / values.std()


def _ar1(
    rng: np.random.Generator, phi: float, stationary_sd: float, shape: tuple[int, ...]
) -> FloatArray:
    """AR(1) paths along axis 0 started in their stationary law: ``x_t = phi x_{t-1} + eta_t``."""
    innovation_sd = stationary_sd * math.sqrt(1.0 - phi**2)
    shocks = rng.standard_normal(shape) * innovation_sd
    paths = np.empty(shape)
    paths[0] = rng.standard_normal(shape[1:]) * stationary_sd
    for t in range(1, shape[0]):  # a recursion in time, vectorised across assets
        paths[t] = phi * paths[t - 1] + shocks[t]
    return paths


def _plant_returns(
    rng: np.random.Generator, templates: _Templates, layout: _Layout, n_days: int
) -> _Planted:
    subs = templates.sub_industries
    sectors = templates.sectors
    n = len(layout.tickers)
    sector_of = np.array([sectors.index(subs[k].sector) for k in layout.spec_index])
    sub_of = layout.spec_index

    regime_sd = VOL_REGIME_SHOCK / math.sqrt(1.0 - VOL_REGIME_PERSISTENCE**2)
    log_regime = _ar1(rng, VOL_REGIME_PERSISTENCE, regime_sd, (n_days, 1))[:, 0]
    regime = np.exp(log_regime - regime_sd**2)  # E[regime^2] = 1: factor variances keep their scale

    log_cap = math.log(MARKET_CAP_MEDIAN_USD) + MARKET_CAP_DISPERSION * rng.standard_normal(n)
    bp_median = np.array([subs[k].book_to_price for k in sub_of])
    book_to_price = bp_median * np.exp(BOOK_TO_PRICE_DISPERSION * rng.standard_normal(n))
    size = _standardise(log_cap)
    log_idio = (
        math.log(IDIO_VOL_MEDIAN_DAILY)
        + IDIO_VOL_DISPERSION * rng.standard_normal(n)
        - IDIO_VOL_SIZE_ELASTICITY * size
    )
    idio_vol = np.exp(log_idio)

    factors = (
        MARKET_FACTOR,
        *sectors,
        *(s.name for s in subs),
        *STYLE_FACTORS_PLANTED,
    )
    n_sectors, n_subs = len(sectors), len(subs)
    loadings = np.zeros((n, len(factors)))
    sector_beta = np.array([subs[k].sector_beta for k in sub_of])
    loadings[:, 0] = sector_beta * np.exp(BETA_DISPERSION * rng.standard_normal(n))
    rows = np.arange(n)
    # Industry membership is a pure dummy, as in the risk model; sensitivities differ through beta.
    loadings[rows, 1 + sector_of] = 1.0
    loadings[rows, 1 + n_sectors + sub_of] = 1.0
    style_start = 1 + n_sectors + n_subs
    loadings[:, style_start:] = np.column_stack(
        [size, _standardise(np.log(book_to_price)), _standardise(log_idio)]
    )

    vols = np.concatenate(
        [
            [MARKET_VOL_DAILY],
            np.full(n_sectors, SECTOR_VOL_DAILY),
            np.full(n_subs, SUB_INDUSTRY_VOL_DAILY),
            np.asarray(STYLE_VOL_DAILY),
        ]
    )
    means = np.zeros(len(factors))
    means[0] = MARKET_DRIFT_DAILY
    factor_returns = means + regime[:, None] * vols * rng.standard_normal((n_days, len(factors)))

    t_scale = math.sqrt(STUDENT_T_DOF / (STUDENT_T_DOF - 2.0))  # unit-variance Student t
    noise = (
        idio_vol * np.sqrt(regime)[:, None] * rng.standard_t(STUDENT_T_DOF, (n_days, n)) / t_scale
    )
    drift = _ar1(rng, DRIFT_PERSISTENCE, DRIFT_SPREAD_DAILY, (n_days, n))
    returns = np.maximum(drift + factor_returns @ loadings.T + noise, RETURN_FLOOR)
    return _Planted(
        factors=factors,
        factor_returns=factor_returns,
        loadings=loadings,
        drift=drift,
        noise=noise,
        returns=returns,
        idio_vol=idio_vol,
        regime=regime,
        log_cap=log_cap,
        book_to_price=book_to_price,
    )


# ================================================================================================
# Prices, dividends, splits, volume
# ================================================================================================
def _to_cents(values: FloatArray) -> FloatArray:
    return np.maximum(np.round(values, 2), CENT)


def _simulate_market(
    rng: np.random.Generator,
    templates: _Templates,
    layout: _Layout,
    planted: _Planted,
    n_days: int,
) -> _Market:
    subs = templates.sub_industries
    n = len(layout.tickers)
    day = np.arange(n_days)[:, None]
    alive = day >= layout.listing_day[None, :]
    first = day == layout.listing_day[None, :]
    traded = alive & ~first  # days with a return

    low_price, high_price = PRICE_BOUNDS_USD
    price0 = np.clip(
        PRICE_MEDIAN_USD * np.exp(PRICE_DISPERSION * rng.standard_normal(n)), low_price, high_price
    )
    shares0 = np.exp(planted.log_cap) / price0

    payer = rng.random(n) < np.array([subs[k].payer_share for k in layout.spec_index])
    spec_yield = np.array([subs[k].dividend_yield for k in layout.spec_index])
    dividend_yield = np.where(
        payer, spec_yield * np.exp(DIVIDEND_YIELD_DISPERSION * rng.standard_normal(n)), 0.0
    )
    phase = rng.integers(0, DAYS_PER_QUARTER, n)
    ex_day = traded & ((day - phase[None, :]) % DAYS_PER_QUARTER == 0) & payer[None, :]
    quarter_share = np.where(ex_day, dividend_yield / 4.0, 0.0)

    # Unrounded close without splits: total return net of the dividend paid out.
    growth = np.where(traded, (1.0 + planted.returns) * (1.0 - quarter_share), 1.0)
    close_nosplit = price0 * np.cumprod(growth, axis=0)

    split = np.ones((n_days, n))
    split_day = np.full(n, -1, dtype=np.int64)
    split_ratio = np.ones(n)
    for position, ratio in SPLITS:
        d = round(position * (n_days - 1))
        eligible = (layout.listing_day <= d - SPLIT_MIN_HISTORY_DAYS) & (split_day < 0)
        eligible &= ~ex_day[d]  # no dividend on a split day: its per-share basis would be ambiguous
        if not eligible.any():
            continue
        level = np.where(eligible, close_nosplit[d - 1] / np.cumprod(split, axis=0)[d - 1], -np.inf)
        chosen = int(np.argmax(level))
        split[d, chosen] = ratio
        split_day[chosen], split_ratio[chosen] = d, ratio
    cum_split = np.cumprod(split, axis=0)

    close = _to_cents(close_nosplit / cum_split)
    prev_close = np.vstack([close[:1], close[:-1]])
    dividend = np.where(
        ex_day, np.round(quarter_share / (1.0 - quarter_share) * close * split, 2), 0.0
    )
    realised = np.where(traded, (close * split + dividend) / prev_close - 1.0, 0.0)
    growth_adj = np.cumprod(1.0 + realised, axis=0)
    adj_close = close[-1] * growth_adj / growth_adj[-1]

    sigma = planted.idio_vol[None, :] * np.sqrt(planted.regime)[:, None]
    open_base = np.where(first, close, prev_close / split)
    open_move = np.where(first, 0.0, OPEN_RETURN_SHARE * realised)
    open_ = _to_cents(
        open_base * (1.0 + open_move + OPEN_NOISE * sigma * rng.standard_normal((n_days, n)))
    )
    up = np.minimum(
        RANGE_NOISE * sigma * np.abs(rng.standard_normal((n_days, n))), MAX_RANGE_FRACTION
    )
    down = np.minimum(
        RANGE_NOISE * sigma * np.abs(rng.standard_normal((n_days, n))), MAX_RANGE_FRACTION
    )
    high = np.ceil(np.maximum(open_, close) * (1.0 + up) / CENT) * CENT
    low = np.maximum(np.floor(np.minimum(open_, close) * (1.0 - down) / CENT) * CENT, CENT)
    # Rounding to cents must not break low <= open, close <= high.
    high = np.round(np.maximum(high, np.maximum(open_, close)), 2)
    low = np.round(np.minimum(low, np.minimum(open_, close)), 2)

    shares = shares0 * cum_split
    size = _standardise(planted.log_cap)
    vol_z = _standardise(np.log(planted.idio_vol))
    turnover = TURNOVER_MEDIAN_DAILY * np.exp(
        TURNOVER_DISPERSION * rng.standard_normal(n)
        - TURNOVER_SIZE_ELASTICITY * size
        + TURNOVER_VOL_ELASTICITY * vol_z
    )
    shock = np.abs(planted.noise) / sigma  # news days trade more
    log_volume_noise = VOLUME_NOISE * rng.standard_normal((n_days, n))
    log_volume_noise += VOLUME_SHOCK_SENSITIVITY * (shock - shock.mean())
    volume = np.maximum(np.rint(shares * turnover * np.exp(log_volume_noise)), 1.0).astype(np.int64)

    def hide(values: FloatArray) -> FloatArray:
        return np.where(alive, values, np.nan)

    return _Market(
        close=hide(close),
        open=hide(open_),
        high=hide(high),
        low=hide(low),
        adj_close=hide(adj_close),
        dividend=np.where(alive, dividend, 0.0),
        split=split,
        shares=shares,
        volume=volume,
        alive=alive,
        dividend_yield=dividend_yield,
        split_day=split_day,
        split_ratio=split_ratio,
    )


def _snapshot(days: pd.DatetimeIndex) -> tuple[int, str]:
    """Trading-day index and column name of the market-cap snapshot.

    The first trading day of February of the span's second calendar year when the span reaches it,
    else of the first February in the span (a one-year span always holds one).
    """
    first, last = days[0], days[-1]
    for year in (first.year + 1, first.year, first.year + 2):
        anchor = pd.Timestamp(year=year, month=SNAPSHOT_MONTH, day=1)
        if first <= anchor and anchor <= last:
            index = int(days.searchsorted(anchor))
            return index, f"market_cap_usd_{year}"
    raise InvalidValueError(  # unreachable for spans of at least MIN_TRADING_DAYS
        f"demo universe: {first.date()} to {last.date()} holds no February 1 for the market-cap "
        "snapshot"
    )


# ================================================================================================
# Frames
# ================================================================================================
def _prices_frame(days: pd.DatetimeIndex, layout: _Layout, market: _Market) -> pd.DataFrame:
    n_days, n = market.alive.shape
    # rows by (ticker, date), like the real file
    order = np.argsort(np.asarray(layout.tickers), kind="stable")
    mask = market.alive[:, order].T.ravel()
    date_grid = np.broadcast_to(days.to_numpy()[:, None], (n_days, n))[:, order].T.ravel()
    ticker_grid = np.broadcast_to(np.asarray(layout.tickers, dtype=object)[None, :], (n_days, n))
    ticker_grid = ticker_grid[:, order].T.ravel()

    def column(values: np.ndarray) -> np.ndarray:
        return values[:, order].T.ravel()[mask]

    frame = pd.DataFrame(
        {
            "date": pd.DatetimeIndex(date_grid[mask]).astype("datetime64[us]"),
            "ticker": ticker_grid[mask],
            "open": column(market.open),
            "high": column(market.high),
            "low": column(market.low),
            "close": column(market.close),
            "adj_close": column(market.adj_close),
            "volume": column(market.volume).astype(np.int64),
            "dividend": column(market.dividend),
            "split_coefficient": column(market.split),
        }
    )
    return frame.reset_index(drop=True)


def _companies_frame(
    rng: np.random.Generator,
    templates: _Templates,
    layout: _Layout,
    market: _Market,
    days: pd.DatetimeIndex,
    snapshot_day: int,
    cap_column: str,
) -> pd.DataFrame:
    subs = templates.sub_industries
    n = len(layout.tickers)
    spec = [*layout.spec_index.tolist(), layout.unpriced_spec]
    tickers = [*layout.tickers, layout.unpriced_ticker]
    names = [*layout.names, layout.unpriced_name]
    listing_years = [days[d].year for d in layout.listing_day] + [days[-1].year + 1]
    kinds = [*layout.listing_kind, "ipo"]
    founded, added = [], []
    for k in range(n + 1):
        if kinds[k] == "ipo":
            low_age, high_age = IPO_AGE_YEARS
            founded.append(str(listing_years[k] - int(rng.integers(low_age, high_age + 1))))
        else:
            founded.append(str(int(rng.integers(FOUNDED_RANGE[0], FOUNDED_RANGE[1] + 1))))
        if kinds[k]:
            added.append(
                str(days[min(layout.listing_day[k], len(days) - 1)].date()) if k < n else None
            )
        else:
            year = int(
                rng.integers(max(int(founded[-1]), INDEX_ADDED_RANGE[0]), INDEX_ADDED_RANGE[1] + 1)
            )
            added.append(f"{year}-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d}")
    cap = market.shares[snapshot_day] * market.close[snapshot_day]  # NaN before listing
    headquarters = [HEADQUARTERS[int(i)] for i in rng.integers(0, len(HEADQUARTERS), n + 1)]
    frame = pd.DataFrame(
        {
            "ticker": tickers,
            "name": names,
            "gics_sector": [subs[k].sector for k in spec],
            "gics_sub_industry": [subs[k].name for k in spec],
            "gics_sub_industry_source": SUB_INDUSTRY_SOURCE,
            "gics_sector_2023": [subs[k].sector for k in spec],
            "cik": [f"{CIK_BASE + 1 + k:010d}" for k in range(n + 1)],
            "headquarters": headquarters,
            "date_added": added,
            "founded": pd.array(founded, dtype="string"),
            cap_column: np.append(cap, np.nan),
            "in_prices": np.append(np.ones(n, dtype=bool), False),
            "later_ticker": pd.Series([None] * (n + 1), dtype=object),
        }
    )
    return frame.sort_values("ticker", kind="stable").reset_index(drop=True)


def _period_end(year: int, month: int) -> pd.Timestamp:
    return pd.Timestamp(year=year, month=month, day=1) + pd.offsets.MonthEnd(0)


def _fundamentals_frame(
    rng: np.random.Generator,
    templates: _Templates,
    layout: _Layout,
    planted: _Planted,
    market: _Market,
    days: pd.DatetimeIndex,
) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Annual statements; also returns each ticker's latest statement (for the texts)."""
    subs = templates.sub_industries
    n = len(layout.tickers)
    first_year, last_year = days[0].year - FUNDAMENTAL_YEARS_BEFORE, days[-1].year
    day_values = days.to_numpy()
    cap0 = np.exp(planted.log_cap)
    assets_to_equity = np.array([subs[k].assets_to_equity for k in layout.spec_index])
    assets_to_equity *= np.exp(RATIO_DISPERSION * rng.standard_normal(n))
    sales_to_assets = np.array([subs[k].sales_to_assets for k in layout.spec_index])
    sales_to_assets *= np.exp(RATIO_DISPERSION * rng.standard_normal(n))
    records = []
    for i in range(n):
        spec = subs[layout.spec_index[i]]
        months = spec.fiscal_year_end_months
        month = months[int(rng.integers(len(months)))]
        listing = days[layout.listing_day[i]]
        late = layout.listing_day[i] > 0
        for year in range(first_year, last_year + 1):
            end = _period_end(year, month)
            if end > days[-1] or (late and end.year < listing.year - PRE_LISTING_YEARS):
                continue
            d = int(np.searchsorted(day_values, end.to_datetime64(), side="right")) - 1
            if d >= layout.listing_day[i]:
                shares = market.shares[d, i]
                cap = shares * market.close[d, i]
            else:  # before the prices start or before listing: the starting size
                shares = market.shares[max(d, 0), i]
                cap = cap0[i] * math.exp(YEARLY_NOISE * rng.standard_normal())
            equity = planted.book_to_price[i] * cap * math.exp(YEARLY_NOISE * rng.standard_normal())
            assets = equity * assets_to_equity[i]
            liabilities = assets - equity
            long_debt = liabilities * spec.long_term_debt_share
            short_debt = liabilities * SHORT_TERM_DEBT_SHARE
            revenue = assets * sales_to_assets[i] * math.exp(YEARLY_NOISE * rng.standard_normal())
            operating = (
                revenue * spec.operating_margin * math.exp(MARGIN_NOISE * rng.standard_normal())
            )
            net = (operating - INTEREST_RATE * (long_debt + short_debt)) * (1.0 - TAX_RATE)
            records.append(
                {
                    "ticker": layout.tickers[i],
                    "source_ticker": layout.tickers[i],
                    "source": FUNDAMENTALS_SOURCE,
                    "fiscal_year": year - 1 if month == 1 else year,
                    "period_end": end,
                    "revenue": revenue,
                    "net_income": net,
                    "total_assets": assets,
                    "total_liabilities": liabilities,
                    "total_equity": equity,
                    "long_term_debt": long_debt,
                    "short_term_debt": short_debt,
                    "cash_and_equiv": assets * CASH_SHARE_OF_ASSETS,
                    "shares_outstanding": float(shares),
                    "eps": net / shares,
                    "gross_profit": revenue * spec.gross_margin,
                    "operating_income": operating,
                    "current_assets": assets * CURRENT_ASSETS_SHARE,
                    "current_liabilities": assets * CURRENT_LIABILITIES_SHARE,
                    "capex": -revenue * CAPEX_TO_SALES,
                    "cfo": net + revenue * DEPRECIATION_TO_SALES,
                    "rnd_expense": revenue * spec.rnd_to_sales,
                }
            )
    frame = pd.DataFrame.from_records(records)
    for column in _FUNDAMENTAL_COLUMNS:
        if column not in frame.columns:
            frame[column] = np.nan  # absent from the demo source, as from the real NYSE source
    frame = frame[list(_FUNDAMENTAL_COLUMNS)]
    frame["fiscal_year"] = frame["fiscal_year"].astype("Int64")
    frame["period_end"] = pd.to_datetime(frame["period_end"]).astype("datetime64[ns]")
    frame = frame.sort_values(["ticker", "fiscal_year"], kind="stable").reset_index(drop=True)
    latest = {t: g.iloc[-1] for t, g in frame.groupby("ticker", sort=False)}
    return frame, latest


def _pick(rng: np.random.Generator, pool: Sequence[str], bounds: tuple[int, int]) -> list[str]:
    count = min(len(pool), int(rng.integers(bounds[0], bounds[1] + 1)))
    return [pool[int(i)] for i in sorted(rng.choice(len(pool), size=count, replace=False))]


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _descriptions_frame(
    rng: np.random.Generator,
    templates: _Templates,
    layout: _Layout,
    companies: pd.DataFrame,
    latest_fy: dict[str, pd.Series],
    ai_roles: tuple[str, ...],
    days: pd.DatetimeIndex,
) -> tuple[pd.DataFrame, tuple[bool, ...]]:
    subs, text = templates.sub_industries, templates.text
    info = companies.set_index("ticker")
    entries = [
        (
            layout.tickers[i],
            layout.names[i],
            int(layout.spec_index[i]),
            ai_roles[i],
            layout.listing_kind[i],
        )
        for i in range(len(layout.tickers))
    ]
    entries.append(
        (layout.unpriced_ticker, layout.unpriced_name, layout.unpriced_spec, "none", "ipo")
    )
    members: dict[int, list[str]] = {}
    for _, name, k, _, _ in entries:
        members.setdefault(k, []).append(name)

    rows: list[dict[str, Any]] = []
    has_10k: list[bool] = []
    low_lag, high_lag = TENK_FILING_LAG_DAYS
    for ticker, name, k, role, kind in entries:
        spec = subs[k]
        row = info.loc[ticker]
        peers = [p for p in members[k] if p != name]
        peers = [
            peers[int(j)]
            for j in rng.permutation(len(peers))[: int(rng.integers(*N_PEERS, endpoint=True))]
        ]
        products = _pick(rng, spec.products, N_PRODUCTS)
        customers = _pick(rng, spec.customers, N_CUSTOMERS)
        activity = spec.activity[int(rng.integers(len(spec.activity)))]
        ai_pool = spec.ai if role == "maker" else spec.ai_use if role == "user" else ()
        listing = ""
        if kind and ticker != layout.unpriced_ticker:
            template = text["wiki_listing_ipo"] if kind == "ipo" else text["wiki_listing_spin"]
            listing = template.format(listing_year=row["date_added"][:4])
        fields = {
            "name": name,
            "ticker": ticker,
            "descriptor": spec.descriptor,
            "headquarters": row["headquarters"],
            "founded": row["founded"],
            "activity": activity,
            "products": _join(products),
            "customers": _join(customers),
            "peers": _join(peers),
            "listing": listing,
        }
        wiki = [
            text["wiki_first"].format_map(fields),
            " ".join(
                [text["wiki_products"].format_map(fields), text["wiki_peers"].format_map(fields)]
            ),
        ]
        if ai_pool:
            wiki.append(ai_pool[int(rng.integers(len(ai_pool)))])
        rows.append(
            {
                "ticker": ticker,
                "source_ticker": ticker,
                "title": name,
                "source": "wikipedia",
                "as_of": pd.NaT,
                "text": "\n\n".join(wiki),
            }
        )
        statement = latest_fy.get(ticker)
        write_10k = statement is not None and (role != "none" or rng.random() >= TENK_MISSING_SHARE)
        has_10k.append(write_10k)
        if not write_10k:
            continue
        sections = _tenk_sections(rng, spec, text, fields, statement, ai_pool)
        filed = days[-1] + pd.Timedelta(days=int(rng.integers(low_lag, high_lag + 1)))
        rows.append(
            {
                "ticker": ticker,
                "source_ticker": ticker,
                "title": f"{name} Form 10-K Item 1 (Business)",
                "source": "sec_10k_item1",
                "as_of": filed,
                "text": sections,
            }
        )
    frame = pd.DataFrame.from_records(rows)
    frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[us]")
    frame = frame.sort_values(["ticker", "source"], kind="stable").reset_index(drop=True)
    return frame, tuple(has_10k[: len(layout.tickers)])


def _tenk_sections(
    rng: np.random.Generator,
    spec: _SubIndustry,
    text: dict[str, str],
    fields: dict[str, str],
    statement: pd.Series,
    ai_pool: tuple[str, ...],
) -> str:
    sector = list(spec.sector_sentences)
    order = rng.permutation(len(sector))
    sector = [sector[int(j)] for j in order]
    revenue = float(statement["revenue"])
    employees = max(
        EMPLOYEE_ROUNDING,
        round(revenue / 1e6 * spec.employees_per_musd / EMPLOYEE_ROUNDING) * EMPLOYEE_ROUNDING,
    )
    period_end = pd.Timestamp(statement["period_end"])
    values = {
        **fields,
        "fiscal_year": str(int(statement["fiscal_year"])),
        "revenue_bn": f"{revenue / 1e9:.1f}",
        "employees": f"{employees:,}",
        "share_us": str(int(rng.integers(US_EMPLOYEE_SHARE[0], US_EMPLOYEE_SHARE[1] + 1))),
        "fiscal_year_end": f"{period_end:%B} {period_end.day}, {period_end.year}",
    }
    operations = _pick(rng, spec.operations, (2, len(spec.operations)))
    parts = ["ITEM 1. BUSINESS"]
    if rng.random() < FORWARD_LOOKING_SHARE:
        parts.append(text["forward_looking"])
    parts += [
        "Overview\n" + " ".join([text["overview"].format_map(values), sector[0]]),
        "Products and Services\n"
        + " ".join([text["products_intro"].format_map(values), *operations]),
        "Customers and Markets\n"
        + " ".join([text["customers_intro"].format_map(values), sector[1]]),
        "Competition\n"
        + " ".join([*spec.competition, text["competition_peers"].format_map(values)]),
        "Research and Development\n" + " ".join([*spec.research, sector[2]]),
    ]
    if ai_pool:
        parts.append("Artificial Intelligence\n" + " ".join(ai_pool))
    parts += [
        "Government Regulation\n" + " ".join([*spec.regulation, sector[3]]),
        "Human Capital\n" + text["human_capital"].format_map(values),
    ]
    return "\n\n".join(parts)


# ================================================================================================
# Truth frames
# ================================================================================================
def _truth_factor_returns(days: pd.DatetimeIndex, planted: _Planted) -> pd.DataFrame:
    n_days, k = planted.factor_returns.shape
    return pd.DataFrame(
        {
            "date": np.repeat(days.to_numpy(), k),
            "factor": np.tile(np.asarray(planted.factors, dtype=object), n_days),
            "ret": planted.factor_returns.ravel(),
        }
    )


def _truth_loadings(layout: _Layout, planted: _Planted) -> pd.DataFrame:
    ticker_index, factor_index = np.nonzero(planted.loadings)
    frame = pd.DataFrame(
        {
            "ticker": np.asarray(layout.tickers, dtype=object)[ticker_index],
            "factor": np.asarray(planted.factors, dtype=object)[factor_index],
            "loading": planted.loadings[ticker_index, factor_index],
        }
    )
    return frame.sort_values(["ticker"], kind="stable").reset_index(drop=True)


def _truth_tickers(
    templates: _Templates,
    layout: _Layout,
    planted: _Planted,
    market: _Market,
    days: pd.DatetimeIndex,
    ai_roles: tuple[str, ...],
    has_10k: tuple[bool, ...],
) -> pd.DataFrame:
    subs = templates.sub_industries
    split_dates = [days[d] if d >= 0 else pd.NaT for d in market.split_day]
    frame = pd.DataFrame(
        {
            "ticker": list(layout.tickers),
            "gics_sector": [subs[k].sector for k in layout.spec_index],
            "gics_sub_industry": [subs[k].name for k in layout.spec_index],
            "ai_role": list(ai_roles),
            "listing_date": days[layout.listing_day],
            "listing_kind": list(layout.listing_kind),
            "idio_vol_daily": planted.idio_vol,
            "market_cap_initial": np.exp(planted.log_cap),
            "book_to_price": planted.book_to_price,
            "dividend_yield": market.dividend_yield,
            "split_date": pd.to_datetime(pd.Series(split_dates, dtype="datetime64[ns]")),
            "split_ratio": market.split_ratio,
            "has_10k": list(has_10k),
        }
    )
    return frame.sort_values("ticker", kind="stable").reset_index(drop=True)


def _truth_returns(
    days: pd.DatetimeIndex, layout: _Layout, planted: _Planted, market: _Market
) -> pd.DataFrame:
    n_days, n = market.alive.shape
    first = np.arange(n_days)[:, None] == layout.listing_day[None, :]
    mask = (market.alive & ~first).ravel()
    specific = planted.returns - planted.factor_returns @ planted.loadings.T
    return pd.DataFrame(
        {
            "date": np.repeat(days.to_numpy(), n)[mask],
            "ticker": np.tile(np.asarray(layout.tickers, dtype=object), n_days)[mask],
            "ret": planted.returns.ravel()[mask],
            "specific_ret": specific.ravel()[mask],
            "drift": planted.drift.ravel()[mask],
        }
    )


# ================================================================================================
# Writing
# ================================================================================================
_FUNDAMENTAL_COLUMNS = (
    "ticker", "source_ticker", "source", "fiscal_year", "period_end", "revenue", "net_income",
    "total_assets", "total_liabilities", "total_equity", "long_term_debt", "short_term_debt",
    "cash_and_equiv", "shares_outstanding", "eps", "gross_profit", "operating_income",
    "current_assets", "current_liabilities", "capex", "cfo", "rnd_expense", "interest_expense",
    "income_tax_expense",
    "accounts_receivable", "inventory", "ppe", "goodwill", "cfi", "cff", "depr_amort", "dividends",
    "share_repurchases", "sga_expense", "cogs",
)  # fmt: skip
"""Columns of the real ``fundamentals.parquet``, in its order."""

_STRING = pa.large_string()
_RAW_SCHEMAS: dict[str, pa.Schema] = {
    "prices": pa.schema(
        [("date", pa.timestamp("us")), ("ticker", _STRING)]
        + [(c, pa.float64()) for c in ("open", "high", "low", "close", "adj_close")]
        + [("volume", pa.int64()), ("dividend", pa.float64()), ("split_coefficient", pa.float64())]
    ),
    "fundamentals": pa.schema(
        [("ticker", _STRING), ("source_ticker", _STRING), ("source", _STRING)]
        + [("fiscal_year", pa.int64()), ("period_end", pa.timestamp("ns"))]
        + [(c, pa.float64()) for c in _FUNDAMENTAL_COLUMNS[5:]]
    ),
    "descriptions": pa.schema(
        [(c, _STRING) for c in ("ticker", "source_ticker", "title", "source")]
        + [("as_of", pa.timestamp("us")), ("text", _STRING)]
    ),
}
"""Arrow schemas of the real files (PROVENANCE.md); ``companies`` depends on the snapshot year."""


def _schema_for(stem: str, frame: pd.DataFrame) -> pa.Schema | None:
    if stem in _RAW_SCHEMAS:
        return _RAW_SCHEMAS[stem]
    if stem == "companies":
        fields = []
        for column in frame.columns:
            if column == "in_prices":
                fields.append((column, pa.bool_()))
            elif column.startswith("market_cap_usd_"):
                fields.append((column, pa.float64()))
            else:
                fields.append((column, _STRING))
        return pa.schema(fields)
    return None  # truth files: inferred


def _write_atomic(path: Path, payload: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(payload)
    os.replace(temporary, path)


def _write_parquet(frame: pd.DataFrame, path: Path, schema: pa.Schema | None) -> None:
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, temporary, compression=PARQUET_COMPRESSION)
    os.replace(temporary, path)


def _is_current(out_dir: Path, parameters: dict[str, Any]) -> bool:
    manifest = read_demo_manifest(out_dir)
    if manifest is None or manifest.get("version") != GENERATOR_VERSION:
        return False
    if manifest.get("templates_sha256") != _load_templates().digest:
        return False
    if manifest.get("parameters") != parameters:
        return False
    files = manifest.get("files")
    expected = {f"{stem}.parquet" for stem in RAW_FILES} | {
        f"{TRUTH_DIR}/{stem}.parquet" for stem in TRUTH_FILES
    }
    if not isinstance(files, dict) or set(files) != expected:
        return False
    for relative, rows in files.items():
        try:
            if pq.read_metadata(out_dir / relative).num_rows != rows:
                return False
        except (OSError, pa.ArrowException):
            return False
    return True


def _universe(out_dir: Path, row_counts: dict[str, int], summary: str) -> DemoUniverse:
    return DemoUniverse(
        out_dir=out_dir,
        prices=out_dir / "prices.parquet",
        companies=out_dir / "companies.parquet",
        fundamentals=out_dir / "fundamentals.parquet",
        descriptions=out_dir / "descriptions.parquet",
        truth_factor_returns=out_dir / TRUTH_DIR / "factor_returns.parquet",
        truth_loadings=out_dir / TRUTH_DIR / "loadings.parquet",
        truth_tickers=out_dir / TRUTH_DIR / "tickers.parquet",
        truth_returns=out_dir / TRUTH_DIR / "returns.parquet",
        manifest=out_dir / MANIFEST_NAME,
        row_counts=row_counts,
        summary=summary,
    )


def _summary(frames: DemoFrames, seed: int) -> str:
    prices = frames.prices
    dates = prices["date"]
    tickers = frames.truth_tickers
    n_late = int((tickers["listing_date"] > dates.min()).sum())
    n_splits = int(tickers["split_date"].notna().sum())
    return (
        f"demo universe (generator v{GENERATOR_VERSION}, seed {seed}): "
        f"{prices['ticker'].nunique()} tickers in {tickers['gics_sector'].nunique()} sectors / "
        f"{tickers['gics_sub_industry'].nunique()} sub-industries, {dates.nunique()} trading days "
        f"{dates.min().date()} to {dates.max().date()}, {len(prices)} price rows, "
        f"{n_splits} splits, {n_late} late listings"
    )
