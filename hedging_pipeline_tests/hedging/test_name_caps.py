"""Per-name weight caps (liquidity caps): the optimiser stays exact and certified when they bind."""

from __future__ import annotations

from dataclasses import replace

import cvxpy as cp
import numpy as np
import pytest

from hedging_pipeline.errors import InfeasibleHedgeError
from hedging_pipeline.hedging.limits import best_cap_total, caps_feasible
from hedging_pipeline.hedging.qp import feasible_start, support_qp
from hedging_pipeline.hedging.reference import brute_force, solve_exact
from hedging_pipeline.hedging.solve import (
    SolverSettings,
    evaluate_fixed,
    lagrangian_bound,
    solve_hedge,
)

from .synthetic import random_problem

EXACT = SolverSettings(gap_tolerance=1e-6, max_nodes=2000, max_names=4)


def _capped_settings(problem, base: SolverSettings, factor: float = 0.5):
    """Cap the uncapped optimum's two largest names at ``factor`` of their optimal weight."""
    free = solve_hedge(problem, base)
    caps = tuple(
        (t, factor * float(w)) for t, w in zip(free.tickers[:2], free.weights[:2], strict=True)
    )
    return replace(base, name_caps=caps), free


def test_feasible_start_water_fills_under_caps():
    upper = np.array([0.05, 0.1, 0.5, 0.5])
    w = feasible_start(upper)
    assert w.sum() == pytest.approx(1.0) and (w <= upper + 1e-15).all()
    np.testing.assert_allclose(w, [0.05, 0.1, 0.425, 0.425])
    np.testing.assert_allclose(feasible_start(np.full(5, 0.25)), np.full(5, 0.2))


@pytest.mark.parametrize("seed", range(3))
def test_support_qp_with_per_name_caps_matches_cvxpy(seed):
    rng = np.random.default_rng(seed)
    m = 8
    a = rng.normal(size=(m, 3))
    h = a @ a.T + np.diag(rng.uniform(0.01, 0.1, m))
    q = rng.normal(size=m) * 0.3
    upper = rng.uniform(0.08, 0.4, m)
    upper *= max(1.0, 1.2 / upper.sum())
    w, _ = support_qp(h, q, upper)
    x = cp.Variable(m)
    prob = cp.Problem(
        cp.Minimize(cp.quad_form(x, h) - 2 * q @ x), [cp.sum(x) == 1, x >= 0, x <= upper]
    )
    prob.solve(solver=cp.CLARABEL)
    assert w @ h @ w - 2 * q @ w == pytest.approx(prob.value, abs=1e-8)
    assert (w <= upper + 1e-12).all() and w.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(("n", "k", "seed"), [(10, 3, 0), (11, 4, 1)])
def test_binding_caps_match_brute_force_and_scip_with_a_valid_certificate(n, k, seed):
    problem = random_problem(n, k, seed)
    settings, free = _capped_settings(problem, EXACT)
    upper = settings.upper_bounds(problem.candidates)
    w_bf, v_bf = brute_force(problem, settings)
    result = solve_hedge(problem, settings)
    # the caps bind: the capped optimum is worse than the free one and sits on a cap
    assert v_bf > free.objective * (1 + 1e-6)
    full = np.zeros(problem.n)
    full[[problem.candidates.index(t) for t in result.tickers]] = result.weights
    assert (full <= upper + 1e-12).all()
    free_full = np.zeros(problem.n)
    free_full[[problem.candidates.index(t) for t in free.tickers]] = free.weights
    assert (free_full > upper + 1e-6).any()  # the uncapped basket breaks the caps
    assert abs(full.sum() - 1.0) < 1e-9 and (full > 0).sum() <= settings.max_names
    # optimum equal to enumeration and to SCIP on the exact MIQP; certificate holds
    assert result.status == "certified"
    assert result.objective == pytest.approx(v_bf, rel=1e-8)
    assert result.lower_bound <= v_bf * (1 + 1e-9) and result.lower_bound <= result.objective
    assert result.gap == pytest.approx((result.objective - result.lower_bound) / result.objective)
    exact = solve_exact(problem, settings, time_limit_s=60)
    assert exact.proven
    assert exact.objective == pytest.approx(v_bf, rel=1e-5)
    assert (exact.weights <= upper + 1e-6).all()
    # any linearisation point gives a bound below the capped optimum
    rng = np.random.default_rng(seed)
    for _ in range(3):
        v = rng.dirichlet(np.ones(problem.n))
        assert lagrangian_bound(problem, v, settings) <= v_bf * (1 + 1e-12)
    # default tolerance stays certified within 0.5 %
    default = solve_hedge(problem, replace(settings, gap_tolerance=0.005, max_nodes=200))
    assert default.gap <= 0.005 and default.objective <= v_bf * 1.005


@pytest.mark.parametrize("seed", [1, 2])
def test_random_per_name_caps_match_brute_force(seed):
    # caps between 5 % and 30 %: several weights sit on their own cap at the optimum
    rng = np.random.default_rng(100 + seed)
    problem = random_problem(int(rng.integers(9, 13)), int(rng.integers(2, 5)), seed)
    max_names = int(rng.integers(4, 7))
    caps = tuple((t, float(rng.uniform(0.05, 0.3))) for t in problem.candidates)
    settings = replace(EXACT, max_names=max_names, name_caps=caps)
    _, v_bf = brute_force(problem, settings)
    result = solve_hedge(problem, settings)
    assert result.status == "certified"
    assert result.objective == pytest.approx(v_bf, rel=1e-8)
    assert result.lower_bound <= v_bf * (1 + 1e-9)
    upper = dict(zip(problem.candidates, settings.upper_bounds(problem.candidates), strict=True))
    assert all(w <= upper[t] + 1e-12 for t, w in zip(result.tickers, result.weights, strict=True))


def test_caps_summing_below_one_are_infeasible_with_one_line():
    problem = random_problem(10, 3, 2)
    caps = tuple((t, 0.05) for t in problem.candidates)
    settings = replace(EXACT, name_caps=caps)
    assert not caps_feasible(settings.upper_bounds(problem.candidates), 4)
    assert best_cap_total(settings.upper_bounds(problem.candidates), 4) == pytest.approx(0.2)
    with pytest.raises(InfeasibleHedgeError, match="ticker 'T000'.*sum to 20.0%"):
        solve_hedge(problem, settings)


def test_fixed_weights_over_a_cap_name_the_name():
    problem = random_problem(8, 3, 3)
    settings = replace(EXACT, max_names=8, name_caps=((problem.candidates[0], 0.01),))
    with pytest.raises(InfeasibleHedgeError, match=f"over their cap: {problem.candidates[0]}"):
        evaluate_fixed(problem, np.full(8, 1 / 8), settings, "nlp_equal")
