"""Slow per-date reference of the factor regression (tests and benchmarks only).

:func:`estimate_factor_returns_reference` fits each day on its own with scikit-learn's
``HuberRegressor`` (or ``numpy.linalg.lstsq``) on exactly the design of
:func:`hedging_pipeline.risk.regression.estimate_factor_returns`, which it checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from hedging_pipeline.risk.regression import (
    HUBER_EPSILON,
    MAX_EXPOSURE_AGE_DAYS,
    MIN_INDUSTRY_MEMBERS,
    REFERENCE_MAX_ITERATIONS,
    REFERENCE_TOLERANCE,
    SCALE_FLOOR,
    FactorRegressionResult,
    RegressionMethod,
    _assemble,
    _build_design,
    _check_thin,
    _finish_block,
    _subset_design,
)
from hedging_pipeline.risk.regression_inputs import prepare_panel


def estimate_factor_returns_reference(
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
    tolerance: float = REFERENCE_TOLERANCE,
    exact: bool = False,
) -> FactorRegressionResult:
    """Slow per-date reference of :func:`estimate_factor_returns` (tests and benchmarks only).

    Each day is fitted on its own with ``sklearn.linear_model.HuberRegressor(epsilon, alpha=0,
    fit_intercept=False)`` on the reparametrised design ``Z`` (pinned columns dropped) with sample
    weights ``sqrt(cap)`` (``method="huber"``) or with ``numpy.linalg.lstsq`` on ``sqrt(s) Z``
    (``method="wls"``). The returns are divided by their standard deviation before the Huber fit and
    the coefficients multiplied back (the objective is scale-equivariant), so that L-BFGS starts
    near its solution. Same parameters and result as :func:`estimate_factor_returns`; ``tolerance``
    is L-BFGS's gradient tolerance.

    ``HuberRegressor.fit`` stops L-BFGS-B at scipy's default ``ftol`` (a relative objective decrease
    of 2.2e-9), which it does not expose; that leaves about 1e-4 relative error in the coefficients.
    With ``exact=True`` the same objective (sklearn's own ``_huber_loss_and_gradient``) is minimised
    by L-BFGS-B with ``ftol=0``, i.e. until it makes no progress: the tight reference.
    """
    from scipy.optimize import minimize
    from sklearn.linear_model import HuberRegressor
    from sklearn.linear_model._huber import _huber_loss_and_gradient

    panel, unexplained = prepare_panel(
        style_exposures, daily_returns, dates, industries, max_exposure_age_days, skip_thin_days
    )
    d = _build_design(panel, slice(0, len(panel.dates)), min_industry_members)
    keep, skipped = _check_thin(d, panel.dates, skip_thin_days)
    skipped = unexplained + skipped
    d, dates_kept = _subset_design(d, keep), panel.dates[keep]
    n_t, _, n_k = d.z.shape
    g = np.zeros((n_t, n_k))
    final_weight = d.s.copy()
    for t in range(n_t):
        rows = d.mask[t]
        cols = ~d.pinned[t]
        z = d.z[t][np.ix_(rows, cols)]
        y, s = d.y[t, rows], d.s[t, rows]
        if method == "wls":
            root = np.sqrt(s)
            g[t, cols] = np.linalg.lstsq(z * root[:, None], y * root, rcond=None)[0]
            continue
        scale = float(np.std(y)) or 1.0
        if exact:
            start = np.r_[np.zeros(z.shape[1]), 1.0]
            bounds = [(None, None)] * z.shape[1] + [(SCALE_FLOOR, None)]
            fit = minimize(
                _huber_loss_and_gradient,
                start,
                args=(z, y / scale, huber_epsilon, 0.0, s),
                method="L-BFGS-B",
                jac=True,
                bounds=bounds,
                options={"maxiter": REFERENCE_MAX_ITERATIONS, "ftol": 0.0, "gtol": tolerance},
            )
            coef, sigma = fit.x[:-1] * scale, fit.x[-1] * scale
        else:
            model = HuberRegressor(
                epsilon=huber_epsilon,
                alpha=0.0,
                fit_intercept=False,
                max_iter=REFERENCE_MAX_ITERATIONS,
                tol=tolerance,
            )
            model.fit(z, y / scale, sample_weight=s)
            coef, sigma = model.coef_ * scale, model.scale_ * scale
        g[t, cols] = coef
        resid = np.abs(y - z @ coef)
        final_weight[t, rows] = s * np.where(
            resid <= huber_epsilon * sigma, 1.0, huber_epsilon * sigma / np.maximum(resid, 1e-300)
        )
    block = (dates_kept, d, *_finish_block(d, g, final_weight))
    return _assemble(panel, [block], skipped, 0)
