"""The hedge optimiser's constraints and effort (``SolverSettings``), built in one place."""

from __future__ import annotations

import math
from dataclasses import dataclass

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
