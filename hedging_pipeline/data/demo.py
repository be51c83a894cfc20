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

This module is the entry point; the parts live in :mod:`hedging_pipeline.data.demo_universe`
(``parameters``, ``calendar``, ``templates``, ``layout``, ``returns``, ``market``, ``frames``,
``texts``, ``truth``, ``files``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hedging_pipeline.data.demo_universe.calendar import (
    demo_trading_days,
    manifest_parameters,
    validate_arguments,
)
from hedging_pipeline.data.demo_universe.files import schema_for, write_atomic, write_parquet
from hedging_pipeline.data.demo_universe.frames import (
    companies_frame,
    fundamentals_frame,
    prices_frame,
)
from hedging_pipeline.data.demo_universe.layout import assign_ai_roles, build_layout
from hedging_pipeline.data.demo_universe.market import market_cap_snapshot, simulate_market
from hedging_pipeline.data.demo_universe.parameters import N_SEED_STREAMS
from hedging_pipeline.data.demo_universe.returns import plant_returns
from hedging_pipeline.data.demo_universe.templates import load_templates
from hedging_pipeline.data.demo_universe.texts import descriptions_frame
from hedging_pipeline.data.demo_universe.truth import (
    truth_factor_returns,
    truth_loadings,
    truth_returns,
    truth_tickers,
)

__all__ = [
    "DEFAULT_END",
    "DEFAULT_N_TICKERS",
    "DEFAULT_SEED",
    "DEFAULT_START",
    "GENERATOR_VERSION",
    "DemoFrames",
    "DemoUniverse",
    "build_demo_frames",
    "demo_trading_days",
    "ensure_demo_universe",
    "generate_demo_universe",
    "read_demo_manifest",
]

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


# ================================================================================================
# Public API


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
    templates = load_templates()
    days = validate_arguments(seed, n_tickers, start, end, templates)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(N_SEED_STREAMS)]
    rng_names, rng_returns, rng_prices, rng_fund, rng_text, rng_roles = streams

    layout = build_layout(rng_names, templates, n_tickers, len(days))
    planted = plant_returns(rng_returns, templates, layout, len(days))
    market = simulate_market(rng_prices, templates, layout, planted, len(days))
    snapshot_day, cap_column = market_cap_snapshot(days)
    ai_roles = assign_ai_roles(rng_roles, templates, layout)

    prices = prices_frame(days, layout, market)
    fundamentals, latest_fy = fundamentals_frame(rng_fund, templates, layout, planted, market, days)
    companies = companies_frame(rng_text, templates, layout, market, days, snapshot_day, cap_column)
    descriptions, has_10k = descriptions_frame(
        rng_text, templates, layout, companies, latest_fy, ai_roles, days
    )
    ticker_facts = truth_tickers(templates, layout, planted, market, days, ai_roles, has_10k)
    return DemoFrames(
        prices=prices,
        companies=companies,
        fundamentals=fundamentals,
        descriptions=descriptions,
        truth_factor_returns=truth_factor_returns(days, planted),
        truth_loadings=truth_loadings(layout, planted),
        truth_tickers=ticker_facts,
        truth_returns=truth_returns(days, layout, planted, market),
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
        write_parquet(frame, out_dir / relative, schema_for(stem, frame))
        row_counts[relative] = len(frame)
    summary = _summary(frames, seed)
    manifest = {
        "generator": __name__,
        "version": GENERATOR_VERSION,
        "templates_sha256": load_templates().digest,
        "parameters": manifest_parameters(seed, n_tickers, start, end),
        "files": row_counts,
        "summary": summary,
    }
    write_atomic(out_dir / MANIFEST_NAME, (json.dumps(manifest, indent=2) + "\n").encode())
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
    validate_arguments(seed, n_tickers, start, end, load_templates())
    parameters = manifest_parameters(seed, n_tickers, start, end)
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


def _is_current(out_dir: Path, parameters: dict[str, Any]) -> bool:
    manifest = read_demo_manifest(out_dir)
    if manifest is None or manifest.get("version") != GENERATOR_VERSION:
        return False
    if manifest.get("templates_sha256") != load_templates().digest:
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
