"""Quarantine corpus: values the raw stage sets aside, fills or cuts, and says so in ``raw_quarantine``.

Each case breaks one value of a copy of the demo drop folder, runs the raw stage job against a copy of a complete
warehouse and checks: the stage succeeds; ``raw_quarantine`` lists exactly the documented row (file, ticker,
date, rule, action); the affected raw table differs from before only as documented; every other table hashes as
before.
"""

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.warehouse.duckdb import Warehouse
from hedging_pipeline_tests.cli_runs import (
    assert_same_tables,
    canonical,
    run_raw_stage,
    table_fingerprints,
)
from hedging_pipeline_tests.reliability.test_bad_input_corpus import _read, _write

WORDLESS = "<div class='x'>\U0001f4c8\U0001f680 &amp; <br/></div> \u2014 123"
"""Markup, emoji, an entity, a dash and a number: no word once the markup is gone."""
LONG_CHARS = 120_000
"""Above the NLP cleaner's 100,000-character cut."""


@dataclass(frozen=True)
class Quarantined:
    """One case: how to break the drop, the quarantine row expected, and the raw table it changes."""

    name: str
    mutate: Callable[[Path], dict[str, object]]
    """Breaks the drop; returns the facts of the expected quarantine row (ticker, value, ...)."""
    rule: str
    action: str
    table: str
    expected: Callable[[pd.DataFrame, dict[str, object]], pd.DataFrame]
    """The raw table as it must be after the run, from the table before and the facts."""
    derived: tuple[str, ...] = ()
    """Tables of the raw stage computed from the quarantined value (they change with it, as documented)."""


def _negative_shares(raw: Path) -> dict[str, object]:
    frame = _read(raw, "fundamentals")
    row = int(frame["shares_outstanding"].first_valid_index())
    frame.loc[row, "shares_outstanding"] = -5e6
    _write(raw, "fundamentals", frame)
    facts = frame.loc[row, ["ticker", "source", "fiscal_year"]].to_dict()
    return {**facts, "value": "-5e+06", "date": frame.loc[row, "period_end"]}


def _shares_dropped(before: pd.DataFrame, facts: dict[str, object]) -> pd.DataFrame:
    out = before.copy()
    at = (out["ticker"] == facts["ticker"]) & (out["source"] == facts["source"])
    at &= out["fiscal_year"] == facts["fiscal_year"]
    assert at.sum() == 1
    out.loc[at, "shares_outstanding"] = np.nan
    return out


def _wordless_text(raw: Path) -> dict[str, object]:
    frame = _read(raw, "descriptions")
    frame.loc[2, "text"] = WORDLESS
    _write(raw, "descriptions", frame)
    return {"ticker": frame.loc[2, "ticker"], "source": frame.loc[2, "source"], "date": pd.NaT}


def _row_set_aside(before: pd.DataFrame, facts: dict[str, object]) -> pd.DataFrame:
    gone = (before["ticker"] == facts["ticker"]) & (before["source"] == facts["source"])
    assert gone.sum() == 1
    return before.loc[~gone]


def _oversized_text(raw: Path) -> dict[str, object]:
    frame = _read(raw, "descriptions")
    text = frame.loc[4, "text"]
    frame.loc[4, "text"] = (text + " ") * (LONG_CHARS // (len(text) + 1) + 1)
    _write(raw, "descriptions", frame)
    return {
        "ticker": frame.loc[4, "ticker"],
        "source": frame.loc[4, "source"],
        "text": frame.loc[4, "text"],
        "date": pd.NaT,
        "value": f"{len(frame.loc[4, 'text'])} chars ({frame.loc[4, 'source']})",
    }


def _text_kept(before: pd.DataFrame, facts: dict[str, object]) -> pd.DataFrame:
    out = before.copy()
    at = (out["ticker"] == facts["ticker"]) & (out["source"] == facts["source"])
    out.loc[at, "text"] = facts["text"]
    return out


def _missing_adj_close(raw: Path) -> dict[str, object]:
    frame = _read(raw, "prices")
    ticker = frame["ticker"].iloc[0]
    rows = frame.index[frame["ticker"] == ticker][100:105]
    frame.loc[rows, "adj_close"] = np.nan
    _write(raw, "prices", frame)
    dates = frame.loc[rows, "date"]
    return {
        "ticker": ticker,
        "dates": set(dates),
        "date": dates.min(),
        "value": f"missing on 5 day(s), {dates.min().date()}..{dates.max().date()}",
    }


def _adj_close_missing(before: pd.DataFrame, facts: dict[str, object]) -> pd.DataFrame:
    out = before.copy()
    out.loc[(out["ticker"] == facts["ticker"]) & out["date"].isin(facts["dates"]), "adj_close"] = (
        np.nan
    )
    return out


CASES = [
    Quarantined(
        "negative_share_count",
        _negative_shares,
        "non_positive_share_count",
        "value dropped",
        "raw_fundamentals",
        _shares_dropped,
        derived=("share_counts",),  # the dropped count is no longer a share-count reference
    ),
    Quarantined(
        "wordless_description",
        _wordless_text,
        "no_words_after_cleaning",
        "row set aside",
        "raw_descriptions",
        _row_set_aside,
    ),
    Quarantined(
        "oversized_description",
        _oversized_text,
        "oversized_description",
        "cut to at most 100000 chars by the NLP cleaner",
        "raw_descriptions",
        _text_kept,
    ),
    Quarantined(
        "missing_adj_close",
        _missing_adj_close,
        "missing_adj_close",
        "filled from close x split factor",
        "raw_prices",
        _adj_close_missing,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_quarantine_is_listed_and_nothing_else_changes(
    case, reliability_raw_dir, tmp_path, raw_stage_job, earlier_warehouse, earlier_fingerprints
):
    raw = tmp_path / "raw"
    shutil.copytree(reliability_raw_dir, raw)
    facts = case.mutate(raw)
    outcome = run_raw_stage(raw, tmp_path / "home", earlier_warehouse, raw_stage_job)
    assert outcome.success, outcome.message
    wh = Warehouse(outcome.warehouse)

    quarantine = wh.read("raw_quarantine")
    assert len(quarantine) == 1, quarantine.to_string()
    row = quarantine.iloc[0]
    assert (row["rule"], row["action"], row["ticker"]) == (case.rule, case.action, facts["ticker"])
    assert (pd.isna(row["date"]) and pd.isna(facts["date"])) or row["date"] == facts["date"]
    if "value" in facts:
        assert row["value"] == facts["value"]

    before = Warehouse(earlier_warehouse).read(case.table)
    expected = {case.table: canonical(case.expected(before, facts))}
    assert_same_tables({case.table: canonical(wh.read(case.table))}, expected, case.name)
    after = table_fingerprints(outcome.warehouse)
    changed = {case.table, "raw_quarantine", *case.derived}
    assert {t: v for t, v in after.items() if t not in changed} == {
        t: v for t, v in earlier_fingerprints.items() if t not in changed
    }
