"""The primal heuristic: exact capped QPs per support and a screened 1-swap local search.

A start from backward elimination (``n ≤ BACKWARD_MAX_CANDIDATES``) or forward stepwise selection,
then a 1-swap local search. Every add/swap is screened in closed form (bordered inverse + rank-one
downdate of the support's ``H⁻¹``, only ``Σw = 1`` kept: a lower bound on the move's value, exact
when the unconstrained weights are in bounds); promising moves are confirmed by the exact capped QP
of the support (``qp.support_qp``).

Caps are per name (``u = SolverSettings.upper_bounds``): a support whose caps sum below 1 cannot
hold a 100 % hedge, evaluates to ``inf``, and the starts repair it by swapping in the names with
the largest caps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hedging_pipeline.hedging.limits import CAP_SLACK, SolverSettings
from hedging_pipeline.hedging.problem import HedgeProblem
from hedging_pipeline.hedging.qp import support_qp
from hedging_pipeline.types import BoolArray, FloatArray, IntArray

EXACT_CHECKS = 48
"""Best screened swaps whose exactness (in-bounds unconstrained weights) is checked per round."""
BACKWARD_MAX_CANDIDATES = 60
"""Candidate sets up to this size start from backward elimination, larger ones from forward
selection (the full QP's active set grows with the candidates)."""
IMPROVEMENT_TOLERANCE = 1e-12
"""Relative decrease in variance below which a swap is not an improvement."""


@dataclass
class Incumbent:
    """A support, its optimal capped weights and their variance."""

    support: IntArray  # sorted candidate indices (the selected names, some may have weight 0)
    weights: FloatArray
    value: float
    nu: float  # half the multiplier of Σw = 1 in the support QP

    def full(self, n: int) -> FloatArray:
        """The weights over all ``n`` candidates (zero off the support)."""
        w = np.zeros(n)
        w[self.support] = self.weights
        return w


def _feasible_start(w: FloatArray, upper: FloatArray) -> FloatArray | None:
    """Rescale the kept weights to sum 1 when that stays within the caps (else: no warm start)."""
    total = float(w.sum())
    if total <= 0:
        return None
    x = w / total
    return x if bool((x <= upper).all()) else None


@dataclass(frozen=True)
class _Screen:
    """Screened moves (values with only ``Σw = 1`` kept) and the pieces to check their exactness.

    ``swap_exact`` tells, for given ``(i, j)`` pairs, whether the unconstrained weights of the new
    support are within ``[0, u]`` (then the screened value *is* the capped QP's value).
    """

    add: FloatArray  # (n,) variance after adding j
    add_ok: BoolArray  # (n,) that value is exact
    swap: FloatArray  # (m, n) variance after replacing support[i] by j
    upper: FloatArray  # (n,) caps of every candidate
    support: IntArray  # (m,)
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
        inside = (x_s >= 0) & (x_s <= self.upper[self.support][:, None])
        inside[i, np.arange(i.size)] = True  # ℓ = i is the removed name
        return inside.all(axis=0) & (x_new >= 0) & (x_new <= self.upper[j])


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


class Search:
    """Support search for one problem: exact capped QPs per support, closed-form swap screening."""

    def __init__(self, problem: HedgeProblem, settings: SolverSettings) -> None:
        self.problem = problem
        self.settings = settings
        b = problem.loadings
        self.c = b @ problem.target_loading
        self.diag = np.einsum("ij,ij->i", b, b) + problem.specific_variance
        self.upper = settings.upper_bounds(problem.candidates)
        self.cache: dict[tuple[int, ...], tuple[FloatArray, float, float]] = {}

    def _hessian(self, support: IntArray) -> FloatArray:
        b = self.problem.loadings[support]
        h = b @ b.T
        h[np.diag_indices_from(h)] += self.problem.specific_variance[support]
        return h

    def evaluate(self, support: IntArray) -> Incumbent:
        """Optimal capped weights on ``support`` and the resulting variance (cached per support)."""
        support = np.unique(support)
        key = tuple(support.tolist())
        hit = self.cache.get(key)
        if hit is None and not self.holds_hedge(support):
            hit = (np.zeros(support.size), math.inf, 0.0)  # the caps cannot reach Σw = 1
        elif hit is None:
            h = self._hessian(support)
            q = self.c[support]
            w, nu = support_qp(h, q, self.upper[support])
            value = float(w @ h @ w - 2.0 * q @ w + self.problem.target_variance)
            hit = (w, value, nu)
            self.cache[key] = hit
        w, value, nu = hit
        return Incumbent(support, w, value, nu)

    def holds_hedge(self, support: IntArray) -> bool:
        """Whether the caps of ``support`` sum to at least 1 (a 100 % hedge fits)."""
        return float(self.upper[support].sum()) >= 1.0 - CAP_SLACK

    def repair(self, support: IntArray, allowed: BoolArray, fixed_in: BoolArray) -> IntArray:
        """Swap the smallest-cap names for the largest-cap allowed ones until a 100 % hedge fits.

        Unchanged when it already fits, or when no larger cap is left.
        """
        support = np.unique(support)
        outside = np.nonzero(allowed)[0]
        outside = outside[~np.isin(outside, support)]
        outside = outside[np.argsort(-self.upper[outside], kind="stable")]
        for j in outside:
            if self.holds_hedge(support):
                break
            movable = support[~fixed_in[support]]
            if movable.size == 0:
                break
            i = movable[int(np.argmin(self.upper[movable]))]
            if self.upper[j] <= self.upper[i]:
                break
            support = np.sort(np.append(support[support != i], j))
        return support

    def screen(self, support: IntArray, allowed: BoolArray, fixed_in: BoolArray) -> _Screen:
        """Variance after adding ``j`` / swapping ``support[i]`` for ``j``, only ``Σw = 1`` kept.

        With ``H⁻¹`` of the support, the bordered inverse ``K`` after adding ``j`` and the rank-one
        downdate after removing ``i`` give ``α = qᵀH⁻¹q``, ``β = 1ᵀH⁻¹q``, ``γ = 1ᵀH⁻¹1`` of every
        new support ``T`` in closed form. Its equality-constrained optimum is
        ``x_T = H_T⁻¹(q + μ1)``, ``μ = (1 − β) / γ``, with value ``(1 − β)² / γ − α + ‖b‖² + d_t``.
        Dropping the bounds makes each value a lower bound on the capped QP of ``T``, and an exact
        value when ``x_T`` happens to satisfy ``0 ≤ x_T ≤ u`` (``feasible``).
        """
        upper = self.upper
        bd = self._bordered(support, allowed)
        # K u' over S (m, n) and at the new name j (n,), for u = q and u = 1
        kq = bd.a_q[:, None] + bd.p * bd.e_q[None, :]
        k1 = bd.a_1[:, None] + bd.p * bd.e_1[None, :]
        x_add = kq + bd.mu_j * k1
        x_add_new = -(bd.e_q + bd.mu_j * bd.e_1)
        add_ok = ((x_add >= 0) & (x_add <= upper[support][:, None])).all(axis=0)
        add_ok &= (x_add_new >= 0) & (x_add_new <= upper)
        # removing position i: K_ii after adding j, then the downdated α, β, γ
        kii = np.diag(bd.hinv)[:, None] + bd.p * bd.p / bd.schur[None, :]
        alpha_t = bd.alpha_j[None, :] - kq * kq / kii
        beta_t = bd.beta_j[None, :] - kq * k1 / kii
        gamma_t = bd.gamma_j[None, :] - k1 * k1 / kii
        mu_t = (1.0 - beta_t) / gamma_t
        swap = (1.0 - beta_t) * mu_t - alpha_t + self.problem.target_variance
        swap = np.where(bd.ok[None, :] & ~fixed_in[support][:, None], swap, np.inf)
        return _Screen(
            bd.add,
            add_ok,
            swap,
            upper,
            support,
            bd.hinv,
            bd.p,
            bd.schur,
            bd.e_q,
            bd.e_1,
            kq,
            k1,
            kii,
            mu_t,
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

    def greedy(self, allowed: BoolArray, fixed_in: BoolArray) -> Incumbent:
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
        return self.evaluate(self.repair(support, allowed, fixed_in))

    def local_search(self, inc: Incumbent, allowed: BoolArray, fixed_in: BoolArray) -> Incumbent:
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

    def backward(self, allowed: BoolArray, fixed_in: BoolArray) -> Incumbent:
        """Backward elimination: the QP over every allowed name, then drop the smallest weight.

        The capped QP without the cardinality already zeroes most names; removing the smallest
        positive weight and re-solving (warm-started) until ``K`` names remain is a strong start on
        small candidate sets, where collinear names defeat forward selection.
        """
        st = self.settings
        support = np.nonzero(allowed)[0]
        upper = self.upper[support]
        h_all = self._hessian(support)
        q_all = self.c[support]
        keep = np.ones(support.size, dtype=bool)
        w_prev = None
        while True:
            idx = np.nonzero(keep)[0]
            w, _ = support_qp(h_all[np.ix_(idx, idx)], q_all[idx], upper[idx], w_prev)
            positive = (w > 0) | fixed_in[support[idx]]
            if int(positive.sum()) <= st.max_names:
                return self.evaluate(support[idx[positive]])
            droppable = np.where(positive & ~fixed_in[support[idx]], w, np.inf)
            drop = int(np.argmin(droppable))
            keep[idx[drop]] = False
            keep[idx[~positive]] = False
            if int(keep.sum()) < st.min_names or not self.holds_hedge(support[keep]):
                return self.greedy(allowed, fixed_in)
            rest = w[keep[idx]]
            w_prev = _feasible_start(rest, upper[keep])

    def from_support(self, seed: IntArray, allowed: BoolArray, fixed_in: BoolArray) -> Incumbent:
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
        support = self.repair(support, allowed, fixed_in)
        return self.local_search(self.evaluate(support), allowed, fixed_in)
