"""Reference solvers for tests and benchmarks: SCIP on the exact MIQP, and brute force.

Only this module (and the cvxpy problems it holds) imports cvxpy; the production solver
(``solve.py``) does not.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from itertools import combinations

import cvxpy as cp
import numpy as np

from hedging_pipeline.hedging.limits import SolverSettings
from hedging_pipeline.hedging.problem import HedgeProblem
from hedging_pipeline.hedging.search import Incumbent, Search
from hedging_pipeline.types import FloatArray

SCIP_CPU_CLOCK = 1
"""SCIP's ``timing/clocktype`` for CPU time: its time limit then does not depend on machine load."""


class PerspectiveRelaxation:
    """The perspective relaxation as a cvxpy SOCP, compiled once per ``(n, m)`` shape.

    ``min ‖Rᵀw‖² − 2cᵀw + Σ_i d'_i w_i² / z_i``  s.t. ``Σw = 1``, ``0 ≤ w ≤ u z``, ``Σz ≤ K``,
    ``lo ≤ z ≤ hi`` (``lo``/``hi`` fix names in or out in branch and bound), with ``R Rᵀ = Q`` from
    ``HedgeProblem.smooth_root``. The bound we report is always recomputed by
    ``bound.lagrangian_bound`` from the solver's primal point, so the solver's accuracy can weaken a
    bound but never make it invalid.
    """

    def __init__(self, n: int, m: int, max_names: int, max_weight: float) -> None:
        self.shape = (n, m)
        self.root = cp.Parameter((n, m), name="smooth_root")
        self.linear = cp.Parameter(n, name="linear")
        self.sqrt_d = cp.Parameter(n, nonneg=True, name="sqrt_separable")
        self.z_lo = cp.Parameter(n, nonneg=True, name="z_lo")
        self.z_hi = cp.Parameter(n, nonneg=True, name="z_hi")
        self.w = cp.Variable(n, nonneg=True)
        self.z = cp.Variable(n)
        t = cp.Variable(n, nonneg=True)
        # t_i ≥ d_i w_i² / z_i  <=>  ‖(2 sqrt(d_i) w_i, t_i − z_i)‖ ≤ t_i + z_i
        soc = cp.SOC(
            t + self.z, cp.vstack([2 * cp.multiply(self.sqrt_d, self.w), t - self.z]), axis=0
        )
        objective = cp.sum_squares(self.root.T @ self.w) - 2 * self.linear @ self.w + cp.sum(t)
        constraints = [
            soc,
            cp.sum(self.w) == 1,
            self.w <= max_weight * self.z,
            cp.sum(self.z) <= max_names,
            self.z >= self.z_lo,
            self.z <= self.z_hi,
        ]
        self.problem = cp.Problem(cp.Minimize(objective), constraints)
        if not self.problem.is_dcp(dpp=True):  # pragma: no cover - a programming error, not input
            raise AssertionError("perspective relaxation is not DPP")

    def solve(
        self, problem: HedgeProblem, z_lo: FloatArray | None = None, z_hi: FloatArray | None = None
    ) -> tuple[FloatArray, FloatArray] | None:
        """Return the relaxation's ``(w, z)`` (each ``(n,)``), or ``None`` if the solver fails."""
        n = problem.n
        root, linear = problem.smooth_root()
        self.root.value = root
        self.linear.value = linear
        self.sqrt_d.value = np.sqrt(problem.specific_variance + problem.shift)
        self.z_lo.value = np.zeros(n) if z_lo is None else z_lo
        self.z_hi.value = np.ones(n) if z_hi is None else z_hi
        try:
            self.problem.solve(solver=cp.CLARABEL)
        except cp.SolverError:
            return None
        if self.w.value is None or self.problem.status not in ("optimal", "optimal_inaccurate"):
            return None
        w = np.clip(np.asarray(self.w.value, dtype=np.float64), 0.0, None)
        return w, np.clip(np.asarray(self.z.value, dtype=np.float64), 0.0, 1.0)


class ExactMIQP:
    """The exact mixed-integer problem for SCIP, compiled once per shape: the reference solver.

    ``min ‖b − Bᵀw‖² + Σ d_i w_i²`` s.t. ``Σw = 1``, ``0 ≤ w ≤ u z``, ``Σz ≤ K``, ``z ∈ {0, 1}ⁿ``,
    with ``u`` the per-name caps (a parameter: ``SolverSettings.upper_bounds``).

    With ``perspective=True`` the same problem is written as ``‖Rᵀw‖² − 2cᵀw + Σ t_i`` with
    ``t_i z_i ≥ d'_i w_i²`` (``R``, ``d'`` as in the relaxation): identical for binary ``z``, with
    the perspective relaxation inside SCIP; on the real universe SCIP was slower with it (its
    rotated cones are handled as general nonlinear constraints), so the plain form is the default.
    """

    def __init__(
        self, n: int, m: int, max_names: int, max_weight: float, perspective: bool = False
    ) -> None:
        self.shape = (n, m)
        self.perspective = perspective
        self.root = cp.Parameter((n, m), name="smooth_root")
        self.linear = cp.Parameter(n, name="linear")
        self.sqrt_d = cp.Parameter(n, nonneg=True, name="sqrt_separable")
        self.upper = cp.Parameter(n, nonneg=True, name="upper")
        self.upper.value = np.full(n, float(max_weight))
        self.w = cp.Variable(n, nonneg=True)
        self.z = cp.Variable(n, boolean=True)
        smooth = cp.sum_squares(self.root.T @ self.w) - 2 * self.linear @ self.w
        constraints = [
            cp.sum(self.w) == 1,
            self.w <= cp.multiply(self.upper, self.z),
            cp.sum(self.z) <= max_names,
        ]
        if perspective:
            t = cp.Variable(n, nonneg=True)
            scaled = 2 * cp.multiply(self.sqrt_d, self.w)
            constraints.append(cp.SOC(t + self.z, cp.vstack([scaled, t - self.z]), axis=0))
            objective = smooth + cp.sum(t)
        else:
            objective = smooth + cp.sum_squares(cp.multiply(self.sqrt_d, self.w))
        self.problem = cp.Problem(cp.Minimize(objective), constraints)
        if not self.problem.is_dcp(dpp=True):  # pragma: no cover - a programming error, not input
            raise AssertionError("exact MIQP is not DPP")

    def solve(
        self,
        problem: HedgeProblem,
        time_limit_s: float,
        rel_gap: float,
        upper: FloatArray | None = None,
    ) -> tuple[FloatArray, str, str]:
        """Solve with SCIP; return ``(w, cvxpy status, SCIP status)``.

        ``upper`` holds the per-name caps ``(n,)`` (default: ``max_weight`` for every name).
        """
        if upper is not None:
            self.upper.value = np.asarray(upper, dtype=np.float64)
        if self.perspective:
            root, linear = problem.smooth_root()
            separable = problem.specific_variance + problem.shift
        else:
            root, linear = problem.loadings, problem.loadings @ problem.target_loading
            separable = problem.specific_variance
        self.root.value = root
        self.linear.value = linear
        self.sqrt_d.value = np.sqrt(separable)
        with warnings.catch_warnings():
            # SCIP's gap/time-limit stops map to "optimal_inaccurate"; the caller reads the status
            warnings.simplefilter("ignore", UserWarning)
            self.problem.solve(
                solver=cp.SCIP,
                scip_params={
                    "limits/time": time_limit_s,
                    "limits/gap": rel_gap,
                    "timing/clocktype": SCIP_CPU_CLOCK,
                },
            )
        w = np.clip(np.asarray(self.w.value, dtype=np.float64), 0.0, None)
        extra = getattr(self.problem.solver_stats, "extra_stats", None) or {}
        return w, str(self.problem.status), str(extra.get("scip_status", ""))


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
    upper = settings.upper_bounds(problem.candidates)
    w, status, scip_status = _EXACT[key].solve(problem, time_limit_s, rel_gap, upper)
    elapsed = (time.perf_counter() - start) * 1e3
    cpu_ms = (time.process_time() - cpu) * 1e3
    w = np.where(w > 1e-9, w, 0.0)
    return ExactResult(w, problem.variance(w), status, scip_status, elapsed, cpu_ms)


def brute_force(problem: HedgeProblem, settings: SolverSettings) -> tuple[FloatArray, float]:
    """Enumerate every support of ``min(K, n)`` names and solve its QP: the small-``n`` reference.

    Supports of exactly ``K`` names suffice: a smaller support is a face of a larger one (weights
    may be 0).
    """
    search = Search(problem, settings)
    size = min(settings.max_names, problem.n)
    best: Incumbent | None = None
    for support in combinations(range(problem.n), size):
        inc = search.evaluate(np.asarray(support, dtype=np.int64))
        if best is None or inc.value < best.value:
            best = inc
    assert best is not None
    return best.full(problem.n), best.value
