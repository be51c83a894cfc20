"""Required and optional columns of each raw drop-folder file (CONTRACT.md, "Raw drop folder")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hedging_pipeline.types import STYLE_FACTORS


@dataclass(frozen=True)
class RawFileSchema:
    """Columns of one raw file.

    Attributes
    ----------
    name : str
        Stem of the file in the drop folder (``prices`` -> ``prices.parquet`` or ``prices.csv``).
    required : tuple of str
        Columns that must be present.
    optional : tuple of str
        Columns kept when present; anything else is ignored.
    numeric : tuple of str
        Columns coerced to float (a non-numeric value is an error naming the row).
    alternatives : tuple of tuple of str
        Groups of which at least one column must be present (e.g. ``period_end`` or ``fiscal_year``).
    required_file : bool
        Whether a missing file is an error (``exposures`` is optional).
    """

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    alternatives: tuple[tuple[str, ...], ...] = ()
    required_file: bool = True

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column this schema keeps."""
        alt = tuple(c for group in self.alternatives for c in group)
        return tuple(dict.fromkeys(self.required + alt + self.optional))


PRICES = RawFileSchema(
    name="prices",
    required=("date", "ticker", "close", "volume"),
    optional=("open", "high", "low", "adj_close", "dividend", "split_coefficient"),
    numeric=(
        "close",
        "volume",
        "open",
        "high",
        "low",
        "adj_close",
        "dividend",
        "split_coefficient",
    ),
)

COMPANIES = RawFileSchema(
    name="companies",
    required=("ticker", "name", "gics_sector"),
    optional=(
        "cik",
        "gics_industry_group",
        "gics_industry",
        "gics_sub_industry",
        "market_cap",
        "shares_outstanding",
        "cik",
    ),
    numeric=("market_cap", "shares_outstanding"),
)

FUNDAMENTAL_VALUES = (
    "total_equity",
    "total_assets",
    "total_liabilities",
    "long_term_debt",
    "short_term_debt",
    "net_income",
    "revenue",
    "operating_income",
    "shares_outstanding",
    "eps",
)

FUNDAMENTALS = RawFileSchema(
    name="fundamentals",
    required=("ticker",),
    alternatives=(("period_end", "fiscal_year"),),
    optional=(*FUNDAMENTAL_VALUES, "source"),
    numeric=(*FUNDAMENTAL_VALUES, "fiscal_year"),
)

DESCRIPTIONS = RawFileSchema(
    name="descriptions",
    required=("ticker", "text"),
    optional=("title", "source"),
)

EXPOSURES = RawFileSchema(
    name="exposures",
    required=("date", "ticker", *STYLE_FACTORS),
    numeric=STYLE_FACTORS,
    required_file=False,
)

RAW_SCHEMAS: dict[str, RawFileSchema] = {
    s.name: s for s in (PRICES, COMPANIES, FUNDAMENTALS, DESCRIPTIONS, EXPOSURES)
}

PORT_HEADERS: dict[str, str] = {
    "sz fact exp": "size",
    "val fact exp": "value",
    "mom fact exp": "momentum",
    "vol fact exp": "volatility",
    "prof fact exp": "profitability",
    "lev fact exp": "leverage",
    "trd act fact exp": "trading_activity",
}
"""Bloomberg PORT column headers (lower-cased) -> our style column names."""

MARKET_CAP_SNAPSHOT = re.compile(r"^market_cap_usd_(\d{4})$")
"""A companies column such as ``market_cap_usd_2018``: a market-cap snapshot taken early in that year."""

TICKER_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,11}$")
"""Tickers: upper-case letters, digits, '.' (share classes, ``BRK.B``) and '-'; 1 to 12 characters."""
