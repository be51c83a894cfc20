"""The capped QP on a fixed support: ``min wᵀHw − 2qᵀw`` s.t. ``Σw = 1``, ``0 ≤ w ≤ u``.

``u`` is one cap for every name or a per-name vector (liquidity caps).

Two active-set methods share one KKT solve: the primal-dual method (many bounds change per
iteration, tried first on larger supports) and the primal method (always converges; warm-startable).
"""

from __future__ import annotations

import numpy as np

from hedging_pipeline.errors import OptimizationError
from hedging_pipeline.types import FloatArray, IntArray

PDAS_MIN_NAMES = 12
"""QPs over more names than this try the primal-dual active-set method first."""
PDAS_MAX_ITER = 25
"""Primal-dual active-set iterations before falling back to the primal active-set method."""
QP_MAX_ITER_PER_NAME = 6
"""Active-set iterations allowed per variable before the small QP is declared stuck."""
KKT_TOLERANCE = 1e-12
"""Tolerance of the active-set optimality test, relative to the largest ``H_ii``."""


def feasible_start(upper: FloatArray) -> FloatArray:
    """A point of ``Σw = 1``, ``0 ≤ w ≤ u``: water-filling ``w_i = min(u_i, t)``.

    Equal weights ``1/m`` when every cap allows them. Requires ``Σu ≥ 1``.
    """
    m = upper.shape[0]
    level = 1.0 / m
    if float(upper.min()) >= level:
        return np.full(m, level)
    caps = np.sort(upper)
    # Σ min(u_i, t) = 1: with the j smallest caps at their cap, t = (1 − Σ_{<j} u) / (m − j)
    below = np.concatenate([[0.0], np.cumsum(caps)[:-1]])
    levels = (1.0 - below) / (m - np.arange(m))
    j = int(np.argmax(levels <= caps))
    return np.minimum(upper, levels[j])


def support_qp(
    h: FloatArray, q: FloatArray, upper: float | FloatArray, x0: FloatArray | None = None
) -> tuple[FloatArray, float]:
    """Minimise ``wᵀHw − 2qᵀw`` s.t. ``Σw = 1``, ``0 ≤ w ≤ upper`` by a primal active-set method.

    Parameters
    ----------
    h : FloatArray
        Positive definite ``(m, m)``.
    q : FloatArray
        ``(m,)``.
    upper : float or FloatArray
        Weight cap, one for all or ``(m,)`` per name; ``Σ upper ≥ 1`` is required (the caller
        ensures it).
    x0 : FloatArray, optional
        Feasible warm start (entries at 0 or ``upper`` start on their bound); default equal weights
        (water-filled under per-name caps, :func:`feasible_start`).

    Returns
    -------
    w : FloatArray
        Optimal weights ``(m,)``.
    nu : float
        Half the multiplier of ``Σw = 1`` (``(Hw − q)_i = nu`` on free names).
    """
    m = q.shape[0]
    upper = np.asarray(upper, dtype=np.float64)
    uniform = upper.ndim == 0 or float(upper.min()) == float(upper.max())
    # one cap for all stays a scalar: no per-iteration indexing in the common case
    upper = float(upper.max()) if uniform else upper
    if x0 is None and m > PDAS_MIN_NAMES:
        fast = _pdas_qp(h, q, upper)
        if fast is not None:
            return fast
    if x0 is None:
        w = np.full(m, 1.0 / m) if uniform else feasible_start(upper)
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
            ratio[up] = ((upper if uniform else upper[free][up]) - wf[up]) / step[up]
            k = int(np.argmin(ratio))
            alpha = min(1.0, float(ratio[k]))
            w[free] += alpha * step
            if alpha < 1.0:
                i = free[k]
                if step[k] < 0:
                    w[i], state[i] = 0.0, 1
                else:
                    w[i], state[i] = (upper if uniform else upper[i]), 2
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


def _pdas_qp(
    h: FloatArray, q: FloatArray, upper: float | FloatArray
) -> tuple[FloatArray, float] | None:
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
