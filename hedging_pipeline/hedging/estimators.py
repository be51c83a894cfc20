"""Risk estimators of the hedge grid besides the factor model: shrunk sample covariance and a blend.

Both return the root form ``Σ = B Bᵀ + diag(d)`` (``problem.FactorisedRisk``) the optimiser works on.

**Shrunk sample covariance** (``risk = "sample"``). Over the trailing window of ``T`` daily returns
up to ``as_of``, each ticker with at least ``min_days`` returns is standardised on its own observed
days: ``u_i = (r_i − m_i) / sqrt(Σ_t (r_it − m_i)²)`` (0 on missing days), so ``R = Uᵀ U`` is the
sample correlation matrix. The market mode is split off: ``M_t`` is the cross-sectional mean of the
standardised returns, ``β_i`` the regression of ``u_i`` on it, ``E = U − M βᵀ`` the residuals, so
``R = (MᵀM) β βᵀ + EᵀE``. The market part is estimated well by 252 days; the residual correlations
are what an optimiser over-fits, so they are shrunk towards their diagonal with the Ledoit-Wolf
intensity ``δ`` (scikit-learn's ``ledoit_wolf_shrinkage`` on the standardised residuals, one ``δ``
per date over the whole universe; the single-index target of Ledoit & Wolf 2003)::

    Σ = D ((MᵀM) β βᵀ + (1 − δ) EᵀE + δ diag(EᵀE)) D,    D = diag(s_i · sqrt(252))
    B = D [sqrt(MᵀM) β, sqrt(1 − δ) Eᵀ]        d = δ · diag(EᵀE) · s_i² · 252

Each name keeps its own sample variance (exactly for a name with a complete window). ``d`` acts as a
ridge on each weight in proportion to the name's residual variance, which is what stops a few
spuriously correlated names from taking the whole basket. On the real universe ``δ`` is 0.21-0.44
(month ends 2018-04..2020-03; against 0.06 for the identity target on the raw correlations, which
the market mode dominates).

**Calibration check** (issue 13b). Ledoit-Wolf corrects sampling error under stationarity; a hedge
is held a month while correlations drift. :func:`holding_persistence` measures, with no look-ahead,
how much of the trailing estimate's residual correlations the next holding month realises (slope
``b`` over the last 12 months); ``shrunk_sample_risk(..., history=...)`` then uses
``δ = max(δ_LW, 1 − b)``. On the real data ``1 − b`` is never more than 0.07 above ``δ_LW`` and
above it only in 2018-04..07, so the production estimator keeps ``δ_LW`` (``history=None``);
``benchmarks/bench_sample_shrinkage.py`` reports both per month.

**Blend** (``risk = "blend"``): the equal mix ``Σ = ½ Σ_factor + ½ Σ_sample`` on the names both
know, ``B = [sqrt(½) B_factor, sqrt(½) B_sample]``, ``d = ½ d_factor + ½ d_sample``. Equal weights are
the uninformed choice (the weight is not fitted to the backtest window).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from hedging_pipeline.errors import InsufficientHistoryError
from hedging_pipeline.hedging.problem import FactorisedRisk
from hedging_pipeline.types import TRADING_DAYS_PER_YEAR, FloatArray

BLEND_WEIGHT = 0.5
"""Weight of the factor model in the blend (equal mix: no tuning to the backtest)."""

HOLDING_DAYS = 21
"""Trading days a hedge is held between rebalances (a month)."""

CALIBRATION_PERIODS = 12
"""Most past holding periods the forecast calibration of the intensity pools (a year)."""

LW_BLOCK_SIZE = 1000
"""scikit-learn's block size for the Ledoit-Wolf sums (memory only; the result does not depend on
it)."""


def _digest(*parts: np.ndarray | str) -> str:
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else np.ascontiguousarray(p).tobytes())
    return h.hexdigest()


def _standardised(frame: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """Unit columns ``u`` (0 on missing days), sums of squares and counts of a returns window."""
    values = frame.to_numpy(dtype=np.float64)
    observed = ~np.isnan(values)
    n_obs = observed.sum(axis=0)
    mean = np.nansum(values, axis=0) / n_obs
    centred = np.where(observed, values - mean, 0.0)
    ss = np.einsum("ij,ij->j", centred, centred)
    ss = np.where(ss > 0, ss, np.finfo(float).tiny)
    return centred / np.sqrt(ss), observed, ss, n_obs, values


def residual_correlation(frame: pd.DataFrame) -> FloatArray:
    """Correlations of the single-index residuals of a returns window (unit diagonal)."""
    u, observed, _, _, _ = _standardised(frame)
    market = u.sum(axis=1) / np.maximum(observed.sum(axis=1), 1)
    beta = market @ u / max(float(market @ market), np.finfo(float).tiny)
    resid = np.where(observed, u - np.outer(market, beta), 0.0)
    norm = np.sqrt(np.einsum("ij,ij->j", resid, resid))
    x = resid / np.where(norm > 0, norm, np.inf)
    return x.T @ x


def holding_persistence(
    history: pd.DataFrame, window_days: int, holding_days: int, min_days: int, periods: int
) -> float:
    """How much of a trailing estimate's residual correlations holds over the next holding period.

    For each of the last ``periods`` holding periods of ``history`` that have ``window_days`` dates
    before them (the latest ends at ``history``'s last date, so nothing after it is used): the
    off-diagonal residual correlations ``a`` of the ``window_days`` before the period and ``c`` of
    the period itself, over the names with ``min_days`` returns in the window and a return every
    day of the period. Pooled slope through the origin ``b = Σ a c / Σ a²``: the regression of the
    realised on the estimated residual correlations. NaN when no period fits.
    """
    num = den = 0.0
    end = len(history)
    for _ in range(periods):
        start = end - holding_days - window_days
        if start < 0:
            break
        est, held = history.iloc[start : end - holding_days], history.iloc[end - holding_days : end]
        ok = (est.notna().sum().to_numpy() >= min_days) & held.notna().all().to_numpy()
        if ok.sum() >= 2:
            a = residual_correlation(est.loc[:, ok])
            c = residual_correlation(held.loc[:, ok])
            off = ~np.eye(int(ok.sum()), dtype=bool)
            num += float((a[off] * c[off]).sum())
            den += float((a[off] ** 2).sum())
        end -= holding_days
    return num / den if den > 0 else float("nan")


def shrunk_sample_risk(
    window: pd.DataFrame,
    as_of: pd.Timestamp,
    min_days: int,
    history: pd.DataFrame | None = None,
    holding_days: int = HOLDING_DAYS,
) -> FactorisedRisk:
    """Shrunk sample covariance of a trailing returns window, in root form.

    Parameters
    ----------
    window : pd.DataFrame
        Wide daily simple returns, index = dates (at most ``as_of`` is used), columns = tickers,
        NaN = no return; shape ``(T, n)``.
    as_of : pd.Timestamp
        Rebalance date (close).
    min_days : int
        Fewest returns a ticker needs in the window (and fewest dates the window must hold).
    history : pd.DataFrame, optional
        Longer returns window ending with ``window`` (same columns' meaning). Given, and long
        enough for one holding period: the intensity is ``max(δ_LW, 1 − b)`` with ``b`` the
        :func:`holding_persistence` of the last ``CALIBRATION_PERIODS`` holding periods; None: the
        Ledoit-Wolf intensity alone (the estimator before issue 13b).
    holding_days : int
        Trading days a hedge is held (a month).

    Returns
    -------
    FactorisedRisk
        ``source = "sample"``, annualised. The intensity is part of ``digest``.

    Raises
    ------
    InsufficientHistoryError
        If the window holds fewer than ``min_days`` dates or fewer than two tickers qualify.
    """
    # imported here: scikit-learn takes ~1.7 s to import, and `hedge` with factor risk never needs it
    from sklearn.covariance import ledoit_wolf_shrinkage

    as_of = pd.Timestamp(as_of)
    frame = window.loc[window.index <= as_of]
    counts = frame.notna().sum().to_numpy()
    frame = frame.loc[:, counts >= min_days]
    if len(frame) < min_days or frame.shape[1] < 2:
        raise InsufficientHistoryError(
            f"returns window as of {as_of.date()} has {len(frame)} dates and {frame.shape[1]} "
            f"tickers with >= {min_days} returns; the sample covariance needs {min_days} dates "
            f"and two tickers"
        )
    u, observed, ss, n_obs, values = _standardised(frame)  # R = Uᵀ U
    market = u.sum(axis=1) / np.maximum(observed.sum(axis=1), 1)  # (T,)
    beta = market @ u / max(float(market @ market), np.finfo(float).tiny)  # (n,)
    resid = np.where(observed, u - np.outer(market, beta), 0.0)
    resid_ss = np.einsum("ij,ij->j", resid, resid)
    resid_ss = np.where(resid_ss > 0, resid_ss, np.finfo(float).tiny)
    x = resid / np.sqrt(resid_ss) * np.sqrt(len(frame))  # unit-variance residuals
    delta = float(ledoit_wolf_shrinkage(x, assume_centered=True, block_size=LW_BLOCK_SIZE))
    carried = float("nan")
    if history is not None:
        past = history.loc[history.index <= as_of]
        carried = holding_persistence(past, len(frame), holding_days, min_days, CALIBRATION_PERIODS)
        if np.isfinite(carried):
            delta = max(delta, 1.0 - float(np.clip(carried, 0.0, 1.0)))
    var = ss / np.maximum(n_obs - 1, 1) * TRADING_DAYS_PER_YEAR  # annualised sample variance
    scale = np.sqrt(var)
    loadings = np.column_stack(
        [
            scale * beta * np.sqrt(market @ market),
            (resid * scale).T * np.sqrt(1.0 - delta),
        ]
    )  # (n, 1 + T)
    specific = delta * resid_ss * var

    tickers = tuple(str(t) for t in frame.columns)
    dates = frame.index.to_numpy().astype("datetime64[ns]").view(np.int64)
    kind = "lw-sample" if history is None else "lw-holding-sample"
    return FactorisedRisk(
        as_of=as_of,
        tickers=tickers,
        loadings=loadings,
        specific_variance=specific,
        source="sample",
        digest=_digest(kind, dates, np.array([delta, carried, float(min_days)])),
        row_digests=tuple(_digest(values[:, i]) for i in range(len(tickers))),
    )


def sample_intensity(risk: FactorisedRisk) -> float:
    """The shrinkage intensity ``δ`` of a :func:`shrunk_sample_risk`.

    It is each name's specific share of its residual variance (the same for every name).
    """
    b = risk.loadings[:, 1:]
    resid = np.einsum("ij,ij->i", b, b) + risk.specific_variance
    return float(np.median(risk.specific_variance / resid))


def blend_risk(
    factor: FactorisedRisk, sample: FactorisedRisk, weight: float = BLEND_WEIGHT
) -> FactorisedRisk:
    """``weight · Σ_factor + (1 − weight) · Σ_sample`` on the tickers both know, in root form.

    Parameters
    ----------
    factor, sample : FactorisedRisk
        The two estimates as of the same date.
    weight : float
        Weight of ``factor`` in ``[0, 1]``.

    Returns
    -------
    FactorisedRisk
        ``source = "blend"``; tickers in ``factor``'s order.
    """
    common = [t for t in factor.tickers if sample.contains(t)]
    fi = np.fromiter((factor.positions[t] for t in common), dtype=np.int64, count=len(common))
    si = np.fromiter((sample.positions[t] for t in common), dtype=np.int64, count=len(common))
    loadings = np.hstack(
        [np.sqrt(weight) * factor.loadings[fi], np.sqrt(1.0 - weight) * sample.loadings[si]]
    )
    d = weight * factor.specific_variance[fi] + (1.0 - weight) * sample.specific_variance[si]
    return FactorisedRisk(
        as_of=factor.as_of,
        tickers=tuple(common),
        loadings=loadings,
        specific_variance=d,
        source="blend",  # type: ignore[arg-type]  # a third source beside problem.RiskSource's two
        digest=_digest("blend", factor.digest, sample.digest, np.array([weight])),
        row_digests=tuple(
            _digest(factor.row_digests[i], sample.row_digests[j])
            for i, j in zip(fi, si, strict=True)
        ),
    )
