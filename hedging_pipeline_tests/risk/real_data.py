"""Cleaned panels of the real drop folder (``../shared/data``), for realdata tests and benchmarks.

Uses the foundation's loaders and cleaning (``market_cap_panel``), as the Dagster layer does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hedging_pipeline.data.cleaning import (
    clean_prices,
    compute_daily_returns,
    market_cap_panel,
    share_references,
)
from hedging_pipeline.data.loaders import load_companies, load_fundamentals, load_prices


@dataclass(frozen=True)
class RealPanels:
    """Cleaned real inputs of the risk model."""

    prices: pd.DataFrame
    daily_returns: pd.DataFrame
    market_caps: pd.DataFrame
    companies: pd.DataFrame
    fundamentals: pd.DataFrame


def build_real_panels(raw_dir: Path) -> RealPanels:
    """Load, clean and derive returns and market caps from the raw folder (about a minute)."""
    raw = load_prices(raw_dir)
    companies = load_companies(raw_dir)
    fundamentals = load_fundamentals(raw_dir)
    prices = clean_prices(raw)
    calendar = pd.DatetimeIndex(sorted(prices["date"].unique()))
    returns = compute_daily_returns(prices, calendar)
    caps = market_cap_panel(prices, share_references(prices, companies, fundamentals))
    return RealPanels(
        prices=prices[["date", "ticker", "close", "adj_close", "volume"]],
        daily_returns=returns,
        market_caps=caps[["date", "ticker", "market_cap"]],
        companies=companies,
        fundamentals=fundamentals,
    )
