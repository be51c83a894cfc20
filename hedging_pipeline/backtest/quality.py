"""Data-quality rules on the backtest tables (pure; the Dagster layer turns them into asset checks).

Blocking rules guard what is written (unique keys, finite numbers); diagnostic rules flag results
worth a look (hedges without a result, methods missing from the summary, a risk model whose
predicted tracking error is far from the realised one).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from hedging_pipeline.backtest.metrics import SCOPE_FULL_PERIOD, SCOPE_REBALANCE
from hedging_pipeline.data.quality import QualityResult, non_null, unique_keys
from hedging_pipeline.types import METHODS

RESULT_KEYS = ("as_of", "ticker", "method", "scope")
RESULT_NUMBERS = ("vol_unhedged", "vol_hedged", "predicted_te", "variance_reduction")
SUMMARY_NUMBERS = ("median_variance_reduction", "mean_variance_reduction", "win_rate_vs_factor")
EXPECTED_SKIP_REASON = "no test window after as_of"
"""The last rebalance of the data has nothing after it to be tested on: not a problem."""
MIN_ELIGIBLE_SHARE = 0.8
"""Below this share of targets with a hedge for every method, the summary compares too few names."""
TE_RATIO_BAND = (2.0 / 3.0, 1.5)
"""Median realised / predicted tracking error outside this band means the risk forecast is off."""
MODEL_METHODS = ("factor", "hybrid")
"""Methods whose predicted TE comes from the factor model (the calibration rule looks at these)."""


def unique_result_keys(results: pd.DataFrame) -> QualityResult:
    """Return whether (as_of, ticker, method, scope) is unique in ``backtest_results``."""
    return unique_keys(results, RESULT_KEYS)


def finite_results(results: pd.DataFrame) -> QualityResult:
    """Return whether vols, predicted TE and variance reduction are finite everywhere."""
    return non_null(results, RESULT_NUMBERS)


def evaluated_share(results: pd.DataFrame, skipped: pd.DataFrame) -> QualityResult:
    """Return whether every hedge got a result, apart from those with no test window by design."""
    n_hedges = int((results["scope"] == SCOPE_REBALANCE).sum()) + len(skipped)
    unexpected = skipped.loc[skipped["reason"] != EXPECTED_SKIP_REASON]
    details = {"n_hedges": n_hedges, "n_skipped": len(skipped), "n_unexpected": len(unexpected)}
    if unexpected.empty:
        return QualityResult(
            True, f"{n_hedges - len(skipped):,} of {n_hedges:,} hedges evaluated", details
        )
    first = unexpected.iloc[0]
    return QualityResult(
        False,
        f"{len(unexpected)} hedges not evaluated, first the {first['method']} hedge of ticker "
        f"{first['ticker']} as of {pd.Timestamp(first['as_of']).date()}: {first['reason']}",
        details,
    )


def finite_summary(summary: pd.DataFrame) -> QualityResult:
    """Return whether the summary's headline numbers are finite."""
    return non_null(summary, SUMMARY_NUMBERS)


def covers_methods(summary: pd.DataFrame, methods: Sequence[str] = METHODS) -> QualityResult:
    """Return whether the summary has a row for every hedge method."""
    missing = [m for m in methods if m not in set(summary["method"])]
    if missing:
        return QualityResult(False, f"backtest_summary has no row for method(s) {missing}")
    return QualityResult(True, f"all {len(methods)} methods summarised")


def eligible_share(
    results: pd.DataFrame, summary: pd.DataFrame, minimum: float = MIN_ELIGIBLE_SHARE
) -> QualityResult:
    """Return whether most backtested targets have a hedge for every method (enter the summary)."""
    n_tickers = results.loc[results["scope"] == SCOPE_FULL_PERIOD, "ticker"].nunique()
    n_eligible = int(summary["n_targets"].max()) if len(summary) else 0
    share = n_eligible / max(n_tickers, 1)
    details = {"n_tickers": n_tickers, "n_eligible": n_eligible, "share": share}
    return QualityResult(
        share >= minimum,
        f"{n_eligible} of {n_tickers} targets ({share:.0%}) have a hedge for every method "
        f"(minimum {minimum:.0%})",
        details,
    )


def te_calibration(
    summary: pd.DataFrame,
    band: tuple[float, float] = TE_RATIO_BAND,
    methods: Sequence[str] = MODEL_METHODS,
) -> QualityResult:
    """Return whether the model-based methods' median realised / predicted TE lies in ``band``."""
    rows = summary.loc[summary["method"].isin(methods)].set_index("method")["median_te_ratio"]
    outside = rows[(rows < band[0]) | (rows > band[1]) | rows.isna()]
    details = {m: float(v) for m, v in rows.items()}
    if outside.empty:
        return QualityResult(
            True, f"realised / predicted TE within [{band[0]:.2f}, {band[1]:.2f}]", details
        )
    return QualityResult(
        False,
        f"median realised / predicted TE of {outside.index[0]} is {outside.iloc[0]:.2f}, "
        f"outside [{band[0]:.2f}, {band[1]:.2f}]",
        details,
    )
