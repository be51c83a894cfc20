"""Columns of each warehouse table (CONTRACT.md, "Warehouse tables"), in the order they are written.

Pure: names only. The module that builds a table and every module that reads it import its tuple from here,
so a column is added or renamed in one place. (The raw drop-folder files are described in
:mod:`hedging_pipeline.data.schema`.)
"""

from __future__ import annotations

from hedging_pipeline.types import STYLE_FACTORS

# -- raw drop ----------------------------------------------------------------------------------------------------
RAW_ASSETS: dict[str, str] = {
    "companies": "raw_companies",
    "prices": "raw_prices",
    "fundamentals": "raw_fundamentals",
    "descriptions": "raw_descriptions",
    "exposures": "raw_exposures",
}
"""Drop-folder file name (without suffix) -> the raw asset (warehouse table) that loads it."""

QUARANTINE_TABLE = "raw_quarantine"
"""What a drop's rules set aside, filled or cut (written with the raw tables, in one transaction)."""

QUARANTINE_COLUMNS = ("file", "ticker", "date", "column", "value", "rule", "action")
"""``raw_quarantine``: one row per set-aside value, filled gap or cut text."""

RAW_TABLES = (*RAW_ASSETS.values(), QUARANTINE_TABLE)
"""Warehouse tables of one drop."""

# -- panels -----------------------------------------------------------------------------------------------------
PRICE_COLUMNS = (
    "date",
    "ticker",
    "open",
    "high",
    "low",
    "close",
    "adj_close",
    "volume",
    "dividend",
    "split_coefficient",
    "split_factor",
    "is_stale",
    "adj_close_source",
)
"""``prices`` (cleaned)."""

RETURN_COLUMNS = ("date", "ticker", "ret")
"""``daily_returns`` and ``specific_returns``."""

# -- risk model -------------------------------------------------------------------------------------------------
EXPOSURE_COLUMNS = ("date", "ticker", "industry", "market_cap", *STYLE_FACTORS)
"""``style_exposures``."""

COVARIANCE_COLUMNS = ("date", "factor_1", "factor_2", "cov")
"""``factor_covariance``."""

# -- semantic peers ---------------------------------------------------------------------------------------------
CHUNK_COLUMNS = (
    "ticker",
    "chunk_index",
    "text",
    "n_tokens",
    "source",
    "fingerprint",
    "model",
    "header",
)
"""``description_chunks``; ``model`` is the id of the embedder whose tokenizer counted ``n_tokens``,
``header`` the header option that made each chunk's first line."""

EMBEDDING_COLUMNS = ("ticker", "model", "embedding", "fingerprint", "n_chunks", "header")
"""``company_embeddings``."""

PEER_COLUMNS = ("ticker", "peer", "rank", "similarity", "model")
"""``semantic_peers``."""

EVALUATION_COLUMNS = (
    "model",
    "header",
    "gics_in_text",
    "silhouette_gics",
    "ari_gics",
    "ami_gics",
    "peer_sector_precision",
    "peer_sub_industry_precision",
    "precision_k",
    "n_companies",
    "n_sectors",
)
"""``embedding_evaluation``."""

# -- hedges and backtest ----------------------------------------------------------------------------------------
HEDGE_KEY = ["as_of", "ticker", "method"]
"""The key of one hedge in ``hedge_weights``, ``hedge_diagnostics`` and ``backtest_results``."""

WEIGHT_COLUMNS = ("as_of", "ticker", "method", "hedge_ticker", "weight")
"""``hedge_weights``."""

DIAGNOSTIC_COLUMNS = (
    "as_of",
    "ticker",
    "method",
    "candidates",
    "risk",
    "predicted_te",
    "lower_bound",
    "gap",
    "solve_ms",
    "objective",
    "target_vol",
    "n_names",
    "n_candidates",
    "status",
    "risk_source",
    "fingerprint",
    "message",
    "fallback",
)
"""``hedge_diagnostics`` columns: CONTRACT's first nine, then ours. ``candidates``/``risk`` name the
method's grid cell (``hedging.registry``); ``fallback`` is ``"correlation"`` when a semantic method had
to use correlation peers (the target has no usable description), else empty. ``lower_bound`` and
``objective`` are annualised variances, ``predicted_te`` and ``target_vol`` annualised vols;
``status`` is ``certified``/``uncertified``/``fixed_weights``, or ``infeasible`` (then the numbers
are NaN, there are no weights and ``message`` says why)."""

RESULT_COLUMNS = (
    "as_of",
    "ticker",
    "method",
    "scope",
    "horizon_days",
    "vol_unhedged",
    "vol_hedged",
    "predicted_te",
    "variance_reduction",
    "test_start",
    "test_end",
    "n_rebalances",
    "n_missing_hedge_returns",
    "turnover",
    "variance_reduction_net",
)
"""``backtest_results``: rebalance rows, then full-period rows."""

DAILY_COLUMNS = ("date", "as_of", "ticker", "method", "ret_target", "ret_basket", "ret_hedged")
"""The stitched out-of-sample daily series of every evaluated hedge (the backtest report reads it)."""

SKIPPED_COLUMNS = ("as_of", "ticker", "method", "reason")
"""Hedges the backtest could not evaluate, with the reason."""

SUMMARY_COLUMNS = (
    "method",
    "n_targets",
    "median_variance_reduction",
    "mean_variance_reduction",
    "win_rate_vs_factor",
    "median_variance_reduction_ci_low",
    "median_variance_reduction_ci_high",
    "win_rate_ci_low",
    "win_rate_ci_high",
    "median_te_ratio",
    "median_vol_unhedged",
    "median_vol_hedged",
)
"""The per-method statistics of the walk-forward test (``backtest.summary.summarise_backtest``)."""

GRID_COLUMNS = (
    "method",
    "candidates",
    "risk",
    "n_targets",
    "median_variance_reduction",
    "mean_variance_reduction",
    "win_rate_vs_factor",
    "median_monthly_variance_reduction",
    "median_variance_reduction_ex_crisis",
    "turnover",
    "net_median_variance_reduction",
    "annual_cost_bp",
    "share_at_name_cap",
    "monthly_ci_low",
    "monthly_ci_high",
    "ex_crisis_ci_low",
    "ex_crisis_ci_high",
    "pooled_variance_reduction_ex_crisis",
    "n_months",
    "n_cells",
    *SUMMARY_COLUMNS[5:],
)
"""``backtest_summary``: CONTRACT's columns first, then the intervals and diagnostics."""
