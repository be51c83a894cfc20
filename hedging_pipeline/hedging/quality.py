"""Rules on stored hedges (pure; the Dagster layer turns each into an asset check).

Blocking: every basket meets the constraints (≤ 10 names, each ≤ 25 %, positive, sum 1, target not
in its own basket) and has a diagnostics row with a finite predicted tracking error (the backtest
needs it). Diagnostic: every optimised hedge is certified within the gap tolerance, and each method
hedges most targets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from hedging_pipeline.data.quality import QualityResult, split_known
from hedging_pipeline.data.tables import HEDGE_KEY
from hedging_pipeline.hedging.methods import INFEASIBLE
from hedging_pipeline.hedging.solve import SolverSettings

WEIGHT_SLACK = 1e-9
"""Rounding allowed on ``Σw = 1`` and on the weight cap."""
MAX_INFEASIBLE_SHARE = 0.01
"""WARN when a method cannot hedge more than this share of the targets with a risk model (issue 13:
every method covers >= 99 %; targets without text fall back to correlation peers)."""


def _where(row: pd.Series) -> str:
    return f"ticker {row['ticker']} {row['method']} as of {pd.Timestamp(row['as_of']).date()}"


def constraints_hold(weights: pd.DataFrame, settings: SolverSettings) -> QualityResult:
    """Return whether every basket meets the hedge constraints."""
    if weights.empty:
        return QualityResult(True, "no baskets")
    grouped = weights.groupby(HEDGE_KEY, sort=False)
    per = grouped.agg(total=("weight", "sum"), names=("weight", "size"), top=("weight", "max"))
    per = per.reset_index()
    rules = {
        "weights sum to 1": (per["total"] - 1.0).abs() > WEIGHT_SLACK,
        f"at most {settings.max_names} names": per["names"] > settings.max_names,
        f"each weight at most {settings.max_weight}": per["top"]
        > settings.max_weight + WEIGHT_SLACK,
    }
    details = {"n_baskets": len(per)}
    for rule, bad in rules.items():
        if bad.any():
            first = per.loc[bad].iloc[0]
            return QualityResult(
                False, f"{int(bad.sum())} baskets break '{rule}', first {_where(first)}", details
            )
    own = weights["ticker"] == weights["hedge_ticker"]
    if own.any():
        return QualityResult(
            False, f"target in its own basket: {_where(weights.loc[own].iloc[0])}", details
        )
    bad = ~(weights["weight"] > 0)
    if bad.any():
        return QualityResult(
            False, f"non-positive weight in {_where(weights.loc[bad].iloc[0])}", details
        )
    return QualityResult(True, f"{len(per):,} baskets meet the constraints", details)


def diagnostics_match(weights: pd.DataFrame, diagnostics: pd.DataFrame) -> QualityResult:
    """Return whether each basket has one diagnostics row with a finite predicted TE, and vice versa."""
    baskets = weights[HEDGE_KEY].drop_duplicates()
    solved = diagnostics.loc[diagnostics["status"] != INFEASIBLE]
    merged = baskets.merge(
        solved[[*HEDGE_KEY, "predicted_te"]], on=HEDGE_KEY, how="outer", indicator=True
    )
    missing = merged["_merge"] != "both"
    te = merged["predicted_te"].to_numpy(dtype=float)
    bad = missing.to_numpy() | ~np.isfinite(te)
    if bad.any():
        first = merged.loc[bad].iloc[0]
        what = {"left_only": "has no diagnostics", "right_only": "has no basket"}.get(
            str(first["_merge"]), "has a non-finite predicted_te"
        )
        return QualityResult(
            False, f"{int(bad.sum())} hedges mismatched, first {_where(first)} {what}"
        )
    return QualityResult(True, f"{len(baskets):,} baskets, each with its diagnostics")


def gaps_within_tolerance(
    diagnostics: pd.DataFrame,
    tolerance: float,
    exceptions: Sequence[Mapping[str, object]] = (),
) -> QualityResult:
    """Return whether every optimised hedge is certified within ``tolerance`` (relative gap).

    ``exceptions`` are documented ``(as_of, ticker, method)`` hedges of ``quality.toml`` whose node budget
    is known to end above the tolerance; the summary counts them and names the first undocumented one.
    """
    optimised = diagnostics.loc[diagnostics["status"].isin(["certified", "uncertified"])]
    if optimised.empty:
        return QualityResult(True, "no optimised hedges")
    gaps = optimised["gap"].to_numpy(dtype=float)
    over, known = split_known(optimised.loc[gaps > tolerance, [*HEDGE_KEY, "gap"]], exceptions)
    details = {
        "n_optimised": len(optimised),
        "median_gap": float(np.median(gaps)),
        "max_gap": float(np.max(gaps)),
        "documented_exceptions": int(len(known)),
    }
    if len(over):
        first = over.iloc[0]
        return QualityResult(
            False,
            f"{len(over)} hedges above the {tolerance:.2%} gap (not documented), first {_where(first)} "
            f"({first['gap']:.3%})",
            details,
        )
    return QualityResult(
        True,
        f"{len(optimised) - len(known):,} hedges certified within {tolerance:.2%}; "
        f"{len(known)} documented exception(s), max gap {details['max_gap']:.3%}",
        details,
    )


def methods_cover_targets(diagnostics: pd.DataFrame) -> QualityResult:
    """Return whether no method leaves more than ``MAX_INFEASIBLE_SHARE`` unhedged on any date.

    The diagnostics hold one row per (target with a risk model, method) of each date.
    """
    if diagnostics.empty:
        return QualityResult(True, "no hedges asked for")
    keys = ["as_of", "method"] if "as_of" in diagnostics.columns else ["method"]
    per_date = (diagnostics["status"] == INFEASIBLE).groupby([diagnostics[k] for k in keys]).mean()
    share = per_date.groupby(level="method").max()
    details = {f"infeasible_share_{m}": float(v) for m, v in share.items()}
    worst = share.idxmax()
    if share[worst] > MAX_INFEASIBLE_SHARE:
        bad = diagnostics.loc[
            (diagnostics["method"] == worst) & (diagnostics["status"] == INFEASIBLE)
        ]
        where = f" on {pd.Timestamp(bad['as_of'].iloc[0]).date()}" if "as_of" in bad else ""
        return QualityResult(
            False,
            f"method {worst} could not hedge {share[worst]:.1%} of the targets{where}; "
            f"e.g. {bad['message'].iloc[0]}",
            details,
        )
    return QualityResult(
        True, f"every method hedges ≥ {1 - MAX_INFEASIBLE_SHARE:.0%} on every date", details
    )


def hedge_checks(
    weights: pd.DataFrame,
    diagnostics: pd.DataFrame,
    settings: SolverSettings,
    gap_exceptions: Sequence[Mapping[str, object]] = (),
) -> dict[str, QualityResult]:
    """Every rule above, by check name (``gap_exceptions``: see :func:`gaps_within_tolerance`)."""
    return {
        "constraints_hold": constraints_hold(weights, settings),
        "diagnostics_match": diagnostics_match(weights, diagnostics),
        "gap_within_tolerance": gaps_within_tolerance(
            diagnostics, settings.gap_tolerance, gap_exceptions
        ),
        "methods_cover_targets": methods_cover_targets(diagnostics),
    }
