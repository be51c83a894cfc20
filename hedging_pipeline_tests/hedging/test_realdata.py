"""The optimiser on the real universe (../shared/data) with the stand-in factor model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.hedging.candidates import correlation_candidates, correlation_ranking
from hedging_pipeline.hedging.problem import build_problem, risk_from_model, risk_from_returns
from hedging_pipeline.hedging.reference import solve_exact
from hedging_pipeline.hedging.solve import SolverSettings, solve_hedge

from .standin import load_wide_returns, standin_risk_model

AS_OF = pd.Timestamp("2019-12-31")
TOL = 0.005


@pytest.fixture(scope="module")
def real(real_data_dir):
    returns = load_wide_returns(str(real_data_dir))
    companies = pd.read_parquet(real_data_dir / "companies.parquet")
    model = standin_risk_model(returns, companies, AS_OF)
    window = returns.loc[:AS_OF].iloc[-252:]
    return risk_from_model(model), window


def _check(result, problem):
    w = result.weights
    assert abs(w.sum() - 1) < 1e-9 and (w > 0).all() and w.max() <= 0.25 + 1e-12
    assert len(w) <= 10 and problem.target not in result.tickers
    assert result.status == "certified" and result.gap <= TOL
    assert result.lower_bound <= result.objective


@pytest.mark.realdata
def test_full_universe_hedges_are_certified(real):
    risk, _ = real
    settings = SolverSettings()
    assert len(risk.tickers) > 450
    reductions = []
    for target in risk.tickers[::25]:
        problem = build_problem(risk, target, risk.tickers, settings.min_names)
        result = solve_hedge(problem, settings)
        _check(result, problem)
        reductions.append(1 - result.objective / problem.target_variance)
    # a 10-name basket from the whole S&P 500 removes most of a stock's predicted variance
    assert np.median(reductions) > 0.4


@pytest.mark.realdata
def test_real_targets_match_scip(real):
    risk, window = real
    settings = SolverSettings()
    tickers, corr = correlation_ranking(window)
    for target in ("AAPL", "JPM", "XOM"):
        names = correlation_candidates(tickers, corr, target, risk.positions, 40)
        problem = build_problem(risk, target, names, settings.min_names)
        ours = solve_hedge(problem, settings)
        exact = solve_exact(problem, settings, time_limit_s=60)
        _check(ours, problem)
        assert exact.proven
        assert ours.objective <= exact.objective * (1 + TOL)
        assert ours.lower_bound <= exact.objective * (1 + 1e-6)


@pytest.mark.realdata
def test_sample_covariance_hedges_are_certified(real):
    _, window = real
    sample = risk_from_returns(window, AS_OF, 126)
    tickers, corr = correlation_ranking(window)
    settings = SolverSettings()
    for target in sample.tickers[::50]:
        names = correlation_candidates(tickers, corr, target, sample.positions, 30)
        problem = build_problem(sample, target, names, settings.min_names)
        _check(solve_hedge(problem, settings, "nlp"), problem)
