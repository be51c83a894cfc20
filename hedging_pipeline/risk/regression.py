"""Daily cross-sectional factor regression (Barra style), batched across dates.

For every trading day ``d`` the asset returns ``y`` over ``d`` are regressed on the exposures ``X``
known at the close of the previous trading day (the latest ``style_exposures`` date before ``d``)::

    y_i = f_market + sum_j D_ij f_j + sum_s X_is f_s + e_i,    sum_j w_j f_j = 0

with ``D`` the industry one-hot matrix, ``w_j`` the capitalisation of industry ``j`` (sum of its
members' market caps) and regression weights ``s_i = sqrt(market_cap_i)``. The constraint makes the
market factor the cap-weighted market and the industry factors pure industry-minus-market bets
(USE4). It is imposed by the usual reparametrisation: with ``p`` the largest industry on the day
(the pivot), ``f_p = -sum_{j != p} (w_j / w_p) f_j``, so ``f = R g`` for an unconstrained ``g`` and
the design becomes ``Z = X R`` (the pivot's own column of ``Z`` is zero and its ``g`` is pinned to
0).

Loss: Huber with threshold ``huber_epsilon`` and a jointly estimated scale, the objective of
``sklearn.linear_model.HuberRegressor`` without its penalty (``alpha = 0``)::

    L(g, sigma) = sum_i s_i * (sigma + sigma * H(r_i / sigma)),   r = y - Z g,
    H(u) = u**2 if |u| <= eps else 2 eps |u| - eps**2.

``L`` is jointly convex and continuously differentiable in ``(g, sigma)``. It is minimised on a
``(n_dates, n_assets, n_factors)`` tensor for all dates at once by damped Newton steps (the Hessian
of the quadratic pieces, an Armijo backtracking line search), started from the weighted
least-squares solution with the exact scale for it. A date stops iterating as soon as its own step
is below ``tolerance``, so every date's result is independent of which other dates share its batch.

Factors that cannot be estimated on a day are *pinned*: their return is written as exactly ``0.0``
and their ``t_stat`` as NaN. That happens to an industry with fewer than ``min_industry_members``
members in the regression that day (its members then load on the market and the styles only) and to
a style whose exposures are all zero (e.g. a fundamentals style on dates without fundamentals).
Assets with a missing return or any missing exposure are left out of that day's regression (zero
weight) and get no specific return. A day whose assets do not outnumber its estimable factors raises
:class:`InsufficientAssetsError`, or is skipped and listed in
``FactorRegressionResult.skipped_dates`` when ``skip_thin_days=True``.

A slow per-date reference,
:func:`~hedging_pipeline.risk.regression_reference.estimate_factor_returns_reference`, fits each day with
``sklearn.linear_model.HuberRegressor`` (or ``numpy.linalg.lstsq`` for least squares) on the same
design.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from hedging_pipeline.errors import InsufficientAssetsError, InvalidValueError
from hedging_pipeline.risk.regression_inputs import (
    Panel,
    prepare_panel,
)
from hedging_pipeline.types import MARKET_FACTOR, STYLE_FACTORS, BoolArray, FloatArray

HUBER_EPSILON = 1.35
"""Huber threshold in units of the scale: 95 % efficiency under normal errors (Huber 1981)."""

NEWTON_TOLERANCE = 1e-12
"""Stop a date when its largest coefficient and scale step is below this (return units)."""

MAX_NEWTON_ITERATIONS = 100
CHUNK_DAYS = 256
"""Dates solved together; memory about ``CHUNK_DAYS * n_assets * n_factors * 48`` bytes."""

MAX_EXPOSURE_AGE_DAYS = 10
"""A return on ``d`` is explained by exposures at most this many calendar days older than ``d``."""

MIN_INDUSTRY_MEMBERS = 2
"""An industry with fewer members in a day's regression is pinned at 0 that day."""

ARMIJO_SLOPE = 1e-4
BACKTRACK_FACTOR = 0.5
MAX_BACKTRACKS = 40
HESSIAN_JITTER = 1e-12
"""Relative diagonal jitter on the Newton Hessian only (finite steps; no ridge in the objective)."""

COLLINEARITY_THRESHOLD = 1e-10
"""Smallest eigenvalue of the weighted exposure correlation below which a day is collinear."""

SCALE_FLOOR = 1e-12
"""Lower bound on the Huber scale (an exact fit would otherwise drive it to 0)."""

REFERENCE_TOLERANCE = 1e-10
REFERENCE_MAX_ITERATIONS = 20000

RegressionMethod = Literal["huber", "wls"]


@dataclass(frozen=True)
class FactorRegressionResult:
    """Output of the daily cross-sectional regressions.

    Attributes
    ----------
    factor_returns : pd.DataFrame
        Columns ``date, factor, ret, t_stat``: daily factor returns (fractions) for every factor on
        every estimated date; pinned factors have ``ret == 0.0`` and ``t_stat`` NaN.
    specific_returns : pd.DataFrame
        Columns ``date, ticker, ret``: residual returns of the assets in each day's regression.
    stats : pd.DataFrame
        Columns ``date, r2, n_assets, n_factors``: weighted R² (about the weighted mean), assets and
        estimated (non-pinned) factors of each day.
    factors : tuple of str
        Factor order: ``market``, the industries (sorted), the 7 styles.
    skipped_dates : tuple of pd.Timestamp
        Dates left out because they had too few assets (only with ``skip_thin_days=True``).
    n_iterations : int
        Newton iterations of the slowest date (0 for least squares).
    """

    factor_returns: pd.DataFrame
    specific_returns: pd.DataFrame
    stats: pd.DataFrame
    factors: tuple[str, ...]
    skipped_dates: tuple[pd.Timestamp, ...]
    n_iterations: int


def factor_names(industries: Iterable[str]) -> tuple[str, ...]:
    """Return the model's factor order: ``market``, the sorted industries, the 7 styles.

    This is the single definition of the column order of the exposure matrix, shared by the
    regression, the covariance and :class:`~hedging_pipeline.risk.model.RiskModel`.
    """
    return (MARKET_FACTOR, *sorted(set(industries)), *STYLE_FACTORS)


@dataclass(frozen=True)
class _Design:
    """The reparametrised design of a block of dates."""

    x: FloatArray  # (T, N, K) exposures, zero rows where masked
    z: FloatArray  # (T, N, K) X @ R
    r: FloatArray  # (T, K, K) f = R g
    y: FloatArray  # (T, N) returns, 0 where masked
    s: FloatArray  # (T, N) weights sqrt(cap), mean 1 over the day's assets, 0 where masked
    mask: BoolArray  # (T, N)
    pinned: BoolArray  # (T, K) parameters g fixed at 0
    factor_pinned: BoolArray  # (T, K) factors f that are 0 by construction
    industry_cap: FloatArray  # (T, n_industries) cap weights of the constraint


def _build_design(panel: Panel, rows: slice, min_industry_members: int) -> _Design:
    e = panel.exposure_row[rows]
    y = panel.y[rows]
    styles = panel.styles[e]  # (T, N, S)
    code = panel.industry_code[e]
    cap = panel.cap[e]
    n_t, n_a = y.shape
    n_i, n_s = len(panel.industries), len(STYLE_FACTORS)
    n_k = 1 + n_i + n_s

    mask = (code >= 0) & np.isfinite(y) & np.isfinite(styles).all(axis=2)
    onehot = np.zeros((n_t, n_a, n_i))
    t_idx, a_idx = np.nonzero(mask)
    onehot[t_idx, a_idx, code[t_idx, a_idx]] = 1.0
    members = onehot.sum(axis=1)  # (T, n_i)
    thin = members < min_industry_members
    onehot[np.broadcast_to(thin[:, None, :], onehot.shape)] = 0.0

    x = np.zeros((n_t, n_a, n_k))
    x[:, :, 0] = 1.0
    x[:, :, 1 : 1 + n_i] = onehot
    x[:, :, 1 + n_i :] = np.where(mask[:, :, None], styles, 0.0)
    x[~mask] = 0.0

    cap0 = np.where(mask, cap, 0.0)
    industry_cap = np.einsum("tn,tni->ti", cap0, onehot)
    pivot = np.argmax(industry_cap, axis=1)
    r = np.broadcast_to(np.eye(n_k), (n_t, n_k, n_k)).copy()
    has_pivot = industry_cap[np.arange(n_t), pivot] > 0
    ratio = np.divide(
        industry_cap,
        industry_cap[np.arange(n_t), pivot][:, None],
        out=np.zeros_like(industry_cap),
        where=has_pivot[:, None],
    )
    r[np.arange(n_t), 1 + pivot, 1 : 1 + n_i] -= ratio  # the pivot's own entry becomes 1 - 1 = 0
    z = x @ r

    root_cap = np.sqrt(cap0)
    n_assets = mask.sum(axis=1)
    mean_root = np.divide(root_cap.sum(axis=1), n_assets, out=np.ones(n_t), where=n_assets > 0)
    s = root_cap / mean_root[:, None]
    pinned = np.einsum("tn,tnk->tk", s, z * z) <= 0.0
    # A factor is zero by construction when no estimated parameter feeds it.
    factor_pinned = np.einsum("tkq,tq->tk", np.abs(r), (~pinned).astype(float)) == 0.0
    return _Design(
        x=x,
        z=z,
        r=r,
        y=np.where(mask, y, 0.0),
        s=s,
        mask=mask,
        pinned=pinned,
        factor_pinned=factor_pinned,
        industry_cap=industry_cap,
    )


# -- solvers ---------------------------------------------------------------------------------------
def _check_collinearity(a: FloatArray, dates: pd.DatetimeIndex) -> None:
    """Raise if a normal matrix ``(T, K, K)`` is numerically singular (collinear exposures)."""
    diag = np.sqrt(np.diagonal(a, axis1=1, axis2=2))
    corr = a / (diag[:, :, None] * diag[:, None, :])
    smallest = np.linalg.eigvalsh(corr)[:, 0]
    bad = np.flatnonzero(~(smallest > COLLINEARITY_THRESHOLD))
    if bad.size:
        raise InvalidValueError(
            f"style_exposures: the factor exposures are collinear on {dates[int(bad[0])].date()} "
            f"(smallest eigenvalue of the exposure correlation {smallest[bad[0]]:.2e}); check "
            f"for a style that is constant across assets or duplicates another style or an industry"
        )


def _solve_spd(a: FloatArray, b: FloatArray, dates: pd.DatetimeIndex) -> FloatArray:
    try:
        return np.linalg.solve(a, b[..., None])[..., 0]
    except np.linalg.LinAlgError:
        _check_collinearity(a, dates)
        raise


def _wls(d: _Design, weight: FloatArray, dates: pd.DatetimeIndex) -> FloatArray:
    """Weighted least squares ``g`` per date with pinned parameters at 0; ``weight`` (T, N)."""
    zw = d.z * weight[:, :, None]
    a = np.swapaxes(zw, 1, 2) @ d.z
    b = np.einsum("tnk,tn->tk", zw, d.y)
    k = a.shape[-1]
    a[:, np.arange(k), np.arange(k)] += d.pinned
    b[d.pinned] = 0.0
    _check_collinearity(a, dates)
    return _solve_spd(a, b, dates)


def _huber_scale(resid: FloatArray, s: FloatArray, epsilon: float) -> FloatArray:
    """Exact minimiser over ``sigma`` of ``sum s (sigma + sigma H(r / sigma))`` per row, shape (T,).

    ``g'(sigma) = S - eps² S_out(sigma) - Q_in(sigma) / sigma²`` is continuous and increasing, with
    kinks where ``sigma = |r_i| / eps``; count the kinks where it is still negative, then solve the
    quadratic piece.
    """
    b = np.abs(resid) / epsilon
    order = np.argsort(b, axis=1, kind="stable")
    bs = np.take_along_axis(b, order, axis=1)
    ss = np.take_along_axis(s, order, axis=1)
    q = np.cumsum(ss * (bs * epsilon) ** 2, axis=1)
    s_in = np.cumsum(ss, axis=1)
    total = s_in[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = total - epsilon**2 * (total - s_in) - np.where(bs > 0, q / bs**2, 0.0)
    negative = (bs <= 0) | (slope < 0)
    j = negative.sum(axis=1)  # points inside the quadratic piece that holds the root
    rows = np.arange(len(j))
    q_j = np.where(j > 0, q[rows, np.maximum(j - 1, 0)], 0.0)
    s_j = np.where(j > 0, s_in[rows, np.maximum(j - 1, 0)], 0.0)
    denom = epsilon**2 * s_j - total[:, 0] * (epsilon**2 - 1.0)
    sigma = np.sqrt(np.divide(q_j, denom, out=np.zeros_like(q_j), where=denom > 0))
    return np.maximum(sigma, SCALE_FLOOR)


def _huber_objective(
    resid: FloatArray, sigma: FloatArray, s: FloatArray, epsilon: float
) -> FloatArray:
    a = np.abs(resid)
    sig = sigma[:, None]
    inside = a <= epsilon * sig
    per = np.where(inside, resid**2 / sig, 2.0 * epsilon * a - epsilon**2 * sig)
    return (s * (sig + per)).sum(axis=1)


def _huber_newton(
    d: _Design, epsilon: float, tolerance: float, max_iterations: int, dates: pd.DatetimeIndex
) -> tuple[FloatArray, FloatArray, FloatArray, int]:
    """Minimise the Huber objective jointly in ``(g, sigma)`` per date; g, sigma, final weights."""
    g = _wls(d, d.s, dates)
    sigma = _huber_scale(d.y - np.einsum("tnk,tk->tn", d.z, g), d.s, epsilon)
    n_t, _, n_k = d.z.shape
    active = np.ones(n_t, dtype=bool)
    iterations = 0
    for _ in range(max_iterations):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        iterations += 1
        z, y, s, pin = d.z[idx], d.y[idx], d.s[idx], d.pinned[idx]
        gi, si = g[idx], sigma[idx]
        resid = y - np.einsum("tnk,tk->tn", z, gi)
        inside = np.abs(resid) <= epsilon * si[:, None]
        w_in = s * inside
        psi = np.where(inside, resid / si[:, None], epsilon * np.sign(resid))
        grad_g = -2.0 * np.einsum("tn,tnk->tk", s * psi, z)
        grad_g[pin] = 0.0
        grad_s = s.sum(axis=1) - (w_in * (resid / si[:, None]) ** 2).sum(axis=1)
        grad_s -= epsilon**2 * (s * ~inside).sum(axis=1)
        v = np.concatenate([z, (resid / si[:, None])[:, :, None]], axis=2)  # (t, N, K+1)
        hess = (2.0 / si)[:, None, None] * (np.swapaxes(v * w_in[:, :, None], 1, 2) @ v)
        diag = np.arange(n_k + 1)
        scale = np.maximum(hess[:, diag, diag].max(axis=1), 1.0)
        hess[:, diag, diag] += HESSIAN_JITTER * scale[:, None]
        hess[:, :n_k, :n_k][:, np.arange(n_k), np.arange(n_k)] += pin * scale[:, None]
        hess[:, :n_k, n_k][pin] = 0.0
        hess[:, n_k, :n_k][pin] = 0.0
        grad = np.concatenate([grad_g, grad_s[:, None]], axis=1)
        step = -_solve_spd(hess, grad, dates[idx])
        step[:, :n_k][pin] = 0.0
        slope = (grad * step).sum(axis=1)
        descent = slope < 0
        step[~descent] = (
            -grad[~descent] / scale[~descent, None]
        )  # fall back to a scaled gradient step
        slope = (grad * step).sum(axis=1)

        # Backtracking (Armijo) line search, keeping sigma positive.
        f0 = _huber_objective(resid, si, s, epsilon)
        dr = -np.einsum("tnk,tk->tn", z, step[:, :n_k])
        t = np.ones(idx.size)
        shrink = step[:, n_k] < 0
        t[shrink] = np.minimum(1.0, 0.99 * si[shrink] / -step[shrink, n_k])
        pending = np.ones(idx.size, dtype=bool)  # only dates still failing Armijo are re-scored
        for _ in range(MAX_BACKTRACKS):
            rows = np.flatnonzero(pending)
            trial = _huber_objective(
                resid[rows] + t[rows, None] * dr[rows],
                si[rows] + t[rows] * step[rows, n_k],
                s[rows],
                epsilon,
            )
            ok = trial <= f0[rows] + ARMIJO_SLOPE * t[rows] * slope[rows]
            pending[rows[ok]] = False
            if not pending.any():
                break
            t[rows[~ok]] *= BACKTRACK_FACTOR
        g_new = gi + t[:, None] * step[:, :n_k]
        # The exact scale for the new coefficients can only lower the objective further; it keeps a
        # Newton step that overshoots in sigma (the linear pieces have no curvature) from stalling
        # the next ones.
        s_new = _huber_scale(resid + t[:, None] * dr, s, epsilon)
        done = (np.abs(g_new - gi).max(axis=1) <= tolerance) & (np.abs(s_new - si) <= tolerance)
        g[idx], sigma[idx] = g_new, s_new
        active[idx[done]] = False

    resid = d.y - np.einsum("tnk,tk->tn", d.z, g)
    absr = np.abs(resid)
    u = np.where(
        absr <= epsilon * sigma[:, None], 1.0, epsilon * sigma[:, None] / np.maximum(absr, 1e-300)
    )
    return g, sigma, d.s * u, iterations


# -- outputs ---------------------------------------------------------------------------------------
def _finish_block(
    d: _Design, g: FloatArray, final_weight: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Factor returns, t-stats, residuals, R² and estimated-factor counts of a block."""
    f = np.einsum("tkq,tq->tk", d.r, g)
    f[d.factor_pinned] = 0.0
    resid = np.where(d.mask, d.y - np.einsum("tnk,tk->tn", d.x, f), 0.0)
    n = d.mask.sum(axis=1)
    k_est = (~d.pinned).sum(
        axis=1
    )  # free parameters (one fewer than estimated factors: the constraint)
    # Coefficient covariance of the weighted least-squares fit at the final weights.
    zw = d.z * final_weight[:, :, None]
    a = np.swapaxes(zw, 1, 2) @ d.z
    kk = a.shape[-1]
    a[:, np.arange(kk), np.arange(kk)] += d.pinned
    a_inv = np.linalg.inv(a)
    a_inv[np.broadcast_to(d.pinned[:, :, None] | d.pinned[:, None, :], a_inv.shape)] = 0.0
    dof = np.maximum(n - k_est, 1)
    s2 = (final_weight * resid**2).sum(axis=1) / dof
    cov_f = d.r @ a_inv @ np.swapaxes(d.r, 1, 2) * s2[:, None, None]
    se = np.sqrt(np.clip(np.diagonal(cov_f, axis1=1, axis2=2), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        t_stat = np.where(d.factor_pinned | (se <= 0), np.nan, f / se)
    wsum = d.s.sum(axis=1)
    ybar = np.divide((d.s * d.y).sum(axis=1), wsum, out=np.zeros_like(wsum), where=wsum > 0)
    tss = (d.s * np.where(d.mask, d.y - ybar[:, None], 0.0) ** 2).sum(axis=1)
    rss = (d.s * resid**2).sum(axis=1)
    r2 = np.divide(rss, tss, out=np.ones_like(rss), where=tss > 0)
    return f, t_stat, resid, 1.0 - r2, (~d.factor_pinned).sum(axis=1).astype(float)


def _check_thin(
    d: _Design, dates: pd.DatetimeIndex, skip_thin_days: bool
) -> tuple[BoolArray, list[pd.Timestamp]]:
    n = d.mask.sum(axis=1)
    k_est = (~d.pinned).sum(axis=1)
    thin = n <= k_est
    if thin.any() and not skip_thin_days:
        i = int(np.flatnonzero(thin)[0])
        raise InsufficientAssetsError(
            f"daily_returns/style_exposures: on {dates[i].date()} only {int(n[i])} assets have a "
            f"return and complete exposures, not more than the {int(k_est[i])} factors to "
            f"estimate; extend the universe or pass skip_thin_days=True to leave such days out"
        )
    return ~thin, [dates[i] for i in np.flatnonzero(thin)]


def _assemble(
    panel: Panel,
    blocks: list[
        tuple[pd.DatetimeIndex, _Design, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]
    ],
    skipped: list[pd.Timestamp],
    iterations: int,
) -> FactorRegressionResult:
    factors = factor_names(panel.industries)
    fr, sr, st = [], [], []
    for dates, d, f, t_stat, resid, r2, k_est in blocks:
        n_t = len(dates)
        if n_t == 0:
            continue
        fr.append(
            pd.DataFrame(
                {
                    "date": np.repeat(dates.to_numpy(), len(factors)),
                    "factor": np.tile(np.asarray(factors, dtype=object), n_t),
                    "ret": f.reshape(-1),
                    "t_stat": t_stat.reshape(-1),
                }
            )
        )
        ti, ai = np.nonzero(d.mask)
        sr.append(
            pd.DataFrame(
                {
                    "date": dates.to_numpy()[ti],
                    "ticker": panel.tickers.to_numpy()[ai],
                    "ret": resid[ti, ai],
                }
            )
        )
        st.append(
            pd.DataFrame(
                {
                    "date": dates.to_numpy(),
                    "r2": r2,
                    "n_assets": d.mask.sum(axis=1).astype(np.int64),
                    "n_factors": k_est.astype(np.int64),
                }
            )
        )
    empty_f = pd.DataFrame(
        {"date": pd.Series(dtype="datetime64[ns]"), "factor": [], "ret": [], "t_stat": []}
    )
    empty_s = pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "ticker": [], "ret": []})
    empty_t = pd.DataFrame(
        {"date": pd.Series(dtype="datetime64[ns]"), "r2": [], "n_assets": [], "n_factors": []}
    )
    factor_returns = pd.concat(fr, ignore_index=True) if fr else empty_f
    specific = pd.concat(sr, ignore_index=True) if sr else empty_s
    stats = pd.concat(st, ignore_index=True) if st else empty_t
    return FactorRegressionResult(
        factor_returns=factor_returns.astype({"factor": str}),
        specific_returns=specific.sort_values(["date", "ticker"], ignore_index=True),
        stats=stats,
        factors=factors,
        skipped_dates=tuple(skipped),
        n_iterations=iterations,
    )


def _subset_design(d: _Design, keep: BoolArray) -> _Design:
    return _Design(**{name: getattr(d, name)[keep] for name in _Design.__dataclass_fields__})


def estimate_factor_returns(
    style_exposures: pd.DataFrame,
    daily_returns: pd.DataFrame,
    dates: Iterable[pd.Timestamp] | None = None,
    *,
    method: RegressionMethod = "huber",
    huber_epsilon: float = HUBER_EPSILON,
    industries: Sequence[str] | None = None,
    min_industry_members: int = MIN_INDUSTRY_MEMBERS,
    max_exposure_age_days: int = MAX_EXPOSURE_AGE_DAYS,
    skip_thin_days: bool = False,
    tolerance: float = NEWTON_TOLERANCE,
    max_iterations: int = MAX_NEWTON_ITERATIONS,
    chunk_days: int = CHUNK_DAYS,
) -> FactorRegressionResult:
    """Estimate daily factor and specific returns by √cap-weighted Huber (or WLS) regressions.

    Parameters
    ----------
    style_exposures : pd.DataFrame
        ``date, ticker, industry, market_cap`` and the 7 style columns: standardised exposures known
        at the close of ``date`` (see :mod:`hedging_pipeline.risk.exposures`); must reach back to
        the trading day before the first output date.
    daily_returns : pd.DataFrame
        ``date, ticker, ret``: simple daily returns (fractions).
    dates : iterable of Timestamp, optional
        Dates to estimate; dates without any return row are ignored (non-trading days). Default:
        every return date after the first exposure date.
    method : {"huber", "wls"}
        Huber loss with joint scale (the model) or weighted least squares (benchmark baseline).
    huber_epsilon : float
        Huber threshold in units of the scale.
    industries : sequence of str, optional
        The model's industries (fixes the factor set); default: those in ``style_exposures``.
    min_industry_members : int
        Industries with fewer members in a day's regression are pinned at 0 that day.
    max_exposure_age_days : int
        Largest calendar-day gap between a return date and the exposures explaining it.
    skip_thin_days : bool
        Skip (and list) days with no more assets than factors, and days before the first exposures
        (the first day of the data), instead of raising.
    tolerance : float
        Newton stopping threshold on the largest step (return units).
    max_iterations : int
        Newton iterations per date at most.
    chunk_days : int
        Dates solved together (memory bound; results do not depend on it).

    Returns
    -------
    FactorRegressionResult
        Factor returns (with t-stats), specific returns and per-day stats.

    Raises
    ------
    MissingColumnError, DuplicateRowsError
        Malformed inputs.
    InvalidValueError
        A non-positive or missing market cap, an unknown industry, or collinear exposures on a day.
    InsufficientHistoryError
        No exposures within ``max_exposure_age_days`` before an output date.
    InsufficientAssetsError
        A day with no more assets than factors (unless ``skip_thin_days``).
    """
    panel, skipped = prepare_panel(
        style_exposures, daily_returns, dates, industries, max_exposure_age_days, skip_thin_days
    )
    blocks = []
    iterations = 0
    for start in range(0, len(panel.dates), chunk_days):
        rows = slice(start, start + chunk_days)
        block_dates = panel.dates[rows]
        d = _build_design(panel, rows, min_industry_members)
        keep, thin = _check_thin(d, block_dates, skip_thin_days)
        skipped += thin
        if not keep.all():
            d, block_dates = _subset_design(d, keep), block_dates[keep]
        if len(block_dates) == 0:
            continue
        if method == "huber":
            g, _, final_weight, it = _huber_newton(
                d, huber_epsilon, tolerance, max_iterations, block_dates
            )
            iterations = max(iterations, it)
        elif method == "wls":
            g, final_weight = _wls(d, d.s, block_dates), d.s
        else:
            raise ValueError(f"method must be 'huber' or 'wls', got {method!r}")
        blocks.append((block_dates, d, *_finish_block(d, g, final_weight)))
    return _assemble(panel, blocks, skipped, iterations)
