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
spuriously correlated names from taking the whole basket. On the real universe ``δ`` is about 0.2
(against 0.06 for the identity target on the raw correlations, which the market mode dominates).

**Blend** (``risk = "blend"``): the equal mix ``Σ = ½ Σ_factor + ½ Σ_sample`` on the names both
know, ``B = [sqrt(½) B_factor, sqrt(½) B_sample]``, ``d = ½ d_factor + ½ d_sample``. Equal weights are
the uninformed choice (the weight is not fitted to the backtest window).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from sklearn.covariance import ledoit_wolf_shrinkage

from hedging_pipeline.errors import InsufficientHistoryError
from hedging_pipeline.hedging.problem import FactorisedRisk
from hedging_pipeline.types import TRADING_DAYS_PER_YEAR

BLEND_WEIGHT = 0.5
"""Weight of the factor model in the blend (equal mix: no tuning to the backtest)."""

LW_BLOCK_SIZE = 1000
"""scikit-learn's block size for the Ledoit-Wolf sums (memory only; the result does not depend on
it)."""


def _digest(*parts: np.ndarray | str) -> str:
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else np.ascontiguousarray(p).tobytes())
    return h.hexdigest()


def shrunk_sample_risk(window: pd.DataFrame, as_of: pd.Timestamp, min_days: int) -> FactorisedRisk:
    """Ledoit-Wolf shrunk sample covariance of a trailing returns window, in root form.

    Parameters
    ----------
    window : pd.DataFrame
        Wide daily simple returns, index = dates (at most ``as_of`` is used), columns = tickers,
        NaN = no return; shape ``(T, n)``.
    as_of : pd.Timestamp
        Rebalance date (close).
    min_days : int
        Fewest returns a ticker needs in the window (and fewest dates the window must hold).

    Returns
    -------
    FactorisedRisk
        ``source = "sample"``, annualised; ``attrs`` of nothing. The shrinkage intensity is part of
        ``digest`` (so a fingerprint changes with it).

    Raises
    ------
    InsufficientHistoryError
        If the window holds fewer than ``min_days`` dates or fewer than two tickers qualify.
    """
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
    values = frame.to_numpy(dtype=np.float64)
    observed = ~np.isnan(values)
    n_obs = observed.sum(axis=0)
    mean = np.nansum(values, axis=0) / n_obs
    centred = np.where(observed, values - mean, 0.0)
    ss = np.einsum("ij,ij->j", centred, centred)
    ss = np.where(ss > 0, ss, np.finfo(float).tiny)
    u = centred / np.sqrt(ss)  # (T, n), unit columns: R = Uᵀ U
    market = u.sum(axis=1) / np.maximum(observed.sum(axis=1), 1)  # (T,)
    beta = market @ u / max(float(market @ market), np.finfo(float).tiny)  # (n,)
    resid = np.where(observed, u - np.outer(market, beta), 0.0)
    resid_ss = np.einsum("ij,ij->j", resid, resid)
    resid_ss = np.where(resid_ss > 0, resid_ss, np.finfo(float).tiny)
    delta = float(
        ledoit_wolf_shrinkage(
            resid / np.sqrt(resid_ss) * np.sqrt(len(frame)),
            assume_centered=True,
            block_size=LW_BLOCK_SIZE,
        )
    )
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
    return FactorisedRisk(
        as_of=as_of,
        tickers=tickers,
        loadings=loadings,
        specific_variance=specific,
        source="sample",
        digest=_digest("lw-sample", dates, np.array([delta, float(min_days)])),
        row_digests=tuple(_digest(values[:, i]) for i in range(len(tickers))),
    )


def shrinkage_of(risk: FactorisedRisk) -> float:
    """Ledoit-Wolf intensity ``δ`` of a :func:`shrunk_sample_risk` (``d_i / (B Bᵀ + d)_ii``)."""
    total = np.einsum("ij,ij->i", risk.loadings, risk.loadings) + risk.specific_variance
    return float(np.median(risk.specific_variance / total))


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
