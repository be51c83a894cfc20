"""The perspective/Lagrangian relaxation of one branch-and-bound node, by column generation.

The master mixes atoms (points of the separable set, ``bound.Atom``); its mixture is the next
linearisation point ``v``, and the Lagrangian bound's inner minimiser at ``v`` is the next atom. The
bound is always an exact evaluation of ``L`` (``bound.py``), valid whatever the iterates are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hedging_pipeline.hedging.bound import Atom, linearise, maximise_over_nu
from hedging_pipeline.hedging.limits import SolverSettings
from hedging_pipeline.hedging.problem import HedgeProblem
from hedging_pipeline.hedging.qp import support_qp
from hedging_pipeline.hedging.search import Incumbent
from hedging_pipeline.types import BoolArray, FloatArray

RELAXATION_TOLERANCE = 1e-5
"""Column generation stops when master (upper) and Lagrangian (lower) values agree this well."""
NODE_RELAXATION_FRACTION = 0.25
"""A relaxation that cannot certify its node is solved to this fraction of the gap tolerance (its
bound orders the branch-and-bound queue and its selection picks the branching name)."""
MASTER_RIDGE = 1e-10
"""Ridge (fraction of the mean diagonal) keeping the master QP's KKT system non-singular."""


@dataclass
class Relaxation:
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
    atoms: list[Atom]
    bound: float = -math.inf
    master: float = math.inf
    z: FloatArray | None = None
    nu: float | None = None
    theta: FloatArray | None = None
    upper: FloatArray | None = None  # per-name caps, from the settings when not given

    def run(self, incumbent_value: float, max_iter: int, solve_fully: bool = False) -> None:
        """Add atoms until the incumbent is certified, the relaxation is solved, or ``max_iter``.

        When the master (an upper bound on the relaxation) falls below the certification threshold
        the node cannot be certified by its relaxation: it is then solved only to
        ``NODE_RELAXATION_FRACTION`` of the tolerance, enough to branch on.
        """
        st = self.settings
        if self.upper is None:
            self.upper = st.upper_bounds(self.problem.candidates)
        threshold = incumbent_value * (1.0 - st.gap_tolerance)
        d_sep = self.problem.specific_variance + self.problem.shift
        allowed = ~self.fixed_out
        for _ in range(max_iter):
            theta, self.master = self._solve_master()
            x = np.stack([a.x for a in self.atoms], axis=1)
            v = x @ theta
            self.z = np.stack([a.z for a in self.atoms], axis=1) @ theta
            lin = linearise(self.problem, self.c, v)
            sol = maximise_over_nu(lin.a, d_sep, self.fixed_in, allowed, st, self.nu, self.upper)
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
        theta, _ = support_qp(h, q, 1.0, start)
        self.theta = theta
        value = float(theta @ h @ theta - 2.0 * q @ theta + self.problem.target_variance)
        return theta, value


def atom_from(inc: Incumbent, problem: HedgeProblem) -> Atom:
    """The incumbent basket as a point of the separable set (an integral atom)."""
    x = inc.full(problem.n)
    z = np.zeros(problem.n)
    z[inc.support] = 1.0
    return Atom(x, float((problem.specific_variance + problem.shift) @ x**2), z)
