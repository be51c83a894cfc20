"""The one registry of hedge methods: candidate generator x risk estimator, and the fixed rules.

A method is a cell of the grid ``candidates x risk`` (optimised weights, certified by the solver),
or a fixed-weight rule (``risk = "fixed"``):

==================  ===============  ========  =================================================
method              candidates       risk      weights
==================  ===============  ========  =================================================
``factor``          universe         factor    optimised
``universe_sample`` universe         sample    optimised
``universe_blend``  universe         blend     optimised
``hybrid``          semantic         factor    optimised
``nlp``             semantic         sample    optimised
``semantic_blend``  semantic         blend     optimised
``correlation``     correlation      factor    optimised
``correlation_sample`` correlation   sample    optimised
``correlation_blend`` correlation    blend     optimised
``gics``            gics             factor    optimised
``gics_sample``     gics             sample    optimised
``gics_blend``      gics             blend     optimised
``nlp_equal``       semantic         fixed     top-10 semantic peers, equal weights (the seed)
``market``          index            fixed     10 largest caps, cap-weighted, capped at 25 %
``index``           index            fixed     the cap-weighted universe index, 100 % notional
``index_beta``      index            fixed     the same index at the target's trailing beta
==================  ===============  ========  =================================================

Every cell also answers to ``<candidates>_<risk>`` (``semantic_sample`` is ``nlp``, ``universe_factor``
is ``factor``); :func:`resolve_method` maps either spelling to the stored name. Candidates: the whole
universe of the risk model; ``DEFAULT_N_PEERS`` semantic peers (``nlp.peers``); as many names with
the most correlated trailing returns; the target's GICS group. Risk: the factor model
(``risk/``), the Ledoit-Wolf shrunk sample covariance and their equal blend (``estimators``).
``index`` and ``index_beta`` are not baskets of at most 10 names: they are built by the backtest
(``backtest.index``) from market caps and never appear in ``hedge_weights``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hedging_pipeline.errors import InvalidValueError

CandidateRule = Literal["universe", "semantic", "correlation", "gics", "index"]
RiskRule = Literal["factor", "sample", "blend", "fixed"]
WeightRule = Literal["optimised", "equal", "cap", "index", "index_beta"]

CANDIDATE_RULES: tuple[CandidateRule, ...] = ("universe", "semantic", "correlation", "gics")
RISK_RULES: tuple[RiskRule, ...] = ("factor", "sample", "blend")
LEGACY_NAMES: dict[tuple[str, str], str] = {
    ("universe", "factor"): "factor",
    ("semantic", "factor"): "hybrid",
    ("semantic", "sample"): "nlp",
    ("correlation", "factor"): "correlation",
    ("gics", "factor"): "gics",
}
"""Grid cells that keep the name they had before the grid (CONTRACT, RESULTS, the CLI)."""

NOT_SOLVED_BY_DEFAULT: tuple[str, ...] = ()
"""Cells the hedge assets skip (none since issue 13b: see ``SCREENED_UNIVERSE``)."""

SCREENED_UNIVERSE = ("universe_sample", "universe_blend")
"""Universe cells solved on a pre-screen. Certifying a basket of the whole universe (~500 names)
under a dense sample covariance (253 loadings per name, no factor structure) took ~14 s per hedge
on the real data (2020-02, loaded 2-core machine), ~40 CPU-hours for the backtest. These cells
choose instead from the union of the target's correlation candidates, semantic peers and the names
the factor model sees as most correlated with it (``DEFAULT_N_PEERS`` each, at most 3x that many):
a superset of the semantic and correlation cells' candidates, so under the same risk their basket
is at least as good in sample as those cells'. ``universe x factor`` (``factor``) keeps the whole
universe (the factor structure makes it fast)."""

CANDIDATE_TEXT = {
    "universe": "the whole universe of the risk model",
    "semantic": "top semantic peers (description embeddings)",
    "correlation": "most correlated trailing daily returns",
    "gics": "same GICS group",
    "index": "the cap-weighted universe index",
}
SCREENED_TEXT = (
    "a pre-screen of the universe: correlated names, semantic peers, factor-model neighbours"
)
"""What the candidates of a ``SCREENED_UNIVERSE`` cell are (the CLI and the proposal print it)."""
RISK_TEXT = {
    "factor": "factor risk model",
    "sample": "Ledoit-Wolf shrunk sample covariance",
    "blend": "equal blend of factor model and shrunk sample covariance",
    "fixed": "fixed weights",
}


@dataclass(frozen=True)
class MethodSpec:
    """One hedge method: where its candidates come from, what prices their risk, how it weights.

    Attributes
    ----------
    name : str
        The stored ``method`` (``hedge_weights``, ``hedge_diagnostics``, ``backtest_*``).
    candidates : CandidateRule
    risk : RiskRule
    weights : WeightRule
    description : str
        One line for the CLI and the reports.
    """

    name: str
    candidates: CandidateRule
    risk: RiskRule
    weights: WeightRule
    description: str

    @property
    def cell(self) -> str:
        """``<candidates>_<risk>``, the grid spelling of the method."""
        return f"{self.candidates}_{self.risk}"

    @property
    def optimised(self) -> bool:
        """Whether the solver chooses the weights (a grid cell)."""
        return self.weights == "optimised"

    @property
    def in_hedge_stage(self) -> bool:
        """Whether the hedge assets build it.

        Not the index shorts (the backtest builds them), nor a cell of ``NOT_SOLVED_BY_DEFAULT``.
        """
        return (
            self.weights not in ("index", "index_beta") and self.name not in NOT_SOLVED_BY_DEFAULT
        )


def _grid() -> list[MethodSpec]:
    specs = []
    for candidates in CANDIDATE_RULES:
        for risk in RISK_RULES:
            name = LEGACY_NAMES.get((candidates, risk), f"{candidates}_{risk}")
            pool = SCREENED_TEXT if name in SCREENED_UNIVERSE else CANDIDATE_TEXT[candidates]
            text = f"{pool}; {RISK_TEXT[risk]}; optimised weights"
            specs.append(MethodSpec(name, candidates, risk, "optimised", text))
    return specs


METHOD_SPECS: tuple[MethodSpec, ...] = (
    *_grid(),
    MethodSpec("nlp_equal", "semantic", "fixed", "equal", "top-10 semantic peers, equal weights"),
    MethodSpec("market", "index", "fixed", "cap", "10 largest caps, cap-weighted (≤ 25 % each)"),
    MethodSpec("index", "index", "fixed", "index", "short the cap-weighted index, 100 % notional"),
    MethodSpec(
        "index_beta", "index", "fixed", "index_beta", "short the index at the target's beta"
    ),
)
REGISTRY: dict[str, MethodSpec] = {s.name: s for s in METHOD_SPECS}
ALIASES: dict[str, str] = {s.cell: s.name for s in METHOD_SPECS if s.optimised}
ALL_METHODS: tuple[str, ...] = tuple(s.name for s in METHOD_SPECS)
HEDGE_STAGE_METHODS: tuple[str, ...] = tuple(s.name for s in METHOD_SPECS if s.in_hedge_stage)
"""Methods the hedge assets solve (every method but the index shorts)."""
INDEX_METHODS: tuple[str, ...] = tuple(
    s.name for s in METHOD_SPECS if s.weights in ("index", "index_beta")
)


def resolve_method(name: str) -> MethodSpec:
    """The method called ``name`` (stored name or ``<candidates>_<risk>`` alias).

    Raises
    ------
    InvalidValueError
        If no method has that name, listing the valid ones.
    """
    key = ALIASES.get(name, name)
    try:
        return REGISTRY[key]
    except KeyError:
        raise InvalidValueError(
            f"unknown hedge method {name!r}; expected one of {list(ALL_METHODS)} "
            f"or a grid cell {sorted(ALIASES)}"
        ) from None


def method_table() -> list[dict[str, str]]:
    """Every method as ``{method, cell, candidates, risk, weights, description}`` rows (CLI list)."""
    return [
        {
            "method": s.name,
            "cell": s.cell,
            "candidates": s.candidates,
            "risk": s.risk,
            "weights": s.weights,
            "description": s.description,
        }
        for s in METHOD_SPECS
    ]


def grid_columns(method: str) -> tuple[str, str]:
    """``(candidates, risk)`` of a stored method name; ``("", "")`` for an unknown one."""
    spec = REGISTRY.get(method)
    return (spec.candidates, spec.risk) if spec else ("", "")
