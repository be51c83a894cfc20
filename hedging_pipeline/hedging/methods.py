"""Hedge methods: candidate names, the risk that prices them, optimised or fixed weights.

The methods are the cells of the grid *candidate generator x risk estimator* and a few fixed-weight
rules, listed once in ``hedging.registry`` (``factor`` = universe x factor model, ``nlp`` = semantic
peers x shrunk sample covariance, ``hybrid`` = semantic peers x factor model, ...). Every method
excludes the target's own issuer (CIK) and keeps one share class per issuer among its candidates
(``candidates.one_class_per_issuer``), and uses only data known at ``as_of``: the risk model of
``as_of``, returns and market caps dated on or before ``as_of``, and the (static) semantic peers.

Targets without text: a target with fewer semantic candidates than a 100 % hedge needs (no usable
description, so no peers) is hedged from its correlation peers instead, and the diagnostics row says
so (``fallback = "correlation"``), so every semantic method covers every target with a risk model.

Each (target, method) hedge carries a *fingerprint*: a hash of everything that determines it (method
settings, candidates, the risk rows of the target and candidates, the shared factor covariance or
sample window, fixed weights). ``compute_hedges(..., previous=...)`` reuses a previous hedge whose
fingerprint is unchanged, so a changed input re-solves only the hedges it touches.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from hedging_pipeline.data.tables import DIAGNOSTIC_COLUMNS, RETURN_COLUMNS, WEIGHT_COLUMNS
from hedging_pipeline.data.validation import require_columns
from hedging_pipeline.errors import (
    HedgingError,
    InsufficientHistoryError,
    InvalidValueError,
)
from hedging_pipeline.hedging import candidates as cand
from hedging_pipeline.hedging.estimators import BLEND_WEIGHT, blend_risk, shrunk_sample_risk
from hedging_pipeline.hedging.problem import (
    FactorisedRisk,
    HedgeProblem,
    build_problem,
    risk_from_model,
)
from hedging_pipeline.hedging.registry import (
    HEDGE_STAGE_METHODS,
    MethodSpec,
    grid_columns,
    resolve_method,
)
from hedging_pipeline.hedging.solve import (
    HedgeResult,
    SolverSettings,
    evaluate_fixed,
    solve_hedge,
)
from hedging_pipeline.risk.model import RiskModel
from hedging_pipeline.types import DEFAULT_N_PEERS, FloatArray

INFEASIBLE = "infeasible"


@dataclass(frozen=True)
class HedgeSettings:
    """Parameters of every hedge method.

    Attributes
    ----------
    solver : SolverSettings
        ``max_names=10``, ``max_weight=0.25``, ``gap_tolerance=0.005``.
    n_semantic_candidates : int
        Semantic peers offered to the semantic cells (``types.DEFAULT_N_PEERS``, all stored).
    n_equal_peers : int
        Peers equally weighted by ``nlp_equal`` (the seed's top-10).
    n_correlation_candidates : int
        Most correlated names offered to the correlation cells (as many as semantic peers, so
        that the two generators compete on equal terms).
    n_market_names : int
        Largest names in the ``market`` basket.
    sample_window_days : int
        Trailing daily returns of the shrunk sample covariance and of the correlations.
    min_sample_days : int
        Fewest returns a name needs in the sample window (and dates the window must hold).
    blend_weight : float
        Weight of the factor model in the ``blend`` risk (``estimators.BLEND_WEIGHT``).
    min_gics_members : int
        Smallest GICS group (target included) before merging up a level; 11 leaves 10 candidates.
    peer_model : str or None
        Embedding model of ``semantic_peers`` to use (needed only when several are stored).
    """

    solver: SolverSettings = field(default_factory=SolverSettings)
    n_semantic_candidates: int = DEFAULT_N_PEERS
    n_equal_peers: int = 10
    n_correlation_candidates: int = DEFAULT_N_PEERS
    n_market_names: int = 10
    sample_window_days: int = 252
    min_sample_days: int = 126
    blend_weight: float = BLEND_WEIGHT
    min_gics_members: int = 11
    peer_model: str | None = None

    def digest(self, method: str) -> str:
        """Stable text of the settings (part of every fingerprint)."""
        return f"{method}|{sorted(asdict(self).items())}"


@dataclass(frozen=True)
class HedgeContext:
    """Everything known at ``as_of`` that hedges are built from, prepared once per rebalance date.

    Build it with :func:`hedge_context`.
    """

    as_of: pd.Timestamp
    settings: HedgeSettings
    model_risk: FactorisedRisk
    sample_risk: FactorisedRisk | None
    blend_risk: FactorisedRisk | None
    sample_problem: str | None  # why there is no sample (nor blend) risk
    peers: dict[str, list[str]]
    gics: pd.Series
    corr_tickers: tuple[str, ...]
    corr: FloatArray
    caps: pd.Series
    issuers: dict[str, str]


@dataclass(frozen=True)
class HedgePlan:
    """What one (target, method) hedge is solved from (cheap to build; fingerprinted)."""

    target: str
    method: str
    risk: FactorisedRisk
    problem: HedgeProblem
    fixed_weights: FloatArray | None
    fingerprint: str
    spec: MethodSpec
    fallback: str = ""

    @property
    def candidates(self) -> tuple[str, ...]:
        """Candidate names (target and names without risk removed)."""
        return self.problem.candidates


def _wide_returns(returns: pd.DataFrame, as_of: pd.Timestamp, window_days: int) -> pd.DataFrame:
    require_columns(returns, RETURN_COLUMNS, "daily_returns")
    dates = pd.to_datetime(returns["date"])
    known = returns.loc[dates <= as_of]
    if known.duplicated(["date", "ticker"]).any():
        raise InvalidValueError("daily_returns: duplicate (date, ticker) rows in the hedge window")
    wide = known.pivot(index="date", columns="ticker", values="ret").sort_index()
    wide.index = pd.to_datetime(wide.index)
    return wide.iloc[-window_days:]


def _latest_caps(market_caps: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    require_columns(market_caps, ("ticker", "market_cap"), "market_caps")
    frame = market_caps
    if "date" in frame.columns:
        frame = frame.loc[pd.to_datetime(frame["date"]) <= as_of].sort_values(["date", "ticker"])
    frame = frame.dropna(subset=["market_cap"])
    latest = frame.groupby("ticker", sort=True)["market_cap"].last().astype(float)
    latest.index = latest.index.astype(str)
    latest = latest[np.isfinite(latest.to_numpy()) & (latest.to_numpy() > 0)]
    return latest.sort_values(ascending=False, kind="stable")


def hedge_context(
    as_of: pd.Timestamp | str,
    risk_model: RiskModel,
    peers: pd.DataFrame,
    returns_window: pd.DataFrame,
    companies: pd.DataFrame,
    market_caps: pd.DataFrame,
    settings: HedgeSettings | None = None,
    *,
    sample_risk: bool = True,
) -> HedgeContext:
    """Prepare the inputs known at ``as_of`` (risk roots, peers, GICS groups, correlations, caps).

    Parameters
    ----------
    as_of : Timestamp or str
        Rebalance date (close).
    risk_model : RiskModel
        Factor model as of ``as_of`` (a model dated later is refused: look-ahead).
    peers : pd.DataFrame
        CONTRACT ``semantic_peers`` rows.
    returns_window : pd.DataFrame
        CONTRACT ``daily_returns`` rows (``date, ticker, ret``); rows after ``as_of`` are ignored.
    companies : pd.DataFrame
        ``ticker`` and GICS columns.
    market_caps : pd.DataFrame
        ``ticker, market_cap`` and optionally ``date`` (the latest value on or before ``as_of`` is
        used).
    settings : HedgeSettings, optional
    sample_risk : bool
        Estimate the shrunk sample covariance and the blend (default). ``False`` for a context that
        serves only methods pricing with the factor model (:func:`risk_kind`), such as one ``hedge``
        call: the other methods then fail with "not prepared".

    Returns
    -------
    HedgeContext

    Raises
    ------
    InvalidValueError
        If the risk model is dated after ``as_of`` or holds NaN.
    InfeasibleHedgeError
        If the factor covariance is not PSD or a specific variance is not positive.
    MissingColumnError
        If an input frame lacks a required column.
    """
    when = pd.Timestamp(as_of)
    st = settings or HedgeSettings()
    if pd.Timestamp(risk_model.as_of) > when:
        raise InvalidValueError(
            f"risk model dated {pd.Timestamp(risk_model.as_of).date()} used for hedges as of "
            f"{when.date()} (look-ahead)"
        )
    model_risk = risk_from_model(risk_model)
    wide = _wide_returns(returns_window, when, st.sample_window_days)
    sample, blend, why = None, None, None
    if not sample_risk:
        why = "sample risk not prepared (hedge_context(sample_risk=False))"
    else:
        try:
            sample = shrunk_sample_risk(wide, when, st.min_sample_days)
            blend = blend_risk(model_risk, sample, st.blend_weight)
        except InsufficientHistoryError as exc:
            why = str(exc)
    corr_tickers, corr = cand.correlation_ranking(wide, st.min_sample_days)
    return HedgeContext(
        as_of=when,
        settings=st,
        model_risk=model_risk,
        sample_risk=sample,
        blend_risk=blend,
        sample_problem=why,
        peers=cand.peer_lists(peers, st.peer_model),
        gics=cand.gics_groups(companies, model_risk.tickers, st.min_gics_members),
        corr_tickers=corr_tickers,
        corr=corr,
        caps=_latest_caps(market_caps, when),
        issuers=cand.issuer_ids(companies),
    )


def _fingerprint(
    ctx: HedgeContext,
    method: str,
    target: str,
    risk: FactorisedRisk,
    names: Sequence[str],
    fixed: FloatArray | None,
) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(ctx.settings.digest(method).encode())
    h.update(f"|{ctx.as_of.isoformat()}|{target}|{risk.digest}|{','.join(names)}|".encode())
    if len(names) == len(risk.tickers) - 1:
        # target + candidates are the whole universe: one digest of all rows says the same
        h.update(risk.universe_digest.encode())
    else:
        for t in (target, *names):
            h.update(risk.row_digests[risk.positions[t]].encode())
    if fixed is not None:
        h.update(np.ascontiguousarray(fixed).tobytes())
    return h.hexdigest()


def risk_kind(spec: MethodSpec) -> str:
    """``factor``, ``sample`` or ``blend``: the estimate a method prices its hedge with.

    Fixed-weight rules price with what they used before the grid: equal weights with the sample
    covariance, the others with the factor model.
    """
    if spec.risk == "fixed":
        return "sample" if spec.weights == "equal" else "factor"
    return spec.risk


def _risk_of(ctx: HedgeContext, spec: MethodSpec, target: str) -> FactorisedRisk:
    """The risk estimate a method prices its hedge with (:func:`risk_kind`)."""
    kind = risk_kind(spec)
    if kind == "factor":
        return ctx.model_risk
    risk = ctx.sample_risk if kind == "sample" else ctx.blend_risk
    if risk is None:
        raise InsufficientHistoryError(f"ticker {target!r}, {spec.name}: {ctx.sample_problem}")
    return risk


def _ranked_candidates(ctx: HedgeContext, spec: MethodSpec, target: str, universe) -> list[str]:
    """Every candidate of the method's generator, best first (before the issuer rule and the cut)."""
    if spec.candidates == "universe" and spec.risk in ("sample", "blend"):
        return _screened_universe(ctx, target, universe)
    if spec.candidates == "universe":
        return [t for t in universe if t != target]
    if spec.candidates == "semantic":
        return cand.semantic_candidates(ctx.peers, target, universe, len(universe))
    if spec.candidates == "correlation":
        return cand.correlation_candidates(
            ctx.corr_tickers, ctx.corr, target, universe, len(universe)
        )
    if spec.candidates == "gics":
        return cand.gics_candidates(ctx.gics, target)
    return cand.largest_names(ctx.caps, target, universe, len(universe))[0]


def _screened_universe(ctx: HedgeContext, target: str, universe) -> list[str]:
    """Pre-screen of the universe cells under a dense risk (``registry.SCREENED_UNIVERSE``).

    The union of the target's ``n`` correlation candidates, ``n`` semantic peers and the ``n`` names
    the factor model sees as most correlated with it (``n = n_correlation_candidates``), each
    generator's list before the issuer rule, kept in ``universe``.
    """
    n = ctx.settings.n_correlation_candidates
    model = ctx.model_risk
    lists = [
        cand.correlation_candidates(ctx.corr_tickers, ctx.corr, target, universe, n),
        cand.semantic_candidates(ctx.peers, target, universe, n),
    ]
    if model.contains(target):
        ranked = cand.risk_correlation_candidates(
            model.loadings, model.specific_variance, model.tickers, target, len(model.tickers)
        )
        lists.append([t for t in ranked if t in universe][:n])
    return cand.screened_universe(lists)


def _candidates(
    ctx: HedgeContext, spec: MethodSpec, target: str, universe
) -> tuple[list[str], str]:
    """The method's candidates after the issuer rule and its size limit, and the fallback used."""
    st = ctx.settings
    limit = {
        "semantic": st.n_equal_peers if spec.weights == "equal" else st.n_semantic_candidates,
        "correlation": st.n_correlation_candidates,
        "index": st.n_market_names,
    }.get(spec.candidates)
    names = cand.one_class_per_issuer(
        _ranked_candidates(ctx, spec, target, universe), target, ctx.issuers, ctx.caps
    )[:limit]
    if spec.candidates == "semantic" and len(names) < st.solver.min_names:
        fallback = MethodSpec(spec.name, "correlation", spec.risk, spec.weights, spec.description)
        ranked = _ranked_candidates(ctx, fallback, target, universe)
        names = cand.one_class_per_issuer(ranked, target, ctx.issuers, ctx.caps)[:limit]
        return names, "correlation"
    return names, ""


def plan_hedge(ctx: HedgeContext, target: str, method: str) -> HedgePlan:
    """Candidates, risk and (for fixed-weight methods) weights of one hedge, with its fingerprint.

    Raises
    ------
    UnknownTickerError
        If the target has no risk (model, or sample window) on ``as_of``.
    InsufficientHistoryError
        If a sample or blend method is asked for while the returns window is too short.
    InfeasibleHedgeError
        If fewer than ``ceil(1 / max_weight)`` candidates are available.
    InvalidValueError
        If ``method`` is unknown or is an index short (built by the backtest).
    """
    spec = resolve_method(method)
    if spec.weights in ("index", "index_beta"):
        raise InvalidValueError(
            f"method {spec.name!r} shorts the whole index; the backtest builds it (backtest.index)"
        )
    risk = _risk_of(ctx, spec, target)
    risk.index_of(target)
    names, fallback = _candidates(ctx, spec, target, risk.positions)
    # build_problem checks the count; run it here so a plan is always solvable
    problem = build_problem(risk, target, names, ctx.settings.solver.min_names)
    names = list(problem.candidates)
    fixed: FloatArray | None = None
    if spec.weights == "equal":
        fixed = np.full(len(names), 1.0 / len(names))
    elif spec.weights == "cap":
        caps = ctx.caps.reindex(names).to_numpy(dtype=np.float64)
        fixed = cand.capped_weights(caps, ctx.settings.solver.max_weight)
    return HedgePlan(
        target=target,
        method=spec.name,
        risk=risk,
        problem=problem,
        fixed_weights=fixed,
        fingerprint=_fingerprint(ctx, spec.name + fallback, target, risk, names, fixed),
        spec=spec,
        fallback=fallback,
    )


def solve_plan(ctx: HedgeContext, plan: HedgePlan) -> HedgeResult:
    """Solve (or evaluate, for fixed-weight methods) one planned hedge."""
    solver = ctx.settings.solver
    if plan.fixed_weights is not None:
        return evaluate_fixed(plan.problem, plan.fixed_weights, solver, plan.method)
    return solve_hedge(plan.problem, solver, plan.method)


def hedge_one(ctx: HedgeContext, target: str, method: str) -> tuple[HedgePlan, HedgeResult]:
    """Plan and solve one hedge; raises the plan's errors (for the CLI)."""
    plan = plan_hedge(ctx, target, method)
    return plan, solve_plan(ctx, plan)


def compute_hedges(
    as_of: pd.Timestamp | str,
    risk_model: RiskModel,
    peers: pd.DataFrame,
    returns_window: pd.DataFrame,
    companies: pd.DataFrame,
    market_caps: pd.DataFrame,
    methods: Sequence[str] = HEDGE_STAGE_METHODS,
    targets: Sequence[str] | None = None,
    settings: HedgeSettings | None = None,
    previous: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hedges of every target by every method as of one rebalance date.

    Parameters
    ----------
    as_of : Timestamp or str
        Rebalance date; only data known at its close is used.
    risk_model : RiskModel
        Factor risk model as of ``as_of``.
    peers : pd.DataFrame
        CONTRACT ``semantic_peers``.
    returns_window : pd.DataFrame
        CONTRACT ``daily_returns`` rows covering at least ``sample_window_days`` before ``as_of``.
    companies : pd.DataFrame
        ``ticker`` and GICS columns.
    market_caps : pd.DataFrame
        ``ticker, market_cap`` (and ``date``).
    methods : sequence of str
        Default: every method of the registry the hedge stage builds (``HEDGE_STAGE_METHODS``).
    targets : sequence of str, optional
        Tickers to hedge; default: every ticker of the risk model.
    settings : HedgeSettings, optional
    previous : (hedge_weights, hedge_diagnostics), optional
        Earlier rows of this ``as_of``; a hedge whose fingerprint is unchanged is copied, not
        re-solved.

    Returns
    -------
    hedge_weights : pd.DataFrame
        ``as_of, ticker, method, hedge_ticker, weight`` (CONTRACT), sorted.
    hedge_diagnostics : pd.DataFrame
        :data:`DIAGNOSTIC_COLUMNS`, one row per (ticker, method) asked for; ``attrs["reused"]``
        counts the hedges copied from ``previous``.
    """
    ctx = hedge_context(as_of, risk_model, peers, returns_window, companies, market_caps, settings)
    prev_weights, prev_diag = _previous_index(previous, ctx.as_of)
    weight_rows: list[tuple[str, str, str, float]] = []  # ticker, method, hedge_ticker, weight
    diag_rows: list[dict] = []
    reused = 0
    for target in ctx.model_risk.tickers if targets is None else targets:
        for method in methods:
            try:
                plan = plan_hedge(ctx, target, method)
            except HedgingError as exc:
                diag_rows.append(_infeasible_row(ctx.as_of, target, method, str(exc)))
                continue
            key = (target, plan.method)
            old = prev_diag.get(key)
            if old is not None and old["fingerprint"] == plan.fingerprint:
                diag_rows.append(old)
                weight_rows += [(target, plan.method, h, w) for h, w in prev_weights.get(key, [])]
                reused += 1
                continue
            result = solve_plan(ctx, plan)
            diag_rows.append(_diagnostic_row(result, plan))
            weight_rows += [
                (target, plan.method, h, float(w))
                for h, w in zip(result.tickers, result.weights, strict=True)
            ]
    weights = _frame(weight_rows, ctx.as_of)
    diagnostics = pd.DataFrame(diag_rows, columns=list(DIAGNOSTIC_COLUMNS))
    if diagnostics.empty:
        diagnostics = empty_frames()[1]
    diagnostics = diagnostics.sort_values(["ticker", "method"], kind="stable").reset_index(
        drop=True
    )
    diagnostics["as_of"] = ctx.as_of
    weights["as_of"] = pd.to_datetime(weights["as_of"])
    diagnostics.attrs["reused"] = reused
    return weights, diagnostics


WEIGHT_DTYPES = {
    "as_of": "datetime64[ns]",
    "ticker": object,
    "method": object,
    "hedge_ticker": object,
    "weight": float,
}
DIAGNOSTIC_DTYPES = {
    "as_of": "datetime64[ns]",
    "ticker": object,
    "method": object,
    "candidates": object,
    "risk": object,
    "n_names": "int64",
    "n_candidates": "int64",
    "status": object,
    "risk_source": object,
    "fingerprint": object,
    "message": object,
    "fallback": object,
}


def empty_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Typed empty ``hedge_weights`` and ``hedge_diagnostics`` frames."""
    weights = pd.DataFrame({c: pd.Series(dtype=WEIGHT_DTYPES[c]) for c in WEIGHT_COLUMNS})
    diagnostics = pd.DataFrame(
        {c: pd.Series(dtype=DIAGNOSTIC_DTYPES.get(c, float)) for c in DIAGNOSTIC_COLUMNS}
    )
    return weights, diagnostics


def _frame(rows: list[tuple[str, str, str, float]], as_of: pd.Timestamp) -> pd.DataFrame:
    if not rows:
        return empty_frames()[0]
    out = pd.DataFrame(rows, columns=["ticker", "method", "hedge_ticker", "weight"])
    out.insert(0, "as_of", as_of)
    out = out.sort_values(
        ["ticker", "method", "weight", "hedge_ticker"], ascending=[True, True, False, True]
    )
    return out.reset_index(drop=True)


def _diagnostic_row(result: HedgeResult, plan: HedgePlan) -> dict:
    return {
        "as_of": result.as_of,
        "ticker": result.target,
        "method": plan.method,
        "candidates": plan.spec.candidates,
        "risk": plan.spec.risk,
        "predicted_te": result.predicted_te,
        "lower_bound": result.lower_bound,
        "gap": result.gap,
        "solve_ms": result.solve_ms,
        "objective": result.objective,
        "target_vol": result.target_vol,
        "n_names": len(result.tickers),
        "n_candidates": result.n_candidates,
        "status": result.status,
        "risk_source": result.risk_source,
        "fingerprint": plan.fingerprint,
        "message": "",
        "fallback": plan.fallback,
    }


def _infeasible_row(as_of: pd.Timestamp, target: str, method: str, message: str) -> dict:
    candidates, risk = grid_columns(method)
    return {
        "as_of": as_of,
        "ticker": target,
        "method": method,
        "candidates": candidates,
        "risk": risk,
        "predicted_te": math.nan,
        "lower_bound": math.nan,
        "gap": math.nan,
        "solve_ms": math.nan,
        "objective": math.nan,
        "target_vol": math.nan,
        "n_names": 0,
        "n_candidates": 0,
        "status": INFEASIBLE,
        "risk_source": "",
        "fingerprint": "",
        "message": message,
        "fallback": "",
    }


def _previous_index(
    previous: tuple[pd.DataFrame, pd.DataFrame] | None, as_of: pd.Timestamp
) -> tuple[dict[tuple[str, str], list[tuple[str, float]]], dict[tuple[str, str], dict]]:
    """Stored hedges of ``as_of``: basket ``[(hedge_ticker, weight)]`` and diagnostics row per key."""
    if previous is None:
        return {}, {}
    weights, diagnostics = previous
    if diagnostics.empty or any(c not in diagnostics.columns for c in DIAGNOSTIC_COLUMNS):
        return {}, {}
    diag = diagnostics.loc[
        (pd.to_datetime(diagnostics["as_of"]) == as_of) & (diagnostics["status"] != INFEASIBLE)
    ]
    rows = {
        (str(r["ticker"]), str(r["method"])): {c: r[c] for c in DIAGNOSTIC_COLUMNS}
        for r in diag.to_dict("records")
    }
    baskets: dict[tuple[str, str], list[tuple[str, float]]] = {}
    if not weights.empty:
        w = weights.loc[pd.to_datetime(weights["as_of"]) == as_of]
        for t, m, h, x in zip(
            w["ticker"], w["method"], w["hedge_ticker"], w["weight"], strict=True
        ):
            baskets.setdefault((str(t), str(m)), []).append((str(h), float(x)))
    return baskets, rows
