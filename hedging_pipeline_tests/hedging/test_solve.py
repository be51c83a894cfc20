from __future__ import annotations

import math
from dataclasses import replace

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.errors import (
    InfeasibleHedgeError,
    InvalidValueError,
    UnknownTickerError,
)
from hedging_pipeline.hedging.problem import (
    build_problem,
    risk_from_model,
    risk_from_returns,
)
from hedging_pipeline.hedging.qp import support_qp
from hedging_pipeline.hedging.reference import PerspectiveRelaxation, brute_force, solve_exact
from hedging_pipeline.hedging.solve import (
    SolverSettings,
    evaluate_fixed,
    lagrangian_bound,
    solve_hedge,
)
from hedging_pipeline.risk.model import RiskModel

from .synthetic import random_model, random_problem

EXACT = SolverSettings(gap_tolerance=1e-6, max_nodes=2000)


def _assert_constraints(result, problem, settings):
    w = result.weights
    assert abs(w.sum() - 1.0) < 1e-9
    assert (w > 0).all()
    assert w.max() <= settings.max_weight + 1e-12
    assert len(result.tickers) <= settings.max_names
    assert problem.target not in result.tickers
    assert len(set(result.tickers)) == len(result.tickers)
    full = np.zeros(problem.n)
    for t, wi in zip(result.tickers, w, strict=True):
        full[problem.candidates.index(t)] = wi
    assert problem.variance(full) == pytest.approx(result.objective, rel=1e-12)
    assert result.predicted_te == pytest.approx(math.sqrt(result.objective))
    assert result.lower_bound <= result.objective * (1 + 1e-12)
    assert result.gap == pytest.approx((result.objective - result.lower_bound) / result.objective)


# ---------------------------------------------------------------------------------------- small QP


@pytest.mark.parametrize("seed", range(10))
def test_support_qp_matches_cvxpy(seed):
    # small supports use the primal active set, large ones the primal-dual active set first
    rng = np.random.default_rng(seed)
    m = int(rng.integers(4, 12)) if seed < 5 else int(rng.integers(20, 80))
    a = rng.normal(size=(m, 3))
    h = a @ a.T + np.diag(rng.uniform(0.01, 0.1, m))
    q = rng.normal(size=m) * 0.3  # strong pulls: some weights at 0, some at the cap
    upper = 0.3
    w, nu = support_qp(h, q, upper)
    x = cp.Variable(m)
    prob = cp.Problem(
        cp.Minimize(cp.quad_form(x, h) - 2 * q @ x), [cp.sum(x) == 1, x >= 0, x <= upper]
    )
    prob.solve(solver=cp.CLARABEL)
    assert w @ h @ w - 2 * q @ w == pytest.approx(prob.value, abs=1e-8)
    # KKT conditions hold exactly (cvxpy's weights agree only to its own tolerance)
    np.testing.assert_allclose(w, x.value, atol=1e-3)
    assert w.sum() == pytest.approx(1.0) and w.min() >= 0 and w.max() <= upper
    grad = h @ w - q
    free = (w > 1e-9) & (w < upper - 1e-9)
    np.testing.assert_allclose(grad[free], nu, atol=1e-9)
    assert (grad[w <= 1e-9] >= nu - 1e-9).all()
    assert (grad[w >= upper - 1e-9] <= nu + 1e-9).all()


# ----------------------------------------------------------------------- optimiser vs enumeration


@pytest.mark.parametrize(
    ("n", "k", "max_names", "seed"),
    [(12, 4, 4, 0), (14, 5, 5, 1), (16, 3, 6, 2), (18, 6, 5, 3), (16, 4, 8, 4), (15, 8, 7, 5)],
)
def test_matches_brute_force(n, k, max_names, seed):
    problem = random_problem(n, k, seed)
    settings = replace(EXACT, max_names=max_names)
    w_bf, v_bf = brute_force(problem, settings)
    result = solve_hedge(problem, settings)
    _assert_constraints(result, problem, settings)
    assert result.status == "certified"
    assert result.objective == pytest.approx(v_bf, rel=1e-8)
    assert result.lower_bound <= v_bf * (1 + 1e-9)
    # default tolerance: certified within 0.5 % and never better than the optimum
    default = solve_hedge(problem, replace(SolverSettings(), max_names=max_names))
    assert default.gap <= 0.005
    assert v_bf * (1 - 1e-9) <= default.objective <= v_bf * 1.005


@pytest.mark.parametrize("seed", range(4))
def test_bound_is_valid_for_any_linearisation_point(seed):
    problem = random_problem(14, 4, seed)
    settings = SolverSettings(max_names=5)
    _, v_bf = brute_force(problem, settings)
    rng = np.random.default_rng(seed)
    for _ in range(5):
        v = rng.dirichlet(np.ones(problem.n))
        assert lagrangian_bound(problem, v, settings) <= v_bf * (1 + 1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_bound_reaches_the_perspective_relaxation(seed):
    # the Lagrangian bound at the perspective relaxation's solution equals its value (same
    # relaxation)
    problem = random_problem(40, 5, seed, specific_scale=0.6)
    settings = SolverSettings()
    relax = PerspectiveRelaxation(problem.n, problem.loadings.shape[1], 10, 0.25)
    w_rel, z_rel = relax.solve(problem)
    value = relax.problem.value + problem.target_variance
    bound = lagrangian_bound(problem, w_rel, settings)
    assert bound == pytest.approx(value, rel=2e-4)
    assert bound <= solve_hedge(problem, settings).objective
    assert 0 <= z_rel.min() and z_rel.sum() <= 10 + 1e-6


def test_exact_reference_agrees_with_brute_force():
    problem = random_problem(12, 4, 11)
    settings = SolverSettings(max_names=4)
    _, v_bf = brute_force(problem, settings)
    for perspective in (True, False):
        exact = solve_exact(problem, settings, time_limit_s=60, perspective=perspective)
        assert exact.proven
        assert exact.objective == pytest.approx(v_bf, rel=1e-5)
        w = exact.weights
        assert (w > 0).sum() <= 4 and w.max() <= 0.25 + 1e-6


def test_large_universe_certified_and_within_tolerance_of_exact():
    problem = random_problem(120, 6, 21)
    settings = SolverSettings()
    result = solve_hedge(problem, settings)
    _assert_constraints(result, problem, settings)
    assert result.status == "certified" and result.gap <= 0.005
    exact = solve_exact(problem, settings, time_limit_s=120)
    assert exact.proven
    assert result.objective <= exact.objective * 1.005
    assert result.lower_bound <= exact.objective * (1 + 1e-6)


def test_fewer_names_than_cap_is_convex_and_exact():
    problem = random_problem(8, 3, 5)
    result = solve_hedge(problem, SolverSettings())
    _, v_bf = brute_force(problem, SolverSettings())
    assert result.objective == pytest.approx(v_bf, rel=1e-9)
    assert result.gap < 1e-6


def test_hedge_reduces_risk_and_hits_the_planted_replica():
    # a target that is an exact mix of 4 candidates plus little noise is hedged by those 4
    model = random_model(30, 4, 3)
    x = model.exposures.copy()
    x[0] = 0.25 * x[[1, 2, 3, 4]].sum(axis=0)
    s2 = model.specific_variance.copy()
    s2[0] = 1e-4
    s2[1:5] = 1e-4
    planted = RiskModel(model.as_of, model.tickers, model.factors, x, model.factor_covariance, s2)
    problem = build_problem(risk_from_model(planted), "T000", planted.tickers[1:], 4)
    result = solve_hedge(problem, SolverSettings())
    assert set(result.tickers[:4]) == {"T001", "T002", "T003", "T004"}
    assert result.predicted_te < 0.2 * result.target_vol


# ------------------------------------------------------------------------------------ fixed weights


def test_fixed_weights_gap_measures_distance_to_optimum():
    problem = random_problem(10, 3, 8)
    settings = SolverSettings()
    equal = np.full(10, 0.1)
    fixed = evaluate_fixed(problem, equal, settings, "nlp_equal")
    opt = solve_hedge(problem, settings)
    assert fixed.status == "fixed_weights"
    assert fixed.objective == pytest.approx(problem.variance(equal))
    assert fixed.lower_bound == pytest.approx(opt.lower_bound)
    assert fixed.objective >= opt.objective
    assert fixed.gap >= opt.gap
    with pytest.raises(InfeasibleHedgeError, match="ticker 'T000' as of 2020-01-31"):
        evaluate_fixed(problem, np.r_[0.5, 0.5, np.zeros(8)], settings, "nlp_equal")


# ------------------------------------------------------------------------------------------ errors


def test_too_few_candidates_names_ticker_and_date():
    model = random_model(12, 3, 1)
    risk = risk_from_model(model)
    with pytest.raises(InfeasibleHedgeError, match=r"ticker 'T000' as of 2020-01-31: 3 hedge"):
        build_problem(risk, "T000", ["T001", "T002", "T003", "T000"], min_candidates=4)
    problem = build_problem(risk, "T000", model.tickers[1:6], min_candidates=4)
    tight = replace(problem, candidates=problem.candidates[:3], loadings=problem.loadings[:3])
    with pytest.raises(InfeasibleHedgeError, match=r"ticker 'T000' as of 2020-01-31: 3 hedge"):
        solve_hedge(tight, SolverSettings())


def test_target_missing_from_model():
    risk = risk_from_model(random_model(12, 3, 1))
    with pytest.raises(
        UnknownTickerError, match=r"ticker 'ZZZ' is not in the model risk as of 2020"
    ):
        build_problem(risk, "ZZZ", risk.tickers, 4)


def test_non_psd_factor_covariance():
    model = random_model(12, 3, 1)
    bad = replace(model, factor_covariance=model.factor_covariance - np.eye(3))
    with pytest.raises(
        InfeasibleHedgeError, match="as of 2020-01-31 is not positive semi-definite"
    ):
        risk_from_model(bad)


def test_singular_covariance_zero_specific_variance():
    model = random_model(12, 3, 1)
    s2 = model.specific_variance.copy()
    s2[4] = 0.0
    with pytest.raises(InfeasibleHedgeError, match=r"singular: specific variance of ticker 'T004'"):
        risk_from_model(replace(model, specific_variance=s2))


def test_nan_inputs_name_ticker_and_date():
    model = random_model(12, 3, 1)
    x = model.exposures.copy()
    x[5, 1] = np.nan
    with pytest.raises(
        InvalidValueError, match=r"as of 2020-01-31 has NaN/inf for ticker\(s\) T005"
    ):
        risk_from_model(replace(model, exposures=x))


# ---------------------------------------------------------------------------------- sample risk


def test_sample_risk_is_the_annualised_sample_covariance():
    rng = np.random.default_rng(0)
    dates = pd.bdate_range("2020-01-01", periods=80)
    wide = pd.DataFrame(rng.normal(0, 0.01, size=(80, 6)), index=dates, columns=list("ABCDEF"))
    wide.iloc[3, 5] = np.nan  # F has a gap: left out
    risk = risk_from_returns(wide, dates[-1], min_days=60)
    assert risk.tickers == tuple("ABCDE")
    expected = np.cov(wide[list("ABCDE")].to_numpy().T) * 252
    ridge = 1e-4 * np.mean(np.diag(expected))
    np.testing.assert_allclose(risk.covariance(), expected + ridge * np.eye(5), rtol=1e-10)
    # rows after as_of are ignored
    later = risk_from_returns(wide, dates[59], min_days=60)
    np.testing.assert_allclose(
        later.covariance()[:5, :5],
        np.cov(wide.iloc[:60][list("ABCDE")].to_numpy().T) * 252
        + later.specific_variance[0] * np.eye(5),
        rtol=1e-10,
    )


def test_sample_problem_solves_and_uses_the_shift():
    rng = np.random.default_rng(1)
    dates = pd.bdate_range("2020-01-01", periods=200)
    common = rng.normal(0, 0.01, size=(200, 1))
    wide = pd.DataFrame(
        common + rng.normal(0, 0.008, size=(200, 15)),
        index=dates,
        columns=[f"P{i:02d}" for i in range(15)],
    )
    risk = risk_from_returns(wide, dates[-1], min_days=100)
    problem = build_problem(risk, "P00", risk.tickers, 4)
    # 14 names, 200 days: B Bᵀ is non-singular, so part of it moves into the perspective term
    assert (problem.shift > 0).all()
    rest = problem.loadings @ problem.loadings.T - np.diag(problem.shift)
    assert np.linalg.eigvalsh(rest)[0] >= -1e-12
    assert np.linalg.eigvalsh(rest + 0.02 * np.diag(problem.shift))[0] > 0
    settings = replace(EXACT, max_names=5)
    result = solve_hedge(problem, settings)
    _, v_bf = brute_force(problem, settings)
    assert result.objective == pytest.approx(v_bf, rel=1e-8)
    assert result.risk_source == "sample"
