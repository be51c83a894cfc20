"""The Lagrangian (perspective) lower bound of the cardinality-constrained hedge.

For any ``v`` and ``ν``, since ``wᵀQw ≥ 2vᵀQw − vᵀQv``::

    v(w) ≥ L(v, ν) = const − vᵀQv + ν + Σ_{K smallest i} min(0, h_i(ν)),
    h_i(ν) = min_{0 ≤ x ≤ u} d'_i x² + (a_i − ν) x,     a = 2(Qv − c)

which is separable, so the cardinality is handled *exactly* by keeping the ``K`` most negative
``h_i``. The cap may differ per name (``u_i``, e.g. a liquidity cap): each ``h_i`` is then minimised
on its own ``[0, u_i]`` and the argument is unchanged, so the bound stays valid. This module maximises ``L`` over ``ν`` for a given ``v`` and builds the inner minimiser
(an *atom* of the separable set); ``relaxation.py`` chooses ``v`` by column generation. Any ``v``
and ``ν`` give a valid bound: the search only affects tightness.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hedging_pipeline.hedging.limits import SolverSettings, caps_feasible
from hedging_pipeline.hedging.problem import HedgeProblem
from hedging_pipeline.types import BoolArray, FloatArray, IntArray

NU_GRID_POINTS = 16
"""Points per round of the vectorised search for the best multiplier ``ν`` of ``Σ w = 1``."""
NU_GRID_ROUNDS = 6
"""Rounds of the grid search (each narrows the bracket to two grid cells) when ``ν`` is at a kink."""
ATOM_SUM_TOLERANCE = 1e-9
"""How far from 1 the weights of an inner minimiser may sum to count as one point with ``Σx = 1``."""
NU_FIXED_POINT_STEPS = 6
"""Selection/solve iterations tried for ``ν`` before the grid search."""
NU_BRACKET_DOUBLINGS = 60
"""Most doublings of the ``ν`` bracket beyond the point where every name sits at its cap."""
NU_KINK_EPS = 1e-9
"""Offset (fraction of the ``ν`` range) probing the selection on either side of the optimum."""


def _inner(
    a: FloatArray, d: FloatArray, nu: FloatArray, upper: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per-name minimiser ``x`` and value ``h`` of ``d x² + (a − ν) x`` on ``[0, u_i]``, (n, G)."""
    x = np.minimum(np.maximum((nu[None, :] - a[:, None]) / (2.0 * d[:, None]), 0.0), upper[:, None])
    hval = x * (d[:, None] * x + (a[:, None] - nu[None, :]))
    return x, hval


def _select(hval: FloatArray, fixed_in: BoolArray, k: int) -> IntArray:
    """Rows of the ``k`` most negative ``h`` per column (fixed-in names first), ``(≤k, G)``."""
    key = np.where(fixed_in[:, None], -np.inf, hval)
    if key.shape[0] > k:
        return np.argpartition(key, k - 1, axis=0)[:k]
    return np.broadcast_to(np.arange(key.shape[0])[:, None], key.shape)


@dataclass(frozen=True)
class Atom:
    """A point of the separable mixed-integer set with ``Σx = 1`` (or a mix of two)."""

    x: FloatArray  # (n,) weights
    t: float  # Σ d'_i x_i² (mixed linearly for a mix)
    z: FloatArray  # (n,) selection indicators (fractional for a mix)


@dataclass(frozen=True)
class NuSolution:
    """The best multiplier ``ν`` of ``Σw = 1`` for one ``v``, its value and inner minimiser."""

    phi: float  # max_ν φ(ν); −inf when the fixings leave no feasible basket
    nu: float
    atom: Atom | None


def _phi_at(
    a: FloatArray, d: FloatArray, nus: FloatArray, fixed_in: BoolArray, k: int, upper: FloatArray
) -> tuple[FloatArray, FloatArray, IntArray, FloatArray]:
    x, hval = _inner(a, d, nus, upper)
    idx = _select(hval, fixed_in, k)
    hsum = np.take_along_axis(hval, idx, axis=0).sum(axis=0)
    return nus + hsum, x, idx, hval


def maximise_over_nu(
    a: FloatArray,
    d: FloatArray,
    fixed_in: BoolArray,
    allowed: BoolArray,
    settings: SolverSettings,
    nu_hint: float | None,
    upper: FloatArray,
) -> NuSolution:
    """Maximise the concave ``φ(ν) = ν + Σ_top-K min(0, h_i(ν))``; build the inner minimiser.

    ``φ`` is concave (a minimum over selections of sums of concave functions); it is maximised by
    nested grids on a bracket around ``nu_hint`` (grown until the supergradient ``1 − Σx`` changes
    sign), then an exact solve of ``Σ clip((ν − a_i) / 2d_i, 0, u_i) = 1`` on the selected names.
    Any ``ν`` gives a valid bound, so the grid only affects tightness. ``upper`` holds the caps
    ``u_i`` ``(n,)``; ``−inf`` when no basket of allowed names can reach ``Σ w = 1`` under them.
    """
    n = a.shape[0]
    k = settings.max_names
    rows = np.nonzero(allowed)[0]
    if not caps_feasible(upper, k, allowed, fixed_in):
        return NuSolution(-math.inf, math.nan, None)
    a_s, d_s, fin_s, u_s = a[rows], d[rows], fixed_in[rows], upper[rows]
    lo, hi = float(a_s.min()), float((a_s + 2.0 * d_s * u_s).max())
    hi = _upper_bracket(a_s, d_s, fin_s, k, u_s, lo, hi)
    start = nu_hint if nu_hint is not None and lo < nu_hint < hi else 0.5 * (lo + hi)
    best_nu, found = _nu_fixed_point(a_s, d_s, fin_s, k, u_s, start, lo, hi)
    if best_nu is not None:
        eps = NU_KINK_EPS * max(hi - lo, np.finfo(float).tiny)
        atom = _atom_at(a_s, d_s, best_nu, eps, fin_s, k, u_s)
        if atom is not None:
            atom = Atom(_scatter(n, rows, atom.x), atom.t, _scatter(n, rows, atom.z))
        return NuSolution(found, best_nu, atom)
    lo, hi = found
    # A name can be among the K smallest h somewhere in [lo, hi] only if h_i(hi) ≤ τ(lo), the K-th
    # smallest h at lo (each h_i decreases in ν); names with a_i ≥ hi have h_i = 0 throughout.
    _, hval = _inner(a_s, d_s, np.array([lo, hi]), u_s)
    tau = np.partition(hval[:, 0], k - 1)[k - 1] if hval.shape[0] > k else 0.0
    live = ((hval[:, 1] <= tau) & (a_s < hi)) | fin_s
    rows = rows[live]
    a_s, d_s, fin_s, u_s = a_s[live], d_s[live], fin_s[live], u_s[live]
    best_phi, best_nu = -math.inf, lo
    for _ in range(NU_GRID_ROUNDS):
        grid = np.linspace(lo, hi, NU_GRID_POINTS)
        phi, *_ = _phi_at(a_s, d_s, grid, fin_s, k, u_s)
        j = int(np.argmax(phi))
        if phi[j] > best_phi:
            best_phi, best_nu = float(phi[j]), float(grid[j])
        lo, hi = float(grid[max(j - 1, 0)]), float(grid[min(j + 1, grid.size - 1)])
    resolution = max(hi - lo, np.finfo(float).eps * max(abs(best_nu), 1.0))
    # exact step: with the selection at the best ν fixed, Σx = 1 is piecewise linear in ν
    _, x, idx, _ = _phi_at(a_s, d_s, np.array([best_nu]), fin_s, k, u_s)
    sel = idx[:, 0][x[idx[:, 0], 0] > 0]
    if sel.size:
        nu_exact = _solve_piecewise(a_s[sel], d_s[sel], u_s[sel])
        if nu_exact is not None:
            phi1, *_ = _phi_at(a_s, d_s, np.array([nu_exact]), fin_s, k, u_s)
            if phi1[0] > best_phi:
                best_phi, best_nu = float(phi1[0]), nu_exact
    atom = _atom_at(a_s, d_s, best_nu, resolution, fin_s, k, u_s)
    if atom is not None:
        atom = Atom(_scatter(n, rows, atom.x), atom.t, _scatter(n, rows, atom.z))
    return NuSolution(best_phi, best_nu, atom)


def _upper_bracket(
    a: FloatArray,
    d: FloatArray,
    fixed_in: BoolArray,
    k: int,
    upper: FloatArray,
    lo: float,
    hi: float,
) -> float:
    """A ``ν`` at or beyond the maximiser of ``φ``: where the selection's ``Σx`` reaches 1.

    Beyond ``hi = max(a_i + 2 d_i u_i)`` every name sits at its cap and ``φ`` is piecewise linear
    with slope ``1 − Σ_sel u_i``. With one cap for all names any ``K`` names give slope ≤ 0 there;
    with per-name caps the selection may still hold small-cap names, so the bracket grows (doubling
    its step) until the selected caps sum to at least 1 (``caps_feasible`` guarantees it does).
    """
    if upper.size == 0 or float(upper.min()) == float(upper.max()):
        return hi  # one cap for all: any feasible selection holds Σx = 1 at hi
    step = max(hi - lo, np.finfo(float).eps * max(abs(hi), 1.0))
    for _ in range(NU_BRACKET_DOUBLINGS):
        _, x, idx, _ = _phi_at(a, d, np.array([hi]), fixed_in, k, upper)
        if float(x[idx[:, 0], 0].sum()) >= 1.0 - ATOM_SUM_TOLERANCE:
            return hi
        hi += step
        step *= 2.0
    return hi


def _nu_fixed_point(
    a: FloatArray,
    d: FloatArray,
    fixed_in: BoolArray,
    k: int,
    upper: FloatArray,
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
        nu_new = _solve_piecewise(a[sel], d[sel], upper[sel]) if sel.size else None
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
    upper: FloatArray,
) -> Atom | None:
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
            return Atom(xi / total, float(d @ (xi / total) ** 2), zi)
    (x0, z0, s0), (x1, z1, s1) = parts[0], parts[1]
    if s0 < 1.0 < s1:
        lam = (s1 - 1.0) / (s1 - s0)
        return Atom(
            lam * x0 + (1 - lam) * x1,
            float(lam * (d @ x0**2) + (1 - lam) * (d @ x1**2)),
            lam * z0 + (1 - lam) * z1,
        )
    # fall back to a legitimate point: re-solve Σx = 1 on the selection at ν
    xi, zi, _ = parts[2]
    sel = np.nonzero(zi > 0)[0]
    if float(upper[sel].sum()) < 1.0 - 1e-12:
        return None
    nu_fix = _solve_piecewise(a[sel], d[sel], upper[sel])
    if nu_fix is None:
        return None
    xf = np.zeros(a.shape[0])
    xf[sel] = np.clip((nu_fix - a[sel]) / (2.0 * d[sel]), 0.0, upper[sel])
    xf /= xf.sum()
    return Atom(xf, float(d @ xf**2), zi)


def _solve_piecewise(a: FloatArray, d: FloatArray, upper: FloatArray) -> float | None:
    """Solve ``Σ_i clip((ν − a_i) / (2 d_i), 0, u_i) = 1`` for ``ν`` (``None`` if ``Σ u < 1``)."""
    if float(upper.sum()) < 1.0 - 1e-12:
        return None
    knots = np.unique(np.concatenate([a, a + 2.0 * d * upper]))
    ratio = (knots[:, None] - a[None, :]) / (2.0 * d[None, :])
    total = np.clip(ratio, 0.0, upper[None, :]).sum(axis=1)
    j = int(np.searchsorted(total, 1.0))
    if j == 0:
        return float(knots[0])
    if j >= knots.size:
        return float(knots[-1])
    t0, t1 = total[j - 1], total[j]
    return float(knots[j - 1] + (1.0 - t0) * (knots[j] - knots[j - 1]) / (t1 - t0))


@dataclass(frozen=True)
class Linear:
    """Pieces of ``L(v, ·)`` that depend on ``v`` only."""

    a: FloatArray  # 2(Qv − c)
    const: float  # ‖b‖² + d_t − vᵀQv


def linearise(problem: HedgeProblem, c: FloatArray, v: FloatArray) -> Linear:
    """The ``v``-dependent pieces of ``L(v, ·)``: ``a = 2(Qv − c)`` and ``‖b‖² + d_t − vᵀQv``."""
    b_mat = problem.loadings
    qv = b_mat @ (b_mat.T @ v) - problem.shift * v
    return Linear(2.0 * (qv - c), problem.target_variance - float(v @ qv))


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
    lin = linearise(problem, problem.loadings @ problem.target_loading, v)
    fin = np.zeros(n, dtype=bool) if fixed_in is None else fixed_in
    allowed = np.ones(n, dtype=bool) if fixed_out is None else ~fixed_out
    upper = settings.upper_bounds(problem.candidates)
    sol = maximise_over_nu(
        lin.a, problem.specific_variance + problem.shift, fin, allowed, settings, None, upper
    )
    return lin.const + sol.phi if np.isfinite(sol.phi) else math.inf
