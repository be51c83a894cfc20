"""Fixtures of the backtest tests: a synthetic panel (``real_data_dir`` comes from the root conftest)."""

from __future__ import annotations

import pandas as pd
import pytest

from hedging_pipeline.backtest.walk_forward import walk_forward_splits
from hedging_pipeline_tests.backtest.synthetic import month_ends, random_hedges, synthetic_returns

METHODS_UNDER_TEST = ("factor", "nlp", "market")


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
