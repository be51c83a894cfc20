"""Industry factors from GICS, with a minimum number of members per industry.

A factor needs enough members to be estimated apart from its members' specific returns (one member
would be fitted exactly). :func:`assign_industries` labels each ticker at the requested GICS level
and merges small groups upwards:

1. every ticker gets its label at ``level`` (falling back to the next coarser level when missing);
2. a group with fewer than ``min_members`` tickers takes, for each of its members, the coarser-level
   label instead (sub-industry -> industry -> industry group -> sector), level by level;
3. at the sector level, sectors still below ``min_members`` (and tickers without any GICS label) are
   pooled into ``"Other"``; if ``"Other"`` itself stays below ``min_members`` it joins the largest
   industry, so that every industry in the model meets the minimum.

The data in ``../shared/data`` carries ``gics_sector`` (2021) and ``gics_sub_industry`` (mostly the
2023 scheme; PROVENANCE.md), so the default is the sector level, which matches the price span.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from hedging_pipeline.data.validation import require_columns
from hedging_pipeline.errors import InvalidValueError

GICS_LEVELS = ("gics_sector", "gics_industry_group", "gics_industry", "gics_sub_industry")
"""GICS levels from coarsest to finest."""

MIN_INDUSTRY_MEMBERS = 10
"""Smallest industry the model keeps (USE4 asks for thin industries to be merged; 10 keeps the
cap-weighted industry factor from being one or two names)."""

OTHER_INDUSTRY = "Other"


def assign_industries(
    companies: pd.DataFrame,
    tickers: Iterable[str] | None = None,
    *,
    level: str = "gics_sector",
    min_members: int = MIN_INDUSTRY_MEMBERS,
) -> pd.DataFrame:
    """Map each ticker to a model industry, merging industries smaller than ``min_members``.

    Parameters
    ----------
    companies : pd.DataFrame
        ``ticker``, ``gics_sector`` and optionally finer GICS columns (:data:`GICS_LEVELS`).
    tickers : iterable of str, optional
        The universe whose members are counted (e.g. the tickers with prices); default: every row
        of ``companies``.
    level : str
        GICS column to start from.
    min_members : int
        Smallest industry size kept (see the module docstring for the merging rules).

    Returns
    -------
    pd.DataFrame
        ``ticker, industry``, one row per ticker of the universe, sorted by ticker.

    Raises
    ------
    MissingColumnError
        ``companies`` lacks ``ticker``, ``gics_sector`` or the requested ``level``.
    InvalidValueError
        ``level`` is not a GICS level, or a universe ticker is absent from ``companies``.
    """
    if level not in GICS_LEVELS:
        raise InvalidValueError(f"industry level must be one of {GICS_LEVELS}, got {level!r}")
    require_columns(companies, tuple(dict.fromkeys(("ticker", "gics_sector", level))), "companies")
    frame = companies.drop_duplicates("ticker").set_index("ticker")
    if tickers is not None:
        wanted = pd.Index(sorted(set(tickers)))
        unknown = wanted.difference(frame.index)
        if len(unknown):
            raise InvalidValueError(
                f"companies: ticker {unknown[0]} has prices but no row in companies "
                f"({len(unknown)} such tickers); add it with its gics_sector"
            )
        frame = frame.loc[wanted]
    else:
        frame = frame.sort_index()

    depth = GICS_LEVELS.index(level)
    levels = [c for c in GICS_LEVELS[: depth + 1] if c in frame.columns]  # coarse -> fine
    labels = {c: frame[c].astype("string").str.strip().replace("", pd.NA) for c in levels}
    current = labels[level]
    for coarser in reversed(levels[:-1]):  # a missing label falls back to the next coarser one
        current = current.fillna(labels[coarser])

    for coarser in reversed(levels[:-1]):
        counts = current.map(current.value_counts())
        small = counts < min_members
        current = current.where(~small, labels[coarser].fillna(current))
    counts = current.map(current.value_counts())
    current = current.where(current.notna() & (counts >= min_members), OTHER_INDUSTRY)
    sizes = current.value_counts()
    if sizes.get(OTHER_INDUSTRY, min_members) < min_members and len(sizes) > 1:
        largest = sizes.drop(OTHER_INDUSTRY).idxmax()
        current = current.replace(OTHER_INDUSTRY, largest)
    return pd.DataFrame({"ticker": frame.index.astype(str), "industry": current.astype(str).values})
