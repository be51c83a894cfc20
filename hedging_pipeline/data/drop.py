"""A raw drop, read and validated as a whole before any table changes.

:func:`load_drop` reads every file of the drop folder, applies the per-file validators of
:mod:`~hedging_pipeline.data.loaders`, the cross-file rules (every ticker of ``prices`` and ``exposures`` is in
``companies``) and the plausibility rules of :mod:`~hedging_pipeline.data.plausibility`, and returns the frames of
the raw tables together with the drop's as-of date and its quarantine table. Any failure raises before a single
table is written; the raw stage then swaps all raw tables in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hedging_pipeline.data import loaders, plausibility
from hedging_pipeline.data.quality import load_quality_config
from hedging_pipeline.data.schema import COMPANIES, DESCRIPTIONS, EXPOSURES, FUNDAMENTALS, PRICES
from hedging_pipeline.nlp.text import DEFAULT_MAX_CHARS
from hedging_pipeline.types import STYLE_FACTORS


@dataclass(frozen=True)
class Drop:
    """A validated drop folder.

    Attributes
    ----------
    tables : dict of str to pd.DataFrame
        One frame per raw table (:data:`RAW_TABLES`), ready to write.
    as_of : pd.Timestamp
        The drop's as-of date (declared in ``drop.toml`` or inferred from the prices).
    as_of_source : str
        How ``as_of`` was set, for messages and metadata.
    start : pd.Timestamp
        First date of the prices.
    unknown_tickers : dict of str to list of str
        Tickers of ``fundamentals`` / ``descriptions`` outside ``companies``, whose rows were left out.
    has_exposures : bool
        Whether the drop has a vendor ``exposures`` file.
    """

    tables: dict[str, pd.DataFrame]
    as_of: pd.Timestamp
    as_of_source: str
    start: pd.Timestamp
    unknown_tickers: dict[str, list[str]]
    has_exposures: bool


def _file_label(raw_dir: Path, name: str) -> str:
    path = loaders.find_raw_file(raw_dir, name, required=False)
    return path.name if path is not None else name


def _split_unknown(frame: pd.DataFrame, known: pd.Series) -> tuple[pd.DataFrame, list[str]]:
    inside = frame["ticker"].isin(known)
    return frame.loc[inside].reset_index(drop=True), sorted(set(frame.loc[~inside, "ticker"]))


def _as_of(prices: pd.DataFrame, declared: pd.Timestamp | None, min_coverage: float):
    if declared is not None:
        return declared, "declared in drop.toml"
    inferred = plausibility.infer_as_of(prices["date"], min_coverage=min_coverage)
    how = f"inferred: the last day with prices for at least {min_coverage:.0%} of the usual tickers"
    return inferred, how


def load_drop(raw_dir: Path) -> Drop:
    """Read and validate every file of the drop folder; nothing is written.

    Parameters
    ----------
    raw_dir : Path
        The drop folder (``HEDGING_RAW_DIR``).

    Returns
    -------
    Drop
        The raw tables, the as-of date and the quarantine table.

    Raises
    ------
    DataError
        The first problem found, in one line naming the file, column, ticker, date and value.
    """
    raw_dir = Path(raw_dir)
    manifest = loaders.read_manifest(raw_dir)
    rules = load_quality_config().plausibility
    companies = loaders.load_companies(raw_dir)
    label = {s.name: _file_label(raw_dir, s.name) for s in (COMPANIES, PRICES, FUNDAMENTALS)}
    label.update({s.name: _file_label(raw_dir, s.name) for s in (DESCRIPTIONS, EXPOSURES)})
    plausibility.require_finite(companies, COMPANIES.numeric, label["companies"])
    prices = loaders.load_prices(raw_dir, date_format=manifest.date_format("prices"))
    plausibility.require_finite(prices, PRICES.numeric, label["prices"])
    loaders.check_known_tickers(prices["ticker"].unique(), companies, PRICES.name)
    as_of, how = _as_of(prices, manifest.as_of, rules.as_of_min_coverage)
    plausibility.require_not_after(prices, label["prices"], as_of, how)
    plausibility.require_plausible_moves(
        prices, label["prices"], max_ratio=rules.max_daily_price_ratio
    )
    fundamentals = loaders.load_fundamentals(
        raw_dir, date_format=manifest.date_format("fundamentals")
    )
    plausibility.require_finite(fundamentals, FUNDAMENTALS.numeric, label["fundamentals"])
    descriptions = loaders.load_descriptions(raw_dir)
    exposures = loaders.load_exposures(raw_dir, date_format=manifest.date_format("exposures"))
    if exposures is not None:
        plausibility.require_finite(exposures, STYLE_FACTORS, label["exposures"])
        loaders.check_known_tickers(exposures["ticker"].unique(), companies, EXPOSURES.name)
        plausibility.require_not_after(exposures, label["exposures"], as_of, how)

    fundamentals, unknown_fundamentals = _split_unknown(fundamentals, companies["ticker"])
    descriptions, unknown_descriptions = _split_unknown(descriptions, companies["ticker"])
    companies, held_companies = plausibility.quarantine_share_counts(companies, label["companies"])
    fundamentals, held_fundamentals = plausibility.quarantine_share_counts(
        fundamentals, label["fundamentals"], date_column="period_end"
    )
    descriptions, held_text = plausibility.quarantine_wordless_text(
        descriptions, label["descriptions"]
    )
    notes = plausibility.note_oversized_text(
        descriptions, label["descriptions"], max_chars=DEFAULT_MAX_CHARS
    )
    notes += plausibility.note_filled_adj_close(prices, label["prices"])
    quarantine = plausibility.quarantine_frame(
        held_companies + held_fundamentals + held_text + notes
    )
    tables = {
        "raw_companies": companies,
        "raw_prices": prices,
        "raw_fundamentals": fundamentals,
        "raw_descriptions": descriptions,
        "raw_exposures": exposures if exposures is not None else empty_exposures(),
        "raw_quarantine": quarantine,
    }
    return Drop(
        tables=tables,
        as_of=as_of,
        as_of_source=how,
        start=pd.Timestamp(prices["date"].min()),
        unknown_tickers={
            "raw_fundamentals": unknown_fundamentals,
            "raw_descriptions": unknown_descriptions,
        },
        has_exposures=exposures is not None,
    )


def empty_exposures() -> pd.DataFrame:
    """The ``raw_exposures`` table of a drop without vendor exposures (columns only)."""
    return pd.DataFrame(
        {
            "date": pd.Series(dtype="datetime64[ns]"),
            "ticker": pd.Series(dtype="object"),
            **{c: pd.Series(dtype="float64") for c in STYLE_FACTORS},
        }
    )
