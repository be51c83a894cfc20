"""Fixtures of the backtest tests: synthetic panels and the real-data directory."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pandas as pd
import pytest

from hedging_pipeline.backtest.walk_forward import walk_forward_splits
from hedging_pipeline_tests.backtest.synthetic import month_ends, random_hedges, synthetic_returns

REPO_ROOT = Path(__file__).resolve().parents[2]
METHODS_UNDER_TEST = ("factor", "nlp", "market")


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The shared raw data folder; skips LOUDLY (reason printed and warned) when it is absent."""
    candidate = Path(os.environ.get("HEDGING_RAW_DIR", REPO_ROOT.parent / "shared" / "data"))
    if not (candidate / "prices.parquet").exists():
        reason = f"REAL DATA ABSENT: {candidate}/prices.parquet not found; realdata test skipped"
        print(reason)
        warnings.warn(reason, stacklevel=1)
        pytest.skip(reason)
    return candidate


@pytest.fixture(scope="module")
def panel() -> dict:
    """40 tickers, two years of weekday returns, 12 month ends, random hedges for 3 methods."""
    returns = synthetic_returns(n_tickers=40, seed=1)
    dates = pd.DatetimeIndex(returns["date"].unique())
    as_of = month_ends(dates)[-13:-1]
    splits = walk_forward_splits(dates, as_of)
    weights, diagnostics = random_hedges(
        sorted(returns["ticker"].unique()), as_of, METHODS_UNDER_TEST, seed=2
    )
    return {
        "returns": returns,
        "dates": dates,
        "as_of": as_of,
        "splits": splits,
        "weights": weights,
        "diagnostics": diagnostics,
    }
