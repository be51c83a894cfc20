"""The hedge problem for one target: a factorised quadratic over its candidates.

A hedge shorts a basket ``w`` of candidates against a long position in the target. Its tracking
error is the return of (target − basket); with an asset covariance in factorised form
``Σ = X F Xᵀ + diag(s²)`` and a root ``F = L Lᵀ`` the *loadings* ``B = X L`` turn the predicted
tracking-error variance into a ridge least squares::

    v(w) = ‖b − Bᵀw‖² + Σ_i d_i w_i² + d_t,    b = B[target], d = s²[candidates], d_t = s²[target]

because the target is never its own candidate (no cross specific term). The optimiser (``solve.py``)
works on this form; an ``N x N`` matrix is only built in tests. A sample covariance of trailing
returns has the same form with ``B = centred returns · sqrt(252 / (T − 1))`` (``F = I``) and a small
ridge as ``d``.

The cvxpy references (the perspective relaxation, and the exact MIQP that SCIP solves) live in
``reference.py``, so the production solver does not import cvxpy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from hedging_pipeline.errors import (
    InfeasibleHedgeError,
    InsufficientHistoryError,
    InvalidValueError,
    UnknownTickerError,
)
from hedging_pipeline.risk.model import RiskModel
from hedging_pipeline.types import TRADING_DAYS_PER_YEAR, FloatArray

RiskSource = Literal["model", "sample"]

PSD_TOLERANCE = 1e-10
"""Relative tolerance on negative eigenvalues of the factor covariance (``λ_min ≥ −tol ·
λ_max``)."""

SAMPLE_RIDGE = 1e-4
"""Ridge added to each asset's variance in the sample covariance, as a fraction of the mean sample
variance.

It makes ``Σ`` positive definite when the window is shorter than the number of candidates and is far
below any estimation error (1e-4 of the average variance is a 1 % change in a 1 % vol)."""

PERSPECTIVE_SHIFT_SAFETY = 0.99
"""Fraction of the largest PSD-preserving diagonal moved into the perspective (separable) part."""


@dataclass(frozen=True)
class FactorisedRisk:
    """Asset covariance in root form ``Σ = B Bᵀ + diag(d)`` over one universe, as of one date.

    Attributes
    ----------
    as_of : pd.Timestamp
        Date the risk is known at (close).
    tickers : tuple of str
        The ``n`` assets, in row order.
    loadings : FloatArray
        ``B = X L``, shape ``(n, r)``; annualised (``B Bᵀ`` is the annualised factor part of ``Σ``).
    specific_variance : FloatArray
        ``d``, annualised specific variance, shape ``(n,)``, positive.
    source : {"model", "sample"}
        Whether ``Σ`` comes from the factor risk model or from a sample covariance of returns.
    digest : str
        Hash of the shared part (e.g. the factor covariance) that enters every hedge's fingerprint.
    row_digests : tuple of str
        Hash of each asset's own inputs (exposure row, specific variance or return column).
    """

    as_of: pd.Timestamp
    tickers: tuple[str, ...]
    loadings: FloatArray
    specific_variance: FloatArray
    source: RiskSource
    digest: str
    row_digests: tuple[str, ...]
    positions: dict[str, int] = field(init=False, repr=False, compare=False)
    """``ticker -> row``; also the universe for membership tests."""
    universe_digest: str = field(init=False, repr=False, compare=False)
    """Hash of every row digest: stands for all rows in a fingerprint over the whole universe."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "positions", {t: i for i, t in enumerate(self.tickers)})
        object.__setattr__(self, "universe_digest", _digest("|".join(self.row_digests)))

    def index_of(self, ticker: str) -> int:
        """Return the row of ``ticker``.

        Raises
        ------
        UnknownTickerError
            If ``ticker`` has no risk on ``as_of``.
        """
        try:
            return self.positions[ticker]
        except KeyError:
            raise UnknownTickerError(
                f"ticker {ticker!r} is not in the {self.source} risk as of {self.as_of.date()} "
                f"({len(self.tickers)} tickers have risk on that date)"
            ) from None

    def contains(self, ticker: str) -> bool:
        """Whether ``ticker`` has risk on ``as_of``."""
        return ticker in self.positions

    def covariance(self, tickers: Sequence[str] | None = None) -> FloatArray:
        """Dense annualised covariance of ``tickers`` (default all); tests and small sets only."""
        rows = np.arange(len(self.tickers)) if tickers is None else self._rows(tickers)
        b = self.loadings[rows]
        return b @ b.T + np.diag(self.specific_variance[rows])

    def _rows(self, tickers: Sequence[str]) -> np.ndarray:
        return np.fromiter((self.index_of(t) for t in tickers), dtype=np.int64, count=len(tickers))


def _digest(*arrays: np.ndarray | str) -> str:
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        h.update(a.encode() if isinstance(a, str) else np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _check_finite(
    values: np.ndarray, what: str, tickers: Sequence[str], as_of: pd.Timestamp
) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        rows = np.nonzero(bad.reshape(len(tickers), -1).any(axis=1))[0]
        names = ", ".join(tickers[i] for i in rows[:5])
        raise InvalidValueError(
            f"{what} as of {as_of.date()} has NaN/inf for ticker(s) {names} "
            f"({len(rows)} in all); drop them or fill the inputs before hedging"
        )


def risk_from_model(model: RiskModel) -> FactorisedRisk:
    """Root form of a factor risk model: ``B = X L`` with ``F = L Lᵀ`` from an eigen-decomposition.

    Parameters
    ----------
    model : RiskModel
        Exposures ``(n, k)``, annualised factor covariance ``(k, k)`` and specific variance
        ``(n,)``.

    Returns
    -------
    FactorisedRisk
        ``source="model"``.

    Raises
    ------
    InvalidValueError
        If any input holds NaN/inf (the message names the tickers and date).
    InfeasibleHedgeError
        If the factor covariance is not PSD or a specific variance is not positive (singular ``Σ``).
    """
    as_of = pd.Timestamp(model.as_of)
    f = np.asarray(model.factor_covariance, dtype=np.float64)
    x = np.asarray(model.exposures, dtype=np.float64)
    s2 = np.asarray(model.specific_variance, dtype=np.float64)
    _check_finite(x, "risk model exposures", model.tickers, as_of)
    _check_finite(s2, "risk model specific variance", model.tickers, as_of)
    if not np.isfinite(f).all():
        raise InvalidValueError(f"factor covariance as of {as_of.date()} has NaN/inf entries")
    f = (f + f.T) / 2
    eigval, eigvec = np.linalg.eigh(f)
    if eigval[0] < -PSD_TOLERANCE * max(eigval[-1], 1.0):
        raise InfeasibleHedgeError(
            f"factor covariance as of {as_of.date()} is not positive semi-definite "
            f"(smallest eigenvalue {eigval[0]:.3g}); refit the risk model"
        )
    bad = np.nonzero(s2 <= 0)[0]
    if bad.size:
        raise InfeasibleHedgeError(
            f"covariance as of {as_of.date()} is singular: specific variance of ticker "
            f"{model.tickers[bad[0]]!r} is {s2[bad[0]]:.3g} (must be > 0)"
        )
    root = eigvec * np.sqrt(np.clip(eigval, 0.0, None))
    loadings = x @ root
    return FactorisedRisk(
        as_of=as_of,
        tickers=tuple(model.tickers),
        loadings=loadings,
        specific_variance=s2,
        source="model",
        digest=_digest("model", f, ",".join(model.factors)),
        row_digests=tuple(_digest(x[i], s2[i : i + 1]) for i in range(len(model.tickers))),
    )


def risk_from_returns(
    returns: pd.DataFrame,
    as_of: pd.Timestamp,
    min_days: int,
    ridge: float = SAMPLE_RIDGE,
) -> FactorisedRisk:
    """Root form of the sample covariance of trailing daily returns (``F = I``).

    ``B = (R − mean R)ᵀ · sqrt(252 / (T − 1))`` so that ``B Bᵀ`` is the annualised sample
    covariance, and ``d = ridge · mean_i Σ_ii`` (see ``SAMPLE_RIDGE``). Tickers with any missing
    return in the window are left out (they have no sample covariance); rows after ``as_of`` are
    ignored.

    Parameters
    ----------
    returns : pd.DataFrame
        Wide daily simple returns, index = dates, columns = tickers, shape ``(T, n)``.
    as_of : pd.Timestamp
        Last date whose returns may be used.
    min_days : int
        Fewest dates the window must hold.
    ridge : float
        Ridge as a fraction of the mean sample variance.

    Returns
    -------
    FactorisedRisk
        ``source="sample"``.

    Raises
    ------
    InsufficientHistoryError
        If the window up to ``as_of`` has fewer than ``min_days`` dates.
    """
    as_of = pd.Timestamp(as_of)
    window = returns.loc[returns.index <= as_of]
    if len(window) < min_days:
        raise InsufficientHistoryError(
            f"returns window as of {as_of.date()} has {len(window)} dates, need {min_days}"
        )
    window = window.loc[:, window.notna().all().to_numpy()]
    values = window.to_numpy(dtype=np.float64)
    tickers = tuple(str(t) for t in window.columns)
    _check_finite(values.T, "returns window", tickers, as_of)
    n_days = len(window)
    centred = values - values.mean(axis=0)
    loadings = centred.T * np.sqrt(TRADING_DAYS_PER_YEAR / (n_days - 1))
    mean_var = float(np.mean(np.einsum("ij,ij->i", loadings, loadings))) if tickers else 0.0
    d = np.full(len(tickers), ridge * max(mean_var, np.finfo(float).tiny))
    dates = window.index.to_numpy().astype("datetime64[ns]")
    return FactorisedRisk(
        as_of=as_of,
        tickers=tickers,
        loadings=loadings,
        specific_variance=d,
        source="sample",
        digest=_digest("sample", dates.view(np.int64), np.array([ridge])),
        row_digests=tuple(_digest(values[:, i]) for i in range(len(tickers))),
    )


@dataclass(frozen=True)
class HedgeProblem:
    """Predicted tracking-error variance of (target − basket) over a candidate set.

    ``v(w) = ‖b − Bᵀw‖² + Σ d_i w_i² + d_t`` (annualised variance). For the convex relaxation the
    smooth part is split as ``Q = B Bᵀ − δ I`` (PSD) and ``d' = d + δ`` with ``δ = 0.99 λ_min(B
    Bᵀ)``, which moves as much curvature as possible into the separable part where the perspective
    bound acts.

    Attributes
    ----------
    target : str
    as_of : pd.Timestamp
    candidates : tuple of str
        The ``n`` candidate hedge names (never the target).
    loadings : FloatArray
        ``B``, shape ``(n, r)``.
    target_loading : FloatArray
        ``b``, shape ``(r,)``.
    specific_variance : FloatArray
        ``d``, shape ``(n,)``.
    target_specific_variance : float
        ``d_t``.
    source : {"model", "sample"}
    shift : FloatArray
        ``δ`` above.
    """

    target: str
    as_of: pd.Timestamp
    candidates: tuple[str, ...]
    loadings: FloatArray
    target_loading: FloatArray
    specific_variance: FloatArray
    target_specific_variance: float
    source: RiskSource
    shift: FloatArray

    @property
    def n(self) -> int:
        """Number of candidates."""
        return len(self.candidates)

    @property
    def target_variance(self) -> float:
        """Annualised variance of the unhedged target, ``‖b‖² + d_t``."""
        return float(self.target_loading @ self.target_loading + self.target_specific_variance)

    def variance(self, weights: FloatArray) -> float:
        """Predicted annualised variance of (target − basket ``weights``), shape ``(n,)``."""
        resid = self.target_loading - self.loadings.T @ weights
        return float(
            resid @ resid
            + self.specific_variance @ (weights * weights)
            + self.target_specific_variance
        )

    def smooth_root(self) -> tuple[FloatArray, FloatArray]:
        """``(R, c)`` with ``R Rᵀ = Q = B Bᵀ − δ I`` and ``c = B b``; ``R = B`` when ``δ = 0``."""
        c = self.loadings @ self.target_loading
        if not self.shift.any():
            return self.loadings, c
        q = self.loadings @ self.loadings.T - np.diag(self.shift)
        eigval, eigvec = np.linalg.eigh(q)
        return eigvec * np.sqrt(np.clip(eigval, 0.0, None)), c

    def dense(self) -> tuple[FloatArray, FloatArray, float]:
        """``(Σ_CC, Σ_Ct, Σ_tt)``; for tests, brute force and the exact MIQP only."""
        b = self.loadings
        return (
            b @ b.T + np.diag(self.specific_variance),
            b @ self.target_loading,
            self.target_variance,
        )


def perspective_shift(loadings: FloatArray) -> FloatArray:
    """Diagonal ``δ ≥ 0`` with ``B Bᵀ − diag(δ) ⪰ 0``, moved into the perspective (separable) part.

    ``δ = t · s`` along ``s_i = 1 / (B Bᵀ)⁻¹_ii`` (the part of name ``i``'s variance the other
    candidates cannot explain; an upper limit on ``δ_i``), with the largest ``t`` that keeps the
    rest PSD, ``t = λ_min(S^{-1/2} B Bᵀ S^{-1/2})``, times a safety factor. On real sample
    covariances this direction gave tighter bounds than a uniform or variance-proportional shift.
    Zero when ``B Bᵀ`` is singular (more candidates than factors, as with a factor model).
    """
    n, r = loadings.shape
    if n > r:
        return np.zeros(n)
    g = loadings @ loadings.T
    try:
        precision = np.diag(np.linalg.inv(g))
    except np.linalg.LinAlgError:
        return np.zeros(n)
    if not (np.isfinite(precision).all() and (precision > 0).all()):
        return np.zeros(n)  # numerically singular (e.g. two share classes): no shift
    direction = 1.0 / precision
    scale = 1.0 / np.sqrt(direction)
    t = float(np.linalg.eigvalsh(g * scale[:, None] * scale[None, :])[0])
    return PERSPECTIVE_SHIFT_SAFETY * max(t, 0.0) * direction


def build_problem(
    risk: FactorisedRisk, target: str, candidates: Sequence[str], min_candidates: int
) -> HedgeProblem:
    """Restrict ``risk`` to one target and its candidates.

    Parameters
    ----------
    risk : FactorisedRisk
    target : str
        The concentrated position.
    candidates : sequence of str
        Hedge names; the target and names without risk on ``as_of`` are dropped, duplicates removed.
    min_candidates : int
        Fewest candidates that make the constraints feasible (``ceil(1 / max_weight)``).

    Returns
    -------
    HedgeProblem

    Raises
    ------
    UnknownTickerError
        If the target has no risk on ``as_of``.
    InfeasibleHedgeError
        If fewer than ``min_candidates`` candidates remain.
    """
    t = risk.index_of(target)
    kept = tuple(dict.fromkeys(c for c in candidates if c != target and risk.contains(c)))
    if len(kept) < min_candidates:
        raise InfeasibleHedgeError(
            f"ticker {target!r} as of {risk.as_of.date()}: {len(kept)} hedge candidates with "
            f"{risk.source} risk, need at least {min_candidates} to hedge 100 % with the weight cap"
        )
    rows = risk._rows(kept)
    b = risk.loadings[rows]
    shift = perspective_shift(b)
    return HedgeProblem(
        target=target,
        as_of=risk.as_of,
        candidates=kept,
        loadings=np.ascontiguousarray(b),
        target_loading=risk.loadings[t].copy(),
        specific_variance=risk.specific_variance[rows].copy(),
        target_specific_variance=float(risk.specific_variance[t]),
        source=risk.source,
        shift=shift,
    )
