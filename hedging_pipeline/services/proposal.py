"""The advisor's deliverables read from the warehouse: ``hedge --compare`` and the HTML proposal.

``compare_methods`` solves every basket method of the registry for one position on one context
(``services.hedges.prepare_position``), prices each basket by the factor risk model as a common
yardstick beside its own risk, and adds each method's realised variance reduction for the ticker
from ``backtest_results`` (full-period rows). ``proposal_data`` gathers what the proposal shows;
rendering is ``reporting.proposal``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from hedging_pipeline.backtest.metrics import backtest_hedges
from hedging_pipeline.errors import HedgingError, InvalidValueError
from hedging_pipeline.hedging.problem import FactorisedRisk, build_problem
from hedging_pipeline.hedging.registry import HEDGE_STAGE_METHODS, INDEX_METHODS, REGISTRY
from hedging_pipeline.reporting.proposal import (
    MethodComparison,
    MethodRow,
    Proposal,
    RiskSplit,
    render_proposal,
)
from hedging_pipeline.services.hedges import (
    DEFAULT_SETTINGS,
    HedgeSettings,
    Position,
    PositionHedge,
    hedge_position,
    prepare_position,
)
from hedging_pipeline.warehouse.duckdb import Warehouse

FULL_PERIOD = "full_period"
REBALANCE = "rebalance"
RESULTS_TABLE = "backtest_results"


def _factor_price(
    risk: FactorisedRisk, target: str, tickers: tuple[str, ...], weights: np.ndarray
) -> tuple[float, float]:
    """Annual vol of the position and of (position − basket) under ``risk`` (NaN if unpriceable)."""
    if not all(risk.contains(t) for t in (target, *tickers)):
        return math.nan, math.nan
    problem = build_problem(risk, target, tickers, 1)
    return math.sqrt(problem.target_variance), math.sqrt(problem.variance(np.asarray(weights)))


def _realised(warehouse: Warehouse, ticker: str) -> tuple[pd.DataFrame, str]:
    """Full-period backtest rows of the ticker (indexed by method) and a line saying where from."""
    if not warehouse.has_table(RESULTS_TABLE):
        return pd.DataFrame(), (
            "realised VR: the backtest_results table is not materialised yet (hedging-pipeline "
            "run builds it)"
        )
    rows = warehouse.read(RESULTS_TABLE, date_column="as_of", tickers=[ticker])
    full = rows[rows["scope"] == FULL_PERIOD].set_index("method") if len(rows) else rows
    if full.empty:
        return full, f"realised VR: no backtest rows for {ticker} in backtest_results"
    start, end = pd.Timestamp(full["test_start"].min()), pd.Timestamp(full["test_end"].max())
    return full, (
        f"realised VR over the walk-forward window {start.date()} to {end.date()} "
        "(backtest_results, full period; hedges held as shares, rebalanced monthly)"
    )


def compare_methods(
    warehouse: Warehouse,
    ticker: str,
    as_of: pd.Timestamp | str | None = None,
    notional: float | None = None,
    max_adv: float | None = None,
    peer_model: str | None = None,
    settings: HedgeSettings = DEFAULT_SETTINGS,
) -> MethodComparison:
    """Every basket method (``HEDGE_STAGE_METHODS``) and the index shorts for one position.

    Raises the errors of ``services.hedges.prepare_position`` (unknown ticker, missing tables,
    --as-of outside the data); a method that cannot hedge this position gets a row with the reason.
    """
    position = prepare_position(warehouse, ticker, as_of, notional, settings, peer_model, max_adv)
    realised, note = _realised(warehouse, ticker)
    rows = [_method_row(position, m, realised) for m in HEDGE_STAGE_METHODS]
    for method in INDEX_METHODS:
        rows.append(
            _row_from(
                method,
                REGISTRY[method].description,
                0,
                (math.nan,) * 4,
                realised,
                "index short: built by the backtest, realised only",
            )
        )
    companies = position.inputs.companies
    names = dict(zip(companies["ticker"], companies["name"], strict=True))
    return MethodComparison(ticker, str(names.get(ticker, "")), position.as_of, tuple(rows), note)


def _row_from(
    method: str,
    description: str,
    n_names: int,
    vols: tuple[float, float, float, float],
    realised: pd.DataFrame,
    note: str,
) -> MethodRow:
    got = realised.loc[method] if method in realised.index else None
    return MethodRow(
        method=method,
        description=description,
        n_names=n_names,
        own_target_vol=vols[0],
        own_hedged_vol=vols[1],
        factor_target_vol=vols[2],
        factor_hedged_vol=vols[3],
        realised_reduction=float(got["variance_reduction"]) if got is not None else math.nan,
        realised_months=int(got["n_rebalances"]) if got is not None else 0,
        note=note,
    )


def _method_row(position: Position, method: str, realised: pd.DataFrame) -> MethodRow:
    spec = REGISTRY[method]
    try:
        hedge = hedge_position(position, method)
    except HedgingError as exc:
        text = str(exc).split(": ", 1)[-1]
        return _row_from(method, spec.description, 0, (math.nan,) * 4, realised, text)
    result = hedge.result
    factor = _factor_price(position.ctx.model_risk, position.ticker, result.tickers, result.weights)
    vols = (result.target_vol, result.predicted_te, *factor)
    note = "" if hedge.plan.fallback == "" else f"fell back to {hedge.plan.fallback} candidates"
    if not math.isfinite(factor[1]):
        note = "a basket name has no factor-model risk on this date (no common yardstick)"
    return _row_from(method, spec.description, len(result.tickers), vols, realised, note)


# --------------------------------------------------------------------------------------- proposal


def _risk_split(position: Position, hedge: PositionHedge) -> RiskSplit:
    """Factor / specific variance before and after, under the factor model."""
    risk = position.ctx.model_risk
    result = hedge.result
    problem = build_problem(risk, position.ticker, result.tickers, 1)
    b = problem.target_loading
    resid = b - problem.loadings.T @ result.weights
    d_t = problem.target_specific_variance
    return RiskSplit(
        factor_before=float(b @ b),
        specific_before=d_t,
        factor_after=float(resid @ resid),
        specific_after=float(problem.specific_variance @ result.weights**2 + d_t),
    )


def _exposures(position: Position, hedge: PositionHedge) -> pd.DataFrame:
    """``factor, before, after``: the position's exposures and those net of the short basket."""
    model = position.inputs.risk_model
    row = {t: i for i, t in enumerate(model.tickers)}
    x = model.exposures
    before = x[row[position.ticker]]
    held = [row[t] for t in hedge.result.tickers]
    after = before - hedge.result.weights @ x[held]
    return pd.DataFrame({"factor": list(model.factors), "before": before, "after": after})


def _walk_forward(warehouse: Warehouse, ticker: str, method: str) -> tuple[pd.DataFrame, ...]:
    """Run the ticker's stored monthly hedges of ``method`` through the backtest (daily, monthly)."""
    empty_daily = pd.DataFrame(columns=["date", "ret_target", "ret_hedged"])
    empty_monthly = pd.DataFrame(columns=["as_of", "predicted_te", "realised_te"])
    if not (warehouse.has_table("hedge_weights") and warehouse.has_table("hedge_diagnostics")):
        return empty_daily, empty_monthly
    key = {"method": [method]}
    weights = warehouse.read("hedge_weights", date_column="as_of", tickers=[ticker], where=key)
    diagnostics = warehouse.read(
        "hedge_diagnostics", date_column="as_of", tickers=[ticker], where=key
    )
    diagnostics = diagnostics[diagnostics["as_of"].isin(weights["as_of"])]
    if weights.empty:
        return empty_daily, empty_monthly
    names = sorted(set(weights["hedge_ticker"]) | {ticker})
    returns = warehouse.read("daily_returns", start=weights["as_of"].min(), tickers=names)
    try:
        evaluation = backtest_hedges(weights, diagnostics, returns)
    except HedgingError:
        return empty_daily, empty_monthly
    daily = evaluation.daily.loc[:, ["date", "ret_target", "ret_hedged"]]
    results = evaluation.results
    monthly = results[results["scope"] == REBALANCE].rename(columns={"vol_hedged": "realised_te"})
    return daily, monthly.loc[:, ["as_of", "predicted_te", "realised_te"]]


def _clusters(warehouse: Warehouse, model: str | None) -> pd.DataFrame:
    if not warehouse.has_table("company_clusters"):
        return pd.DataFrame(columns=["ticker", "cluster", "x", "y"])
    clusters = warehouse.read("company_clusters")
    if "model" in clusters.columns and clusters["model"].nunique() > 1:
        chosen = model if model in set(clusters["model"]) else sorted(clusters["model"])[0]
        clusters = clusters[clusters["model"] == chosen]
    return clusters


def proposal_data(
    warehouse: Warehouse,
    ticker: str,
    as_of: pd.Timestamp | str | None = None,
    notional: float | None = None,
    max_adv: float | None = None,
    method: str = "factor",
    peer_model: str | None = None,
    source_note: str = "",
    settings: HedgeSettings = DEFAULT_SETTINGS,
) -> Proposal:
    """Everything the proposal shows for one position (errors as ``hedge_for_cli``)."""
    position = prepare_position(warehouse, ticker, as_of, notional, settings, peer_model, max_adv)
    hedge = hedge_position(position, method)
    report = hedge.report
    daily, monthly = _walk_forward(warehouse, ticker, report.method)
    clusters = _clusters(warehouse, position.ctx.settings.peer_model)
    mine = clusters[clusters["ticker"] == ticker]
    notes = [
        f"Risk model, peers and candidates as of the close of {report.as_of.date()}; "
        f"shares at the last close ({report.prices_date.date() if report.prices_date else 'n/a'}).",
        "Predicted risk is the factor risk model's (annualised); the basket was optimised with "
        + ("the factor model." if report.risk_source == "model" else "a sample covariance."),
        "ADV = mean of close x volume over the 20 trading days up to the rebalance date.",
        f"Walk-forward record: the stored month-end baskets of method {report.method} "
        "(without any ADV cap), held as shares for a month, out of sample; past results do not "
        "guarantee future risk reduction.",
    ]
    if source_note:
        notes.append(f"{source_note[:1].upper()}{source_note[1:]}.")
    if daily.empty:
        notes.append("No walk-forward record: run the pipeline's backtest for this method first.")
    return Proposal(
        hedge=report,
        risk=_risk_split(position, hedge),
        exposures=_exposures(position, hedge),
        daily=daily,
        monthly=monthly,
        clusters=clusters,
        cluster_of_target=int(mine["cluster"].iloc[0]) if len(mine) else None,
        data_note=tuple(notes),
    )


def write_proposal(warehouse: Warehouse, ticker: str, out: str | Path, **options) -> Path:
    """Render the proposal of ``ticker`` into the HTML file ``out`` (options of ``proposal_data``).

    Raises
    ------
    InvalidValueError
        If ``out`` is not an ``.html`` file in an existing folder.
    """
    path = Path(out)
    if path.suffix.lower() not in (".html", ".htm"):
        raise InvalidValueError(f"--out {out}: expected an .html file name, e.g. proposal.html")
    if not path.parent.exists():
        raise InvalidValueError(f"--out {out}: folder {path.parent} does not exist")
    page = render_proposal(proposal_data(warehouse, ticker, **options))
    path.write_text(page, encoding="utf-8")
    return path
