from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.errors import InvalidValueError, MissingColumnError, OptimizationError
from hedging_pipeline.hedging import qp
from hedging_pipeline.hedging.candidates import gics_groups
from hedging_pipeline.hedging.methods import compute_hedges, hedge_context
from hedging_pipeline.hedging.quality import (
    constraints_hold,
    diagnostics_match,
    gaps_within_tolerance,
    hedge_checks,
    methods_cover_targets,
)
from hedging_pipeline.hedging.solve import SolverSettings

AS_OF = pd.Timestamp("2020-02-24")


@pytest.fixture(scope="module")
def stored(month):
    return compute_hedges(
        *month.frames,
        methods=("factor", "nlp", "market"),
        targets=list(month.model.tickers[:6]),
    )


def test_rules_pass_on_computed_hedges(stored):
    weights, diagnostics = stored
    checks = hedge_checks(weights, diagnostics, SolverSettings())
    assert all(r.passed for r in checks.values()), {k: r.summary for k, r in checks.items()}
    assert checks["constraints_hold"].details["n_baskets"] == 18


def _basket(weights, **change):
    rows = weights[(weights["ticker"] == "S0N00") & (weights["method"] == "factor")]
    return rows.assign(**change)


def test_constraint_rule_names_the_broken_basket(stored):
    weights, _ = stored
    settings = SolverSettings()
    rest = weights[~((weights["ticker"] == "S0N00") & (weights["method"] == "factor"))]
    bad = pd.concat([rest, _basket(weights, weight=0.2)])
    result = constraints_hold(bad, settings)
    assert not result.passed
    assert "break 'weights sum to 1', first ticker S0N00 factor as of 2020-02-24" in result.summary
    base = _basket(weights)
    heavy = base.copy()
    heavy["weight"] = np.r_[0.4, np.full(len(base) - 1, 0.6 / (len(base) - 1))]
    assert "each weight at most 0.25" in constraints_hold(heavy, settings).summary
    own = base.copy()
    own.iloc[0, own.columns.get_loc("hedge_ticker")] = "S0N00"
    assert "target in its own basket: ticker S0N00" in constraints_hold(own, settings).summary
    many = pd.concat([base.assign(weight=base["weight"] / 2)] * 2)
    many["hedge_ticker"] = [f"X{i}" for i in range(len(many))]
    assert "at most 10 names" in constraints_hold(many, settings).summary


def test_diagnostics_rule_finds_orphans(stored):
    weights, diagnostics = stored
    missing = diagnostics[~((diagnostics["ticker"] == "S0N01") & (diagnostics["method"] == "nlp"))]
    result = diagnostics_match(weights, missing)
    assert (
        not result.passed
        and "ticker S0N01 nlp as of 2020-02-24 has no diagnostics" in result.summary
    )
    nan = diagnostics.copy()
    nan.loc[0, "predicted_te"] = np.nan
    assert "non-finite predicted_te" in diagnostics_match(weights, nan).summary


def test_gap_and_coverage_rules(stored):
    _, diagnostics = stored
    wide = diagnostics.copy()
    wide.loc[wide["method"] == "factor", "gap"] = 0.02
    result = gaps_within_tolerance(wide, 0.005)
    assert not result.passed and "6 hedges above the 0.50% gap" in result.summary
    # documented hedges (quality.toml) pass; the others are still named
    over = wide.loc[wide["method"] == "factor"]
    documented = [
        {
            "as_of": pd.Timestamp(r.as_of).date(),
            "ticker": r.ticker,
            "method": "factor",
            "reason": "budget",
        }
        for r in over.itertuples()
    ]
    assert gaps_within_tolerance(wide, 0.005, documented).passed
    partly = gaps_within_tolerance(wide, 0.005, documented[1:])
    assert not partly.passed and "1 hedges above the 0.50% gap (not documented)" in partly.summary
    assert partly.details["documented_exceptions"] == 5
    # fixed-weight baskets are not held to the optimiser's tolerance
    assert gaps_within_tolerance(diagnostics, 0.005).passed
    poor = diagnostics.copy()
    nlp = poor["method"] == "nlp"
    poor.loc[nlp, "status"] = "infeasible"
    poor.loc[nlp, "message"] = "ticker 'S0N00' as of 2020-02-24: no peers"
    result = methods_cover_targets(poor)
    assert not result.passed
    assert "method nlp could not hedge 100.0% of the targets on 2020-02-24" in result.summary
    # one date short is enough: shares are per date, not pooled over the dates
    first = pd.Timestamp(diagnostics["as_of"].min())
    short = diagnostics.copy()
    short.loc[short.index[nlp.to_numpy()][0], "status"] = "infeasible"
    clean = [diagnostics.assign(as_of=first + pd.Timedelta(days=30 * k)) for k in range(1, 21)]
    mixed = pd.concat([short, *clean], ignore_index=True)
    pooled = (mixed["status"] == "infeasible").groupby(mixed["method"]).mean()["nlp"]
    assert 0 < pooled <= 0.01
    result = methods_cover_targets(mixed)
    assert not result.passed and f"on {pd.Timestamp(first).date()}" in result.summary


def test_active_set_gives_up_loudly(monkeypatch):
    monkeypatch.setattr(qp, "QP_MAX_ITER_PER_NAME", -10)
    h = np.eye(5) + 0.1
    with pytest.raises(OptimizationError, match="active-set QP did not converge on a support of 5"):
        qp.support_qp(h, np.zeros(5), 0.25)


def test_input_shape_errors(month):
    args = (month.as_of, month.model, month.peers)
    dup = pd.concat([month.returns, month.returns.iloc[:1]])
    with pytest.raises(InvalidValueError, match=r"daily_returns: duplicate \(date, ticker\) rows"):
        hedge_context(*args, dup, month.companies, month.market_caps)
    with pytest.raises(MissingColumnError, match=r"market_caps: missing column\(s\) market_cap"):
        hedge_context(
            *args, month.returns, month.companies, month.market_caps.drop(columns="market_cap")
        )
    with pytest.raises(MissingColumnError, match=r"companies: missing column\(s\) gics_sector or"):
        gics_groups(month.companies[["ticker", "name"]], month.model.tickers, 11)
