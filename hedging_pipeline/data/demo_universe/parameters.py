"""Parameters of the demo universe: sizes, planted return structure, prices, fundamentals and texts.

Pure constants, read by the parts of :mod:`hedging_pipeline.data.demo_universe`.
"""

from __future__ import annotations

from hedging_pipeline.types import TRADING_DAYS_PER_YEAR

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

TEMPLATE_PACKAGE = "hedging_pipeline.data"
TEMPLATE_PATH = "templates/demo_universe.toml"
N_SEED_STREAMS = 6
