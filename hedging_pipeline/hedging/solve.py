"""Certified cardinality-constrained hedge: local search for the basket, Lagrangian bound.

The problem (``problem.HedgeProblem``), for one target and ``n`` candidates::

    min_w  v(w) = wᵀQw − 2cᵀw + Σ_i d'_i w_i² + const       (Q = BBᵀ − diag(δ) ⪰ 0, d' = d + δ)
    s.t.   Σ w = 1,  0 ≤ w ≤ u,  ‖w‖₀ ≤ K                    (u = max_weight, K = max_names)

``u`` may be a per-name vector (``SolverSettings.name_caps``, e.g. liquidity caps): every piece below
(the capped QP, the screening, the separable bound) holds name by name, so the certificate does too.

**Primal.** A start from backward elimination (``n ≤ 60``: the capped QP over all candidates, then
drop the smallest weight until ``K`` remain) or forward stepwise selection (larger ``n``), then a
1-swap local search. Every add/swap is screened in closed form (bordered inverse + rank-one downdate
of the support's ``H⁻¹``, only ``Σw = 1`` kept: a lower bound on the move's value, exact when the
unconstrained weights are in bounds); promising moves are confirmed by the exact capped QP of the
support (``qp.support_qp``, a small active-set method).

**Bound.** For any ``v`` and ``ν``, since ``wᵀQw ≥ 2vᵀQw − vᵀQv``::

    v(w) ≥ L(v, ν) = const − vᵀQv + ν + Σ_{K smallest i} min(0, h_i(ν)),
    h_i(ν) = min_{0 ≤ x ≤ u} d'_i x² + (a_i − ν) x,     a = 2(Qv − c)

which is separable, so the cardinality is handled *exactly* by keeping the ``K`` most negative
``h_i``. ``max_{v,ν} L`` is the Lagrangian dual of the MIQP; its value equals the perspective
relaxation's (tested against the cvxpy SOCP ``reference.PerspectiveRelaxation``). We maximise it
by column generation (``relaxation.Relaxation``): the master mixes points of the separable set, its
mixture is the next ``v``, and ``L``'s inner minimiser is the next point. It stops as soon as the incumbent is
certified. When the relaxation itself is not tight enough, best-first branch and bound on names
(``z_i = 1`` / ``z_i = 0``) runs the same bound per node. Every reported bound is an exact
evaluation of ``L`` (or the minimum over the open leaves), valid whatever the iterates are.

``gap = (v(w) − bound) / v(w)`` on the variance, the target's own specific variance included.

Modules: ``limits`` (``SolverSettings``), ``qp`` (the capped QP of one support), ``search`` (the
primal heuristic), ``bound`` (``L`` and its maximisation over ``ν``), ``relaxation`` (column
generation), this module (branch and bound, ``solve_hedge``, ``evaluate_fixed``) and ``reference``
(SCIP and brute force, the only one importing cvxpy).
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hedging_pipeline.errors import InfeasibleHedgeError
from hedging_pipeline.hedging.bound import lagrangian_bound
from hedging_pipeline.hedging.limits import (
    DEFAULT_GAP_TOLERANCE,
    DEFAULT_MAX_NAMES,
    DEFAULT_MAX_WEIGHT,
    SolverSettings,
    best_cap_total,
    caps_feasible,
)
from hedging_pipeline.hedging.problem import HedgeProblem
from hedging_pipeline.hedging.relaxation import Relaxation, atom_from
from hedging_pipeline.hedging.search import BACKWARD_MAX_CANDIDATES, Incumbent, Search
from hedging_pipeline.types import FloatArray

__all__ = [
    "DEFAULT_GAP_TOLERANCE",
    "DEFAULT_MAX_NAMES",
    "DEFAULT_MAX_WEIGHT",
    "HedgeResult",
    "SolverSettings",
    "evaluate_fixed",
    "lagrangian_bound",
    "solve_hedge",
]


@dataclass(frozen=True)
class HedgeResult:
    """One hedge: short ``weights`` of ``tickers`` against a long position in ``target``.

    Attributes
    ----------
    target : str
    as_of : pd.Timestamp
    method : str
    tickers : tuple of str
        Basket names, by decreasing weight.
    weights : FloatArray
        Positive fractions of the position shorted, shape ``(m,)``, sum 1, each ≤ max_weight, m ≤
        max_names.
    predicted_te : float
        Annualised predicted tracking-error vol of (target − basket), ``sqrt(objective)``.
    objective : float
        Annualised predicted tracking-error variance.
    lower_bound : float
        Certified lower bound on the best variance over the same candidates and constraints.
    gap : float
        ``(objective − lower_bound) / objective``.
    status : str
        ``"certified"`` (gap ≤ tolerance), ``"uncertified"`` (node budget spent) or
        ``"fixed_weights"`` (weights set by the method, bound shows how far from the optimum they
        are).
    solve_ms : float
        Wall time of the solve in milliseconds.
    target_vol : float
        Annualised predicted vol of the unhedged target.
    n_candidates : int
        Names the optimiser chose from.
    risk_source : str
        ``"model"`` or ``"sample"``.
    """

    target: str
    as_of: pd.Timestamp
    method: str
    tickers: tuple[str, ...]
    weights: FloatArray
    predicted_te: float
    objective: float
    lower_bound: float
    gap: float
    status: str
    solve_ms: float
    target_vol: float
    n_candidates: int
    risk_source: str


def _gap(value: float, bound: float) -> float:
    return max(0.0, (value - bound) / value)


@dataclass(order=True)
class _Node:
    bound: float
    order: int
    relaxation: Relaxation = field(compare=False)


def solve_hedge(
    problem: HedgeProblem, settings: SolverSettings, method: str = "factor"
) -> HedgeResult:
    """Minimum-variance hedge of ``problem.target`` with at most ``K`` names, certified.

    Parameters
    ----------
    problem : HedgeProblem
        Target, candidates and factorised risk (annualised).
    settings : SolverSettings
        ``max_names``, ``max_weight``, ``gap_tolerance`` and search effort.
    method : str
        Label stored on the result.

    Returns
    -------
    HedgeResult
        ``status="certified"`` when ``gap ≤ gap_tolerance``; otherwise ``"uncertified"`` with the
        best basket and bound found within ``max_nodes`` branch-and-bound nodes.

    Raises
    ------
    InfeasibleHedgeError
        If there are fewer than ``ceil(1 / max_weight)`` candidates, or the ``K`` largest per-name
        caps sum below 1.
    """
    start = time.perf_counter()
    n = problem.n
    if n < settings.min_names:
        raise InfeasibleHedgeError(
            f"ticker {problem.target!r} as of {problem.as_of.date()}: {n} hedge candidates, "
            f"need at least {settings.min_names} (max_weight {settings.max_weight})"
        )
    upper = settings.upper_bounds(problem.candidates)
    if not caps_feasible(upper, settings.max_names):
        total = best_cap_total(upper, settings.max_names)
        raise InfeasibleHedgeError(
            f"ticker {problem.target!r} as of {problem.as_of.date()}: the {settings.max_names} "
            f"largest per-name caps of {n} candidates sum to {total:.1%}, below the 100 % hedge"
        )
    none = np.zeros(n, dtype=bool)
    everyone = np.ones(n, dtype=bool)
    search = Search(problem, settings)
    if n <= settings.max_names:
        # the cardinality cannot bind: one convex QP over every candidate is the optimum (KKT-exact)
        inc = search.evaluate(np.arange(n))
        return _result(problem, settings, method, inc, inc.value, start)
    first = (
        search.backward(everyone, none)
        if n <= BACKWARD_MAX_CANDIDATES
        else search.greedy(everyone, none)
    )
    inc = search.local_search(first, everyone, none)
    root = Relaxation(problem, settings, search.c, none, none, [atom_from(inc, problem)])
    root.nu = 2.0 * inc.nu
    root.run(inc.value, settings.max_cg_iter)
    if _gap(inc.value, root.bound) > settings.gap_tolerance and root.z is not None:
        # round the relaxation: its most-selected names seed another local search
        alt = search.from_support(np.argsort(-root.z)[: settings.max_names], everyone, none)
        if alt.value < inc.value:
            inc = alt
            root.atoms.append(atom_from(inc, problem))
            root.run(inc.value, settings.max_cg_iter)
    bound = root.bound
    if _gap(inc.value, bound) > settings.gap_tolerance:
        inc, bound = _branch_and_bound(search, inc, root)
    return _result(problem, settings, method, inc, bound, start)


def _result(
    problem: HedgeProblem,
    settings: SolverSettings,
    method: str,
    inc: Incumbent,
    bound: float,
    start: float,
) -> HedgeResult:
    w_full = inc.full(problem.n)
    value = problem.variance(w_full)
    bound = min(bound, value)
    status = "certified" if _gap(value, bound) <= settings.gap_tolerance else "uncertified"
    return _hedge_result(problem, method, w_full, value, bound, status, start)


def _hedge_result(
    problem: HedgeProblem,
    method: str,
    weights: FloatArray,
    value: float,
    bound: float,
    status: str,
    start: float,
) -> HedgeResult:
    """The result of ``weights`` ``(n,)`` with variance ``value``: names by decreasing weight."""
    keep = np.nonzero(weights > 0)[0]
    keep = keep[np.argsort(-weights[keep], kind="stable")]
    return HedgeResult(
        target=problem.target,
        as_of=problem.as_of,
        method=method,
        tickers=tuple(problem.candidates[i] for i in keep),
        weights=weights[keep],
        predicted_te=math.sqrt(value),
        objective=value,
        lower_bound=bound,
        gap=_gap(value, bound),
        status=status,
        solve_ms=(time.perf_counter() - start) * 1e3,
        target_vol=math.sqrt(problem.target_variance),
        n_candidates=problem.n,
        risk_source=problem.source,
    )


def _branch_and_bound(search: Search, inc: Incumbent, root: Relaxation) -> tuple[Incumbent, float]:
    """Best-first branch and bound on names (``z_j = 1`` / ``z_j = 0``), column generation per node.

    Returns the best basket and the certified global bound: the smallest bound over all leaves (open
    nodes and nodes closed because their bound reached the incumbent within tolerance).
    """
    problem, st = search.problem, search.settings
    tol = st.gap_tolerance
    closed: list[float] = []
    heap = [_Node(root.bound, 0, root)]
    counter, nodes = 0, 1
    while heap and nodes < st.max_nodes:
        if heap[0].bound >= inc.value * (1.0 - tol):
            break
        node = heapq.heappop(heap)
        rel = node.relaxation
        free = ~(rel.fixed_in | rel.fixed_out)
        z = rel.z if rel.z is not None else np.zeros(problem.n)
        score = np.where(free, np.minimum(z, 1.0 - z), -1.0)
        j = int(np.argmax(score))
        if score[j] <= 0:
            # integral selection: nothing to branch on. Its support seeds the heuristic, and the
            # relaxation, solved to convergence, bounds the whole subtree (a closed leaf).
            cand = search.from_support(np.nonzero(z > 0.5)[0], ~rel.fixed_out, rel.fixed_in)
            if cand.value < inc.value:
                inc = cand
            rel.run(inc.value, st.max_cg_iter, solve_fully=True)
            closed.append(max(node.bound, rel.bound))
            continue
        for into in (True, False):
            fin, fout = rel.fixed_in.copy(), rel.fixed_out.copy()
            (fin if into else fout)[j] = True
            nodes += 1
            atoms = [
                a
                for a in rel.atoms
                if (a.z[fin] >= 1.0 - 1e-12).all() and (a.z[fout] <= 1e-12).all()
            ]
            if int((~fout).sum()) < st.min_names or not caps_feasible(
                search.upper, st.max_names, ~fout, fin
            ):
                continue  # an empty subtree: nothing to bound
            child_inc = search.from_support(np.nonzero(z > 0.5)[0], ~fout, fin)
            if child_inc.value < inc.value:
                inc = child_inc
            atoms.append(atom_from(child_inc, problem))
            child = Relaxation(problem, st, search.c, fin, fout, atoms, bound=node.bound)
            child.nu = rel.nu
            child.run(inc.value, st.max_cg_iter)
            if child.bound >= inc.value * (1.0 - tol):
                closed.append(child.bound)
            else:
                counter += 1
                heapq.heappush(heap, _Node(child.bound, counter, child))
    leaves = closed + [h.bound for h in heap]
    return inc, min(leaves + [inc.value])


# --------------------------------------------------------------------------------------------------
# fixed weights, references


def evaluate_fixed(
    problem: HedgeProblem, weights: FloatArray, settings: SolverSettings, method: str
) -> HedgeResult:
    """Diagnostics of a basket whose weights a method sets (``nlp_equal``, ``market``).

    ``lower_bound`` is the certified bound of the *optimised* hedge over the same candidates, so
    ``gap`` tells how much variance the fixed weights give up against the optimum.

    Parameters
    ----------
    problem : HedgeProblem
    weights : FloatArray
        ``(n,)`` over ``problem.candidates``; must satisfy the constraints.
    settings : SolverSettings
    method : str

    Raises
    ------
    InfeasibleHedgeError
        If ``weights`` break ``Σw = 1``, ``0 ≤ w ≤ u`` (per-name caps included) or ``‖w‖₀ ≤ K``.
    """
    start = time.perf_counter()
    w = np.asarray(weights, dtype=np.float64)
    slack = 1e-9
    upper = settings.upper_bounds(problem.candidates)
    over = [problem.candidates[i] for i in np.nonzero(w > upper + slack)[0]]
    if (
        abs(w.sum() - 1.0) > slack
        or (w < -slack).any()
        or over
        or int((w > 0).sum()) > settings.max_names
    ):
        beyond = f", over their cap: {', '.join(over[:5])}" if over else ""
        raise InfeasibleHedgeError(
            f"ticker {problem.target!r} as of {problem.as_of.date()}: {method} weights break the "
            f"constraints (sum {w.sum():.6f}, max {w.max():.4f}, {(w > 0).sum()} names{beyond})"
        )
    optimum = solve_hedge(problem, settings, method)
    value = problem.variance(w)
    return _hedge_result(problem, method, w, value, optimum.lower_bound, "fixed_weights", start)
