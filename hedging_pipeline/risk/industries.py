"""Industry factors from GICS, with a minimum number of members per industry.

The model's industries are GICS **industry groups** by default (:func:`model_industries`; the level
is configurable: sector, industry group or industry). The data names only ``gics_sub_industry``;
the package's hierarchy table ``risk/tables/gics_2023.csv`` (the GICS structure effective 17 March
2023, published by MSCI and S&P Dow Jones Indices, 163 sub-industries -> 74 industries -> 25
industry groups -> 11 sectors, plus retired sub-industry names mapped to their successor) supplies
the industry, the industry group and the (2023) sector of each sub-industry. A sub-industry name
missing from the table is an error naming the ticker; a ticker without a sub-industry keeps its
``gics_sector``.

A factor needs enough members to be estimated apart from its members' specific returns (one member
would be fitted exactly). :func:`assign_industries` labels each ticker at the requested GICS level
and merges small groups upwards:

1. every ticker gets its label at ``level`` (falling back to the next coarser level when missing);
2. a group with fewer than ``min_members`` tickers takes, for each of its members, the coarser-level
   label instead (sub-industry -> industry -> industry group -> sector), level by level;
3. a group still below ``min_members`` at the sector level (the small groups of one sector merged
   together) joins the largest industry of the same sector that meets the minimum;
4. whole sectors still below ``min_members`` (and tickers without any GICS label) are pooled into
   ``"Other"``; if ``"Other"`` itself stays below ``min_members`` it joins the largest industry,
   so that every industry in the model meets the minimum.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

import pandas as pd

from hedging_pipeline.data.validation import require_columns
from hedging_pipeline.errors import InvalidValueError

GICS_LEVELS = ("gics_sector", "gics_industry_group", "gics_industry", "gics_sub_industry")
"""GICS levels from coarsest to finest."""

MIN_INDUSTRY_MEMBERS = 10
"""Smallest industry the model keeps (USE4 asks for thin industries to be merged; 10 keeps the
cap-weighted industry factor from being one or two names)."""

OTHER_INDUSTRY = "Other"
MODEL_LEVELS = ("gics_sector", "gics_industry_group", "gics_industry")
"""Levels the risk model's industry factors may use."""
DEFAULT_INDUSTRY_LEVEL = "gics_industry_group"
HIERARCHY_TABLE = "tables/gics_2023.csv"
HIERARCHY_COLUMNS = {
    "industry": "gics_industry",
    "industry_group": "gics_industry_group",
    "sector": "gics_sector",
}


@lru_cache(maxsize=1)
def gics_hierarchy() -> pd.DataFrame:
    """The packaged GICS table: ``sub_industry, industry, industry_group, sector, note``.

    Raises
    ------
    InvalidValueError
        A row lacks one of the levels, or a sub-industry appears twice.
    """
    path = resources.files("hedging_pipeline.risk").joinpath(HIERARCHY_TABLE)
    with resources.as_file(path) as file:
        table = pd.read_csv(file, comment="#", dtype=str, keep_default_na=False)
    for column in ("sub_industry", *HIERARCHY_COLUMNS):
        empty = table[column].str.strip() == ""
        if empty.any():
            raise InvalidValueError(
                f"{HIERARCHY_TABLE}: column {column} is empty for sub-industry "
                f"{table.loc[empty, 'sub_industry'].iloc[0]!r}; every row needs all four levels"
            )
    if table["sub_industry"].duplicated().any():
        dup = table.loc[table["sub_industry"].duplicated(), "sub_industry"].iloc[0]
        raise InvalidValueError(f"{HIERARCHY_TABLE}: sub-industry {dup!r} appears twice")
    return table


def complete_gics_levels(companies: pd.DataFrame) -> pd.DataFrame:
    """Add ``gics_industry`` and ``gics_industry_group`` from ``gics_sub_industry`` (hierarchy table).

    Levels already given in ``companies`` are kept; for a ticker with a sub-industry the table's
    (2023) sector replaces ``gics_sector`` so that every ticker's levels form one tree. Without a
    ``gics_sub_industry`` column the frame is returned unchanged.

    Raises
    ------
    InvalidValueError
        A sub-industry name that the hierarchy table does not know.
    """
    if "gics_sub_industry" not in companies.columns:
        return companies
    table = gics_hierarchy().set_index("sub_industry")
    sub = companies["gics_sub_industry"].astype("string").str.strip().replace("", pd.NA)
    unknown = sub.notna() & ~sub.isin(table.index)
    if unknown.any():
        row = companies.loc[unknown].iloc[0]
        raise InvalidValueError(
            f"companies: gics_sub_industry {str(sub[unknown].iloc[0])!r} of ticker {row['ticker']} "
            f"is not in the GICS hierarchy table {HIERARCHY_TABLE} ({int(unknown.sum())} such "
            f"tickers); add a row mapping it to its industry, industry group and sector"
        )
    out = companies.copy()
    known = sub.notna()
    for source, column in HIERARCHY_COLUMNS.items():
        mapped = sub[known].map(table[source])
        if column in out.columns and column != "gics_sector":
            given = out.loc[known, column].astype("string").str.strip().replace("", pd.NA)
            mapped = given.fillna(mapped)
        if column not in out.columns:
            out[column] = pd.Series(pd.NA, index=out.index, dtype="string")
        out[column] = out[column].astype("string")
        out.loc[known, column] = mapped
    return out


def model_industries(
    companies: pd.DataFrame,
    tickers: Iterable[str] | None = None,
    *,
    level: str = DEFAULT_INDUSTRY_LEVEL,
    min_members: int = MIN_INDUSTRY_MEMBERS,
) -> pd.DataFrame:
    """The risk model's industry of each ticker: GICS at ``level`` with small groups merged.

    Completes the GICS levels from the hierarchy table (:func:`complete_gics_levels`), then applies
    :func:`assign_industries`. Without sub-industries (or the level's column) the model falls back
    to the finest level available.

    Parameters
    ----------
    companies : pd.DataFrame
        ``ticker, gics_sector`` and optionally ``gics_sub_industry`` (and finer GICS columns).
    tickers : iterable of str, optional
        The universe whose members are counted; default every row of ``companies``.
    level : str
        One of :data:`MODEL_LEVELS`.
    min_members : int
        Smallest industry kept.

    Returns
    -------
    pd.DataFrame
        ``ticker, industry`` sorted by ticker.

    Raises
    ------
    InvalidValueError
        An unknown level or sub-industry, or a universe ticker absent from ``companies``.
    """
    if level not in MODEL_LEVELS:
        raise InvalidValueError(f"industry level must be one of {MODEL_LEVELS}, got {level!r}")
    full = complete_gics_levels(companies)
    available = [c for c in MODEL_LEVELS[: MODEL_LEVELS.index(level) + 1] if c in full.columns]
    return assign_industries(full, tickers, level=available[-1], min_members=min_members)


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
    current = _join_sector_peers(current, labels["gics_sector"], min_members)
    counts = current.map(current.value_counts())
    current = current.where(current.notna() & (counts >= min_members), OTHER_INDUSTRY)
    sizes = current.value_counts()
    if sizes.get(OTHER_INDUSTRY, min_members) < min_members and len(sizes) > 1:
        largest = sizes.drop(OTHER_INDUSTRY).idxmax()
        current = current.replace(OTHER_INDUSTRY, largest)
    return pd.DataFrame({"ticker": frame.index.astype(str), "industry": current.astype(str).values})


def _join_sector_peers(current: pd.Series, sector: pd.Series, min_members: int) -> pd.Series:
    """Move each group below ``min_members`` into the largest big-enough group of its sector."""
    current = current.copy()
    sizes = current.value_counts()
    for label in sizes[sizes < min_members].index:
        members = current == label
        home = sector[members].dropna()
        if home.empty:
            continue
        peers = current[(sector == home.mode().iloc[0]) & ~members]
        peers = peers[peers.map(sizes) >= min_members]
        if len(peers):
            current[members] = peers.value_counts().idxmax()
    return current
