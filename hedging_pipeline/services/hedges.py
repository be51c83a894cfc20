"""Hedges read from the warehouse: the inputs of one rebalance date, and one hedge for the CLI.

``hedging-pipeline hedge TICKER`` calls :func:`hedge_for_cli`; the Dagster hedge assets call
:func:`months_hedges`. Both read one :class:`~hedging_pipeline.hedging.inputs.HedgeInputs` per
rebalance date (only data known at that date: its risk model, returns and market caps up to it),
and both are told the embedding model id whose peers to use (``EmbeddingModelResource.model_id``):
this layer reads no environment.
"""

from __future__ import annotations

import difflib
import math
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, as_completed, wait
from dataclasses import dataclass, replace

import pandas as pd

from hedging_pipeline.errors import (
    InfeasibleHedgeError,
    InsufficientHistoryError,
    InvalidValueError,
    UnknownTickerError,
)
from hedging_pipeline.hedging.candidates import choose_peer_model
from hedging_pipeline.hedging.inputs import HedgeInputs
from hedging_pipeline.hedging.limits import SolverSettings, best_cap_total, caps_feasible
from hedging_pipeline.hedging.liquidity import (
    adv_weight_caps,
    average_dollar_volume,
    check_notional,
    last_close,
    smallest_ratio,
)
from hedging_pipeline.hedging.methods import (
    HedgeContext,
    HedgePlan,
    HedgeSettings,
    empty_frames,
    plan_hedge,
    risk_kind,
    solve_plan,
)
from hedging_pipeline.hedging.registry import HEDGE_STAGE_METHODS, INDEX_METHODS, resolve_method
from hedging_pipeline.hedging.solve import HedgeResult
from hedging_pipeline.reporting.hedge_report import BasketLine, HedgeReport, PeerLine
from hedging_pipeline.risk.model import RiskModel
from hedging_pipeline.warehouse.duckdb import MissingTableError, Warehouse

DEFAULT_NOTIONAL = 1_000_000.0
"""Position value (USD) the CLI prices the shorts for when ``--notional`` is not given."""
RETURNS_LOOKBACK_DAYS = 504
"""Calendar days of daily returns read before the rebalance date (252 trading days and a margin)."""
CAPS_LOOKBACK_DAYS = 40
"""Calendar days of market caps read before the rebalance date (the latest value is used)."""
PEERS_SHOWN = 10
ADV_LOOKBACK_DAYS = 45
"""Calendar days of prices read before the rebalance date (20 trading days and holidays)."""
SUGGESTIONS = 3
"""Closest known tickers named for an unknown one."""
SUGGESTION_CUTOFF = 0.5
"""Similarity (``difflib`` ratio) a known ticker needs to be suggested."""
PARALLEL_MIN_MONTHS = 3
"""Fewer months than this are solved in-process (starting worker processes costs seconds)."""
IN_FLIGHT_PER_WORKER = 2
"""Months read ahead per worker process (bounds the inputs held in memory)."""
PEER_COLUMNS = ["ticker", "peer", "rank", "similarity", "model"]
COMPANIES_TABLE = "raw_companies"
DEFAULT_SETTINGS = HedgeSettings()
"""The hedge methods' and the solver's default limits; the assets' checks read them from here."""


def rebalance_date(warehouse: Warehouse, as_of: pd.Timestamp | str | None = None) -> pd.Timestamp:
    """The latest date with a fitted risk model on or before ``as_of`` (default: the latest).

    Raises
    ------
    InsufficientHistoryError
        If no risk model is dated on or before ``as_of``.
    MissingTableError
        If ``factor_covariance`` has not been materialised.
    """
    if not warehouse.has_table("factor_covariance"):
        raise MissingTableError(
            f"warehouse table 'factor_covariance' does not exist in {warehouse.path}; "
            "materialise the risk model first (hedging-pipeline run)"
        )
    limit = pd.Timestamp("2262-01-01") if as_of is None else pd.Timestamp(as_of)
    found = warehouse.query(
        "select max(date) as date from factor_covariance where date <= ?", [limit.date()]
    )["date"].iloc[0]
    if pd.isna(found):
        first = warehouse.query("select min(date) as date from factor_covariance")["date"].iloc[0]
        since = "none is stored yet" if pd.isna(first) else f"the first is {first:%Y-%m-%d}"
        raise InsufficientHistoryError(
            f"no risk model dated on or before {limit.date()} ({since}: the model needs two years "
            "of prices); pick a later --as-of"
        )
    return pd.Timestamp(found)


def read_hedge_inputs(
    warehouse: Warehouse, as_of: pd.Timestamp, settings: HedgeSettings = DEFAULT_SETTINGS
) -> HedgeInputs:
    """Read the risk model of ``as_of`` and the rows the hedge methods need, up to ``as_of``.

    The semantic peers are optional: without the table the peer-based methods report no candidates.
    """
    when = pd.Timestamp(as_of)
    model = RiskModel.from_frames(
        when,
        warehouse.read("style_exposures", start=when, end=when),
        warehouse.read("factor_covariance", start=when, end=when),
        warehouse.read("specific_risk", start=when, end=when),
    )
    lookback = max(
        RETURNS_LOOKBACK_DAYS, 2 * settings.sample_window_days
    )  # trading -> calendar days
    peers = (
        warehouse.read("semantic_peers")
        if warehouse.has_table("semantic_peers")
        else pd.DataFrame(columns=PEER_COLUMNS)
    )
    return HedgeInputs(
        as_of=when,
        risk_model=model,
        peers=peers,
        returns=warehouse.read("daily_returns", start=when - pd.Timedelta(days=lookback), end=when),
        companies=warehouse.read(COMPANIES_TABLE),
        market_caps=warehouse.read(
            "market_caps",
            start=when - pd.Timedelta(days=CAPS_LOOKBACK_DAYS),
            end=when,
            columns=["date", "ticker", "market_cap"],
        ),
    )


def hedge_for_cli(
    warehouse: Warehouse,
    ticker: str,
    method: str = "factor",
    as_of: pd.Timestamp | str | None = None,
    notional: float | None = None,
    settings: HedgeSettings = DEFAULT_SETTINGS,
    peer_model: str | None = None,
    max_adv: float | None = None,
) -> HedgeReport:
    """Hedge one position from the warehouse, as ``hedging-pipeline hedge TICKER`` prints it.

    Parameters
    ----------
    warehouse : Warehouse
    ticker : str
        The concentrated position.
    method : str
        ``factor`` (default) or any other basket method of ``hedging.registry`` (stored name or
        ``<candidates>_<risk>`` alias).
    as_of : Timestamp or str, optional
        Use the latest rebalance date (month end with a risk model) on or before it; default latest.
    notional : float, optional
        Position value in USD (default ``DEFAULT_NOTIONAL``).
    settings : HedgeSettings
    peer_model : str, optional
        Embedding model id whose peers to use (the configured model's, passed in by the caller);
        when it is not stored, or None, the only model stored (see
        ``candidates.choose_peer_model``).
    max_adv : float, optional
        Cap each name's short at this fraction of its 20-day average daily dollar volume
        (``hedging.liquidity``); needs the ``prices`` table.

    Returns
    -------
    HedgeReport

    Raises
    ------
    UnknownTickerError
        If the ticker is not a company of the warehouse (naming the closest ones) or has no risk on
        the rebalance date.
    InfeasibleHedgeError
        If the method finds fewer candidates than a 100 % hedge needs (e.g. no semantic peers), or
        the ADV caps cannot hold the notional (naming the ``--max-adv`` / ``--notional`` that can).
    InsufficientHistoryError
        If ``as_of`` is outside the warehouse's dates.
    MissingTableError
        If a needed table has not been materialised.
    """
    resolve_method(method)  # an unknown method fails before any reading
    position = prepare_position(
        warehouse, ticker, as_of, notional, settings, peer_model, max_adv, methods=[method]
    )
    return hedge_position(position, method).report


@dataclass(frozen=True)
class Position:
    """A position to hedge and everything known about it at the rebalance date.

    Built once by :func:`prepare_position`; each method's hedge is then one
    :func:`hedge_position` (``hedge --compare`` solves them all on one context).
    """

    ticker: str
    as_of: pd.Timestamp
    notional: float
    max_adv: float | None
    inputs: HedgeInputs
    ctx: HedgeContext
    liquidity: Liquidity


@dataclass(frozen=True)
class PositionHedge:
    """One method's hedge of a :class:`Position`: the printed report, its plan and result."""

    report: HedgeReport
    plan: HedgePlan
    result: HedgeResult


def prepare_position(
    warehouse: Warehouse,
    ticker: str,
    as_of: pd.Timestamp | str | None = None,
    notional: float | None = None,
    settings: HedgeSettings = DEFAULT_SETTINGS,
    peer_model: str | None = None,
    max_adv: float | None = None,
    *,
    methods: Sequence[str] | None = None,
) -> Position:
    """Read the rebalance date's inputs, liquidity and (with ``max_adv``) the ADV caps.

    Same parameters and errors as :func:`hedge_for_cli`. ``methods`` are the methods the position will
    be hedged with (default: any); the sample covariance is estimated only when one of them prices
    with it (about 2 s of a ``hedge`` call, scikit-learn's import included).
    """
    size = DEFAULT_NOTIONAL if notional is None else float(notional)
    check_notional(size)
    when = rebalance_date(warehouse, check_as_of(warehouse, as_of))
    check_known_ticker(warehouse.read(COMPANIES_TABLE, columns=["ticker"])["ticker"], ticker)
    inputs = read_hedge_inputs(warehouse, when, settings)
    liquidity = read_liquidity(warehouse, when, required=max_adv is not None)
    settings = replace(settings, peer_model=choose_peer_model(inputs.peers, peer_model))
    if max_adv is not None:
        caps = adv_weight_caps(liquidity.adv_usd, inputs.risk_model.tickers, size, max_adv)
        settings = replace(settings, solver=replace(settings.solver, name_caps=caps))
    sample = methods is None or any(risk_kind(resolve_method(m)) != "factor" for m in methods)
    ctx = inputs.context(settings, sample_risk=sample)
    return Position(ticker, when, size, max_adv, inputs, ctx, liquidity)


def hedge_position(position: Position, method: str) -> PositionHedge:
    """Plan and solve one method's hedge of ``position`` (errors as :func:`hedge_for_cli`)."""
    spec = resolve_method(method)
    ticker, when, size = position.ticker, position.as_of, position.notional
    if spec.name in INDEX_METHODS:
        raise InvalidValueError(
            f"method {method!r} shorts the whole index, not a basket of names; the backtest "
            "evaluates it (see hedge --compare); pick a basket method such as factor"
        )
    if spec.candidates == "semantic" and position.inputs.peers.empty:
        raise InfeasibleHedgeError(
            f"ticker {ticker!r} as of {when.date()}: method {spec.name} needs semantic peers and "
            "none are stored; run the pipeline (hedging-pipeline run) or pick --method factor"
        )
    ctx = position.ctx
    plan = plan_hedge(ctx, ticker, spec.name)
    if position.max_adv is not None:
        _check_liquid_enough(plan, position.liquidity, size, position.max_adv, ctx.settings.solver)
    result = _solve_capped(ctx, plan, position.max_adv)
    basket, peers = _report_lines(position.inputs, ctx, result, size, position.liquidity)
    report = HedgeReport(
        ticker=ticker,
        name=_company_names(position.inputs).get(ticker, ""),
        method=spec.name,
        as_of=when,
        notional=size,
        basket=basket,
        target_vol=result.target_vol,
        hedged_vol=result.predicted_te,
        bound_vol=float(result.lower_bound) ** 0.5,
        gap=result.gap,
        status=result.status,
        solve_ms=result.solve_ms,
        n_candidates=len(plan.candidates),
        risk_source=result.risk_source,
        candidates_rule=spec.description,
        peers=peers,
        max_adv=position.max_adv,
        prices_date=position.liquidity.date,
    )
    return PositionHedge(report, plan, result)


@dataclass(frozen=True)
class Liquidity:
    """Last close and 20-day average daily dollar volume per ticker at a rebalance date.

    ``date`` is the last price date used (None, and empty series, without a ``prices`` table).
    """

    adv_usd: pd.Series
    close: pd.Series
    date: pd.Timestamp | None


def read_liquidity(warehouse: Warehouse, as_of: pd.Timestamp, required: bool) -> Liquidity:
    """ADV and last close from ``prices`` up to ``as_of`` (nothing after it is read).

    Raises
    ------
    MissingTableError
        If ``required`` and the ``prices`` table is missing.
    """
    if not warehouse.has_table("prices"):
        if required:
            raise MissingTableError(
                f"warehouse table 'prices' does not exist in {warehouse.path}; --max-adv needs "
                "daily volumes: run the pipeline first (hedging-pipeline run)"
            )
        empty = pd.Series(dtype=float)
        return Liquidity(empty, empty, None)
    prices = warehouse.read(
        "prices",
        start=as_of - pd.Timedelta(days=ADV_LOOKBACK_DAYS),
        end=as_of,
        columns=["date", "ticker", "close", "volume"],
    )
    date = pd.Timestamp(prices["date"].max()) if len(prices) else None
    return Liquidity(average_dollar_volume(prices, as_of), last_close(prices, as_of), date)


def check_as_of(warehouse: Warehouse, as_of: pd.Timestamp | str | None) -> pd.Timestamp | None:
    """``as_of`` when it lies within the warehouse's trading days; one line naming them otherwise.

    Raises
    ------
    InsufficientHistoryError
        If ``as_of`` is after the last or before the first date of ``daily_returns``.
    """
    if as_of is None or not warehouse.has_table("daily_returns"):
        return None if as_of is None else pd.Timestamp(as_of)
    when = pd.Timestamp(as_of)
    span = warehouse.query("select min(date) as lo, max(date) as hi from daily_returns")
    lo, hi = pd.Timestamp(span["lo"].iloc[0]), pd.Timestamp(span["hi"].iloc[0])
    if when > hi or when < lo:
        raise InsufficientHistoryError(
            f"--as-of {when.date()} is outside the data ({lo.date()} to {hi.date()}); "
            "pick a date in that range"
        )
    return when


def check_known_ticker(companies: pd.Series, ticker: str) -> None:
    """Raise ``UnknownTickerError`` naming the closest known tickers when ``ticker`` is unknown.

    ``companies`` holds the tickers of the companies file (the universe).
    """
    known = sorted(set(companies))
    if ticker in known:
        return
    close = difflib.get_close_matches(ticker, known, n=SUGGESTIONS, cutoff=SUGGESTION_CUTOFF)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see the companies file"
    raise UnknownTickerError(f"unknown ticker {ticker!r} ({len(known)} companies known){hint}")


def _check_liquid_enough(
    plan: HedgePlan, liquidity: Liquidity, notional: float, max_adv: float, solver: SolverSettings
) -> None:
    """One line naming the ``--max-adv`` or ``--notional`` that works when the caps cannot."""
    upper = solver.upper_bounds(plan.candidates)
    if caps_feasible(upper, solver.max_names):
        return
    adv = liquidity.adv_usd.reindex(list(plan.candidates)).fillna(0.0)
    ratio = smallest_ratio(adv.to_numpy(), solver.max_names, solver.max_weight)
    covered = best_cap_total(upper, solver.max_names)
    where = (
        f"ticker {plan.target!r} as of {plan.problem.as_of.date()}: shorting ${notional:,.0f} "
        f"at --max-adv {max_adv:g} fits only {covered:.1%} of the position into the "
        f"{solver.max_names} most liquid of {len(plan.candidates)} candidates"
    )
    if not math.isfinite(ratio):
        raise InfeasibleHedgeError(f"{where}; too few candidates have a volume history")
    needed, largest = ratio * notional, max_adv / ratio
    fix = f"raise --max-adv to {needed:.3g} or " if needed <= 1 else ""
    raise InfeasibleHedgeError(f"{where}; {fix}lower --notional to ${largest:,.0f}")


def _solve_capped(ctx: HedgeContext, plan: HedgePlan, max_adv: float | None) -> HedgeResult:
    """Solve the plan; a fixed-weight basket that breaks an ADV cap says what to do instead."""
    try:
        return solve_plan(ctx, plan)
    except InfeasibleHedgeError as exc:
        if max_adv is None or plan.fixed_weights is None:
            raise
        raise InfeasibleHedgeError(
            f"{exc}; method {plan.method} fixes its weights and cannot follow --max-adv "
            f"{max_adv:g}: use an optimised method (e.g. factor) or a smaller --notional"
        ) from None


def _company_names(inputs: HedgeInputs) -> dict[str, str]:
    companies = inputs.companies
    return {t: str(n) for t, n in zip(companies["ticker"], companies["name"], strict=False)}


def _report_lines(
    inputs: HedgeInputs,
    ctx: HedgeContext,
    result: HedgeResult,
    notional: float,
    liquidity: Liquidity,
) -> tuple[tuple[BasketLine, ...], tuple[PeerLine, ...]]:
    """The basket's lines (dollars, shares, % ADV, peer rank) and the target's top peers."""
    ticker = result.target
    names = _company_names(inputs)
    peer_rows = ctx.peers.get(ticker, [])
    mine = inputs.peers[inputs.peers["ticker"] == ticker]
    if ctx.settings.peer_model is not None:
        mine = mine[mine["model"] == ctx.settings.peer_model]
    mine = mine.drop_duplicates("peer").set_index("peer")
    rank = {p: i + 1 for i, p in enumerate(peer_rows)}
    basket = tuple(
        BasketLine(
            ticker=t,
            name=names.get(t, ""),
            weight=float(w),
            short_usd=float(w) * notional,
            peer_rank=rank.get(t),
            similarity=float(mine.loc[t, "similarity"]) if t in mine.index else None,
            close=_get(liquidity.close, t),
            adv_usd=_get(liquidity.adv_usd, t),
        )
        for t, w in zip(result.tickers, result.weights, strict=True)
    )
    peers = tuple(
        PeerLine(p, names.get(p, ""), rank[p], float(mine.loc[p, "similarity"]))
        for p in peer_rows[:PEERS_SHOWN]
        if p in mine.index
    )
    return basket, peers


def _get(series: pd.Series, key: str) -> float | None:
    value = series.get(key)
    return None if value is None or pd.isna(value) else float(value)


@dataclass(frozen=True)
class MonthHedges:
    """The hedges of one hedge month (partition ``YYYY-MM``).

    Attributes
    ----------
    month : str
    as_of : pd.Timestamp or None
        The month's rebalance date (its risk model's date); None when the month has no risk model.
    weights, diagnostics : pd.DataFrame
        CONTRACT ``hedge_weights`` / ``hedge_diagnostics`` rows of the month.
    reused : int
        Hedges copied from the stored rows because their fingerprint did not change.
    note : str
        Why the month has no hedges (empty otherwise).
    """

    month: str
    as_of: pd.Timestamp | None
    weights: pd.DataFrame
    diagnostics: pd.DataFrame
    reused: int
    note: str

    @property
    def window(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """First and last calendar day of the month (the rows this month replaces)."""
        period = pd.Period(self.month, freq="M")
        return period.start_time.normalize(), period.end_time.normalize()


def month_rebalance_date(warehouse: Warehouse, month: str) -> pd.Timestamp | None:
    """The risk model's date inside ``month`` (``YYYY-MM``), or None when there is none."""
    if not warehouse.has_table("factor_covariance"):
        return None
    period = pd.Period(month, freq="M")
    found = warehouse.query(
        "select max(date) as date from factor_covariance where date >= ? and date <= ?",
        [period.start_time.date(), period.end_time.date()],
    )["date"].iloc[0]
    return None if pd.isna(found) else pd.Timestamp(found)


@dataclass(frozen=True)
class _MonthJob:
    """What one month's hedges are computed from (read in the parent, solved in a worker)."""

    month: str
    inputs: HedgeInputs
    settings: HedgeSettings
    previous: tuple[pd.DataFrame, pd.DataFrame] | None
    targets: list[str] | None
    methods: tuple[str, ...]


def _read_month(
    warehouse: Warehouse,
    month: str,
    targets: list[str] | None,
    methods: tuple[str, ...],
    settings: HedgeSettings,
    peer_model: str | None,
) -> _MonthJob | MonthHedges:
    """The month's inputs and stored hedges, or its empty result when it has no risk model."""
    as_of = month_rebalance_date(warehouse, month)
    if as_of is None:
        weights, diagnostics = empty_frames()
        note = f"no risk model dated in {month} (factor_covariance has no row that month)"
        return MonthHedges(month, None, weights, diagnostics, 0, note)
    inputs = read_hedge_inputs(warehouse, as_of, settings)
    chosen = choose_peer_model(inputs.peers, peer_model)
    previous = None
    if warehouse.has_table("hedge_weights") and warehouse.has_table("hedge_diagnostics"):
        previous = (
            warehouse.read("hedge_weights", start=as_of, end=as_of, date_column="as_of"),
            warehouse.read("hedge_diagnostics", start=as_of, end=as_of, date_column="as_of"),
        )
    st = replace(settings, peer_model=chosen)
    return _MonthJob(month, inputs, st, previous, targets, methods)


def _solve_month(job: _MonthJob) -> MonthHedges:
    """Compute one month's hedges (module level, so a worker process can run it)."""
    weights, diagnostics = job.inputs.compute(
        job.settings, methods=job.methods, targets=job.targets, previous=job.previous
    )
    reused = diagnostics.attrs["reused"]
    return MonthHedges(job.month, job.inputs.as_of, weights, diagnostics, reused, "")


def month_hedges(
    warehouse: Warehouse,
    month: str,
    targets: list[str] | None = None,
    methods: tuple[str, ...] = HEDGE_STAGE_METHODS,
    settings: HedgeSettings = DEFAULT_SETTINGS,
    peer_model: str | None = None,
) -> MonthHedges:
    """Hedges of every target by every method at the rebalance date of ``month``.

    Reads the inputs known at that date and the month's stored hedges; a stored hedge whose
    fingerprint is unchanged is reused, every other one is solved (``methods.compute_hedges``).

    Parameters
    ----------
    warehouse : Warehouse
    month : str
        ``YYYY-MM``.
    targets : list of str, optional
        Restrict to these tickers (default: every ticker of the month's risk model).
    methods : tuple of str
    settings : HedgeSettings
    peer_model : str, optional
        Preferred embedding model id of ``semantic_peers`` (see ``candidates.choose_peer_model``).

    Returns
    -------
    MonthHedges
        Empty frames and a ``note`` when the month has no risk model.
    """
    job = _read_month(warehouse, month, targets, methods, settings, peer_model)
    return job if isinstance(job, MonthHedges) else _solve_month(job)


def months_hedges(
    warehouse: Warehouse,
    months: list[str],
    targets: list[str] | None = None,
    methods: tuple[str, ...] = HEDGE_STAGE_METHODS,
    settings: HedgeSettings = DEFAULT_SETTINGS,
    peer_model: str | None = None,
    workers: int = 1,
    progress: Callable[[MonthHedges], None] | None = None,
    start_method: str = "spawn",
) -> list[MonthHedges]:
    """:func:`month_hedges` of several months, solved by ``workers`` processes.

    The parent reads each month from the warehouse (DuckDB allows one writer process) and hands
    the in-memory inputs to a worker; results come back in ``months`` order, and ``progress`` is
    called as each month finishes. ``workers=1`` (or fewer than ``PARALLEL_MIN_MONTHS`` months)
    runs in this process. Workers start with ``start_method`` (``spawn`` by default: forking a
    parent that runs threads, like a Dagster step, is unsafe).
    """
    results: dict[str, MonthHedges] = {}

    def done(month: MonthHedges) -> None:
        results[month.month] = month
        if progress is not None:
            progress(month)

    def read(m: str) -> _MonthJob | MonthHedges:
        return _read_month(warehouse, m, targets, methods, settings, peer_model)

    if workers <= 1 or len(months) < PARALLEL_MIN_MONTHS:
        for m in months:
            job = read(m)
            done(job if isinstance(job, MonthHedges) else _solve_month(job))
        return [results[m] for m in months]
    context = multiprocessing.get_context(start_method)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        running: set[Future[MonthHedges]] = set()
        for m in months:
            job = read(m)
            if isinstance(job, MonthHedges):
                done(job)
                continue
            if len(running) >= IN_FLIGHT_PER_WORKER * workers:  # bound the inputs held in memory
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    done(future.result())
            running.add(pool.submit(_solve_month, job))
        for future in as_completed(running):
            done(future.result())
    return [results[m] for m in months]


def stack_months(months: list[MonthHedges]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All months' ``hedge_weights`` and ``hedge_diagnostics`` rows, one frame each."""
    empty_weights, empty_diagnostics = empty_frames()
    weights = pd.concat([m.weights for m in months] or [empty_weights], ignore_index=True)
    diagnostics = pd.concat(
        [m.diagnostics for m in months] or [empty_diagnostics], ignore_index=True
    )
    return weights, diagnostics
