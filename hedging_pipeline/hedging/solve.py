"""Certified cardinality-constrained hedge: local search for the basket, Lagrangian bound.

The problem (``problem.HedgeProblem``), for one target and ``n`` candidates::

    min_w  v(w) = wᵀQw − 2cᵀw + Σ_i d'_i w_i² + const       (Q = BBᵀ − diag(δ) ⪰ 0, d' = d + δ)
    s.t.   Σ w = 1,  0 ≤ w ≤ u,  ‖w‖₀ ≤ K                    (u = max_weight, K = max_names)

**Primal.** A start from backward elimination (``n ≤ 60``: the capped QP over all candidates, then
drop the smallest weight until ``K`` remain) or forward stepwise selection (larger ``n``), then a
1-swap local search. Every add/swap is screened in closed form (bordered inverse + rank-one downdate
of the support's ``H⁻¹``, only ``Σw = 1`` kept: a lower bound on the move's value, exact when the
unconstrained weights are in bounds); promising moves are confirmed by the exact capped QP of the
support (``_support_qp``, a small active-set method).

**Bound.** For any ``v`` and ``ν``, since ``wᵀQw ≥ 2vᵀQw − vᵀQv``::

    v(w) ≥ L(v, ν) = const − vᵀQv + ν + Σ_{K smallest i} min(0, h_i(ν)),
    h_i(ν) = min_{0 ≤ x ≤ u} d'_i x² + (a_i − ν) x,     a = 2(Qv − c)

which is separable, so the cardinality is handled *exactly* by keeping the ``K`` most negative
``h_i``. ``max_{v,ν} L`` is the Lagrangian dual of the MIQP; its value equals the perspective
relaxation's (tested against the cvxpy SOCP ``problem.PerspectiveRelaxation``). We maximise it by
column generation (``_Relaxation``): the master mixes points of the separable set, its mixture is
the next ``v``, and ``L``'s inner minimiser is the next point. It stops as soon as the incumbent is
certified. When the relaxation itself is not tight enough, best-first branch and bound on names
(``z_i = 1`` / ``z_i = 0``) runs the same bound per node. Every reported bound is an exact
evaluation of ``L`` (or the minimum over the open leaves), valid whatever the iterates are.

``gap = (v(w) − bound) / v(w)`` on the variance, the target's own specific variance included.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hedging_pipeline.errors import InfeasibleHedgeError, OptimizationError
from hedging_pipeline.hedging.problem import ExactMIQP, HedgeProblem
from hedging_pipeline.types import BoolArray, FloatArray, IntArray

DEFAULT_MAX_NAMES = 10
DEFAULT_MAX_WEIGHT = 0.25
DEFAULT_GAP_TOLERANCE = 0.005
"""Relative optimality gap (on the variance) every optimised hedge is certified to."""

NU_GRID_POINTS = 16
"""Points per round of the vectorised search for the best multiplier ``ν`` of ``Σ w = 1``."""
NU_GRID_ROUNDS = 6
"""Rounds of the grid search (each narrows the bracket to two grid cells) when ``ν`` is at a kink."""
ATOM_SUM_TOLERANCE = 1e-9
"""How far from 1 the weights of an inner minimiser may sum to count as one point with ``Σx = 1``."""
NU_FIXED_POINT_STEPS = 6
"""Selection/solve iterations tried for ``ν`` before the grid search."""
NU_KINK_EPS = 1e-9
"""Offset (fraction of the ``ν`` range) probing the selection on either side of the optimum."""
RELAXATION_TOLERANCE = 1e-5
"""Column generation stops when master (upper) and Lagrangian (lower) values agree this well."""
NODE_RELAXATION_FRACTION = 0.25
"""A relaxation that cannot certify its node is solved to this fraction of the gap tolerance (its
bound orders the branch-and-bound queue and its selection picks the branching name)."""
MASTER_RIDGE = 1e-10
"""Ridge (fraction of the mean diagonal) keeping the master QP's KKT system non-singular."""
PDAS_MIN_NAMES = 12
"""QPs over more names than this try the primal-dual active-set method first."""
PDAS_MAX_ITER = 25
"""Primal-dual active-set iterations before falling back to the primal active-set method."""
QP_MAX_ITER_PER_NAME = 6
"""Active-set iterations allowed per variable before the small QP is declared stuck."""
KKT_TOLERANCE = 1e-12
"""Tolerance of the active-set optimality test, relative to the largest ``H_ii``."""
EXACT_CHECKS = 48
"""Best screened swaps whose exactness (in-bounds unconstrained weights) is checked per round."""
BACKWARD_MAX_CANDIDATES = 60
"""Candidate sets up to this size start from backward elimination, larger ones from forward
selection (the full QP's active set grows with the candidates)."""
IMPROVEMENT_TOLERANCE = 1e-12
"""Relative decrease in variance below which a swap is not an improvement."""


@dataclass(frozen=True)
class SolverSettings:
    """Constraints and effort of the hedge optimiser.

    Attributes
    ----------
    max_names : int
        Most names in the basket (``K``).
    max_weight : float
        Largest weight of one name (``u``); ``Σ w = 1`` needs ``ceil(1 / u)`` names.
    gap_tolerance : float
        Certified relative gap on the variance.
    swap_trials : int
        Screened moves (best first) checked with the capped QP per local-search round.
    max_local_rounds : int
        Local-search rounds (each accepts one improving move).
    max_cg_iter : int
        Column-generation iterations per relaxation (node).
    max_nodes : int
        Branch-and-bound nodes before giving up certification (status ``"uncertified"``).
    """

    max_names: int = DEFAULT_MAX_NAMES
    max_weight: float = DEFAULT_MAX_WEIGHT
    gap_tolerance: float = DEFAULT_GAP_TOLERANCE
    swap_trials: int = 8
    max_local_rounds: int = 100
    max_cg_iter: int = 60
    max_nodes: int = 200

    @property
    def min_names(self) -> int:
        """``ceil(1 / max_weight)``: the fewest names a 100 % hedge can hold."""
        return math.ceil(1.0 / self.max_weight - 1e-12)


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


# --------------------------------------------------------------------------------------------------
# small QP on a fixed support


def _support_qp(
    h: FloatArray, q: FloatArray, upper: float, x0: FloatArray | None = None
) -> tuple[FloatArray, float]:
    """Minimise ``wᵀHw − 2qᵀw`` s.t. ``Σw = 1``, ``0 ≤ w ≤ upper`` by a primal active-set method.

    Parameters
    ----------
    h : FloatArray
        Positive definite ``(m, m)``.
    q : FloatArray
        ``(m,)``.
    upper : float
        Weight cap; ``m · upper ≥ 1`` is required (the caller ensures it).
    x0 : FloatArray, optional
        Feasible warm start (entries at 0 or ``upper`` start on their bound); default equal weights.

    Returns
    -------
    w : FloatArray
        Optimal weights ``(m,)``.
    nu : float
        Half the multiplier of ``Σw = 1`` (``(Hw − q)_i = nu`` on free names).
    """
    m = q.shape[0]
    if x0 is None and m > PDAS_MIN_NAMES:
        fast = _pdas_qp(h, q, upper)
        if fast is not None:
            return fast
    if x0 is None:
        w = np.full(m, 1.0 / m)
        state = np.zeros(m, dtype=np.int8)  # 0 free, 1 at lower bound 0, 2 at upper bound
    else:
        w = x0.astype(np.float64, copy=True)
        state = np.where(w <= 0.0, 1, np.where(w >= upper, 2, 0)).astype(np.int8)
    scale = float(np.max(np.diag(h)))
    tol = KKT_TOLERANCE * max(scale, 1.0)
    nu = 0.0
    for _ in range(QP_MAX_ITER_PER_NAME * m + 10):
        free = np.nonzero(state == 0)[0]
        fixed = np.nonzero(state != 0)[0]
        if free.size:
            optimum, nu = _kkt_solve(h, q, w, free, fixed)
            wf = w[free]
            step = optimum - wf
            ratio = np.full(free.size, np.inf)
            down, up = step < -1e-15, step > 1e-15
            ratio[down] = wf[down] / -step[down]
            ratio[up] = (upper - wf[up]) / step[up]
            k = int(np.argmin(ratio))
            alpha = min(1.0, float(ratio[k]))
            w[free] += alpha * step
            if alpha < 1.0:
                i = free[k]
                if step[k] < 0:
                    w[i], state[i] = 0.0, 1
                else:
                    w[i], state[i] = upper, 2
                continue
        grad = h @ w - q
        lower_set = state == 1
        upper_set = state == 2
        if not free.size:
            # A vertex: any nu between the upper names' and lower names' gradients certifies it.
            nu = float(grad[upper_set].max()) if upper_set.any() else float(grad[lower_set].min())
        viol = np.where(lower_set, nu - grad, 0.0) + np.where(upper_set, grad - nu, 0.0)
        j = int(np.argmax(viol))
        if viol[j] <= tol:
            return np.clip(w, 0.0, upper), nu
        state[j] = 0
    raise OptimizationError(f"active-set QP did not converge on a support of {m} names")


def _kkt_solve(
    h: FloatArray, q: FloatArray, w: FloatArray, free: IntArray, fixed: IntArray
) -> tuple[FloatArray, float]:
    """Optimal free weights (``Σw = 1``, fixed ones held) and half the multiplier of ``Σw = 1``."""
    kkt = np.empty((free.size + 1, free.size + 1))
    kkt[:-1, :-1] = h[free][:, free]
    kkt[:-1, -1] = -1.0
    kkt[-1, :-1] = 1.0
    kkt[-1, -1] = 0.0
    rhs = np.empty(free.size + 1)
    rhs[:-1] = q[free] - h[free][:, fixed] @ w[fixed]
    rhs[-1] = 1.0 - w[fixed].sum()
    sol = np.linalg.solve(kkt, rhs)
    return sol[:-1], float(sol[-1])


def _pdas_qp(h: FloatArray, q: FloatArray, upper: float) -> tuple[FloatArray, float] | None:
    """The same QP by a primal-dual active-set method (many bounds change per iteration).

    Each iteration solves the KKT system on the free names with the others at their bounds, then
    frees names whose bound multiplier has the wrong sign and fixes free names outside ``[0, u]``.
    Unchanged sets mean all KKT conditions hold (the optimum). Not guaranteed to converge for every
    ``H``: returns None after ``PDAS_MAX_ITER`` iterations (the caller falls back to the primal
    active-set method).
    """
    m = q.shape[0]
    state = np.zeros(m, dtype=np.int8)
    w = np.zeros(m)
    tol = KKT_TOLERANCE * max(float(np.max(np.diag(h))), 1.0)
    for _ in range(PDAS_MAX_ITER):
        free = np.nonzero(state == 0)[0]
        if free.size == 0:
            return None
        w = np.where(state == 2, upper, 0.0)
        x_free, nu = _kkt_solve(h, q, w, free, np.nonzero(state != 0)[0])
        w[free] = x_free
        lam = h @ w - q - nu
        new = np.zeros(m, dtype=np.int8)
        new[(state == 0) & (w < 0.0)] = 1
        new[(state == 0) & (w > upper)] = 2
        new[(state == 1) & (lam > -tol)] = 1
        new[(state == 2) & (lam < tol)] = 2
        if np.array_equal(new, state):
            return np.clip(w, 0.0, upper), nu
        state = new
    return None


# --------------------------------------------------------------------------------------------------
# the bound


def _inner(
    a: FloatArray, d: FloatArray, nu: FloatArray, upper: float
) -> tuple[FloatArray, FloatArray]:
    """Per-name minimiser ``x`` and value ``h`` of ``d x² + (a − ν) x`` on ``[0, u]``, (n, G)."""
    x = np.minimum(np.maximum((nu[None, :] - a[:, None]) / (2.0 * d[:, None]), 0.0), upper)
    hval = x * (d[:, None] * x + (a[:, None] - nu[None, :]))
    return x, hval


def _select(hval: FloatArray, fixed_in: BoolArray, k: int) -> IntArray:
    """Rows of the ``k`` most negative ``h`` per column (fixed-in names first), ``(≤k, G)``."""
    key = np.where(fixed_in[:, None], -np.inf, hval)
    if key.shape[0] > k:
        return np.argpartition(key, k - 1, axis=0)[:k]
    return np.broadcast_to(np.arange(key.shape[0])[:, None], key.shape)


@dataclass(frozen=True)
class _Atom:
    """A point of the separable mixed-integer set with ``Σx = 1`` (or a mix of two)."""

    x: FloatArray  # (n,) weights
    t: float  # Σ d'_i x_i² (mixed linearly for a mix)
    z: FloatArray  # (n,) selection indicators (fractional for a mix)


@dataclass(frozen=True)
class _NuSolution:
    phi: float  # max_ν φ(ν); −inf when the fixings leave no feasible basket
    nu: float
    atom: _Atom | None


def _phi_at(
    a: FloatArray, d: FloatArray, nus: FloatArray, fixed_in: BoolArray, k: int, upper: float
) -> tuple[FloatArray, FloatArray, IntArray, FloatArray]:
    x, hval = _inner(a, d, nus, upper)
    idx = _select(hval, fixed_in, k)
    hsum = np.take_along_axis(hval, idx, axis=0).sum(axis=0)
    return nus + hsum, x, idx, hval


def _maximise_over_nu(
    a: FloatArray,
    d: FloatArray,
    fixed_in: BoolArray,
    allowed: BoolArray,
    settings: SolverSettings,
    nu_hint: float | None,
) -> _NuSolution:
    """Maximise the concave ``φ(ν) = ν + Σ_top-K min(0, h_i(ν))``; build the inner minimiser.

    ``φ`` is concave (a minimum over selections of sums of concave functions); it is maximised by
    nested grids on a bracket around ``nu_hint`` (grown until the supergradient ``1 − Σx`` changes
    sign), then an exact solve of ``Σ clip((ν − a_i) / 2d_i, 0, u) = 1`` on the selected names. Any
    ``ν`` gives a valid bound, so the grid only affects tightness.
    """
    n = a.shape[0]
    k, upper = settings.max_names, settings.max_weight
    rows = np.nonzero(allowed)[0]
    if (
        fixed_in[~allowed].any()
        or int(fixed_in.sum()) > k
        or min(k, rows.size) * upper < 1.0 - 1e-12
    ):
        return _NuSolution(-math.inf, math.nan, None)
    a_s, d_s, fin_s = a[rows], d[rows], fixed_in[rows]
    lo, hi = float(a_s.min()), float((a_s + 2.0 * d_s * upper).max())
    start = nu_hint if nu_hint is not None and lo < nu_hint < hi else 0.5 * (lo + hi)
    best_nu, found = _nu_fixed_point(a_s, d_s, fin_s, k, upper, start, lo, hi)
    if best_nu is not None:
        eps = NU_KINK_EPS * max(hi - lo, np.finfo(float).tiny)
        atom = _atom_at(a_s, d_s, best_nu, eps, fin_s, k, upper)
        if atom is not None:
            atom = _Atom(_scatter(n, rows, atom.x), atom.t, _scatter(n, rows, atom.z))
        return _NuSolution(found, best_nu, atom)
    lo, hi = found
    # A name can be among the K smallest h somewhere in [lo, hi] only if h_i(hi) ≤ τ(lo), the K-th
    # smallest h at lo (each h_i decreases in ν); names with a_i ≥ hi have h_i = 0 throughout.
    _, hval = _inner(a_s, d_s, np.array([lo, hi]), upper)
    tau = np.partition(hval[:, 0], k - 1)[k - 1] if hval.shape[0] > k else 0.0
    live = ((hval[:, 1] <= tau) & (a_s < hi)) | fin_s
    rows = rows[live]
    a_s, d_s, fin_s = a_s[live], d_s[live], fin_s[live]
    best_phi, best_nu = -math.inf, lo
    for _ in range(NU_GRID_ROUNDS):
        grid = np.linspace(lo, hi, NU_GRID_POINTS)
        phi, *_ = _phi_at(a_s, d_s, grid, fin_s, k, upper)
        j = int(np.argmax(phi))
        if phi[j] > best_phi:
            best_phi, best_nu = float(phi[j]), float(grid[j])
        lo, hi = float(grid[max(j - 1, 0)]), float(grid[min(j + 1, grid.size - 1)])
    resolution = max(hi - lo, np.finfo(float).eps * max(abs(best_nu), 1.0))
    # exact step: with the selection at the best ν fixed, Σx = 1 is piecewise linear in ν
    _, x, idx, _ = _phi_at(a_s, d_s, np.array([best_nu]), fin_s, k, upper)
    sel = idx[:, 0][x[idx[:, 0], 0] > 0]
    if sel.size:
        nu_exact = _solve_piecewise(a_s[sel], d_s[sel], upper)
        if nu_exact is not None:
            phi1, *_ = _phi_at(a_s, d_s, np.array([nu_exact]), fin_s, k, upper)
            if phi1[0] > best_phi:
                best_phi, best_nu = float(phi1[0]), nu_exact
    atom = _atom_at(a_s, d_s, best_nu, resolution, fin_s, k, upper)
    if atom is not None:
        atom = _Atom(_scatter(n, rows, atom.x), atom.t, _scatter(n, rows, atom.z))
    return _NuSolution(best_phi, best_nu, atom)


def _nu_fixed_point(
    a: FloatArray,
    d: FloatArray,
    fixed_in: BoolArray,
    k: int,
    upper: float,
    nu: float,
    lo: float,
    hi: float,
) -> tuple[float, float] | tuple[None, tuple[float, float]]:
    """Maximise ``φ`` by iterating "select at ν, solve ``Σ_sel x(ν) = 1``" from ``nu``.

    When the selection at the solved ``ν`` is the one it was solved for, ``1 − Σx = 0`` is a
    supergradient there, so ``ν`` maximises the concave ``φ``: returns ``(ν, φ(ν))``. Otherwise
    (a kink, where the selection changes) returns ``(None, (lo, hi))``, the bracket the visited
    points prove the maximiser lies in (the sign of ``1 − Σx`` says on which side it is).
    """
    nus = np.array([nu])
    sel = None
    for _ in range(NU_FIXED_POINT_STEPS):
        phi, x, idx, _ = _phi_at(a, d, nus, fixed_in, k, upper)
        chosen = idx[:, 0]
        total = float(x[chosen, 0].sum())
        new_sel = np.sort(chosen[x[chosen, 0] > 0])
        if sel is not None and np.array_equal(new_sel, sel) and abs(total - 1.0) <= 1e-9:
            return float(nus[0]), float(phi[0])
        if total < 1.0:
            lo = max(lo, float(nus[0]))
        else:
            hi = min(hi, float(nus[0]))
        sel = new_sel
        nu_new = _solve_piecewise(a[sel], d[sel], upper) if sel.size else None
        if nu_new is None or not lo <= nu_new <= hi:
            return None, (lo, hi)
        nus[0] = nu_new
    return None, (lo, hi)


def _scatter(n: int, rows: IntArray, values: FloatArray) -> FloatArray:
    out = np.zeros(n)
    out[rows] = values
    return out


def _atom_at(
    a: FloatArray,
    d: FloatArray,
    nu: float,
    eps: float,
    fixed_in: BoolArray,
    k: int,
    upper: float,
) -> _Atom | None:
    """Inner minimiser at ``ν`` with ``Σx = 1``: one selection, or a mix of two at a kink."""
    nus = np.array([nu - eps, nu, nu + eps])
    x, hval = _inner(a, d, nus, upper)
    idx = _select(hval, fixed_in, k)
    xs = x[:, 1]
    parts = []
    for col in (0, 2, 1):
        sel = np.zeros(a.shape[0], dtype=bool)
        sel[idx[:, col]] = True
        xi = np.where(sel, xs, 0.0)
        zi = ((xi > 0) | (sel & fixed_in)).astype(float)
        parts.append((xi, zi, float(xi.sum())))
    for xi, zi, total in parts:
        if abs(total - 1.0) <= ATOM_SUM_TOLERANCE:
            return _Atom(xi / total, float(d @ (xi / total) ** 2), zi)
    (x0, z0, s0), (x1, z1, s1) = parts[0], parts[1]
    if s0 < 1.0 < s1:
        lam = (s1 - 1.0) / (s1 - s0)
        return _Atom(
            lam * x0 + (1 - lam) * x1,
            float(lam * (d @ x0**2) + (1 - lam) * (d @ x1**2)),
            lam * z0 + (1 - lam) * z1,
        )
    # fall back to a legitimate point: re-solve Σx = 1 on the selection at ν
    xi, zi, _ = parts[2]
    sel = np.nonzero(zi > 0)[0]
    if sel.size * upper < 1.0 - 1e-12:
        return None
    nu_fix = _solve_piecewise(a[sel], d[sel], upper)
    if nu_fix is None:
        return None
    xf = np.zeros(a.shape[0])
    xf[sel] = np.clip((nu_fix - a[sel]) / (2.0 * d[sel]), 0.0, upper)
    xf /= xf.sum()
    return _Atom(xf, float(d @ xf**2), zi)


def _solve_piecewise(a: FloatArray, d: FloatArray, upper: float) -> float | None:
    """Solve ``Σ_i clip((ν − a_i) / (2 d_i), 0, u) = 1`` for ``ν`` (``None`` if ``n u < 1``)."""
    if a.size * upper < 1.0 - 1e-12:
        return None
    knots = np.unique(np.concatenate([a, a + 2.0 * d * upper]))
    total = np.clip((knots[:, None] - a[None, :]) / (2.0 * d[None, :]), 0.0, upper).sum(axis=1)
    j = int(np.searchsorted(total, 1.0))
    if j == 0:
        return float(knots[0])
    if j >= knots.size:
        return float(knots[-1])
    t0, t1 = total[j - 1], total[j]
    return float(knots[j - 1] + (1.0 - t0) * (knots[j] - knots[j - 1]) / (t1 - t0))


@dataclass(frozen=True)
class _Linear:
    """Pieces of ``L(v, ·)`` that depend on ``v`` only."""

    a: FloatArray  # 2(Qv − c)
    const: float  # ‖b‖² + d_t − vᵀQv


def _linearise(problem: HedgeProblem, c: FloatArray, v: FloatArray) -> _Linear:
    b_mat = problem.loadings
    qv = b_mat @ (b_mat.T @ v) - problem.shift * v
    return _Linear(2.0 * (qv - c), problem.target_variance - float(v @ qv))


def lagrangian_bound(
    problem: HedgeProblem,
    v: FloatArray,
    settings: SolverSettings,
    fixed_in: BoolArray | None = None,
    fixed_out: BoolArray | None = None,
) -> float:
    """Lower bound ``max_ν L(v, ν)`` on the best variance (see the module docstring).

    Parameters
    ----------
    problem : HedgeProblem
    v : FloatArray
        Linearisation point ``(n,)``; any vector gives a valid bound, the relaxation's optimum the
        tightest.
    settings : SolverSettings
    fixed_in, fixed_out : BoolArray, optional
        Names forced into / out of the basket (branch and bound), shape ``(n,)``.

    Returns
    -------
    float
        Annualised variance; ``inf`` when the fixings leave no feasible basket.
    """
    n = problem.n
    lin = _linearise(problem, problem.loadings @ problem.target_loading, v)
    fin = np.zeros(n, dtype=bool) if fixed_in is None else fixed_in
    allowed = np.ones(n, dtype=bool) if fixed_out is None else ~fixed_out
    sol = _maximise_over_nu(
        lin.a, problem.specific_variance + problem.shift, fin, allowed, settings, None
    )
    return lin.const + sol.phi if np.isfinite(sol.phi) else math.inf


# --------------------------------------------------------------------------------------------------
# primal heuristic


@dataclass
class _Incumbent:
    support: IntArray  # sorted candidate indices (the selected names, some may have weight 0)
    weights: FloatArray
    value: float
    nu: float  # half the multiplier of Σw = 1 in the support QP

    def full(self, n: int) -> FloatArray:
        w = np.zeros(n)
        w[self.support] = self.weights
        return w


def _feasible_start(w: FloatArray, upper: float) -> FloatArray | None:
    """Rescale the kept weights to sum 1 when that stays within the cap (else: no warm start)."""
    total = float(w.sum())
    if total <= 0:
        return None
    x = w / total
    return x if float(x.max()) <= upper else None


@dataclass(frozen=True)
class _Screen:
    """Screened moves (values with only ``Σw = 1`` kept) and the pieces to check their exactness.

    ``swap_exact`` tells, for given ``(i, j)`` pairs, whether the unconstrained weights of the new
    support are within ``[0, u]`` (then the screened value *is* the capped QP's value).
    """

    add: FloatArray  # (n,) variance after adding j
    add_ok: BoolArray  # (n,) that value is exact
    swap: FloatArray  # (m, n) variance after replacing support[i] by j
    upper: float
    hinv: FloatArray  # (m, m)
    p: FloatArray  # (m, n) H⁻¹ H_{S, j}
    schur: FloatArray  # (n,)
    e_q: FloatArray  # (n,)
    e_1: FloatArray  # (n,)
    kq: FloatArray  # (m, n) (K q')_S after adding j
    k1: FloatArray  # (m, n)
    kii: FloatArray  # (m, n) K_ii after adding j
    mu_t: FloatArray  # (m, n) multiplier of the swapped support

    def swap_exact(self, i: IntArray, j: IntArray) -> BoolArray:
        """Whether swapping ``support[i]`` for ``j`` has in-bounds unconstrained weights, per pair."""
        kcol = self.hinv[:, i] + self.p[:, j] * (self.p[i, j] / self.schur[j])[None, :]  # (m, L)
        kcol_new = -self.p[i, j] / self.schur[j]
        kii = self.kii[i, j]
        rq, r1 = self.kq[i, j] / kii, self.k1[i, j] / kii
        mu = self.mu_t[i, j]
        x_s = (self.kq[:, j] - kcol * rq) + mu * (self.k1[:, j] - kcol * r1)  # (ℓ, L)
        x_new = (-self.e_q[j] - kcol_new * rq) + mu * (-self.e_1[j] - kcol_new * r1)
        inside = (x_s >= 0) & (x_s <= self.upper)
        inside[i, np.arange(i.size)] = True  # ℓ = i is the removed name
        return inside.all(axis=0) & (x_new >= 0) & (x_new <= self.upper)


@dataclass(frozen=True)
class _Bordered:
    """A support's inverse Hessian and the bordered-system pieces for adding each name ``j``."""

    hinv: FloatArray  # (m, m)
    a_q: FloatArray  # H⁻¹ q_S
    a_1: FloatArray  # H⁻¹ 1
    p: FloatArray  # (m, n) H⁻¹ H_{S, j}
    schur: FloatArray  # (n,) H_jj − H_{j,S} H⁻¹ H_{S,j}
    ok: BoolArray  # (n,) j may be added
    e_q: FloatArray
    e_1: FloatArray
    alpha_j: FloatArray
    beta_j: FloatArray
    gamma_j: FloatArray
    mu_j: FloatArray
    add: FloatArray  # (n,) variance after adding j


class _Search:
    """Support search for one problem: exact capped QPs per support, closed-form swap screening."""

    def __init__(self, problem: HedgeProblem, settings: SolverSettings) -> None:
        self.problem = problem
        self.settings = settings
        b = problem.loadings
        self.c = b @ problem.target_loading
        self.diag = np.einsum("ij,ij->i", b, b) + problem.specific_variance
        self.cache: dict[tuple[int, ...], tuple[FloatArray, float, float]] = {}

    def _hessian(self, support: IntArray) -> FloatArray:
        b = self.problem.loadings[support]
        h = b @ b.T
        h[np.diag_indices_from(h)] += self.problem.specific_variance[support]
        return h

    def evaluate(self, support: IntArray) -> _Incumbent:
        """Optimal capped weights on ``support`` and the resulting variance (cached per support)."""
        support = np.unique(support)
        key = tuple(support.tolist())
        hit = self.cache.get(key)
        if hit is None:
            h = self._hessian(support)
            q = self.c[support]
            w, nu = _support_qp(h, q, self.settings.max_weight)
            value = float(w @ h @ w - 2.0 * q @ w + self.problem.target_variance)
            hit = (w, value, nu)
            self.cache[key] = hit
        w, value, nu = hit
        return _Incumbent(support, w, value, nu)

    def screen(self, support: IntArray, allowed: BoolArray, fixed_in: BoolArray) -> _Screen:
        """Variance after adding ``j`` / swapping ``support[i]`` for ``j``, only ``Σw = 1`` kept.

        With ``H⁻¹`` of the support, the bordered inverse ``K`` after adding ``j`` and the rank-one
        downdate after removing ``i`` give ``α = qᵀH⁻¹q``, ``β = 1ᵀH⁻¹q``, ``γ = 1ᵀH⁻¹1`` of every
        new support ``T`` in closed form. Its equality-constrained optimum is
        ``x_T = H_T⁻¹(q + μ1)``, ``μ = (1 − β) / γ``, with value ``(1 − β)² / γ − α + ‖b‖² + d_t``.
        Dropping the bounds makes each value a lower bound on the capped QP of ``T``, and an exact
        value when ``x_T`` happens to satisfy ``0 ≤ x_T ≤ u`` (``feasible``).
        """
        upper = self.settings.max_weight
        bd = self._bordered(support, allowed)
        # K u' over S (m, n) and at the new name j (n,), for u = q and u = 1
        kq = bd.a_q[:, None] + bd.p * bd.e_q[None, :]
        k1 = bd.a_1[:, None] + bd.p * bd.e_1[None, :]
        x_add = kq + bd.mu_j * k1
        x_add_new = -(bd.e_q + bd.mu_j * bd.e_1)
        add_ok = ((x_add >= 0) & (x_add <= upper)).all(axis=0) & (x_add_new >= 0)
        add_ok &= x_add_new <= upper
        # removing position i: K_ii after adding j, then the downdated α, β, γ
        kii = np.diag(bd.hinv)[:, None] + bd.p * bd.p / bd.schur[None, :]
        alpha_t = bd.alpha_j[None, :] - kq * kq / kii
        beta_t = bd.beta_j[None, :] - kq * k1 / kii
        gamma_t = bd.gamma_j[None, :] - k1 * k1 / kii
        mu_t = (1.0 - beta_t) / gamma_t
        swap = (1.0 - beta_t) * mu_t - alpha_t + self.problem.target_variance
        swap = np.where(bd.ok[None, :] & ~fixed_in[support][:, None], swap, np.inf)
        return _Screen(
            bd.add, add_ok, swap, upper, bd.hinv, bd.p, bd.schur, bd.e_q, bd.e_1, kq, k1, kii, mu_t
        )

    def add_values(self, support: IntArray, allowed: BoolArray) -> FloatArray:
        """Variance after adding each name ``j`` to ``support`` (only ``Σw = 1`` kept), ``(n,)``."""
        return self._bordered(support, allowed).add

    def _bordered(self, support: IntArray, allowed: BoolArray) -> _Bordered:
        """The support's ``H⁻¹`` and, for every outside ``j``, the bordered system's pieces."""
        b = self.problem.loadings
        hinv = np.linalg.inv(self._hessian(support))
        q_s = self.c[support]
        a_q, a_1 = hinv @ q_s, hinv.sum(axis=1)
        alpha, beta, gamma = q_s @ a_q, a_q.sum(), a_1.sum()
        cross = b[support] @ b.T  # (m, n)
        p = hinv @ cross
        schur = self.diag - np.einsum("ij,ij->j", cross, p)
        ok = allowed.copy()
        ok[support] = False
        schur = np.where(ok, np.maximum(schur, np.finfo(float).tiny), 1.0)
        e_q = (p.T @ q_s - self.c) / schur
        e_1 = (p.sum(axis=0) - 1.0) / schur
        alpha_j = alpha + e_q * e_q * schur
        beta_j = beta + e_q * e_1 * schur
        gamma_j = gamma + e_1 * e_1 * schur
        mu_j = (1.0 - beta_j) / gamma_j
        add = np.where(ok, (1.0 - beta_j) * mu_j - alpha_j + self.problem.target_variance, np.inf)
        return _Bordered(
            hinv, a_q, a_1, p, schur, ok, e_q, e_1, alpha_j, beta_j, gamma_j, mu_j, add
        )

    def greedy(self, allowed: BoolArray, fixed_in: BoolArray) -> _Incumbent:
        """Forward stepwise selection: best single name, then best additions up to ``K`` names."""
        st = self.settings
        target_size = min(st.max_names, int(allowed.sum()))
        support = np.nonzero(fixed_in)[0]
        if support.size == 0:
            single = np.where(allowed, self.diag - 2.0 * self.c, np.inf)
            support = np.array([int(np.argmin(single))])
        while support.size < target_size:
            add = self.add_values(support, allowed)
            support = np.sort(np.append(support, int(np.argmin(add))))
        return self.evaluate(support)

    def local_search(self, inc: _Incumbent, allowed: BoolArray, fixed_in: BoolArray) -> _Incumbent:
        """1-swap (and add) local search by screened values, best first.

        The best move whose screened value is exact (its unconstrained weights are within bounds)
        is taken when it improves; otherwise the ``swap_trials`` best screened moves are checked with
        the capped QP. Stops when no checked move improves the variance.
        """
        st = self.settings
        for _ in range(st.max_local_rounds):
            # names the capped QP left at zero free their slot (the variance is unchanged)
            dead = (inc.weights <= 0.0) & ~fixed_in[inc.support]
            if dead.any() and inc.support.size - int(dead.sum()) >= st.min_names:
                inc = self.evaluate(inc.support[~dead])
            threshold = inc.value * (1.0 - IMPROVEMENT_TOLERANCE)
            sc = self.screen(inc.support, allowed, fixed_in)
            can_add = inc.support.size < st.max_names
            add = sc.add if can_add else np.full_like(sc.add, np.inf)
            moves: list[tuple[float, int, int]] = []  # (screened value, position or -1, j)
            exact_add = np.where(sc.add_ok, add, np.inf)
            j_add = int(np.argmin(exact_add))
            best_exact = (float(exact_add[j_add]), -1, j_add)
            # exactness of the most promising swaps only (the check costs O(m) per pair)
            checks = min(EXACT_CHECKS, sc.swap.size)
            flat = np.argpartition(sc.swap, checks - 1, axis=None)[:checks]
            pos, js = np.unravel_index(flat, sc.swap.shape)
            exact = sc.swap_exact(pos, js) & np.isfinite(sc.swap[pos, js])
            if exact.any():
                k = int(np.argmin(np.where(exact, sc.swap[pos, js], np.inf)))
                if sc.swap[pos[k], js[k]] < best_exact[0]:
                    best_exact = (float(sc.swap[pos[k], js[k]]), int(pos[k]), int(js[k]))
            moves.append(best_exact)
            if can_add:
                moves += [(float(add[j]), -1, int(j)) for j in np.argsort(add)[: st.swap_trials]]
            flat = np.argsort(sc.swap, axis=None)[: st.swap_trials]
            pos, js = np.unravel_index(flat, sc.swap.shape)
            moves += [(float(sc.swap[i, j]), int(i), int(j)) for i, j in zip(pos, js, strict=True)]
            moved = False
            for value, i, j in [moves[0], *sorted(moves[1:])]:
                if value >= threshold:
                    continue
                support = inc.support if i < 0 else np.delete(inc.support, i)
                cand = self.evaluate(np.append(support, j))
                if cand.value < threshold:
                    inc, moved = cand, True
                    break
            if not moved:
                return inc
        return inc

    def backward(self, allowed: BoolArray, fixed_in: BoolArray) -> _Incumbent:
        """Backward elimination: the QP over every allowed name, then drop the smallest weight.

        The capped QP without the cardinality already zeroes most names; removing the smallest
        positive weight and re-solving (warm-started) until ``K`` names remain is a strong start on
        small candidate sets, where collinear names defeat forward selection.
        """
        st = self.settings
        support = np.nonzero(allowed)[0]
        h_all = self._hessian(support)
        q_all = self.c[support]
        keep = np.ones(support.size, dtype=bool)
        w_prev = None
        while True:
            idx = np.nonzero(keep)[0]
            w, _ = _support_qp(h_all[np.ix_(idx, idx)], q_all[idx], st.max_weight, w_prev)
            positive = (w > 0) | fixed_in[support[idx]]
            if int(positive.sum()) <= st.max_names:
                return self.evaluate(support[idx[positive]])
            droppable = np.where(positive & ~fixed_in[support[idx]], w, np.inf)
            drop = int(np.argmin(droppable))
            keep[idx[drop]] = False
            keep[idx[~positive]] = False
            if int(keep.sum()) < st.min_names:
                return self.greedy(allowed, fixed_in)
            rest = w[keep[idx]]
            w_prev = _feasible_start(rest, st.max_weight)

    def from_support(self, seed: IntArray, allowed: BoolArray, fixed_in: BoolArray) -> _Incumbent:
        """Complete ``seed`` greedily to ``K`` names (fixed-in names kept), then local search."""
        st = self.settings
        fixed = np.nonzero(fixed_in)[0]
        rest = [int(i) for i in seed if allowed[i] and not fixed_in[i]]
        support = np.unique(np.concatenate([fixed, rest[: st.max_names - fixed.size]])).astype(
            np.int64
        )
        if support.size == 0:
            return self.local_search(self.greedy(allowed, fixed_in), allowed, fixed_in)
        target_size = min(st.max_names, int(allowed.sum()))
        while support.size < target_size:
            add = self.add_values(support, allowed)
            support = np.sort(np.append(support, int(np.argmin(add))))
        return self.local_search(self.evaluate(support), allowed, fixed_in)


# --------------------------------------------------------------------------------------------------
# the relaxation by column generation


@dataclass
class _Relaxation:
    """Perspective/Lagrangian relaxation of one node by column generation (simplicial decomp.).

    Master: the best convex combination ``θ`` of atoms ``(x_j, t_j)`` (points of the separable set
    with
    ``Σx = 1``) for ``vᵀQv − 2cᵀv + Σθ_j t_j``, ``v = Xθ`` (an upper bound on the relaxation).
    Pricing: the Lagrangian bound at ``v`` (a lower bound), whose inner minimiser is the next atom.
    """

    problem: HedgeProblem
    settings: SolverSettings
    c: FloatArray
    fixed_in: BoolArray
    fixed_out: BoolArray
    atoms: list[_Atom]
    bound: float = -math.inf
    master: float = math.inf
    z: FloatArray | None = None
    nu: float | None = None
    theta: FloatArray | None = None

    def run(self, incumbent_value: float, max_iter: int, solve_fully: bool = False) -> None:
        """Add atoms until the incumbent is certified, the relaxation is solved, or ``max_iter``.

        When the master (an upper bound on the relaxation) falls below the certification threshold
        the node cannot be certified by its relaxation: it is then solved only to
        ``NODE_RELAXATION_FRACTION`` of the tolerance, enough to branch on.
        """
        st = self.settings
        threshold = incumbent_value * (1.0 - st.gap_tolerance)
        d_sep = self.problem.specific_variance + self.problem.shift
        allowed = ~self.fixed_out
        for _ in range(max_iter):
            theta, self.master = self._solve_master()
            x = np.stack([a.x for a in self.atoms], axis=1)
            v = x @ theta
            self.z = np.stack([a.z for a in self.atoms], axis=1) @ theta
            lin = _linearise(self.problem, self.c, v)
            sol = _maximise_over_nu(lin.a, d_sep, self.fixed_in, allowed, st, self.nu)
            if not np.isfinite(sol.phi):
                self.bound = math.inf
                return
            self.nu = sol.nu
            self.bound = max(self.bound, lin.const + sol.phi)
            if not solve_fully:
                if self.bound >= threshold:
                    return
                # the relaxation cannot certify this node: converge it only enough to branch well
                if self.master < threshold and self.master - self.bound <= (
                    NODE_RELAXATION_FRACTION * st.gap_tolerance * self.master
                ):
                    return
            converged = min(RELAXATION_TOLERANCE, st.gap_tolerance / 10.0) * self.master
            if self.master - self.bound <= converged or sol.atom is None:
                return
            if any(np.array_equal(sol.atom.x, a.x) for a in self.atoms):
                return
            self.atoms.append(sol.atom)

    def _solve_master(self) -> tuple[FloatArray, float]:
        x = np.stack([a.x for a in self.atoms], axis=1)  # (n, J)
        t = np.array([a.t for a in self.atoms])
        y = self.problem.loadings.T @ x
        h = y.T @ y - x.T @ (self.problem.shift[:, None] * x)
        h = (h + h.T) / 2
        h[np.diag_indices_from(h)] += MASTER_RIDGE * max(float(np.trace(h)) / len(t), 1e-300)
        q = x.T @ self.c - t / 2.0
        start = None
        if self.theta is not None:
            start = np.zeros(len(t))
            start[: self.theta.size] = self.theta
        theta, _ = _support_qp(h, q, 1.0, start)
        self.theta = theta
        value = float(theta @ h @ theta - 2.0 * q @ theta + self.problem.target_variance)
        return theta, value


def _atom_from(inc: _Incumbent, problem: HedgeProblem) -> _Atom:
    x = inc.full(problem.n)
    z = np.zeros(problem.n)
    z[inc.support] = 1.0
    return _Atom(x, float((problem.specific_variance + problem.shift) @ x**2), z)


# --------------------------------------------------------------------------------------------------
# the solver


def _gap(value: float, bound: float) -> float:
    return max(0.0, (value - bound) / value)


@dataclass(order=True)
class _Node:
    bound: float
    order: int
    relaxation: _Relaxation = field(compare=False)


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
        If there are fewer than ``ceil(1 / max_weight)`` candidates.
    """
    start = time.perf_counter()
    n = problem.n
    if n < settings.min_names:
        raise InfeasibleHedgeError(
            f"ticker {problem.target!r} as of {problem.as_of.date()}: {n} hedge candidates, "
            f"need at least {settings.min_names} (max_weight {settings.max_weight})"
        )
    none = np.zeros(n, dtype=bool)
    everyone = np.ones(n, dtype=bool)
    search = _Search(problem, settings)
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
    root = _Relaxation(problem, settings, search.c, none, none, [_atom_from(inc, problem)])
    root.nu = 2.0 * inc.nu
    root.run(inc.value, settings.max_cg_iter)
    if _gap(inc.value, root.bound) > settings.gap_tolerance and root.z is not None:
        # round the relaxation: its most-selected names seed another local search
        alt = search.from_support(np.argsort(-root.z)[: settings.max_names], everyone, none)
        if alt.value < inc.value:
            inc = alt
            root.atoms.append(_atom_from(inc, problem))
            root.run(inc.value, settings.max_cg_iter)
    bound = root.bound
    if _gap(inc.value, bound) > settings.gap_tolerance:
        inc, bound = _branch_and_bound(search, inc, root)
    return _result(problem, settings, method, inc, bound, start)


def _result(
    problem: HedgeProblem,
    settings: SolverSettings,
    method: str,
    inc: _Incumbent,
    bound: float,
    start: float,
) -> HedgeResult:
    w_full = inc.full(problem.n)
    keep = np.nonzero(w_full > 0)[0]
    keep = keep[np.argsort(-w_full[keep], kind="stable")]
    value = problem.variance(w_full)
    bound = min(bound, value)
    gap = _gap(value, bound)
    return HedgeResult(
        target=problem.target,
        as_of=problem.as_of,
        method=method,
        tickers=tuple(problem.candidates[i] for i in keep),
        weights=w_full[keep],
        predicted_te=math.sqrt(value),
        objective=value,
        lower_bound=bound,
        gap=gap,
        status="certified" if gap <= settings.gap_tolerance else "uncertified",
        solve_ms=(time.perf_counter() - start) * 1e3,
        target_vol=math.sqrt(problem.target_variance),
        n_candidates=problem.n,
        risk_source=problem.source,
    )


def _branch_and_bound(
    search: _Search, inc: _Incumbent, root: _Relaxation
) -> tuple[_Incumbent, float]:
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
            if int((~fout).sum()) < st.min_names or int(fin.sum()) > st.max_names:
                continue  # an empty subtree: nothing to bound
            child_inc = search.from_support(np.nonzero(z > 0.5)[0], ~fout, fin)
            if child_inc.value < inc.value:
                inc = child_inc
            atoms.append(_atom_from(child_inc, problem))
            child = _Relaxation(problem, st, search.c, fin, fout, atoms, bound=node.bound)
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
        If ``weights`` break ``Σw = 1``, ``0 ≤ w ≤ u`` or ``‖w‖₀ ≤ K``.
    """
    start = time.perf_counter()
    w = np.asarray(weights, dtype=np.float64)
    slack = 1e-9
    if (
        abs(w.sum() - 1.0) > slack
        or (w < -slack).any()
        or (w > settings.max_weight + slack).any()
        or int((w > 0).sum()) > settings.max_names
    ):
        raise InfeasibleHedgeError(
            f"ticker {problem.target!r} as of {problem.as_of.date()}: {method} weights break the "
            f"constraints (sum {w.sum():.6f}, max {w.max():.4f}, {(w > 0).sum()} names)"
        )
    optimum = solve_hedge(problem, settings, method)
    value = problem.variance(w)
    keep = np.nonzero(w > 0)[0]
    keep = keep[np.argsort(-w[keep], kind="stable")]
    return HedgeResult(
        target=problem.target,
        as_of=problem.as_of,
        method=method,
        tickers=tuple(problem.candidates[i] for i in keep),
        weights=w[keep],
        predicted_te=math.sqrt(value),
        objective=value,
        lower_bound=optimum.lower_bound,
        gap=_gap(value, optimum.lower_bound),
        status="fixed_weights",
        solve_ms=(time.perf_counter() - start) * 1e3,
        target_vol=math.sqrt(problem.target_variance),
        n_candidates=problem.n,
        risk_source=problem.source,
    )


_EXACT: dict[tuple[int, int, int, float, bool], ExactMIQP] = {}


@dataclass(frozen=True)
class ExactResult:
    """SCIP's answer to the exact MIQP.

    Attributes
    ----------
    weights : FloatArray
        ``(n,)`` over ``problem.candidates``.
    objective : float
        Variance of those weights (recomputed from the weights, not SCIP's number).
    status : str
        cvxpy's status: ``"optimal"`` when SCIP closed the gap to ``rel_gap``.
    scip_status : str
        SCIP's own status (``"optimal"``, ``"timelimit"``, ...).
    solve_ms : float
        Wall time.
    cpu_ms : float
        CPU time of this process (SCIP's time limit counts CPU time too).
    """

    weights: FloatArray
    objective: float
    status: str
    scip_status: str
    solve_ms: float
    cpu_ms: float

    @property
    def proven(self) -> bool:
        """SCIP proved optimality within ``rel_gap`` (``gaplimit`` is the gap criterion met)."""
        return self.scip_status in ("optimal", "gaplimit")


def solve_exact(
    problem: HedgeProblem,
    settings: SolverSettings,
    time_limit_s: float = 600.0,
    rel_gap: float = 1e-6,
    perspective: bool = False,
) -> ExactResult:
    """Solve the exact MIQP with SCIP (through cvxpy): the reference optimum.

    Parameters
    ----------
    problem : HedgeProblem
    settings : SolverSettings
        ``max_names`` and ``max_weight``.
    time_limit_s : float
        SCIP's time limit (CPU seconds).
    rel_gap : float
        SCIP's relative gap limit.
    perspective : bool
        Use the perspective-strengthened formulation (same optimum; see ``ExactMIQP``).
    """
    width = problem.n if problem.shift.any() and perspective else problem.loadings.shape[1]
    key = (problem.n, width, settings.max_names, settings.max_weight, perspective)
    if key not in _EXACT:
        _EXACT[key] = ExactMIQP(*key)
    start, cpu = time.perf_counter(), time.process_time()
    w, status, scip_status = _EXACT[key].solve(problem, time_limit_s, rel_gap)
    elapsed = (time.perf_counter() - start) * 1e3
    cpu_ms = (time.process_time() - cpu) * 1e3
    w = np.where(w > 1e-9, w, 0.0)
    return ExactResult(w, problem.variance(w), status, scip_status, elapsed, cpu_ms)


def brute_force(problem: HedgeProblem, settings: SolverSettings) -> tuple[FloatArray, float]:
    """Enumerate every support of ``min(K, n)`` names and solve its QP: the small-``n`` reference.

    Supports of exactly ``K`` names suffice: a smaller support is a face of a larger one (weights
    may be 0).
    """
    from itertools import combinations

    search = _Search(problem, settings)
    size = min(settings.max_names, problem.n)
    best: _Incumbent | None = None
    for support in combinations(range(problem.n), size):
        inc = search.evaluate(np.asarray(support, dtype=np.int64))
        if best is None or inc.value < best.value:
            best = inc
    assert best is not None
    return best.full(problem.n), best.value
