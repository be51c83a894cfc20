"""The hedge optimiser's constraints and effort (``SolverSettings``), built in one place.

Each name's weight is capped by ``max_weight`` and, optionally, by a per-name cap (``name_caps``,
e.g. a share of the name's average daily volume for a large position): the solver works with the
vector ``u_i = min(max_weight, cap_i)``. ``Σ w = 1`` with at most ``K`` names is feasible exactly
when the ``K`` largest ``u_i`` sum to at least 1 (:func:`caps_feasible`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hedging_pipeline.types import BoolArray, FloatArray

DEFAULT_MAX_NAMES = 10
DEFAULT_MAX_WEIGHT = 0.25
DEFAULT_GAP_TOLERANCE = 0.005
"""Relative optimality gap (on the variance) every optimised hedge is certified to."""


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
    name_caps : tuple of (str, float)
        Per-name weight caps on top of ``max_weight`` (e.g. liquidity caps); names not listed are
        capped by ``max_weight`` only. A tuple of pairs keeps the settings hashable and their
        digest stable.
    """

    max_names: int = DEFAULT_MAX_NAMES
    max_weight: float = DEFAULT_MAX_WEIGHT
    gap_tolerance: float = DEFAULT_GAP_TOLERANCE
    swap_trials: int = 8
    max_local_rounds: int = 100
    max_cg_iter: int = 60
    max_nodes: int = 200
    name_caps: tuple[tuple[str, float], ...] = ()

    @property
    def min_names(self) -> int:
        """``ceil(1 / max_weight)``: the fewest names a 100 % hedge can hold."""
        return math.ceil(1.0 / self.max_weight - 1e-12)

    def upper_bounds(self, candidates: Sequence[str]) -> FloatArray:
        """``u_i = min(max_weight, cap_i)`` per candidate, shape ``(n,)``."""
        upper = np.full(len(candidates), float(self.max_weight))
        if self.name_caps:
            caps = dict(self.name_caps)
            own = np.array([caps.get(t, math.inf) for t in candidates], dtype=np.float64)
            upper = np.minimum(upper, np.maximum(own, 0.0))
        return upper


CAP_SLACK = 1e-12
"""Rounding allowed when checking that the caps can reach ``Σ w = 1``."""


def best_cap_total(
    upper: FloatArray,
    max_names: int,
    allowed: BoolArray | None = None,
    fixed_in: BoolArray | None = None,
) -> float:
    """Largest ``Σ u_i`` over baskets of at most ``K`` allowed names containing every fixed-in one.

    Parameters
    ----------
    upper : FloatArray
        Per-name caps ``(n,)``.
    max_names : int
        ``K``.
    allowed, fixed_in : BoolArray, optional
        Names that may be / must be in the basket, ``(n,)`` each.
    """
    n = upper.shape[0]
    allowed = np.ones(n, dtype=bool) if allowed is None else allowed
    fixed_in = np.zeros(n, dtype=bool) if fixed_in is None else fixed_in
    if (fixed_in & ~allowed).any() or int(fixed_in.sum()) > max_names:
        return -math.inf
    pinned = int(fixed_in.sum())
    free = upper[allowed & ~fixed_in]
    slots = min(max_names - pinned, free.size)
    if free.size and float(free.min()) == float(free.max()):  # one cap for all: no sort needed
        return float(upper[fixed_in].sum() + slots * float(free[0]))
    return float(upper[fixed_in].sum() + np.sort(free)[::-1][:slots].sum())


def caps_feasible(
    upper: FloatArray,
    max_names: int,
    allowed: BoolArray | None = None,
    fixed_in: BoolArray | None = None,
) -> bool:
    """Whether ``Σ w = 1``, ``0 ≤ w ≤ u``, ``‖w‖₀ ≤ K`` has a solution (see :func:`best_cap_total`)."""
    return best_cap_total(upper, max_names, allowed, fixed_in) >= 1.0 - CAP_SLACK
